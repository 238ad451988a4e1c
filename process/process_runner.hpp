// Starts shell commands and reports how they ended. The executor actor talks to the
// abstract interface, so tests can substitute their own runner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>

#include "core/defaults.hpp"
#include "core/types.hpp"
#include "process/run_env.hpp"
#include "process/run_scope.hpp"

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
  /// The command provably did not run: abandoned, the helper died held, or exec failed
  /// after the release (then start_error says why). exit_code/signal are the helper's.
  bool never_started = false;
  std::optional<std::string> start_error;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, process_exit& x) {
  return f(caf::meta::type_name("ts.process_exit"), opt(x.exit_code), opt(x.signal),
           x.output, x.output_truncated, x.finished_at, x.never_started, opt(x.start_error));
}

/// A prepared or started process, and the handle to release, abandon or signal it.
struct spawned_process {
  int32_t pid = 0;   // the helper's, which becomes the command's at exec
  int32_t pgid = 0;
  uint64_t start_ticks = 0;  // from /proc/PID/stat, to recognise the process after a crash
  millis started_at = 0;     // the release; 0 while held
  uint64_t handle = 0;       // the runner's own name for it
  run_id run = 0;            // the identity's run, 0 without one
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
  /// Set over the service's environment (after the user's HOME, USER, ... and before TS_*).
  std::vector<std::pair<std::string, std::string>> env;
  /// Absolute; a missing or unusable one fails the start with a message that says why.
  std::optional<std::string> cwd;
  /// Run as this user (resolve_user); the service must be root for it.
  std::optional<run_user> user;
  /// For TS_TASK_ID, TS_RUN_ID, TS_ATTEMPT, TS_SCHEDULED_FOR and the start marker.
  std::optional<run_identity> identity;
};

class process_runner {
public:
  using exit_handler = std::function<void(process_exit)>;

  virtual ~process_runner() = default;

  /// prepare() and release() at once: for callers with nothing to do in between. Fails with
  /// ec::start_failed when nothing was started (and then calls no handler), including an
  /// exec that failed after the release.
  virtual caf::expected<spawned_process> start(const std::string& command, start_options opts,
                                               exit_handler on_exit)
    = 0;

  /// Spawns a held helper for `/bin/sh -c command` in a new process group (and the run's
  /// cgroup), with stdin from /dev/null and stdout and stderr into one pipe; it does
  /// everything that can fail (cwd, user, cgroup) and waits for release(). Returns once the
  /// helper runs, without waiting for that set-up: a refusal (a missing cwd, a user, a
  /// cgroup) ends the start never_started with the helper's message as start_error, at its
  /// exit, released or not. `on_exit` is called exactly once, from the runner's own thread
  /// (never a CAF scheduler thread), after the process ended and the output it left in the
  /// pipe is read; it may call the runner. Fails with ec::start_failed (no handler called)
  /// for what the runner refuses itself (a relative cwd, a NUL byte) or a failed spawn.
  /// Safe to call from any thread, as are the others.
  virtual caf::expected<spawned_process> prepare(const std::string& command,
                                                 start_options opts, exit_handler on_exit)
    = 0;

  /// Runs a prepared command now: one byte on a socket, the whole due-time work. Returns the
  /// start time; fails when it is not held (released, abandoned, or its helper died: that
  /// exit is reported never_started).
  virtual caf::expected<millis> release(const spawned_process& p) = 0;

  /// Gives a prepared command up: the helper exits having run nothing, and the exit handler
  /// reports never_started. Nothing for a process already released.
  virtual void abandon(const spawned_process& p) = 0;

  /// Sends `sig` to every process of the run, in its group or not (kill_mode).
  virtual void signal_run(const spawned_process& p, int sig) = 0;

  /// The run's outcome is durable: its start marker can go (recovery no longer asks).
  virtual void forget(const spawned_process& p) = 0;

  /// The active kill mode (cgroup or scan) and a line for the start-up log.
  virtual kill_mode active_kill_mode() const = 0;
  virtual std::string kill_mode_detail() const = 0;
};

/// The real runner: posix_spawn of ts-exec-helper, and one thread that waits on every child
/// and pipe (epoll on pidfds and pipes), so no scheduler thread ever blocks on a child. A
/// command is reported once it has exited, even if a background process it left still holds
/// the pipe (that process stays in the run: signal_run ends it). Destroying the runner
/// SIGKILLs the runs still running and reaps them, without calling their handlers. The
/// process must not ignore SIGCHLD (the kernel would reap children before the runner).
std::shared_ptr<process_runner> make_posix_process_runner(runner_options opts = {});

/// Kills (SIGKILL) the process group of a process left over by a crash, but only when the
/// process `pid` still exists and started at `start_ticks` (process_start_ticks in
/// process/proc_stat.hpp; PIDs are reused). Returns true when it sent the signal. (The
/// recovery of held starts is in process/leftovers.hpp.)
bool kill_leftover(int32_t pid, int32_t pgid, uint64_t start_ticks);

} // namespace ts
