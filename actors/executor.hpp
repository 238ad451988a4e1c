// The executor actor: one per run. It starts the claimed command through the process
// runner, records the process, and reports the outcome to persistence, then to the
// coordinator, and ends.
#pragma once

#include <memory>

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
  bool started = false;
  /// Set once the process has ended: its group must not be signalled any more.
  bool exited = false;
  /// Set once shutdown asked to kill the run: it then ends as interrupted.
  bool interrupted = false;
  int kills = 0;
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
