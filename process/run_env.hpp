// What a command sees of who runs it and for which run: the user it runs as (resolved once,
// by name, in the service) and its environment, built in the service so that the helper
// only has to pass it to exec.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

#include "core/ids.hpp"

namespace ts {

/// A user a command runs as: what setgroups, setgid and setuid need, and its login values.
struct run_user {
  std::string name;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;  // supplementary groups, the primary one included
  std::string home;
  std::string shell;
};

/// Which run a command belongs to, for TS_TASK_ID, TS_RUN_ID, TS_ATTEMPT, TS_SCHEDULED_FOR.
struct run_identity {
  task_id task = 0;
  run_id run = 0;
  int32_t attempt = 1;
  millis scheduled_for = 0;
};

/// Looks `name` up (getpwnam_r, getgrouplist). Fails with ec::start_failed for an unknown
/// user or a failed lookup, saying which.
caf::expected<run_user> resolve_user(const std::string& name);

/// The TS_* variables of a run: TS_RUN_ID (`key`: the run id, or a runner's own name for a
/// start without an identity) and TS_RUN_SCOPE always, the others with an identity.
std::vector<std::pair<std::string, std::string>>
run_variables(const std::optional<run_identity>& id, const std::string& key,
              const std::string& scope);

/// `base` (the service's environment) with, in this order of precedence from low to high,
/// the user's HOME, USER, LOGNAME, SHELL and a default PATH, then `env`, then `vars`: a task
/// may set PATH, but not pretend to be another run.
std::vector<std::string> command_environment(
  char** base, const std::vector<std::pair<std::string, std::string>>& env,
  const std::optional<run_user>& user,
  const std::vector<std::pair<std::string, std::string>>& vars);

} // namespace ts
