// The MySQL / MariaDB store's class (open and transactions inline here), shared by its three
// files of operations: mysql_store.cpp (insert, the legacy reads), mysql_runs.cpp (a run's
// life: claim, start, end, retries, crash recovery) and mysql_resources.cpp (the v1
// resources). Internal to storage/mysql.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <mysqld_error.h>

#include "core/error.hpp"
#include "storage/list_query.hpp"
#include "storage/mysql/mysql_bind.hpp"
#include "storage/mysql/mysql_connection.hpp"
#include "storage/mysql/mysql_schema.hpp"
#include "storage/mysql/mysql_sql.hpp"
#include "storage/recurring.hpp"
#include "storage/row_mapping.hpp"
#include "storage/store.hpp"

namespace ts::storage::mysql {

using mysql::sql::q;

/// The column kinds of the shared mapping's cells.
std::vector<col> kinds_of(const std::vector<cell>& cells);
/// The columns of select_claimed (storage/recurring.hpp read_recurring_row's order).
std::vector<col> claim_kinds();

/// The columns of the row just fetched, for the shared mapping.
class cells final : public cell_reader {
public:
  explicit cells(row& r) : r_(r) {
  }
  std::optional<int64_t> integer(int i) const override {
    return r_.opt_integer(static_cast<size_t>(i));
  }
  std::optional<double> real(int i) const override {
    return r_.opt_real(static_cast<size_t>(i));
  }
  std::optional<std::string> text(int i) const override {
    auto t = r_.opt_text(static_cast<size_t>(i));
    if (!t)
      return std::nullopt;
    return std::string{*t};
  }

private:
  row& r_;
};

class mysql_store final : public store {
public:
  mysql_store(db_url url, const store_options& opts) : c_(std::move(url), opts) {
  }

  /// Connects, brings the schema up to date and prepares the statements.
  caf::error open() {
    auto err = c_.connect();
    if (!err)
      err = migrate(c_);
    if (!err)
      err = c_.prepare_all();
    if (err)
      c_.close();
    return err;
  }

  const char* backend() const override {
    return "mysql";
  }

  // -- transactions --------------------------------------------------------------------------

  caf::error begin() override {
    if (auto err = c_.usable())
      return err;
    if (c_.in_tx())
      return make_error(ec::storage_failure, "mysql: a transaction is already open");
    params p;
    if (auto err = c_.execute(q::begin, p))
      return err;
    c_.set_in_tx(true);
    return {};
  }

  caf::error commit() override {
    if (auto err = c_.usable())
      return err;
    c_.set_in_tx(false);
    params p;
    return c_.execute(q::commit, p);
  }

  void rollback() override {
    c_.set_in_tx(false);
    if (!c_.connected())
      return;  // the server rolls back a transaction whose connection is gone
    params p;
    static_cast<void>(c_.execute(q::rollback, p));
  }

  // -- writes ----------------------------------------------------------------------------------

  caf::expected<task_record> insert_task(const new_task& t) override;
  caf::expected<claim> claim_run(task_id task, millis claimed_at) override;
  caf::error unclaim_run(run_id run) override;
  caf::error requeue_unstarted(run_id run) override;
  caf::error record_start(const process_start& s) override;
  caf::error finish_run(const run_outcome& o) override;
  caf::error retry_interrupted(run_id run, millis retry_at) override;
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

  // -- reads and maintenance -------------------------------------------------------------------

  caf::expected<task_view> get_task(task_id id) override;
  caf::expected<task_info> get_task_info(task_id id, int64_t output_tail) override;
  caf::expected<task_page> list_tasks(const task_filter& f) override;
  caf::expected<run_page> list_runs(const run_filter& f) override;
  caf::expected<run_info> get_run(run_id id, int64_t output_tail) override;
  caf::expected<output_slice> read_output(run_id id, int64_t offset,
                                          int64_t max_bytes) override;
  caf::error load_pending(const std::function<void(const pending_entry&)>& f) override;
  caf::expected<std::vector<orphan_run>> interrupt_running(millis now) override;

  caf::error ping() override {
    return c_.ping();
  }

  caf::error reconnect() override {
    // A healthy connection is kept: replacing it would drop an open transaction.
    if (c_.alive())
      return {};
    c_.close();
    auto err = c_.connect();
    if (!err)
      err = c_.prepare_all();
    if (err)
      c_.close();  // half a connection would look usable
    return err;
  }

private:
  /// unclaim_run, and requeue_unstarted (`after_crash`: the run reads interrupted).
  caf::error undo_claim(run_id run, bool after_crash);

  /// Runs `f` as one unit: under a savepoint inside the caller's transaction (a failure
  /// undoes only this operation and leaves the transaction usable), else in a transaction
  /// of its own.
  template <class F>
  caf::error atomically(F f) {
    if (auto err = c_.usable())
      return err;
    params none;
    if (c_.in_tx()) {
      if (auto err = c_.execute(q::savepoint, none))
        return err;
      auto err = f();
      if (err && c_.connected()) {
        params p;
        static_cast<void>(c_.execute(q::rollback_to_savepoint, p));
      }
      return err;
    }
    if (auto err = begin())
      return err;
    if (auto err = f()) {
      rollback();
      return err;
    }
    return commit();
  }

  /// ec::not_found or ec::not_pending for a task that could not be claimed.
  caf::error refusal(task_id task);
  /// The claim of a recurring task (storage/recurring.hpp decides, this writes).
  caf::error claim_recurring(const recurring_row& row, millis now, claim& out);
  /// Deletes a recurring task's oldest ended runs beyond its `keep` (history_keep), at
  /// most defaults::history_trim_batch of them, with their output (after each run's end).
  caf::error trim_history(task_id task, int64_t keep);
  /// A new task's schedule and policies, when they are not all defaults.
  caf::error write_recurrence(task_id id, const recurrence_columns& r);
  /// The task's state, its row locked, for pause and resume; ec::not_found without it.
  caf::expected<std::string> task_state_for_change(task_id task);
  /// The task as the claim query reads it (storage/recurring.hpp), for resume and edit;
  /// ec::not_found without the task.
  caf::expected<recurring_row> recurring_row_of(task_id task);
  /// The next attempt after `run` as a waiting run due at `retry_at`, and its task pending
  /// for it (finish_run, retry_interrupted); `now` is when it was decided.
  caf::error schedule_retry(task_id task, run_id run, millis retry_at, millis now);

  /// The task's labels, sorted by key.
  caf::error read_labels(task_info& t);
  /// Whether a cancel or trigger of `task` with an Idempotency-Key repeats an earlier one
  /// (then it is answered without acting); ec::idempotency_conflict for a key another
  /// request used, a create's included. False without a key.
  caf::expected<bool> is_replay(task_id task, const request_key& key);
  /// A cancel or trigger: `change` checks and writes, unless the key replays an earlier one;
  /// a new key is remembered with the change.
  caf::expected<task_change> change_task(task_id task, millis now, const request_key& key,
                                         const std::function<caf::error(task_change&)>& change);
  /// Runs a built list query; `on_row` reads each row from `r`.
  caf::error run_query(const built_query& q, const char* what, row& r,
                       const std::function<void()>& on_row);

  connection c_;
};

} // namespace ts::storage::mysql
