#include "process/process_runner.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "process/child_spawn.hpp"
#include "process/launch.hpp"
#include "process/output_buffer.hpp"
#include "process/proc_stat.hpp"
#include "process/start_marks.hpp"

namespace ts {

namespace {

constexpr size_t read_chunk = 64 * 1024;
// Reads per readiness event of a running child: level-triggered epoll comes back for the
// rest, and one chatty child cannot starve the others.
constexpr int reads_per_event = 4;
// After the child exited, read what it left in the pipe (at most the pipe's capacity, 1 MiB
// by default at most) but do not follow a background grandchild that keeps writing.
constexpr size_t drain_after_exit = 1024 * 1024;
// How long start() waits for exec to say it worked: far longer than it takes.
constexpr std::chrono::seconds exec_bound{30};
// A run's cgroup that still held processes when its command ended is retried this often.
constexpr int lingering_retry_ms = 1000;

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
  explicit runner_core(runner_options opts)
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

  ~runner_core() {
    close_fd(wake_fd_);
    close_fd(epoll_fd_);
    remove_scope(scope_);  // once empty
  }

  bool ready() const {
    return init_error_.empty();
  }

  const run_scope& scope() const {
    return scope_;
  }

  // Asks the thread to kill what still runs and end.
  void stop() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stopping_ = true;
    }
    wake();
  }

  caf::expected<spawned_process> prepare(const std::string& command, start_options opts,
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

  caf::expected<spawned_process> start(const std::string& command, start_options opts,
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

  caf::expected<millis> release(const spawned_process& p) {
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

  void abandon(const spawned_process& p) {
    std::lock_guard<std::mutex> guard{ctl_mtx_};
    auto i = controls_.find(p.handle);
    if (i != controls_.end() && i->second.state == hold::held) {
      close_fd(i->second.fd);  // end of file: the helper exits
      i->second.state = hold::abandoned;
    }
  }

  void signal_run(const spawned_process& p, int sig) {
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

  void forget(const spawned_process& p) {
    if (marks_)
      marks_->give_back(p.run);
  }

  void run() {
    std::vector<epoll_event> events(64);
    std::vector<std::unique_ptr<child>> done;
    buffer_.resize(read_chunk);
    for (;;) {
      int timeout = lingering_.empty() ? -1 : lingering_retry_ms;
      int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        break; // cannot happen with valid descriptors
      }
      if (auto now = std::chrono::steady_clock::now(); now >= next_retry_) {
        next_retry_ = now + std::chrono::milliseconds(lingering_retry_ms);
        retry_lingering();
      }
      bool woken = false;
      for (int i = 0; i < n; ++i) {
        auto* w = static_cast<watch*>(events[i].data.ptr);
        if (w == nullptr) {
          woken = true;
          continue;
        }
        auto& c = *w->owner;
        if (c.finished) // an earlier event in this batch ended it
          continue;
        if (w->is_pidfd)
          reap(c);
        else
          read_output(c, reads_per_event * read_chunk);
        if (c.finished) {
          auto it = children_.find(&c);
          done.push_back(std::move(it->second));
          children_.erase(it);
        }
      }
      bool stop = false;
      if (woken) {
        uint64_t count = 0;
        [[maybe_unused]] auto r = ::read(wake_fd_, &count, sizeof(count));
        std::vector<std::unique_ptr<child>> fresh;
        {
          std::lock_guard<std::mutex> guard{mtx_};
          fresh.swap(incoming_);
          stop = stopping_;
        }
        for (auto& c : fresh)
          add(std::move(c), done);
      }
      // No lock held here: a handler may call start().
      for (auto& c : done) {
        c->result.output = c->output.str();
        c->result.output_truncated = c->output.truncated();
        try {
          c->on_exit(std::move(c->result));
        } catch (...) {
          // A throwing handler must not take the supervisor, and every other child, down.
        }
      }
      done.clear();
      if (stop)
        break;
    }
    kill_all();
  }

private:
  // A start without its own user runs as the runner's (--run-as), so `opts` says who runs
  // it from here on.
  caf::expected<launched> launch(const std::string& command, start_options& opts,
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

  void give_back_mark(const start_options& opts) {
    if (marks_ && opts.identity)
      marks_->give_back(opts.identity->run);
  }

  spawned_process handle_of(const launched& l, const start_options& opts) const {
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
  caf::error hand_over(std::unique_ptr<child> c) {
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

  // Kills what still runs (the whole run) and reaps it, without calling handlers.
  void kill_all() {
    std::vector<std::unique_ptr<child>> rest;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stopping_ = true;
      rest.swap(incoming_);
    }
    for (auto& entry : children_)
      rest.push_back(std::move(entry.second));
    children_.clear();
    for (auto& c : rest)
      discard(*c);
    retry_lingering();
  }

  // Kills the child's run and reaps the child, dropping its output and calling no handler.
  // Also on a thread of a caller (a start refused at shutdown): it leaves lingering_ alone.
  void discard(child& c) {
    ::kill(-c.pid, SIGKILL);  // unreaped, so the group id cannot have been reused
    hold state = hold::held;
    {
      std::lock_guard<std::mutex> guard{ctl_mtx_};
      siginfo_t info{};
      while (::waitid(P_PIDFD, static_cast<id_t>(c.pidfd), &info, WEXITED) != 0
             && errno == EINTR) {
      }
      if (auto i = controls_.find(c.handle); i != controls_.end()) {
        state = i->second.state;
        close_fd(i->second.fd);
        controls_.erase(i);
      }
    }
    // The rest of the run, setsid or not, so that its cgroup can go.
    kill_run_processes(scope_, c.key, std::chrono::seconds(1));
    remove_run_cgroup(c.cgroup);
    if (state != hold::released && c.marked != 0)
      marks_->give_back(c.marked);
    close_fd(c.status_fd);
    unwatch(c.out_fd);
    unwatch(c.pidfd);
  }

  void wake() {
    uint64_t one = 1;
    // Fails only when the counter would overflow, and then the thread is awake anyway.
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof(one));
  }

  void add(std::unique_ptr<child> c, std::vector<std::unique_ptr<child>>& done) {
    epoll_event out{};
    out.events = EPOLLIN;
    out.data.ptr = &c->out_watch;
    epoll_event pid{};
    pid.events = EPOLLIN;
    pid.data.ptr = &c->pid_watch;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c->out_fd, &out) != 0) {
      // Cannot watch the output (out of memory): it is lost, the exit still counts.
      close_fd(c->out_fd);
    }
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c->pidfd, &pid) != 0) {
      // Cannot wait for it without blocking: end it now rather than lose it.
      ::kill(-c->pid, SIGKILL);
      reap(*c, true);
      done.push_back(std::move(c));
      return;
    }
    auto* key = c.get();
    children_.emplace(key, std::move(c));
  }

  // Reads what is in the pipe, at most `budget` bytes, and hands it on as one piece (one
  // message per readiness event, not per read); closes the pipe at end of file.
  void read_output(child& c, size_t budget) {
    std::string piece;
    while (c.out_fd >= 0 && budget > 0) {
      auto n = ::read(c.out_fd, buffer_.data(), std::min(budget, buffer_.size()));
      if (n > 0) {
        piece += c.output.append(buffer_.data(), static_cast<size_t>(n));
        budget -= static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        break;
      unwatch(c.out_fd); // end of file or a read error
      break;
    }
    emit(c, std::move(piece));
  }

  // Calls the live output handler, on this thread and with no lock held.
  static void emit(child& c, std::string piece) {
    if (piece.empty() || !c.on_output)
      return;
    try {
      c.on_output(std::move(piece));
    } catch (...) {
      // As for exit handlers: one handler must not take the supervisor down.
    }
  }

  void reap(child& c, bool blocking = false) {
    siginfo_t info{};
    int options = WEXITED | (blocking ? 0 : WNOHANG);
    int rc;
    hold state = hold::held;
    {
      // With the release state: a release either happened before this exit or fails.
      std::lock_guard<std::mutex> guard{ctl_mtx_};
      while ((rc = ::waitid(P_PIDFD, static_cast<id_t>(c.pidfd), &info, options)) != 0
             && errno == EINTR) {
      }
      if (rc == 0 && info.si_pid == 0)
        return; // not exited yet
      if (auto i = controls_.find(c.handle); i != controls_.end()) {
        state = i->second.state;
        close_fd(i->second.fd);
        controls_.erase(i);
      }
    }
    c.result.finished_at = system_now_ms();
    if (rc == 0) {
      if (info.si_code == CLD_EXITED)
        c.result.exit_code = info.si_status;
      else
        c.result.signal = info.si_status;  // CLD_KILLED or CLD_DUMPED
    }
    // rc != 0 (ECHILD) only when someone reaped it behind our back (SIGCHLD ignored):
    // the status is lost, and the run reports neither an exit code nor a signal.
    c.result.start_error = read_start_error(c.status_fd);
    c.result.never_started = state != hold::released || c.result.start_error.has_value();
    close_fd(c.status_fd);
    if (c.result.never_started && c.marked != 0)
      marks_->give_back(c.marked);  // nothing to remember
    if (!remove_run_cgroup(c.cgroup))
      lingering_.push_back(c.cgroup);  // a background process of the run still lives
    // Whatever the child wrote is in the pipe by now; a grandchild that still holds the
    // pipe open does not hold back the report.
    read_output(c, drain_after_exit);
    // The stream ends here: a character still incomplete is replaced, live and in the tail.
    emit(c, c.output.finish());
    unwatch(c.out_fd);
    unwatch(c.pidfd);
    c.finished = true;
  }

  void retry_lingering() {
    std::vector<std::string> still;
    for (auto& dir : lingering_)
      if (!remove_run_cgroup(dir))
        still.push_back(dir);
    lingering_.swap(still);
  }

  // Removes a descriptor from epoll before closing it: a spawning thread's child may hold a
  // copy for a moment, and epoll watches the open file, not the descriptor.
  void unwatch(int& fd) {
    if (fd < 0)
      return;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    close_fd(fd);
  }

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

class posix_process_runner final : public process_runner {
public:
  explicit posix_process_runner(runner_options opts)
    : core_(std::make_shared<runner_core>(std::move(opts))) {
    if (!core_->ready())
      return;
    // The thread blocks every signal, so the service's own signal handling never lands on
    // it; it inherits the mask of the thread that creates it.
    sigset_t all;
    sigset_t old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    supervisor_ = std::thread([core = core_] { core->run(); });
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }

  ~posix_process_runner() override {
    if (!supervisor_.joinable())
      return;
    core_->stop();
    if (supervisor_.get_id() == std::this_thread::get_id())
      supervisor_.detach(); // destroyed by a handler: the thread finishes on its own
    else
      supervisor_.join();
  }

  caf::expected<spawned_process> start(const std::string& command, start_options opts,
                                       exit_handler on_exit) override {
    return core_->start(command, std::move(opts), std::move(on_exit));
  }

  caf::expected<spawned_process> prepare(const std::string& command, start_options opts,
                                         exit_handler on_exit) override {
    return core_->prepare(command, std::move(opts), std::move(on_exit));
  }

  caf::expected<millis> release(const spawned_process& p) override {
    return core_->release(p);
  }

  void abandon(const spawned_process& p) override {
    core_->abandon(p);
  }

  void signal_run(const spawned_process& p, int sig) override {
    core_->signal_run(p, sig);
  }

  void forget(const spawned_process& p) override {
    core_->forget(p);
  }

  kill_mode active_kill_mode() const override {
    return core_->scope().mode;
  }

  std::string kill_mode_detail() const override {
    return core_->scope().detail;
  }

private:
  std::shared_ptr<runner_core> core_;
  std::thread supervisor_;
};

} // namespace

std::shared_ptr<process_runner> make_posix_process_runner(runner_options opts) {
  return std::make_shared<posix_process_runner>(std::move(opts));
}

bool kill_leftover(int32_t pid, int32_t pgid, uint64_t start_ticks) {
  if (pid <= 0 || pgid <= 1 || start_ticks == 0)
    return false;
  if (process_start_ticks(pid) != start_ticks)
    return false; // gone, or the pid now names another process
  return ::kill(-pgid, SIGKILL) == 0;
}

} // namespace ts
