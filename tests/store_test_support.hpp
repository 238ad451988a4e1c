// Assertions on errors-as-values shared by the store test files.
#pragma once

#include <utility>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <catch2/catch.hpp>

#include "actors/error.hpp"

namespace ts::test {

/// The ts::ec of an error that must be one of ours.
inline ec code_of(const caf::error& err) {
  REQUIRE(err);
  REQUIRE(err.category() == ec_category);
  return static_cast<ec>(err.code());
}

/// The value of an expected that must hold one.
template <class T>
T ok(caf::expected<T> x) {
  if (!x)
    FAIL("unexpected error: " << render(x.error()));
  return std::move(*x);
}

inline void ok(const caf::error& err) {
  if (err)
    FAIL("unexpected error: " << render(err));
}

} // namespace ts::test
