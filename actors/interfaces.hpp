// Every actor interface of the system, and the atoms they speak. Read this file to learn
// the whole protocol.
#pragma once

#include <cstdint>
#include <string>
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
// -- the v1 resources
using task_atom = caf::atom_constant<caf::atom("task")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using run_atom = caf::atom_constant<caf::atom("run")>;
using output_atom = caf::atom_constant<caf::atom("output")>;
using append_atom = caf::atom_constant<caf::atom("append")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
using trigger_atom = caf::atom_constant<caf::atom("trigger")>;
using pause_atom = caf::atom_constant<caf::atom("pause")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;
using edit_atom = caf::atom_constant<caf::atom("edit")>;
// -- execution controls
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;
using rearm_atom = caf::atom_constant<caf::atom("rearm")>;
using release_atom = caf::atom_constant<caf::atom("release")>;

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
  // Stores output a running command wrote from byte `offset` of its stream on; batched
  // with the other writes, not answered (the executor sends it every so often).
  caf::reacts_to<append_atom, run_id, int64_t, std::string>,
  // v1 reads: a task (with its latest run and that run's last `int64_t` bytes of output),
  // lists of tasks and of runs, a run (with its last `int64_t` bytes), and a piece of a
  // run's output (offset, at most max bytes).
  caf::replies_to<task_atom, task_id, int64_t>::with<task_info>,
  caf::replies_to<list_atom, task_filter>::with<task_page>,
  caf::replies_to<list_atom, run_filter>::with<run_page>,
  caf::replies_to<run_atom, run_id, int64_t>::with<run_info>,
  caf::replies_to<output_atom, run_id, int64_t, int64_t>::with<output_slice>,
  // v1 writes, answered once durable: cancel (the run to stop comes back in the change)
  // and trigger (one more run due at the given time).
  caf::replies_to<cancel_atom, task_id, millis, request_key>::with<task_change>,
  caf::replies_to<trigger_atom, task_id, millis, request_key>::with<task_change>,
  // Pause (occurrences are skipped until resume; a no-op when paused already) and resume
  // (the paused occurrences become one skipped run; the coordinator arms next_run_at; a
  // no-op for an active task; ec::invalid_state once completed or cancelled).
  caf::replies_to<pause_atom, task_id, millis, request_key>::with<task_change>,
  caf::replies_to<resume_atom, task_id, millis, request_key>::with<task_change>,
  // An edit (PATCH) at the given time: the task's columns rewritten, version + 1, its next
  // occurrence found anew when the schedule changed; ec::version_mismatch for a stale
  // expected_version, ec::invalid_state for a cancelled task.
  caf::replies_to<edit_atom, task_edit, millis>::with<task_change>,
  // Answers when the database does (readiness).
  caf::replies_to<ping_atom>::with<caf::ok_atom>,
  // Commits the writes gathered so far (sent to itself).
  caf::reacts_to<flush_atom>,
  // Tries to reconnect after an outage (sent to itself, with backoff).
  caf::reacts_to<retry_atom>>;

/// One short-lived actor per run: prepares the process held (during the claim lead), starts
/// it at the due time, records it, reports its end.
using executor_actor = caf::typed_actor<
  // The due time has come (from the coordinator): release the held process.
  caf::reacts_to<release_atom>,
  // Shutdown came before the due time: the held process exits without running anything and
  // the claim is undone (the task stays pending for the next start).
  caf::reacts_to<unclaim_atom>,
  // The process ended (sent by the process runner's thread).
  caf::reacts_to<exited_atom, process_exit>,
  // Shutdown: SIGTERM the process group now, SIGKILL it after the task's kill grace capped
  // by the given ms (--shutdown-kill-grace); the run is interrupted.
  caf::reacts_to<kill_atom, int64_t>,
  // A cancel: SIGTERM, SIGKILL after the task's kill grace; the run ends cancelled.
  caf::reacts_to<cancel_atom>,
  // The task's timeout_s has passed (sent to itself): stopped as a cancel is, it ends timeout.
  caf::reacts_to<timeout_atom>,
  // The kill grace is over (sent to itself): SIGKILL if the process still runs.
  caf::reacts_to<tick_atom>,
  // Output the command wrote (sent by the process runner's thread, in order).
  caf::reacts_to<output_atom, std::string>,
  // Stores the output gathered since the last flush (sent to itself, every so often).
  caf::reacts_to<flush_atom>,
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
  // A failed attempt is retried (its waiting run is recorded): arm the task at that time.
  caf::reacts_to<rearm_atom, task_id, millis>,
  // Reports gauges.
  caf::replies_to<stats_atom>::with<coordinator_stats>,
  // Cancels a task (through persistence): its timer is dropped, a claimed run never starts,
  // a running one is stopped. Answered once durable.
  caf::replies_to<cancel_atom, task_id, request_key>::with<task_change>,
  // One more run of a task, now (through persistence), armed like a new task.
  caf::replies_to<trigger_atom, task_id, request_key>::with<task_change>,
  // Pauses a task (through persistence; its timer is dropped, a run in progress goes on) and
  // resumes it (armed at its next occurrence). Answered once durable.
  caf::replies_to<pause_atom, task_id, request_key>::with<task_change>,
  caf::replies_to<resume_atom, task_id, request_key>::with<task_change>,
  // Edits a task (through persistence), then arms it at its next_run_at. Answered once
  // durable.
  caf::replies_to<edit_atom, task_edit>::with<task_change>,
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
