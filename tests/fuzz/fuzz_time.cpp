// libFuzzer target for the time parser (scripts/fuzz time): the "time" strings of the API
// (naive `YYYY-MM-DD HH:MM:SS[.fff]` with ' ', 'T' or 't', RFC 3339 with Z or an offset).
// Input: one byte picks the zone naive times are read in (UTC, four zones with odd rules, or
// the process's zone through TZ), the rest is the text.
// Invariants: a refusal says why; an accepted time lies in 1970..9999; the service's own
// renderings of it (format_time, format_local_time in the zone) parse back to it; a naive
// time is an instant the zone shows as exactly the text's fields; a time with an offset
// means the same instant in every zone.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/time_format.hpp"
#include "core/time_zone.hpp"

namespace {

constexpr size_t zone_count = 6;

const ts::zone_ptr* zones() {
  static const ts::zone_ptr loaded[] = {
    ts::utc_time_zone(),
    *ts::find_time_zone("America/New_York"),
    *ts::find_time_zone("Europe/Berlin"),
    *ts::find_time_zone("Australia/Lord_Howe"),  // 30-minute DST
    *ts::find_time_zone("Pacific/Apia"),         // skipped a whole day in 2011
    nullptr,                                     // the process's zone (TZ, set below)
  };
  return loaded;
}

void check(bool ok) {
  if (!ok)
    std::abort();
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // parse_time(text) reads the process's zone through libc; pin it so runs are repeatable.
  setenv("TZ", "Europe/London", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  static const ts::zone_ptr london = *ts::find_time_zone("Europe/London");
  const ts::zone_ptr& zone = zones()[data[0] % zone_count];
  const ts::zone_ptr& shown_in = zone ? zone : london;
  std::string_view text{reinterpret_cast<const char*>(data + 1), size - 1};
  auto parse = [&](std::string_view s) { return zone ? ts::parse_time(s, *zone) : ts::parse_time(s); };

  auto t = parse(text);
  if (!t) {
    check(!t.error().empty());
    return 0;
  }
  constexpr ts::millis max_time = 253402300799999;  // 9999-12-31T23:59:59.999Z
  check(*t >= 0 && *t <= max_time);

  // The service's renderings read back as the same instant.
  auto utc_text = ts::format_time(*t);
  auto again = parse(utc_text);
  check(again && *again == *t);
  int32_t offset = shown_in->at(*t / 1000).utc_offset;
  auto local_text = ts::format_local_time(*t, offset);
  // Local-mean-time offsets with seconds, and wall-clock years outside 1970..9999 (the
  // first hours of 1970 west of UTC, the last of 9999 east of it), are not texts a client
  // may send: the parser checks the year as written.
  bool sendable_year = local_text.compare(0, 4, "1970") >= 0 && local_text[4] == '-';
  if (offset % 60 == 0 && local_text.size() == 29 && sendable_year) {
    auto local = parse(local_text);
    check(local && *local == *t);
  }

  // The naive forms: the zone shows the text's own fields at that instant (same date, same
  // clock time, the first three fraction digits).
  bool naive = text.size() == 19 || (text.size() > 20 && text[19] == '.'
                                     && text.find_first_of("Zz+-", 20) == std::string_view::npos);
  if (naive && local_text.size() >= 23) {
    for (size_t i = 0; i < 19; ++i)
      check(i == 10 || local_text[i] == text[i]);
    std::string millis_text = text.size() > 20 ? std::string{text.substr(20, 3)} : "";
    millis_text.resize(3, '0');
    check(local_text.compare(20, 3, millis_text) == 0);
  }

  // An offset in the text wins over the zone.
  if (!naive) {
    auto in_utc = ts::parse_time(text, *ts::utc_time_zone());
    check(in_utc && *in_utc == *t);
  }
  return 0;
}
