#include "core/posix_tz.hpp"

#include <algorithm>

#include "core/civil.hpp"

namespace ts {

namespace {

/// Cursor over a rule; each reader consumes what it accepts.
class reader {
public:
  explicit reader(std::string_view text) : text_(text) {
  }

  bool at_end() const {
    return pos_ == text_.size();
  }

  char peek() const {
    return at_end() ? '\0' : text_[pos_];
  }

  bool literal(char c) {
    if (peek() != c || at_end())
      return false;
    ++pos_;
    return true;
  }

  /// 1 to `max_digits` ASCII digits (not isdigit: that follows the locale).
  bool number(int max_digits, int& out) {
    int value = 0;
    int count = 0;
    while (!at_end() && peek() >= '0' && peek() <= '9' && count < max_digits) {
      value = value * 10 + (peek() - '0');
      ++pos_;
      ++count;
    }
    out = value;
    return count > 0;
  }

  /// An abbreviation: three or more letters, or `<...>` with letters, digits, + and -.
  bool name(std::string& out) {
    const size_t begin = pos_;
    if (literal('<')) {
      while (!at_end() && peek() != '>') {
        const char c = peek();
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                        || (c >= '0' && c <= '9') || c == '+' || c == '-';
        if (!ok)
          return false;
        ++pos_;
      }
      if (!literal('>') || pos_ - begin < 5)
        return false;
      out = std::string{text_.substr(begin + 1, pos_ - begin - 2)};
      return true;
    }
    while (!at_end() && ((peek() >= 'A' && peek() <= 'Z') || (peek() >= 'a' && peek() <= 'z')))
      ++pos_;
    if (pos_ - begin < 3)
      return false;
    out = std::string{text_.substr(begin, pos_ - begin)};
    return true;
  }

  /// `[+-]hh[:mm[:ss]]` with hours up to `max_hours`, in seconds.
  bool duration(int max_hours, int32_t& out) {
    int sign = 1;
    if (literal('-'))
      sign = -1;
    else
      literal('+');
    int h = 0;
    int m = 0;
    int s = 0;
    if (!number(3, h) || h > max_hours)
      return false;
    if (literal(':') && (!number(2, m) || m > 59))
      return false;
    if (literal(':') && (!number(2, s) || s > 59))
      return false;
    out = sign * (h * 3600 + m * 60 + s);
    return true;
  }

private:
  std::string_view text_;
  size_t pos_ = 0;
};

bool read_day_rule(reader& r, posix_tz::day_rule& out) {
  using form = posix_tz::day_rule::form;
  if (r.literal('J')) {
    out.kind = form::julian_no_leap;
    if (!r.number(3, out.a) || out.a < 1 || out.a > 365)
      return false;
  } else if (r.literal('M')) {
    out.kind = form::month_week_day;
    if (!r.number(2, out.a) || out.a < 1 || out.a > 12 || !r.literal('.')
        || !r.number(1, out.b) || out.b < 1 || out.b > 5 || !r.literal('.')
        || !r.number(1, out.c) || out.c > 6)
      return false;
  } else {
    out.kind = form::zero_based;
    if (!r.number(3, out.a) || out.a > 365)
      return false;
  }
  out.time = 2 * 3600;
  // TZif v3 allows -167 to 167 hours, so a rule can name "24:00 of the last day".
  return !r.literal('/') || r.duration(167, out.time);
}

int64_t year_of(int64_t t) {
  return civil::civil_from_days(civil::floor_div(t, civil::seconds_per_day)).year;
}

} // namespace

parsed<posix_tz> posix_tz::parse(std::string_view text) {
  auto fail = [&](const char* why) {
    return parsed<posix_tz>::failure("TZ rule \"" + std::string{text} + "\": " + why);
  };
  reader r{text};
  posix_tz tz;
  int32_t west = 0;
  if (!r.name(tz.std_.abbreviation))
    return fail("the standard abbreviation must have 3 or more letters, or be <...>");
  // POSIX offsets count west of UTC: EST5 is five hours behind.
  if (!r.duration(24, west))
    return fail("the standard offset must look like 5, -1 or 5:30");
  tz.std_.utc_offset = -west;
  if (r.at_end())
    return tz;
  zone_type dst;
  dst.dst = true;
  if (!r.name(dst.abbreviation))
    return fail("the DST abbreviation must have 3 or more letters, or be <...>");
  dst.utc_offset = tz.std_.utc_offset + 3600;
  if (r.peek() != ',' && !r.at_end()) {
    if (!r.duration(24, west))
      return fail("the DST offset must look like 4, -2 or 4:30");
    dst.utc_offset = -west;
  }
  tz.dst_ = dst;
  if (r.at_end()) {
    tz.start_ = {day_rule::form::month_week_day, 3, 2, 0, 2 * 3600};
    tz.end_ = {day_rule::form::month_week_day, 11, 1, 0, 2 * 3600};
    return tz;
  }
  if (!r.literal(',') || !read_day_rule(r, tz.start_) || !r.literal(',')
      || !read_day_rule(r, tz.end_))
    return fail("the DST dates must look like ,M3.2.0,M11.1.0 or ,J60/2,J300/2");
  if (!r.at_end())
    return fail("unexpected text after the DST dates");
  return tz;
}

int64_t posix_tz::instant(const day_rule& rule, int64_t year, int32_t offset_before) {
  int64_t day = 0;
  switch (rule.kind) {
    case day_rule::form::julian_no_leap:
      // J60 is March 1st even in a leap year: February 29th is never counted.
      day = civil::days_from_civil(year, 1, 1) + rule.a - 1
            + (civil::is_leap(year) && rule.a >= 60 ? 1 : 0);
      break;
    case day_rule::form::zero_based:
      day = civil::days_from_civil(year, 1, 1) + rule.a;
      break;
    case day_rule::form::month_week_day: {
      const int64_t first = civil::days_from_civil(year, rule.a, 1);
      day = first + (rule.c - civil::weekday_from_days(first) + 7) % 7 + 7 * (rule.b - 1);
      const int64_t last = first + civil::days_in_month(year, rule.a) - 1;
      while (day > last)
        day -= 7;
      break;
    }
  }
  return day * civil::seconds_per_day + rule.time - offset_before;
}

std::vector<posix_tz::change> posix_tz::changes(int64_t from, int64_t to) const {
  std::vector<change> result;
  if (!dst_ || to <= from)
    return result;
  // A rule time may lie up to a week outside its year, so one year more on each side.
  for (int64_t y = year_of(from) - 1; y <= year_of(to) + 1; ++y) {
    result.push_back({instant(start_, y, std_.utc_offset), true});
    result.push_back({instant(end_, y, dst_->utc_offset), false});
  }
  // At one instant the end of DST goes first, so that DST all year stays on.
  std::sort(result.begin(), result.end(), [](const change& x, const change& y) {
    return x.at != y.at ? x.at < y.at : x.dst < y.dst;
  });
  std::vector<change> kept;
  for (const auto& c : result) {
    if (c.at <= from || c.at > to)
      continue;
    if (!kept.empty() && kept.back().at == c.at)
      kept.back() = c;
    else
      kept.push_back(c);
  }
  return kept;
}

const zone_type& posix_tz::at(int64_t t) const {
  if (!dst_)
    return std_;
  // The latest change at or before t among those of the year around it (a rule time may
  // lie up to a week outside its year); at one instant the start of DST wins, as in
  // changes(). No allocation: the cron search asks this for every candidate.
  const int64_t year = year_of(t);
  bool found = false;
  change latest{0, false};
  for (int64_t y = year - 1; y <= year + 1; ++y) {
    for (const change c : {change{instant(start_, y, std_.utc_offset), true},
                           change{instant(end_, y, dst_->utc_offset), false}}) {
      if (c.at > t)
        continue;
      if (!found || c.at > latest.at || (c.at == latest.at && c.dst)) {
        latest = c;
        found = true;
      }
    }
  }
  return found && latest.dst ? *dst_ : std_;
}

} // namespace ts
