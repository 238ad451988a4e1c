// Starts shell commands and reports how they ended. The executor actor talks to the
// abstract interface, so tests can substitute their own runner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>

#include "core/defaults.hpp"
#include "core/types.hpp"

namespace ts {

/// What the runner keeps of a command's output unless a start says otherwise.
constexpr size_t default_output_limit = static_cast<size_t>(defaults::output_limit_bytes);

/// How a process ended.
struct process_exit {
  std::optional<int32_t> exit_code;  // set when the process exited
  std::optional<int32_t> signal;     // set when a signal killed it
  std::string output;                // stdout and stderr interleaved, valid UTF-8
  bool output_truncated = false;     // true when older output was dropped
  millis finished_at = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, process_exit& x) {
  return f(caf::meta::type_name("ts.process_exit"), opt(x.exit_code), opt(x.signal),
           x.output, x.output_truncated, x.finished_at);
}

/// A started process.
struct spawned_process {
  int32_t pid = 0;
  int32_t pgid = 0;
  uint64_t start_ticks = 0;  // from /proc/PID/stat, to recognise the process after a crash
  millis started_at = 0;
};

/// What a start asks besides the command.
struct start_options {
  /// The tail of output that process_exit.output keeps, in bytes of the repaired stream.
  size_t output_limit = default_output_limit;
  /// Called with each piece of output as it is read (stdout and stderr interleaved,
  /// repaired into UTF-8 as process_exit.output is; a character that a read cut in two
  /// waits for its rest), in order, all of them before the exit handler: the pieces joined
  /// are the whole stream, and process_exit.output is its tail. Runs on the runner's thread
  /// like the exit handler and must be as cheap (post a message); empty: no live output.
  std::function<void(std::string)> on_output;
};

class process_runner {
public:
  using exit_handler = std::function<void(process_exit)>;

  virtual ~process_runner() = default;

  /// Starts `/bin/sh -c command` in a new process group, with stdin from /dev/null and
  /// stdout and stderr into one pipe. `on_exit` is called exactly once, from the runner's
  /// own thread (never a CAF scheduler thread), after the process has ended and the output
  /// it left in the pipe is read; it may run before start() returns, and may call start().
  /// Fails with ec::start_failed when nothing was started (and then calls no handler). Safe
  /// to call from any thread.
  virtual caf::expected<spawned_process> start(const std::string& command, start_options opts,
                                               exit_handler on_exit)
    = 0;

  /// Sends `sig` to the process group `pgid` of a process this runner started.
  virtual void signal_group(int32_t pgid, int sig) = 0;
};

/// The real runner: posix_spawn, and one thread that waits on every child and pipe (epoll
/// on pidfds and pipes), so no scheduler thread ever blocks on a child. A command is
/// reported once it has exited, even if a background process it left still holds the pipe
/// (that process stays in the group: signal_group ends it). Destroying the runner SIGKILLs
/// the groups of commands still running and reaps them, without calling their handlers.
/// The process must not ignore SIGCHLD (the kernel would reap children before the runner).
/// `shell` replaces /bin/sh (run as `SHELL -c command`); tests use a missing one to see a
/// start failure.
std::shared_ptr<process_runner> make_posix_process_runner(std::string shell = "/bin/sh");

/// Kills (SIGKILL) the process group of a process left over by a crash, but only when the
/// process `pid` still exists and started at `start_ticks` (process_start_ticks in
/// process/proc_stat.hpp; PIDs are reused). Returns true
/// when it sent the signal.
bool kill_leftover(int32_t pid, int32_t pgid, uint64_t start_ticks);

} // namespace ts
