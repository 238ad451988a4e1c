// ts-exec-helper: what the runner spawns instead of the shell, because posix_spawn cannot
// join a cgroup, change user or wait before exec. It does everything that can fail first,
// says so on the status pipe, then blocks on the control socket: one byte runs the command,
// end of file (abandoned, or the service died) exits at once having run nothing. Single
// threaded and libc-only, so it starts fast; every descriptor it uses is set up by the
// runner (process/exec_spec.hpp), and the command inherits only 0..2.
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "process/exec_spec.hpp"
#include "process/start_marks.hpp"

namespace {

using namespace ts::exec_spec;

// Tells the runner why nothing runs (its text becomes the start_failed message) and exits.
[[noreturn]] void fail(int code, const char* what, const char* detail, int err) {
  char rec[max_error_record];
  rec[0] = status_error;
  int32_t e = err;
  std::memcpy(rec + 1, &e, sizeof(e));
  int n = std::snprintf(rec + 5, sizeof(rec) - 5, "%s%s%s: %s", what, *detail ? " " : "",
                        detail, std::strerror(err));
  size_t len = 5 + (n < 0 ? 0 : std::min<size_t>(static_cast<size_t>(n), sizeof(rec) - 6));
  [[maybe_unused]] auto w = ::write(status_fd, rec, len);
  ::_exit(code);
}

// The whole blob; the memfd's size is known, but a short read is still possible in theory.
char* read_spec(size_t& size) {
  struct stat st {};
  if (::fstat(spec_fd, &st) != 0 || st.st_size <= 0)
    return nullptr;
  size = static_cast<size_t>(st.st_size);
  auto* buf = static_cast<char*>(std::malloc(size));
  for (size_t at = 0; buf != nullptr && at < size;) {
    auto n = ::pread(spec_fd, buf + at, size - at, static_cast<off_t>(at));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return nullptr;
    at += static_cast<size_t>(n);
  }
  ::close(spec_fd);
  return buf;
}

} // namespace

int main() {
  // The status pipe must close on exec: that end of file is how the runner knows the
  // command runs. The control socket and the marker are no business of the command.
  if (::fcntl(status_fd, F_SETFD, FD_CLOEXEC) != 0) {
    static const char usage[] = "ts-exec-helper: only the TaskSchedulizer runner starts this\n";
    [[maybe_unused]] auto w = ::write(2, usage, sizeof(usage) - 1);
    return 2;
  }
  ::fcntl(control_fd, F_SETFD, FD_CLOEXEC);
  // A runner that died (or gave up) before reading our answers closed the status pipe: that
  // is EPIPE here, an exit having run nothing, not a death by SIGPIPE. Restored before exec,
  // which would pass an ignored signal on to the command.
  ::signal(SIGPIPE, SIG_IGN);
  size_t size = 0;
  char* blob = read_spec(size);
  view v;
  if (blob == nullptr || !decode(blob, size, v))
    fail(exit_prepare_failed, "exec helper", "spec", EINVAL);
  if (v.flags & has_marker)
    ::fcntl(marker_fd, F_SETFD, FD_CLOEXEC);

  // Joined first, while we may still write cgroup.procs: everything forked later stays in.
  if (v.flags & has_cgroup) {
    int fd = ::open(v.cgroup_procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0", 1) != 1)
      fail(exit_prepare_failed, "cgroup", v.cgroup_procs, errno);
    ::close(fd);
  }
  // Groups before the gid before the uid: each step needs the privilege the next drops.
  if (v.flags & has_user) {
    static_assert(sizeof(gid_t) == sizeof(uint32_t) && sizeof(uid_t) == sizeof(uint32_t));
    char id[16];
    std::snprintf(id, sizeof(id), "%u", v.uid);
    if (::setgroups(v.ngroups, reinterpret_cast<const gid_t*>(v.groups)) != 0)
      fail(exit_prepare_failed, "setgroups for uid", id, errno);
    if (::setgid(v.gid) != 0)
      fail(exit_prepare_failed, "setgid for uid", id, errno);
    if (::setuid(v.uid) != 0)
      fail(exit_prepare_failed, "setuid", id, errno);
  }
  // As the user the command runs as: "unusable" is judged with its permissions.
  if ((v.flags & has_cwd) && ::chdir(v.cwd) != 0)
    fail(exit_prepare_failed, "cwd", v.cwd, errno);

  char ready = status_ready;
  if (::write(status_fd, &ready, 1) != 1)
    ::_exit(exit_abandoned);  // the runner stopped listening: it will not release us
  char go = 0;
  ssize_t n;
  while ((n = ::read(control_fd, &go, 1)) < 0 && errno == EINTR) {
  }
  if (n != 1)
    ::_exit(exit_abandoned);

  // From here the command may run: the marker says so before exec can, so that a restart
  // after a crash never runs again what may have started (it need not survive power loss).
  constexpr auto record_size = ts::start_marks::record_size;
  char record[record_size];
  ts::start_marks::make_record(v.marker_run, record);
  auto at = static_cast<off_t>(v.marker_offset);
  if ((v.flags & has_marker) && ::pwrite(marker_fd, record, record_size, at) != record_size)
    fail(exit_prepare_failed, "start marker", "", errno);
  ::close(control_fd);
  ::signal(SIGPIPE, SIG_DFL);
  char* argv[] = {const_cast<char*>(v.shell), const_cast<char*>("-c"),
                  const_cast<char*>(v.command), nullptr};
  ::execve(v.shell, argv, v.env);
  int err = errno;
  // Nothing ran: the marker must not say otherwise.
  if (v.flags & has_marker) {
    const char zeros[record_size] = {};
    [[maybe_unused]] auto t = ::pwrite(marker_fd, zeros, record_size, at);
  }
  fail(exit_exec_failed, "exec", v.shell, err);
}
