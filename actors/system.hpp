// Wiring: recovers from a crash, loads pending tasks, and spawns the actors. The one place
// that decides how each actor runs (persistence detached, the rest on the scheduler).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "core/clock.hpp"
#include "actors/coordinator.hpp"
#include "actors/interfaces.hpp"
#include "metrics/metrics.hpp"
#include "actors/persistence.hpp"
#include "process/process_runner.hpp"
#include "process/run_scope.hpp"
#include "storage/store.hpp"

namespace ts {

struct service_options {
  coordinator_options coordinator = default_coordinator_options();
  persistence_options persistence = default_persistence_options();
  /// Instruments every actor and both option sets above when set (null: --metrics=off).
  std::shared_ptr<ts::metrics> metrics = nullptr;
  /// Where a shutdown saves the writes the database refused, and what the next start
  /// replays first (actors/persistence.hpp); empty: nowhere, they are lost (and logged).
  std::string recovery_path;
  /// Where the runner keeps its runs (the same options as make_posix_process_runner's), so
  /// that crash recovery finds a dead service's processes and start markers; absent: it can
  /// only kill recorded process groups, and proves nothing (every orphan is interrupted).
  std::optional<run_scope> scope;
};

struct service_actors {
  persistence_owner_actor persistence;
  coordinator_actor coordinator;
};

/// Replays the recovery file (refusing to start on a corrupt one), ends runs left
/// `running` by a crash as interrupted and kills their leftover processes, loads every
/// pending task, and spawns persistence (owning `db`) and the coordinator. Returns once the
/// coordinator holds every pending task.
caf::expected<service_actors> start_service(caf::actor_system& sys,
                                            std::shared_ptr<storage::store> db,
                                            std::shared_ptr<process_runner> runner,
                                            std::shared_ptr<wall_clock> clock,
                                            const service_options& opts);

/// Starts no new runs, lets running ones finish within `grace_ms` (then kills them), and
/// returns once every outcome is recorded. With the database away, persistence retries
/// until `grace_ms` after the call (at least once) and saves what is left to the recovery
/// file: the error then says so, and the caller should exit non-zero.
caf::error stop_service(caf::actor_system& sys, const service_actors& actors,
                        int64_t grace_ms);

} // namespace ts
