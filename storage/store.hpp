// The one storage interface. Two implementations (SQLite, MySQL/MariaDB) keep their SQL
// dialect in their own file; the persistence actor is their only user at run time.
//
// Every call returns errors as values: ec::unavailable when the database cannot be reached
// or timed out (the caller may retry later; nothing was written), ec::not_found,
// ec::idempotency_conflict, ec::not_pending and ec::invalid_state for logical refusals (the transaction stays
// usable), ec::storage_failure for anything else.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/defaults.hpp"
#include "core/types.hpp"

namespace ts::storage {

/// The schema version this binary writes. A database with a newer one is refused
/// (ec::schema_too_new); an older one is migrated forward in place.
constexpr int schema_version = 5;

struct store_options {
  /// MySQL: password when not in the URL (from --db-password-file or the environment).
  std::optional<std::string> password;
  /// MySQL: connect, read and write timeouts, so a hung server cannot freeze the caller.
  int connect_timeout_s = defaults::db_connect_timeout_s;
  int io_timeout_s = defaults::db_io_timeout_s;
};

class store {
public:
  virtual ~store() = default;

  /// "sqlite" or "mysql".
  virtual const char* backend() const = 0;

  // -- transactions: the persistence actor commits writes that arrive together in one ----

  virtual caf::error begin() = 0;
  /// Commits durably (SQLite: WAL with synchronous=FULL; InnoDB: flush at commit).
  virtual caf::error commit() = 0;
  /// Never fails; safe to call when no transaction is open.
  virtual void rollback() = 0;

  // -- writes (inside begin/commit) --------------------------------------------------------

  /// Stores a pending task. With an idempotency key already used: the earlier task with
  /// `replayed = true` when `request_hash` matches, else ec::idempotency_conflict.
  virtual caf::expected<task_record> insert_task(const new_task& t) = 0;

  /// Records a new run as `starting` for a pending task (the task becomes `running`) and
  /// returns its command and controls; a waiting retry becomes that run instead, with its
  /// attempt and the first attempt's scheduled time. ec::not_found or ec::not_pending
  /// otherwise: a task runs at most once per schedule, trigger or retry.
  virtual caf::expected<claim> claim_run(task_id task, millis claimed_at) = 0;

  /// Undoes a claim whose process never started (e.g. shutdown came first): deletes the
  /// run (a retry goes back to waiting) and makes the task pending again.
  virtual caf::error unclaim_run(run_id run) = 0;

  /// After a crash: a run interrupt_running ended as interrupted whose command provably never
  /// started (process/leftovers.hpp) is undone as unclaim_run undoes a claim, so that it runs
  /// after all: the task is pending again at the run's due time (a retry waits again). A run
  /// a cancel had asked to stop ends cancelled instead. ec::not_pending for a run that started.
  virtual caf::error requeue_unstarted(run_id run) = 0;

  /// Records the process of a started run (for crash recovery) and its start time; the run
  /// becomes `running`.
  virtual caf::error record_start(const process_start& p) = 0;

  /// Records how a run ended, and sets the task's status to the outcome's. A run a cancel
  /// asked to stop ends failure/cancelled unless it succeeded. With `retry_at` (the caller
  /// applied the retry policy) a failure that is not a cancellation, of a task not
  /// cancelled, is followed by the next attempt as a `waiting` run due then: the task stays
  /// active and pending.
  virtual caf::error finish_run(const run_outcome& o) = 0;

  /// Turns the task of a run that interrupt_running ended into a waiting retry due at
  /// `retry_at`, as finish_run with retry_at does (the caller decides with the task's
  /// retry policy). ec::invalid_state unless the run ended interrupted, is its task's latest
  /// and the task is not cancelled.
  virtual caf::error retry_interrupted(run_id run, millis retry_at) = 0;

  /// Stores output the run wrote from byte `offset` of its stream on (the writer flushes
  /// every so often, not per line). The oldest whole chunks beyond the task's
  /// output_limit_bytes are dropped, so that a run keeps its tail.
  virtual caf::error append_output(run_id run, int64_t offset, const std::string& data) = 0;

  /// No further runs. A run in progress (starting or running) is marked to be stopped (the
  /// caller stops it; `stop_run` names it) and ends `cancelled`; a waiting retry ends
  /// failure/cancelled at `now`, with nothing to stop. ec::invalid_state for a task
  /// already completed or cancelled. With an Idempotency-Key in `key`: a key already used
  /// with the same request_hash answers the task as it is now with `replayed` and changes
  /// nothing; with another hash, ec::idempotency_conflict; a new key is remembered with the
  /// change (only when it succeeds).
  virtual caf::expected<task_change> cancel_task(task_id task, millis now,
                                                 const request_key& key) = 0;

  /// One more run, due `now` (trigger "manual"), also for a completed task; the caller
  /// arms it like a new task. ec::invalid_state while a run is in progress or a retry
  /// waits, or once cancelled.
  /// Idempotency-Keys as for cancel_task.
  virtual caf::expected<task_change> trigger_task(task_id task, millis now,
                                                  const request_key& key) = 0;

  /// Pause: occurrences are not run until resume (a run in progress goes on; its task stays
  /// paused after it). A no-op (200) for a paused task; ec::invalid_state once completed or
  /// cancelled. Idempotency-Keys as for cancel_task.
  virtual caf::expected<task_change> pause_task(task_id task, millis now,
                                                const request_key& key) = 0;

  /// Resume a paused task at `now`: the occurrences that passed while paused become one
  /// skipped run (reason paused, with their count), and `next_run_at` is the next one; a
  /// one-shot task whose time passed is due at once. A no-op for an active task;
  /// ec::invalid_state once completed or cancelled. Idempotency-Keys as for cancel_task.
  virtual caf::expected<task_change> resume_task(task_id task, millis now,
                                                 const request_key& key) = 0;

  /// An edit at `now` (PATCH): rewrites the task's command, name, labels, output limit,
  /// controls, schedule and policies, version + 1. A run in progress, a waiting retry and a
  /// queued occurrence keep their copies (they were made when the run or the queueing was
  /// recorded). With `schedule_changed` the task's next occurrence is found anew from `now`
  /// (a recurring task: the first at or after it, within the window and max_runs; a one-shot
  /// task: its new time, at once when past): a completed recurring task with occurrences left
  /// is active again, an active one with none left completes once nothing waits. Errors:
  /// ec::not_found; ec::version_mismatch unless the task is at `expected_version`;
  /// ec::invalid_state for a cancelled task, for a change between one-shot and recurring,
  /// and for a new time of a one-shot task that has had its run.
  virtual caf::expected<task_change> update_task(const task_edit& e, millis now) = 0;

  // -- reads and maintenance (outside of a transaction) ------------------------------------

  /// A task with its latest run; ec::not_found when there is none.
  virtual caf::expected<task_view> get_task(task_id id) = 0;

  /// The task with its state, version, next run and latest run (with `output_tail` bytes of
  /// its output); ec::not_found when there is none.
  virtual caf::expected<task_info> get_task_info(task_id id, int64_t output_tail) = 0;

  /// Tasks newest first, by keyset (storage/SCHEMA.md names the indexes it walks).
  virtual caf::expected<task_page> list_tasks(const task_filter& f) = 0;

  /// Runs newest first, of one task or of all.
  virtual caf::expected<run_page> list_runs(const run_filter& f) = 0;

  /// One run with the last `output_tail` bytes of its output.
  virtual caf::expected<run_info> get_run(run_id id, int64_t output_tail) = 0;

  /// At most `max_bytes` of the run's output from `offset` on (see output_slice).
  virtual caf::expected<output_slice> read_output(run_id id, int64_t offset,
                                                  int64_t max_bytes) = 0;

  /// Calls `f` for every pending task (id and next run time only), in no particular order;
  /// a task waiting for a retry is pending, due at its retry time.
  virtual caf::error load_pending(const std::function<void(const pending_entry&)>& f) = 0;

  /// Ends every run left `starting` or `running` (by a crash) as failure/interrupted at
  /// `now`, with their tasks, in one transaction, and returns them so their processes can be
  /// killed. A waiting retry has no process and stays waiting.
  virtual caf::expected<std::vector<orphan_run>> interrupt_running(millis now) = 0;

  /// A cheap round trip that tells whether the database answers.
  virtual caf::error ping() = 0;

  /// Re-establishes a lost connection (MySQL); a no-op where there is nothing to do.
  virtual caf::error reconnect() = 0;
};

/// For a run in progress, its output tail from the stored chunks (finished runs carry
/// theirs in the row).
caf::error fill_live_output(store& s, run_info& run, int64_t output_tail);

/// Opens a store from a URL and brings its schema up to date:
/// - `sqlite:relative/path.db`, `sqlite:/absolute/path.db` (the folder is created if missing)
/// - `mysql://USER:PASSWORD@HOST:PORT/DATABASE`,
///   `mysql://USER@localhost/DATABASE?socket=/path/to/mysqld.sock` (percent-encoded parts)
caf::expected<std::unique_ptr<store>> open_store(const std::string& url,
                                                 const store_options& opts = {});

} // namespace ts::storage
