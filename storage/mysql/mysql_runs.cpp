// The MySQL / MariaDB store's operations on a run's life: claim (a new run, a waiting retry
// in place, or what storage/recurring.hpp decides for a recurring task), unclaim, start, end
// (and the retry or next occurrence that may follow, and the history trim), crash recovery.
// The SQL is in mysql_sql.hpp; what both backends decide alike is in storage/row_mapping.cpp
// and storage/recurring.cpp.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/defaults.hpp"
#include "storage/edit.hpp"
#include "storage/mysql/mysql_store_impl.hpp"

namespace ts::storage::mysql {

std::vector<col> claim_kinds() {
  std::vector<col> kinds{col::text,    col::text,    col::integer, col::text,   col::integer,
                         col::integer, col::text,    col::integer, col::integer};
  auto controls = kinds_of(controls_cells);
  kinds.insert(kinds.end(), controls.begin(), controls.end());
  auto recurrence = kinds_of(recurrence_cells);
  kinds.insert(kinds.end(), recurrence.begin(), recurrence.end());
  kinds.insert(kinds.end(), {col::text, col::text, col::integer, col::integer, col::integer,
                             col::integer, col::integer, col::integer, col::text, col::text,
                             col::integer, col::integer});
  return kinds;
}

caf::expected<claim> mysql_store::claim_run(task_id task, millis claimed_at) {
  claim c;
  auto err = atomically([&]() -> caf::error {
    c = claim{};
    params s;
    s.integer(task);
    row t{claim_kinds()};
    bool found = false;
    std::string status;
    std::string trigger;
    std::optional<run_id> waiting;
    std::optional<caf::expected<task_controls>> read;
    std::optional<caf::expected<recurring_row>> recurring;
    if (auto err = c_.query(q::select_claimed, s, t, [&] {
          status = t.text(0);
          c.command = std::move(t.text(1));
          c.due = t.opt_integer(2).value_or(0);
          trigger = t.text(3);
          c.output_limit_bytes = t.integer(4);
          c.scheduled_for = c.due;
          if (t.text(6) == to_string(run_status::waiting)) {
            waiting = t.integer(5);
            c.attempt = static_cast<int32_t>(t.integer(7));
            c.scheduled_for = t.integer(8);
          }
          read = read_controls(cells{t}, 9, task, "mysql");
          recurring = read_recurring_row(cells{t}, task, "mysql");
          found = true;
        }))
      return err;
    if (!found)
      return make_error(ec::not_found, "no task " + std::to_string(task));
    if (!*recurring)
      return recurring->error();
    bool is_recurring = (*recurring)->recur.recurring();
    if (!is_recurring && status != to_string(task_status::pending))
      return not_pending(task, status);
    if (!*read)
      return read->error();
    c.controls = std::move(**read);
    c.task = task;
    if (is_recurring)
      return claim_recurring(**recurring, claimed_at, c);
    if (auto err = apply_copies(**recurring, nullptr, c, "mysql"))
      return err;
    // The row is locked: the task is still pending.
    params p;
    p.integer(task);
    if (auto err = c_.execute(q::claim_task, p))
      return err;
    if (c_.affected(q::claim_task) == 0)
      return refusal(task);
    if (waiting) {
      params w;
      w.integer(claimed_at).integer(*waiting);
      if (auto err = c_.execute(q::claim_waiting, w))
        return err;
      c.run = *waiting;
    } else {
      auto copy = settings_of(c);
      if (!copy)
        return copy.error();
      params r;
      r.integer(task).integer(claimed_at).integer(c.due).text(trigger).text(*copy);
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

caf::error mysql_store::claim_recurring(const recurring_row& row, millis now, claim& out) {
  auto w = decide_claim(row, now, "mysql");
  if (!w)
    return w.error();
  // An occurrence queued now starts with what the task says now; the run that starts, with
  // its own copy when it has one.
  auto task_copy = settings_of(out);
  if (!task_copy)
    return task_copy.error();
  if (auto err = apply_copies(row, &*w, out, "mysql"))
    return err;
  std::optional<run_id> open_skip;
  for (auto& skip : w->skips) {
    params p;
    p.integer(row.task)
      .integer(now)
      .integer(now)
      .integer(skip.first)
      .text(to_string(skip.reason))
      .integer(skip.count);
    if (auto err = c_.execute(q::insert_skipped_run, p))
      return err;
    if (skip.reason == skip_reason::overlap && c_.affected(q::insert_skipped_run) > 0)
      open_skip = static_cast<run_id>(c_.insert_id(q::insert_skipped_run));
  }
  if (w->coalesce_into) {
    params p;
    p.integer(now).integer(*w->coalesce_into);
    if (auto err = c_.execute(q::count_skip, p))
      return err;
  }
  if (w->stop_run) {
    bool waiting = row.latest_status == to_string(run_status::waiting);
    auto stop = waiting ? q::end_replaced_waiting : q::replace_run;
    params p;
    p.integer(now).integer(*w->stop_run);
    if (auto err = c_.execute(stop, p))
      return err;
  }
  std::optional<run_id> started;
  using start = claim_writes::start;
  if (w->what == start::retry) {
    params p;
    p.integer(now).integer(*row.latest_run);
    if (auto err = c_.execute(q::claim_waiting, p))
      return err;
    started = out.run = *row.latest_run;
    out.due = row.latest_next_attempt.value_or(now);
  } else if (w->what != start::none) {
    auto trigger = w->what == start::manual ? run_trigger::manual : run_trigger::schedule;
    auto copy = settings_of(out);
    if (!copy)
      return copy.error();
    params p;
    p.integer(row.task).integer(now).integer(w->scheduled_for).text(to_string(trigger))
      .text(*copy);
    if (auto err = c_.execute(q::insert_occurrence_run, p))
      return err;
    if (c_.affected(q::insert_occurrence_run) == 0)
      return occurrence_taken(row.task, w->scheduled_for);
    started = out.run = static_cast<run_id>(c_.insert_id(q::insert_occurrence_run));
    out.due = out.scheduled_for = w->scheduled_for;
    out.attempt = 1;
  }
  params t;
  t.integer_or_null(started)
    .integer_or_null(started)
    .integer_or_null(started)
    .integer_or_null(w->next_run)
    .integer_or_null(w->next_occurrence)
    .integer_or_null(w->queued)
    .text(*task_copy)
    .integer_or_null(w->queued)
    .integer(w->scheduled_runs)
    .integer(w->completes)
    .integer_or_null(open_skip)
    .integer_or_null(open_skip ? w->blocked_by : std::nullopt)
    .integer(now)
    .integer(row.task);
  if (auto err = c_.execute(q::set_recurring_claim, t))
    return err;
  out.skipped = !started;
  out.rearm_at = w->next_run;
  out.after_run = w->after_run;
  out.stop_run = w->stop_run;
  return {};
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
    if (auto err = c_.execute(q::reset_task, t))
      return err;
    if (trigger != to_string(run_trigger::schedule))
      return {};
    params u;
    u.integer(due).integer(due).integer(task);
    return c_.execute(q::restore_occurrence, u);
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
  bool recurring = false;
  std::optional<millis> next_occurrence;
  std::optional<millis> queued;
  int64_t history_keep = 0;
};

row ended_row() {
  return row{col::integer, col::text,    col::text,    col::integer, col::text,   col::integer,
             col::integer, col::integer, col::integer, col::integer, col::integer};
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
  e.recurring = r.opt_integer(7).value_or(0) != 0;
  e.next_occurrence = r.opt_integer(8);
  e.queued = r.opt_integer(9);
  e.history_keep = r.opt_integer(10).value_or(0);
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
    if (e.recurring) {
      auto wake = next_wake(e.next_occurrence, e.queued, o.finished_at);
      params t;
      t.integer(e.latest)
        .integer_or_null(wake)
        .text(e.status)
        .integer(e.latest)
        .text(e.status)
        .text_or_null(e.reason)
        .integer(e.latest)
        .integer_or_null(wake)
        .integer_or_null(wake)
        .integer(e.latest)
        .integer(o.finished_at)
        .integer(e.task);
      if (auto err = c_.execute(q::finish_recurring, t))
        return err;
      return trim_history(e.task, e.history_keep);
    }
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
  t.integer(next).integer(retry_at).integer(retry_at).integer(now).integer(task);
  return c_.execute(q::set_task_retrying, t);
}

caf::error mysql_store::trim_history(task_id task, int64_t keep) {
  std::optional<run_id> cutoff;
  {
    params p;
    p.integer(task).integer(std::max<int64_t>(keep - 1, 0));
    row r{col::integer};
    if (auto err = c_.query(q::history_cutoff, p, r, [&] { cutoff = r.opt_integer(0); }))
      return err;
  }
  if (!cutoff)
    return {};  // no more runs than history_keep
  std::optional<run_id> upto;
  {
    params p;
    p.integer(task).integer(*cutoff).integer(defaults::history_trim_batch);
    row r{col::integer};
    if (auto err = c_.query(q::history_batch_end, p, r, [&] { upto = r.opt_integer(0); }))
      return err;
  }
  if (!upto)
    return {};
  for (auto st : {q::trim_output, q::trim_runs}) {
    params p;
    p.integer(task).integer(*upto);
    if (auto err = c_.execute(st, p))
      return err;
  }
  return {};
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
