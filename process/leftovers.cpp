#include "process/leftovers.hpp"

#include <dirent.h>
#include <poll.h>
#include <signal.h>
// glibc 2.36's header lacks __BEGIN_DECLS, so C++ would look for a mangled name.
extern "C" {
#include <sys/pidfd.h>
}
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "process/proc_stat.hpp"
#include "process/start_marks.hpp"

namespace ts {

namespace {

bool marker_written(const run_scope& scope, run_id run) {
  auto marked = start_marks::read_marked(scope.marks_file);
  return std::find(marked.begin(), marked.end(), run) != marked.end();
}

// SIGKILLs the process `pid` if it is still the one that started at `start_ticks`, and
// waits (a pidfd polls readable at exit, child of ours or not) at most `bound`.
void kill_helper(int32_t pid, uint64_t start_ticks, std::chrono::milliseconds bound) {
  if (pid <= 0 || start_ticks == 0)
    return;
  int fd = ::pidfd_open(pid, 0);
  if (fd < 0)
    return;
  // Checked after the pidfd is open, so the signal cannot reach a reused pid.
  if (process_start_ticks(pid) == start_ticks
      && ::pidfd_send_signal(fd, SIGKILL, nullptr, 0) == 0) {
    pollfd p{fd, POLLIN, 0};
    while (::poll(&p, 1, static_cast<int>(bound.count())) < 0 && errno == EINTR) {
    }
  }
  ::close(fd);
}

// Calls f(name) for each entry of `dir` but . and ..
template <class F>
void for_each_entry(const std::string& dir, F f) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr)
    return;
  while (auto* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..")
      f(name);
  }
  ::closedir(d);
}

} // namespace

const char* to_string(run_fate f) {
  return f == run_fate::never_started ? "never_started" : "may_have_started";
}

run_fate classify_leftover(const run_scope& scope, run_id run, int32_t pid,
                           uint64_t start_ticks, std::chrono::milliseconds bound) {
  if (scope.marks_file.empty() || marker_written(scope, run))
    return run_fate::may_have_started;
  // Not written yet. A held helper exits by itself at the end of its control socket, but
  // one released just before the crash may be about to write it: once no process of the
  // run is left, nothing can.
  kill_helper(pid, start_ticks, bound);
  kill_run_leftovers(scope, run, bound);
  return marker_written(scope, run) ? run_fate::may_have_started : run_fate::never_started;
}

bool kill_run_leftovers(const run_scope& scope, run_id run, std::chrono::milliseconds bound) {
  auto key = std::to_string(run);
  bool gone = kill_run_processes(scope, key, bound, true);
  remove_run_cgroup(run_cgroup(scope, key));
  return gone;
}

size_t prune_finished_runs(const run_scope& scope, const std::vector<run_id>& keep) {
  size_t removed = 0;
  if (!scope.marks_file.empty())
    removed = start_marks::clear_except(scope.marks_file, keep);
  if (!scope.cgroup_dir.empty()) {
    for_each_entry(scope.cgroup_dir, [&](const std::string& name) {
      if (name.compare(0, 4, "run-") == 0)
        remove_run_cgroup(scope.cgroup_dir + "/" + name);  // only an empty one goes
    });
  }
  return removed;
}

} // namespace ts
