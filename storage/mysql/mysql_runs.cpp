// The MySQL / MariaDB store's operations on a run's life: claim (a new run, or a waiting
// retry in place), unclaim, start, end (and the retry that may follow), crash recovery. The
// SQL is in mysql_sql.hpp; what both backends decide alike is in storage/row_mapping.cpp.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/mysql/mysql_store_impl.hpp"

namespace ts::storage::mysql {

caf::expected<claim> mysql_store::claim_run(task_id task, millis claimed_at) {
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
    std::vector<col> kinds{col::text,    col::integer, col::text,    col::integer,
                           col::integer, col::text,    col::integer, col::integer};
    auto controls = kinds_of(controls_cells);
    kinds.insert(kinds.end(), controls.begin(), controls.end());
    row t{std::move(kinds)};
    bool found = false;
    std::string trigger;
    std::optional<run_id> waiting;
    std::optional<caf::expected<task_controls>> read;
    if (auto err = c_.query(q::select_claimed, s, t, [&] {
          c.command = std::move(t.text(0));
          c.due = t.opt_integer(1).value_or(0);
          trigger = t.text(2);
          c.output_limit_bytes = t.integer(3);
          c.scheduled_for = c.due;
          if (t.text(5) == to_string(run_status::waiting)) {
            waiting = t.integer(4);
            c.attempt = static_cast<int32_t>(t.integer(6));
            c.scheduled_for = t.integer(7);
          }
          read = read_controls(cells{t}, 8, task, "mysql");
          found = true;
        }))
      return err;
    if (!found)
      return make_error(ec::storage_failure, "mysql: claimed task vanished");
    if (!*read)
      return read->error();
    c.controls = std::move(**read);
    c.task = task;
    if (waiting) {
      params w;
      w.integer(claimed_at).integer(*waiting);
      if (auto err = c_.execute(q::claim_waiting, w))
        return err;
      c.run = *waiting;
    } else {
      params r;
      r.integer(task).integer(claimed_at).integer(c.due).text(trigger);
      if (auto err = c_.execute(q::insert_run, r))
        return err;
      c.run = static_cast<run_id>(c_.insert_id(q::insert_run));
    }
    params l;
    l.integer(c.run).integer(claimed_at).integer(task);
    return c_.execute(q::set_latest_run, l);
  });
  if (err)
    return err;
  return c;
}

caf::error mysql_store::refusal(task_id task) {
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

caf::error mysql_store::unclaim_run(run_id run) {
  return undo_claim(run, false);
}

caf::error mysql_store::requeue_unstarted(run_id run) {
  return undo_claim(run, true);
}

caf::error mysql_store::undo_claim(run_id run, bool after_crash) {
  return atomically([&]() -> caf::error {
    params p;
    p.integer(run);
    row r{col::integer, col::text, col::integer, col::integer, col::text, col::integer,
          col::integer, col::text};
    bool found = false;
    bool stopped = false;
    caf::error refused;
    task_id task = 0;
    int64_t due = 0;
    std::string trigger;
    if (auto err = c_.query(q::select_run, p, r, [&] {
          found = true;
          task = r.integer(0);
          refused = after_crash
                      ? check_requeueable(run, r.text(1), r.is_null(7) ? "" : r.text(7),
                                          !r.is_null(2))
                      : check_unclaimable(run, r.text(1), !r.is_null(2));
          trigger = r.text(4);
          due = r.opt_integer(5).value_or(r.integer(3));
          stopped = !r.is_null(6);
        }))
      return err;
    if (!found)
      return make_error(ec::not_found, "no run " + std::to_string(run));
    if (refused)
      return refused;
    // A cancel of this run committed first: it ends cancelled, the task stays cancelled.
    if (stopped) {
      params e;
      e.integer(run);
      if (auto err = c_.execute(q::end_unclaimed_cancelled, e))
        return err;
      params t;
      t.integer(task);
      return c_.execute(q::task_unclaimed_cancelled, t);
    }
    // A retry was recorded before its claim: it waits again, and stays the latest run
    // (reset_task takes the task's newest).
    params o;
    o.integer(run);
    if (trigger == to_string(run_trigger::retry)) {
      if (auto err = c_.execute(q::wait_again, o))
        return err;
    } else {
      if (auto err = c_.execute(q::delete_run_output, o))
        return err;
      params d;
      d.integer(run);
      if (auto err = c_.execute(q::delete_run, d))
        return err;
    }
    params t;
    t.integer(due).text(trigger).integer(task).integer(task);
    return c_.execute(q::reset_task, t);
  });
}

caf::error mysql_store::record_start(const process_start& s) {
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

namespace {

/// What finished_run reads.
struct ended_run {
  task_id task = 0;
  std::string status;
  std::optional<std::string> reason;
  int64_t output_bytes = 0;
  std::string state;
  bool latest = false;
  millis finished_at = 0;
};

row ended_row() {
  return row{col::integer, col::text,    col::text,   col::integer,
             col::text,    col::integer, col::integer};
}

ended_run read_ended(row& r) {
  ended_run e;
  e.task = r.integer(0);
  e.status = r.text(1);
  if (!r.is_null(2))
    e.reason = r.text(2);
  e.output_bytes = r.integer(3);
  e.state = r.text(4);
  e.latest = r.opt_integer(5).value_or(0) != 0;
  e.finished_at = r.opt_integer(6).value_or(0);
  return e;
}

} // namespace

caf::error mysql_store::finish_run(const run_outcome& o) {
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
      .text_or_null(o.message)
      .integer(o.run);
    if (auto err = c_.execute(q::finish_run, p))
      return err;
    if (c_.affected(q::finish_run) == 0)
      return make_error(ec::not_found, "no run " + std::to_string(o.run));
    // What the run ended as (a stop request may have turned it into a cancellation).
    params f;
    f.integer(o.run);
    auto r = ended_row();
    ended_run e;
    if (auto err = c_.query(q::finished_run, f, r, [&] { e = read_ended(r); }))
      return err;
    if (e.output_bytes == 0 && !o.output.empty()) {
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
    if (retries(o, e.status, e.reason.value_or(""), e.state))
      return schedule_retry(e.task, o.run, *o.retry_at, o.finished_at);
    params t;
    t.text(e.status).text_or_null(e.reason).text(e.status).integer(o.finished_at).integer(e.task);
    return c_.execute(q::finish_task, t);
  });
}

caf::error mysql_store::schedule_retry(task_id task, run_id run, millis retry_at, millis now) {
  params i;
  i.integer(now).integer(retry_at).integer(run);
  if (auto err = c_.execute(q::insert_retry, i))
    return err;
  auto next = static_cast<run_id>(c_.insert_id(q::insert_retry));
  params t;
  t.integer(next).integer(retry_at).integer(now).integer(task);
  return c_.execute(q::set_task_retrying, t);
}

caf::error mysql_store::retry_interrupted(run_id run, millis retry_at) {
  return atomically([&]() -> caf::error {
    params f;
    f.integer(run);
    auto r = ended_row();
    std::optional<ended_run> e;
    if (auto err = c_.query(q::finished_run, f, r, [&] { e = read_ended(r); }))
      return err;
    if (!e)
      return make_error(ec::not_found, "no run " + std::to_string(run));
    if (auto err = check_retry_interrupted(run, e->status, e->reason.value_or(""), e->latest,
                                           e->state))
      return err;
    // Decided when the run was ended: the retry follows that moment, as in finish_run.
    return schedule_retry(e->task, run, retry_at, e->finished_at);
  });
}

caf::expected<std::vector<orphan_run>> mysql_store::interrupt_running(millis now) {
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

} // namespace ts::storage::mysql
