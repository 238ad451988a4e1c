#include "process/process_runner.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "process/child_spawn.hpp"
#include "process/output_buffer.hpp"
#include "process/proc_stat.hpp"

namespace ts {

namespace {

constexpr size_t read_chunk = 64 * 1024;
// Reads per readiness event of a running child: level-triggered epoll comes back for the
// rest, and one chatty child cannot starve the others.
constexpr int reads_per_event = 4;
// After the child exited, read what it left in the pipe (at most the pipe's capacity, 1 MiB
// by default at most) but do not follow a background grandchild that keeps writing.
constexpr size_t drain_after_exit = 1024 * 1024;

struct child;

// What an epoll event points at: the child, and which of its descriptors became ready.
struct watch {
  child* owner;
  bool is_pidfd;
};

struct child {
  child(int32_t pid, int pidfd, int out_fd, start_options opts, process_runner::exit_handler f)
    : pid(pid),
      pidfd(pidfd),
      out_fd(out_fd),
      output(opts.output_limit),
      on_output(std::move(opts.on_output)),
      on_exit(std::move(f)) {
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  int32_t pid;
  int pidfd;
  int out_fd;
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
  explicit runner_core(std::string shell) : shell_(std::move(shell)) {
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
  }

  bool ready() const {
    return init_error_.empty();
  }

  // Asks the thread to kill what still runs and end.
  void stop() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stopping_ = true;
    }
    wake();
  }

  caf::expected<spawned_process> start(const std::string& command, start_options opts,
                                       process_runner::exit_handler on_exit) {
    if (!init_error_.empty())
      return make_error(ec::start_failed, init_error_);
    auto spawned = spawn_child(shell_, command);
    if (!spawned)
      return spawned.error();
    auto pid = spawned->pid;
    spawned_process result;
    result.pid = pid;
    result.pgid = pid;  // POSIX_SPAWN_SETPGROUP with 0: the child leads its own group
    result.start_ticks = process_start_ticks(pid);
    result.started_at = spawned->started_at;
    auto c = std::make_unique<child>(pid, spawned->pidfd, spawned->out_fd, std::move(opts),
                                     std::move(on_exit));
    bool first = false;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (!stopping_) {
        first = incoming_.empty();
        incoming_.push_back(std::move(c));
      }
    }
    if (c != nullptr) {
      // The runner is being destroyed (start() from a handler during shutdown).
      discard(*c);
      return make_error(ec::start_failed, "the process runner is shutting down");
    }
    if (first)
      wake();
    return result;
  }

  void run() {
    std::vector<epoll_event> events(64);
    std::vector<std::unique_ptr<child>> done;
    buffer_.resize(read_chunk);
    for (;;) {
      int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), -1);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        break; // cannot happen with valid descriptors
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
  // Kills what still runs (the whole group) and reaps it, without calling handlers.
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
      ::kill(-c->pid, SIGKILL); // unreaped, so the group id cannot have been reused
    for (auto& c : rest)
      discard(*c);
  }

  // Kills the child's group and reaps the child, dropping its output.
  void discard(child& c) {
    ::kill(-c.pid, SIGKILL);
    siginfo_t info{};
    while (::waitid(P_PIDFD, static_cast<id_t>(c.pidfd), &info, WEXITED) != 0
           && errno == EINTR) {
    }
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
    while ((rc = ::waitid(P_PIDFD, static_cast<id_t>(c.pidfd), &info, options)) != 0
           && errno == EINTR) {
    }
    if (rc == 0 && info.si_pid == 0)
      return; // not exited yet
    c.result.finished_at = system_now_ms();
    if (rc == 0) {
      if (info.si_code == CLD_EXITED)
        c.result.exit_code = info.si_status;
      else
        c.result.signal = info.si_status;  // CLD_KILLED or CLD_DUMPED
    }
    // rc != 0 (ECHILD) only when someone reaped it behind our back (SIGCHLD ignored):
    // the status is lost, and the run reports neither an exit code nor a signal.
    // Whatever the child wrote is in the pipe by now; a grandchild that still holds the
    // pipe open does not hold back the report.
    read_output(c, drain_after_exit);
    // The stream ends here: a character still incomplete is replaced, live and in the tail.
    emit(c, c.output.finish());
    unwatch(c.out_fd);
    unwatch(c.pidfd);
    c.finished = true;
  }

  // Removes a descriptor from epoll before closing it: a spawning thread's child may hold a
  // copy for a moment, and epoll watches the open file, not the descriptor.
  void unwatch(int& fd) {
    if (fd < 0)
      return;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    close_fd(fd);
  }

  const std::string shell_;
  std::string init_error_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;

  // Guards the hand-over from start() to the thread; never held while a handler runs.
  std::mutex mtx_;
  std::vector<std::unique_ptr<child>> incoming_;
  bool stopping_ = false;

  // Owned by the supervisor thread.
  std::unordered_map<child*, std::unique_ptr<child>> children_;
  std::vector<char> buffer_;
};

class posix_process_runner final : public process_runner {
public:
  explicit posix_process_runner(std::string shell)
    : core_(std::make_shared<runner_core>(std::move(shell))) {
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

  void signal_group(int32_t pgid, int sig) override {
    // kill(0) or kill(-1) would hit our own group or every process.
    if (pgid > 1)
      ::kill(-pgid, sig);
  }

private:
  std::shared_ptr<runner_core> core_;
  std::thread supervisor_;
};

} // namespace

std::shared_ptr<process_runner> make_posix_process_runner(std::string shell) {
  return std::make_shared<posix_process_runner>(std::move(shell));
}

bool kill_leftover(int32_t pid, int32_t pgid, uint64_t start_ticks) {
  if (pid <= 0 || pgid <= 1 || start_ticks == 0)
    return false;
  if (process_start_ticks(pid) != start_ticks)
    return false; // gone, or the pid now names another process
  return ::kill(-pgid, SIGKILL) == 0;
}

} // namespace ts
