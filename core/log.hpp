// One line per event on stderr, leveled and structured (key=value, or JSON lines).
// Values are what the caller passes: never pass a secret.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

namespace ts::log {

enum class level : uint8_t { debug, info, warn, error, off };

/// A key and its value, rendered as text; numbers stay unquoted in JSON.
struct field {
  template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>>
  field(std::string_view k, T v) : key(k), value(std::to_string(v)), number(true) {
  }
  field(std::string_view k, bool v) : key(k), value(v ? "true" : "false"), number(true) {
  }
  field(std::string_view k, std::string_view v) : key(k), value(v), number(false) {
  }
  field(std::string_view k, const char* v) : key(k), value(v), number(false) {
  }
  field(std::string_view k, const std::string& v) : key(k), value(v), number(false) {
  }
  std::string_view key;
  std::string value;
  bool number;
};

/// Parses "debug", "info", "warn", "error" or "off"; false for anything else.
bool parse_level(std::string_view text, level& out);
void set_level(level lvl);
/// true: JSON lines; false: key=value.
void set_json(bool json);
bool enabled(level lvl);

/// Writes one line whatever the level (the helpers below check it); false when stderr did
/// not take the whole line.
bool write(level lvl, std::string_view event, std::initializer_list<field> fields = {});

inline void debug(std::string_view event, std::initializer_list<field> fields = {}) {
  if (enabled(level::debug))
    write(level::debug, event, fields);
}
inline void info(std::string_view event, std::initializer_list<field> fields = {}) {
  if (enabled(level::info))
    write(level::info, event, fields);
}
inline void warn(std::string_view event, std::initializer_list<field> fields = {}) {
  if (enabled(level::warn))
    write(level::warn, event, fields);
}
inline void error(std::string_view event, std::initializer_list<field> fields = {}) {
  if (enabled(level::error))
    write(level::error, event, fields);
}

} // namespace ts::log
