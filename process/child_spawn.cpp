#include "process/child_spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
// glibc 2.36's header lacks __BEGIN_DECLS, so C++ would look for a mangled name.
extern "C" {
#include <sys/pidfd.h>
}
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/clock.hpp"
#include "core/error.hpp"

extern char** environ;

namespace ts {

namespace {

// The file actions reuse 0..2 for the child's stdio, so the pipe must not sit there (it
// could, if the service was started with a closed stdin).
int move_above_stdio(int fd) {
  if (fd > 2)
    return fd;
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  return moved;
}

int spawn(const std::string& shell, const std::string& command, int write_fd, pid_t& pid) {
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
  // The service blocks or ignores some signals (SIGPIPE, SIGINT, SIGTERM, ...); commands
  // must start as they would from a shell.
  sigfillset(&defaults);
  if (rc == 0)
    rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (rc == 0)
    rc = posix_spawn_file_actions_adddup2(&actions, write_fd, 1);
  if (rc == 0)
    rc = posix_spawn_file_actions_adddup2(&actions, write_fd, 2);
  if (rc == 0) // no descriptor of the service leaks into commands
    rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
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
    char* argv[] = {const_cast<char*>(shell.c_str()), const_cast<char*>("-c"),
                    const_cast<char*>(command.c_str()), nullptr};
    // glibc spawns with clone(CLONE_VM | CLONE_VFORK): no page-table copy of our heap.
    rc = posix_spawn(&pid, shell.c_str(), &actions, &attr, argv, environ);
  }
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  return rc;
}

} // namespace

caf::expected<started_child> spawn_child(const std::string& shell, const std::string& command) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return make_error(ec::start_failed, errno_text("pipe2", errno));
  int read_fd = move_above_stdio(fds[0]);
  int write_fd = move_above_stdio(fds[1]);
  if (read_fd < 0 || write_fd < 0) {
    auto err = errno;
    close_fd(read_fd);
    close_fd(write_fd);
    return make_error(ec::start_failed, errno_text("fcntl", err));
  }
  ::fcntl(read_fd, F_SETFL, O_NONBLOCK);
  pid_t pid = 0;
  int rc = spawn(shell, command, write_fd, pid);
  close_fd(write_fd);
  if (rc != 0) {
    close_fd(read_fd);
    return make_error(ec::start_failed, errno_text("posix_spawn", rc));
  }
  started_child result;
  result.started_at = system_now_ms();
  // Nobody else reaps our children, so the pid still names this child, dead or alive.
  int pidfd = ::pidfd_open(pid, 0);
  if (pidfd < 0) {
    auto err = errno;
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    close_fd(read_fd);
    return make_error(ec::start_failed, errno_text("pidfd_open", err));
  }
  result.pid = pid;
  result.pidfd = pidfd;
  result.out_fd = read_fd;
  return result;
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
