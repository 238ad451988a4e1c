#include "core/time_format.hpp"

#include <cstdlib>
#include <ctime>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/core/glibc_oracle.hpp"


using ts::format_time;
using ts::millis;
using ts::parse_time;

namespace {

/// 9999-12-31T23:59:59.999Z.
constexpr millis max_time = 253402300799999;
/// 2024-09-22T17:00:00Z, the example from the issue.
constexpr millis example = 1727024400000;

/// The local zone's offset at `t`: proves the zone file was loaded (glibc silently falls back
/// to UTC for an unknown zone, which would make the zone tests meaningless).
long offset_at(time_t t) {
  tm out{};
  REQUIRE(localtime_r(&t, &out) != nullptr);
  return out.tm_gmtoff;
}

millis ok(std::string_view text) {
  auto result = parse_time(text);
  INFO("text: " << text);
  REQUIRE(result);
  return *result;
}

/// Requires a failure whose message contains `needle`.
void fails(std::string_view text, const std::string& needle = "") {
  auto result = parse_time(text);
  INFO("text: " << std::string{text});
  REQUIRE_FALSE(result);
  const auto& message = result.error();
  INFO("message: " << message);
  CHECK_FALSE(message.empty());
  CHECK(message.find(needle) != std::string::npos);
}

/// Independent oracle for UTC fields: glibc's timegm.
millis utc(int y, int mo, int d, int h, int mi, int s, int ms = 0) {
  return utc_seconds(y, mo, d, h, mi, s) * 1000 + ms;
}

bool is_leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

} // namespace

TEST_CASE("RFC 3339 with Z in every accepted spelling", "[time]") {
  CHECK(ok("2024-09-22T17:00:00Z") == example);
  CHECK(ok("2024-09-22t17:00:00z") == example);
  CHECK(ok("2024-09-22T17:00:00z") == example);
  CHECK(ok("2024-09-22t17:00:00Z") == example);
  // RFC 3339 allows a space between date and time.
  CHECK(ok("2024-09-22 17:00:00Z") == example);
  CHECK(ok("1970-01-01T00:00:00Z") == 0);
  CHECK(ok("1970-01-01T00:00:00.001Z") == 1);
  CHECK(ok("9999-12-31T23:59:59.999Z") == max_time);
  CHECK(ok("2000-02-29T12:34:56Z") == utc(2000, 2, 29, 12, 34, 56));
}

TEST_CASE("fractions of 1 to 9 digits, truncated to milliseconds", "[time]") {
  CHECK(ok("2024-09-22T17:00:00.1Z") == example + 100);
  CHECK(ok("2024-09-22T17:00:00.12Z") == example + 120);
  CHECK(ok("2024-09-22T17:00:00.123Z") == example + 123);
  CHECK(ok("2024-09-22T17:00:00.1239Z") == example + 123);
  CHECK(ok("2024-09-22T17:00:00.12399Z") == example + 123);
  CHECK(ok("2024-09-22T17:00:00.123999Z") == example + 123);
  CHECK(ok("2024-09-22T17:00:00.1239999Z") == example + 123);
  CHECK(ok("2024-09-22T17:00:00.12399999Z") == example + 123);
  CHECK(ok("2024-09-22T17:00:00.123999999Z") == example + 123);
  CHECK(ok("2024-09-22T17:00:00.999999999Z") == example + 999);
  CHECK(ok("2024-09-22T17:00:00.000000001Z") == example);
  CHECK(ok("2024-09-22T17:00:00.05+00:00") == example + 50);
  fails("2024-09-22T17:00:00.1234567890Z", "1 to 9 digits");
  fails("2024-09-22T17:00:00.Z", "1 to 9 digits");
  fails("2024-09-22T17:00:00.", "1 to 9 digits");
  fails("2024-09-22T17:00:00,5Z");
  fails("2024-09-22T17:00:00.1a", "unexpected text");
}

TEST_CASE("UTC offsets", "[time]") {
  CHECK(ok("2024-09-22T22:30:00+05:30") == example);
  CHECK(ok("2024-09-22T09:00:00-08:00") == example);
  CHECK(ok("2024-09-22T17:00:00+00:00") == example);
  CHECK(ok("2024-09-22T17:00:00-00:00") == example);
  CHECK(ok("2024-09-23T16:59:00+23:59") == example);
  CHECK(ok("2024-09-21T17:01:00-23:59") == example);
  CHECK(ok("2024-09-22T22:30:00.250+05:30") == example + 250);
  // The offset moves the date across a month, a year and a leap day.
  CHECK(ok("2024-03-01T03:00:00+05:00") == utc(2024, 2, 29, 22, 0, 0));
  CHECK(ok("2023-12-31T20:00:00-05:00") == utc(2024, 1, 1, 1, 0, 0));
  fails("2024-09-22T17:00:00+24:00", "out of range");
  fails("2024-09-22T17:00:00+05:60", "out of range");
  fails("2024-09-22T17:00:00+0530", "+05:30");
  fails("2024-09-22T17:00:00+5:30", "+05:30");
  fails("2024-09-22T17:00:00+05", "+05:30");
  fails("2024-09-22T17:00:00+05:30:00", "unexpected text");
  fails("2024-09-22T17:00:00 +05:30", "unexpected text");
  fails("2024-09-22T17:00:00Z+05:30", "unexpected text");
}

TEST_CASE("local forms in UTC", "[time][zone]") {
  tz_guard zone{"UTC"};
  CHECK(ok("2024-09-22 17:00:00") == example);
  CHECK(ok("2024-09-22T17:00:00") == example);
  CHECK(ok("2024-09-22t17:00:00") == example);
  CHECK(ok("2024-09-22 17:00:00.5") == example + 500);
  CHECK(ok("2024-09-22T17:00:00.123456") == example + 123);
  CHECK(ok("1970-01-01 00:00:00") == 0);
  CHECK(ok("9999-12-31 23:59:59.999") == max_time);
}

TEST_CASE("the same instant in different forms compares equal", "[time][zone]") {
  tz_guard zone{"Asia/Kolkata"};
  REQUIRE(offset_at(1727024400) == 19800);
  const std::vector<std::string> forms = {
    "2024-09-22T17:00:00Z",          "2024-09-22t17:00:00.000z",
    "2024-09-22T22:30:00+05:30",     "2024-09-22T09:00:00-08:00",
    "2024-09-22 22:30:00",           "2024-09-22T22:30:00",
    "2024-09-22T22:30:00.000000000", "2024-09-23T02:00:00+09:00",
  };
  for (const auto& form : forms)
    CHECK(ok(form) == example);
}

TEST_CASE("invalid dates and fields", "[time]") {
  tz_guard zone{"UTC"};
  CHECK(ok("2024-02-29 00:00:00") == utc(2024, 2, 29, 0, 0, 0));
  CHECK(ok("2000-02-29 00:00:00") == utc(2000, 2, 29, 0, 0, 0));
  fails("2024-02-30 10:00:00", "2024-02-30 is not a date");
  fails("2023-02-29 10:00:00", "2023-02-29 is not a date");
  fails("2100-02-29 10:00:00", "2100-02-29 is not a date");
  fails("2024-04-31 10:00:00", "2024-04-31 is not a date");
  fails("2024-00-10 10:00:00", "is not a date");
  fails("2024-13-01 10:00:00", "is not a date");
  fails("2024-01-00 10:00:00", "is not a date");
  fails("2024-01-32T10:00:00Z", "is not a date");
  fails("2024-09-22 25:00:00", "hour 25");
  fails("2024-09-22 24:00:00", "hour 24");
  fails("2024-09-22 17:60:00", "minute 60");
  fails("2024-09-22 17:00:60", "second 60");
  fails("2016-12-31T23:59:60Z", "leap seconds");
  fails("1969-12-31 23:59:59", "year 1969");
  fails("1969-12-31T23:00:00-05:00", "year 1969");
  fails("0000-01-01T00:00:00Z", "year 0000");
}

TEST_CASE("malformed text", "[time]") {
  tz_guard zone{"UTC"};
  const std::string shape = "time must look like 2024-09-22 17:00:00";
  fails("", shape);
  fails("garbage", shape);
  fails("tomorrow at noon", shape);
  fails("2024-9-22 17:00:00", shape);
  fails("2024-09-2 17:00:00", shape);
  fails("2024-09-22 7:00:00", shape);
  fails("2024-09-22 17:0:00", shape);
  fails("2024-09-22 17:00:0", shape);
  fails("2024-09-22 17:00", shape);
  fails("2024-09-22", shape);
  fails("24-09-22 17:00:00", shape);
  fails("10000-01-01 00:00:00", shape);
  fails("+2024-09-22 17:00:00", shape);
  fails("-2024-09-22 17:00:00", shape);
  fails(" 2024-09-22 17:00:00", shape);
  fails("2024-09-22  17:00:00", shape);
  fails("2024-09-22\t17:00:00", shape);
  fails("2024/09/22 17:00:00", shape);
  fails("2024-09-22 17.00.00", shape);
  fails("2024-09-22X17:00:00", shape);
  fails("2024-09-22 +7:00:00", shape);
  fails("2024-09-22 17:00:00 ", "unexpected text");
  fails("2024-09-22 17:00:00junk", "unexpected text");
  fails("2024-09-22T17:00:00Zjunk", "unexpected text");
  fails("2024-09-22T17:00:00ZZ", "unexpected text");
  fails("2024-09-22 17:00:00\n", "unexpected text");
  fails(std::string_view{"2024-09-22 17:00:00\0", 20}, "unexpected text");
  fails(std::string_view{"2024-09-22\0""17:00:00", 19}, shape);
  // Non-ASCII digits (Arabic-Indic zero) are not digits here.
  fails("\xd9\xa0\xd9\xa0" "24-09-22 17:00:00", shape);
}

TEST_CASE("out of range after applying the zone or offset", "[time][zone]") {
  fails("1970-01-01T00:00:00+00:01", "out of range");
  fails("1970-01-01T05:29:59.999+05:30", "out of range");
  CHECK(ok("1970-01-01T05:30:00+05:30") == 0);
  fails("9999-12-31T23:59:59.999-00:01", "out of range");
  fails("9999-12-31T23:00:00-05:00", "out of range");
  CHECK(ok("9999-12-31T18:59:59.999-05:00") == max_time);
  {
    tz_guard zone{"Asia/Kolkata"};
    REQUIRE(offset_at(0) == 19800);
    fails("1970-01-01 05:29:59", "out of range");
    CHECK(ok("1970-01-01 05:30:00") == 0);
  }
  {
    tz_guard zone{"America/New_York"};
    REQUIRE(offset_at(0) == -18000);
    CHECK(ok("9999-12-31 18:59:59.999") == max_time);
    fails("9999-12-31 19:00:00", "out of range");
    // Late enough in UTC, but the written year is outside 1970-9999.
    fails("1969-12-31 20:00:00", "year 1969");
  }
}

TEST_CASE("Asia/Kolkata: fixed +05:30", "[time][zone]") {
  tz_guard zone{"Asia/Kolkata"};
  REQUIRE(offset_at(1727024400) == 19800);
  CHECK(ok("2024-09-22 22:30:00") == example);
  CHECK(ok("2024-01-15 05:30:00") == utc(2024, 1, 15, 0, 0, 0));
  CHECK(ok("2024-07-15 05:30:00.750") == utc(2024, 7, 15, 0, 0, 0, 750));
  CHECK(ok("2024-03-01 01:00:00") == utc(2024, 2, 29, 19, 30, 0));
}

TEST_CASE("Europe/Berlin: winter, summer, gap and fold", "[time][zone]") {
  tz_guard zone{"Europe/Berlin"};
  REQUIRE(offset_at(1727024400) == 7200);
  CHECK(ok("2024-01-15 12:00:00") == utc(2024, 1, 15, 11, 0, 0));
  CHECK(ok("2024-07-15 12:00:00") == utc(2024, 7, 15, 10, 0, 0));
  CHECK(ok("2024-09-22 19:00:00") == example);
  // Spring forward: 02:00 jumps to 03:00 on 2024-03-31.
  CHECK(ok("2024-03-31 01:59:59") == utc(2024, 3, 31, 0, 59, 59));
  fails("2024-03-31 02:00:00", "daylight saving gap");
  fails("2024-03-31 02:30:00",
        "2024-03-31 02:30:00 does not exist in the local time zone (daylight saving gap)");
  fails("2024-03-31T02:59:59.999", "daylight saving gap");
  CHECK(ok("2024-03-31 03:00:00") == utc(2024, 3, 31, 1, 0, 0));
  // Fall back: 02:00-03:00 happens twice on 2024-10-27; the earlier (CEST) instant wins.
  CHECK(ok("2024-10-27 01:59:59") == utc(2024, 10, 26, 23, 59, 59));
  CHECK(ok("2024-10-27 02:00:00") == utc(2024, 10, 27, 0, 0, 0));
  CHECK(ok("2024-10-27 02:30:00") == utc(2024, 10, 27, 0, 30, 0));
  CHECK(ok("2024-10-27 02:59:59.999") == utc(2024, 10, 27, 0, 59, 59, 999));
  CHECK(ok("2024-10-27 03:00:00") == utc(2024, 10, 27, 2, 0, 0));
}

TEST_CASE("America/New_York: spring-forward gap and fall-back fold", "[time][zone]") {
  tz_guard zone{"America/New_York"};
  REQUIRE(offset_at(1727024400) == -4 * 3600);
  CHECK(ok("2024-09-22 13:00:00") == example);
  CHECK(ok("2024-01-15 12:00:00") == utc(2024, 1, 15, 17, 0, 0));
  // 2024-03-10: 02:00 EST jumps to 03:00 EDT.
  CHECK(ok("2024-03-10 01:59:59") == utc(2024, 3, 10, 6, 59, 59));
  fails("2024-03-10 02:00:00", "daylight saving gap");
  fails("2024-03-10 02:30:00",
        "2024-03-10 02:30:00 does not exist in the local time zone (daylight saving gap)");
  fails("2024-03-10T02:59:59", "daylight saving gap");
  CHECK(ok("2024-03-10 03:00:00") == utc(2024, 3, 10, 7, 0, 0));
  // 2024-11-03: 01:00-02:00 happens twice; the earlier (EDT) instant wins.
  CHECK(ok("2024-11-03 00:59:59") == utc(2024, 11, 3, 4, 59, 59));
  CHECK(ok("2024-11-03 01:00:00") == utc(2024, 11, 3, 5, 0, 0));
  CHECK(ok("2024-11-03 01:30:00") == utc(2024, 11, 3, 5, 30, 0));
  CHECK(format_time(ok("2024-11-03 01:30:00")) == "2024-11-03T05:30:00.000Z");
  CHECK(ok("2024-11-03 01:59:59.999") == utc(2024, 11, 3, 5, 59, 59, 999));
  CHECK(ok("2024-11-03 02:00:00") == utc(2024, 11, 3, 7, 0, 0));
  // Far beyond the zone file's table the POSIX rule still applies.
  CHECK(ok("2300-07-01 12:00:00") == utc(2300, 7, 1, 16, 0, 0));
  CHECK(ok("2300-01-01 12:00:00") == utc(2300, 1, 1, 17, 0, 0));
  // An explicit offset ignores the zone.
  CHECK(ok("2024-03-10T02:30:00Z") == utc(2024, 3, 10, 2, 30, 0));
  CHECK(ok("2024-03-10T02:30:00-05:00") == utc(2024, 3, 10, 7, 30, 0));
}

TEST_CASE("a POSIX TZ rule without a zone file", "[time][zone]") {
  tz_guard zone{"EST5EDT,M3.2.0,M11.1.0"};
  REQUIRE(offset_at(1727024400) == -4 * 3600);
  fails("2024-03-10 02:30:00", "daylight saving gap");
  CHECK(ok("2024-11-03 01:30:00") == utc(2024, 11, 3, 5, 30, 0));
}

TEST_CASE("Australia/Lord_Howe: 30-minute daylight saving", "[time][zone]") {
  tz_guard zone{"Australia/Lord_Howe"};
  REQUIRE(offset_at(1704067200) == 11 * 3600);  // January: +11
  // 2024-04-07: 02:00 (+11) falls back to 01:30 (+10:30); 01:30-02:00 happens twice.
  CHECK(ok("2024-04-07 01:29:59") == utc(2024, 4, 6, 14, 29, 59));
  CHECK(ok("2024-04-07 01:45:00") == utc(2024, 4, 6, 14, 45, 0));
  CHECK(ok("2024-04-07 02:00:00") == utc(2024, 4, 6, 15, 30, 0));
  // 2024-10-06: 02:00 (+10:30) jumps to 02:30 (+11).
  CHECK(ok("2024-10-06 01:59:59") == utc(2024, 10, 5, 15, 29, 59));
  fails("2024-10-06 02:00:00", "daylight saving gap");
  fails("2024-10-06 02:15:00", "daylight saving gap");
  CHECK(ok("2024-10-06 02:30:00") == utc(2024, 10, 5, 15, 30, 0));
}

TEST_CASE("Europe/Moscow: offset changes without a DST flag change", "[time][zone]") {
  tz_guard zone{"Europe/Moscow"};
  REQUIRE(offset_at(1727024400) == 3 * 3600);
  // 2011-03-27: 02:00 (+03) jumped to 03:00 (+04), both as standard time.
  fails("2011-03-27 02:30:00", "daylight saving gap");
  CHECK(ok("2011-03-27 03:00:00") == utc(2011, 3, 26, 23, 0, 0));
  // 2014-10-26: 02:00 (+04) fell back to 01:00 (+03); the earlier instant wins.
  CHECK(ok("2014-10-26 01:30:00") == utc(2014, 10, 25, 21, 30, 0));
  CHECK(ok("2014-10-26 02:00:00") == utc(2014, 10, 25, 23, 0, 0));
}

TEST_CASE("format_time writes RFC 3339 UTC with milliseconds", "[time]") {
  CHECK(format_time(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_time(1) == "1970-01-01T00:00:00.001Z");
  CHECK(format_time(example) == "2024-09-22T17:00:00.000Z");
  CHECK(format_time(example + 5) == "2024-09-22T17:00:00.005Z");
  CHECK(format_time(example + 50) == "2024-09-22T17:00:00.050Z");
  CHECK(format_time(example + 999) == "2024-09-22T17:00:00.999Z");
  CHECK(format_time(utc(2024, 2, 29, 23, 59, 59, 999)) == "2024-02-29T23:59:59.999Z");
  CHECK(format_time(utc(2000, 2, 29, 0, 0, 0)) == "2000-02-29T00:00:00.000Z");
  CHECK(format_time(utc(2100, 3, 1, 0, 0, 0)) == "2100-03-01T00:00:00.000Z");
  CHECK(format_time(max_time) == "9999-12-31T23:59:59.999Z");
}

TEST_CASE("format_time does not depend on the local zone", "[time][zone]") {
  tz_guard zone{"Asia/Kolkata"};
  REQUIRE(offset_at(1727024400) == 19800);
  CHECK(format_time(example) == "2024-09-22T17:00:00.000Z");
  CHECK(format_time(0) == "1970-01-01T00:00:00.000Z");
}

TEST_CASE("parse and format round trip on every year 1970-9999", "[time]") {
  tz_guard zone{"America/New_York"};  // must not matter for Z times
  char buf[64];
  int checked = 0;
  for (int y = 1970; y <= 9999; ++y) {
    struct sample {
      int mo, d, h, mi, s, ms;
    };
    std::vector<sample> samples = {{1, 1, 0, 0, 0, 0},
                                   {2, 28, 23, 59, 59, 999},
                                   {3, 1, 0, 0, 0, 1},
                                   {7, 4, 12, 34, 56, 789},
                                   {12, 31, 23, 59, 59, 999}};
    if (is_leap(y))
      samples.push_back({2, 29, 6, 7, 8, 90});
    for (const auto& x : samples) {
      std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, x.mo, x.d, x.h,
                    x.mi, x.s, x.ms);
      const auto parsed = parse_time(buf);
      INFO(buf);
      REQUIRE(parsed);
      REQUIRE(*parsed == utc(y, x.mo, x.d, x.h, x.mi, x.s, x.ms));
      REQUIRE(format_time(*parsed) == buf);
      ++checked;
    }
    if (!is_leap(y)) {
      std::snprintf(buf, sizeof(buf), "%04d-02-29T00:00:00Z", y);
      REQUIRE_FALSE(parse_time(buf));
    }
  }
  // Leap years in 1970-9999: (2499 - 492) divisible by 4, less (99 - 19) centuries, plus
  // (24 - 4) quad-centuries = 1947.
  CHECK(checked == 8030 * 5 + 1947);
}

TEST_CASE("format_time agrees with gmtime_r and parses back", "[time]") {
  std::mt19937_64 rng{20240922};
  std::uniform_int_distribution<millis> pick{0, max_time};
  char buf[64];
  for (int i = 0; i < 100000; ++i) {
    const millis t = pick(rng);
    const time_t secs = static_cast<time_t>(t / 1000);
    tm out{};
    REQUIRE(gmtime_r(&secs, &out) != nullptr);
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", out.tm_year + 1900,
                  out.tm_mon + 1, out.tm_mday, out.tm_hour, out.tm_min, out.tm_sec,
                  static_cast<int>(t % 1000));
    const auto text = format_time(t);
    INFO(t);
    REQUIRE(text == buf);
    const auto back = parse_time(text);
    REQUIRE(back);
    REQUIRE(*back == t);
  }
}

TEST_CASE("parse_time is safe to call from many threads", "[time][zone]") {
  tz_guard zone{"America/New_York"};
  REQUIRE(offset_at(1727024400) == -4 * 3600);
  const millis fold = utc(2024, 11, 3, 5, 30, 0);
  const millis summer = utc(2024, 7, 15, 16, 0, 0);
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (size_t n = 0; n < failures.size(); ++n) {
    threads.emplace_back([&, n] {
      for (int i = 0; i < 2000; ++i) {
        auto a = parse_time("2024-11-03 01:30:00");
        auto b = parse_time("2024-07-15T12:00:00");
        auto c = parse_time("2024-03-10 02:30:00");
        auto d = parse_time("2024-09-22T22:30:00+05:30");
        if (!a || *a != fold || !b || *b != summer || c || !d || *d != example
            || format_time(fold) != "2024-11-03T05:30:00.000Z")
          ++failures[n];
      }
    });
  }
  for (auto& t : threads)
    t.join();
  for (size_t n = 0; n < failures.size(); ++n)
    CHECK(failures[n] == 0);
}

TEST_CASE("format_local_time writes the wall clock with its offset", "[time]") {
  using ts::format_local_time;
  CHECK(format_local_time(example, 0) == "2024-09-22T17:00:00.000+00:00");
  CHECK(format_local_time(example, 7200) == "2024-09-22T19:00:00.000+02:00");
  CHECK(format_local_time(example + 5, -4 * 3600) == "2024-09-22T13:00:00.005-04:00");
  // Half and quarter hours (India, Nepal, Lord Howe's +10:30), and a day boundary.
  CHECK(format_local_time(example, 19800) == "2024-09-22T22:30:00.000+05:30");
  CHECK(format_local_time(example, 20700) == "2024-09-22T22:45:00.000+05:45");
  CHECK(format_local_time(utc(2024, 1, 1, 0, 0, 0), -3600) == "2023-12-31T23:00:00.000-01:00");
  // Amsterdam's local mean time before 1937 was +00:19:32.
  CHECK(format_local_time(0, 1172) == "1970-01-01T00:19:32.000+00:19:32");
  CHECK(format_local_time(0, -1172) == "1969-12-31T23:40:28.000-00:19:32");
}
