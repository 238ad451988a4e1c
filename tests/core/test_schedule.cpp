// core/schedule: the window (start_at, end_at, max_runs) over the three forms, interval
// arithmetic (anchor, DST-free, no overflow at the end of time) and "never fires".
#include "core/schedule.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

using ts::dst_note;
using ts::schedule;

namespace {

// 2024-03-10 00:00:00 UTC: New York springs forward at 07:00 UTC that day.
constexpr int64_t mar10 = 1710028800;

schedule every(int64_t n, int64_t anchor) {
  schedule s;
  s.what = schedule::kind::every;
  s.every_s = n;
  s.anchor = anchor;
  return s;
}

schedule cron(const std::string& text, const char* zone) {
  schedule s;
  s.what = schedule::kind::cron;
  s.cron_text = text;
  auto e = ts::cron_expression::parse(text);
  INFO(text << ": " << e.error());
  REQUIRE(e);
  s.cron = *e;
  auto z = ts::find_time_zone(zone);
  REQUIRE(z);
  s.zone = *z;
  return s;
}

std::vector<int64_t> times(const std::vector<ts::occurrence>& os) {
  std::vector<int64_t> out;
  for (auto& o : os)
    out.push_back(o.utc);
  return out;
}

} // namespace

TEST_CASE("an interval fires at anchor + k * every_s, the anchor first") {
  auto s = every(90, 1000);
  CHECK(times(ts::schedule_occurrences(s, 0, 3, std::nullopt))
        == std::vector<int64_t>{1000, 1090, 1180});
  // Strictly after: from the anchor itself the next is one period on.
  CHECK(times(ts::schedule_occurrences(s, 1000, 2, std::nullopt))
        == std::vector<int64_t>{1090, 1180});
  CHECK(times(ts::schedule_occurrences(s, 1089, 1, std::nullopt)) == std::vector<int64_t>{1090});
}

TEST_CASE("an interval keeps real spacing through a DST change") {
  auto s = every(3600, mar10);
  auto os = ts::schedule_occurrences(s, mar10 - 1, 12, std::nullopt);
  REQUIRE(os.size() == 12);
  for (size_t i = 0; i < os.size(); ++i) {
    CHECK(os[i].utc == mar10 + static_cast<int64_t>(i) * 3600);
    CHECK(os[i].note == dst_note::none);
  }
}

TEST_CASE("an interval ends at the end of time instead of overflowing") {
  constexpr auto max = std::numeric_limits<int64_t>::max();
  auto s = every(max / 2, max / 2);
  auto os = ts::schedule_occurrences(s, 0, 5, std::nullopt);
  CHECK(times(os) == std::vector<int64_t>{max / 2, max / 2 * 2});
  auto tiny = every(1, max - 2);
  CHECK(ts::schedule_occurrences(tiny, max - 1, 5, std::nullopt).empty() == false);
  CHECK(ts::schedule_occurrences(tiny, max, 5, std::nullopt).empty());
}

TEST_CASE("start_at, end_at and the remaining runs bound every form") {
  auto s = every(60, 0);
  s.start_at = 300;
  s.end_at = 540;
  CHECK(times(ts::schedule_occurrences(s, 0, 100, std::nullopt))
        == std::vector<int64_t>{300, 360, 420, 480, 540});
  CHECK(times(ts::schedule_occurrences(s, 0, 100, 2)) == std::vector<int64_t>{300, 360});
  CHECK(ts::schedule_occurrences(s, 0, 100, 0).empty());
  CHECK(ts::schedule_occurrences(s, 540, 100, std::nullopt).empty());
  CHECK(ts::listing_start(s, 5000) == 299);
  s.start_at.reset();
  CHECK(ts::listing_start(s, 5000) == 5000);

  auto c = cron("0 0 12 * * *", "UTC");
  c.start_at = mar10 + 12 * 3600;  // inclusive: noon itself is the first
  c.end_at = mar10 + 3 * 86400 + 12 * 3600;
  CHECK(times(ts::schedule_occurrences(c, 0, 10, std::nullopt))
        == std::vector<int64_t>{mar10 + 43200, mar10 + 86400 + 43200,
                                mar10 + 2 * 86400 + 43200, mar10 + 3 * 86400 + 43200});
}

TEST_CASE("a cron schedule keeps the search's DST notes") {
  // 02:30 does not exist in New York on 2024-03-10: 03:00 EDT (07:00 UTC) instead.
  auto c = cron("0 30 2 * * *", "America/New_York");
  c.start_at = mar10;
  auto os = ts::schedule_occurrences(c, 0, 2, std::nullopt);
  REQUIRE(os.size() == 2);
  CHECK(os[0].utc == mar10 + 7 * 3600);
  CHECK(os[0].note == dst_note::shifted_from_gap);
  CHECK(os[1].utc == mar10 + 86400 + 6 * 3600 + 1800);
  CHECK(os[1].note == dst_note::none);
}

TEST_CASE("first_occurrence says when a schedule never fires") {
  CHECK_FALSE(ts::first_occurrence(cron("0 0 0 30 2 *", "Europe/Berlin"), mar10));
  CHECK(ts::first_occurrence(cron("0 0 0 29 2 *", "Europe/Berlin"), mar10));

  auto late = cron("0 0 12 * * *", "UTC");
  late.end_at = mar10 + 3600;  // ends before its first noon
  CHECK_FALSE(ts::first_occurrence(late, mar10));

  // A one-shot time in the past is due at once, not "never"; outside its window it is.
  schedule at;
  at.at = mar10 - 86400;
  CHECK(ts::first_occurrence(at, mar10)->utc == mar10 - 86400);
  at.end_at = mar10 - 2 * 86400;
  CHECK_FALSE(ts::first_occurrence(at, mar10));

  auto capped = every(10, 0);
  capped.max_runs = 0;
  CHECK_FALSE(ts::first_occurrence(capped, mar10));
  capped.max_runs = 1;
  // An occurrence at `now` itself is the first (mar10 is a multiple of 10).
  CHECK(ts::first_occurrence(capped, mar10)->utc == mar10);
  CHECK(ts::first_occurrence(capped, mar10 + 1)->utc == mar10 + 10);
}
