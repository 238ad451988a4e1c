// Every process of a run, found and signalled: by a cgroup v2 per run (cgroup.kill) where the
// service may create one, otherwise by the run id the helper puts in every environment,
// found by a scan of /proc. A command that escapes its process group (setsid) escapes
// neither; the scan misses only a process that rewrote its own environment.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "process/run_env.hpp"

namespace ts {

/// How the processes of a run are found. auto_detect picks cgroup when a cgroup2 hierarchy
/// is mounted and a sub-cgroup can be created and written by us, else scan.
enum class kill_mode : uint8_t { auto_detect, cgroup, scan };

const char* to_string(kill_mode);
/// "auto", "cgroup", "scan" (what --kill-mode takes).
std::optional<kill_mode> parse_kill_mode(std::string_view text);

/// Where a runner's runs live and how they die; the same options give the same places after
/// a restart, which is how crash recovery finds a dead service's runs.
struct runner_options {
  /// The command runs as `shell -c command`; tests use a missing one to see a start failure.
  std::string shell = "/bin/sh";
  /// ts-exec-helper; empty: the one beside this executable (/proc/self/exe).
  std::string helper;
  kill_mode kill = kill_mode::auto_detect;
  /// The cgroup under which each service keeps its runs; empty: the first that works of
  /// <cgroup2 mount>/taskschedulizer.slice and <our own cgroup>/taskschedulizer.runs.
  std::string cgroup_parent;
  /// Start markers go to <state_dir>/started, and the directory names the scope (two
  /// services on one machine never touch each other's runs). Empty: no markers, and a
  /// scope of this runner alone.
  std::string state_dir;
  /// Who runs a command whose start names no user (--run-as); empty: the service's user,
  /// with its environment as it is.
  std::optional<run_user> default_user;
};

/// The places resolved from runner_options.
struct run_scope {
  kill_mode mode = kill_mode::scan;  // what is active: cgroup or scan
  std::string name;                  // TS_RUN_SCOPE in every environment of the scope
  std::string cgroup_dir;            // cgroup mode: <parent>/<name>, holding run-<key>
  std::string cgroup_mount;          // where the cgroup2 hierarchy is mounted
  std::string marks_file;            // <state_dir>/started.slots (start_marks), or empty
  std::string detail;                // for the start-up log line: the mode and why
  std::string error;                 // set when cgroup mode was forced but cannot work
};

/// Detects, creates the scope's directories, and says what it found. Never fails: a forced
/// cgroup mode that cannot work is reported in `error` (every start then fails with it).
run_scope resolve_scope(const runner_options& opts);

/// The cgroup directory of the run named `key` (empty in scan mode).
std::string run_cgroup(const run_scope& scope, const std::string& key);

/// Creates the run's cgroup (an existing one is reused: a leftover of the run joins it).
/// Returns "" on success, else why.
std::string create_run_cgroup(const std::string& dir);

/// Removes the scope's cgroup directory if it is empty (the next resolve makes it again).
void remove_scope(const run_scope& scope);

/// Removes an empty run cgroup; false while processes remain (EBUSY) or on error.
bool remove_run_cgroup(const std::string& dir);

/// Sends `sig` to every process of the run `key` that can be found now: cgroup.kill for
/// SIGKILL, else each pid of cgroup.procs (cgroup mode); every process whose environment
/// names the run and the scope (scan mode, and always in sweep). Returns how many processes
/// it signalled (cgroup.kill counts as one). Never signals this process.
int signal_run_processes(const run_scope& scope, const std::string& key, int sig);

/// SIGKILLs every process of the run until none is left or `bound` passed; `sweep` adds a
/// /proc scan in cgroup mode too (recovery: runs of an earlier mode). True when none is left.
bool kill_run_processes(const run_scope& scope, const std::string& key,
                        std::chrono::milliseconds bound, bool sweep = false);

/// How many live processes the scan finds for the run (zombies have no environment).
int count_run_processes(const run_scope& scope, const std::string& key);

} // namespace ts
