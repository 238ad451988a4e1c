#include "actors/coordinator.hpp"

#include <algorithm>
#include <chrono>

#include <caf/system_messages.hpp>

#include "core/defaults.hpp"
#include "core/error.hpp"
#include "actors/executor.hpp"
#include "actors/instrumented_actor.hpp"
#include "core/log.hpp"

namespace ts {

coordinator_options default_coordinator_options() {
  return {defaults::max_running, defaults::claim_lead_ms, defaults::max_sleep_ms};
}

namespace {

/// While the database is away, claims are tried again this often.
constexpr auto claim_retry_delay = std::chrono::milliseconds(500);

void dispatch(coordinator_pointer self);
void arm(coordinator_pointer self, task_id id, millis due);
void stop_run(coordinator_pointer self, task_id task, run_id run);

// Schedules the next tick for the earliest of: a claimed run's start, the wheel's next
// event (minus the claim lead), and the periodic wall-clock check that follows clock steps.
void arm_tick(coordinator_pointer self, int64_t now_us) {
  auto& st = self->state;
  // Nothing starts during shutdown, so nothing needs a tick; and a task left due in the
  // wheel would make every tick re-arm at once, a busy loop for the whole grace period.
  if (st.shutting_down)
    return;
  auto now_ms = now_us / 1000;
  auto target_ms = now_ms + st.opts.max_sleep_ms;
  if (!st.claimed.empty())
    target_ms = std::min(target_ms, st.claimed.begin()->first);
  if (st.wheel->size() > 0)
    target_ms = std::min(target_ms, st.wheel->next_event() - st.opts.claim_lead_ms);
  auto target_us = std::max(target_ms * 1000, now_us);
  auto delay = std::chrono::microseconds(target_us - now_us);
  // Compared on the actor clock, which times the tick: a tick armed before the wall clock
  // stepped forward comes later than its wall time says, so it cannot stand in for this one.
  auto at_us = std::chrono::duration_cast<std::chrono::microseconds>(
                 (self->clock().now() + delay).time_since_epoch())
                 .count();
  if (st.next_wakeup_us != 0 && st.next_wakeup_us <= at_us)
    return;
  st.next_wakeup_us = at_us;
  if (delay.count() == 0)
    self->send(self, tick_atom::value);
  else
    self->delayed_send(self, delay, tick_atom::value);
}

void maybe_finish_shutdown(coordinator_pointer self) {
  auto& st = self->state;
  if (st.shutting_down && st.active == 0 && st.shutdown_rp.pending()) {
    log::info("coordinator_drained");
    st.shutdown_rp.deliver(caf::ok_atom::value);
  }
}

void release_slot(coordinator_pointer self) {
  auto& st = self->state;
  --st.active;
  if (st.shutting_down)
    maybe_finish_shutdown(self);
  else
    dispatch(self);
}

// A claimed run that will never start (shutdown) goes back to pending.
void unclaim(coordinator_pointer self, const claim& c) {
  self->request(self->state.db, caf::infinite, unclaim_atom::value, c.run)
    .then([=](caf::ok_atom) { release_slot(self); },
          [=](caf::error& err) {
            // It stays `running` and the next start ends it as interrupted, never runs it.
            log::warn("unclaim_failed", {{"task", c.task}, {"run", c.run},
                                         {"error", render(err)}});
            release_slot(self);
          });
}

void start_run(coordinator_pointer self, claim c) {
  auto& st = self->state;
  auto run = c.run;
  auto exec = spawn_instrumented(*self, st.opts.metrics.get(), actor_kind::executor, executor,
                                 std::move(c), st.db, caf::actor_cast<coordinator_actor>(self),
                                 st.runner, st.clock, st.opts.metrics);
  self->monitor(exec);
  st.executors.emplace(run, std::move(exec));
}

// The due time of held runs: one message each, and the executor's release is one write.
void start_due_claims(coordinator_pointer self, millis now) {
  auto& st = self->state;
  while (!st.claimed.empty() && st.claimed.begin()->first <= now) {
    auto run = st.claimed.begin()->second.run;
    st.claimed.erase(st.claimed.begin());
    if (auto i = st.executors.find(run); i != st.executors.end())
      self->send(i->second, release_atom::value);
  }
}

// What a recurring task's claim decided besides its run: the task's next wake-up goes into
// the wheel at once (only the next occurrence is ever armed), an occurrence queued behind a
// run is claimed again when that run is done, and overlap `replace` stops the active run.
// False when nothing starts now (the slot is free again).
bool after_recurring_claim(coordinator_pointer self, const claim& c) {
  auto& st = self->state;
  if (c.rearm_at && !st.shutting_down)
    arm(self, c.task, *c.rearm_at);
  if (c.after_run)
    st.waiting_on[*c.after_run] = c.task;
  if (c.stop_run)
    stop_run(self, c.task, *c.stop_run);
  if (!c.skipped)
    return true;
  release_slot(self);
  return false;
}

void claim_task(coordinator_pointer self, pending_entry e) {
  auto& st = self->state;
  ++st.active;
  self->request(st.db, caf::infinite, claim_atom::value, e.id, st.clock->now_ms())
    .then(
      [=](claim& c) {
        auto& st = self->state;
        if (!c.skipped && st.shutting_down) {
          unclaim(self, c);
          return;
        }
        if (!after_recurring_claim(self, c))
          return;
        // The executor prepares the process held at once (its cwd, user and cgroup are
        // checked now, not at the due time), and is released at the due time.
        auto now_us = st.clock->now_us();
        auto due = c.due;
        auto run = c.run;
        start_run(self, c);
        if (due * 1000 <= now_us) {
          self->send(st.executors.at(run), release_atom::value);
        } else {
          st.claimed.emplace(due, std::move(c));
          arm_tick(self, now_us);
        }
      },
      [=](caf::error& err) {
        auto& st = self->state;
        --st.active;
        if (err == ec::unavailable && !st.shutting_down) {
          // The task waits: a run must be recorded before it starts.
          st.ready.emplace(e.due, e.id);
          if (!st.claims_paused) {
            st.claims_paused = true;
            self->delayed_send(self, claim_retry_delay, retry_atom::value);
          }
          return;
        }
        if (err != ec::unavailable)
          log::warn("claim_refused", {{"task", e.id}, {"error", render(err)}});
        if (st.shutting_down)
          maybe_finish_shutdown(self);
        else
          dispatch(self);
      });
}

void dispatch(coordinator_pointer self) {
  auto& st = self->state;
  while (!st.shutting_down && !st.claims_paused && st.active < st.opts.max_running
         && !st.ready.empty()) {
    auto [due, id] = *st.ready.begin();
    st.ready.erase(st.ready.begin());
    claim_task(self, pending_entry{id, due});
  }
}

void on_tick(coordinator_pointer self) {
  auto& st = self->state;
  st.next_wakeup_us = 0;
  auto now_us = st.clock->now_us();
  auto now_ms = now_us / 1000;
  if (!st.shutting_down) {
    st.fired.clear();
    st.wheel->advance(now_ms + st.opts.claim_lead_ms, st.fired);
    for (auto& e : st.fired)
      st.ready.emplace(e.due, e.id);
    start_due_claims(self, now_ms);
    dispatch(self);
  }
  arm_tick(self, now_us);
}

void arm(coordinator_pointer self, task_id id, millis due) {
  auto& st = self->state;
  st.wheel->insert(id, due);
  arm_tick(self, st.clock->now_us());
}

// A cancelled (or re-armed) task leaves the wheel and the queue of due tasks. The queue is
// ordered by time, so finding a task in it is a scan; it holds only what waits for a slot.
void forget(coordinator_pointer self, task_id id) {
  auto& st = self->state;
  st.wheel->cancel(id);
  for (auto i = st.ready.begin(); i != st.ready.end(); ++i) {
    if (i->second == id) {
      st.ready.erase(i);
      break;
    }
  }
}

// Stops the run a cancel marked, through its executor: a held one (claimed, waiting for its
// exact start) is never released and ends cancelled unstarted; a started one is signalled
// and ends cancelled when its process does. Persistence answers a claim before a cancel that came after it, so a run
// the cancel names is known here unless it has already ended.
void stop_run(coordinator_pointer self, task_id task, run_id run) {
  auto& st = self->state;
  bool held = false;
  for (auto i = st.claimed.begin(); i != st.claimed.end(); ++i) {
    if (i->second.run == run) {
      st.claimed.erase(i);
      held = true;
      break;
    }
  }
  // Held or running, its executor stops it: a held one is never released, and ends
  // cancelled without having started.
  if (auto i = st.executors.find(run); i != st.executors.end()) {
    log::info("run_cancelled", {{"task", task}, {"run", run}, {"started", !held}});
    self->send(i->second, cancel_atom::value);
  }
}

// What a change that may move the task's next run does once committed: the task is armed
// anew at its next_run_at, or not at all.
auto rearm_after(coordinator_pointer self, task_id id) {
  return [=](const task_change& c) {
    forget(self, id);
    if (c.task.next_run_at)
      arm(self, id, *c.task.next_run_at);
  };
}

// Cancel, trigger, pause, resume and edit are writes through persistence (`xs`: the request
// after its atom and id, the time of the change inserted); the coordinator acts on what was
// committed (unless it was a replay, which changed nothing).
template <class OnChange, class Atom, class Subject, class... Ts>
caf::result<task_change> change_task(coordinator_pointer self, OnChange on_change, Atom atom,
                                     Subject&& subject, Ts&&... xs) {
  auto& st = self->state;
  if (st.shutting_down)
    return make_error(ec::shutting_down, "the service is shutting down");
  auto rp = self->make_response_promise<task_change>();
  self->request(st.db, caf::infinite, atom, std::forward<Subject>(subject), st.clock->now_ms(),
                std::forward<Ts>(xs)...)
    .then(
      [=](task_change& c) mutable {
        if (!c.replayed)
          on_change(c);
        rp.deliver(std::move(c));
      },
      [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

} // namespace

coordinator_actor::behavior_type coordinator(coordinator_pointer self, persistence_actor db,
                                             std::shared_ptr<process_runner> runner,
                                             std::shared_ptr<wall_clock> clock,
                                             coordinator_options opts) {
  auto& st = self->state;
  st.db = std::move(db);
  st.runner = std::move(runner);
  st.clock = std::move(clock);
  st.opts = opts;
  st.wheel.emplace(st.clock->now_ms());
  if (st.opts.metrics)
    st.opts.metrics->run_slots_max(st.opts.max_running);
  // An executor that died without reporting (it should not) must still free its slot; its
  // run stays `running` and ends as interrupted at the next start.
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    for (auto i = st.executors.begin(); i != st.executors.end(); ++i) {
      if (i->second.address() == dm.source) {
        log::error("executor_died", {{"run", i->first}, {"reason", render(dm.reason)}});
        st.executors.erase(i);
        release_slot(self);
        return;
      }
    }
  });
  return {
    [=](schedule_atom, new_task& t) -> caf::result<task_record> {
      if (self->state.shutting_down)
        return make_error(ec::shutting_down, "the service is shutting down");
      auto rp = self->make_response_promise<task_record>();
      self->request(self->state.db, caf::infinite, schedule_atom::value, std::move(t))
        .then(
          [=](task_record& r) mutable {
            // A replay names a task that is already armed, running or done.
            if (!r.replayed) {
              // Guarded: the fields would be formatted even with debug off.
              if (log::enabled(log::level::debug))
                log::debug("task_scheduled", {{"task", r.id}, {"due", r.due}});
              if (auto& m = self->state.opts.metrics)
                m->task_scheduled();
              arm(self, r.id, r.due);
            }
            rp.deliver(std::move(r));
          },
          [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [=](load_atom, std::vector<pending_entry>& entries) {
      auto& st = self->state;
      for (auto& e : entries)
        st.wheel->insert(e.id, e.due);
      log::info("pending_loaded", {{"tasks", entries.size()}});
      arm_tick(self, st.clock->now_us());
    },
    [=](tick_atom) { on_tick(self); },
    [=](rearm_atom, task_id task, millis at) {
      // A retry comes due like a new task; during shutdown it stays pending for the next
      // start (load_pending finds it). A recurring task armed for an earlier occurrence
      // keeps it: its claim then finds the retry and arms it.
      auto& st = self->state;
      if (st.shutting_down)
        return;
      if (auto armed = st.wheel->due_of(task); armed && *armed <= at)
        return;
      arm(self, task, at);
    },
    [=](done_atom, run_id run) {
      auto& st = self->state;
      st.executors.erase(run);
      if (auto i = st.waiting_on.find(run); i != st.waiting_on.end()) {
        if (!st.shutting_down)
          st.ready.emplace(st.clock->now_ms(), i->second);
        st.waiting_on.erase(i);
      }
      release_slot(self);
    },
    [=](cancel_atom atom, task_id id, request_key& key) {
      auto on_change = [=](const task_change& c) {
        forget(self, id);
        if (c.stop_run)
          stop_run(self, id, *c.stop_run);
      };
      return change_task(self, on_change, atom, id, std::move(key));
    },
    // A paused task leaves the wheel (a run in progress goes on). Trigger, resume and edit
    // arm what the store says comes next (the trigger's run, the next occurrence, at once
    // for an overdue one-shot, or nothing while a queued occurrence waits for its run).
    [=](trigger_atom atom, task_id id, request_key& key) {
      return change_task(self, rearm_after(self, id), atom, id, std::move(key));
    },
    [=](pause_atom atom, task_id id, request_key& key) {
      auto on_change = [=](const task_change&) { forget(self, id); };
      return change_task(self, on_change, atom, id, std::move(key));
    },
    [=](resume_atom atom, task_id id, request_key& key) {
      return change_task(self, rearm_after(self, id), atom, id, std::move(key));
    },
    [=](edit_atom atom, task_edit& e) {
      auto id = e.id;
      return change_task(self, rearm_after(self, id), atom, std::move(e));
    },
    [=](stats_atom) {
      auto& st = self->state;
      return coordinator_stats{st.wheel->size(), st.ready.size(), st.active,
                               st.shutting_down};
    },
    [=](shutdown_atom, int64_t grace_ms) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      if (st.shutting_down)
        return make_error(ec::shutting_down, "shutdown already in progress");
      st.shutting_down = true;
      log::info("coordinator_shutdown", {{"running", st.executors.size()},
                                         {"grace_ms", grace_ms}});
      // Claimed runs whose time has not come never start: their executors give up the held
      // process and undo the claim; the tasks stay pending.
      for (auto& entry : st.claimed)
        if (auto i = st.executors.find(entry.second.run); i != st.executors.end())
          self->send(i->second, unclaim_atom::value);
      st.claimed.clear();
      st.shutdown_rp = self->make_response_promise<caf::ok_atom>();
      auto rp = st.shutdown_rp;
      if (st.active == 0)
        maybe_finish_shutdown(self);
      else
        self->delayed_send(self, std::chrono::milliseconds(grace_ms), kill_atom::value);
      return rp;
    },
    [=](kill_atom) {
      auto cap = self->state.opts.shutdown_kill_grace_ms;
      for (auto& entry : self->state.executors) {
        log::warn("run_killed_at_shutdown", {{"run", entry.first}});
        self->send(entry.second, kill_atom::value, cap);
      }
    },
    [=](retry_atom) {
      self->state.claims_paused = false;
      dispatch(self);
    },
  };
}

} // namespace ts
