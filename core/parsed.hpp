// The result of a CAF-free parser: a value, or a message saying what is wrong with the
// input. Callers at the edges turn the message into their own error (an HTTP 400, a
// caf::error); the parsers themselves stay free of CAF so that they can be fuzzed alone.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace ts {

template <class T>
class parsed {
public:
  parsed(T value) : value_(std::move(value)) {
  }

  static parsed failure(std::string why) {
    parsed result;
    result.why_ = std::move(why);
    return result;
  }

  explicit operator bool() const {
    return value_.has_value();
  }
  const T& operator*() const {
    return *value_;
  }
  const T* operator->() const {
    return &*value_;
  }
  /// What is wrong with the input; empty on success.
  const std::string& error() const {
    return why_;
  }

private:
  parsed() = default;
  std::optional<T> value_;
  std::string why_;
};

} // namespace ts
