// Execution controls of the real binary, on every backend: timeout_s, retries with their
// delays (and across a restart), cancel of a waiting retry, run_as refused unless allowed,
// and the controls shown back as given.
#include <catch2/catch.hpp>

#include <csignal>
#include <string>
#include <utility>
#include <vector>

#include "tests/e2e/service.hpp"

using namespace ts::e2e;
using nlohmann::json;

namespace {

json runs_of(const http_client& c, int64_t task) {
  return get_ok(c, "/v1/tasks/" + std::to_string(task) + "/runs")["items"];
}

bool completed(const json& t) {
  return t["state"] == "completed";
}

// The kill modes (--kill-mode): both wherever the binary can give each run a cgroup (as
// root on cgroup v2), which it says when it refuses --kill-mode=cgroup.
const std::vector<std::string> kill_modes{"cgroup", "scan"};

// Starts (or restarts) the service in kill mode `mode`; false, with a warning, where cgroup
// mode is not available.
bool start_in(service& svc, const std::string& mode) {
  auto err = svc.start({"--kill-mode=" + mode});
  if (mode == "cgroup" && err.find("is not available here") != std::string::npos) {
    WARN("--kill-mode=cgroup is not available here: " << err);
    return false;
  }
  REQUIRE(err == "");
  // The start-up log says which mode is active.
  CHECK(svc.stderr_text().find("mode=" + mode) != std::string::npos);
  return true;
}

} // namespace

TEST_CASE("timeout_s stops a command and ends its run timeout", "[e2e][execution]") {
  auto backend = GENERATE(from_range(backend_names()));
  auto mode = GENERATE(from_range(kill_modes));
  INFO("backend " << backend << ", kill mode " << mode);
  service_fixture f(backend);
  if (!start_in(f.svc, mode))
    return;
  auto c = f.svc.client();
  // The sleep in a subshell: the timeout must stop the whole tree, not only the shell.
  auto t = create_v1_task(c, {{"command", "echo begun; (sleep 30; echo late); wait"},
                      {"timeout_s", 0.5}, {"kill_grace_s", 1}});
  CHECK(t["timeout_s"] == 0.5);
  CHECK(t["kill_grace_s"] == 1.0);
  auto started = now_ms();
  auto done = wait_task(c, t["id"].get<int64_t>(), completed, 20s);
  auto& run = done["latest_run"];
  CHECK(run["status"] == "failure");
  CHECK(run["reason"] == "timeout");
  CHECK(run["output"] == "begun\n");
  CHECK(run["message"].is_string());
  // Stopped at its timeout (SIGTERM ends sleep at once), well before the 30 s.
  CHECK(now_ms() - started < 10000);
  auto l = get_ok(c, "/status?id=" + std::to_string(t["id"].get<int64_t>()));
  CHECK(l["status"] == "failure");
  CHECK(l["reason"] == "timeout");
}

TEST_CASE("three attempts of exit 1, spaced by the retry delays", "[e2e][execution]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  REQUIRE(f.svc.start() == "");
  auto c = f.svc.client();
  auto t = create_v1_task(c, {{"command", "echo try; exit 1"},
                      {"retry", {{"max_attempts", 3}, {"delay_s", 1}, {"multiplier", 2},
                                 {"jitter", "none"}}}});
  auto id = t["id"].get<int64_t>();
  CHECK(t["retry"]["max_attempts"] == 3);
  CHECK(t["retry"]["jitter"] == "none");
  // Between the attempts: a waiting run with its time.
  auto waiting = wait_task(c, id, [](const json& x) {
    return !x["latest_run"].is_null() && x["latest_run"]["status"] == "waiting";
  });
  CHECK(waiting["state"] == "active");
  CHECK(waiting["latest_run"]["attempt"] == 2);
  CHECK(waiting["latest_run"]["trigger"] == "retry");
  CHECK(waiting["latest_run"]["next_attempt_at"].is_string());
  CHECK(get_ok(c, "/status?id=" + std::to_string(id))["status"] == "pending");
  auto done = wait_task(c, id, completed, 30s);
  auto runs = runs_of(c, id);
  REQUIRE(runs.size() == 3);
  // Newest first: attempts 3, 2, 1, all failed by exit, all scheduled for the first's time.
  for (int i = 0; i < 3; ++i) {
    CHECK(runs[i]["attempt"] == 3 - i);
    CHECK(runs[i]["reason"] == "exit");
    CHECK(runs[i]["scheduled_for"] == runs[2]["scheduled_for"]);
  }
  CHECK(runs[2]["trigger"] == "schedule");
  CHECK(runs[1]["trigger"] == "retry");
  // Spaced by 1 s, then 2 s (generous bounds: the test must not fail on a slow machine).
  auto gap = [&](int later, int earlier) {
    return ms_field(runs[later], "started_at") - ms_field(runs[earlier], "finished_at");
  };
  CHECK(gap(1, 2) >= 950);
  CHECK(gap(0, 1) >= 1950);
  CHECK(gap(0, 1) < 15000);
  CHECK(done["latest_run"]["attempt"] == 3);
}

TEST_CASE("a restart during a retry delay resumes the retry at its time", "[e2e][execution]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  REQUIRE(f.svc.start() == "");
  auto c = f.svc.client();
  std::string count = f.dir.file("attempts");
  auto t = create_v1_task(c, {{"command", "echo x >> " + sh_quote(count) + "; exit 1"},
                      {"retry", {{"max_attempts", 2}, {"delay_s", 3}, {"jitter", "none"}}}});
  auto id = t["id"].get<int64_t>();
  auto waiting = wait_task(c, id, [](const json& x) {
    return !x["latest_run"].is_null() && x["latest_run"]["status"] == "waiting";
  });
  auto due = parse_utc_ms(waiting["latest_run"]["next_attempt_at"].get<std::string>());
  REQUIRE(due);
  REQUIRE(f.svc.signal(SIGTERM));
  REQUIRE(f.svc.wait(40s) == 0);
  REQUIRE(f.svc.start() == "");
  auto c2 = f.svc.client();
  auto done = wait_task(c2, id, completed, 30s);
  auto runs = runs_of(c2, id);
  REQUIRE(runs.size() == 2);
  CHECK(runs[0]["attempt"] == 2);
  CHECK(ms_field(runs[0], "started_at") >= *due - 5);
  // Each attempt ran once.
  CHECK(read_file(count) == "x\nx\n");
}

TEST_CASE("kill -9 during a retry never starts an attempt twice", "[e2e][execution][crash]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  REQUIRE(f.svc.start() == "");
  auto c = f.svc.client();
  // Each command appends its attempt to its own file: the files are the truth of what ran.
  auto task = [&](const std::string& name, const std::string& then, const json& retry) {
    auto file = f.dir.file(name);
    auto t = create_v1_task(c, {{"command", "echo $TS_ATTEMPT >> " + sh_quote(file) + "; " + then},
                                {"retry", retry}});
    return std::make_pair(t["id"].get<int64_t>(), file);
  };
  // In its retry delay at the kill; its second attempt is running at the kill, and is
  // retried after the restart (on_interrupted), or not.
  auto delayed = task("delayed", "exit 1",
                      {{"max_attempts", 3}, {"delay_s", 2}, {"jitter", "none"}});
  auto sleeper = "[ $TS_ATTEMPT = 2 ] && sleep 300; exit 1";
  auto resumed = task("resumed", sleeper,
                      {{"max_attempts", 3}, {"delay_s", 0.2}, {"jitter", "none"},
                       {"on_interrupted", true}});
  auto ended = task("ended", sleeper, {{"max_attempts", 3}, {"delay_s", 0.2}, {"jitter", "none"}});
  REQUIRE(wait_until(
    [&] {
      auto t = get_ok(c, "/v1/tasks/" + std::to_string(delayed.first));
      return t["latest_run"]["status"] == "waiting" && read_file(resumed.second) == "1\n2\n"
             && read_file(ended.second) == "1\n2\n";
    },
    20s));
  REQUIRE(f.svc.signal(SIGKILL));
  REQUIRE(f.svc.wait(10s).has_value());
  REQUIRE(f.svc.start() == "");
  auto c2 = f.svc.client();
  for (auto id : {delayed.first, resumed.first, ended.first})
    wait_task(c2, id, completed, 30s);
  // Every attempt ran once; none twice, none lost.
  CHECK(read_file(delayed.second) == "1\n2\n3\n");
  CHECK(read_file(resumed.second) == "1\n2\n3\n");
  CHECK(read_file(ended.second) == "1\n2\n");
  auto reasons = [&](int64_t id) {
    std::vector<std::string> out;  // oldest first
    for (auto& r : runs_of(c2, id))
      out.insert(out.begin(), std::to_string(r["attempt"].get<int>()) + ":"
                                + r["reason"].get<std::string>());
    return out;
  };
  using strings = std::vector<std::string>;
  CHECK(reasons(delayed.first) == strings{"1:exit", "2:exit", "3:exit"});
  CHECK(reasons(resumed.first) == strings{"1:exit", "2:interrupted", "3:exit"});
  CHECK(reasons(ended.first) == strings{"1:exit", "2:interrupted"});
}

TEST_CASE("a cancel during a retry delay ends the waiting attempt and runs nothing more",
          "[e2e][execution]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  REQUIRE(f.svc.start() == "");
  auto c = f.svc.client();
  std::string count = f.dir.file("attempts");
  auto t = create_v1_task(c, {{"command", "echo x >> " + sh_quote(count) + "; exit 1"},
                      {"retry", {{"max_attempts", 5}, {"delay_s", 2}, {"jitter", "none"}}}});
  auto id = t["id"].get<int64_t>();
  wait_task(c, id, [](const json& x) {
    return !x["latest_run"].is_null() && x["latest_run"]["status"] == "waiting";
  });
  auto r = c.post("/v1/tasks/" + std::to_string(id) + "/cancel", "");
  INFO(r.describe());
  REQUIRE(r.status == 200);
  CHECK(r.json()["state"] == "cancelled");
  pause_briefly(3000ms);
  auto runs = runs_of(c, id);
  REQUIRE(runs.size() == 2);
  CHECK(runs[0]["reason"] == "cancelled");
  CHECK(runs[0]["started_at"].is_null());
  CHECK(read_file(count) == "x\n");
  // A trigger of the cancelled task is refused.
  CHECK(c.post("/v1/tasks/" + std::to_string(id) + "/trigger", "").status == 409);
}

TEST_CASE("controls are validated, shown back, and run_as needs --allowed-run-as",
          "[e2e][execution]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  REQUIRE(f.svc.start() == "");
  auto c = f.svc.client();
  auto t = create_v1_task(c, {{"command", "true"}, {"schedule", {{"at", "2099-01-01T00:00:00Z"}}},
                      {"env", {{"GREETING", "hi"}}}, {"cwd", "/tmp"}, {"timeout_s", 60},
                      {"retry", {{"max_attempts", 4}, {"on_interrupted", true}}}});
  CHECK(t["env"] == json({{"GREETING", "hi"}}));
  CHECK(t["cwd"] == "/tmp");
  CHECK(t["run_as"].is_null());
  CHECK(t["retry"]["max_attempts"] == 4);
  CHECK(t["retry"]["delay_s"] == 10.0);
  CHECK(t["retry"]["on_interrupted"] == true);
  auto again = get_ok(c, "/v1/tasks/" + std::to_string(t["id"].get<int64_t>()));
  CHECK(again["env"] == t["env"]);
  CHECK(again["retry"] == t["retry"]);
  auto bad = [&](const json& body, int status, const std::string& code,
                 const std::string& field) {
    auto r = c.post("/v1/tasks", body.dump());
    INFO(r.describe());
    CHECK(r.status == status);
    CHECK(r.error_code() == code);
    CHECK(r.json()["error"]["field"] == field);
  };
  // Not --run-as (the tests' own user) nor listed in --allowed-run-as.
  bad({{"command", "true"}, {"run_as", "daemon"}}, 403, "forbidden", "run_as");
  bad({{"command", "true"}, {"timeout_s", 0}}, 400, "invalid_field", "timeout_s");
  bad({{"command", "true"}, {"kill_grace_s", 601}}, 400, "invalid_field", "kill_grace_s");
  bad({{"command", "true"}, {"retry", {{"max_attempts", 101}}}}, 400, "invalid_field",
      "retry.max_attempts");
  bad({{"command", "true"}, {"retry", {{"tries", 2}}}}, 400, "unknown_field", "retry.tries");
  bad({{"command", "true"}, {"env", {{"TS_RUN_ID", "1"}}}}, 400, "invalid_field",
      "env.TS_RUN_ID");
  bad({{"command", "true"}, {"env", {{"1X", "1"}}}}, 400, "invalid_field", "env.1X");
  bad({{"command", "true"}, {"cwd", "relative/dir"}}, 400, "invalid_field", "cwd");
}

TEST_CASE("a child sees its env, its cwd and the TS_ variables", "[e2e][execution]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  REQUIRE(f.svc.start() == "");
  auto c = f.svc.client();
  auto t = create_v1_task(c, {{"command", "echo \"$GREETING|$(pwd)|$TS_TASK_ID|$TS_RUN_ID|$TS_ATTEMPT|"
                                  "$TS_SCHEDULED_FOR\""},
                      {"env", {{"GREETING", "hello world"}}},
                      {"cwd", f.dir.path()}});
  auto id = t["id"].get<int64_t>();
  auto done = wait_task(c, id, completed);
  auto& run = done["latest_run"];
  INFO(run.dump());
  CHECK(run["status"] == "success");
  auto expected = "hello world|" + f.dir.path() + "|" + std::to_string(id) + "|"
                  + std::to_string(run["id"].get<int64_t>()) + "|1|"
                  + run["scheduled_for"].get<std::string>() + "\n";
  CHECK(run["output"] == expected);

  // A cwd that does not exist: start_failed, with a message that names it.
  auto bad = create_v1_task(c, {{"command", "true"}, {"cwd", "/nonexistent/ts-e2e"}});
  auto failed = wait_task(c, bad["id"].get<int64_t>(), completed);
  CHECK(failed["latest_run"]["reason"] == "start_failed");
  REQUIRE(failed["latest_run"]["message"].is_string());
  CHECK(failed["latest_run"]["message"].get<std::string>().find("/nonexistent/ts-e2e")
        != std::string::npos);
}

TEST_CASE("a cancel kills the whole tree, a setsid grandchild that ignores SIGTERM too",
          "[e2e][execution]") {
  auto backend = GENERATE(from_range(backend_names()));
  auto mode = GENERATE(from_range(kill_modes));
  INFO("backend " << backend << ", kill mode " << mode);
  service_fixture f(backend);
  if (!start_in(f.svc, mode))
    return;
  auto c = f.svc.client();
  std::string pidfile = f.dir.file("grandchild.pid");
  auto t = create_v1_task(c, {{"command", "setsid sh -c 'trap \"\" TERM; echo $$ > " + pidfile
                                    + "; sleep 100' & sleep 100"},
                      {"kill_grace_s", 1}});
  auto id = t["id"].get<int64_t>();
  REQUIRE(wait_until([&] { return !read_file(pidfile).empty(); }, 15s));
  int grandchild = std::stoi(read_file(pidfile));
  REQUIRE(kill(grandchild, 0) == 0);
  auto cancelled_at = now_ms();
  REQUIRE(c.post("/v1/tasks/" + std::to_string(id) + "/cancel", "").status == 200);
  wait_task(c, id, [](const json& x) { return x["latest_run"]["status"] == "failure"; }, 15s);
  // Gone within kill_grace_s + 1 s (a zombie, reaped by init, counts as gone).
  bool gone = wait_until(
    [&] {
      auto stat = read_file("/proc/" + std::to_string(grandchild) + "/stat");
      return stat.empty() || stat.find(") Z ") != std::string::npos;
    },
    5s);
  CHECK(gone);
  CHECK(now_ms() - cancelled_at <= 2000 + 1500);
}

TEST_CASE("after kill -9, a run that never started runs, and no process of an interrupted run "
          "is left once the service listens",
          "[e2e][execution][crash]") {
  auto backend = GENERATE(from_range(backend_names()));
  auto mode = GENERATE(from_range(kill_modes));
  INFO("backend " << backend << ", kill mode " << mode);
  service_fixture f(backend);
  if (!start_in(f.svc, mode))
    return;
  auto c = f.svc.client();
  // A run claimed ahead of its time (held in its helper), and a running one whose child
  // left the process group.
  std::string ran = f.dir.file("ran");
  std::string pids = f.dir.file("pids");
  auto running = create_v1_task(c, {{"command", "setsid sleep 300 & echo $! > " + sh_quote(pids)
                                          + "; sleep 300"}});
  auto rid = running["id"].get<int64_t>();
  REQUIRE(wait_until([&] { return !read_file(pids).empty(); }, 15s));
  int escaped = std::stoi(read_file(pids));
  // Due in 1.2 s: caught between its claim (100 ms ahead) and its release.
  bool held = false;
  int64_t hid = 0;
  for (int attempt = 0; attempt < 20 && !held; ++attempt) {
    auto due = now_ms() + 1200;
    hid = create_v1_task(c, {{"command", "echo run >> " + sh_quote(ran)},
                     {"schedule", {{"at", format_utc_ms(due)}}}})["id"]
            .get<int64_t>();
    sleep_until_ms(due - 50);
    auto t = get_ok(c, "/v1/tasks/" + std::to_string(hid));
    held = !t["latest_run"].is_null() && t["latest_run"]["status"] == "starting";
    if (held)
      REQUIRE(f.svc.signal(SIGKILL));
    else
      wait_task(c, hid, completed);  // missed the window: let it run, try again
  }
  REQUIRE(held);
  REQUIRE(f.svc.wait(10s).has_value());
  auto runs_before = read_file(ran);
  // The helper of the held run exits without running anything.
  pause_briefly(500ms);
  CHECK(read_file(ran) == runs_before);
  REQUIRE(start_in(f.svc, mode));
  // Once it listens, nothing of the interrupted run is left, the escaped child neither.
  auto stat = read_file("/proc/" + std::to_string(escaped) + "/stat");
  CHECK((stat.empty() || stat.find(") Z ") != std::string::npos));
  auto c2 = f.svc.client();
  auto r = get_ok(c2, "/v1/tasks/" + std::to_string(rid));
  CHECK(r["latest_run"]["reason"] == "interrupted");
  // The held run was never started: it runs now, once, and is not recorded interrupted.
  auto done = wait_task(c2, hid, completed);
  CHECK(done["latest_run"]["status"] == "success");
  CHECK(read_file(ran) == runs_before + "run\n");
  auto runs = get_ok(c2, "/v1/tasks/" + std::to_string(hid) + "/runs")["items"];
  REQUIRE(runs.size() == 1);
  CHECK(runs[0]["status"] == "success");
}
