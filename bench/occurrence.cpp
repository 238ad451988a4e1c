// The cost of one next() of the occurrence search (issue 12), against a baseline measured in
// the same run: for each occurrence found, glibc's localtime_r and mktime round trip in the
// same zone (TZ). That is the least any zone-aware search does per result (read the local
// time of an instant, map a local time back to an instant), done by the C library's tuned
// code; Vixie cron and cronie do it once per candidate minute. Every figure is the best of
// the repeats (least disturbed by the machine), in nanoseconds per next().
//
//   bench_occurrence [--repeats=N]    (default 5; 1..50)
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "bench/stats.hpp"
#include "core/cron.hpp"
#include "core/occurrence.hpp"
#include "core/time_zone.hpp"

namespace {

struct scenario {
  const char* name;
  const char* expression;
  const char* zone;
  int64_t start;  // UTC seconds
  size_t chain;   // next() calls, each from the previous result
};

// Keeps the compiler from dropping a loop whose result is unused.
volatile int64_t sink = 0;

double ours_ns(const ts::cron_expression& e, const ts::time_zone& z, const scenario& s,
               std::vector<int64_t>& found) {
  found.clear();
  auto t0 = ts::bench::mono_ns();
  int64_t t = s.start;
  for (size_t i = 0; i < s.chain; ++i) {
    auto o = ts::next_occurrence(e, z, t);
    if (!o)
      break;
    t = o->utc;
    found.push_back(t);
  }
  auto t1 = ts::bench::mono_ns();
  sink = t;
  return found.empty() ? 0 : static_cast<double>(t1 - t0) / static_cast<double>(found.size());
}

double glibc_ns(const std::vector<int64_t>& found) {
  auto t0 = ts::bench::mono_ns();
  int64_t sum = 0;
  for (auto t : found) {
    time_t when = static_cast<time_t>(t);
    std::tm local{};
    localtime_r(&when, &local);
    local.tm_isdst = -1;
    sum += static_cast<int64_t>(mktime(&local));
  }
  auto t1 = ts::bench::mono_ns();
  sink = sum;
  return found.empty() ? 0 : static_cast<double>(t1 - t0) / static_cast<double>(found.size());
}

} // namespace

int main(int argc, char** argv) {
  int repeats = 5;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--repeats=", 10) == 0) {
      repeats = std::atoi(argv[i] + 10);
    } else {
      std::fprintf(stderr, "usage: bench_occurrence [--repeats=N]\n");
      return 2;
    }
  }
  if (repeats < 1 || repeats > 50) {
    std::fprintf(stderr, "bench_occurrence: --repeats must be 1..50\n");
    return 2;
  }
  const int64_t y2026 = 1767225600; // 2026-01-01T00:00:00Z
  const std::vector<scenario> scenarios = {
    {"easy, UTC", "*/5 * * * * *", "UTC", y2026, 200000},
    {"easy, New York", "*/5 * * * * *", "America/New_York", y2026, 200000},
    {"hard: 02:30 daily, New York, a year", "0 30 2 * * *", "America/New_York", y2026, 365},
    {"hard: Feb 29, Berlin, 100 leap days", "0 0 0 29 2 *", "Europe/Berlin", y2026, 100},
    {"hard: last Friday 5L, Lord Howe", "0 0 9 ? * 5L", "Australia/Lord_Howe", y2026, 120},
  };
  std::printf("%-38s %12s %14s %8s\n", "next() of", "ours ns", "glibc ns", "ratio");
  bool ok = true;
  for (auto& s : scenarios) {
    auto e = ts::cron_expression::parse(s.expression);
    auto z = ts::find_time_zone(s.zone);
    if (!e || !z) {
      std::fprintf(stderr, "bench_occurrence: %s: cannot load\n", s.name);
      return 1;
    }
    setenv("TZ", s.zone, 1);
    tzset();
    double best_ours = 1e18, best_glibc = 1e18;
    std::vector<int64_t> found;
    // The short chains run many times per repeat so that each figure spans milliseconds.
    size_t rounds = std::max<size_t>(1, 200000 / s.chain);
    for (int r = 0; r < repeats; ++r) {
      double ours = 0, glibc = 0;
      for (size_t k = 0; k < rounds; ++k) {
        ours += ours_ns(*e, **z, s, found);
        glibc += glibc_ns(found);
      }
      best_ours = std::min(best_ours, ours / static_cast<double>(rounds));
      best_glibc = std::min(best_glibc, glibc / static_cast<double>(rounds));
    }
    if (found.size() != s.chain) {
      std::fprintf(stderr, "bench_occurrence: %s: %zu of %zu occurrences\n", s.name,
                   found.size(), s.chain);
      ok = false;
    }
    std::printf("%-38s %12.1f %14.1f %7.2fx\n", s.name, best_ours, best_glibc,
                best_ours / best_glibc);
  }
  return ok ? 0 : 1;
}
