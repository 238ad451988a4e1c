#include "process/child_spawn.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
// glibc 2.36's header lacks __BEGIN_DECLS, so C++ would look for a mangled name.
extern "C" {
#include <sys/pidfd.h>
}
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.hpp"
#include "process/exec_spec.hpp"

namespace ts {

namespace {

// posix_spawn's file actions put the helper's descriptors at 0..6; ours must sit above,
// or one dup2 could overwrite the source of the next.
constexpr int above_helper_fds = 10;

int move_high(int fd) {
  if (fd < 0 || fd >= above_helper_fds)
    return fd;
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, above_helper_fds);
  ::close(fd);
  return moved;
}

// Everything a spawn opens, closed on every path out.
struct fds {
  int out_r = -1, out_w = -1, ctl_ours = -1, ctl_theirs = -1, status_r = -1, status_w = -1,
      spec = -1, marker = -1;
  ~fds() {
    for (int* fd : {&out_r, &out_w, &ctl_ours, &ctl_theirs, &status_r, &status_w, &spec, &marker})
      close_fd(*fd);
  }
  bool all_high() {
    for (int* fd : {&out_r, &out_w, &ctl_ours, &ctl_theirs, &status_r, &status_w, &spec, &marker})
      if (*fd >= 0 && (*fd = move_high(*fd)) < 0)
        return false;
    return true;
  }
};

int spawn(const helper_launch& l, const fds& f, pid_t& pid) {
  using namespace exec_spec;
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  int rc = posix_spawn_file_actions_init(&actions);
  if (rc != 0)
    return rc;
  rc = posix_spawnattr_init(&attr);
  if (rc != 0) {
    posix_spawn_file_actions_destroy(&actions);
    return rc;
  }
  sigset_t empty;
  sigset_t defaults;
  sigemptyset(&empty);
  // The service blocks or ignores some signals (SIGPIPE, SIGINT, SIGTERM, ...); the helper,
  // and so the command, must start as from a shell.
  sigfillset(&defaults);
  const std::pair<int, int> dups[] = {{f.out_w, 1},          {f.out_w, 2},
                                      {f.spec, spec_fd},     {f.ctl_theirs, control_fd},
                                      {f.status_w, status_fd}, {f.marker, marker_fd}};
  if (rc == 0)
    rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  for (auto [from, to] : dups)
    if (rc == 0 && from >= 0)
      rc = posix_spawn_file_actions_adddup2(&actions, from, to);
  if (rc == 0) // no descriptor of the service leaks into the helper, or the command
    rc = posix_spawn_file_actions_addclosefrom_np(&actions, first_free_fd);
  if (rc == 0)
    rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK
                                           | POSIX_SPAWN_SETSIGDEF);
  if (rc == 0)
    rc = posix_spawnattr_setpgroup(&attr, 0);
  if (rc == 0)
    rc = posix_spawnattr_setsigmask(&attr, &empty);
  if (rc == 0)
    rc = posix_spawnattr_setsigdefault(&attr, &defaults);
  if (rc == 0) {
    std::vector<char*> envp;
    for (auto& e : l.env)
      envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    char* argv[] = {const_cast<char*>("ts-exec-helper"), nullptr};
    // glibc spawns with clone(CLONE_VM | CLONE_VFORK): no page-table copy of our heap.
    rc = posix_spawn(&pid, l.helper.c_str(), &actions, &attr, argv, envp.data());
  }
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  return rc;
}

// What the helper said on its status pipe: its ready byte, its error text, or nothing.
struct status_reply {
  bool ready = false;
  std::optional<std::string> error;
};

// Without wait_held, the ready byte may still precede the error record.
status_reply read_status(int fd) {
  char buf[exec_spec::max_error_record + 1];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) < 0 && errno == EINTR) {
  }
  status_reply r;
  size_t len = n > 0 ? static_cast<size_t>(n) : 0;
  size_t at = 0;
  if (len >= 1 && buf[0] == exec_spec::status_ready) {
    r.ready = true;
    at = 1;
  }
  if (len - at >= 5 && buf[at] == exec_spec::status_error)
    r.error = std::string(buf + at + 5, len - at - 5);
  return r;
}

// Waits until `fd` is readable (data or end of file); false when `bound` passed first.
bool wait_readable(int fd, std::chrono::milliseconds bound) {
  pollfd p{fd, POLLIN, 0};
  int rc;
  while ((rc = ::poll(&p, 1, static_cast<int>(bound.count()))) < 0 && errno == EINTR) {
  }
  return rc > 0;
}

// Longer than any helper takes to get ready (a few ms, far more under the sanitizers).
constexpr std::chrono::seconds ready_bound{30};

} // namespace

caf::expected<started_child> spawn_helper(const helper_launch& l) {
  fds f;
  int out[2], ctl[2], status[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    return make_error(ec::start_failed, errno_text("pipe2", errno));
  f.out_r = out[0];
  f.out_w = out[1];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) != 0)
    return make_error(ec::start_failed, errno_text("socketpair", errno));
  f.ctl_ours = ctl[0];
  f.ctl_theirs = ctl[1];
  if (::pipe2(status, O_CLOEXEC) != 0)
    return make_error(ec::start_failed, errno_text("pipe2", errno));
  f.status_r = status[0];
  f.status_w = status[1];
  f.spec = ::memfd_create("ts-exec-spec", MFD_CLOEXEC);
  if (f.spec < 0)
    return make_error(ec::start_failed, errno_text("memfd_create", errno));
  // A copy of the caller's, which may sit anywhere below.
  if (l.marker_fd >= 0 && (f.marker = ::fcntl(l.marker_fd, F_DUPFD_CLOEXEC, above_helper_fds)) < 0)
    return make_error(ec::start_failed, errno_text("fcntl", errno));
  if (!f.all_high())
    return make_error(ec::start_failed, errno_text("fcntl", errno));
  for (size_t at = 0; at < l.spec.size();) {
    auto n = ::write(f.spec, l.spec.data() + at, l.spec.size() - at);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return make_error(ec::start_failed, errno_text("memfd write", errno));
    at += static_cast<size_t>(n);
  }
  pid_t pid = 0;
  int rc = spawn(l, f, pid);
  // The helper's copies are its own now.
  close_fd(f.out_w);
  close_fd(f.ctl_theirs);
  close_fd(f.status_w);
  close_fd(f.spec);
  close_fd(f.marker);
  if (rc != 0)
    return make_error(ec::start_failed, errno_text(("exec helper " + l.helper).c_str(), rc));
  started_child c;
  c.pid = pid;
  // Nobody else reaps our children, so the pid still names this child, dead or alive.
  c.pidfd = ::pidfd_open(pid, 0);
  if (c.pidfd < 0) {
    auto err = errno;
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return make_error(ec::start_failed, errno_text("pidfd_open", err));
  }
  std::swap(c.out_fd, f.out_r);
  std::swap(c.control_fd, f.ctl_ours);
  std::swap(c.status_fd, f.status_r);
  ::fcntl(c.out_fd, F_SETFL, O_NONBLOCK);
  if (!l.wait_held) {
    ::fcntl(c.status_fd, F_SETFL, O_NONBLOCK);
    return c;
  }
  status_reply r;
  if (wait_readable(c.status_fd, ready_bound))
    r = read_status(c.status_fd);
  if (!r.ready) {
    kill_and_reap(c);
    return make_error(ec::start_failed,
                      r.error.value_or("exec helper " + l.helper + " ended before it was held"));
  }
  ::fcntl(c.status_fd, F_SETFL, O_NONBLOCK);
  return c;
}

int release_helper(int control_fd) {
  char go = 1;
  ssize_t n;
  while ((n = ::send(control_fd, &go, 1, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  return n == 1 ? 0 : errno;
}

std::optional<std::string> wait_exec(int status_fd, std::chrono::milliseconds bound) {
  if (!wait_readable(status_fd, bound))
    return std::nullopt;
  return read_status(status_fd).error;
}

std::optional<std::string> read_start_error(int status_fd) {
  return status_fd < 0 ? std::nullopt : read_status(status_fd).error;
}

void kill_and_reap(started_child& c) {
  ::kill(-c.pid, SIGKILL);  // unreaped, so the group id cannot have been reused
  siginfo_t info{};
  while (c.pidfd >= 0 && ::waitid(P_PIDFD, static_cast<id_t>(c.pidfd), &info, WEXITED) != 0
         && errno == EINTR) {
  }
  for (int* fd : {&c.pidfd, &c.out_fd, &c.control_fd, &c.status_fd})
    close_fd(*fd);
}

std::string errno_text(const char* what, int err) {
  std::string out{what};
  out += ": ";
  out += std::strerror(err);
  return out;
}

void close_fd(int& fd) {
  if (fd >= 0) {
    ::close(fd);
    fd = -1;
  }
}

} // namespace ts
