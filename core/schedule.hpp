// A task's schedule as one value: a one-shot time, a cron expression in a zone, or a fixed
// interval, each inside an optional window (start_at, end_at, max_runs). Pure (no CAF):
// the v1 API validates requests into it, previews list its occurrences, and the
// coordinator (issue 13) asks it for the next one. All times are UTC seconds since the
// epoch; the edges convert from and to the API's time strings.
//
// What the window means:
// - start_at: no occurrence before it (a preview with start_at lists from there);
// - end_at: none after it (inclusive);
// - max_runs: at most this many occurrences that ran on schedule; the caller says how many
//   remain, since only it knows how many ran (retries and manual triggers do not count).
// An interval fires at anchor + k * every_s for k >= 0: the anchor is its first instant,
// and DST never touches it (the arithmetic is on UTC seconds).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/cron.hpp"
#include "core/occurrence.hpp"
#include "core/time_zone.hpp"

namespace ts {

struct schedule {
  enum class kind : uint8_t { at, cron, every };
  kind what = kind::at;

  /// kind::at: the one instant.
  int64_t at = 0;

  /// kind::cron: the expression as given (stored and shown) and parsed, and its zone.
  std::string cron_text;
  cron_expression cron;
  zone_ptr zone;

  /// kind::every: the period (>= 1 s) and the first instant.
  int64_t every_s = 0;
  int64_t anchor = 0;

  std::optional<int64_t> start_at;
  std::optional<int64_t> end_at;
  std::optional<int64_t> max_runs;

  bool recurring() const {
    return what != kind::at;
  }
};

/// Up to `count` occurrences strictly after `after`, in order, inside the window; at most
/// `remaining_runs` of them when given (max_runs minus the runs so far). A cron search
/// looks at most default_search_span past its starting point, so an expression that
/// cannot fire ("0 0 0 30 2 *") ends the list instead of searching forever.
std::vector<occurrence> schedule_occurrences(const schedule& s, int64_t after, size_t count,
                                             std::optional<int64_t> remaining_runs);

/// The first occurrence a new schedule would have, at or after `now` (or start_at
/// when that is later): absent means it never fires, which the API refuses.
std::optional<occurrence> first_occurrence(const schedule& s, int64_t now);

/// Where a listing starts: just before start_at when given (so that a preview can show
/// past transitions), else `now`.
int64_t listing_start(const schedule& s, int64_t now);

} // namespace ts
