// The TZif reader and the POSIX footer rule, checked by known transitions and against glibc,
// which reads the same files independently.
#include "core/time_zone.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>

#include "core/time_format.hpp"
#include "tests/core/glibc_oracle.hpp"

using ts::local_instants;
using ts::zone_ptr;
using kind = ts::local_instants::kind;

namespace {

zone_ptr zone(const char* name) {
  auto z = ts::find_time_zone(name);
  INFO(name << ": " << z.error());
  REQUIRE(z);
  REQUIRE(*z != nullptr);
  return *z;
}

/// Seconds since the epoch of fields read as UTC: an instant, or the `local` of to_utc.
int64_t fields(int y, int mo, int d, int h, int mi, int s = 0) {
  return utc_seconds(y, mo, d, h, mi, s);
}

void unique(const zone_ptr& z, int64_t local, int64_t expected) {
  const local_instants r = z->to_utc(local);
  INFO(z->name() << " local " << local);
  CHECK(r.what == kind::unique);
  CHECK(r.first == expected);
  CHECK(r.second == expected);
}

void gap(const zone_ptr& z, int64_t local, int64_t after_gap) {
  const local_instants r = z->to_utc(local);
  INFO(z->name() << " local " << local);
  CHECK(r.what == kind::gap);
  CHECK(r.first == after_gap);
}

void fold(const zone_ptr& z, int64_t local, int64_t earlier, int64_t later) {
  const local_instants r = z->to_utc(local);
  INFO(z->name() << " local " << local);
  CHECK(r.what == kind::fold);
  CHECK(r.first == earlier);
  CHECK(r.second == later);
}

void shows(const zone_ptr& z, int64_t t, int32_t offset, bool dst, const char* abbreviation) {
  const auto o = z->at(t);
  INFO(z->name() << " at " << t);
  CHECK(o.utc_offset == offset);
  CHECK(o.dst == dst);
  CHECK(o.abbreviation == abbreviation);
}

/// glibc's view of `t` in the zone TZ names (set by the caller).
tm glibc_local(int64_t t) {
  const time_t tt = static_cast<time_t>(t);
  tm out{};
  REQUIRE(localtime_r(&tt, &out) != nullptr);
  return out;
}

/// Zones with every kind of oddity: 30- and 45-minute offsets and shifts, negative DST
/// (Dublin), southern DST, a skipped day (Apia), DST of two hours (Troll), changes by
/// decree (Casablanca), 24:00 rules (Tehran, formerly), and the four of the issue.
const std::vector<const char*> oracle_zones{
  "America/New_York", "Europe/Berlin",   "Australia/Lord_Howe", "Pacific/Apia",
  "UTC",              "Asia/Kolkata",    "Europe/Dublin",       "America/Sao_Paulo",
  "Africa/Casablanca", "Pacific/Chatham", "America/St_Johns",   "Asia/Tehran",
  "Antarctica/Troll", "Australia/Sydney", "America/Santiago",   "Asia/Gaza",
};

} // namespace

TEST_CASE("America/New_York: offsets, a gap and a fold, now and past the file's end",
          "[zone]") {
  auto z = zone("America/New_York");
  CHECK(z->name() == "America/New_York");
  shows(z, fields(2024, 9, 22, 17, 0), -4 * 3600, true, "EDT");
  shows(z, fields(2024, 1, 15, 12, 0), -5 * 3600, false, "EST");
  unique(z, fields(2024, 9, 22, 17, 0), fields(2024, 9, 22, 21, 0));
  // 2024-03-10 02:00 EST became 03:00 EDT; the first instant after is 07:00Z.
  gap(z, fields(2024, 3, 10, 2, 0), fields(2024, 3, 10, 7, 0));
  gap(z, fields(2024, 3, 10, 2, 59, 59), fields(2024, 3, 10, 7, 0));
  unique(z, fields(2024, 3, 10, 1, 59, 59), fields(2024, 3, 10, 6, 59, 59));
  unique(z, fields(2024, 3, 10, 3, 0), fields(2024, 3, 10, 7, 0));
  fold(z, fields(2024, 11, 3, 1, 30), fields(2024, 11, 3, 5, 30), fields(2024, 11, 3, 6, 30));
  unique(z, fields(2024, 11, 3, 2, 0), fields(2024, 11, 3, 7, 0));
  // Debian's files list transitions up to 2037; later years come from the footer rule.
  shows(z, fields(2100, 7, 1, 12, 0), -4 * 3600, true, "EDT");
  shows(z, fields(2100, 12, 1, 12, 0), -5 * 3600, false, "EST");
  gap(z, fields(2100, 3, 14, 2, 30), fields(2100, 3, 14, 7, 0));
  fold(z, fields(2100, 11, 7, 1, 30), fields(2100, 11, 7, 5, 30), fields(2100, 11, 7, 6, 30));
  // The past: war time (EWT) in 1943 and local mean time before 1883.
  shows(z, fields(1943, 6, 1, 12, 0), -4 * 3600, true, "EWT");
  shows(z, fields(1850, 1, 1, 0, 0), -17762, false, "LMT");
}

TEST_CASE("Europe/Berlin: gap and fold at 02:00/03:00, also in 2200", "[zone]") {
  auto z = zone("Europe/Berlin");
  shows(z, fields(2024, 7, 1, 0, 0), 7200, true, "CEST");
  shows(z, fields(2024, 1, 1, 0, 0), 3600, false, "CET");
  gap(z, fields(2024, 3, 31, 2, 30), fields(2024, 3, 31, 1, 0));
  fold(z, fields(2024, 10, 27, 2, 30), fields(2024, 10, 27, 0, 30), fields(2024, 10, 27, 1, 30));
  // Last Sunday of March 2200 is the 30th, of October the 26th.
  gap(z, fields(2200, 3, 30, 2, 0), fields(2200, 3, 30, 1, 0));
  fold(z, fields(2200, 10, 26, 2, 0), fields(2200, 10, 26, 0, 0), fields(2200, 10, 26, 1, 0));
  unique(z, fields(2200, 10, 26, 3, 0), fields(2200, 10, 26, 2, 0));
}

TEST_CASE("Australia/Lord_Howe: a 30-minute shift", "[zone]") {
  auto z = zone("Australia/Lord_Howe");
  shows(z, fields(2024, 7, 1, 0, 0), 10 * 3600 + 1800, false, "+1030");
  shows(z, fields(2024, 1, 1, 0, 0), 11 * 3600, true, "+11");
  // First Sunday of October 2024 (the 6th), 02:00 +10:30 -> 02:30 +11.
  gap(z, fields(2024, 10, 6, 2, 15), fields(2024, 10, 5, 15, 30));
  unique(z, fields(2024, 10, 6, 2, 30), fields(2024, 10, 5, 15, 30));
  // First Sunday of April 2024 (the 7th), 02:00 +11 -> 01:30 +10:30.
  fold(z, fields(2024, 4, 7, 1, 45), fields(2024, 4, 6, 14, 45), fields(2024, 4, 6, 15, 15));
  unique(z, fields(2024, 4, 7, 1, 29), fields(2024, 4, 6, 14, 29));
  // And by the footer rule: 2080-10-06 is the first Sunday of October.
  gap(z, fields(2080, 10, 6, 2, 0), fields(2080, 10, 5, 15, 30));
}

TEST_CASE("Pacific/Apia: 2011-12-30 never happened", "[zone]") {
  auto z = zone("Pacific/Apia");
  // 2011-12-29 24:00 at -10 became 2011-12-31 00:00 at +14: one instant, 10:00Z.
  const int64_t jump = fields(2011, 12, 30, 10, 0);
  shows(z, jump - 1, -10 * 3600, true, "-10");
  shows(z, jump, 14 * 3600, true, "+14");
  unique(z, fields(2011, 12, 29, 23, 59, 59), jump - 1);
  gap(z, fields(2011, 12, 30, 0, 0), jump);
  gap(z, fields(2011, 12, 30, 12, 0), jump);
  gap(z, fields(2011, 12, 30, 23, 59, 59), jump);
  unique(z, fields(2011, 12, 31, 0, 0), jump);
  // Samoa ended DST in 2021: +13 all year, and no rule in the footer.
  shows(z, fields(2060, 1, 1, 0, 0), 13 * 3600, false, "+13");
  unique(z, fields(2060, 1, 1, 13, 0), fields(2060, 1, 1, 0, 0));
}

TEST_CASE("UTC is a zone without file or transitions", "[zone]") {
  auto z = zone("UTC");
  CHECK(z == ts::utc_time_zone());
  shows(z, 0, 0, false, "UTC");
  shows(z, fields(9999, 12, 31, 23, 59), 0, false, "UTC");
  unique(z, fields(2024, 3, 31, 2, 30), fields(2024, 3, 31, 2, 30));
  // Etc/UTC is the database's own file.
  auto etc = zone("Etc/UTC");
  shows(etc, fields(2300, 1, 1, 0, 0), 0, false, "UTC");
}

TEST_CASE("names that are not zones, and path tricks, are refused", "[zone]") {
  for (const char* name :
       {"", "Mars/Olympus_Mons", "Europe", "Europe/", "/etc/localtime",
        "/usr/share/zoneinfo/UTC", "../../etc/passwd", "Europe/../Europe/Berlin",
        "./UTC", "Europe//Berlin", "..", ".", "zone.tab", "tzdata.zi", "iso3166.tab",
        "Europe/Berlin ", " UTC", "Europe\\Berlin", "Europe/Berlin\n", "UTC;rm -rf /",
        "%2e%2e/etc/passwd", "EST5EDT,M3.2.0,M11.1.0", "<+0330>-3:30", "Europe/.Berlin"}) {
    auto z = ts::find_time_zone(name);
    INFO("name: \"" << name << "\"");
    CHECK_FALSE(z);
    CHECK_FALSE(z.error().empty());
  }
  CHECK_FALSE(ts::find_time_zone(std::string(300, 'A')));
  CHECK_FALSE(ts::find_time_zone(std::string_view{"UTC\0/x", 6}));
  // Unknown but well-formed names are named in the message; hostile ones are not echoed.
  CHECK(ts::find_time_zone("Mars/Olympus_Mons").error() == "unknown time zone Mars/Olympus_Mons");
  CHECK(ts::find_time_zone("../x").error().find("..") == std::string::npos);
  // A file that is there but is no zone says so; right/ zones count leap seconds.
  CHECK(ts::find_time_zone("zone.tab").error() == "time zone zone.tab: not a TZif file");
  if (access("/usr/share/zoneinfo/right/UTC", R_OK) == 0) {
    auto right = ts::find_time_zone("right/UTC");
    REQUIRE_FALSE(right);
    CHECK(right.error().find("leap seconds") != std::string::npos);
  }
}

TEST_CASE("a name is loaded once, whichever thread asks", "[zone]") {
  std::vector<zone_ptr> seen(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); ++i)
    threads.emplace_back([&seen, i] {
      for (int n = 0; n < 200; ++n) {
        auto z = ts::find_time_zone("Asia/Tokyo");
        if (z && (seen[i] == nullptr || seen[i] == *z))
          seen[i] = *z;
        else
          seen[i] = nullptr;
      }
    });
  for (auto& t : threads)
    t.join();
  for (auto& z : seen) {
    REQUIRE(z != nullptr);
    CHECK(z == seen.front());
  }
  CHECK(seen.front()->at(0).utc_offset == 9 * 3600);
}

TEST_CASE("POSIX TZ rules", "[zone]") {
  auto us = ts::posix_tz::parse("EST5EDT,M3.2.0,M11.1.0");
  REQUIRE(us);
  CHECK(us->standard().utc_offset == -5 * 3600);
  REQUIRE(us->daylight());
  CHECK(us->daylight()->utc_offset == -4 * 3600);
  auto changes = us->changes(fields(2024, 1, 1, 0, 0), fields(2025, 1, 1, 0, 0));
  REQUIRE(changes.size() == 2);
  CHECK(changes[0].at == fields(2024, 3, 10, 7, 0));
  CHECK(changes[0].dst);
  CHECK(changes[1].at == fields(2024, 11, 3, 6, 0));
  CHECK_FALSE(changes[1].dst);
  // Quoted names, minutes, Julian days with and without February 29th, v3 hours past 24.
  auto odd = ts::posix_tz::parse("<+0330>-3:30<+0430>,J79/24,J263/24");
  REQUIRE(odd);
  CHECK(odd->standard().abbreviation == "+0330");
  CHECK(odd->standard().utc_offset == 3 * 3600 + 1800);
  CHECK(odd->at(fields(2021, 7, 1, 0, 0)).utc_offset == 4 * 3600 + 1800);
  auto zero_based = ts::posix_tz::parse("XXX0YYY,59/0,300/0");
  REQUIRE(zero_based);
  // Day 59 counted from 0 is February 29th in a leap year, March 1st otherwise.
  CHECK(zero_based->changes(fields(2024, 1, 1, 0, 0), fields(2024, 6, 1, 0, 0))[0].at
        == fields(2024, 2, 29, 0, 0));
  CHECK(zero_based->changes(fields(2023, 1, 1, 0, 0), fields(2023, 6, 1, 0, 0))[0].at
        == fields(2023, 3, 1, 0, 0));
  // DST all year (TZif v3): Jan 1 00:00 to Dec 31 24:00 plus the shift never ends it.
  auto always = ts::posix_tz::parse("EST5EDT,0/0,J365/25");
  REQUIRE(always);
  for (int y : {2023, 2024, 2100})
    for (int m : {1, 6, 12})
      CHECK(always->at(fields(y, m, 1, 0, 0)).dst);
  auto no_dst = ts::posix_tz::parse("IST-5:30");
  REQUIRE(no_dst);
  CHECK_FALSE(no_dst->daylight());
  CHECK(no_dst->changes(0, fields(2100, 1, 1, 0, 0)).empty());
  for (const char* bad : {"", "E5", "EST", "EST5EDT,M3.2.0", "EST5EDT,M13.2.0,M11.1.0",
                          "EST5EDT,M3.6.0,M11.1.0", "EST5EDT,M3.2.7,M11.1.0", "EST5EDT,J0,J365",
                          "EST5EDT,366,300", "EST25", "EST5EDT,M3.2.0/168,M11.1.0",
                          "EST5EDT,M3.2.0,M11.1.0x", "<AB>5", "<A B>5", "EST5:60"}) {
    INFO(bad);
    CHECK_FALSE(ts::posix_tz::parse(bad));
  }
}

TEST_CASE("what a zone shows agrees with glibc, 1900 to 2400", "[zone][glibc]") {
  std::mt19937_64 rng{20111230};
  std::uniform_int_distribution<int64_t> pick{fields(1900, 1, 1, 0, 0), fields(2400, 1, 1, 0, 0)};
  for (const char* name : oracle_zones) {
    auto z = zone(name);
    tz_guard guard{name};
    for (int i = 0; i < 20000; ++i) {
      const int64_t t = pick(rng);
      const tm expected = glibc_local(t);
      const auto got = z->at(t);
      INFO(name << " at " << t);
      REQUIRE(got.utc_offset == expected.tm_gmtoff);
      REQUIRE(got.dst == (expected.tm_isdst > 0));
      REQUIRE(got.abbreviation == expected.tm_zone);
      // The local time of t names t: alone, or as one of the two instants of a fold.
      const local_instants back = z->to_utc(t + got.utc_offset);
      REQUIRE(back.what != kind::gap);
      REQUIRE((back.first == t || back.second == t));
    }
  }
}

TEST_CASE("naive times in a zone read as the process's zone reads them", "[zone][glibc]") {
  // parse_time(text) goes through glibc's mktime and localtime_r with TZ set; the zone
  // reader must give the same instant, the same gap refusals and the same fold choice.
  std::mt19937_64 rng{20240922};
  std::uniform_int_distribution<int64_t> pick{fields(1970, 1, 2, 0, 0), fields(2399, 12, 30, 0, 0)};
  char buf[96];
  for (const char* name : oracle_zones) {
    auto z = zone(name);
    tz_guard guard{name};
    int gaps = 0;
    for (int i = 0; i < 1500; ++i) {
      int64_t local = pick(rng);
      // Every third sample sits next to a real transition, where the answers differ: the
      // change within 200 days of a random instant, found by bisection.
      if (i % 3 == 0) {
        int64_t lo = local;
        int64_t hi = local + 86400 * 200;
        const int32_t before = z->at(lo).utc_offset;
        const int32_t after = z->at(hi).utc_offset;
        if (before != after) {
          while (hi - lo > 1) {
            const int64_t mid = lo + (hi - lo) / 2;
            (z->at(mid).utc_offset == before ? lo : hi) = mid;
          }
          const int64_t span = 2 * std::abs(after - before) + 2;
          local = hi + before - span / 4 + static_cast<int64_t>(rng() % span);
        }
      }
      const time_t as_utc = static_cast<time_t>(local);
      tm f{};
      REQUIRE(gmtime_r(&as_utc, &f) != nullptr);
      std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d", f.tm_year + 1900,
                    f.tm_mon + 1, f.tm_mday, f.tm_hour, f.tm_min, f.tm_sec);
      const auto libc = ts::parse_time(buf);
      const auto ours = ts::parse_time(buf, *z);
      INFO(name << ": " << buf);
      REQUIRE(static_cast<bool>(libc) == static_cast<bool>(ours));
      if (libc)
        REQUIRE(*libc == *ours);
      else
        REQUIRE(ours.error() == libc.error());
      gaps += libc ? 0 : 1;
    }
    INFO(name);
    // Zones with DST changes get gap samples; the check must not pass by never seeing one.
    if (std::string{name} == "America/New_York" || std::string{name} == "Europe/Berlin")
      CHECK(gaps > 0);
  }
}

TEST_CASE("the process's zone is read from TZ as glibc reads it", "[zone][glibc]") {
  struct form {
    const char* tz;
    const char* name;
  };
  // A name, a name after ':', an absolute path, and POSIX rules that name no file.
  for (const form& f : {form{"America/New_York", "America/New_York"},
                        form{":Europe/Berlin", "Europe/Berlin"},
                        form{"/usr/share/zoneinfo/Asia/Kolkata",
                             "/usr/share/zoneinfo/Asia/Kolkata"},
                        form{"<+0330>-3:30", "<+0330>-3:30"},
                        form{"XST-2XDT,M3.4.4/26,M10.5.0", "XST-2XDT,M3.4.4/26,M10.5.0"}}) {
    tz_guard guard{f.tz};
    auto z = ts::local_time_zone();
    INFO("TZ=" << f.tz);
    CHECK(z->name() == f.name);
    CHECK(ts::local_time_zone() == z);
    const int64_t step = 86400 * 7 + 3607;
    for (int64_t t = fields(2020, 1, 1, 0, 0); t < fields(2060, 1, 1, 0, 0); t += step) {
      const tm expected = glibc_local(t);
      INFO(t);
      REQUIRE(z->at(t).utc_offset == expected.tm_gmtoff);
      REQUIRE(z->at(t).dst == (expected.tm_isdst > 0));
    }
  }
  {
    tz_guard guard{""};
    CHECK(ts::local_time_zone()->at(fields(2024, 7, 1, 0, 0)).utc_offset == 0);
  }
  {
    // Not a file and not a rule: glibc shows UTC, and so do we.
    tz_guard guard{"Not/A_Zone"};
    CHECK(glibc_local(fields(2024, 7, 1, 0, 0)).tm_gmtoff == 0);
    CHECK(ts::local_time_zone()->at(fields(2024, 7, 1, 0, 0)).utc_offset == 0);
  }
}

TEST_CASE("a version 1 file, damaged files and extreme instants", "[zone]") {
  std::string data;
  {
    FILE* f = std::fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
    REQUIRE(f != nullptr);
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;)
      data.append(buf, n);
    std::fclose(f);
  }
  auto full = zone("Europe/Berlin");
  // The file's first part is a whole version 1 file (32-bit times, no footer): cut there.
  auto count = [&](size_t at) {
    return (static_cast<size_t>(static_cast<unsigned char>(data[at])) << 24)
           | (static_cast<size_t>(static_cast<unsigned char>(data[at + 1])) << 16)
           | (static_cast<size_t>(static_cast<unsigned char>(data[at + 2])) << 8)
           | static_cast<size_t>(static_cast<unsigned char>(data[at + 3]));
  };
  const size_t v1_size = 44 + count(32) * 5 + count(36) * 6 + count(40) + count(28) * 8
                         + count(24) + count(20);
  std::string v1 = data.substr(0, v1_size);
  v1[4] = '\0';
  auto old = ts::time_zone::from_tzif("Berlin v1", v1);
  REQUIRE(old);
  for (int64_t t = fields(1902, 1, 1, 0, 0); t < fields(2037, 12, 1, 0, 0); t += 86400 * 3 + 17)
    REQUIRE(old->at(t).utc_offset == full->at(t).utc_offset);
  // Without the footer the last type stays: no DST in 2100, which is why the footer matters.
  CHECK(old->at(fields(2100, 7, 1, 0, 0)).utc_offset == 3600);
  CHECK(full->at(fields(2100, 7, 1, 0, 0)).utc_offset == 7200);
  // Every truncation fails cleanly, and so do random byte flips (they may also pass).
  for (size_t n = 0; n < data.size(); ++n)
    REQUIRE_FALSE(ts::time_zone::from_tzif("cut", std::string_view{data}.substr(0, n)));
  std::mt19937 rng{42};
  for (int i = 0; i < 3000; ++i) {
    std::string bad = data;
    for (int k = 0; k < 3; ++k)
      bad[rng() % bad.size()] = static_cast<char>(rng());
    auto z = ts::time_zone::from_tzif("flipped", bad);
    if (z) {
      (void)z->at(static_cast<int64_t>(rng()) * 1000);
      (void)z->to_utc(static_cast<int64_t>(rng()) * 1000);
    }
  }
  // The ends of int64 are clamped, not overflowed.
  for (int64_t t : {INT64_MIN, INT64_MIN + 1, INT64_MAX, INT64_MAX - 1}) {
    CHECK(full->at(t).utc_offset != 0);
    CHECK(full->to_utc(t).first != 0);
  }
}
