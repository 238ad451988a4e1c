#include "core/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string_view>
#include <unistd.h>

#include "core/clock.hpp"
#include "core/defaults.hpp"
#include "core/time_format.hpp"

namespace ts::log {

namespace {

constexpr const char* name(level lvl) {
  switch (lvl) {
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warn: return "warn";
    case level::error: return "error";
    case level::off: return "off";
  }
  return "?";
}

constexpr level all_levels[] = {level::debug, level::info, level::warn, level::error,
                                level::off};

constexpr std::optional<level> level_named(std::string_view text) {
  for (auto lvl : all_levels)
    if (text == name(lvl))
      return lvl;
  return std::nullopt;
}

// The log starts as the options' defaults say, before the options are read (and for the
// tests, which never read them): one copy of those values, in core/defaults.hpp.
static_assert(level_named(defaults::log_level), "defaults::log_level names no level");
constexpr level default_level = *level_named(defaults::log_level);
static_assert(std::string_view{defaults::log_format} == "text"
                || std::string_view{defaults::log_format} == "json",
              "defaults::log_format is text or json");

std::atomic<level> current_level{default_level};
std::atomic<bool> json_lines{std::string_view{defaults::log_format} == "json"};

void append_timestamp(std::string& out) {
  out += format_time(system_now_ms());
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

// key=value: quote values with spaces, quotes or control characters so a line stays one
// line and parses unambiguously.
void append_kv_value(std::string& out, std::string_view s) {
  bool plain = !s.empty();
  for (unsigned char c : s)
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
      plain = false;
  if (plain)
    out += s;
  else
    append_json_string(out, s);
}

} // namespace

bool parse_level(std::string_view text, level& out) {
  auto lvl = level_named(text);
  if (lvl)
    out = *lvl;
  return lvl.has_value();
}

void set_level(level lvl) {
  current_level = lvl;
}

void set_json(bool json) {
  json_lines = json;
}

bool enabled(level lvl) {
  return lvl != level::off && lvl >= current_level.load(std::memory_order_relaxed);
}

bool write(level lvl, std::string_view event, std::initializer_list<field> fields) {
  std::string line;
  line.reserve(128);
  if (json_lines) {
    line += "{\"ts\":\"";
    append_timestamp(line);
    line += "\",\"level\":\"";
    line += name(lvl);
    line += "\",\"event\":";
    append_json_string(line, event);
    for (auto& f : fields) {
      line += ',';
      append_json_string(line, f.key);
      line += ':';
      if (f.number)
        line += f.value;
      else
        append_json_string(line, f.value);
    }
    line += "}\n";
  } else {
    line += "ts=";
    append_timestamp(line);
    line += " level=";
    line += name(lvl);
    line += " event=";
    append_kv_value(line, event);
    for (auto& f : fields) {
      line += ' ';
      line += f.key;
      line += '=';
      append_kv_value(line, f.value);
    }
    line += '\n';
  }
  // One write(2) per line keeps lines from different threads whole.
  auto rc = ::write(STDERR_FILENO, line.data(), line.size());
  return rc == static_cast<ssize_t>(line.size());
}

} // namespace ts::log
