// tsctl against the real service: every verb with its --json output parsed, paging through
// a list of more than one page, and every exit status (0, 1 refused, 2 usage, 3 no service;
// wait's run code, 128+N, 124 and 125). Terminal behaviour, tokens and TLS are in
// test_tsctl_tty_e2e.cpp.
#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <cstdlib>

#include "tests/e2e/service.hpp"
#include "tests/e2e/tsctl_driver.hpp"

using namespace ts::e2e;
using json = nlohmann::json;

namespace {

/// Runs tsctl against `svc`; REQUIREs exit 0 and returns the result.
tsctl_result ok(const service& svc, const std::vector<std::string>& args) {
  auto r = run_tsctl(args, tsctl_env(svc));
  INFO("tsctl " << args.front() << ": " << r.describe());
  REQUIRE(r.exit_code == 0);
  return r;
}

int64_t id_of(const tsctl_result& r) {
  auto j = r.json();
  REQUIRE(j["id"].is_number_integer());
  return j["id"].get<int64_t>();
}

std::string str(int64_t id) {
  return std::to_string(id);
}

} // namespace

TEST_CASE("tsctl: the one-shot verbs, with --json parsed", "[e2e][tsctl]") {
  service_fixture f{"sqlite"};
  REQUIRE(f.svc.start() == "");
  auto& svc = f.svc;

  // at now: the words after -- reach /bin/sh as typed.
  auto created = ok(svc, {"at", "now", "--name", "greet", "-l", "team=ops", "--json", "--",
                          "echo", "hello world", "it's"});
  auto task = created.json();
  CHECK(task["name"] == "greet");
  CHECK(task["labels"] == json{{"team", "ops"}});
  CHECK(task["command"] == "echo 'hello world' 'it'\\''s'");
  const int64_t id = task["id"].get<int64_t>();
  CHECK(run_tsctl({"wait", str(id)}, tsctl_env(svc)).exit_code == 0);
  CHECK(ok(svc, {"logs", str(id)}).out == "hello world it's\n");

  auto shown = ok(svc, {"show", str(id), "--json"}).json();
  CHECK(shown["state"] == "completed");
  CHECK(shown["latest_run"]["output"] == "hello world it's\n");
  auto human = ok(svc, {"show", str(id)}).out;
  CHECK(human.find("name:        greet") != std::string::npos);
  CHECK(human.find("state:       completed") != std::string::npos);

  // trigger: a second run; runs lists both, newest first; logs --run picks the first.
  auto triggered = ok(svc, {"trigger", str(id), "--json"}).json();
  CHECK(triggered["id"] == id);
  CHECK(run_tsctl({"wait", str(id)}, tsctl_env(svc)).exit_code == 0);
  auto runs = ok(svc, {"runs", str(id), "--json"}).json();
  REQUIRE(runs.size() == 2);
  CHECK(runs[0]["id"].get<int64_t>() > runs[1]["id"].get<int64_t>());
  CHECK(runs[0]["trigger"] == "manual");
  CHECK(ok(svc, {"logs", str(id), "--run", runs[1]["id"].dump()}).out == "hello world it's\n");
  auto runs_table = ok(svc, {"runs", str(id)}).out;
  CHECK(runs_table.rfind("RUN  ATTEMPT  TRIGGER", 0) == 0);
  CHECK(runs_table.find("manual") != std::string::npos);

  // at a wall-clock time in --tz: sent with its offset, stored as that instant.
  auto later = ok(svc, {"at", "2099-12-24 18:00", "--tz", "Europe/Berlin", "--json", "--",
                        "./backup.sh", "--full"})
                 .json();
  CHECK(later["schedule"]["at"] == "2099-12-24T17:00:00.000Z");
  CHECK(later["schedule"]["time_zone"] == "Europe/Berlin");
  CHECK(later["command"] == "./backup.sh --full");
  const int64_t later_id = later["id"].get<int64_t>();
  // now+10m, in the client's zone (TZ=Europe/Berlin): ten minutes from now, give or take.
  auto soon = ok(svc, {"at", "now+10m", "--json", "--", "true"}).json();
  auto due = ms_field(soon["schedule"], "at");
  CHECK(std::llabs(due - (now_ms() + 600000)) < 60000);

  // edit: a merge patch with If-Match of the version just read.
  auto edited = ok(svc, {"edit", str(later_id), "--command", "date -u", "-l", "tier=gold",
                         "--name", "xmas", "--timeout", "30s", "--retries", "2", "--json"})
                  .json();
  CHECK(edited["command"] == "date -u");
  CHECK(edited["labels"] == json{{"tier", "gold"}});
  CHECK(edited["name"] == "xmas");
  CHECK(edited["timeout_s"] == 30.0);
  CHECK(edited["retry"]["max_attempts"] == 3);
  CHECK(edited["version"].get<int64_t>() == later["version"].get<int64_t>() + 1);
  auto removed = ok(svc, {"edit", str(later_id), "-l", "tier-", "--json"}).json();
  CHECK(removed["labels"] == json::object());

  // cancel, then a second cancel is the server's refusal: exit 1 with its message.
  CHECK(ok(svc, {"cancel", str(later_id), "--json"}).json()["state"] == "cancelled");
  auto again = run_tsctl({"cancel", str(later_id)}, tsctl_env(svc));
  INFO(again.describe());
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("invalid_state") != std::string::npos);
  CHECK(again.err.find("HTTP 409") != std::string::npos);

  // A relative command runs where --cwd says (else in the service's directory).
  REQUIRE(write_file(f.dir.file("hello.sh"), "#!/bin/sh\necho \"from $(pwd)\"\n"));
  REQUIRE(run_command({"chmod", "+x", f.dir.file("hello.sh")}).exit_code == 0);
  auto rel = id_of(ok(svc, {"at", "now", "--cwd", f.dir.path(), "--json", "--", "./hello.sh"}));
  CHECK(run_tsctl({"wait", str(rel)}, tsctl_env(svc)).exit_code == 0);
  CHECK(ok(svc, {"logs", str(rel)}).out == "from " + f.dir.path() + "\n");

  // --env reaches the command.
  auto env = id_of(ok(svc, {"at", "now", "--env", "GREETING=hi there", "--json", "--", "sh", "-c",
                            "echo \"$GREETING\""}));
  CHECK(run_tsctl({"wait", str(env)}, tsctl_env(svc)).exit_code == 0);
  CHECK(ok(svc, {"logs", str(env)}).out == "hi there\n");
}

TEST_CASE("tsctl: recurring verbs, preview, ls and its paging", "[e2e][tsctl]") {
  service_fixture f{"sqlite"};
  REQUIRE(f.svc.start() == "");
  auto& svc = f.svc;

  auto cron = ok(svc, {"cron", "0 30 2 * * *", "--tz", "America/New_York", "-l", "kind=cron",
                       "--json", "--", "date", "-u"})
                .json();
  CHECK(cron["schedule"]["cron"] == "0 30 2 * * *");
  CHECK(cron["schedule"]["time_zone"] == "America/New_York");
  const std::string cid = cron["id"].dump();
  // Without --tz the client's zone goes with the schedule.
  auto local = ok(svc, {"cron", "@daily", "--json", "--", "true"}).json();
  CHECK(local["schedule"]["time_zone"] == "Europe/Berlin");

  CHECK(ok(svc, {"pause", cid, "--json"}).json()["state"] == "paused");
  CHECK(ok(svc, {"ls", "--state", "paused", "--json"}).json().size() == 1);
  CHECK(ok(svc, {"resume", cid, "--json"}).json()["state"] == "active");
  // edit --every replaces the cron form (the other form's keys go as null in the patch).
  auto every = ok(svc, {"edit", cid, "--every", "30m", "--json"}).json();
  CHECK(every["schedule"]["every_s"] == 1800);
  CHECK(every["schedule"].value("cron", json{}).is_null());
  auto back = ok(svc, {"edit", cid, "--cron", "0 0 12 * * *", "--tz", "UTC", "--json"}).json();
  CHECK(back["schedule"]["cron"] == "0 0 12 * * *");
  CHECK(back["schedule"]["time_zone"] == "UTC");

  auto ev = ok(svc, {"every", "15m", "-l", "kind=every", "--json", "--", "true"}).json();
  CHECK(ev["schedule"]["every_s"] == 900);

  // preview: the server's occurrences with their DST notes (March 2027 in New York: the
  // 14th has no 02:30).
  auto preview = ok(svc, {"preview", "0 30 2 * 3 *", "--tz", "America/New_York", "-n", "20",
                          "--json"})
                   .json();
  REQUIRE(preview["occurrences"].size() == 20);
  bool shifted = false;
  for (auto& o : preview["occurrences"])
    shifted = shifted || o["dst"] == "shifted_from_gap";
  CHECK(shifted);
  auto table = ok(svc, {"preview", "0 30 2 * 3 *", "--tz", "America/New_York", "-n", "20"}).out;
  CHECK(table.find("shifted_from_gap") != std::string::npos);
  CHECK(table.find("2027-03-14T03:00:00.000-04:00") != std::string::npos);
  auto never = run_tsctl({"preview", "0 0 0 30 2 *"}, tsctl_env(svc));
  CHECK(never.exit_code == 1);
  CHECK(never.err.find("schedule_never_fires") != std::string::npos);

  // ls: filters, and every page of a list longer than one (tsctl asks for 200 a page).
  auto labelled = ok(svc, {"ls", "-l", "kind=cron", "--json"}).json();
  REQUIRE(labelled.size() == 1);
  CHECK(labelled[0]["id"].dump() == cid);
  auto c = svc.client();
  for (int i = 0; i < 205; ++i)
    create_v1_task(c, {{"command", "true"}, {"schedule", {{"at", "2099-01-01T00:00:00Z"}}}});
  auto all = ok(svc, {"ls", "--json"}).json();
  REQUIRE(all.size() == 208);
  for (size_t i = 1; i < all.size(); ++i)
    CHECK(all[i - 1]["id"].get<int64_t>() > all[i]["id"].get<int64_t>());
  auto lines = ok(svc, {"ls", "--state", "active"}).out;
  CHECK(lines.rfind("ID   STATE   SCHEDULE", 0) == 0);
  CHECK(std::count(lines.begin(), lines.end(), '\n') == 209);

  auto nodes = run_tsctl({"nodes"}, tsctl_env(svc));
  CHECK(nodes.exit_code == 2);
  CHECK(nodes.err.find("no worker nodes") != std::string::npos);
}

TEST_CASE("tsctl: wait exits like timeout(1)", "[e2e][tsctl]") {
  service_fixture f{"sqlite"};
  REQUIRE(f.svc.start() == "");
  auto& svc = f.svc;
  auto exit3 = id_of(ok(svc, {"at", "now", "--json", "--", "sh", "-c", "exit 3"}));
  CHECK(run_tsctl({"wait", str(exit3)}, tsctl_env(svc)).exit_code == 3);
  // exec: the shell that kills itself is the run's process, so the run ends by the signal
  // (without it, /bin/sh -c would wait and exit 128+N itself).
  auto term = id_of(ok(svc, {"at", "now", "--json", "--", "exec", "sh", "-c", "kill -TERM $$"}));
  CHECK(run_tsctl({"wait", str(term)}, tsctl_env(svc)).exit_code == 128 + SIGTERM);
  auto killed = id_of(ok(svc, {"at", "now", "--json", "--", "exec", "sh", "-c", "kill -KILL $$"}));
  auto k = run_tsctl({"wait", str(killed), "--json"}, tsctl_env(svc));
  CHECK(k.exit_code == 128 + SIGKILL);
  CHECK(k.json()["signal"] == "SIGKILL");

  auto slow = id_of(ok(svc, {"at", "now", "--json", "--", "sleep", "30"}));
  auto started = now_ms();
  auto timed = run_tsctl({"wait", str(slow), "--timeout", "1"}, tsctl_env(svc));
  CHECK(timed.exit_code == 124);
  CHECK(now_ms() - started < 10000);
  // A cancelled run ends by the service's SIGTERM: the wait says so.
  ok(svc, {"cancel", str(slow)});
  CHECK(run_tsctl({"wait", str(slow)}, tsctl_env(svc)).exit_code == 128 + SIGTERM);

  // tsctl's own failures: an unknown task, a usage error, no service.
  CHECK(run_tsctl({"wait", "999999"}, tsctl_env(svc)).exit_code == 125);
  CHECK(run_tsctl({"wait", "x"}, tsctl_env(svc)).exit_code == 125);
  CHECK(run_tsctl({"wait", "1", "--timeout", "soon"}, tsctl_env(svc)).exit_code == 125);
  auto env = tsctl_env(svc);
  svc.signal(SIGTERM);
  REQUIRE(svc.wait(30s).has_value());
  CHECK(run_tsctl({"wait", "1"}, env).exit_code == 125);
}

TEST_CASE("tsctl: exit statuses 1, 2 and 3, and help for every verb", "[e2e][tsctl]") {
  service_fixture f{"sqlite"};
  REQUIRE(f.svc.start() == "");
  auto env = tsctl_env(f.svc);

  auto missing = run_tsctl({"show", "999999"}, env);
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("HTTP 404 not_found") != std::string::npos);
  auto bad_zone = run_tsctl({"cron", "* * * * *", "--tz", "Mars/Olympus", "--", "true"}, env);
  CHECK(bad_zone.exit_code == 2);
  auto bad_cron = run_tsctl({"cron", "61 * * * *", "--", "true"}, env);
  CHECK(bad_cron.exit_code == 1);
  CHECK(bad_cron.err.find("invalid_cron") != std::string::npos);

  for (auto args : std::vector<std::vector<std::string>>{
         {"frobnicate"}, {"ls", "extra"}, {"at", "now"}, {"show"}, {"ls", "--cwd", "/"},
         {"at", "someday", "--", "true"}, {"ls", "--token-file", f.dir.file("absent")}}) {
    auto r = run_tsctl(args, env);
    INFO(r.describe());
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind("tsctl", 0) == 0);
    CHECK(r.out.empty());
  }

  for (auto verb : {"at", "cron", "every", "ls", "show", "runs", "logs", "cancel", "trigger",
                    "pause", "resume", "edit", "preview", "wait", "nodes"}) {
    auto r = run_tsctl({verb, "--help"}, env);
    INFO(verb << ": " << r.describe());
    CHECK(r.exit_code == 0);
    CHECK(r.out.find(std::string{"Usage: tsctl "} + verb) != std::string::npos);
  }
  auto overview = run_tsctl({"--help"}, env);
  CHECK(overview.exit_code == 0);
  CHECK(overview.out.find("Exit status") != std::string::npos);

  // Nothing listens: 3, for reads and writes alike.
  f.svc.signal(SIGTERM);
  REQUIRE(f.svc.wait(30s).has_value());
  for (auto args : std::vector<std::vector<std::string>>{{"ls"}, {"at", "now", "--", "true"}}) {
    auto r = run_tsctl(args, env);
    INFO(r.describe());
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("cannot reach the service") != std::string::npos);
  }
}

TEST_CASE("tsctl: the README's examples work as written", "[e2e][tsctl]") {
  // The first block of the README's tsctl section, line by line, against a fresh service,
  // with tsctl on PATH as the README says.
  auto lines = readme_block("## tsctl, the command line");
  REQUIRE(lines.size() >= 15);
  service_fixture f{"sqlite"};
  REQUIRE(f.svc.start() == "");
  auto env = tsctl_env(f.svc);
  const char* path = std::getenv("PATH");
  env.emplace_back("PATH", tsctl_path().substr(0, tsctl_path().rfind('/')) + ":"
                             + (path ? path : "/usr/bin:/bin"));
  env.emplace_back("TZ", "Europe/Berlin");
  std::vector<std::string> outputs;
  for (auto& line : lines) {
    auto r = run_command({"sh", "-c", "cd " + sh_quote(f.dir.path()) + " && " + line}, env, 30s);
    INFO(line << "\n" << r.output);
    REQUIRE(r.exit_code == 0);
    outputs.push_back(r.output);
  }
  CHECK(outputs[2] == "hello\n");
  auto at = [&](const std::string& prefix) {
    for (size_t i = 0; i < lines.size(); ++i)
      if (lines[i].rfind(prefix, 0) == 0)
        return outputs[i];
    FAIL("no README line starts with " << prefix);
    return std::string{};
  };
  CHECK(at("tsctl logs 6 -f") == "one\ntwo\n");
  CHECK(at("tsctl preview").find("shifted_from_gap") != std::string::npos);
  CHECK(at("tsctl ls --state active -l team=ops").find("backup") != std::string::npos);
  auto all = json::parse(at("tsctl ls --json"));
  REQUIRE(all.size() == 6);
  CHECK(all[4]["name"] == "later");  // task 2, newest first
  CHECK(all[4]["state"] == "cancelled");
}
