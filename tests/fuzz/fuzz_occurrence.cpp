// libFuzzer target for the occurrence search (scripts/fuzz occurrence). Input: one byte picks
// a zone, eight give the starting instant, the rest is a cron expression. Every occurrence
// found must be later than the one before, and an occurrence not shifted out of a gap must
// be an instant whose local time matches the expression.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "core/occurrence.hpp"

namespace {

const ts::zone_ptr* zones() {
  static const ts::zone_ptr loaded[] = {
      ts::utc_time_zone(),
      *ts::find_time_zone("America/New_York"),
      *ts::find_time_zone("Europe/Berlin"),
      *ts::find_time_zone("Australia/Lord_Howe"),
      *ts::find_time_zone("Pacific/Apia"),
  };
  return loaded;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 9)
    return 0;
  const auto& zone = *zones()[data[0] % 5];
  uint64_t raw = 0;
  std::memcpy(&raw, data + 1, 8);
  // 1900..2100: where the zones' rules are real (and the search's assumptions hold).
  constexpr int64_t from = -2208988800, span = int64_t{200} * 365 * 86400;
  int64_t after = from + static_cast<int64_t>(raw % static_cast<uint64_t>(span));
  std::string_view text{reinterpret_cast<const char*>(data + 9), size - 9};
  auto e = ts::cron_expression::parse(text);
  if (!e)
    return 0;
  // A short window keeps each input cheap; "never fires" just ends the list.
  auto found = ts::next_occurrences(*e, zone, after, 8, after + int64_t{400} * 86400);
  int64_t last = after;
  for (auto& o : found) {
    if (o.utc <= last)
      std::abort();
    if (o.note != ts::dst_note::shifted_from_gap && !e->matches_local(o.utc + zone.at(o.utc).utc_offset))
      std::abort();
    last = o.utc;
  }
  return 0;
}
