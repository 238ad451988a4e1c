// Starting one child, with no thread and no bookkeeping: `SHELL -c command` in its own
// process group, stdin from /dev/null, stdout and stderr into one non-blocking pipe, and a
// pidfd to wait on it. The runner's supervisor thread (process_runner.cpp) watches what this
// returns. Also the two descriptor helpers both sides use.
#pragma once

#include <cstdint>
#include <string>

#include <caf/expected.hpp>

#include "core/types.hpp"

namespace ts {

/// A child that runs: its descriptors belong to the caller, who must reap it.
struct started_child {
  int32_t pid = 0;
  int pidfd = -1;
  int out_fd = -1;  // the read end of the child's stdout and stderr, O_NONBLOCK
  millis started_at = 0;
};

/// Spawns `shell -c command`. Fails with ec::start_failed (and nothing left running or
/// open) when the child could not be started.
caf::expected<started_child> spawn_child(const std::string& shell, const std::string& command);

/// "what: strerror(err)".
std::string errno_text(const char* what, int err);

/// Closes `fd` unless it is already closed, and marks it closed (-1).
void close_fd(int& fd);

} // namespace ts
