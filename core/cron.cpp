#include "core/cron.hpp"

#include <string>
#include <vector>

#include "core/civil.hpp"
#include "core/text.hpp"

namespace ts {

namespace {

constexpr const char* month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr const char* day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

enum field_id { second, minute, hour, dom, month, dow };

struct field_spec {
  const char* name;
  int min;
  int max;
  /// The names of the values from `min` on, or null.
  const char* const* names;
  int name_count;
};

constexpr field_spec specs[] = {
  {"second", 0, 59, nullptr, 0},         {"minute", 0, 59, nullptr, 0},
  {"hour", 0, 23, nullptr, 0},           {"day of month", 1, 31, nullptr, 0},
  {"month", 1, 12, month_names, 12},     {"day of week", 0, 7, day_names, 7},
};

struct macro {
  const char* name;
  const char* fields;
};

constexpr macro macros[] = {
  {"@yearly", "0 0 0 1 1 *"}, {"@annually", "0 0 0 1 1 *"}, {"@monthly", "0 0 0 1 * *"},
  {"@weekly", "0 0 0 * * 0"}, {"@daily", "0 0 0 * * *"},    {"@midnight", "0 0 0 * * *"},
  {"@hourly", "0 0 * * * *"},
};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::string quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

/// One field being parsed: where it stands, and the expression its items add to.
class field_parser {
public:
  field_parser(field_id id, int position, cron_expression& out)
    : spec_(specs[id]), id_(id), position_(position), out_(out) {
  }

  /// Adds the field's values to `bits` (a dow of 7 as bit 7, folded by the caller); false,
  /// with error() set, on a syntax error.
  bool parse(std::string_view text, uint64_t& bits) {
    if (text == "?") {
      if (id_ != dom && id_ != dow)
        return fail(quoted(text) + " is only allowed in day of month and day of week");
      add_range(spec_.min, spec_.max, 1, bits);
      return true;
    }
    // An empty item is quoted with its whole field: alone, "" would not show where it is.
    size_t start = 0;
    while (true) {
      const size_t comma = text.find(',', start);
      const std::string_view item = text.substr(start, comma - start);
      if (item.empty())
        return fail(quoted(text) + " has an empty list item");
      if (!parse_item(item, bits))
        return false;
      if (comma == std::string_view::npos)
        return true;
      start = comma + 1;
    }
  }

  const std::string& error() const {
    return error_;
  }

private:
  bool fail(const std::string& what) {
    error_ = "field " + std::to_string(position_) + " (" + spec_.name + "): " + what;
    return false;
  }

  /// The item, and the part of it at fault when that is a proper part: "1-32": "32".
  static std::string subject(std::string_view item, std::string_view part) {
    return part.empty() || part == item ? quoted(item) : quoted(item) + ": " + quoted(part);
  }

  bool parse_item(std::string_view item, uint64_t& bits) {
    if (item == "?")
      return fail(quoted(item) + (id_ == dom || id_ == dow
                                    ? " must stand alone as the whole field"
                                    : " is only allowed in day of month and day of week"));
    if (id_ == dom && (item[0] == 'L' || item[0] == 'l'))
      return parse_last_day(item);
    if (id_ == dow && item.find('#') != std::string_view::npos)
      return parse_nth_weekday(item);
    if (id_ == dow && (item.back() == 'L' || item.back() == 'l'))
      return parse_last_weekday(item);

    const size_t slash = item.find('/');
    const std::string_view base = item.substr(0, slash);
    int low = spec_.min;
    int high = spec_.max;
    if (base != "*") {
      const size_t dash = base.find('-');
      if (!value(item, base.substr(0, dash), low))
        return false;
      high = low;
      if (dash != std::string_view::npos) {
        if (!value(item, base.substr(dash + 1), high))
          return false;
        // Refused rather than wrapped (22-2 as 22..23,0..2): crons disagree on wrapping,
        // and a typo should not quietly mean something else.
        if (low > high)
          return fail(quoted(item) + " is a reversed range (ranges do not wrap: write " +
                      std::string(base.substr(dash + 1)) + "-" +
                      std::string(base.substr(0, dash)) + " or a list)");
      } else if (slash != std::string_view::npos) {
        high = spec_.max; // a/n: from a to the field's end
      }
    }
    int step = 1;
    if (slash != std::string_view::npos) {
      // The step is a number (a name would be meaningless), at most the field's maximum.
      const std::string_view text = item.substr(slash + 1);
      if (!number(item, text, step))
        return false;
      if (step < 1 || step > spec_.max)
        return fail(subject(item, text) + " is a step out of range 1-" +
                    std::to_string(spec_.max));
    }
    add_range(low, high, step, bits);
    return true;
  }

  static void add_range(int low, int high, int step, uint64_t& bits) {
    for (int v = low; v <= high; v += step)
      bits |= uint64_t{1} << v;
  }

  /// L or L-n, n in 0..30.
  bool parse_last_day(std::string_view item) {
    int offset = 0;
    if (item.size() > 1) {
      if (item[1] != '-')
        return fail(quoted(item) + " is not L or L-n");
      if (!number(item, item.substr(2), offset))
        return false;
      if (offset > 30)
        return fail(subject(item, item.substr(2)) + " is out of range 0-30");
    }
    out_.last_day_offsets |= uint32_t{1} << offset;
    return true;
  }

  /// d#k: the k-th weekday d, k in 1..5.
  bool parse_nth_weekday(std::string_view item) {
    const size_t hash = item.find('#');
    int day = 0;
    int k = 0;
    if (!value(item, item.substr(0, hash), day))
      return false;
    const std::string_view nth = item.substr(hash + 1);
    if (!number(item, nth, k))
      return false;
    if (k < 1 || k > 5)
      return fail(subject(item, nth) + " is out of range 1-5");
    out_.nth_weekdays[k - 1] |= static_cast<uint8_t>(1u << (day % 7));
    return true;
  }

  /// dL: the last weekday d of the month.
  bool parse_last_weekday(std::string_view item) {
    if (item.size() == 1)
      return fail(quoted(item) + " needs a day before it (5L is the last Friday)");
    int day = 0;
    if (!value(item, item.substr(0, item.size() - 1), day))
      return false;
    out_.last_weekdays |= static_cast<uint8_t>(1u << (day % 7));
    return true;
  }

  /// Decimal digits only (no sign, no spaces); large values are capped, not overflowed,
  /// so that the range check quotes them.
  bool number(std::string_view item, std::string_view text, int& out) {
    if (text.empty())
      return fail(quoted(item) + " is not a number");
    int v = 0;
    for (const char c : text) {
      if (!is_digit(c))
        return fail(subject(item, text) + " is not a number");
      v = v > 100000 ? v : v * 10 + (c - '0');
    }
    out = v;
    return true;
  }

  /// A number or, in month and day of week, a name; within the field's range.
  bool value(std::string_view item, std::string_view text, int& out) {
    for (int i = 0; i < spec_.name_count; ++i)
      if (iequals(text, spec_.names[i])) {
        out = spec_.min + i;
        return true;
      }
    if (spec_.names != nullptr && !text.empty() && !is_digit(text[0]))
      return fail(subject(item, text) + " is neither a number nor a " +
                  (id_ == month ? "month name (JAN-DEC)" : "day name (SUN-SAT)"));
    if (!number(item, text, out))
      return false;
    if (out < spec_.min || out > spec_.max)
      return fail(subject(item, text) + " is out of range " + std::to_string(spec_.min) +
                  "-" + std::to_string(spec_.max));
    return true;
  }

  const field_spec& spec_;
  field_id id_;
  int position_;
  cron_expression& out_;
  std::string error_;
};

/// The whitespace-separated fields of `text`.
std::vector<std::string_view> split_fields(std::string_view text) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (true) {
    while (i < text.size() && is_space(text[i]))
      ++i;
    if (i == text.size())
      return fields;
    const size_t start = i;
    while (i < text.size() && !is_space(text[i]))
      ++i;
    fields.push_back(text.substr(start, i - start));
  }
}

bool bit(uint64_t bits, int v) {
  return (bits >> v & 1) != 0;
}

/// The day rule for one day of a month of `last` days that falls on `weekday` (0 = Sunday).
bool day_matches(const cron_expression& c, int day, int last, int weekday) {
  const bool dom_match = bit(c.days_of_month, day) || bit(c.last_day_offsets, last - day);
  const bool dow_match = bit(c.days_of_week, weekday) ||
                         (bit(c.last_weekdays, weekday) && day + 7 > last) ||
                         bit(c.nth_weekdays[(day - 1) / 7], weekday);
  // Vixie cron's rule exactly: a star-flagged field still filters with its bits ("*/2"
  // keeps the odd days), and for "*" or "?" its bits are all set, so the other decides.
  if (c.dom_restricted && c.dow_restricted)
    return dom_match || dow_match;
  return dom_match && dow_match;
}

} // namespace

parsed<cron_expression> cron_expression::parse(std::string_view text) {
  const std::vector<std::string_view> fields = split_fields(text);
  if (!fields.empty() && fields[0][0] == '@') {
    if (fields.size() != 1)
      return parsed<cron_expression>::failure("the macro " + quoted(fields[0]) +
                                              " must stand alone, found " +
                                              std::to_string(fields.size()) + " fields");
    for (const macro& m : macros)
      if (iequals(fields[0], m.name))
        return parse(m.fields);
    return parsed<cron_expression>::failure(
      "unknown macro " + quoted(fields[0]) +
      " (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)");
  }
  if (fields.size() != 5 && fields.size() != 6)
    return parsed<cron_expression>::failure(
      "found " + std::to_string(fields.size()) + (fields.size() == 1 ? " field" : " fields") +
      ", expected 5 (minute hour day-of-month month day-of-week) or 6 (with seconds first)");

  cron_expression result;
  const int skipped = fields.size() == 5 ? 1 : 0;
  uint64_t bits[6] = {};
  bits[second] = skipped; // a 5-field expression fires at second 0
  for (int id = skipped; id < 6; ++id) {
    field_parser parser(static_cast<field_id>(id), id + 1 - skipped, result);
    if (!parser.parse(fields[id - skipped], bits[id]))
      return parsed<cron_expression>::failure(parser.error());
  }
  const auto star = [&](int id) {
    const std::string_view f = fields[id - skipped];
    return f[0] == '*' || f == "?";
  };
  result.seconds = bits[second];
  result.minutes = bits[minute];
  result.hours = static_cast<uint32_t>(bits[hour]);
  result.days_of_month = static_cast<uint32_t>(bits[dom]);
  result.months = static_cast<uint16_t>(bits[month]);
  result.days_of_week = static_cast<uint8_t>((bits[dow] | bits[dow] >> 7) & 0x7f);
  result.dom_restricted = !star(dom);
  result.dow_restricted = !star(dow);
  result.hour_is_star = star(hour);
  return result;
}

bool cron_expression::matches_time(int hour, int minute, int second) const {
  return bit(seconds, second) && bit(minutes, minute) && bit(hours, hour);
}

bool cron_expression::matches_day(int64_t year, int month, int day) const {
  const int64_t days = civil::days_from_civil(year, month, day);
  return day_matches(*this, day, civil::days_in_month(year, month),
                     civil::weekday_from_days(days));
}

bool cron_expression::matches_date(int64_t year, int month, int day) const {
  return bit(months, month) && matches_day(year, month, day);
}

bool cron_expression::matches(int64_t year, int month, int day, int hour, int minute,
                              int second) const {
  return matches_time(hour, minute, second) && matches_date(year, month, day);
}

bool cron_expression::matches_local(int64_t local) const {
  const int64_t day = civil::floor_div(local, civil::seconds_per_day);
  const int64_t sod = local - day * civil::seconds_per_day;
  const civil::date d = civil::civil_from_days(day);
  return matches(d.year, d.month, d.day, static_cast<int>(sod / 3600),
                 static_cast<int>(sod / 60 % 60), static_cast<int>(sod % 60));
}

uint32_t cron_expression::matching_days(int64_t year, int month) const {
  if (!bit(months, month))
    return 0;
  const int last = civil::days_in_month(year, month);
  int weekday = civil::weekday_from_days(civil::days_from_civil(year, month, 1));
  uint32_t result = 0;
  for (int day = 1; day <= last; ++day, weekday = (weekday + 1) % 7)
    if (day_matches(*this, day, last, weekday))
      result |= uint32_t{1} << day;
  return result;
}

bool operator==(const cron_expression& a, const cron_expression& b) {
  for (int k = 0; k < 5; ++k)
    if (a.nth_weekdays[k] != b.nth_weekdays[k])
      return false;
  return a.seconds == b.seconds && a.minutes == b.minutes && a.hours == b.hours &&
         a.days_of_month == b.days_of_month && a.months == b.months &&
         a.days_of_week == b.days_of_week && a.last_day_offsets == b.last_day_offsets &&
         a.last_weekdays == b.last_weekdays && a.dom_restricted == b.dom_restricted &&
         a.dow_restricted == b.dow_restricted && a.hour_is_star == b.hour_is_star;
}

} // namespace ts
