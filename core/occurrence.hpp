// The occurrence search: when a cron expression fires in an IANA time zone. Pure (no CAF):
// the expression's bitsets say which wall-clock times match, the zone says which instants
// those times name, and the DST rules below decide what fires when a time names none or two.
//
// The rules, for each local time that matches:
// - it exists once: it fires at that instant (dst_note::none);
// - it lies in a gap (spring forward): it fires once, at the first instant after the gap
//   (shifted_from_gap); all matches in one gap fire once in all, and if that instant is
//   itself a real match the two are one occurrence (note none);
// - it lies in a fold (fall back): it fires at the earlier instant only (first_of_fold);
// - except when the hour field is '*' (cron_expression::hour_is_star): such a job means
//   "every so often", so it fires at every real instant whose local time matches, in a fold
//   at both instants, and a gap simply has no such instants. The note is then always none:
//   DST changes nothing about what fires.
// Occurrences are strictly increasing in UTC.
//
// Assumptions about the zone, true of the tz database's zones since 1900 (older LMT changes
// aside): offsets stay within +-26 hours, and an offset does not change twice within one
// local day, nor repeat a whole local day.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/cron.hpp"
#include "core/time_zone.hpp"

namespace ts {

enum class dst_note : uint8_t {
  none,
  /// The matching local time lay in a gap: this is the first instant after the gap.
  shifted_from_gap,
  /// The matching local time repeats: this is the earlier of its two instants.
  first_of_fold,
};

struct occurrence {
  /// Seconds since the epoch, UTC.
  int64_t utc = 0;
  dst_note note = dst_note::none;

  friend bool operator==(const occurrence& a, const occurrence& b) {
    return a.utc == b.utc && a.note == b.note;
  }
  friend bool operator!=(const occurrence& a, const occurrence& b) {
    return !(a == b);
  }
};

/// How far the overloads without a limit search: 8 years covers every Feb 29 (the gap
/// between two is at most 8 years, 2096 -> 2104) while an expression that never fires
/// ("0 0 0 30 2 *") gives up after ~100 month steps.
constexpr int64_t default_search_span = int64_t{8} * 366 * 86400;

/// The first occurrence strictly after `after`, if there is one at or before `limit` (both
/// UTC seconds since the epoch).
std::optional<occurrence> next_occurrence(const cron_expression& e, const time_zone& z,
                                          int64_t after, int64_t limit);
std::optional<occurrence> next_occurrence(const cron_expression& e, const time_zone& z,
                                          int64_t after);

/// Up to `count` occurrences after `after`, in order, none later than `limit`.
std::vector<occurrence> next_occurrences(const cron_expression& e, const time_zone& z,
                                         int64_t after, size_t count, int64_t limit);
std::vector<occurrence> next_occurrences(const cron_expression& e, const time_zone& z,
                                         int64_t after, size_t count);

} // namespace ts
