// The SQLite store's operations on a run's life: claim (a new run, or a waiting retry in
// place), unclaim, start, end (and the retry that may follow), crash recovery. The SQL is
// in sqlite_sql.hpp; what both backends decide alike is in storage/row_mapping.cpp.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <sqlite3.h>

#include "core/defaults.hpp"
#include "core/error.hpp"
#include "storage/edit.hpp"
#include "storage/recurring.hpp"
#include "storage/row_mapping.hpp"
#include "storage/sqlite/sqlite_sql.hpp"
#include "storage/sqlite/sqlite_store_impl.hpp"

namespace ts::storage::sqlite {

caf::expected<claim> sqlite_store::claim_run(task_id task, millis claimed_at) {
  claim out;
  auto err = atomically([&]() -> caf::error {
    out = claim{};
    std::string trigger;
    std::optional<run_id> waiting;
    std::optional<recurring_row> recurring;
    std::optional<recurring_row> one_shot;
    {
      use u{task_for_claim_};
      u.bind(1, task);
      auto rc = u.step();
      if (rc == SQLITE_DONE)
        return make_error(ec::not_found, "no task " + std::to_string(task));
      if (rc != SQLITE_ROW)
        return fail(rc, "claim: read task");
      auto row = read_recurring_row(cells{u}, task, backend());
      if (!row)
        return row.error();
      if (row->recur.recurring())
        recurring = std::move(*row);
      else if (u.text_view(0) != to_string(task_status::pending))
        return not_pending(task, u.text_view(0));
      else
        one_shot = std::move(*row);
      out.task = task;
      out.command = u.text(1);
      out.due = u.int64(2);
      trigger = u.text(3);
      out.output_limit_bytes = u.int64(4);
      out.scheduled_for = out.due;
      if (u.text_view(6) == to_string(run_status::waiting)) {
        waiting = u.int64(5);
        out.attempt = static_cast<int32_t>(u.int64(7));
        out.scheduled_for = u.int64(8);
      }
      auto controls = read_controls(cells{u}, 9, task, "sqlite");
      if (!controls)
        return controls.error();
      out.controls = std::move(*controls);
    }
    if (recurring)
      return claim_recurring(*recurring, claimed_at, out);
    if (auto err = apply_copies(*one_shot, nullptr, out, backend()))
      return err;
    if (waiting) {
      use u{claim_waiting_};
      u.bind(1, *waiting).bind(2, claimed_at);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "claim: claim the retry");
      out.run = *waiting;
    } else {
      auto copy = settings_of(out);
      if (!copy)
        return copy.error();
      use u{insert_run_};
      u.bind(1, task).bind(2, claimed_at).bind(3, out.due).bind_text(4, trigger)
        .bind_text(5, *copy);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "claim: insert run");
      out.run = sqlite3_last_insert_rowid(conn_.db);
    }
    use u{set_task_running_};
    u.bind(1, task).bind(2, out.run).bind(3, claimed_at);
    auto rc = u.step();
    return rc == SQLITE_DONE ? caf::none : fail(rc, "claim: update task");
  });
  if (err)
    return err;
  return out;
}

caf::error sqlite_store::claim_recurring(const recurring_row& row, millis now, claim& out) {
  auto w = decide_claim(row, now, backend());
  if (!w)
    return w.error();
  // An occurrence queued now starts with what the task says now; the run that starts, with
  // its own copy when it has one.
  auto task_copy = settings_of(out);
  if (!task_copy)
    return task_copy.error();
  if (auto err = apply_copies(row, &*w, out, backend()))
    return err;
  std::optional<run_id> open_skip;
  for (auto& skip : w->skips) {
    use u{insert_skipped_run_};
    u.bind(1, row.task).bind(2, now).bind(3, skip.first).bind_text(4, to_string(skip.reason))
      .bind(5, skip.count);
    auto rc = u.step();
    if (rc != SQLITE_DONE)
      return fail(rc, "claim: record skipped occurrences");
    if (skip.reason == skip_reason::overlap && sqlite3_changes(conn_.db) > 0)
      open_skip = sqlite3_last_insert_rowid(conn_.db);
  }
  if (w->coalesce_into) {
    use u{count_skip_};
    u.bind(1, *w->coalesce_into).bind(2, now);
    if (auto rc = u.step(); rc != SQLITE_DONE)
      return fail(rc, "claim: count a skipped occurrence");
  }
  if (w->stop_run) {
    bool waiting = row.latest_status == to_string(run_status::waiting);
    use u{waiting ? end_replaced_waiting_ : replace_run_};
    u.bind(1, *w->stop_run).bind(2, now);
    if (auto rc = u.step(); rc != SQLITE_DONE)
      return fail(rc, "claim: replace the active run");
  }
  std::optional<run_id> started;
  using start = claim_writes::start;
  if (w->what == start::retry) {
    use u{claim_waiting_};
    u.bind(1, *row.latest_run).bind(2, now);
    if (auto rc = u.step(); rc != SQLITE_DONE)
      return fail(rc, "claim: claim the retry");
    started = out.run = *row.latest_run;
    out.due = row.latest_next_attempt.value_or(now);
  } else if (w->what != start::none) {
    auto manual = w->what == start::manual;
    auto copy = settings_of(out);
    if (!copy)
      return copy.error();
    use u{insert_occurrence_run_};
    u.bind(1, row.task).bind(2, now).bind(3, w->scheduled_for)
      .bind_text(4, to_string(manual ? run_trigger::manual : run_trigger::schedule))
      .bind_text(5, *copy);
    if (auto rc = u.step(); rc != SQLITE_DONE)
      return fail(rc, "claim: insert run");
    if (sqlite3_changes(conn_.db) == 0)
      return occurrence_taken(row.task, w->scheduled_for);
    started = out.run = sqlite3_last_insert_rowid(conn_.db);
    out.due = out.scheduled_for = w->scheduled_for;
    out.attempt = 1;
  }
  {
    use u{set_recurring_claim_};
    u.bind(1, row.task)
      .bind_opt(2, started)
      .bind_opt(3, w->next_run)
      .bind_opt(5, w->next_occurrence)
      .bind_opt(6, w->queued)
      .bind(7, w->scheduled_runs)
      .bind(8, now)
      .bind(9, w->completes ? 1 : 0)
      .bind_opt(10, open_skip)
      .bind_opt(11, open_skip ? w->blocked_by : std::nullopt)
      .bind_text(12, *task_copy);
    if (auto rc = u.step(); rc != SQLITE_DONE)
      return fail(rc, "claim: update task");
  }
  out.skipped = !started;
  out.rearm_at = w->next_run;
  out.after_run = w->after_run;
  out.stop_run = w->stop_run;
  return caf::none;
}

caf::error sqlite_store::unclaim_run(run_id run) {
  return undo_claim(run, false);
}

caf::error sqlite_store::requeue_unstarted(run_id run) {
  return undo_claim(run, true);
}

caf::error sqlite_store::undo_claim(run_id run, bool after_crash) {
  return atomically([&]() -> caf::error {
    task_id task = 0;
    int64_t due = 0;
    std::string trigger;
    bool stopped = false;
    {
      use u{run_for_unclaim_};
      u.bind(1, run);
      auto rc = u.step();
      if (rc == SQLITE_DONE)
        return make_error(ec::not_found, "no run " + std::to_string(run));
      if (rc != SQLITE_ROW)
        return fail(rc, "unclaim: read run");
      if (auto err = after_crash ? check_requeueable(run, u.text_view(1), u.text_view(7),
                                                     !u.is_null(2))
                                 : check_unclaimable(run, u.text_view(1), !u.is_null(2)))
        return err;
      task = u.int64(0);
      trigger = u.text(4);
      due = u.opt_int64(5).value_or(u.int64(3));
      stopped = !u.is_null(6);
    }
    if (stopped) {
      if (auto err = run_with(end_unclaimed_cancelled_, run, "unclaim: end cancelled"))
        return err;
      return run_with(task_unclaimed_cancelled_, task, "unclaim: task cancelled");
    }
    // A retry was recorded before its claim: it waits again, still the latest run.
    bool retry = trigger == to_string(run_trigger::retry);
    std::optional<int64_t> latest = run;
    if (!retry) {
      use u{previous_run_};
      u.bind(1, task).bind(2, run);
      auto rc = u.step();
      if (rc != SQLITE_ROW)
        return fail(rc, "unclaim: previous run");
      latest = u.opt_int64(0);
    }
    {
      // The task first: nothing may point at the run once it is deleted.
      use u{set_task_pending_};
      u.bind(1, task).bind_opt(2, latest).bind(3, due).bind_text(4, trigger);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "unclaim: update task");
    }
    if (trigger == to_string(run_trigger::schedule)) {
      use u{restore_occurrence_};
      u.bind(1, task).bind(2, due);
      if (auto rc = u.step(); rc != SQLITE_DONE)
        return fail(rc, "unclaim: restore the occurrence");
    }
    if (retry)
      return run_with(wait_again_, run, "unclaim: wait again");
    if (auto err = run_with(delete_run_output_, run, "unclaim: delete output"))
      return err;
    return run_with(delete_run_, run, "unclaim: delete run");
  });
}

caf::error sqlite_store::record_start(const process_start& p) {
  return atomically([&]() -> caf::error {
    use u{record_start_};
    u.bind(1, p.run)
      .bind(2, p.pid)
      .bind(3, p.pgid)
      .bind(4, static_cast<int64_t>(p.start_ticks))
      .bind(5, p.started_at);
    auto rc = u.step();
    if (rc != SQLITE_DONE)
      return fail(rc, "record start");
    if (sqlite3_changes(conn_.db) == 0)
      return make_error(ec::not_found, "no run " + std::to_string(p.run));
    return caf::none;
  });
}

caf::error sqlite_store::finish_run(const run_outcome& o) {
  auto cols = columns_of(o);
  if (!cols)
    return cols.error();
  return atomically([&]() -> caf::error {
    {
      use u{finish_run_};
      u.bind(1, o.run)
        .bind_text(2, cols->status)
        .bind_opt(3, cols->run_reason)
        .bind_opt(4, cols->exit_code)
        .bind_opt(5, cols->signal)
        .bind_text(6, o.output)
        .bind(7, cols->output_truncated)
        .bind(8, o.finished_at)
        .bind_opt(9, cols->started_at)
        .bind_opt(10, o.message);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "finish run");
      if (sqlite3_changes(conn_.db) == 0)
        return make_error(ec::not_found, "no run " + std::to_string(o.run));
    }
    // What the run ended as (a stop request may have turned it into a cancellation).
    task_id task = 0;
    std::string status;
    std::optional<std::string> reason;
    std::string state;
    int64_t output_bytes = 0;
    bool latest = false;
    bool recurring = false;
    std::optional<millis> next_occurrence;
    std::optional<millis> queued;
    {
      use u{finished_run_};
      u.bind(1, o.run);
      auto rc = u.step();
      if (rc != SQLITE_ROW)
        return fail(rc, "finish run: read run");
      task = u.int64(0);
      status = u.text(1);
      if (!u.is_null(2))
        reason = u.text(2);
      output_bytes = u.int64(3);
      state = u.text(4);
      latest = u.opt_int64(5).value_or(0) != 0;
      recurring = u.int64(7) != 0;
      next_occurrence = u.opt_int64(8);
      queued = u.opt_int64(9);
    }
    if (output_bytes == 0 && !o.output.empty()) {
      auto size = static_cast<int64_t>(o.output.size());
      {
        use u{final_output_chunk_};
        u.bind(1, o.run).bind(2, size).bind_text(3, o.output);
        auto rc = u.step();
        if (rc != SQLITE_DONE)
          return fail(rc, "finish run: output");
      }
      use u{set_output_bytes_};
      u.bind(1, o.run).bind(2, size);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "finish run: output size");
    }
    if (retries(o, status, reason.value_or(""), state))
      return schedule_retry(task, o.run, *o.retry_at, o.finished_at);
    if (recurring) {
      use u{finish_recurring_};
      u.bind(1, task).bind_text(2, status).bind_opt(3, reason).bind(4, o.finished_at)
        .bind_opt(5, next_wake(next_occurrence, queued, o.finished_at))
        .bind(6, latest ? 1 : 0);
      if (auto rc = u.step(); rc != SQLITE_DONE)
        return fail(rc, "finish run: update recurring task");
      return trim_history(task);
    }
    use u{finish_task_};
    u.bind(1, task).bind_text(2, status).bind_opt(3, reason).bind(4, o.finished_at);
    auto rc = u.step();
    return rc == SQLITE_DONE ? caf::none : fail(rc, "finish run: update task");
  });
}

caf::error sqlite_store::trim_history(task_id task) {
  std::optional<run_id> cutoff;
  {
    use u{history_cutoff_};
    u.bind(1, task);
    auto rc = u.step();
    if (rc == SQLITE_ROW)
      cutoff = u.opt_int64(0);
    else if (rc != SQLITE_DONE)
      return fail(rc, "trim history: find the oldest kept run");
  }
  if (!cutoff)
    return caf::none;  // no more runs than history_keep
  std::optional<run_id> upto;
  {
    use u{history_batch_end_};
    u.bind(1, task).bind(2, *cutoff).bind(3, defaults::history_trim_batch);
    if (auto rc = u.step(); rc != SQLITE_ROW)
      return fail(rc, "trim history: find the batch");
    upto = u.opt_int64(0);
  }
  if (!upto)
    return caf::none;
  for (auto* st : {&trim_output_, &trim_runs_}) {
    use u{*st};
    u.bind(1, task).bind(2, *upto);
    if (auto rc = u.step(); rc != SQLITE_DONE)
      return fail(rc, "trim history: delete old runs");
  }
  return caf::none;
}

caf::error sqlite_store::schedule_retry(task_id task, run_id run, millis retry_at, millis now) {
  {
    use u{insert_retry_};
    u.bind(1, run).bind(2, retry_at).bind(3, now);
    auto rc = u.step();
    if (rc != SQLITE_DONE)
      return fail(rc, "retry: insert run");
  }
  auto next = sqlite3_last_insert_rowid(conn_.db);
  use u{set_task_retrying_};
  u.bind(1, task).bind(2, next).bind(3, retry_at).bind(4, now);
  auto rc = u.step();
  return rc == SQLITE_DONE ? caf::none : fail(rc, "retry: update task");
}

caf::error sqlite_store::retry_interrupted(run_id run, millis retry_at) {
  return atomically([&]() -> caf::error {
    task_id task = 0;
    millis ended = 0;
    {
      use u{finished_run_};
      u.bind(1, run);
      auto rc = u.step();
      if (rc == SQLITE_DONE)
        return make_error(ec::not_found, "no run " + std::to_string(run));
      if (rc != SQLITE_ROW)
        return fail(rc, "retry interrupted: read run");
      if (auto err = check_retry_interrupted(run, u.text_view(1), u.text_view(2),
                                             u.int64(5) != 0, u.text_view(4)))
        return err;
      task = u.int64(0);
      ended = u.int64(6);
    }
    // Decided when the run was ended: the retry follows that moment, as in finish_run.
    return schedule_retry(task, run, retry_at, ended);
  });
}

caf::expected<std::vector<orphan_run>> sqlite_store::interrupt_running(millis now) {
  std::vector<orphan_run> out;
  auto err = atomically([&]() -> caf::error {
    out.clear();
    {
      use u{running_runs_};
      for (;;) {
        auto rc = u.step();
        if (rc == SQLITE_DONE)
          break;
        if (rc != SQLITE_ROW)
          return fail(rc, "interrupt: read runs");
        out.push_back(to_orphan({u.int64(0), u.int64(1), u.opt_int64(2), u.opt_int64(3),
                                 u.opt_int64(4), u.opt_int64(5)}));
      }
    }
    for (auto& o : out) {
      {
        use u{interrupt_run_};
        u.bind(1, o.run).bind(2, now);
        auto rc = u.step();
        if (rc != SQLITE_DONE)
          return fail(rc, "interrupt: update run");
      }
      use u{interrupt_task_};
      u.bind(1, o.task).bind(2, now);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "interrupt: update task");
    }
    return caf::none;
  });
  if (err)
    return err;
  return out;
}

} // namespace ts::storage::sqlite
