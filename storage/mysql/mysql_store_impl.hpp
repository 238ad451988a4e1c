// The MySQL / MariaDB store's class, shared by its two files of operations: mysql_store.cpp
// (open, transactions, the legacy writes and reads, inline here) and mysql_resources.cpp
// (the v1 resources). Internal to storage/mysql.
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
#include "storage/row_mapping.hpp"
#include "storage/store.hpp"

namespace ts::storage::mysql {

using mysql::sql::q;


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

  caf::error append_output(run_id run, int64_t offset, const std::string& data) override;
  caf::expected<task_change> cancel_task(task_id task, millis now,
                                         const request_key& key) override;
  caf::expected<task_change> trigger_task(task_id task, millis now,
                                          const request_key& key) override;
  caf::expected<task_info> get_task_info(task_id id, int64_t output_tail) override;
  caf::expected<task_page> list_tasks(const task_filter& f) override;
  caf::expected<run_page> list_runs(const run_filter& f) override;
  caf::expected<run_info> get_run(run_id id, int64_t output_tail) override;
  caf::expected<output_slice> read_output(run_id id, int64_t offset,
                                          int64_t max_bytes) override;

  caf::expected<task_record> insert_task(const new_task& t) override {
    if (auto err = c_.usable())
      return err;
    if (t.idempotency_key) {
      params k;
      k.text(*t.idempotency_key);
      row r{col::text, col::integer};
      bool used = false;
      if (auto err = c_.query(q::find_request_key, k, r, [&] { used = true; }))
        return err;
      if (used)
        return key_of_a_change();
    }
    params p;
    p.text(t.command)
      .integer(t.due)
      .integer(t.created_at)
      .text_or_null(t.idempotency_key)
      .text(t.request_hash, !t.idempotency_key)  // the hash only tells retries apart
      .text_or_null(t.name)
      .text_or_null(t.time_zone)
      .integer(t.output_limit_bytes)
      .integer(t.due)
      .integer(t.created_at);
    std::optional<task_record> inserted;
    unsigned failed_with = 0;
    auto insert = [&]() -> caf::error {
      if (auto err = c_.execute(q::insert_task, p)) {
        failed_with = c_.last_errno();
        return err;
      }
      inserted = inserted_task(t, static_cast<task_id>(c_.insert_id(q::insert_task)));
      for (auto& l : t.labels) {
        params lp;
        lp.integer(inserted->id).text(l.key).text(l.value);
        if (auto err = c_.execute(q::insert_label, lp))
          return err;
      }
      return {};
    };
    // With labels, one unit (a failed label must not leave half a task); without, the one
    // statement is, and a batch of inserts saves the savepoint's round trip.
    auto err = t.labels.empty() ? insert() : atomically(insert);
    if (!err)
      return std::move(*inserted);
    if (failed_with != ER_DUP_ENTRY)
      return err;
    // The key was used before. InnoDB undid only the failed statement, so the transaction
    // goes on; the earlier row is committed or our own (a duplicate insert waits for a
    // concurrent one to commit or roll back first).
    params k;
    k.text_or_null(t.idempotency_key);
    row r{col::integer, col::text, col::integer, col::integer, col::text, col::text};
    std::optional<caf::expected<task_record>> found;
    if (auto err2 = c_.query(q::select_task_by_key, k, r, [&] {
          found = replayed_task({r.integer(0), std::move(r.text(1)), r.integer(2),
                                 r.integer(3), r.text(4), r.text(5)},
                                t, "mysql");
        }))
      return err2;
    if (!found)
      return make_error(ec::storage_failure, "mysql: duplicate idempotency key, but no row");
    return std::move(*found);
  }

  caf::expected<claim> claim_run(task_id task, millis claimed_at) override {
    claim c;
    auto err = atomically([&]() -> caf::error {
      params p;
      p.integer(task);
      if (auto err = c_.execute(q::claim_task, p))
        return err;
      if (c_.affected(q::claim_task) == 0)
        return refusal(task);
      params s;
      s.integer(task);
      row t{col::text, col::integer, col::text, col::integer};
      bool found = false;
      std::string trigger;
      if (auto err = c_.query(q::select_claimed, s, t, [&] {
            c.command = std::move(t.text(0));
            c.due = t.opt_integer(1).value_or(0);
            trigger = t.text(2);
            c.output_limit_bytes = t.integer(3);
            found = true;
          }))
        return err;
      if (!found)
        return make_error(ec::storage_failure, "mysql: claimed task vanished");
      params r;
      r.integer(task).integer(claimed_at).integer(c.due).text(trigger);
      if (auto err = c_.execute(q::insert_run, r))
        return err;
      c.run = static_cast<run_id>(c_.insert_id(q::insert_run));
      c.task = task;
      params l;
      l.integer(c.run).integer(claimed_at).integer(task);
      return c_.execute(q::set_latest_run, l);
    });
    if (err)
      return err;
    return c;
  }

  caf::error unclaim_run(run_id run) override {
    return atomically([&]() -> caf::error {
      params p;
      p.integer(run);
      row r{col::integer, col::text, col::integer, col::integer, col::text};
      bool found = false;
      caf::error refused;
      task_id task = 0;
      int64_t scheduled = 0;
      std::string trigger;
      if (auto err = c_.query(q::select_run, p, r, [&] {
            found = true;
            task = r.integer(0);
            refused = check_unclaimable(run, r.text(1), !r.is_null(2));
            scheduled = r.integer(3);
            trigger = r.text(4);
          }))
        return err;
      if (!found)
        return make_error(ec::not_found, "no run " + std::to_string(run));
      if (refused)
        return refused;
      params o;
      o.integer(run);
      if (auto err = c_.execute(q::delete_run_output, o))
        return err;
      params d;
      d.integer(run);
      if (auto err = c_.execute(q::delete_run, d))
        return err;
      params t;
      t.integer(scheduled).text(trigger).integer(task).integer(task);
      return c_.execute(q::reset_task, t);
    });
  }

  caf::error record_start(const process_start& s) override {
    if (auto err = c_.usable())
      return err;
    params p;
    p.integer(s.pid)
      .integer(s.pgid)
      .integer(static_cast<int64_t>(s.start_ticks))
      .integer(s.started_at)
      .integer(s.run);  // lateness_ms reads the started_ms just assigned
    if (auto err = c_.execute(q::record_start, p))
      return err;
    if (c_.affected(q::record_start) == 0)
      return make_error(ec::not_found, "no run " + std::to_string(s.run));
    return {};
  }

  caf::error finish_run(const run_outcome& o) override {
    auto cols = columns_of(o);
    if (!cols)
      return cols.error();
    return atomically([&]() -> caf::error {
      params p;
      p.text(cols->status)
        .text_or_null(cols->run_reason)
        .text(cols->status)
        .text(cols->status)
        .integer_or_null(cols->exit_code)
        .integer_or_null(cols->signal)
        .text(o.output)
        .integer(cols->output_truncated)
        .integer_or_null(cols->started_at)
        .integer(o.finished_at)
        .integer(o.run);
      if (auto err = c_.execute(q::finish_run, p))
        return err;
      if (c_.affected(q::finish_run) == 0)
        return make_error(ec::not_found, "no run " + std::to_string(o.run));
      // What the run ended as (a stop request may have turned it into a cancellation).
      params f;
      f.integer(o.run);
      row r{col::integer, col::text, col::text, col::integer};
      task_id task = 0;
      std::string status;
      std::optional<std::string> reason;
      int64_t output_bytes = 0;
      if (auto err = c_.query(q::finished_run, f, r, [&] {
            task = r.integer(0);
            status = r.text(1);
            if (!r.is_null(2))
              reason = r.text(2);
            output_bytes = r.integer(3);
          }))
        return err;
      if (output_bytes == 0 && !o.output.empty()) {
        // A run whose writer appended nothing keeps its final output as its one chunk.
        auto size = static_cast<int64_t>(o.output.size());
        params a;
        a.integer(o.run).integer(size).blob(o.output);
        if (auto err = c_.execute(q::append_chunk, a))
          return err;
        params b;
        b.integer(size).integer(o.run);
        if (auto err = c_.execute(q::set_output_bytes, b))
          return err;
      }
      params t;
      t.text(status).text_or_null(reason).text(status).integer(o.finished_at).integer(task);
      return c_.execute(q::finish_task, t);
    });
  }

  // -- reads and maintenance -------------------------------------------------------------------

  caf::expected<task_view> get_task(task_id id) override {
    if (auto err = c_.usable())
      return err;
    params p;
    p.integer(id);
    row r{col::integer, col::text,    col::integer, col::integer, col::text,
          col::text,    col::integer, col::text,    col::integer, col::integer,
          col::text,    col::integer, col::integer, col::integer, col::text,
          col::integer, col::integer};
    std::optional<caf::expected<task_view>> found;
    if (auto err = c_.query(q::get_task, p, r, [&] {
          task_row t;
          t.id = r.integer(0);
          t.command = std::move(r.text(1));
          t.due = r.integer(2);
          t.created_at = r.integer(3);
          t.status = r.text(4);
          t.task_reason = r.opt_text(5);
          t.latest_run = r.opt_integer(6);
          t.run_reason = r.opt_text(7);
          t.exit_code = r.opt_integer(8);
          t.signal = r.opt_integer(9);
          t.output = std::move(r.text(10));
          t.output_truncated = r.opt_integer(11);
          t.started_at = r.opt_integer(12);
          t.finished_at = r.opt_integer(13);
          t.run_status = r.opt_text(14);
          t.next_run_at = r.opt_integer(15);
          t.run_scheduled_for = r.opt_integer(16);
          found = to_task_view(std::move(t), "mysql");
        }))
      return err;
    if (!found)
      return make_error(ec::not_found, "no task " + std::to_string(id));
    return std::move(*found);
  }

  caf::error load_pending(const std::function<void(const pending_entry&)>& f) override {
    if (auto err = c_.usable())
      return err;
    // Gathered first: `f` may be slow or call back into the store.
    std::vector<pending_entry> all;
    params p;
    row r{col::integer, col::integer};
    if (auto err = c_.query(q::load_pending, p, r,
                            [&] { all.push_back(pending_entry{r.integer(0), r.integer(1)}); }))
      return err;
    for (auto& e : all)
      f(e);
    return {};
  }

  caf::expected<std::vector<orphan_run>> interrupt_running(millis now) override {
    std::vector<orphan_run> out;
    auto err = atomically([&]() -> caf::error {
      out.clear();
      params p;
      row r{col::integer, col::integer, col::integer, col::integer, col::integer, col::integer};
      if (auto err = c_.query(q::select_running, p, r, [&] {
            out.push_back(to_orphan({r.integer(0), r.integer(1), r.opt_integer(2),
                                     r.opt_integer(3), r.opt_integer(4), r.opt_integer(5)}));
          }))
        return err;
      for (auto& o : out) {
        params u;
        u.integer(now).integer(o.run);
        if (auto err = c_.execute(q::interrupt_run, u))
          return err;
        params t;
        t.integer(now).integer(o.task);
        if (auto err = c_.execute(q::interrupt_task, t))
          return err;
      }
      return {};
    });
    if (err)
      return err;
    return out;
  }

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
  caf::error refusal(task_id task) {
    params p;
    p.integer(task);
    row r{col::text};
    bool found = false;
    if (auto err = c_.query(q::select_task_status, p, r, [&] { found = true; }))
      return err;
    if (!found)
      return make_error(ec::not_found, "no task " + std::to_string(task));
    return not_pending(task, r.text(0));
  }

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
