#include "process/run_env.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <unordered_map>

#include "core/error.hpp"
#include "core/time_format.hpp"
#include "process/child_spawn.hpp"

namespace ts {

caf::expected<run_user> resolve_user(const std::string& name) {
  std::vector<char> buf(16 * 1024);
  passwd pw{};
  passwd* found = nullptr;
  int rc;
  while ((rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found)) == ERANGE)
    buf.resize(buf.size() * 2);
  if (rc != 0)
    return make_error(ec::start_failed, errno_text(("user " + name).c_str(), rc));
  if (found == nullptr)
    return make_error(ec::start_failed, "user " + name + ": no such user");
  run_user u;
  u.name = pw.pw_name;
  u.uid = pw.pw_uid;
  u.gid = pw.pw_gid;
  u.home = pw.pw_dir;
  u.shell = pw.pw_shell;
  // getgrouplist says how many it needs when the array is too small.
  std::vector<gid_t> groups(32);
  int n = static_cast<int>(groups.size());
  while (::getgrouplist(name.c_str(), pw.pw_gid, groups.data(), &n) < 0) {
    if (static_cast<size_t>(n) <= groups.size())
      return make_error(ec::start_failed, "user " + name + ": cannot list its groups");
    groups.resize(static_cast<size_t>(n));
  }
  u.groups.assign(groups.begin(), groups.begin() + n);
  return u;
}

std::vector<std::pair<std::string, std::string>>
run_variables(const std::optional<run_identity>& id, const std::string& key,
              const std::string& scope) {
  std::vector<std::pair<std::string, std::string>> out;
  if (id) {
    out.emplace_back("TS_TASK_ID", std::to_string(id->task));
    out.emplace_back("TS_ATTEMPT", std::to_string(id->attempt));
    out.emplace_back("TS_SCHEDULED_FOR", format_time(id->scheduled_for));
  }
  out.emplace_back("TS_RUN_ID", key);
  out.emplace_back("TS_RUN_SCOPE", scope);
  return out;
}

std::vector<std::string> command_environment(
  char** base, const std::vector<std::pair<std::string, std::string>>& env,
  const std::optional<run_user>& user,
  const std::vector<std::pair<std::string, std::string>>& vars) {
  std::vector<std::string> out;
  std::unordered_map<std::string, size_t> at;  // name -> index in out
  auto set = [&](const std::string& name, std::string entry) {
    auto [i, fresh] = at.emplace(name, out.size());
    if (fresh)
      out.push_back(std::move(entry));
    else
      out[i->second] = std::move(entry);
  };
  for (char** e = base; e != nullptr && *e != nullptr; ++e) {
    std::string entry = *e;
    set(entry.substr(0, entry.find('=')), entry);
  }
  auto put = [&](const std::string& name, const std::string& value) {
    set(name, name + "=" + value);
  };
  if (user) {
    put("HOME", user->home);
    put("USER", user->name);
    put("LOGNAME", user->name);
    put("SHELL", user->shell.empty() ? "/bin/sh" : user->shell);
    // login.defs' ENV_SUPATH and ENV_PATH.
    put("PATH", user->uid == 0 ? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                               : "/usr/local/bin:/usr/bin:/bin");
  }
  for (auto& [name, value] : env)
    put(name, value);
  for (auto& [name, value] : vars)
    put(name, value);
  return out;
}

} // namespace ts
