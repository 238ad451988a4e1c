// The coordinator actor: keeps every pending task in a timer wheel (it never polls the
// database), claims each task shortly before its time, and starts it exactly at its time,
// within the concurrency bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "core/clock.hpp"
#include "core/defaults.hpp"
#include "actors/interfaces.hpp"
#include "metrics/metrics.hpp"
#include "process/process_runner.hpp"
#include "core/timer_wheel.hpp"

namespace ts {

struct coordinator_options {
  size_t max_running;
  int64_t claim_lead_ms;
  int64_t max_sleep_ms;
  /// At shutdown, the most a run's kill grace may be (--shutdown-kill-grace).
  int64_t shutdown_kill_grace_ms = defaults::shutdown_kill_grace_ms;
  /// Null under --metrics=off; handed on to the executors.
  std::shared_ptr<ts::metrics> metrics = nullptr;
};

coordinator_options default_coordinator_options();

struct coordinator_state {
  static inline const char* name = "coordinator";

  std::optional<timer_wheel> wheel;
  /// Due (or about to be), waiting for a run slot: earliest first, so one long command
  /// never holds back tasks that were due before the ones behind it.
  std::set<std::pair<millis, task_id>> ready;
  /// Claimed ahead of time, waiting for their exact start.
  std::multimap<millis, claim> claimed;
  std::unordered_map<run_id, executor_actor> executors;
  /// Recurring tasks whose next occurrence waits for a run to end (overlap queue and
  /// replace, catch-up runs): run -> task, claimed again when the run is done.
  std::unordered_map<run_id, task_id> waiting_on;
  /// Run slots in use: claims in flight, claimed and running.
  size_t active = 0;
  /// Actor-clock time (us) of the earliest tick already scheduled; 0 when none.
  int64_t next_wakeup_us = 0;
  /// Set while claims wait out a database outage.
  bool claims_paused = false;
  bool shutting_down = false;
  caf::typed_response_promise<caf::ok_atom> shutdown_rp;
  std::vector<pending_entry> fired;  // scratch for timer_wheel::advance

  persistence_actor db;
  std::shared_ptr<process_runner> runner;
  std::shared_ptr<wall_clock> clock;
  coordinator_options opts;
};

using coordinator_pointer = coordinator_actor::stateful_pointer<coordinator_state>;

coordinator_actor::behavior_type coordinator(coordinator_pointer self, persistence_actor db,
                                             std::shared_ptr<process_runner> runner,
                                             std::shared_ptr<wall_clock> clock,
                                             coordinator_options opts);

} // namespace ts
