// The posix runner's core, shared by its files: the children it supervises and the state
// both sides use. runner_core.cpp has the starts and the signals (any thread);
// supervisor.cpp the thread that watches every child, reads its output and reaps it.
// Internal to process/: the rest of the service sees process_runner.hpp.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/expected.hpp>

#include "process/launch.hpp"
#include "process/output_buffer.hpp"
#include "process/process_runner.hpp"
#include "process/run_scope.hpp"
#include "process/start_marks.hpp"

namespace ts {

struct child;

// What an epoll event points at: the child, and which of its descriptors became ready.
struct watch {
  child* owner;
  bool is_pidfd;
};

// Where the release of a child stands; guarded by runner_core::ctl_mtx_, and present until
// the child is reaped, so that a group signal never reaches a reused group id.
enum class hold { held, released, abandoned };
struct control {
  int fd = -1;
  hold state = hold::held;
};

struct child {
  child(launched&& l, start_options& opts, process_runner::exit_handler f)
    : handle(l.handle),
      key(std::move(l.key)),
      cgroup(std::move(l.cgroup)),
      marked(l.marked ? opts.identity->run : 0),
      pid(l.sc.pid),
      pidfd(l.sc.pidfd),
      out_fd(l.sc.out_fd),
      status_fd(l.sc.status_fd),
      output(opts.output_limit),
      on_output(std::move(opts.on_output)),
      on_exit(std::move(f)) {
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  uint64_t handle;
  std::string key;
  std::string cgroup;
  run_id marked;  // the run whose start mark is ours to give back, or 0
  int32_t pid;
  int pidfd;
  int out_fd;
  int status_fd;
  output_buffer output;
  std::function<void(std::string)> on_output;
  process_runner::exit_handler on_exit;
  watch pid_watch{this, true};
  watch out_watch{this, false};
  bool finished = false;
  process_exit result;
};

// Everything the supervisor thread touches. The thread shares ownership, so that the runner
// may even be destroyed from inside an exit handler (on the thread itself).
class runner_core {
public:
  explicit runner_core(runner_options opts);

  ~runner_core();

  bool ready() const {
    return init_error_.empty();
  }

  const run_scope& scope() const {
    return scope_;
  }

  // Asks the thread to kill what still runs and end.
  void stop();

  caf::expected<spawned_process> prepare(const std::string& command, start_options opts,
                                         process_runner::exit_handler on_exit);

  caf::expected<spawned_process> start(const std::string& command, start_options opts,
                                       process_runner::exit_handler on_exit);

  caf::expected<millis> release(const spawned_process& p);

  void abandon(const spawned_process& p);

  void signal_run(const spawned_process& p, int sig);

  void forget(const spawned_process& p);

  void run();

private:
  // A start without its own user runs as the runner's (--run-as), so `opts` says who runs
  // it from here on.
  caf::expected<launched> launch(const std::string& command, start_options& opts,
                                 bool wait_held);

  void give_back_mark(const start_options& opts);

  spawned_process handle_of(const launched& l, const start_options& opts) const;

  // Gives a child to the supervisor thread; refused while the runner is being destroyed
  // (a start from a handler during shutdown).
  caf::error hand_over(std::unique_ptr<child> c);

  // Kills what still runs (the whole run) and reaps it, without calling handlers.
  void kill_all();

  // Kills the child's run and reaps the child, dropping its output and calling no handler.
  // Also on a thread of a caller (a start refused at shutdown): it leaves lingering_ alone.
  void discard(child& c);

  void wake();

  void add(std::unique_ptr<child> c, std::vector<std::unique_ptr<child>>& done);

  // Reads what is in the pipe, at most `budget` bytes, and hands it on as one piece (one
  // message per readiness event, not per read); closes the pipe at end of file.
  void read_output(child& c, size_t budget);

  // Calls the live output handler, on this thread and with no lock held.
  static void emit(child& c, std::string piece);

  void reap(child& c, bool blocking = false);

  void retry_lingering();

  // Removes a descriptor from epoll before closing it: a spawning thread's child may hold a
  // copy for a moment, and epoll watches the open file, not the descriptor.
  void unwatch(int& fd);

  const runner_options opts_;
  const run_scope scope_;
  const std::string helper_;
  std::unique_ptr<start_marks::slots> marks_;  // with a state directory
  std::string init_error_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<uint64_t> next_handle_{1};

  // Guards the hand-over from start() to the thread; never held while a handler runs.
  std::mutex mtx_;
  std::vector<std::unique_ptr<child>> incoming_;
  bool stopping_ = false;

  // Guards controls_: release, abandon, group signals and the reaping they race with.
  std::mutex ctl_mtx_;
  std::unordered_map<uint64_t, control> controls_;

  // Owned by the supervisor thread.
  std::unordered_map<child*, std::unique_ptr<child>> children_;
  std::vector<std::string> lingering_;
  std::chrono::steady_clock::time_point next_retry_;
  std::vector<char> buffer_;
};

} // namespace ts
