// What a recurring task does when its next occurrence comes due: run it, queue it behind the
// active run, or skip it (and which occurrences a skipped record stands for), by the task's
// misfire and overlap policies. Pure: both stores call it inside the claim's transaction,
// so that the decision and its record commit together and the two backends cannot differ.
//
// The rules (README "Recurring tasks" has them as a table):
// - An occurrence is *missed* when it is more than misfire_grace_ms in the past at the claim
//   (the service was down, or it waited for a slot). Due occurrences within the grace are not.
// - Misfire, when the due occurrences include missed ones:
//   run_once: the latest due occurrence runs; all earlier ones are one skipped record
//             (reason missed, counted up to defaults::max_counted_skips);
//   run_all:  the missed ones run one after another, oldest first: this claim runs the oldest
//             of the newest max_catch_up_runs (older ones are one skipped record), and the next
//             claim finds the rest still missed. Catch-up runs queue behind each other whatever
//             the overlap policy says;
//   skip:     the missed ones are one skipped record; a due occurrence within the grace (if
//             any) is handled as an on-time one.
// - Overlap, for an on-time occurrence while a run of the task is active (a waiting retry
//   counts): skip: a skipped record (reason overlap; the store coalesces repeats during one
//   active run); queue: it waits for the active run (at most one queued; further ones are
//   skipped); replace: the active run is stopped and this one waits for it; allow: it runs.
// - max_runs counts occurrences that ran or were queued, never skipped ones.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/parsed.hpp"
#include "core/schedule.hpp"
#include "core/types.hpp"

namespace ts {

/// The stored form of a recurring schedule back as a schedule (cron parsed, zone loaded).
/// Fails when the cron text no longer parses or the zone is gone from the tz database.
parsed<schedule> to_schedule(const schedule_spec& spec, const std::optional<std::string>& zone);

/// What the claim of a recurring task knows.
struct claim_context {
  millis now = 0;
  /// The occurrence the task is armed for (tasks.next_occurrence_ms).
  millis occurrence = 0;
  /// A run of the task is starting, running, or waiting to be retried.
  bool active = false;
  /// An occurrence already waits behind the active run.
  bool queued = false;
  /// max_runs minus the occurrences that ran so far; absent: no max_runs.
  std::optional<int64_t> remaining_runs;
};

/// A stretch of occurrences recorded as one skipped run.
struct skipped_span {
  skip_reason reason = skip_reason::missed;
  millis first = 0;  // the earliest of them: the record's scheduled_for
  /// How many, at most defaults::max_counted_skips.
  int64_t count = 0;
};

struct claim_plan {
  enum class action : uint8_t {
    run,      // start `occurrence` now
    queue,    // `occurrence` waits for the active run to end
    replace,  // stop the active run; `occurrence` waits for it to end
    none,     // nothing runs now (skipped, or nothing was due)
  };
  action what = action::none;
  millis occurrence = 0;  // for run, queue and replace
  /// Missed ones first, then the overlapping one; at most two.
  std::vector<skipped_span> skipped;
  /// The occurrence after the ones dealt with (the task is armed for it); absent: none left.
  std::optional<millis> next;
};

/// The claim's decision for a recurring task at `c.now`. An occurrence still in the future
/// (a claim ahead of its time, within the claim lead) counts as due and on time.
claim_plan plan_claim(const schedule& s, const recurrence_policy& p, const claim_context& c);

/// Resume after a pause: the occurrences from `occurrence` (the one the task was armed for)
/// up to `now` are one skipped record (reason paused), and the task goes on with the first
/// occurrence after `now`.
struct resume_plan {
  std::optional<skipped_span> skipped;
  std::optional<millis> next;
};

resume_plan plan_resume(const schedule& s, millis occurrence, millis now,
                        std::optional<int64_t> remaining_runs);

/// The first occurrence strictly after `after` (ms), within the window and max_runs.
std::optional<millis> occurrence_after(const schedule& s, millis after,
                                       std::optional<int64_t> remaining_runs);

} // namespace ts
