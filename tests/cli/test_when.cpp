// What tsctl reads as a time and a duration, through the service's own time parser and
// zones, and how it writes times back.
#include <catch2/catch.hpp>

#include "cli/when.hpp"
#include "core/time_format.hpp"
#include "core/time_zone.hpp"

using namespace ts::cli;

namespace {

ts::zone_ptr zone(const char* name) {
  auto z = ts::find_time_zone(name);
  INFO(z.error());
  REQUIRE(z);
  return *z;
}

ts::millis utc(const char* rfc3339) {
  auto t = ts::parse_time(rfc3339);
  REQUIRE(t);
  return *t;
}

} // namespace

TEST_CASE("cli when: durations with and without units", "[cli][when]") {
  CHECK(*parse_duration("90") == 90);
  CHECK(*parse_duration("1.5") == 1.5);
  CHECK(*parse_duration("15m") == 900);
  CHECK(*parse_duration("1h30m") == 5400);
  CHECK(*parse_duration("2d") == 172800);
  CHECK(*parse_duration("0.5s") == 0.5);
  for (auto bad : {"", "0", "m", "15x", "1m30", "-5", "1 m", ".", "1..2s", "200000d"})
    CHECK_FALSE(parse_duration(bad));
}

TEST_CASE("cli when: now and now+DURATION", "[cli][when]") {
  auto berlin = zone("Europe/Berlin");
  const ts::millis now = utc("2026-12-04T20:00:00Z");
  auto n = parse_at("now", now, *berlin);
  REQUIRE(n);
  CHECK_FALSE(n->has_value());
  CHECK(**parse_at("now+10m", now, *berlin) == now + 600000);
  CHECK(**parse_at("NOW+1h30m", now, *berlin) == now + 5400000);
  CHECK_FALSE(parse_at("now+", now, *berlin));
  CHECK_FALSE(parse_at("now-5m", now, *berlin));
}

TEST_CASE("cli when: a wall-clock time in the zone given, minutes or seconds", "[cli][when]") {
  auto berlin = zone("Europe/Berlin");
  auto ny = zone("America/New_York");
  const ts::millis now = 0;
  CHECK(**parse_at("2026-12-24 18:00", now, *berlin) == utc("2026-12-24T17:00:00Z"));
  CHECK(**parse_at("2026-12-24T18:00", now, *berlin) == utc("2026-12-24T17:00:00Z"));
  CHECK(**parse_at("2026-12-24 18:00:30", now, *berlin) == utc("2026-12-24T17:00:30Z"));
  CHECK(**parse_at("2026-12-24 18:00", now, *ny) == utc("2026-12-24T23:00:00Z"));
  // RFC 3339 carries its own offset: the zone does not change it.
  CHECK(**parse_at("2026-12-24T18:00:00+05:30", now, *berlin) == utc("2026-12-24T12:30:00Z"));
  CHECK(**parse_at("2026-12-24T18:00:00Z", now, *ny) == utc("2026-12-24T18:00:00Z"));
  // The spring-forward gap does not exist; the fall-back fold is its earlier instant.
  auto gap = parse_at("2026-03-08 02:30", now, *ny);
  REQUIRE_FALSE(gap);
  CHECK(gap.error().find("daylight saving gap") != std::string::npos);
  CHECK(**parse_at("2026-11-01 01:30", now, *ny) == utc("2026-11-01T05:30:00Z"));
  CHECK_FALSE(parse_at("2026-12-24", now, *berlin));
  CHECK_FALSE(parse_at("tomorrow", now, *berlin));
  CHECK(parse_at("tomorrow", now, *berlin).error().find("now+10m") != std::string::npos);
}

TEST_CASE("cli when: what is sent and what is shown", "[cli][when]") {
  auto berlin = zone("Europe/Berlin");
  auto ny = zone("America/New_York");
  const ts::millis t = utc("2026-12-24T17:00:00Z");
  CHECK(rfc3339_in_zone(t, *berlin) == "2026-12-24T18:00:00.000+01:00");
  CHECK(rfc3339_in_zone(t, *ny) == "2026-12-24T12:00:00.000-05:00");
  CHECK(rfc3339_in_zone(utc("2026-07-01T12:00:00Z"), *berlin) == "2026-07-01T14:00:00.000+02:00");
  CHECK(human_time(t, *berlin) == "2026-12-24 18:00:00");
  CHECK(human_time(t, *berlin, true) == "2026-12-24 18:00:00 +01:00");
  const std::string service = "2026-12-24T17:00:00.000Z";
  CHECK(human_time_text(&service, *ny) == "2026-12-24 12:00:00");
  CHECK(human_time_text(nullptr, *ny) == "-");
  const std::string odd = "someday";
  CHECK(human_time_text(&odd, *ny) == "someday");
  CHECK(format_seconds(900) == "15m");
  CHECK(format_seconds(5400) == "1h30m");
  CHECK(format_seconds(45) == "45s");
  CHECK(format_seconds(90061) == "1d1h1m1s");
}
