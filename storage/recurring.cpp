#include "storage/recurring.hpp"

#include <algorithm>
#include <string>

#include "core/defaults.hpp"
#include "core/error.hpp"
#include "storage/row_mapping.hpp"

namespace ts::storage {

namespace {

/// The coordinator claims this long before a due time (it holds the process until then):
/// a due time within it counts as come.
bool due(millis at, millis now) {
  return at <= now + defaults::claim_lead_ms;
}

// The task's wake-up once the claim is written: its next occurrence, or the waiting retry
// when that comes first. A queued occurrence needs none: the run it waits for wakes it.
void settle(claim_writes& w, const recurring_row& r, bool retry_still_waits) {
  auto retry = retry_still_waits ? r.latest_next_attempt : std::nullopt;
  w.next_run = earliest(w.next_occurrence, retry);
}

// Skipped spans become records, except that an overlap skip during the run that an open
// overlap record was blocked by joins that record (one record, with a count, per active run).
void record_skips(claim_writes& w, const recurring_row& r, std::vector<skipped_span> spans) {
  for (auto& s : spans) {
    if (s.reason == skip_reason::overlap) {
      if (r.open_skip && r.latest_run && r.open_skip_for == r.latest_run) {
        w.coalesce_into = r.open_skip;
        continue;
      }
      w.blocked_by = r.latest_run;
    }
    w.skips.push_back(s);
  }
}

caf::expected<schedule> stored_schedule(const recurring_row& r, const char* backend) {
  auto s = to_schedule(r.recur, r.time_zone);
  if (!s)
    return make_error(ec::storage_failure, std::string(backend) + ": task "
                                             + std::to_string(r.task)
                                             + " has a schedule that no longer reads: "
                                             + s.error());
  return *s;
}

std::optional<int64_t> remaining_runs(const recurring_row& r) {
  if (!r.recur.max_runs)
    return std::nullopt;
  return std::max<int64_t>(0, *r.recur.max_runs - r.scheduled_runs);
}

caf::expected<claim_writes> decide_occurrence(const recurring_row& r, millis now,
                                              const char* backend, claim_writes w,
                                              bool active, bool waiting) {
  auto s = stored_schedule(r, backend);
  if (!s)
    return s.error();
  auto plan = plan_claim(*s, r.policy, {now, *r.next_occurrence, active, r.queued.has_value(),
                                        remaining_runs(r)});
  record_skips(w, r, std::move(plan.skipped));
  w.next_occurrence = plan.next;
  bool retry_still_waits = waiting;
  using action = claim_plan::action;
  switch (plan.what) {
    case action::run:
      w.what = claim_writes::start::occurrence;
      w.scheduled_for = plan.occurrence;
      ++w.scheduled_runs;
      break;
    case action::queue:
      w.queued = plan.occurrence;
      ++w.scheduled_runs;
      w.after_run = r.latest_run;
      break;
    case action::replace:
      ++w.scheduled_runs;
      w.stop_run = r.latest_run;
      if (waiting) {
        // A waiting retry has no process to stop: it ends replaced now and this one runs.
        w.what = claim_writes::start::occurrence;
        w.scheduled_for = plan.occurrence;
        retry_still_waits = false;
      } else {
        w.queued = plan.occurrence;
        w.after_run = r.latest_run;
      }
      break;
    case action::none:
      break;
  }
  settle(w, r, retry_still_waits);
  if (plan.what == action::none && active && r.queued && plan.next == r.next_occurrence) {
    // Held (a catch-up run waits its turn): the queued run's end wakes the task, not a
    // timer, which would fire at once for an occurrence in the past.
    w.next_run = r.latest_next_attempt && waiting ? r.latest_next_attempt : std::nullopt;
  }
  w.completes = w.what == claim_writes::start::none && !active && !w.queued && !w.next_run;
  return w;
}

} // namespace

std::optional<millis> earliest(std::optional<millis> a, std::optional<millis> b) {
  if (!a)
    return b;
  if (!b)
    return a;
  return std::min(*a, *b);
}

caf::expected<recurring_row> read_recurring_row(const cell_reader& r, task_id task,
                                                const char* backend) {
  recurring_row x;
  x.task = task;
  x.next_trigger = r.text(3).value_or("");
  x.latest_run = r.integer(5);
  x.latest_status = r.text(6).value_or("");
  if (auto err = read_recurrence(r, 20, task, backend, x.recur, x.policy))
    return err;
  x.time_zone = r.text(30);
  x.state = r.text(31).value_or("");
  x.next_occurrence = r.integer(32);
  x.queued = r.integer(33);
  x.scheduled_runs = r.integer(34).value_or(0);
  x.latest_next_attempt = r.integer(35);
  x.open_skip = r.integer(36);
  x.open_skip_for = r.integer(37);
  x.latest_settings = r.text(38);
  x.queued_settings = r.text(39);
  x.status = r.text(0).value_or("");
  x.next_run = r.integer(2);
  x.version = r.integer(40).value_or(0);
  x.due = r.integer(41).value_or(0);
  return x;
}

bool run_active(std::string_view status) {
  return status == to_string(run_status::waiting) || status == to_string(run_status::starting)
         || status == to_string(run_status::running);
}

caf::expected<claim_writes> decide_claim(const recurring_row& r, millis now,
                                         const char* backend) {
  if (r.state != to_string(task_state::active))
    return not_pending(r.task, r.state);
  claim_writes w;
  w.next_occurrence = r.next_occurrence;
  w.queued = r.queued;
  w.scheduled_runs = r.scheduled_runs;
  bool active = run_active(r.latest_status);
  bool waiting = r.latest_status == to_string(run_status::waiting);
  // A manual trigger is its own occurrence, the trigger time; the schedule goes on after it.
  if (r.next_trigger == to_string(run_trigger::manual)) {
    if (active)
      return not_pending(r.task, r.latest_status);
    w.what = claim_writes::start::manual;
    w.scheduled_for = now;
    settle(w, r, false);
    return w;
  }
  // The run an occurrence was queued behind has ended: the queued one runs now.
  if (r.queued && !active) {
    w.what = claim_writes::start::occurrence;
    w.scheduled_for = *r.queued;
    w.from_queue = true;
    w.queued.reset();
    settle(w, r, false);
    return w;
  }
  bool retry_first = waiting && r.latest_next_attempt
                     && (!r.next_occurrence || *r.latest_next_attempt <= *r.next_occurrence);
  if (retry_first && due(*r.latest_next_attempt, now)) {
    w.what = claim_writes::start::retry;
    // An occurrence queued behind the first attempt now waits for this one: its end must
    // wake the task, or the queued run would wait for the next occurrence's timer.
    if (r.queued)
      w.after_run = r.latest_run;
    settle(w, r, false);
    return w;
  }
  if (!r.next_occurrence || !due(*r.next_occurrence, now)) {
    // Woken early (the run it was queued behind ended before a retry's time): wait on.
    settle(w, r, waiting);
    w.completes = !active && !w.queued && !w.next_run;
    return w;
  }
  return decide_occurrence(r, now, backend, std::move(w), active, waiting);
}

caf::expected<resume_writes> decide_resume(const recurring_row& r, millis now,
                                           const char* backend) {
  resume_writes w;
  bool active = run_active(r.latest_status);
  bool waiting = r.latest_status == to_string(run_status::waiting);
  auto retry = waiting ? r.latest_next_attempt : std::nullopt;
  if (!r.recur.recurring()) {
    // Its only occurrence (or the retry it waited for), overdue or not.
    w.next_run = r.next_occurrence;
    w.completes = !w.next_run && !active;
    return w;
  }
  w.next_occurrence = r.next_occurrence;
  if (r.next_occurrence) {
    auto s = stored_schedule(r, backend);
    if (!s)
      return s.error();
    auto plan = plan_resume(*s, *r.next_occurrence, now, remaining_runs(r));
    w.skip = plan.skipped;
    w.next_occurrence = plan.next;
  }
  w.next_run = earliest(w.next_occurrence, retry);
  if (r.queued && !active)
    w.next_run = now;
  w.completes = !w.next_run && !active && !r.queued;
  return w;
}

caf::error occurrence_taken(task_id task, millis occurrence) {
  return make_error(ec::not_pending, "the occurrence " + std::to_string(occurrence)
                                       + " of task " + std::to_string(task)
                                       + " has had its run");
}

std::optional<millis> next_wake(std::optional<millis> next_occurrence,
                                std::optional<millis> queued, millis now) {
  if (queued)
    return now;
  return next_occurrence;
}

} // namespace ts::storage
