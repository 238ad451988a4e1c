// What both stores read from and write to the same columns (storage/SCHEMA.md), in one
// place, so that the SQLite and the MySQL backend cannot come to disagree on it. Each store
// only moves its dialect's values in and out of these plain structs; std::nullopt is NULL.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/types.hpp"

namespace ts::storage {

/// A task joined with its latest run (get_task). Every run column is NULL when the task has
/// no run yet. The views point into the store's row buffers, valid until its next step.
struct task_row {
  int64_t id = 0;
  std::string command;
  int64_t due = 0;
  int64_t created_at = 0;
  std::string_view status;
  std::optional<std::string_view> task_reason;
  std::optional<int64_t> latest_run;
  std::optional<std::string_view> run_reason;
  std::optional<int64_t> exit_code;
  std::optional<int64_t> signal;
  std::string output;  // empty for NULL
  std::optional<int64_t> output_truncated;
  std::optional<int64_t> started_at;
  std::optional<int64_t> finished_at;
  // v2: the legacy view is mapped from these (storage/SCHEMA.md).
  std::optional<std::string_view> run_status;
  std::optional<int64_t> next_run_at;
  std::optional<int64_t> run_scheduled_for;
};

/// The view /status shows. The latest run's reason wins over the task's copy of it; the
/// task's stands only where the run has none. A run claimed but not started (`starting`,
/// `waiting`) shows as pending: `running` means that the process exists. Its time is the
/// next run's, else the latest run's scheduled time. ec::storage_failure for a status or reason
/// that names nothing known (never read as none). `backend` starts the error message.
caf::expected<task_view> to_task_view(task_row&& r, const char* backend);

/// The task an insert has just created.
task_record inserted_task(const new_task& t, task_id id);

/// The earlier task under a reused idempotency key (insert_task).
struct keyed_row {
  int64_t id = 0;
  std::string command;
  int64_t due = 0;
  int64_t created_at = 0;
  std::string_view status;
  std::string_view request_hash;  // empty for NULL
};

/// The earlier task, replayed, when `t` is the same request; else ec::idempotency_conflict.
caf::expected<task_record> replayed_task(keyed_row&& r, const new_task& t,
                                         const char* backend);

/// A create whose Idempotency-Key a cancel or trigger used: ec::idempotency_conflict (one
/// key names one request, whatever its kind).
caf::error key_of_a_change();

/// The Idempotency-Key of a cancel or trigger found among the remembered ones
/// (request_keys): none when it is the same request again (same hash, same task), which is
/// then answered without acting; else ec::idempotency_conflict.
caf::error check_replay(const request_key& key, task_id task, std::string_view used_hash,
                        task_id used_task);

/// A cancel or trigger whose Idempotency-Key a create used: ec::idempotency_conflict.
caf::error key_of_a_create();

/// A run left `running` (interrupt_running).
struct running_row {
  int64_t run = 0;
  int64_t task = 0;
  std::optional<int64_t> pid;
  std::optional<int64_t> pgid;
  std::optional<int64_t> start_ticks;
  std::optional<int64_t> started_at;
};

/// Without a process when it was never recorded as started.
orphan_run to_orphan(const running_row& r);

/// The columns finish_run writes. The texts are to_string's static names.
struct outcome_columns {
  const char* status = nullptr;
  std::optional<std::string_view> run_reason;   // NULL for none
  std::optional<std::string_view> task_reason;  // NULL unless the run failed (SCHEMA.md)
  std::optional<int64_t> exit_code;
  std::optional<int64_t> signal;
  int64_t output_truncated = 0;
  std::optional<int64_t> started_at;  // NULL keeps the one record_start wrote
};

/// ec::invalid_argument unless the outcome is success or failure.
caf::expected<outcome_columns> columns_of(const run_outcome& o);

/// Whether finish_run records the next attempt: the caller asked for it (`retry_at`), and
/// the run ended a failure that is not a cancellation or a replacement (a stop request may
/// have made it one)
/// of a task that is not cancelled. `reason` is the stored one, empty for NULL.
bool retries(const run_outcome& o, std::string_view status, std::string_view reason,
             std::string_view state);

/// retry_interrupted applies only to a run that interrupt_running ended, the task's latest,
/// of a task not cancelled; ec::invalid_state otherwise.
caf::error check_retry_interrupted(run_id run, std::string_view status,
                                   std::string_view reason, bool latest,
                                   std::string_view state);

/// The task columns insert_task writes for its controls (SCHEMA.md, version 3).
struct controls_columns {
  std::optional<int64_t> timeout_ms;
  int64_t kill_grace_ms = 0;
  int64_t retry_max_attempts = 0;
  int64_t retry_delay_ms = 0;
  double retry_multiplier = 0;
  int64_t retry_max_delay_ms = 0;
  const char* retry_jitter = nullptr;
  int64_t retry_on_interrupted = 0;
  std::string env;  // a JSON array of [name, value] pairs, in order
  std::optional<std::string_view> cwd;
  std::optional<std::string_view> run_as;
};

/// ec::invalid_argument for an env that JSON cannot carry (not UTF-8). The views point
/// into `c`.
caf::expected<controls_columns> columns_of(const task_controls& c);

/// The task columns insert_task writes for its schedule and policies (SCHEMA.md, version 4).
struct recurrence_columns {
  std::optional<std::string_view> cron;
  std::optional<int64_t> every_s;
  std::optional<int64_t> anchor_ms;
  std::optional<int64_t> start_ms;
  std::optional<int64_t> end_ms;
  std::optional<int64_t> max_runs;
  const char* misfire = nullptr;
  int64_t misfire_grace_ms = 0;
  const char* overlap = nullptr;
  int64_t history_keep = 0;
  /// A recurring task: its first occurrence (the new task's due time); else NULL.
  std::optional<int64_t> next_occurrence_ms;
  /// False when every column keeps its default (a one-shot task with default policies):
  /// the insert alone has written them.
  bool needed = false;
};

/// The views point into `t`.
recurrence_columns recurrence_of(const new_task& t);

// -- v1 reads: every backend selects these columns in this order -----------------------------

/// Reads one column of the current row by index; NULL is nullopt.
class cell_reader {
public:
  virtual ~cell_reader() = default;
  virtual std::optional<int64_t> integer(int col) const = 0;
  virtual std::optional<double> real(int col) const = 0;
  virtual std::optional<std::string> text(int col) const = 0;
};

enum class cell { integer, real, text };

/// The run columns (SQL: each backend's run_columns).
extern const std::vector<cell> run_cells;
/// A task's controls (controls_columns in both *_sql.hpp).
extern const std::vector<cell> controls_cells;
/// A task's schedule and policies (recurrence_columns in both *_sql.hpp): cron, every_s,
/// anchor_ms, start_ms, end_ms, max_runs, misfire, misfire_grace_ms, overlap, history_keep.
extern const std::vector<cell> recurrence_cells;
/// The task columns (task_columns), its controls, the latest run's, its recurrence, then
/// paused_ms and scheduled_runs.
extern const std::vector<cell> task_cells;

/// A run from the columns starting at `first`; nullopt when they are NULL (no run yet).
/// `tail` is how many bytes of the output the query kept (the rest counts as truncated).
caf::expected<std::optional<run_info>> read_run(const cell_reader& r, int first, int64_t tail,
                                                const char* backend);

/// A task (without its labels, which come from their own table) and its latest run.
caf::expected<task_info> read_task(const cell_reader& r, int64_t tail, const char* backend);

/// The controls from the columns starting at `first`; ec::storage_failure for a jitter or
/// an env that does not read back. `task` names the task in the error.
caf::expected<task_controls> read_controls(const cell_reader& r, int first, task_id task,
                                           const char* backend);

/// The schedule and policies from the columns starting at `first`; ec::storage_failure for
/// a policy name that does not read back.
caf::error read_recurrence(const cell_reader& r, int first, task_id task, const char* backend,
                           schedule_spec& spec, recurrence_policy& policy);

/// Drops the bytes of a character cut at the start of a tail (a tail is cut by bytes).
void trim_partial_start(std::string& text);

/// Builds one slice from the chunks that end after `offset` (ends and bytes, in order):
/// what the reader asked for, from the oldest kept byte when the asked one was dropped.
class slice_builder {
public:
  slice_builder(run_id run, int64_t offset, int64_t max_bytes);
  /// False once the slice is full.
  bool add(int64_t chunk_end, std::string_view bytes);
  output_slice finish(bool run_ended, int64_t stream_end);

private:
  output_slice out_;
  int64_t max_bytes_;
  bool started_ = false;
};

/// Output is appended in order: from where the stored bytes end (or a replay of stored
/// bytes, which changes nothing). ec::invalid_argument for a gap or an overlap.
caf::error check_append(run_id run, int64_t offset, int64_t end, int64_t stored);

/// ec::invalid_state for a task that is cancelled, has a run in progress or a retry waiting
/// (`latest_run_status`, empty without a run). A task still waiting for its scheduled run is
/// run now instead (a one-shot task has one next run).
caf::error check_trigger(task_id task, std::string_view status, std::string_view state,
                         std::string_view latest_run_status);

/// Whether a run's status is final.
bool run_ended(std::string_view status);

/// ec::invalid_state: the task's state does not allow `why`.
caf::error invalid_state(task_id task, std::string_view why);

/// ec::schema_too_new for a database a newer binary wrote.
caf::error check_schema_version(int64_t version);

/// ec::not_pending for a task that could not be claimed because of its status.
caf::error not_pending(task_id task, std::string_view status);

/// Only a claim whose process never started may be undone: a started process must never run
/// twice. ec::not_pending otherwise.
caf::error check_unclaimable(run_id run, std::string_view run_status, bool started);

/// The same after a crash: interrupt_running has ended the run failure/interrupted already.
caf::error check_requeueable(run_id run, std::string_view run_status,
                             std::string_view reason, bool started);

} // namespace ts::storage
