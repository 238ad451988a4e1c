// Everything a start is made of before the supervisor watches it: the run's name (its
// TS_RUN_ID), its cgroup, its start marker, the command's environment and the spec, and the
// held helper they go to (child_spawn). prepare() and start() in process_runner.cpp share it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <caf/expected.hpp>

#include "process/child_spawn.hpp"
#include "process/process_runner.hpp"
#include "process/run_scope.hpp"

namespace ts {

/// A helper spawned and held, and what was made for it.
struct launched {
  started_child sc;
  uint64_t handle = 0;
  std::string key;     // TS_RUN_ID
  std::string cgroup;  // the run's cgroup directory, or empty
  bool marked = false;  // the helper marks its start (start_marks)
  uint64_t start_ticks = 0;
};

/// The run's name: its id, or for a start without an identity the runner's own handle.
std::string run_key(run_id run, uint64_t handle);

/// Where a helper marks its start: the marks file's descriptor and the run's slot in it.
struct start_mark {
  int fd = -1;
  uint64_t offset = 0;
};

/// Makes the run's cgroup and spawns the held helper, which marks its start at `mark` (if
/// given, for a start with an identity). Fails with ec::start_failed, having undone what it
/// made; without `wait_held` what the helper refuses shows at its exit instead
/// (helper_launch::wait_held).
caf::expected<launched> launch_held(const run_scope& scope, const std::string& shell,
                                    const std::string& helper, uint64_t handle,
                                    const std::string& command, const start_options& opts,
                                    std::optional<start_mark> mark, bool wait_held);

/// Removes the cgroup of a start that did not happen.
void undo_launch(const launched& l);

/// ts-exec-helper beside this executable (/proc/self/exe).
std::string default_helper();

} // namespace ts
