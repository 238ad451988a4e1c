#include "core/time_format.hpp"

#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <iterator>
#include <optional>

#include "core/civil.hpp"
#include "core/time_zone.hpp"

namespace ts {

namespace {

using civil::civil_from_days;
using civil::days_from_civil;
using civil::days_in_month;
using civil::floor_div;
using civil::seconds_per_day;

constexpr int64_t ms_per_second = 1000;
constexpr int64_t ms_per_day = seconds_per_day * ms_per_second;
/// 9999-12-31T23:59:59.999Z, the last instant the service accepts.
constexpr millis max_time = 253402300799999;

constexpr const char* shape_message
  = "time must look like 2024-09-22 17:00:00 or 2024-09-22T17:00:00 (local time, optionally "
    "with .fff), or RFC 3339 with Z or an offset: 2024-09-22T17:00:00Z, "
    "2024-09-22T17:00:00+05:30";

/// The fields of a time as written, before any zone is applied.
struct wall_time {
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int milli = 0;
  /// Set when the text carries `Z` or an offset: seconds east of UTC.
  std::optional<int> offset;
};

/// Cursor over the text; every reader consumes exactly what it accepts.
class scanner {
public:
  explicit scanner(std::string_view text) : text_(text) {
  }

  bool at_end() const {
    return pos_ == text_.size();
  }

  /// Exactly `count` ASCII digits (not isdigit: that follows the locale).
  bool digits(size_t count, int& out) {
    if (text_.size() - pos_ < count)
      return false;
    int value = 0;
    for (size_t i = 0; i < count; ++i) {
      const char c = text_[pos_ + i];
      if (c < '0' || c > '9')
        return false;
      value = value * 10 + (c - '0');
    }
    pos_ += count;
    out = value;
    return true;
  }

  bool literal(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  /// Consumes one of the characters in `set` and returns it, or returns 0.
  char one_of(std::string_view set) {
    if (pos_ < text_.size() && set.find(text_[pos_]) != std::string_view::npos)
      return text_[pos_++];
    return 0;
  }

  /// 1 to 9 fraction digits after the '.', truncated to milliseconds.
  bool fraction(int& milli) {
    size_t count = 0;
    int value = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      if (++count > 9)
        return false;
      if (count <= 3)
        value = value * 10 + (text_[pos_] - '0');
      ++pos_;
    }
    if (count == 0)
      return false;
    for (size_t i = count; i < 3; ++i)
      value *= 10;
    milli = value;
    return true;
  }

private:
  std::string_view text_;
  size_t pos_ = 0;
};

std::string two(int x) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%02d", x);
  return buf;
}

std::string four(int x) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04d", x);
  return buf;
}

std::string date_text(const wall_time& w) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d", w.year, w.month, w.day);
  return buf;
}

std::string wall_text(const wall_time& w) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d", w.year, w.month, w.day,
                w.hour, w.minute, w.second);
  return buf;
}

/// The scanned fields of a time, or what is wrong with them.
using scanned = parsed<wall_time>;

scanned invalid(std::string message) {
  return scanned::failure(std::move(message));
}

/// Reads the shape and the ranges of each field; says which field is wrong.
scanned scan(std::string_view text) {
  wall_time w;
  scanner s{text};
  if (!s.digits(4, w.year) || !s.literal('-') || !s.digits(2, w.month) || !s.literal('-')
      || !s.digits(2, w.day) || !s.one_of(" Tt") || !s.digits(2, w.hour) || !s.literal(':')
      || !s.digits(2, w.minute) || !s.literal(':') || !s.digits(2, w.second))
    return invalid(shape_message);
  if (s.literal('.') && !s.fraction(w.milli))
    return invalid("the fraction of a second must have 1 to 9 digits; "
                   + std::string{shape_message});
  if (s.one_of("Zz")) {
    w.offset = 0;
  } else if (const char sign = s.one_of("+-")) {
    int oh = 0;
    int om = 0;
    if (!s.digits(2, oh) || !s.literal(':') || !s.digits(2, om))
      return invalid("a UTC offset must look like +05:30 or -08:00");
    if (oh > 23 || om > 59)
      return invalid("UTC offset " + std::string(1, sign) + two(oh) + ":" + two(om)
                     + " is out of range (-23:59 to +23:59)");
    w.offset = (sign == '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  if (!s.at_end())
    return invalid("unexpected text after the time; " + std::string{shape_message});
  if (w.year < 1970)
    return invalid("year " + four(w.year) + " is out of range (1970 to 9999)");
  if (w.month < 1 || w.month > 12 || w.day < 1 || w.day > days_in_month(w.year, w.month))
    return invalid(date_text(w) + " is not a date");
  if (w.hour > 23)
    return invalid("hour " + two(w.hour) + " is out of range (00 to 23)");
  if (w.minute > 59)
    return invalid("minute " + two(w.minute) + " is out of range (00 to 59)");
  if (w.second > 59)
    return invalid("second " + two(w.second)
                   + " is out of range (00 to 59; leap seconds are not accepted)");
  return w;
}

/// Seconds since the epoch of the wall fields read as if they were UTC.
int64_t wall_seconds(const wall_time& w) {
  return days_from_civil(w.year, w.month, w.day) * seconds_per_day + w.hour * 3600
         + w.minute * 60 + w.second;
}

/// Offset east of UTC of the local zone at `t`, or nothing when libc cannot tell.
std::optional<int64_t> local_offset(int64_t t) {
  const time_t tt = static_cast<time_t>(t);
  tm out{};
  if (localtime_r(&tt, &out) == nullptr)
    return std::nullopt;
  return static_cast<int64_t>(out.tm_gmtoff);
}

/// True when the local zone shows exactly the wall fields at `t`.
bool shows(int64_t t, const wall_time& w) {
  const time_t tt = static_cast<time_t>(t);
  tm out{};
  if (localtime_r(&tt, &out) == nullptr)
    return false;
  return out.tm_year + 1900 == w.year && out.tm_mon + 1 == w.month && out.tm_mday == w.day
         && out.tm_hour == w.hour && out.tm_min == w.minute && out.tm_sec == w.second;
}

/// Turns local wall fields into seconds since the epoch: the earliest instant that the local
/// zone shows as these fields, or nothing in a gap. Candidates come from mktime with either
/// DST flag and from the zone's offsets around the time (which also covers folds where the
/// standard offset changed, where both instants have the same DST flag). Every candidate must
/// round-trip through localtime_r, so mktime's guesses for a flag the zone does not use at
/// that time (zones without DST, 30-minute DST) do no harm. libc's mktime and localtime_r
/// are thread-safe; nothing here keeps state.
std::optional<int64_t> local_to_utc(const wall_time& w) {
  const int64_t as_utc = wall_seconds(w);
  int64_t candidates[12];
  size_t count = 0;
  auto add = [&](int64_t t) {
    for (size_t i = 0; i < count; ++i)
      if (candidates[i] == t)
        return;
    if (count < std::size(candidates))
      candidates[count++] = t;
  };
  for (int isdst : {0, 1}) {
    tm in{};
    in.tm_year = w.year - 1900;
    in.tm_mon = w.month - 1;
    in.tm_mday = w.day;
    in.tm_hour = w.hour;
    in.tm_min = w.minute;
    in.tm_sec = w.second;
    in.tm_isdst = isdst;
    // -1 is also a valid instant (1969-12-31T23:59:59Z); the round trip sorts that out.
    add(static_cast<int64_t>(std::mktime(&in)));
  }
  // Offsets in use within a day either side; the true instant lies within 26 hours of the
  // fields read as UTC, and each offset found points at the instant it would give.
  for (int64_t probe : {as_utc - seconds_per_day, as_utc, as_utc + seconds_per_day}) {
    auto off = local_offset(probe);
    if (!off)
      continue;
    add(as_utc - *off);
    if (auto again = local_offset(as_utc - *off))
      add(as_utc - *again);
  }
  std::optional<int64_t> best;
  for (size_t i = 0; i < count; ++i)
    if (shows(candidates[i], w) && (!best || candidates[i] < *best))
      best = candidates[i];
  return best;
}

/// Reads `text`; a naive time goes through `to_utc`, which gives its seconds or nothing in
/// a gap.
template <class ToUtc>
parsed<millis> parse_with(std::string_view text, ToUtc to_utc) {
  auto w = scan(text);
  if (!w)
    return parsed<millis>::failure(w.error());
  int64_t seconds = 0;
  if (w->offset) {
    seconds = wall_seconds(*w) - *w->offset;
  } else {
    std::optional<int64_t> local = to_utc(*w);
    if (!local)
      return parsed<millis>::failure(
        wall_text(*w) + " does not exist in the local time zone (daylight saving gap)");
    seconds = *local;
  }
  const millis result = seconds * ms_per_second + w->milli;
  if (result < 0 || result > max_time)
    return parsed<millis>::failure(std::string{text}
                                   + " is out of range: times must lie between "
                                     "1970-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z");
  return result;
}

} // namespace

parsed<millis> parse_time(std::string_view text) {
  return parse_with(text, [](const wall_time& w) {
    // Picks up a TZ changed since the last call; mktime does the same.
    tzset();
    return local_to_utc(w);
  });
}

parsed<millis> parse_time(std::string_view text, const time_zone& zone) {
  return parse_with(text, [&](const wall_time& w) -> std::optional<int64_t> {
    const local_instants at = zone.to_utc(wall_seconds(w));
    // A fold means the earlier instant, as in the process's zone.
    if (at.what == local_instants::kind::gap)
      return std::nullopt;
    return at.first;
  });
}

std::string format_time(millis t) {
  const int64_t days = floor_div(t, ms_per_day);
  const int64_t in_day = t - days * ms_per_day;
  const civil::date date = civil_from_days(days);
  const int64_t secs = in_day / ms_per_second;
  char buf[128];
  std::snprintf(buf, sizeof(buf), "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d.%03dZ", date.year,
                date.month, date.day, static_cast<int>(secs / 3600),
                static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60),
                static_cast<int>(in_day % ms_per_second));
  return buf;
}

std::string format_local_time(millis t, int32_t utc_offset) {
  auto text = format_time(t + int64_t{utc_offset} * ms_per_second);
  text.pop_back(); // the 'Z'
  const int32_t east = utc_offset < 0 ? -utc_offset : utc_offset;
  char buf[32];
  if (east % 60 == 0)
    std::snprintf(buf, sizeof(buf), "%c%02d:%02d", utc_offset < 0 ? '-' : '+', east / 3600,
                  east / 60 % 60);
  else
    std::snprintf(buf, sizeof(buf), "%c%02d:%02d:%02d", utc_offset < 0 ? '-' : '+',
                  east / 3600, east / 60 % 60, east % 60);
  return text + buf;
}

} // namespace ts
