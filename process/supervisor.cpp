// The supervisor thread of the posix runner (runner_core.hpp): one epoll loop over every
// child's pidfd and output pipe, the reaping, and the exit reports.
#include "process/runner_core.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "core/clock.hpp"
#include "process/child_spawn.hpp"

namespace ts {

namespace {

constexpr size_t read_chunk = 64 * 1024;
// Reads per readiness event of a running child: level-triggered epoll comes back for the
// rest, and one chatty child cannot starve the others.
constexpr int reads_per_event = 4;
// After the child exited, read what it left in the pipe (at most the pipe's capacity, 1 MiB
// by default at most) but do not follow a background grandchild that keeps writing.
constexpr size_t drain_after_exit = 1024 * 1024;
// A run's cgroup that still held processes when its command ended is retried this often.
constexpr int lingering_retry_ms = 1000;

} // namespace

void runner_core::run() {
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

// Kills what still runs (the whole run) and reaps it, without calling handlers.
void runner_core::kill_all() {
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
void runner_core::discard(child& c) {
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

void runner_core::wake() {
  uint64_t one = 1;
  // Fails only when the counter would overflow, and then the thread is awake anyway.
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof(one));
}

void runner_core::add(std::unique_ptr<child> c, std::vector<std::unique_ptr<child>>& done) {
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
void runner_core::read_output(child& c, size_t budget) {
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
void runner_core::emit(child& c, std::string piece) {
  if (piece.empty() || !c.on_output)
    return;
  try {
    c.on_output(std::move(piece));
  } catch (...) {
    // As for exit handlers: one handler must not take the supervisor down.
  }
}

void runner_core::reap(child& c, bool blocking) {
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

void runner_core::retry_lingering() {
  std::vector<std::string> still;
  for (auto& dir : lingering_)
    if (!remove_run_cgroup(dir))
      still.push_back(dir);
  lingering_.swap(still);
}

// Removes a descriptor from epoll before closing it: a spawning thread's child may hold a
// copy for a moment, and epoll watches the open file, not the descriptor.
void runner_core::unwatch(int& fd) {
  if (fd < 0)
    return;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  close_fd(fd);
}

} // namespace ts
