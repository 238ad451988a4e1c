#include "actors/executor.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <functional>

#include <caf/send.hpp>

#include "core/defaults.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/retry.hpp"
#include "process/run_env.hpp"

namespace ts {

namespace {

// Hands the outcome to persistence; the run slot is freed only once it is recorded (or
// queued during an outage), so a lost outcome can never let more runs start.
// The end of the executor: the outcome is durable, every process of the run is gone or
// killed, the slot is free.
void wind_up(executor_pointer self, process_runner& runner, const coordinator_actor& done_to) {
  auto& st = self->state;
  // The start marker that crash recovery reads can go.
  if (st.process.handle != 0)
    runner.forget(st.process);
  self->send(done_to, done_atom::value, st.job.run);
  self->quit();
}

void report(executor_pointer self, persistence_actor db, coordinator_actor done_to,
            std::shared_ptr<process_runner> runner) {
  auto& st = self->state;
  self->request(db, caf::infinite, finished_atom::value, st.outcome)
    .then(
      [=](caf::ok_atom) {
        auto& st = self->state;
        // The waiting attempt is durable now: the coordinator may arm it.
        if (st.outcome.retry_at)
          self->send(done_to, rearm_atom::value, st.job.task, *st.outcome.retry_at);
        wind_up(self, *runner, done_to);
      },
      [=](caf::error& err) {
        log::warn("outcome_not_recorded", {{"task", self->state.job.task},
                                           {"run", self->state.job.run},
                                           {"error", render(err)}});
        self->delayed_send(self, std::chrono::seconds(1), retry_atom::value);
      });
}

// Hands the output gathered so far to persistence, with where it starts in the run's stream.
// Not answered: persistence keeps pieces through an outage as far as its backlog allows,
// and the outcome carries the tail whatever became of them.
void store_output(executor_pointer self, const persistence_actor& db) {
  auto& st = self->state;
  if (st.output.empty())
    return;
  auto size = static_cast<int64_t>(st.output.size());
  self->send(db, append_atom::value, st.job.run, st.output_offset, std::move(st.output));
  st.output.clear();
  st.output_offset += size;
}

// SIGTERM to the group at the first request; SIGKILL `grace` later, or earlier when a later
// request asks for less (a shutdown caps a cancel's grace). Measured on the actor's clock:
// tick_atom checks the deadline, so that repeated requests never skip SIGTERM's grace.
void stop(executor_pointer self, process_runner& runner, std::chrono::milliseconds grace) {
  auto& st = self->state;
  auto now = self->clock().now();
  if (!st.term_sent) {
    st.term_sent = now;
    runner.signal_run(st.process, SIGTERM);
  }
  auto deadline = now + grace;
  if (st.kill_at && *st.kill_at <= deadline)
    return;
  st.kill_at = deadline;
  self->delayed_send(self, grace, tick_atom::value);
}

std::chrono::milliseconds task_grace(const executor_state& st) {
  return std::chrono::milliseconds{std::max<int64_t>(st.job.controls.kill_grace_ms, 0)};
}

// A failed attempt that its task retries is due again after the policy's delay: the store
// records the waiting attempt with the outcome, the coordinator arms it after (rearm_atom).
void decide_retry(executor_state& st) {
  auto& o = st.outcome;
  auto& policy = st.job.controls.retry;
  if (!retryable(policy, st.job.attempt, o.status, o.reason))
    return;
  o.retry_at = retry_time(policy, st.job.attempt, o.finished_at);
}

void finish(executor_pointer self, const process_exit& e) {
  auto& st = self->state;
  auto& o = st.outcome;
  o.exit_code = e.exit_code;
  o.signal = e.signal;
  o.output = e.output;
  o.output_truncated = e.output_truncated;
  o.finished_at = e.finished_at;
  if (st.cancelled) {
    o.status = task_status::failure;
    o.reason = run_reason::cancelled;
  } else if (st.interrupted) {
    o.status = task_status::failure;
    o.reason = run_reason::interrupted;
  } else if (st.timed_out) {
    o.status = task_status::failure;
    o.reason = run_reason::timeout;
    o.message = "the command ran longer than its timeout_s ("
                + std::to_string(static_cast<double>(st.job.controls.timeout_ms.value_or(0))
                                 / 1000.0)
                + " s)";
  } else if (e.signal) {
    o.status = task_status::failure;
    o.reason = run_reason::signal;
  } else if (e.exit_code == 0) {
    o.status = task_status::success;
    o.reason = run_reason::none;
  } else {
    o.status = task_status::failure;
    o.reason = run_reason::exit;
  }
  decide_retry(st);
  // Only a started process ends, so started_at is set here.
  auto duration_ms = std::max<millis>(o.finished_at - o.started_at.value_or(o.finished_at), 0);
  // The log line keeps the numbers its readers know for "none": exit_code=-1, signal=0.
  log::info("run_finished",
            {{"task", o.task}, {"run", o.run}, {"status", to_string(o.status)},
             {"reason", to_string(o.reason)}, {"exit_code", o.exit_code.value_or(-1)},
             {"signal", o.signal.value_or(0)}, {"duration_ms", duration_ms},
             {"output_bytes", o.output.size()}, {"attempt", st.job.attempt},
             {"retry_at", o.retry_at.value_or(0)}});
  if (st.metrics)
    st.metrics->run_finished(o.status, o.reason, std::chrono::milliseconds{duration_ms},
                             o.output.size());
}

// A start that failed before the command ran (prepare, or the release): the run ends
// start_failed with why, and may be retried.
void start_failed(executor_pointer self, millis now, std::string why) {
  auto& st = self->state;
  st.outcome.status = task_status::failure;
  st.outcome.reason = run_reason::start_failed;
  st.outcome.finished_at = now;
  st.outcome.output = why;
  st.outcome.message = std::move(why);
  decide_retry(st);
  log::warn("run_start_failed", {{"task", st.job.task}, {"run", st.job.run},
                                 {"error", *st.outcome.message}});
  if (st.metrics)
    st.metrics->run_finished(st.outcome.status, st.outcome.reason,
                             std::chrono::milliseconds{-1}, 0);
}

// The held process: the helper does everything that can fail (cwd, user, cgroup) now,
// during the claim lead, so that the due time costs one write.
caf::expected<spawned_process> prepare(executor_pointer self, process_runner& runner,
                                       process_runner::exit_handler on_exit,
                                       std::function<void(std::string)> on_output) {
  auto& st = self->state;
  auto& c = st.job.controls;
  start_options opts;
  opts.output_limit = static_cast<size_t>(std::max<int64_t>(st.job.output_limit_bytes, 0));
  opts.on_output = std::move(on_output);
  opts.identity = run_identity{st.job.task, st.job.run, st.job.attempt,
                               st.job.scheduled_for ? st.job.scheduled_for : st.job.due};
  for (auto& v : c.env)
    opts.env.emplace_back(v.key, v.value);
  opts.cwd = c.cwd;
  if (c.run_as) {
    auto user = resolve_user(*c.run_as);
    if (!user)
      return user.error();
    opts.user = std::move(*user);
  }
  return runner.prepare(st.job.command, std::move(opts), std::move(on_exit));
}

// The due time: one write releases the held helper, which execs the command.
void release(executor_pointer self, process_runner& runner, wall_clock& clock,
             const persistence_actor& db) {
  auto& st = self->state;
  if (!st.held)
    return;
  st.held = false;
  auto at = runner.release(st.process);
  if (!at) {
    // The helper is gone (it died, or was killed): nothing ran. Its exit, which follows,
    // ends the run start_failed.
    log::warn("release_failed", {{"run", st.job.run}, {"error", render(at.error())}});
    return;
  }
  st.started = true;
  st.process.started_at = *at;
  st.outcome.started_at = *at;
  // Measured here, in microseconds: the command runs from this point on.
  auto lateness_us = clock.now_us() - st.job.due * 1000;
  if (st.metrics)
    st.metrics->run_started(std::chrono::microseconds{lateness_us});
  self->send(db, started_atom::value,
             process_start{st.job.run, st.process.pid, st.process.pgid, st.process.start_ticks,
                           *at});
  log::info("run_started", {{"task", st.job.task}, {"run", st.job.run},
                            {"pid", st.process.pid}, {"attempt", st.job.attempt},
                            {"lateness_ms", *at - st.job.due}});
  if (auto t = st.job.controls.timeout_ms)
    self->delayed_send(self, std::chrono::milliseconds{*t}, timeout_atom::value);
}

// Shutdown before the due time: the claim is undone, the task stays pending.
void unclaim(executor_pointer self, const persistence_actor& db,
             const coordinator_actor& done_to) {
  auto run = self->state.job.run;
  self->request(db, caf::infinite, unclaim_atom::value, run)
    .then(
      [=](caf::ok_atom) {
        self->send(done_to, done_atom::value, run);
        self->quit();
      },
      [=](caf::error& err) {
        // It stays `starting` and the next start sees that it never ran.
        log::warn("unclaim_failed", {{"run", run}, {"error", render(err)}});
        self->send(done_to, done_atom::value, run);
        self->quit();
      });
}

} // namespace

executor_actor::behavior_type executor(executor_pointer self, claim job,
                                       persistence_actor db, coordinator_actor done_to,
                                       std::shared_ptr<process_runner> runner,
                                       std::shared_ptr<wall_clock> clock,
                                       std::shared_ptr<ts::metrics> m) {
  auto& st = self->state;
  st.metrics = std::move(m);
  st.job = std::move(job);
  st.outcome.run = st.job.run;
  st.outcome.task = st.job.task;
  // The handlers run on the runner's thread: they only post a message. The runner calls
  // the output handler for every piece before the exit handler, so they arrive in order.
  auto handle = caf::actor_cast<executor_actor>(self);
  auto prepared = prepare(self, *runner, [handle](process_exit e) {
    caf::anon_send(handle, exited_atom::value, std::move(e));
  }, [handle](std::string piece) {
    caf::anon_send(handle, output_atom::value, std::move(piece));
  });
  if (!prepared) {
    start_failed(self, clock->now_ms(), render(prepared.error()));
    report(self, db, done_to, runner);
  } else {
    st.process = *prepared;
    st.held = true;
  }
  return {
    [=](exited_atom, process_exit& e) {
      auto& st = self->state;
      st.exited = true;
      st.held = false;
      if (e.never_started) {
        // Nothing ran: given up for a shutdown (undo the claim), cancelled (the run ends
        // cancelled, never started), or the helper failed before exec (start_failed).
        if (st.abandoned && !st.cancelled) {
          unclaim(self, db, done_to);
          return;
        }
        if (st.cancelled) {
          st.outcome.status = task_status::failure;
          st.outcome.reason = run_reason::cancelled;
          st.outcome.finished_at = e.finished_at;
          log::info("run_cancelled_before_start", {{"task", st.job.task}, {"run", st.job.run}});
        } else {
          start_failed(self, e.finished_at,
                       e.start_error.value_or("the command could not be started"));
        }
        report(self, db, done_to, runner);
        return;
      }
      // A stopped run's leader is gone, but processes it left may ignore SIGTERM (a setsid
      // grandchild): whatever is left of the run is killed now, by its cgroup or TS_RUN_ID,
      // so that a stop never leaves part of a run behind.
      if (st.term_sent && !st.kill_sent) {
        st.kill_sent = true;
        runner->signal_run(st.process, SIGKILL);
      }
      // The rest of the stream goes first: persistence writes an append of a run before
      // the run's end, and a follower then reads the stream to its last byte.
      store_output(self, db);
      finish(self, e);
      report(self, db, done_to, runner);
    },
    [=](release_atom) { release(self, *runner, *clock, db); },
    [=](unclaim_atom) {
      auto& st = self->state;
      if (!st.held)
        return;
      st.held = false;
      st.abandoned = true;
      runner->abandon(st.process);
    },
    [=](output_atom, std::string& piece) {
      auto& st = self->state;
      if (st.output.empty())
        st.output = std::move(piece);
      else
        st.output += piece;
      // Every so often, not per piece: a chatty command must not cost a write per line.
      if (st.output.size() >= defaults::output_flush_bytes) {
        store_output(self, db);
      } else if (!st.flush_armed) {
        st.flush_armed = true;
        self->delayed_send(self, defaults::output_flush_interval, flush_atom::value);
      }
    },
    [=](flush_atom) {
      self->state.flush_armed = false;
      store_output(self, db);
    },
    [=](kill_atom, int64_t cap_ms) {
      auto& st = self->state;
      if (!st.started || st.exited)
        return;
      st.interrupted = true;
      stop(self, *runner, std::min(task_grace(st), std::chrono::milliseconds{cap_ms}));
    },
    [=](timeout_atom) {
      auto& st = self->state;
      if (!st.started || st.exited || st.cancelled || st.interrupted)
        return;
      st.timed_out = true;
      log::info("run_timed_out", {{"task", st.job.task}, {"run", st.job.run}});
      stop(self, *runner, task_grace(st));
    },
    [=](tick_atom) {
      auto& st = self->state;
      if (st.kill_sent || !st.kill_at || self->clock().now() < *st.kill_at)
        return;
      // Every process of the run (by its cgroup or its TS_RUN_ID), the leader's exit or not.
      st.kill_sent = true;
      runner->signal_run(st.process, SIGKILL);
    },
    [=](cancel_atom) {
      auto& st = self->state;
      // Held: it never runs; its exit (never started) ends the run cancelled.
      if (st.held) {
        st.held = false;
        st.cancelled = true;
        st.abandoned = true;
        runner->abandon(st.process);
        return;
      }
      // Before the start (it failed) or after the exit there is nothing to stop, and the
      // outcome stays what it is.
      if (!st.started || st.exited)
        return;
      st.cancelled = true;
      stop(self, *runner, task_grace(st));
    },
    [=](retry_atom) { report(self, db, done_to, runner); },
  };
}

} // namespace ts
