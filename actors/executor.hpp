// The executor actor: one per run. It starts the claimed command through the process
// runner, records the process, stores its output as it comes (in pieces, every so often),
// and reports the outcome to persistence, then to the coordinator, and ends.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <caf/actor_clock.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/clock.hpp"
#include "actors/interfaces.hpp"
#include "metrics/metrics.hpp"
#include "process/process_runner.hpp"

namespace ts {

struct executor_state {
  static inline const char* name = "executor";
  claim job;
  spawned_process process;
  /// Prepared and waiting for its release (the due time), or given up (shutdown, cancel).
  bool held = false;
  bool abandoned = false;
  bool started = false;
  /// Set once the process has ended: its group must not be signalled any more.
  bool exited = false;
  /// Set once shutdown asked to kill the run: it then ends as interrupted...
  bool interrupted = false;
  /// ... or once a cancel asked to stop it: it ends cancelled (which wins, as in the store).
  bool cancelled = false;
  /// ... or once its timeout passed: it ends timeout.
  bool timed_out = false;
  /// When SIGTERM went to the group, and when SIGKILL is due (the earliest of the graces
  /// asked: a shutdown may shorten a cancel's).
  std::optional<caf::actor_clock::time_point> term_sent;
  std::optional<caf::actor_clock::time_point> kill_at;
  bool kill_sent = false;
  /// Output gathered since the last append, and where it starts in the run's stream.
  std::string output;
  int64_t output_offset = 0;
  /// A flush_atom is on its way (a delayed send cannot be taken back).
  bool flush_armed = false;
  run_outcome outcome;
  /// Null under --metrics=off.
  std::shared_ptr<ts::metrics> metrics;
};

using executor_pointer = executor_actor::stateful_pointer<executor_state>;

/// `done_to` receives (done_atom, run_id) once the outcome is recorded; `m` may be null.
executor_actor::behavior_type executor(executor_pointer self, claim job,
                                       persistence_actor db, coordinator_actor done_to,
                                       std::shared_ptr<process_runner> runner,
                                       std::shared_ptr<wall_clock> clock,
                                       std::shared_ptr<ts::metrics> m);

} // namespace ts
