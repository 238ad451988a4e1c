// core/cron: every syntax form and every error message, each field's full range, and the
// day matching (L, L-n, dL, d#k, Vixie's day rule) against an independent weekday formula.
#include "core/cron.hpp"

#include <cstdint>
#include <initializer_list>
#include <string>

#include <catch2/catch.hpp>

using ts::cron_expression;

namespace {

cron_expression parse(const std::string& text) {
  const auto r = cron_expression::parse(text);
  INFO(text << ": " << r.error());
  REQUIRE(r);
  CHECK(r.error().empty());
  return *r;
}

std::string error_of(const std::string& text) {
  const auto r = cron_expression::parse(text);
  INFO(text);
  REQUIRE_FALSE(r);
  return r.error();
}

/// Bits low..high (every step-th).
uint64_t bits(int low, int high, int step = 1) {
  uint64_t result = 0;
  for (int v = low; v <= high; v += step)
    result |= uint64_t{1} << v;
  return result;
}

uint64_t bits_of(std::initializer_list<int> values) {
  uint64_t result = 0;
  for (const int v : values)
    result |= uint64_t{1} << v;
  return result;
}

/// Sakamoto's weekday formula (0 = Sunday): an oracle apart from core/civil.
int weekday(int y, int m, int d) {
  static const int t[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
  if (m < 3)
    y -= 1;
  return (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7;
}

int month_length(int y, int m) {
  if (m == 2)
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28;
  return m == 4 || m == 6 || m == 9 || m == 11 ? 30 : 31;
}

} // namespace

TEST_CASE("five fields are minute hour dom month dow, at second 0") {
  const auto c = parse("5 4 3 2 1");
  CHECK(c.seconds == 1);
  CHECK(c.minutes == bits_of({5}));
  CHECK(c.hours == bits_of({4}));
  CHECK(c.days_of_month == bits_of({3}));
  CHECK(c.months == bits_of({2}));
  CHECK(c.days_of_week == bits_of({1}));
  CHECK(c.dom_restricted);
  CHECK(c.dow_restricted);
  CHECK_FALSE(c.hour_is_star);
  CHECK(c.last_day_offsets == 0);
  CHECK(c.last_weekdays == 0);
  // Second 0 only: a minute's other seconds do not match.
  const auto every_minute = parse("* * * * *");
  CHECK(every_minute.matches_time(12, 30, 0));
  CHECK_FALSE(every_minute.matches_time(12, 30, 1));
  CHECK_FALSE(every_minute.matches_time(12, 30, 59));
}

TEST_CASE("six fields put the second first") {
  const auto c = parse("1 2 3 4 5 6");
  CHECK(c.seconds == bits_of({1}));
  CHECK(c.minutes == bits_of({2}));
  CHECK(c.hours == bits_of({3}));
  CHECK(c.days_of_month == bits_of({4}));
  CHECK(c.months == bits_of({5}));
  CHECK(c.days_of_week == bits_of({6}));
  CHECK(parse("0 5 4 3 2 1") == parse("5 4 3 2 1"));
  CHECK(parse("5 * * * * *") != parse("* * * * *"));
}

TEST_CASE("fields are separated by any run of whitespace, trimmed at both ends") {
  CHECK(parse("  0\t 0  *\t\t* *  ") == parse("0 0 * * *"));
  CHECK(parse("\t0 0 0 1 1 *\n") == parse("0 0 1 1 *"));
}

TEST_CASE("each field's full range sets every bit") {
  CHECK(parse("0-59 * * * * *").seconds == bits(0, 59));
  CHECK(parse("* * * * * *").seconds == bits(0, 59));
  CHECK(parse("0-59 * * * *").minutes == bits(0, 59));
  CHECK(parse("* 0-23 * * *").hours == bits(0, 23));
  CHECK(parse("* * 1-31 * *").days_of_month == bits(1, 31));
  CHECK(parse("* * * 1-12 *").months == bits(1, 12));
  CHECK(parse("* * * * 0-7").days_of_week == bits(0, 6));
  CHECK(parse("* * * * 0-6").days_of_week == bits(0, 6));
  const auto star = parse("* * * * * *");
  CHECK(star.minutes == bits(0, 59));
  CHECK(star.hours == bits(0, 23));
  CHECK(star.days_of_month == bits(1, 31));
  CHECK(star.months == bits(1, 12));
  CHECK(star.days_of_week == bits(0, 6));
  // Each end alone.
  CHECK(parse("59 59 23 31 12 7") == parse("59 59 23 31 12 0"));
  CHECK(parse("0 0 0 1 1 0").days_of_month == bits_of({1}));
}

TEST_CASE("a value just outside a field's range is refused, by position and name") {
  CHECK(error_of("60 * * * * *") == R"(field 1 (second): "60" is out of range 0-59)");
  CHECK(error_of("* 60 * * * *") == R"(field 2 (minute): "60" is out of range 0-59)");
  CHECK(error_of("* * 24 * * *") == R"(field 3 (hour): "24" is out of range 0-23)");
  CHECK(error_of("* * * 0 * *") == R"(field 4 (day of month): "0" is out of range 1-31)");
  CHECK(error_of("* * * 32 * *") == R"(field 4 (day of month): "32" is out of range 1-31)");
  CHECK(error_of("* * * * 0 *") == R"(field 5 (month): "0" is out of range 1-12)");
  CHECK(error_of("* * * * 13 *") == R"(field 5 (month): "13" is out of range 1-12)");
  CHECK(error_of("* * * * * 8") == R"(field 6 (day of week): "8" is out of range 0-7)");
  // Five fields: positions as written.
  CHECK(error_of("60 * * * *") == R"(field 1 (minute): "60" is out of range 0-59)");
  CHECK(error_of("* * 32 * *") == R"(field 3 (day of month): "32" is out of range 1-31)");
  // The end of a range, a huge number (no overflow), the start of a step.
  CHECK(error_of("* 1-60 * * * *") == R"(field 2 (minute): "1-60": "60" is out of range 0-59)");
  CHECK(error_of("* 99999999999 * * * *") ==
        R"(field 2 (minute): "99999999999" is out of range 0-59)");
  CHECK(error_of("* * 24/2 * * *") == R"(field 3 (hour): "24/2": "24" is out of range 0-23)");
}

TEST_CASE("day of week 7 is Sunday like 0") {
  CHECK(parse("0 0 * * 7") == parse("0 0 * * 0"));
  CHECK(parse("0 0 * * 7").days_of_week == bits_of({0}));
  CHECK(parse("0 0 * * 5-7").days_of_week == bits_of({0, 5, 6}));
  CHECK(parse("0 0 * * 0,7").days_of_week == bits_of({0}));
  CHECK(parse("0 0 * * SUN") == parse("0 0 * * 7"));
}

TEST_CASE("steps: */n, a/n and a-b/n") {
  CHECK(parse("*/15 * * * *").minutes == bits_of({0, 15, 30, 45}));
  CHECK(parse("5/20 * * * *").minutes == bits_of({5, 25, 45}));
  CHECK(parse("10-30/10 * * * *").minutes == bits_of({10, 20, 30}));
  CHECK(parse("10-35/10 * * * *").minutes == bits_of({10, 20, 30}));
  CHECK(parse("*/1 * * * *").minutes == bits(0, 59));
  CHECK(parse("*/59 * * * *").minutes == bits_of({0, 59}));
  CHECK(parse("*/20 * * * * *").seconds == bits_of({0, 20, 40}));
  CHECK(parse("* */7 * * *").hours == bits_of({0, 7, 14, 21}));
  CHECK(parse("* * */10 * *").days_of_month == bits_of({1, 11, 21, 31}));
  CHECK(parse("* * * */5 *").months == bits_of({1, 6, 11}));
  CHECK(parse("* * * * */2").days_of_week == bits_of({0, 2, 4, 6}));
  // 1/3 in day of week runs to 7, which is Sunday.
  CHECK(parse("* * * * 1/3").days_of_week == bits_of({1, 4, 0}));
}

TEST_CASE("comma lists mix every form") {
  CHECK(parse("1,5,10-12,*/30 * * * *").minutes == bits_of({0, 1, 5, 10, 11, 12, 30}));
  CHECK(parse("* * 1,15 jan,jul 1-3,5").months == bits_of({1, 7}));
  CHECK(parse("* * 1,15 jan,jul 1-3,5").days_of_week == bits_of({1, 2, 3, 5}));
  CHECK(parse("3,3,3 * * * *").minutes == bits_of({3}));
}

TEST_CASE("month and day names in any case, as numbers in ranges, lists and steps") {
  const char* months[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
  for (int m = 1; m <= 12; ++m) {
    const std::string upper = months[m - 1];
    const std::string lower = {static_cast<char>(upper[0] + 32),
                               static_cast<char>(upper[1] + 32),
                               static_cast<char>(upper[2] + 32)};
    const std::string mixed = {upper[0], lower[1], upper[2]};
    INFO(upper);
    CHECK(parse("0 0 1 " + upper + " *").months == bits_of({m}));
    CHECK(parse("0 0 1 " + lower + " *").months == bits_of({m}));
    CHECK(parse("0 0 1 " + mixed + " *").months == bits_of({m}));
  }
  const char* days[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
  for (int d = 0; d < 7; ++d) {
    const std::string upper = days[d];
    const std::string lower = {static_cast<char>(upper[0] + 32),
                               static_cast<char>(upper[1] + 32),
                               static_cast<char>(upper[2] + 32)};
    INFO(upper);
    CHECK(parse("0 0 * * " + upper).days_of_week == bits_of({d}));
    CHECK(parse("0 0 * * " + lower).days_of_week == bits_of({d}));
  }
  CHECK(parse("0 0 * * MON-FRI") == parse("0 0 * * 1-5"));
  CHECK(parse("0 0 * * mon-Fri") == parse("0 0 * * 1-5"));
  CHECK(parse("0 0 * MAR-may *").months == bits(3, 5));
  CHECK(parse("0 0 * jan,jul *").months == bits_of({1, 7}));
  CHECK(parse("0 0 * JAN/3 *").months == bits_of({1, 4, 7, 10}));
  CHECK(parse("0 0 * 2-APR *").months == bits(2, 4));
}

TEST_CASE("names belong to their own fields") {
  CHECK(error_of("0 0 0 MON * *") == R"(field 4 (day of month): "MON" is not a number)");
  CHECK(error_of("0 0 0 * * JAN") ==
        R"(field 6 (day of week): "JAN" is neither a number nor a day name (SUN-SAT))");
  CHECK(error_of("0 0 0 * MON *") ==
        R"(field 5 (month): "MON" is neither a number nor a month name (JAN-DEC))");
  CHECK(error_of("0 0 * JANUARY *") ==
        R"(field 4 (month): "JANUARY" is neither a number nor a month name (JAN-DEC))");
  CHECK(error_of("0 0 * * MON-FRIDAY") ==
        R"(field 5 (day of week): "MON-FRIDAY": "FRIDAY" is neither a number nor a day name )"
        "(SUN-SAT)");
  // A step is a number, never a name.
  CHECK(error_of("0 0 * */FEB *") == R"(field 4 (month): "*/FEB": "FEB" is not a number)");
}

TEST_CASE("macros equal their expansions, in any case") {
  CHECK(parse("@yearly") == parse("0 0 0 1 1 *"));
  CHECK(parse("@annually") == parse("0 0 0 1 1 *"));
  CHECK(parse("@monthly") == parse("0 0 0 1 * *"));
  CHECK(parse("@weekly") == parse("0 0 0 * * 0"));
  CHECK(parse("@daily") == parse("0 0 0 * * *"));
  CHECK(parse("@midnight") == parse("0 0 0 * * *"));
  CHECK(parse("@hourly") == parse("0 0 * * * *"));
  CHECK(parse("@DAILY") == parse("@daily"));
  CHECK(parse("  @Hourly\t") == parse("@hourly"));
  CHECK(parse("@hourly").hour_is_star);
  CHECK_FALSE(parse("@daily").hour_is_star);
  CHECK_FALSE(parse("@weekly").dom_restricted);
  CHECK(parse("@weekly").dow_restricted);
  CHECK(parse("@yearly").matches(2025, 1, 1, 0, 0, 0));
  CHECK_FALSE(parse("@yearly").matches(2025, 1, 2, 0, 0, 0));
}

TEST_CASE("macro errors name the macro") {
  const std::string expected =
    " (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)";
  CHECK(error_of("@fortnightly") == R"(unknown macro "@fortnightly")" + expected);
  CHECK(error_of("@") == R"(unknown macro "@")" + expected);
  CHECK(error_of("@HOURLY5") == R"(unknown macro "@HOURLY5")" + expected);
  CHECK(error_of("@daily 5") == R"(the macro "@daily" must stand alone, found 2 fields)");
  CHECK(error_of("0 0 @daily * *") == R"(field 3 (day of month): "@daily" is not a number)");
}

TEST_CASE("a wrong field count says how many were found") {
  const std::string expected =
    " fields, expected 5 (minute hour day-of-month month day-of-week) or 6 (with seconds first)";
  CHECK(error_of("") == "found 0" + expected);
  CHECK(error_of(" \t ") == "found 0" + expected);
  CHECK(error_of("*") ==
        "found 1 field, expected 5 (minute hour day-of-month month day-of-week) or 6 (with "
        "seconds first)");
  CHECK(error_of("* * * *") == "found 4" + expected);
  CHECK(error_of("* * * * * * *") == "found 7" + expected);
}

TEST_CASE("syntax errors quote the offending text") {
  CHECK(error_of("* 5- * * * *") == R"(field 2 (minute): "5-" is not a number)");
  CHECK(error_of("* -5 * * * *") == R"(field 2 (minute): "-5" is not a number)");
  CHECK(error_of("* 5-x * * * *") == R"(field 2 (minute): "5-x": "x" is not a number)");
  CHECK(error_of("* 5x * * * *") == R"(field 2 (minute): "5x" is not a number)");
  CHECK(error_of("* 5;6 * * * *") == R"(field 2 (minute): "5;6" is not a number)");
  CHECK(error_of("* * é * * *") == R"(field 3 (hour): "é" is not a number)");
  CHECK(error_of("* *-5 * * * *") == R"(field 2 (minute): "*-5": "*" is not a number)");
  CHECK(error_of("* 1-2-3 * * * *") == R"(field 2 (minute): "1-2-3": "2-3" is not a number)");
  CHECK(error_of("* */2/3 * * * *") == R"(field 2 (minute): "*/2/3": "2/3" is not a number)");
  CHECK(error_of("* 1/ * * * *") == R"(field 2 (minute): "1/" is not a number)");
  CHECK(error_of("* */x * * * *") == R"(field 2 (minute): "*/x": "x" is not a number)");
}

TEST_CASE("empty list items are refused") {
  CHECK(error_of("* 1,,2 * * * *") == R"(field 2 (minute): "1,,2" has an empty list item)");
  CHECK(error_of("* 1, * * * *") == R"(field 2 (minute): "1," has an empty list item)");
  CHECK(error_of("* ,1 * * * *") == R"(field 2 (minute): ",1" has an empty list item)");
  CHECK(error_of("* * * * , *") == R"(field 5 (month): "," has an empty list item)");
}

TEST_CASE("a step of 0 or past the field's maximum is refused") {
  CHECK(error_of("* */0 * * * *") == R"(field 2 (minute): "*/0": "0" is a step out of range 1-59)");
  CHECK(error_of("* 5/0 * * * *") == R"(field 2 (minute): "5/0": "0" is a step out of range 1-59)");
  CHECK(error_of("* */60 * * * *") ==
        R"(field 2 (minute): "*/60": "60" is a step out of range 1-59)");
  CHECK(error_of("0 */24 * * *") == R"(field 2 (hour): "*/24": "24" is a step out of range 1-23)");
  CHECK(error_of("0 0 * * 1-5/8") ==
        R"(field 5 (day of week): "1-5/8": "8" is a step out of range 1-7)");
}

TEST_CASE("a reversed range is refused, not wrapped") {
  CHECK(error_of("* 5-3 * * * *") ==
        R"(field 2 (minute): "5-3" is a reversed range (ranges do not wrap: write 3-5 or a list))");
  CHECK(error_of("0 22-2 * * *") ==
        R"(field 2 (hour): "22-2" is a reversed range (ranges do not wrap: write 2-22 or a list))");
  CHECK(error_of("0 0 * * FRI-MON") ==
        R"(field 5 (day of week): "FRI-MON" is a reversed range (ranges do not wrap: write )"
        "MON-FRI or a list)");
  CHECK(parse("* 5-5 * * * *").minutes == bits_of({5}));
}

TEST_CASE("? is unrestricted in the day fields only, and only alone") {
  const auto c = parse("0 0 0 ? * MON");
  CHECK_FALSE(c.dom_restricted);
  CHECK(c.days_of_month == bits(1, 31));
  CHECK(parse("0 0 0 1 * ?") == parse("0 0 0 1 * *"));
  CHECK(error_of("? * * * * *") ==
        R"(field 1 (second): "?" is only allowed in day of month and day of week)");
  CHECK(error_of("0 ? * * *") ==
        R"(field 2 (hour): "?" is only allowed in day of month and day of week)");
  CHECK(error_of("0 0 0 ?,1 * *") ==
        R"(field 4 (day of month): "?" must stand alone as the whole field)");
  CHECK(error_of("0 0 0 ?/2 * *") == R"(field 4 (day of month): "?/2": "?" is not a number)");
}

TEST_CASE("L and L-n in day of month, leap and common February") {
  CHECK(parse("0 0 0 L * *").matching_days(2024, 2) == bits_of({29}));
  CHECK(parse("0 0 0 L * *").matching_days(2023, 2) == bits_of({28}));
  CHECK(parse("0 0 0 L * *").matching_days(2024, 1) == bits_of({31}));
  CHECK(parse("0 0 0 L * *").matching_days(2024, 4) == bits_of({30}));
  CHECK(parse("0 0 0 l * *") == parse("0 0 0 L * *"));
  CHECK(parse("0 0 0 L-0 * *") == parse("0 0 0 L * *"));
  CHECK(parse("0 0 0 L-3 * *").matching_days(2024, 2) == bits_of({26}));
  CHECK(parse("0 0 0 L-3 * *").matching_days(2023, 2) == bits_of({25}));
  CHECK(parse("0 0 0 L-30 * *").matching_days(2024, 1) == bits_of({1}));
  CHECK(parse("0 0 0 L-30 * *").matching_days(2024, 2) == 0); // parses; never in February
  CHECK(parse("0 0 0 L,15 * *").matching_days(2023, 2) == bits_of({15, 28}));
  CHECK(parse("0 0 0 L-1,L * *").matching_days(2024, 2) == bits_of({28, 29}));
  CHECK(parse("0 0 0 L * *").matches(2024, 2, 29, 0, 0, 0));
  CHECK_FALSE(parse("0 0 0 L * *").matches(2024, 2, 28, 0, 0, 0));
  CHECK(parse("0 0 0 L * *").dom_restricted);
}

TEST_CASE("malformed L forms are refused") {
  CHECK(error_of("0 0 L-31 * *") == R"(field 3 (day of month): "L-31": "31" is out of range 0-30)");
  CHECK(error_of("0 0 LW * *") == R"(field 3 (day of month): "LW" is not L or L-n)");
  CHECK(error_of("0 0 L/2 * *") == R"(field 3 (day of month): "L/2" is not L or L-n)");
  CHECK(error_of("0 0 L- * *") == R"(field 3 (day of month): "L-" is not a number)");
  CHECK(error_of("0 0 L-x * *") == R"(field 3 (day of month): "L-x": "x" is not a number)");
  CHECK(error_of("0 0 5L * *") == R"(field 3 (day of month): "5L" is not a number)");
  CHECK(error_of("0 0 * L *") ==
        R"(field 4 (month): "L" is neither a number nor a month name (JAN-DEC))");
  CHECK(error_of("0 L * * *") == R"(field 2 (hour): "L" is not a number)");
  CHECK(error_of("0 0 * * L") ==
        R"(field 5 (day of week): "L" needs a day before it (5L is the last Friday))");
}

TEST_CASE("dL is the last such weekday of the month") {
  // May 2024 starts on a Wednesday, June 2024 on a Saturday.
  const auto c = parse("0 0 0 ? * 5L");
  CHECK(c.matching_days(2024, 5) == bits_of({31}));
  CHECK(c.matching_days(2024, 6) == bits_of({28}));
  CHECK(parse("0 0 0 * * 5L") == c); // '*' and '?' alike
  CHECK(parse("0 0 0 ? * FRIL") == c);
  CHECK(parse("0 0 0 ? * fril") == c);
  CHECK(parse("0 0 0 ? * 5l") == c);
  CHECK(parse("0 0 0 ? * 7L") == parse("0 0 0 ? * 0L"));
  CHECK(parse("0 0 0 ? * SUNL").matching_days(2024, 6) == bits_of({30}));
  CHECK(error_of("0 0 * * 8L") == R"(field 5 (day of week): "8L": "8" is out of range 0-7)");
  CHECK(error_of("0 0 * * 1-5L") ==
        R"(field 5 (day of week): "1-5L": "1-5" is not a number)");
}

TEST_CASE("d#k is the k-th such weekday, when the month has one") {
  // September 2024 starts on a Sunday: Mondays 2, 9, 16, 23, 30; October has four.
  CHECK(parse("0 0 0 ? * 1#2").matching_days(2024, 9) == bits_of({9}));
  CHECK(parse("0 0 0 ? * MON#2") == parse("0 0 0 ? * 1#2"));
  CHECK(parse("0 0 0 ? * mon#2") == parse("0 0 0 ? * 1#2"));
  CHECK(parse("0 0 0 ? * 1#5").matching_days(2024, 9) == bits_of({30}));
  CHECK(parse("0 0 0 ? * 1#5").matching_days(2024, 10) == 0);
  // February 2024 (leap) has a fifth Thursday, the 29th; February 2023 has none.
  CHECK(parse("0 0 0 ? * THU#5").matching_days(2024, 2) == bits_of({29}));
  CHECK(parse("0 0 0 ? * THU#5").matching_days(2023, 2) == 0);
  CHECK(parse("0 0 0 ? * 7#1") == parse("0 0 0 ? * 0#1"));
  CHECK(parse("0 0 0 ? * 1#2").matches(2024, 9, 9, 0, 0, 0));
  CHECK_FALSE(parse("0 0 0 ? * 1#2").matches(2024, 9, 2, 0, 0, 0));
}

TEST_CASE("malformed d#k forms are refused") {
  CHECK(error_of("0 0 * * 1#6") == R"(field 5 (day of week): "1#6": "6" is out of range 1-5)");
  CHECK(error_of("0 0 * * 1#0") == R"(field 5 (day of week): "1#0": "0" is out of range 1-5)");
  CHECK(error_of("0 0 * * 8#1") == R"(field 5 (day of week): "8#1": "8" is out of range 0-7)");
  CHECK(error_of("0 0 * * #2") == R"(field 5 (day of week): "#2" is not a number)");
  CHECK(error_of("0 0 * * 1#") == R"(field 5 (day of week): "1#" is not a number)");
  CHECK(error_of("0 0 * * 1#2#3") == R"(field 5 (day of week): "1#2#3": "2#3" is not a number)");
  CHECK(error_of("0 0 * * 1-2#3") == R"(field 5 (day of week): "1-2#3": "1-2" is not a number)");
  CHECK(error_of("0 0 1#2 * *") == R"(field 3 (day of month): "1#2" is not a number)");
}

TEST_CASE("special day forms are list items like any other") {
  // September 2024: first Monday 2, last Friday 27, Saturdays 7, 14, 21, 28.
  CHECK(parse("0 0 0 ? * 1#1,5L").matching_days(2024, 9) == bits_of({2, 27}));
  CHECK(parse("0 0 0 ? * 1#1,SAT").matching_days(2024, 9) == bits_of({2, 7, 14, 21, 28}));
  CHECK(parse("0 0 0 ? * 1#1,1#3").matching_days(2024, 9) == bits_of({2, 16}));
}

TEST_CASE("the day rule: either restricted field when both are, else both") {
  // September 2024 starts on a Sunday: Mondays 2, 9, 16, 23, 30.
  const uint64_t mondays = bits_of({2, 9, 16, 23, 30});
  CHECK(parse("0 0 0 1 * MON").matching_days(2024, 9) == (mondays | bits_of({1})));
  CHECK(parse("0 0 0 1 * MON").matches(2024, 10, 1, 0, 0, 0)); // a Tuesday, but the 1st
  CHECK(parse("0 0 0 * * MON").matching_days(2024, 9) == mondays);
  CHECK(parse("0 0 0 ? * MON").matching_days(2024, 9) == mondays);
  CHECK(parse("0 0 0 1 * *").matching_days(2024, 9) == bits_of({1}));
  CHECK(parse("0 0 0 1 * ?").matching_days(2024, 9) == bits_of({1}));
  CHECK(parse("0 0 0 * * *").matching_days(2024, 9) == bits(1, 30));
  // 1-31 is restricted although it allows every day: with MON it is every day.
  CHECK(parse("0 0 0 1-31 * MON").matching_days(2024, 9) == bits(1, 30));
  CHECK(parse("0 0 0 L * 5L").matching_days(2024, 9) == bits_of({27, 30}));
  // Vixie's flag is the first character: */2 is unrestricted, and filters with MON (AND).
  CHECK_FALSE(parse("0 0 0 */2 * MON").dom_restricted);
  CHECK(parse("0 0 0 */2 * MON").matching_days(2024, 9) == bits_of({9, 23}));
  CHECK(parse("0 0 0 */2 * *").matching_days(2024, 9) == bits(1, 29, 2));
  CHECK_FALSE(parse("0 0 0 1 * */2").dow_restricted);
  CHECK(parse("0 0 0 1-7 * MON").matching_days(2024, 9) == (bits(1, 7) | mondays));
}

TEST_CASE("hour_is_star when the hour field begins with *") {
  CHECK(parse("0 0 * * * *").hour_is_star);
  CHECK(parse("0 0 */2 * * *").hour_is_star);
  CHECK(parse("0 *,5 * * *").hour_is_star);
  CHECK(parse("0 * * * *").hour_is_star);
  CHECK_FALSE(parse("0 0 0-23 * * *").hour_is_star);
  CHECK_FALSE(parse("0 0 5 * * *").hour_is_star);
  CHECK_FALSE(parse("* 5 * * *").hour_is_star);
}

TEST_CASE("matches checks every field, matches_day the day fields only") {
  const auto c = parse("30 15 10 * FEB *");
  CHECK(c.matches(2024, 2, 5, 10, 15, 30));
  CHECK_FALSE(c.matches(2024, 2, 5, 10, 15, 31));
  CHECK_FALSE(c.matches(2024, 2, 5, 10, 16, 30));
  CHECK_FALSE(c.matches(2024, 2, 5, 11, 15, 30));
  CHECK_FALSE(c.matches(2024, 3, 5, 10, 15, 30));
  CHECK(c.matches_date(2024, 2, 5));
  CHECK_FALSE(c.matches_date(2024, 3, 5));
  CHECK(c.matches_day(2024, 3, 5));
  CHECK(c.matching_days(2024, 3) == 0);
  CHECK(c.matching_days(2024, 2) == bits(1, 29));
}

TEST_CASE("an expression that never fires still parses") {
  const auto c = parse("0 0 0 30 2 *");
  CHECK(c.days_of_month == bits_of({30}));
  for (int year = 2000; year < 2100; ++year)
    CHECK(c.matching_days(year, 2) == 0);
}

TEST_CASE("d#k and dL agree with an independent weekday formula, 1900-2100") {
  for (int d = 0; d < 7; ++d) {
    const auto last = parse("0 0 0 ? * " + std::to_string(d) + "L");
    cron_expression nth[5];
    for (int k = 1; k <= 5; ++k)
      nth[k - 1] = parse("0 0 0 ? * " + std::to_string(d) + "#" + std::to_string(k));
    for (int y = 1900; y <= 2100; ++y)
      for (int m = 1; m <= 12; ++m) {
        const int length = month_length(y, m);
        uint32_t expected_last = 0;
        uint32_t expected_nth[5] = {};
        int seen = 0;
        for (int day = 1; day <= length; ++day)
          if (weekday(y, m, day) == d) {
            expected_nth[seen++] |= uint32_t{1} << day;
            expected_last = uint32_t{1} << day;
          }
        INFO(y << "-" << m << " weekday " << d);
        REQUIRE(last.matching_days(y, m) == expected_last);
        for (int k = 0; k < 5; ++k) {
          REQUIRE(nth[k].matching_days(y, m) == expected_nth[k]);
          for (int day = 1; day <= length; ++day)
            REQUIRE(nth[k].matches_date(y, m, day) == ((expected_nth[k] >> day & 1) != 0));
        }
      }
  }
}
