// What a claim of a recurring task writes, decided once for both stores: each reads the
// task's row into recurring_row, asks decide_claim, and applies the claim_writes with its
// own SQL in the claim's transaction. The rules themselves are core/recurrence.hpp's; this
// adds what the row knows (a manual trigger, a queued occurrence, a waiting retry) and
// turns the plan into column values (storage/SCHEMA.md, version 4).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "core/recurrence.hpp"
#include "core/types.hpp"
#include "storage/row_mapping.hpp"

namespace ts::storage {

/// The columns a recurring claim reads of its task and of the task's latest run.
struct recurring_row {
  task_id task = 0;
  schedule_spec recur;
  std::optional<std::string> time_zone;
  recurrence_policy policy;
  std::string state;
  std::string next_trigger;
  std::optional<millis> next_occurrence;
  std::optional<millis> queued;
  int64_t scheduled_runs = 0;
  std::optional<run_id> latest_run;
  std::string latest_status;  // empty without a run
  std::optional<millis> latest_next_attempt;
  /// The skipped(overlap) record the task last wrote and the run it was blocked by.
  std::optional<run_id> open_skip;
  std::optional<run_id> open_skip_for;
  /// What the latest run (a waiting retry) and a queued occurrence start with
  /// (storage/edit.hpp); absent in rows an older binary wrote.
  std::optional<std::string> latest_settings;
  std::optional<std::string> queued_settings;
  /// What an edit checks and keeps: the task's status, wake-up, version and due time.
  std::string status;
  std::optional<millis> next_run;
  int64_t version = 0;
  millis due = 0;
};

/// The claim query's columns (both backends select them in this order, storage/SCHEMA.md):
/// 3 next_trigger, 5 latest run id, 6 its status, 20.. recurrence_cells, 30 time_zone,
/// 31 state, 32 next_occurrence_ms, 33 queued_ms, 34 scheduled_runs, 35 the latest run's
/// next_attempt_ms, 36 open_skip, 37 open_skip_for, 38 the latest run's settings,
/// 39 queued_settings, 40 version, 41 due_ms; 0 status and 2 next_run_ms.
caf::expected<recurring_row> read_recurring_row(const cell_reader& r, task_id task,
                                                const char* backend);

/// What the claim writes.
struct claim_writes {
  enum class start : uint8_t {
    none,        // no process now (claim::skipped)
    occurrence,  // a new run for `scheduled_for`, trigger schedule
    manual,      // a new run at the trigger time, trigger manual
    retry,       // the waiting retry (latest_run) becomes the run
  };
  start what = start::none;
  millis scheduled_for = 0;
  /// The run that starts is the occurrence that was queued (it starts with its copy).
  bool from_queue = false;
  /// New skipped records (status skipped, finished at the claim).
  std::vector<skipped_span> skips;
  /// An overlap skip that joins the open record instead: + 1 on its count.
  std::optional<run_id> coalesce_into;
  /// The run a new overlap record is blocked by (tasks.open_skip_for).
  std::optional<run_id> blocked_by;
  // The task's columns after the claim.
  std::optional<millis> next_occurrence;
  std::optional<millis> queued;
  int64_t scheduled_runs = 0;
  /// When the coordinator wakes the task next (tasks.next_run_ms, claim::rearm_at).
  std::optional<millis> next_run;
  /// Nothing is left to run, or to wait for: the task is completed.
  bool completes = false;
  std::optional<run_id> after_run;
  std::optional<run_id> stop_run;  // overlap replace: ends failure/replaced
};

/// The earlier of two times; absent ones do not count.
std::optional<millis> earliest(std::optional<millis> a, std::optional<millis> b);

/// Whether a run in this status is still the task's business (starting, running, waiting).
bool run_active(std::string_view status);

/// The decision at `now`. ec::not_pending when the task is not active (paused, cancelled,
/// completed) or has nothing armed; ec::storage_failure when the stored schedule no longer
/// reads (its zone is gone).
caf::expected<claim_writes> decide_claim(const recurring_row& r, millis now,
                                         const char* backend);

/// What resume writes: the paused occurrences as one skipped record, and the wake-up.
struct resume_writes {
  std::optional<skipped_span> skip;
  std::optional<millis> next_occurrence;
  std::optional<millis> next_run;
  bool completes = false;
};

/// Resume of a paused task at `now` (the caller checked that it is paused). A one-shot task
/// kept its time in next_occurrence (a time that passed runs at once).
caf::expected<resume_writes> decide_resume(const recurring_row& r, millis now,
                                           const char* backend);

/// ec::not_pending: the occurrence has had its run (the unique key refused a second one).
caf::error occurrence_taken(task_id task, millis occurrence);

/// The wake-up after a recurring run ended with nothing waiting to retry: the queued
/// occurrence at once (`now`), else the next occurrence; absent when nothing is left.
std::optional<millis> next_wake(std::optional<millis> next_occurrence,
                                std::optional<millis> queued, millis now);

} // namespace ts::storage
