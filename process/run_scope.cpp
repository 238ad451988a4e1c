#include "process/run_scope.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
// glibc 2.36's header lacks __BEGIN_DECLS, so C++ would look for a mangled name.
extern "C" {
#include <sys/pidfd.h>
}
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "core/sha256.hpp"
#include "process/child_spawn.hpp"

namespace ts {

namespace {

// A /proc or cgroupfs file, whole; nullopt when it cannot be read (the process is gone).
std::optional<std::string> read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return std::nullopt;
  std::string out;
  char buf[4096];
  for (;;) {
    auto n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// 0, or the errno of the failed open or write.
int write_file(const std::string& path, std::string_view text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  int err = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) ? 0
                                                                                      : errno;
  ::close(fd);
  return err;
}

bool make_dir(const std::string& path, std::string& why) {
  if (::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST)
    return true;
  why = errno_text(path.c_str(), errno);
  return false;
}

// The first cgroup2 mount in /proc/self/mountinfo ("... mountpoint opts - cgroup2 ...").
std::string cgroup2_mount() {
  auto text = read_file("/proc/self/mountinfo").value_or("");
  size_t pos = 0;
  while (pos < text.size()) {
    auto eol = text.find('\n', pos);
    auto line = text.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    pos = eol == std::string::npos ? text.size() : eol + 1;
    auto dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0)
      continue;
    // Fields: id parent major:minor root mountpoint ...
    size_t at = 0;
    for (int field = 0; field < 4 && at != std::string::npos; ++field)
      at = line.find(' ', at + 1);
    if (at == std::string::npos)
      continue;
    auto end = line.find(' ', at + 1);
    return line.substr(at + 1, end - at - 1);
  }
  return {};
}

// Our own cgroup in the v2 hierarchy ("0::/path" in /proc/self/cgroup).
std::string own_cgroup() {
  auto text = read_file("/proc/self/cgroup").value_or("");
  auto at = text.find("0::");
  if (at == std::string::npos || (at > 0 && text[at - 1] != '\n'))
    return "/";
  auto eol = text.find('\n', at);
  return text.substr(at + 3, eol == std::string::npos ? std::string::npos : eol - at - 3);
}

// The scope of a state directory is the same for every service started on it; a runner
// without one gets a scope of its own (this process, then a counter).
std::string scope_name(const std::string& state_dir) {
  if (!state_dir.empty()) {
    char* real = ::realpath(state_dir.c_str(), nullptr);
    std::string path = real != nullptr ? real : state_dir;
    ::free(real);
    return "s" + sha256_hex(path).substr(0, 16);
  }
  static std::atomic<unsigned> next{0};
  return "p" + std::to_string(::getpid()) + "-" + std::to_string(next++);
}

// The scopes of runners of their own whose process is gone (crashed, or killed as in the
// tests), with their empty run cgroups: nobody else can be using them. A state directory's
// scope stays for the next service on it.
void sweep(const std::string& parent) {
  DIR* d = ::opendir(parent.c_str());
  if (d == nullptr)
    return;
  std::vector<std::string> dead;
  while (auto* e = ::readdir(d)) {
    auto pid = e->d_name[0] == 'p' ? std::atoi(e->d_name + 1) : 0;
    if (e->d_type == DT_DIR && pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH)
      dead.push_back(parent + "/" + e->d_name);
  }
  ::closedir(d);
  for (auto& dir : dead) {
    if (DIR* runs = ::opendir(dir.c_str())) {
      while (auto* e = ::readdir(runs))
        if (std::strncmp(e->d_name, "run-", 4) == 0)
          ::rmdir((dir + "/" + e->d_name).c_str());
      ::closedir(runs);
    }
    ::rmdir(dir.c_str());
  }
}

// A parent that works: the scope's directory can be made, and processes can be moved into
// and killed in what it holds.
bool try_cgroup(const std::string& parent, run_scope& s, std::string& why) {
  auto dir = parent + "/" + s.name;
  if (!make_dir(parent, why) || !make_dir(dir, why))
    return false;
  for (auto file : {"/cgroup.procs", "/cgroup.kill"}) {
    if (::access((dir + file).c_str(), W_OK) != 0) {
      why = errno_text((dir + file).c_str(), errno);
      ::rmdir(dir.c_str());
      return false;
    }
  }
  s.cgroup_dir = dir;
  sweep(parent);
  return true;
}

std::string id_entry(const std::string& key) {
  return "TS_RUN_ID=" + key;
}

std::string scope_entry(const run_scope& s) {
  return "TS_RUN_SCOPE=" + s.name;
}

// Whether /proc/PID/environ holds both entries (as whole NUL-separated entries).
bool environ_names(const std::string& pid, const std::string& a, const std::string& b) {
  auto env = read_file("/proc/" + pid + "/environ");
  if (!env || env->empty())
    return false;
  bool has_a = false, has_b = false;
  for (size_t at = 0; at < env->size();) {
    auto end = env->find('\0', at);
    if (end == std::string::npos)
      end = env->size();
    std::string_view entry{env->data() + at, end - at};
    has_a = has_a || entry == a;
    has_b = has_b || entry == b;
    at = end + 1;
  }
  return has_a && has_b;
}

// Calls f(pid text) for each process in /proc but this one.
template <class F>
void for_each_process(F f) {
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr)
    return;
  auto own = std::to_string(::getpid());
  while (auto* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos
        && name != own)
      f(name);
  }
  ::closedir(dir);
}

// The scan: a pidfd first, then the environment read again, so that a pid reused between
// the two reads is never signalled.
int scan_signal(const run_scope& s, const std::string& key, int sig) {
  auto a = id_entry(key);
  auto b = scope_entry(s);
  int count = 0;
  for_each_process([&](const std::string& pid) {
    if (!environ_names(pid, a, b))
      return;
    int fd = ::pidfd_open(std::stoi(pid), 0);
    if (fd < 0)
      return;
    if (environ_names(pid, a, b) && ::pidfd_send_signal(fd, sig, nullptr, 0) == 0)
      ++count;
    ::close(fd);
  });
  return count;
}

// cgroup.procs, each pid checked against /proc/PID/cgroup after its pidfd is open.
int cgroup_signal(const run_scope& s, const std::string& dir, int sig) {
  if (sig == SIGKILL)
    return write_file(dir + "/cgroup.kill", "1") == 0 ? 1 : 0;
  auto procs = read_file(dir + "/cgroup.procs");
  if (!procs)
    return 0;
  auto member = "0::" + dir.substr(s.cgroup_mount.size()) + "\n";
  int count = 0;
  size_t at = 0;
  while (at < procs->size()) {
    auto eol = procs->find('\n', at);
    auto pid = procs->substr(at, eol == std::string::npos ? std::string::npos : eol - at);
    at = eol == std::string::npos ? procs->size() : eol + 1;
    if (pid.empty() || pid == std::to_string(::getpid()))
      continue;
    int fd = ::pidfd_open(std::stoi(pid), 0);
    if (fd < 0)
      continue;
    auto now = read_file("/proc/" + pid + "/cgroup").value_or("");
    if (now.find(member) != std::string::npos && ::pidfd_send_signal(fd, sig, nullptr, 0) == 0)
      ++count;
    ::close(fd);
  }
  return count;
}

bool populated(const std::string& dir) {
  auto events = read_file(dir + "/cgroup.events");
  return events && events->find("populated 1") != std::string::npos;
}

} // namespace

const char* to_string(kill_mode m) {
  switch (m) {
    case kill_mode::auto_detect: return "auto";
    case kill_mode::cgroup: return "cgroup";
    case kill_mode::scan: return "scan";
  }
  return "?";
}

std::optional<kill_mode> parse_kill_mode(std::string_view text) {
  for (auto m : {kill_mode::auto_detect, kill_mode::cgroup, kill_mode::scan})
    if (text == to_string(m))
      return m;
  return std::nullopt;
}

run_scope resolve_scope(const runner_options& opts) {
  run_scope s;
  std::string why;
  if (!opts.state_dir.empty()) {
    if (make_dir(opts.state_dir, why))
      s.marks_file = opts.state_dir + "/started.slots";
    else
      s.error = "start marks: " + why;
  }
  s.name = scope_name(opts.state_dir);
  if (opts.kill == kill_mode::scan) {
    s.detail = "scan (forced)";
    return s;
  }
  s.cgroup_mount = cgroup2_mount();
  std::vector<std::string> parents;
  if (!opts.cgroup_parent.empty()) {
    parents.push_back(opts.cgroup_parent);
  } else if (!s.cgroup_mount.empty()) {
    parents.push_back(s.cgroup_mount + "/taskschedulizer.slice");
    auto own = own_cgroup();
    if (own != "/")
      parents.push_back(s.cgroup_mount + own + "/taskschedulizer.runs");
  }
  why = s.cgroup_mount.empty() ? "no cgroup2 hierarchy is mounted" : "no cgroup parent";
  for (auto& p : parents) {
    if (p.compare(0, s.cgroup_mount.size(), s.cgroup_mount) != 0 || s.cgroup_mount.empty()) {
      why = p + " is not in the cgroup2 hierarchy";
      continue;
    }
    if (try_cgroup(p, s, why)) {
      s.mode = kill_mode::cgroup;
      s.detail = "cgroup (" + s.cgroup_dir + ")";
      return s;
    }
  }
  s.detail = "scan (no cgroup: " + why + ")";
  if (opts.kill == kill_mode::cgroup && s.error.empty())
    s.error = "kill mode cgroup is not available: " + why;
  return s;
}

std::string run_cgroup(const run_scope& scope, const std::string& key) {
  return scope.cgroup_dir.empty() ? std::string{} : scope.cgroup_dir + "/run-" + key;
}

std::string create_run_cgroup(const std::string& dir) {
  // Our scope goes when our runner ends (remove_scope): a runner of the same scope
  // starting meanwhile (tests do) makes it again.
  int err = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (::mkdir(dir.c_str(), 0755) == 0 || (err = errno) == EEXIST)
      return {};
    if (err != ENOENT)
      break;
    ::mkdir(dir.substr(0, dir.rfind('/')).c_str(), 0755);
  }
  return "cgroup " + errno_text(dir.c_str(), err);
}

void remove_scope(const run_scope& scope) {
  if (!scope.cgroup_dir.empty())
    ::rmdir(scope.cgroup_dir.c_str());
}

bool remove_run_cgroup(const std::string& dir) {
  return dir.empty() || ::rmdir(dir.c_str()) == 0 || errno == ENOENT;
}

int signal_run_processes(const run_scope& scope, const std::string& key, int sig) {
  if (scope.mode == kill_mode::cgroup)
    return cgroup_signal(scope, run_cgroup(scope, key), sig);
  return scan_signal(scope, key, sig);
}

bool kill_run_processes(const run_scope& scope, const std::string& key,
                        std::chrono::milliseconds bound, bool sweep) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  bool by_cgroup = scope.mode == kill_mode::cgroup;
  bool by_scan = !by_cgroup || sweep;
  auto dir = run_cgroup(scope, key);
  for (;;) {
    if (by_cgroup)
      cgroup_signal(scope, dir, SIGKILL);
    // A process forked between two passes is found by the next one.
    if (by_scan)
      scan_signal(scope, key, SIGKILL);
    bool left = (by_cgroup && populated(dir)) || (by_scan && count_run_processes(scope, key));
    if (!left)
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

int count_run_processes(const run_scope& scope, const std::string& key) {
  auto a = id_entry(key);
  auto b = scope_entry(scope);
  int count = 0;
  for_each_process([&](const std::string& pid) { count += environ_names(pid, a, b) ? 1 : 0; });
  return count;
}

} // namespace ts
