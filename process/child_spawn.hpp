// Starting one child, with no thread and no bookkeeping: ts-exec-helper (exec_helper.cpp)
// in its own process group, stdin from /dev/null, stdout and stderr into one non-blocking
// pipe, the spec on a memfd, a control socket and a status pipe, and a pidfd to wait on it.
// The runner's supervisor thread (process_runner.cpp) watches what this returns. Also the
// two descriptor helpers every file of process/ uses.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace ts {

/// What a helper is started with.
struct helper_launch {
  std::string helper;             // the executable's path
  std::string spec;               // exec_spec::encode
  std::vector<std::string> env;   // the helper's own environment (the command's is in spec)
  int marker_fd = -1;             // passed on as exec_spec::marker_fd when >= 0
  /// Wait until the helper is held (its preparation done, or its refusal read). Without,
  /// spawn_helper returns once the helper runs, and a refusal shows at its exit
  /// (read_start_error): a prepare during the claim lead need not block its thread.
  bool wait_held = true;
};

/// A held helper: its descriptors belong to the caller, who must reap it.
struct started_child {
  int32_t pid = 0;
  int pidfd = -1;
  int out_fd = -1;      // the read end of the child's stdout and stderr, O_NONBLOCK
  int control_fd = -1;  // a socket, so that writing to a dead helper is EPIPE, not SIGPIPE
  int status_fd = -1;   // O_NONBLOCK: closed by a successful exec, else an error record
};

/// Spawns the helper and, with wait_held, waits until it is held. Fails with
/// ec::start_failed (with wait_held, also the helper's own message when it refused: a cwd, a
/// user, a cgroup), and then nothing is left running or open.
caf::expected<started_child> spawn_helper(const helper_launch& launch);

/// The release: one byte. 0, or the errno (EPIPE: the helper is gone).
int release_helper(int control_fd);

/// After a release: nullopt once the exec succeeded (the status pipe closed), else the
/// helper's message. Waits at most `bound`, then assumes the command runs.
std::optional<std::string> wait_exec(int status_fd, std::chrono::milliseconds bound);

/// The error record a dead helper left on its status pipe (after its ready byte, if that was
/// not read), if any. Never blocks.
std::optional<std::string> read_start_error(int status_fd);

/// SIGKILLs the helper's group, reaps it and closes every descriptor.
void kill_and_reap(started_child& c);

/// "what: strerror(err)".
std::string errno_text(const char* what, int err);

/// Closes `fd` unless it is already closed, and marks it closed (-1).
void close_fd(int& fd);

} // namespace ts
