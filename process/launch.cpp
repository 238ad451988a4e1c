#include "process/launch.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "core/error.hpp"
#include "process/exec_spec.hpp"
#include "process/proc_stat.hpp"

extern char** environ;

namespace ts {

namespace {

bool has_nul(const std::string& s) {
  return s.find('\0') != std::string::npos;
}

// What exec could not carry, refused before anything is spawned.
std::string invalid_input(const std::string& command, const start_options& opts) {
  if (has_nul(command))
    return "the command holds a NUL byte";
  for (auto& [name, value] : opts.env)
    if (name.empty() || name.find('=') != std::string::npos || has_nul(name) || has_nul(value))
      return "environment variable name or value not allowed: " + name;
  if (opts.cwd && (opts.cwd->empty() || opts.cwd->front() != '/' || has_nul(*opts.cwd)))
    return "cwd " + *opts.cwd + ": not an absolute path";
  return {};
}

} // namespace

std::string default_helper() {
  char buf[4096];
  auto n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  std::string self = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string{};
  auto slash = self.rfind('/');
  return (slash == std::string::npos ? std::string{"."} : self.substr(0, slash))
         + "/ts-exec-helper";
}

std::string run_key(run_id run, uint64_t handle) {
  return run != 0 ? std::to_string(run) : "local-" + std::to_string(handle);
}

caf::expected<launched> launch_held(const run_scope& scope, const std::string& shell,
                                    const std::string& helper, uint64_t handle,
                                    const std::string& command, const start_options& opts,
                                    std::optional<start_mark> mark, bool wait_held) {
  if (auto why = invalid_input(command, opts); !why.empty())
    return make_error(ec::start_failed, why);
  launched l;
  l.handle = handle;
  run_id run = opts.identity ? opts.identity->run : 0;
  l.key = run_key(run, l.handle);
  exec_spec::spec s;
  l.cgroup = run_cgroup(scope, l.key);
  if (!l.cgroup.empty()) {
    if (auto why = create_run_cgroup(l.cgroup); !why.empty())
      return make_error(ec::start_failed, why);
    s.flags |= exec_spec::has_cgroup;
    s.cgroup_procs = l.cgroup + "/cgroup.procs";
  }
  // The helper writes the mark just before exec, whatever user it has become by then,
  // through the descriptor it inherits (it could not open the file any more).
  if (mark && run != 0) {
    l.marked = true;
    s.flags |= exec_spec::has_marker;
    s.marker_offset = mark->offset;
    s.marker_run = run;
  }
  s.shell = shell;
  s.command = command;
  if (opts.cwd) {
    s.flags |= exec_spec::has_cwd;
    s.cwd = *opts.cwd;
  }
  // Already that user (a service run as it): nothing to switch, and no privilege to.
  bool same = opts.user && opts.user->uid == ::geteuid() && opts.user->gid == ::getegid();
  if (opts.user && !same) {
    s.flags |= exec_spec::has_user;
    s.uid = opts.user->uid;
    s.gid = opts.user->gid;
    s.groups = opts.user->groups;
  }
  auto vars = run_variables(opts.identity, l.key, scope.name);
  s.env = command_environment(environ, opts.env, opts.user, vars);
  helper_launch h;
  h.helper = helper;
  h.spec = exec_spec::encode(s);
  // The helper's own: found by a scan while held, but no task variable (LD_PRELOAD) may
  // reach a helper that still runs as root.
  h.env = command_environment(environ, {}, std::nullopt, vars);
  h.marker_fd = l.marked ? mark->fd : -1;
  h.wait_held = wait_held;
  auto sc = spawn_helper(h);
  if (!sc) {
    undo_launch(l);
    return sc.error();
  }
  l.sc = *sc;
  l.start_ticks = process_start_ticks(l.sc.pid);
  return l;
}

void undo_launch(const launched& l) {
  remove_run_cgroup(l.cgroup);
}

} // namespace ts
