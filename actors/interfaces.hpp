// Every actor interface of the system, and the atoms they speak. Read this file to learn
// the whole protocol.
#pragma once

#include <cstdint>
#include <vector>

#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "process/process_runner.hpp"
#include "core/types.hpp"

namespace ts {

using schedule_atom = caf::atom_constant<caf::atom("schedule")>;
using claim_atom = caf::atom_constant<caf::atom("claim")>;
using unclaim_atom = caf::atom_constant<caf::atom("unclaim")>;
using started_atom = caf::atom_constant<caf::atom("started")>;
using finished_atom = caf::atom_constant<caf::atom("finished")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using load_atom = caf::atom_constant<caf::atom("load")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
using exited_atom = caf::atom_constant<caf::atom("exited")>;
using kill_atom = caf::atom_constant<caf::atom("kill")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;

/// The coordinator's gauges.
struct coordinator_stats {
  uint64_t pending = 0;      // armed in the timer wheel
  uint64_t waiting = 0;      // due, waiting for a run slot
  uint64_t running = 0;      // claimed or running
  bool shutting_down = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, coordinator_stats& x) {
  return f(caf::meta::type_name("ts.coordinator_stats"), x.pending, x.waiting, x.running,
           x.shutting_down);
}

/// Owns the database connection; everything else asks it by message. Writes that arrive
/// together are committed in one transaction (group commit); a write is answered only once
/// it has committed.
using persistence_actor = caf::typed_actor<
  // Stores a new task durably.
  caf::replies_to<schedule_atom, new_task>::with<task_record>,
  // Reads a task with its latest run.
  caf::replies_to<caf::get_atom, task_id>::with<task_view>,
  // Records a run as started for a pending task (at most once) and returns its command.
  caf::replies_to<claim_atom, task_id, millis>::with<claim>,
  // Undoes a claim whose process never started; the task is pending again.
  caf::replies_to<unclaim_atom, run_id>::with<caf::ok_atom>,
  // Records the process of a started run (pid, group, start time) for crash recovery.
  caf::reacts_to<started_atom, process_start>,
  // Records how a run ended. Answered once durable (or, during an outage, once queued).
  caf::replies_to<finished_atom, run_outcome>::with<caf::ok_atom>,
  // Answers when the database does (readiness).
  caf::replies_to<ping_atom>::with<caf::ok_atom>,
  // Commits the writes gathered so far (sent to itself).
  caf::reacts_to<flush_atom>,
  // Tries to reconnect after an outage (sent to itself, with backoff).
  caf::reacts_to<retry_atom>>;

/// One short-lived actor per run: starts the process, records it, reports its end.
using executor_actor = caf::typed_actor<
  // The process ended (sent by the process runner's thread).
  caf::reacts_to<exited_atom, process_exit>,
  // Shutdown: SIGTERM the process group now, SIGKILL it 5 s later; the run is interrupted.
  caf::reacts_to<kill_atom>,
  // Tries again to record the outcome after persistence refused it (sent to itself).
  caf::reacts_to<retry_atom>>;

/// Keeps every pending task in a timer wheel and starts runs at their time, within the
/// concurrency bound.
using coordinator_actor = caf::typed_actor<
  // Stores a new task (through persistence) and arms its timer; answered once durable.
  caf::replies_to<schedule_atom, new_task>::with<task_record>,
  // Arms timers for tasks loaded at start-up.
  caf::reacts_to<load_atom, std::vector<pending_entry>>,
  // Fires due timers and starts claimed runs whose time has come (sent to itself).
  caf::reacts_to<tick_atom>,
  // An executor's run has ended and its outcome is recorded: a run slot is free.
  caf::reacts_to<done_atom, run_id>,
  // Reports gauges.
  caf::replies_to<stats_atom>::with<coordinator_stats>,
  // Starts no new runs; answers once every running command has ended, killing those still
  // running after the grace period (in ms).
  caf::replies_to<shutdown_atom, int64_t>::with<caf::ok_atom>,
  // The grace period is over: tells every executor to kill its run (sent to itself).
  caf::reacts_to<kill_atom>,
  // Claims that failed during a database outage are tried again (sent to itself).
  caf::reacts_to<retry_atom>>;

/// Registers every message type by name, on every node alike.
void register_types(caf::actor_system_config& cfg);

} // namespace ts
