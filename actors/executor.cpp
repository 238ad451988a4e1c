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

// SIGTERM to the group at the first request, SIGKILL at one that comes kill_escalation
// later: `again` is sent to itself for that. Measured on the actor's clock rather than
// counted, so that a cancel and a shutdown kill (or two cancels) in a row do not skip the
// grace SIGTERM gives.
template <class Atom>
void stop(executor_pointer self, process_runner& runner, Atom again) {
  auto& st = self->state;
  auto now = self->clock().now();
  if (!st.term_sent) {
    st.term_sent = now;
    runner.signal_group(st.process.pgid, SIGTERM);
    self->delayed_send(self, defaults::kill_escalation, again);
  } else if (now - *st.term_sent >= defaults::kill_escalation) {
    runner.signal_group(st.process.pgid, SIGKILL);
  }
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
  // The handlers run on the runner's thread: they only post a message. The runner calls
  // the output handler for every piece before the exit handler, so they arrive in order.
  auto handle = caf::actor_cast<executor_actor>(self);
  start_options opts;
  opts.output_limit = static_cast<size_t>(std::max<int64_t>(st.job.output_limit_bytes, 0));
  opts.on_output = [handle](std::string piece) {
    caf::anon_send(handle, output_atom::value, std::move(piece));
  };
  auto started = runner->start(st.job.command, std::move(opts), [handle](process_exit e) {
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
      // The rest of the stream goes first: persistence writes an append of a run before
      // the run's end, and a follower then reads the stream to its last byte.
      store_output(self, db);
      finish(self, e);
      report(self, db, done_to);
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
    [=](kill_atom) {
      auto& st = self->state;
      if (!st.started || st.exited)
        return;
      st.interrupted = true;
      stop(self, *runner, kill_atom::value);
    },
    [=](cancel_atom) {
      // Before the start (it failed) or after the exit there is nothing to stop, and the
      // outcome stays what it is.
      auto& st = self->state;
      if (!st.started || st.exited)
        return;
      st.cancelled = true;
      stop(self, *runner, cancel_atom::value);
    },
    [=](retry_atom) { report(self, db, done_to); },
  };
}

} // namespace ts
