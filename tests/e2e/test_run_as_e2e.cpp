// Who runs a command, with the real binary: as root, the system user taskschedulizer by
// default (its uid, groups, HOME, USER, LOGNAME, SHELL), a task's run_as when
// --allowed-run-as lists it, root only when --run-as=root says so; a missing user refuses
// the start. Not as root, no other user can be asked for. The cases that switch users need
// root (scripts/test runs as root in CI); they say so and pass as skipped otherwise.
#include <catch2/catch.hpp>

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/service.hpp"

using namespace ts::e2e;
using nlohmann::json;

namespace {

bool completed(const json& t) {
  return t["state"] == "completed";
}

// What the child printed, one line each: `id -u`, `id -G`, then "HOME|USER|LOGNAME|SHELL".
const char* who_command = "id -u; id -G; echo \"$HOME|$USER|$LOGNAME|$SHELL\"";

struct seen_user {
  std::string uid;
  std::set<std::string> groups;
  std::string login;  // HOME|USER|LOGNAME|SHELL
};

seen_user parse_who(const std::string& output) {
  std::istringstream in{output};
  seen_user s;
  std::string groups;
  std::getline(in, s.uid);
  std::getline(in, groups);
  std::getline(in, s.login);
  std::istringstream g{groups};
  for (std::string id; g >> id;)
    s.groups.insert(id);
  return s;
}

// What the account database says the child should be.
seen_user expected_who(const std::string& name) {
  seen_user s;
  passwd* pw = ::getpwnam(name.c_str());
  REQUIRE(pw != nullptr);
  s.uid = std::to_string(pw->pw_uid);
  std::vector<gid_t> groups(64);
  int n = static_cast<int>(groups.size());
  REQUIRE(::getgrouplist(name.c_str(), pw->pw_gid, groups.data(), &n) >= 0);
  for (int i = 0; i < n; ++i)
    s.groups.insert(std::to_string(groups[static_cast<size_t>(i)]));
  s.login = std::string{pw->pw_dir} + "|" + name + "|" + name + "|" + pw->pw_shell;
  return s;
}

json run_who(const service& svc, const json& extra = json::object()) {
  auto c = svc.client();
  json body = {{"command", who_command}};
  body.update(extra);
  auto t = create_v1_task(c, body);
  auto done = wait_task(c, t["id"].get<int64_t>(), completed);
  INFO(done.dump());
  REQUIRE(done["latest_run"]["status"] == "success");
  return done["latest_run"];
}

// A user (and a supplementary group) the test owns; made once per machine, idempotently.
const char* test_user = "ts-test-runas";
const char* test_group = "ts-test-runas-extra";

void ensure_test_user() {
  auto g = run_command({"groupadd", "-f", test_group});
  INFO(g.output);
  REQUIRE(g.exit_code == 0);
  if (::getpwnam(test_user) == nullptr) {
    auto u = run_command({"useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
                          "/nonexistent/ts-test-runas", "--shell", "/bin/sh", "--groups",
                          test_group, test_user});
    INFO(u.output);
    REQUIRE(u.exit_code == 0);
  }
  auto m = run_command({"usermod", "-a", "-G", test_group, test_user});
  INFO(m.output);
  REQUIRE(m.exit_code == 0);
}

// Starts the binary with exactly these options (no --run-as added, unlike service::start).
std::string start_exactly(service_fixture& f, std::vector<std::string> args) {
  args.insert(args.begin(), {"--port=0", "--db=" + f.db.url()});
  if (auto err = f.svc.launch(args); !err.empty())
    return err;
  return f.svc.wait_listening();
}

} // namespace

TEST_CASE("as root, commands run as the system user taskschedulizer unless told otherwise",
          "[e2e][run_as]") {
  if (::geteuid() != 0) {
    WARN("skipped: needs root, to switch users");
    return;
  }
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  REQUIRE(::getpwnam("taskschedulizer") != nullptr);  // scripts/deps creates it
  service_fixture f(backend);
  REQUIRE(start_exactly(f, {}) == "");
  CHECK(f.svc.stderr_text().find("run_as") != std::string::npos);
  auto run = run_who(f.svc);
  auto seen = parse_who(run["output"].get<std::string>());
  auto want = expected_who("taskschedulizer");
  CHECK(seen.uid == want.uid);
  CHECK(seen.uid != "0");
  CHECK(seen.groups == want.groups);
  CHECK(seen.login == want.login);
  // Naming the default user is always allowed; any other needs --allowed-run-as.
  CHECK(run_who(f.svc, {{"run_as", "taskschedulizer"}})["output"] == run["output"]);
  auto c = f.svc.client();
  auto r = c.post("/v1/tasks", json({{"command", "true"}, {"run_as", "root"}}).dump());
  INFO(r.describe());
  CHECK(r.status == 403);
  CHECK(r.error_code() == "forbidden");
}

TEST_CASE("run_as runs a command as a user --allowed-run-as lists, with its groups and HOME",
          "[e2e][run_as]") {
  if (::geteuid() != 0) {
    WARN("skipped: needs root, to create and switch users");
    return;
  }
  ensure_test_user();
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  REQUIRE(f.svc.start({"--allowed-run-as=" + std::string{test_user}}) == "");
  auto run = run_who(f.svc, {{"run_as", test_user}});
  auto seen = parse_who(run["output"].get<std::string>());
  auto want = expected_who(test_user);
  CHECK(seen.uid == want.uid);
  CHECK(seen.groups == want.groups);
  auto extra = ::getgrnam(test_group);
  REQUIRE(extra != nullptr);
  CHECK(seen.groups.count(std::to_string(extra->gr_gid)) == 1);
  CHECK(seen.login == want.login);
  // Shown back as given.
  auto c = f.svc.client();
  auto t = get_ok(c, "/v1/tasks/" + std::to_string(run["task_id"].get<int64_t>()));
  CHECK(t["run_as"] == test_user);
}

TEST_CASE("a missing --run-as user refuses the start, and root keeps root and says so",
          "[e2e][run_as]") {
  if (::geteuid() != 0) {
    WARN("skipped: needs root");
    return;
  }
  service_fixture f("sqlite");
  auto code = f.svc.run_to_exit({"--port=0", "--db=" + f.db.url(), "--run-as=ts-no-such-user"});
  REQUIRE(code);
  CHECK(*code != 0);
  CHECK(f.svc.stderr_text().find("--run-as=ts-no-such-user: no such user") != std::string::npos);
  CHECK(f.svc.stdout_text().find("listening on") == std::string::npos);

  REQUIRE(start_exactly(f, {"--run-as=root"}) == "");
  auto err = f.svc.stderr_text();
  INFO(err);
  CHECK(err.find("commands run as root") != std::string::npos);
  auto seen = parse_who(run_who(f.svc)["output"].get<std::string>());
  CHECK(seen.uid == "0");
  CHECK(seen.login == expected_who("root").login);
}

TEST_CASE("a service that is not root cannot be asked to run commands as another user",
          "[e2e][run_as]") {
  if (::geteuid() != 0) {
    // Already not root: the refusals below apply to this very process's user.
    service_fixture f("sqlite");
    auto code = f.svc.run_to_exit({"--port=0", "--db=" + f.db.url(), "--run-as=root"});
    REQUIRE(code);
    CHECK(*code != 0);
    CHECK(f.svc.stderr_text().find("only a service started as root") != std::string::npos);
    return;
  }
  // As root: the binary started as the test's unprivileged user, through setpriv.
  ensure_test_user();
  temp_dir dir;
  for (auto* option : {"--run-as=root", "--allowed-run-as=taskschedulizer"}) {
    auto r = run_command({"setpriv", "--reuid=" + std::string{test_user},
                          "--regid=" + std::string{test_user}, "--init-groups", TS_BINARY,
                          "--port=0", "--db=sqlite:/nonexistent/never-opened.db", option},
                         {}, 30s);
    INFO(option << ": " << r.output);
    CHECK(r.exit_code != 0);
    CHECK(r.output.find("only a service started as root can run commands as another user")
          != std::string::npos);
  }
}
