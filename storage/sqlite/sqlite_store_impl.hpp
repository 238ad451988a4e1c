// The SQLite store's class, shared by its three files of operations: sqlite_store.cpp (open,
// insert, the legacy reads), sqlite_runs.cpp (a run's life: claim, start, end, retries,
// crash recovery) and sqlite_resources.cpp (the v1 resources: lists, output, cancel and
// trigger). Internal to storage/sqlite.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "storage/list_query.hpp"
#include "storage/recurring.hpp"
#include "storage/row_mapping.hpp"
#include "storage/sqlite/sqlite_statement.hpp"
#include "storage/store.hpp"

namespace ts::storage::sqlite {

/// The columns of the current row, for the shared mapping.
class cells final : public cell_reader {
public:
  explicit cells(const use& u) : u_(u) {
  }
  std::optional<int64_t> integer(int col) const override {
    return u_.opt_int64(col);
  }
  std::optional<double> real(int col) const override {
    return u_.opt_real(col);
  }
  std::optional<std::string> text(int col) const override {
    if (u_.is_null(col))
      return std::nullopt;
    return u_.text(col);
  }

private:
  const use& u_;
};

// -- the store --------------------------------------------------------------------------------

class sqlite_store final : public store {
public:
  explicit sqlite_store(std::string path) : path_(std::move(path)) {
  }

  caf::error open();

  const char* backend() const override {
    return "sqlite";
  }

  caf::error begin() override {
    return run(begin_, "begin");
  }

  caf::error commit() override {
    if (auto err = run(commit_, "commit")) {
      // A failed COMMIT may leave the transaction open; end it so that nothing of it lands.
      rollback();
      return err;
    }
    return caf::none;
  }

  void rollback() override {
    if (!sqlite3_get_autocommit(conn_.db)) {
      use u{rollback_};
      u.step();
    }
  }

  caf::expected<task_record> insert_task(const new_task& t) override;
  caf::expected<claim> claim_run(task_id task, millis claimed_at) override;
  caf::error unclaim_run(run_id run) override;
  caf::error requeue_unstarted(run_id run) override;
  caf::error record_start(const process_start& p) override;
  caf::error finish_run(const run_outcome& o) override;
  caf::error retry_interrupted(run_id run, millis retry_at) override;
  caf::expected<task_view> get_task(task_id id) override;
  caf::error load_pending(const std::function<void(const pending_entry&)>& f) override;
  caf::expected<std::vector<orphan_run>> interrupt_running(millis now) override;

  caf::error append_output(run_id run, int64_t offset, const std::string& data) override;
  caf::expected<task_change> cancel_task(task_id task, millis now,
                                         const request_key& key) override;
  caf::expected<task_change> trigger_task(task_id task, millis now,
                                          const request_key& key) override;
  caf::expected<task_change> pause_task(task_id task, millis now,
                                        const request_key& key) override;
  caf::expected<task_change> resume_task(task_id task, millis now,
                                         const request_key& key) override;
  caf::expected<task_change> update_task(const task_edit& e, millis now) override;
  caf::expected<task_info> get_task_info(task_id id, int64_t output_tail) override;
  caf::expected<task_page> list_tasks(const task_filter& f) override;
  caf::expected<run_page> list_runs(const run_filter& f) override;
  caf::expected<run_info> get_run(run_id id, int64_t output_tail) override;
  caf::expected<output_slice> read_output(run_id id, int64_t offset,
                                          int64_t max_bytes) override;

  caf::error ping() override {
    use u{ping_};
    auto rc = u.step();
    return rc == SQLITE_ROW ? caf::none : fail(rc, "ping");
  }

  caf::error reconnect() override {
    return caf::none; // an embedded database has no connection to lose
  }

private:
  caf::error fail(int rc, const char* what) const {
    return sqlite::failure(conn_.db, rc, what);
  }

  /// Runs a statement that returns no rows.
  caf::error run(const statement& s, const char* what) {
    use u{s};
    auto rc = u.step();
    return rc == SQLITE_DONE ? caf::none : fail(rc, what);
  }

  /// Runs a statement that returns no rows, with one integer parameter.
  /// unclaim_run, and requeue_unstarted (`after_crash`: the run reads interrupted).
  caf::error undo_claim(run_id run, bool after_crash);

  caf::error run_with(const statement& s, int64_t param, const char* what) {
    use u{s};
    u.bind(1, param);
    auto rc = u.step();
    return rc == SQLITE_DONE ? caf::none : fail(rc, what);
  }

  /// Runs `f` all-or-nothing: in a savepoint inside the caller's transaction (a failed
  /// call then leaves the rest of the transaction intact), else in a transaction of its own.
  template <class F>
  caf::error atomically(F&& f) {
    bool own = sqlite3_get_autocommit(conn_.db) != 0;
    if (auto err = run(own ? begin_ : savepoint_, "begin"))
      return err;
    auto err = f();
    if (!err)
      err = own ? commit() : run(release_, "release savepoint");
    if (err) {
      if (own) {
        rollback();
      } else if (!sqlite3_get_autocommit(conn_.db)) {
        // Not when SQLite already rolled the whole transaction back (e.g. after an I/O error).
        run(rollback_to_, "rollback to savepoint");
        run(release_, "release savepoint");
      }
    }
    return err;
  }

  caf::error prepare_all();

  /// A new task's schedule and policies, when they are not all defaults.
  caf::error write_recurrence(task_id id, const recurrence_columns& r);

  /// The task's state for pause and resume; ec::not_found without the task.
  caf::expected<std::string> task_state_for_change(task_id task, const char* what);
  /// The task as the claim query reads it (storage/recurring.hpp), for resume and edit;
  /// ec::not_found without the task.
  caf::expected<recurring_row> recurring_row_of(task_id task, const char* what);

  /// Deletes a recurring task's oldest ended runs beyond its history_keep, at most
  /// defaults::history_trim_batch of them, with their output (after each run's end).
  caf::error trim_history(task_id task);

  /// The claim of a recurring task (storage/recurring.hpp decides, this writes).
  caf::error claim_recurring(const recurring_row& row, millis now, claim& out);

  /// The next attempt after `run` as a waiting run due at `retry_at`, and its task pending
  /// for it (finish_run, retry_interrupted); `now` is when it was decided.
  caf::error schedule_retry(task_id task, run_id run, millis retry_at, millis now);

  /// The task's labels, sorted by key.
  caf::error read_labels(task_info& t);
  /// Runs a built list query, calling `f` for each row.
  caf::error run_query(const built_query& q, const char* what,
                       const std::function<caf::error(const use&)>& f);
  /// A task with its labels, for the answers of cancel and trigger.
  caf::expected<task_info> task_after_change(task_id id);
  /// Whether a cancel or trigger of `task` with an Idempotency-Key repeats an earlier one
  /// (then it is answered without acting); ec::idempotency_conflict for a key another
  /// request used, a create's included. False without a key.
  caf::expected<bool> is_replay(task_id task, const request_key& key);
  /// Remembers the key of a cancel or trigger that succeeded, in its transaction.
  caf::error remember_key(task_id task, millis now, const request_key& key);
  /// A cancel or trigger: `change` checks and writes, unless the key replays an earlier one.
  caf::expected<task_change> change_task(task_id task, millis now, const request_key& key,
                                         const std::function<caf::error(task_change&)>& change);

  connection conn_;
  std::string path_;

  statement begin_, commit_, rollback_, savepoint_, release_, rollback_to_;
  statement insert_task_, insert_label_, find_by_key_;
  statement task_for_claim_, insert_run_, claim_waiting_, set_task_running_;
  statement set_recurrence_, insert_occurrence_run_, insert_skipped_run_, count_skip_,
    replace_run_, end_replaced_waiting_, set_recurring_claim_, restore_occurrence_,
    finish_recurring_, pause_task_, resume_task_, history_cutoff_, history_batch_end_,
    trim_output_, trim_runs_;
  statement run_for_unclaim_, previous_run_, set_task_pending_, delete_run_, delete_run_output_,
    wait_again_, end_unclaimed_cancelled_, task_unclaimed_cancelled_;
  statement record_start_, finish_run_, finished_run_, finish_task_, final_output_chunk_,
    set_output_bytes_, insert_retry_, set_task_retrying_;
  statement get_task_, load_pending_;
  statement running_runs_, interrupt_run_, interrupt_task_;
  statement ping_;
  statement output_state_, append_chunk_, drop_chunks_, read_chunks_;
  statement task_for_change_, cancel_task_, request_stop_, end_waiting_run_, trigger_task_,
    task_labels_;
  statement find_request_key_, insert_request_key_, edit_task_, delete_labels_;
  statement get_task_info_, get_run_;
};


} // namespace ts::storage::sqlite
