// One convention for absent values: std::optional in the domain types, SQL NULL and JSON
// null at the edges. CAF 0.17 cannot inspect std::optional, so each `inspect` wraps such a
// member in `ts::opt(x.member)`, which writes a presence flag and then the value, the same
// bytes as caf::optional would.
#pragma once

#include <optional>
#include <type_traits>
#include <utility>

#include <caf/detail/scope_guard.hpp>

namespace ts {

template <class T>
struct optional_field {
  std::optional<T>& value;
};

template <class T>
optional_field<T> opt(std::optional<T>& value) {
  return {value};
}

namespace detail {

/// The value part of a loaded optional: present only when the flag said so.
template <class T>
struct optional_value {
  bool& present;
  T& storage;
};

template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, optional_value<T>& x) {
  return x.present ? f(x.storage) : f();
}

} // namespace detail

template <class Inspector, class T>
typename std::enable_if<Inspector::reads_state, typename Inspector::result_type>::type
inspect(Inspector& f, optional_field<T>& x) {
  return x.value ? f(true, *x.value) : f(false);
}

template <class Inspector, class T>
typename std::enable_if<Inspector::writes_state, typename Inspector::result_type>::type
inspect(Inspector& f, optional_field<T>& x) {
  bool present = false;
  T storage{};
  detail::optional_value<T> value{present, storage};
  auto guard = caf::detail::make_scope_guard([&] {
    if (present)
      x.value = std::move(storage);
    else
      x.value.reset();
  });
  return f(present, value);
}

} // namespace ts
