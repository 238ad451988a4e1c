#include "core/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <unistd.h>

#include "core/clock.hpp"
#include "core/time_format.hpp"

namespace ts::log {

namespace {

std::atomic<level> current_level{level::info};
std::atomic<bool> json_lines{false};

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

const char* name(level lvl) {
  switch (lvl) {
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warn: return "warn";
    case level::error: return "error";
    case level::off: return "off";
  }
  return "?";
}

} // namespace

bool parse_level(std::string_view text, level& out) {
  for (auto lvl : {level::debug, level::info, level::warn, level::error, level::off})
    if (text == name(lvl)) {
      out = lvl;
      return true;
    }
  return false;
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

void write(level lvl, std::string_view event, std::initializer_list<field> fields) {
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
  (void) rc;
}

} // namespace ts::log
