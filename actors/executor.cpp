#include "actors/executor.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>

#include <caf/send.hpp>

#include "core/defaults.hpp"
#include "core/error.hpp"
#include "core/log.hpp"

namespace ts {

namespace {

// Hands the outcome to persistence; the run slot is freed only once it is recorded (or
// queued during an outage), so a lost outcome can never let more runs start.
void report(executor_pointer self, persistence_actor db, coordinator_actor done_to) {
  auto& st = self->state;
  self->request(db, caf::infinite, finished_atom::value, st.outcome)
    .then(
      [=](caf::ok_atom) {
        self->send(done_to, done_atom::value, self->state.job.run);
        self->quit();
      },
      [=](caf::error& err) {
        log::warn("outcome_not_recorded", {{"task", self->state.job.task},
                                           {"run", self->state.job.run},
                                           {"error", render(err)}});
        self->delayed_send(self, std::chrono::seconds(1), retry_atom::value);
      });
}

void finish(executor_pointer self, const process_exit& e) {
  auto& st = self->state;
  auto& o = st.outcome;
  o.exit_code = e.exit_code;
  o.signal = e.signal;
  o.output = e.output;
  o.output_truncated = e.output_truncated;
  o.finished_at = e.finished_at;
  if (st.interrupted) {
    o.status = task_status::failure;
    o.reason = run_reason::interrupted;
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
  // Only a started process ends, so started_at is set here.
  auto duration_ms = std::max<millis>(o.finished_at - o.started_at.value_or(o.finished_at), 0);
  // The log line keeps the numbers its readers know for "none": exit_code=-1, signal=0.
  log::info("run_finished",
            {{"task", o.task}, {"run", o.run}, {"status", to_string(o.status)},
             {"reason", to_string(o.reason)}, {"exit_code", o.exit_code.value_or(-1)},
             {"signal", o.signal.value_or(0)}, {"duration_ms", duration_ms},
             {"output_bytes", o.output.size()}});
  if (st.metrics)
    st.metrics->run_finished(o.status, o.reason, std::chrono::milliseconds{duration_ms},
                             o.output.size());
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
  // The handler runs on the runner's thread: it only posts a message.
  auto handle = caf::actor_cast<executor_actor>(self);
  auto started = runner->start(st.job.command, [handle](process_exit e) {
    caf::anon_send(handle, exited_atom::value, std::move(e));
  });
  if (!started) {
    st.outcome.status = task_status::failure;
    st.outcome.reason = run_reason::start_failed;
    st.outcome.finished_at = clock->now_ms();
    st.outcome.output = render(started.error());
    log::warn("run_start_failed", {{"task", st.job.task}, {"run", st.job.run},
                                   {"error", render(started.error())}});
    if (st.metrics)
      st.metrics->run_finished(st.outcome.status, st.outcome.reason,
                               std::chrono::milliseconds{-1}, 0);
    report(self, db, done_to);
  } else {
    st.started = true;
    st.process = *started;
    st.outcome.started_at = started->started_at;
    // Measured here, in microseconds: the process exists from this point on.
    auto lateness_us = clock->now_us() - st.job.due * 1000;
    if (st.metrics)
      st.metrics->run_started(std::chrono::microseconds{lateness_us});
    self->send(db, started_atom::value,
               process_start{st.job.run, started->pid, started->pgid, started->start_ticks,
                             started->started_at});
    log::info("run_started", {{"task", st.job.task}, {"run", st.job.run},
                              {"pid", started->pid},
                              {"lateness_ms", started->started_at - st.job.due}});
  }
  return {
    [=](exited_atom, process_exit& e) {
      self->state.exited = true;
      finish(self, e);
      report(self, db, done_to);
    },
    [=](kill_atom) {
      auto& st = self->state;
      if (!st.started || st.exited)
        return;
      st.interrupted = true;
      // SIGTERM first, SIGKILL if the group is still there after the escalation delay.
      if (st.kills++ == 0) {
        runner->signal_group(st.process.pgid, SIGTERM);
        self->delayed_send(self, defaults::kill_escalation, kill_atom::value);
      } else {
        runner->signal_group(st.process.pgid, SIGKILL);
      }
    },
    [=](retry_atom) { report(self, db, done_to); },
  };
}

} // namespace ts
