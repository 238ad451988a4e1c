// Cron expressions: the parser and a matcher of civil (wall clock) times. Pure: no CAF, no
// zones; the occurrence search applies a zone and scans the bitsets below. A parse failure
// is always a syntax error; whether a valid expression ever fires ("0 0 0 30 2 *" does not)
// is for the search to say, so the two errors never mix.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/parsed.hpp"

namespace ts {

struct cron_expression {
  /// Five fields (min hour dom mon dow, second 0) or six (sec min hour dom mon dow),
  /// separated by whitespace, or one macro (@yearly, @annually, @monthly, @weekly, @daily,
  /// @midnight, @hourly). Names (JAN..DEC, SUN..SAT), macros and L in any case. An error
  /// names the field by its position as written and quotes the offending text.
  static parsed<cron_expression> parse(std::string_view text);

  // One bit per allowed value, bit v for value v.
  uint64_t seconds = 0;
  uint64_t minutes = 0;
  uint32_t hours = 0;
  /// Bits 1..31.
  uint32_t days_of_month = 0;
  /// Bits 1..12.
  uint16_t months = 0;
  /// Bits 0..6, 0 = Sunday (a 7 in the text sets bit 0).
  uint8_t days_of_week = 0;

  // The day forms that depend on the month, beside the plain bits; any of them may also
  // be an item of a list ("L,15", "1#1,5L"): each item just adds to what the field allows.
  /// Bit n: the day n days before the month's last (L-n; L is L-0).
  uint32_t last_day_offsets = 0;
  /// Bit d: the last weekday d of the month (5L = the last Friday).
  uint8_t last_weekdays = 0;
  /// nth_weekdays[k - 1] bit d: the k-th weekday d of the month (1#2 = the second Monday).
  uint8_t nth_weekdays[5] = {};

  /// False when the field begins with '*' or is '?'. Vixie cron's day rule: when both day
  /// fields are restricted a day matches if either does, otherwise if both do (which, for
  /// a field of '*' or '?', means: the other one alone decides).
  bool dom_restricted = false;
  bool dow_restricted = false;
  /// The hour field begins with '*': the DST rule treats such a job as "every hour", which
  /// fires in repeated and skipped hours like any other.
  bool hour_is_star = false;

  /// Second, minute and hour.
  bool matches_time(int hour, int minute, int second) const;
  /// The day fields under the day rule; the month field is not consulted.
  bool matches_day(int64_t year, int month, int day) const;
  /// The month field and the day fields.
  bool matches_date(int64_t year, int month, int day) const;
  /// Every field. Arguments are a valid proleptic Gregorian date and time (month 1-12,
  /// hour 0-23, ...), as civil::civil_from_days gives.
  bool matches(int64_t year, int month, int day, int hour, int minute, int second) const;
  /// Every field, for a local time given as the seconds since the epoch its fields would
  /// mean if they were UTC (as time_zone::to_utc takes it).
  bool matches_local(int64_t local) const;
  /// Bit d for each day d of the month that matches_date; 0 when the month is excluded.
  /// What a search scans to skip to the next matching day in one step.
  uint32_t matching_days(int64_t year, int month) const;

  friend bool operator==(const cron_expression& a, const cron_expression& b);
  friend bool operator!=(const cron_expression& a, const cron_expression& b) {
    return !(a == b);
  }
};

} // namespace ts
