#include "cli/when.hpp"

#include <cmath>
#include <cstdlib>

#include "core/civil.hpp"
#include "core/text.hpp"
#include "core/time_format.hpp"
#include "core/time_zone.hpp"

namespace ts::cli {

namespace {

constexpr double max_duration_s = 100.0 * 366 * 86400;

double unit_seconds(char unit) {
  switch (unit) {
    case 's': return 1;
    case 'm': return 60;
    case 'h': return 3600;
    case 'd': return 86400;
    default: return 0;
  }
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/// `YYYY-MM-DD HH:MM` (or with T) without seconds: the shape people type, which the
/// service's parser (seconds required) does not take; the rest is left to that parser.
bool minutes_only(std::string_view t) {
  if (t.size() != 16)
    return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15})
    if (!is_digit(t[i]))
      return false;
  return t[4] == '-' && t[7] == '-' && (t[10] == ' ' || t[10] == 'T') && t[13] == ':';
}

} // namespace

parsed<double> parse_duration(std::string_view text) {
  const std::string shape = "a duration is seconds (90, 1.5) or numbers with units s, m, h, d "
                            "(15m, 1h30m), not \""
                            + std::string{text} + "\"";
  if (text.empty())
    return parsed<double>::failure(shape);
  double total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    bool point = false;
    while (i < text.size() && (is_digit(text[i]) || (text[i] == '.' && !point))) {
      point = point || text[i] == '.';
      ++i;
    }
    std::string number{text.substr(start, i - start)};
    if (number.empty() || number == ".")
      return parsed<double>::failure(shape);
    double value = std::strtod(number.c_str(), nullptr);
    if (i == text.size()) {
      // Only a duration of one bare number may leave the unit out ("1m30" is refused).
      if (start != 0)
        return parsed<double>::failure(shape);
      total += value;
      break;
    }
    double unit = unit_seconds(text[i]);
    if (unit == 0)
      return parsed<double>::failure(shape);
    total += value * unit;
    ++i;
  }
  if (!(total > 0) || total > max_duration_s)
    return parsed<double>::failure("a duration must be above 0 and at most 100 years, not \""
                                   + std::string{text} + "\"");
  return total;
}

parsed<std::optional<millis>> parse_at(std::string_view text, millis now,
                                       const time_zone& zone) {
  using result = parsed<std::optional<millis>>;
  const std::string_view t = trim(text);
  if (iequals(t, "now"))
    return result{std::nullopt};
  if (t.size() > 4 && iequals(t.substr(0, 4), "now+")) {
    auto d = parse_duration(trim(t.substr(4)));
    if (!d)
      return result::failure(d.error());
    return result{now + static_cast<millis>(std::llround(*d * 1000))};
  }
  const std::string full = minutes_only(t) ? std::string{t} + ":00" : std::string{t};
  auto ms = parse_time(full, zone);
  if (!ms)
    return result::failure(ms.error() + " (or now, now+10m)");
  return result{*ms};
}

std::string rfc3339_in_zone(millis t, const time_zone& zone) {
  return format_local_time(t, zone.at(civil::floor_div(t, 1000)).utc_offset);
}

std::string human_time(millis t, const time_zone& zone, bool with_offset) {
  // 2026-12-24T18:00:00.000+01:00 -> 2026-12-24 18:00:00 [+01:00]
  std::string full = rfc3339_in_zone(t, zone);
  std::string out = full.substr(0, 19);
  out[10] = ' ';
  if (with_offset)
    out += " " + full.substr(23);
  return out;
}

std::string human_time_text(const std::string* rfc3339, const time_zone& zone) {
  if (rfc3339 == nullptr || rfc3339->empty())
    return "-";
  auto ms = parse_time(*rfc3339, zone);
  return ms ? human_time(*ms, zone) : *rfc3339;
}

std::string format_seconds(int64_t seconds) {
  static constexpr struct {
    int64_t size;
    char unit;
  } units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  if (seconds <= 0)
    return std::to_string(seconds) + "s";
  std::string out;
  for (auto u : units) {
    if (seconds >= u.size) {
      out += std::to_string(seconds / u.size) + u.unit;
      seconds %= u.size;
    }
  }
  return out;
}

} // namespace ts::cli
