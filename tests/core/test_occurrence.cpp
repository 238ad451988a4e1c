// core/occurrence: the DST rules against an independent brute force that walks real
// instants minute by minute (and knows nothing of days, bit scans or the search's shortcuts),
// known instants around New York's, Lord Howe's and Apia's changes, and the order contract.
#include "core/occurrence.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/civil.hpp"
#include "tests/core/glibc_oracle.hpp"

using ts::cron_expression;
using ts::dst_note;
using ts::occurrence;
using ts::zone_ptr;
using kind = ts::local_instants::kind;

namespace ts {
std::ostream& operator<<(std::ostream& os, const occurrence& o) {
  const char* names[] = {"none", "shifted_from_gap", "first_of_fold"};
  return os << o.utc << "/" << names[static_cast<int>(o.note)];
}
} // namespace ts

namespace {

zone_ptr zone(const char* name) {
  auto z = ts::find_time_zone(name);
  INFO(name << ": " << z.error());
  REQUIRE(z);
  return *z;
}

cron_expression cron(const std::string& text) {
  const auto r = cron_expression::parse(text);
  INFO(text << ": " << r.error());
  REQUIRE(r);
  return *r;
}

int64_t utc(int y, int mo, int d, int h, int mi, int s = 0) {
  return utc_seconds(y, mo, d, h, mi, s);
}

/// Whether the local time (seconds since the epoch of its fields read as UTC) matches.
bool matches_local(const cron_expression& e, int64_t local) {
  const int64_t day = ts::civil::floor_div(local, 86400);
  const int64_t sod = local - day * 86400;
  const ts::civil::date d = ts::civil::civil_from_days(day);
  return e.matches(d.year, d.month, d.day, static_cast<int>(sod / 3600),
                   static_cast<int>(sod / 60 % 60), static_cast<int>(sod % 60));
}

/// The rules taken literally, over the minutes in [from, to): an instant fires if its local
/// time matches and (for a job whose hour is not '*') no earlier instant had that local
/// time; a gap fires at its end if a local time it skipped matches, unless that instant
/// fires anyway. Only for expressions that fire at second 0, in zones whose offsets are
/// whole minutes.
std::vector<std::vector<occurrence>> brute_force(const ts::time_zone& z,
                                                 const std::vector<cron_expression>& es,
                                                 int64_t from, int64_t to) {
  std::vector<std::vector<occurrence>> result(es.size());
  int32_t previous = z.at(from - 60).utc_offset;
  for (int64_t t = from; t < to; t += 60) {
    const int32_t offset = z.at(t).utc_offset;
    // The offset changed at t (transitions fall on whole minutes): a gap if it grew.
    const bool gap = offset > previous;
    const int64_t local = t + offset;
    for (size_t i = 0; i < es.size(); ++i) {
      const cron_expression& e = es[i];
      bool gap_hit = false;
      if (gap && !e.hour_is_star)
        for (int64_t skipped = t + previous; skipped < t + offset && !gap_hit; skipped += 60)
          gap_hit = matches_local(e, skipped);
      if (matches_local(e, local)) {
        const auto r = z.to_utc(local);
        if (e.hour_is_star)
          result[i].push_back({t, dst_note::none});
        else if (r.what != kind::fold)
          result[i].push_back({t, dst_note::none});
        else if (r.first == t)
          result[i].push_back({t, dst_note::first_of_fold});
      } else if (gap_hit) {
        result[i].push_back({t, dst_note::shifted_from_gap});
      }
    }
    previous = offset;
  }
  return result;
}

const std::vector<std::string> differential_expressions{
  "0 30 2 * * *",   "0 0 2 * * *",   "0 0 * * * *",   "0 */15 * * * *", "0 0 0 29 2 *",
  "0 0 1 L * *",    "0 0 9 * * 5L",  "0 0 9 * * 1#2", "0 30 1 * * *",   "0 0 0,12 * * *",
  "0 0,30 2 * * *", "0 45 * * * *",  "0 0 0 * * *",   "0 50 23 * * *",  "0 10 0 * * *",
  "0 */20 23,0 * * *",
};

} // namespace

TEST_CASE("the search agrees with a minute-by-minute brute force across DST changes",
          "[occurrence]") {
  struct range {
    zone_ptr zone;
    int64_t from;
    int64_t to;
  };
  // A made-up zone whose changes cross midnight both ways: 23:30 standard jumps to 00:30
  // DST (a gap over midnight), 00:30 DST falls back to 23:30 standard (a fold whose
  // repeated times belong to the previous day): the search must look at the day before
  // `after`'s and past a transition day.
  const auto midnight = ts::time_zone::from_rule("XST-1XDT", "XST-1XDT,M3.5.0/23:30,M10.5.0/0:30");
  INFO(midnight.error());
  REQUIRE(midnight);
  // Each range starts and ends far from any change; together they hold every kind: New
  // York and Berlin (one hour), Lord Howe (30 minutes), Apia (DST start and end in the
  // southern summer, and the skipped 2011-12-30), and the leap day of 2024.
  const std::vector<range> ranges{
    {zone("America/New_York"), utc(2023, 7, 1, 0, 0), utc(2025, 7, 1, 0, 0)},
    {zone("Europe/Berlin"), utc(2024, 1, 1, 0, 0), utc(2025, 7, 1, 0, 0)},
    {zone("Australia/Lord_Howe"), utc(2023, 7, 1, 0, 0), utc(2025, 7, 1, 0, 0)},
    {zone("Pacific/Apia"), utc(2011, 6, 1, 0, 0), utc(2012, 7, 1, 0, 0)},
    {std::make_shared<const ts::time_zone>(*midnight), utc(2024, 1, 1, 0, 0),
     utc(2025, 1, 1, 0, 0)},
  };
  std::vector<cron_expression> es;
  for (const auto& text : differential_expressions)
    es.push_back(cron(text));
  for (const range& r : ranges) {
    const zone_ptr& z = r.zone;
    const auto expected = brute_force(*z, es, r.from, r.to);
    for (size_t i = 0; i < es.size(); ++i) {
      INFO(z->name() << " " << differential_expressions[i]);
      const auto got = ts::next_occurrences(es[i], *z, r.from - 1, 1000000, r.to - 1);
      CHECK(got.size() == expected[i].size());
      // The first difference says more than the whole lists.
      size_t k = 0;
      while (k < got.size() && k < expected[i].size() && got[k] == expected[i][k])
        ++k;
      if (k < got.size() || k < expected[i].size()) {
        INFO("first difference at index " << k);
        if (k < got.size())
          INFO("search: " << got[k]);
        if (k < expected[i].size())
          INFO("brute force: " << expected[i][k]);
        CHECK(false);
      }
    }
  }
}

TEST_CASE("America/New_York: a time in the gap runs at 03:00, one in the fold once",
          "[occurrence]") {
  const zone_ptr z = zone("America/New_York");
  const auto at_0230 = cron("0 30 2 * * *");
  // 2024-03-10 02:00 EST jumped to 03:00 EDT: 02:30 runs at 03:00 EDT = 07:00Z.
  CHECK(ts::next_occurrences(at_0230, *z, utc(2024, 3, 9, 8, 0), 2, utc(2025, 1, 1, 0, 0)) ==
        std::vector<occurrence>{{utc(2024, 3, 10, 7, 0), dst_note::shifted_from_gap},
                                {utc(2024, 3, 11, 6, 30), dst_note::none}});
  // 2024-11-03 01:00-02:00 happened twice: 01:30 runs at 01:30 EDT = 05:30Z only.
  const auto at_0130 = cron("0 30 1 * * *");
  CHECK(ts::next_occurrences(at_0130, *z, utc(2024, 11, 2, 12, 0), 2, utc(2025, 1, 1, 0, 0)) ==
        std::vector<occurrence>{{utc(2024, 11, 3, 5, 30), dst_note::first_of_fold},
                                {utc(2024, 11, 4, 6, 30), dst_note::none}});
  // Asked from inside the fold (even from the first 01:30), the repeat is not run.
  CHECK(ts::next_occurrence(at_0130, *z, utc(2024, 11, 3, 5, 30), utc(2025, 1, 1, 0, 0)) ==
        occurrence{utc(2024, 11, 4, 6, 30), dst_note::none});
  CHECK(ts::next_occurrence(at_0130, *z, utc(2024, 11, 3, 6, 0), utc(2025, 1, 1, 0, 0)) ==
        occurrence{utc(2024, 11, 4, 6, 30), dst_note::none});
}

TEST_CASE("an hour field of '*' runs every real instant, through the fold and the gap",
          "[occurrence]") {
  const zone_ptr z = zone("America/New_York");
  // 05:00Z..07:00Z on 2024-11-03 is 01:00 EDT .. 02:00 EST: two real hours, 9 quarters.
  const auto quarters =
    ts::next_occurrences(cron("0 */15 * * * *"), *z, utc(2024, 11, 3, 5, 0) - 1, 100,
                         utc(2024, 11, 3, 7, 0));
  REQUIRE(quarters.size() == 9);
  for (size_t i = 0; i < quarters.size(); ++i) {
    CHECK(quarters[i].utc == utc(2024, 11, 3, 5, 0) + static_cast<int64_t>(i) * 900);
    CHECK(quarters[i].note == dst_note::none);
  }
  // Hourly: every real hour, 01:00 twice in November and no 02:00 (nor a shifted run) in
  // March.
  const auto hourly = cron("0 0 * * * *");
  CHECK(ts::next_occurrences(hourly, *z, utc(2024, 11, 3, 4, 0) - 1, 4) ==
        std::vector<occurrence>{{utc(2024, 11, 3, 4, 0), dst_note::none},
                                {utc(2024, 11, 3, 5, 0), dst_note::none},
                                {utc(2024, 11, 3, 6, 0), dst_note::none},
                                {utc(2024, 11, 3, 7, 0), dst_note::none}});
  CHECK(ts::next_occurrences(hourly, *z, utc(2024, 3, 10, 5, 0) - 1, 3) ==
        std::vector<occurrence>{{utc(2024, 3, 10, 5, 0), dst_note::none},
                                {utc(2024, 3, 10, 6, 0), dst_note::none},
                                {utc(2024, 3, 10, 7, 0), dst_note::none}});
}

TEST_CASE("Australia/Lord_Howe: a shifted run that meets a real one is one run",
          "[occurrence]") {
  const zone_ptr z = zone("Australia/Lord_Howe");
  // 2024-10-06 02:00 +10:30 became 02:30 +11 (15:30Z on the 5th): 02:00 shifts onto 02:30.
  const int64_t end_of_gap = utc(2024, 10, 5, 15, 30);
  CHECK(ts::next_occurrence(cron("0 0 2 * * *"), *z, end_of_gap - 86400) ==
        occurrence{end_of_gap, dst_note::shifted_from_gap});
  CHECK(ts::next_occurrences(cron("0 0,30 2 * * *"), *z, end_of_gap - 3600, 2) ==
        std::vector<occurrence>{{end_of_gap, dst_note::none},
                                {utc(2024, 10, 6, 15, 0), dst_note::none}});
  // Two matches in one gap run once.
  CHECK(ts::next_occurrences(cron("0 5,20 2 * * *"), *z, end_of_gap - 3600, 2) ==
        std::vector<occurrence>{{end_of_gap, dst_note::shifted_from_gap},
                                {utc(2024, 10, 6, 15, 5), dst_note::none}});
}

TEST_CASE("Pacific/Apia: the noon of the skipped 2011-12-30 runs at the start of the 31st",
          "[occurrence]") {
  const zone_ptr z = zone("Pacific/Apia");
  // 12-29 12:00 at -10 is 22:00Z; the jump was at 12-30 10:00Z (12-31 00:00 +14); 12-31
  // 12:00 at +14 is 12-30 22:00Z.
  CHECK(ts::next_occurrences(cron("0 0 12 * * *"), *z, utc(2011, 12, 29, 0, 0), 3) ==
        std::vector<occurrence>{{utc(2011, 12, 29, 22, 0), dst_note::none},
                                {utc(2011, 12, 30, 10, 0), dst_note::shifted_from_gap},
                                {utc(2011, 12, 30, 22, 0), dst_note::none}});
  // A job at midnight: the 30th's shifts onto the 31st's own, which it meets.
  CHECK(ts::next_occurrences(cron("0 0 0 * * *"), *z, utc(2011, 12, 29, 0, 0), 2) ==
        std::vector<occurrence>{{utc(2011, 12, 29, 10, 0), dst_note::none},
                                {utc(2011, 12, 30, 10, 0), dst_note::none}});
}

TEST_CASE("rare and impossible dates: Feb 29 is years away, Feb 30 never comes",
          "[occurrence]") {
  const zone_ptr z = zone("Europe/Berlin");
  CHECK(ts::next_occurrence(cron("0 0 0 29 2 *"), *z, utc(2024, 3, 1, 0, 0)) ==
        occurrence{utc(2028, 2, 28, 23, 0), dst_note::none});
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(ts::next_occurrence(cron("0 0 0 30 2 *"), *z, utc(2024, 1, 1, 0, 0)));
  CHECK_FALSE(ts::next_occurrence(cron("0 0 0 31 4,6,9,11 *"), *z, utc(2024, 1, 1, 0, 0)));
  // A second by second scan of 8 years would take minutes; a month by month one, micro-
  // seconds. The bound is loose on purpose (sanitizers, a busy machine).
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
  // The limit is inclusive, and nothing past it is returned.
  const auto daily = cron("0 0 12 * * *");
  const auto utc_zone = ts::utc_time_zone();
  CHECK(ts::next_occurrence(daily, *utc_zone, utc(2024, 1, 1, 0, 0), utc(2024, 1, 1, 12, 0)) ==
        occurrence{utc(2024, 1, 1, 12, 0), dst_note::none});
  CHECK_FALSE(ts::next_occurrence(daily, *utc_zone, utc(2024, 1, 1, 0, 0),
                                  utc(2024, 1, 1, 11, 59, 59)));
  CHECK(ts::next_occurrences(daily, *utc_zone, 0, 0).empty());
  // Instants at the ends of int64_t neither overflow nor find anything; the far future
  // works by the zone's footer rule (New York's 2100-03-14 gap).
  CHECK_FALSE(ts::next_occurrence(daily, *z, INT64_MAX));
  CHECK_FALSE(ts::next_occurrence(daily, *z, INT64_MIN));
  CHECK_FALSE(ts::next_occurrence(daily, *z, 0, INT64_MIN));
  CHECK(ts::next_occurrence(cron("0 30 2 * * *"), *zone("America/New_York"),
                            utc(2100, 3, 13, 12, 0)) ==
        occurrence{utc(2100, 3, 14, 7, 0), dst_note::shifted_from_gap});
}

TEST_CASE("occurrences are strictly increasing and strictly after the start", "[occurrence]") {
  for (const char* name : {"UTC", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia",
                           "Europe/Dublin", "Pacific/Chatham", "Antarctica/Troll"}) {
    const zone_ptr z = zone(name);
    for (const char* text : {"*/5 * * * * *", "0 */7 * * * *", "0 30 2 * * *", "0 0 * * * *",
                             "17 0/45 1-3 * * *", "0 0 0 29 2 *", "0 0 9 * * 1#2"}) {
      INFO(name << " " << text);
      const auto e = cron(text);
      // Starts just before changes of New York (2024) and Apia (2011), off the minute.
      for (const int64_t after : {utc(2024, 3, 9, 23, 59, 59), utc(2024, 11, 3, 5, 59, 58),
                                  utc(2011, 12, 30, 9, 7, 3), utc(2024, 4, 6, 14, 44, 1)}) {
        const auto got = ts::next_occurrences(e, *z, after, 300);
        REQUIRE_FALSE(got.empty());
        CHECK(got.front().utc > after);
        for (size_t i = 1; i < got.size(); ++i)
          CHECK(got[i - 1].utc < got[i].utc);
      }
    }
  }
}

TEST_CASE("time per next_occurrence", "[.bench]") {
  const auto measure = [](const char* zone_name, const char* text) {
    const zone_ptr z = zone(zone_name);
    const auto e = cron(text);
    constexpr int n = 200000;
    int64_t after = utc(2024, 1, 1, 0, 0);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i)
      after = ts::next_occurrence(e, *z, after, after + ts::default_search_span)->utc;
    const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
    std::printf("%-20s %-16s %8.0f ns per next\n", zone_name, text, took.count() / n);
  };
  measure("UTC", "*/5 * * * * *");
  measure("America/New_York", "*/5 * * * * *");
  measure("America/New_York", "0 30 2 * * *");
  measure("Europe/Berlin", "0 0 0 29 2 *");
}
