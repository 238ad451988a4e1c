#include "process/runner_core.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "process/child_spawn.hpp"

namespace ts {

namespace {

// How long start() waits for exec to say it worked: far longer than it takes.
constexpr std::chrono::seconds exec_bound{30};

} // namespace

runner_core::runner_core(runner_options opts)
  : opts_(std::move(opts)),
    scope_(resolve_scope(opts_)),
    helper_(opts_.helper.empty() ? default_helper() : opts_.helper) {
  init_error_ = scope_.error;
  if (!init_error_.empty())
    return;
  if (!scope_.marks_file.empty()) {
    marks_ = std::make_unique<start_marks::slots>(scope_.marks_file);
    if (!marks_->error().empty()) {
      init_error_ = "start marks: " + marks_->error();
      return;
    }
  }
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    init_error_ = errno_text("epoll_create1", errno);
    return;
  }
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    init_error_ = errno_text("eventfd", errno);
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the wake-up descriptor
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    init_error_ = errno_text("epoll_ctl", errno);
    return;
  }
}

runner_core::~runner_core() {
  close_fd(wake_fd_);
  close_fd(epoll_fd_);
  remove_scope(scope_);  // once empty
}

// Asks the thread to kill what still runs and end.
void runner_core::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
  }
  wake();
}

caf::expected<spawned_process> runner_core::prepare(const std::string& command, start_options opts,
                                                    process_runner::exit_handler on_exit) {
  // Not waiting for the helper to be held: a prepare runs on an actor's thread, which
  // must not block on the helper's set-up (a refusal ends the start at its exit).
  auto l = launch(command, opts, false);
  if (!l)
    return l.error();
  auto p = handle_of(*l, opts);
  {
    std::lock_guard<std::mutex> guard{ctl_mtx_};
    controls_[l->handle] = control{l->sc.control_fd, hold::held};
  }
  l->sc.control_fd = -1;
  if (auto err = hand_over(std::make_unique<child>(std::move(*l), opts, std::move(on_exit))))
    return err;
  return p;
}

caf::expected<spawned_process> runner_core::start(const std::string& command, start_options opts,
                                                  process_runner::exit_handler on_exit) {
  auto l = launch(command, opts, true);
  if (!l)
    return l.error();
  auto p = handle_of(*l, opts);
  // Not yet the supervisor's: a failed exec is reported here, and no handler runs.
  int err = release_helper(l->sc.control_fd);
  p.started_at = system_now_ms();
  close_fd(l->sc.control_fd);
  auto failed = err != 0 ? std::optional<std::string>{errno_text("exec helper", err)}
                         : wait_exec(l->sc.status_fd, exec_bound);
  if (failed) {
    kill_and_reap(l->sc);
    undo_launch(*l);
    give_back_mark(opts);
    return make_error(ec::start_failed, *failed);
  }
  {
    std::lock_guard<std::mutex> guard{ctl_mtx_};
    controls_[l->handle] = control{-1, hold::released};
  }
  if (auto e = hand_over(std::make_unique<child>(std::move(*l), opts, std::move(on_exit))))
    return e;
  return p;
}

caf::expected<millis> runner_core::release(const spawned_process& p) {
  std::lock_guard<std::mutex> guard{ctl_mtx_};
  auto i = controls_.find(p.handle);
  if (i == controls_.end() || i->second.state != hold::held)
    return make_error(ec::start_failed, "not held: released, abandoned or ended");
  // Under the lock: the supervisor's reap sees either held or the outcome of this send.
  int err = release_helper(i->second.fd);
  close_fd(i->second.fd);
  i->second.state = err == 0 ? hold::released : hold::abandoned;
  if (err != 0)
    return make_error(ec::start_failed, errno_text("exec helper", err));
  return system_now_ms();
}

void runner_core::abandon(const spawned_process& p) {
  std::lock_guard<std::mutex> guard{ctl_mtx_};
  auto i = controls_.find(p.handle);
  if (i != controls_.end() && i->second.state == hold::held) {
    close_fd(i->second.fd);  // end of file: the helper exits
    i->second.state = hold::abandoned;
  }
}

void runner_core::signal_run(const spawned_process& p, int sig) {
  auto key = run_key(p.run, p.handle);
  {
    // The group too (a process that cleared its environment in scan mode), but only
    // while its leader is unreaped: after that the group id may name another group.
    std::lock_guard<std::mutex> guard{ctl_mtx_};
    if (p.pgid > 1 && controls_.count(p.handle) != 0)
      ::kill(-p.pgid, sig);
  }
  // A scan repeats for what forked between two passes (bounded: a process stuck in the
  // kernel does not die at once, and this runs on the caller's thread).
  if (sig == SIGKILL && scope_.mode == kill_mode::scan)
    kill_run_processes(scope_, key, std::chrono::milliseconds(100));
  else
    signal_run_processes(scope_, key, sig);
}

void runner_core::forget(const spawned_process& p) {
  if (marks_)
    marks_->give_back(p.run);
}

// A start without its own user runs as the runner's (--run-as), so `opts` says who runs
// it from here on.
caf::expected<launched> runner_core::launch(const std::string& command, start_options& opts,
                                            bool wait_held) {
  if (!init_error_.empty())
    return make_error(ec::start_failed, init_error_);
  if (!opts.user)
    opts.user = opts_.default_user;
  run_id run = opts.identity ? opts.identity->run : 0;
  std::optional<start_mark> mark;
  if (marks_ && run != 0)
    if (auto at = marks_->take(run))
      mark = start_mark{marks_->fd(), *at};
  auto l = launch_held(scope_, opts_.shell, helper_, next_handle_++, command, opts, mark,
                       wait_held);
  if (!l)
    give_back_mark(opts);
  return l;
}

void runner_core::give_back_mark(const start_options& opts) {
  if (marks_ && opts.identity)
    marks_->give_back(opts.identity->run);
}

spawned_process runner_core::handle_of(const launched& l, const start_options& opts) const {
  spawned_process p;
  p.pid = l.sc.pid;
  p.pgid = l.sc.pid;  // POSIX_SPAWN_SETPGROUP with 0: the helper leads its own group
  p.start_ticks = l.start_ticks;
  p.handle = l.handle;
  p.run = opts.identity ? opts.identity->run : 0;
  return p;
}

// Gives a child to the supervisor thread; refused while the runner is being destroyed
// (a start from a handler during shutdown).
caf::error runner_core::hand_over(std::unique_ptr<child> c) {
  bool first = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!stopping_) {
      first = incoming_.empty();
      incoming_.push_back(std::move(c));
    }
  }
  if (c != nullptr) {
    discard(*c);
    return make_error(ec::start_failed, "the process runner is shutting down");
  }
  if (first)
    wake();
  return {};
}

} // namespace ts
