// Runs, time and process lifecycle of the real binary: outcomes of real commands, tasks that
// wait for their time, concurrency, restarts, a crash (kill -9) during a run, and graceful
// shutdown. Every wait polls with a generous deadline; no test depends on tight timings.
#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/service.hpp"

using namespace ts::e2e;
using nlohmann::json;

namespace {

const std::string past = "2000-01-01T00:00:00Z";

/// Waits until `path` exists, for at most `within`.
bool wait_for_file(const std::string& path, std::chrono::milliseconds within = 30s) {
  return wait_until([&] { return file_exists(path); }, within, 20ms);
}

/// Waits until no live process remains in process group `pgid`.
bool wait_group_gone(int pgid, std::chrono::milliseconds within) {
  return wait_until([&] { return live_group_members(pgid).empty(); }, within);
}

/// The pid a command wrote with `echo $$ > FILE` (0 when unreadable).
int read_pid(const std::string& path) {
  return std::atoi(read_file(path).c_str());
}

} // namespace

TEST_CASE("commands end with their exit code, signal and output", "[e2e][lifecycle]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  auto& svc = f.svc;
  REQUIRE(svc.start() == "");
  auto client = svc.client();

  int64_t exit3 = schedule(client, "exit 3", past);
  int64_t output = schedule(client, "printf 'out\\n'; printf 'err\\n' >&2; printf 'h\\303\\251\\n'",
                            past);
  int64_t killed = schedule(client, "kill -KILL $$", past);
  int64_t invalid_utf8 = schedule(client, "printf 'a\\377b'", past);
  int64_t big = schedule(client, "head -c 100000 /dev/zero | tr '\\0' x; printf END", past);

  SECTION("exit 3 is a failure with reason exit and exit code 3") {
    json j = wait_finished(svc, exit3);
    CHECK(has_status(j, "failure"));
    CHECK(j["reason"] == "exit");
    CHECK(j["exit_code"] == 3);
    CHECK(j["signal"].is_null());
    CHECK(j["started_at"].is_string());
    CHECK(j["finished_at"].is_string());
  }
  SECTION("stdout and stderr are captured together, in order") {
    json j = wait_finished(svc, output);
    CHECK(has_status(j, "success"));
    CHECK(j["exit_code"] == 0);
    CHECK(j["reason"].is_null());
    CHECK(j["output"] == "out\nerr\nh\xc3\xa9\n");
    CHECK(j["output_truncated"] == false);
  }
  SECTION("a command killed by a signal reports the signal's name") {
    json j = wait_finished(svc, killed);
    CHECK(has_status(j, "failure"));
    CHECK(j["reason"] == "signal");
    CHECK(j["signal"] == "SIGKILL");
    CHECK(j["exit_code"].is_null());
  }
  SECTION("invalid UTF-8 in the output is replaced with U+FFFD") {
    json j = wait_finished(svc, invalid_utf8);
    CHECK(has_status(j, "success"));
    CHECK(j["output"] == "a\xef\xbf\xbd" "b");
  }
  SECTION("a large output keeps its end and says it was cut") {
    json j = wait_finished(svc, big);
    CHECK(has_status(j, "success"));
    CHECK(j["output_truncated"] == true);
    std::string out = j.value("output", "");
    CHECK(out.size() <= 64 * 1024 + 1024);
    CHECK(out.size() >= 32 * 1024);
    CHECK(out.size() >= 3);
    CHECK(out.substr(out.size() - 3) == "END");
  }
}

TEST_CASE("a future task is pending before its time and runs at it", "[e2e][lifecycle]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  auto& svc = f.svc;
  REQUIRE(svc.start() == "");
  auto client = svc.client();

  int64_t due = now_ms() + 3000;
  int64_t id = schedule(client, "echo ran", format_utc_ms(due));
  // Read back well before the due time: pending, no run yet.
  auto before = client.get("/status?id=" + std::to_string(id));
  int64_t read_at = now_ms();
  INFO(before.describe());
  REQUIRE(before.status == 200);
  if (read_at < due - 500) {
    CHECK(has_status(before.json(), "pending"));
    CHECK(before.json()["run_id"].is_null());
  }
  CHECK(before.json()["time"] == format_utc_ms(due));

  json j = wait_finished(svc, id);
  CHECK(has_status(j, "success"));
  CHECK(j["output"] == "ran\n");
  int64_t started = ms_field(j, "started_at");
  INFO("due " << format_utc_ms(due) << ", started " << j.value("started_at", ""));
  // Never early (a few ms for rounding); late by at most a generous bound.
  CHECK(started >= due - 5);
  CHECK(started <= due + 5000);
}

TEST_CASE("tasks due together run concurrently", "[e2e][lifecycle]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  auto& svc = f.svc;
  REQUIRE(svc.start() == "");
  auto client = svc.client();

  int64_t due = now_ms() + 3000;
  std::vector<int64_t> ids;
  for (int i = 0; i < 20; ++i)
    ids.push_back(schedule(client, "sleep 1", format_utc_ms(due)));
  // Scheduling them all must take less than the lead, or the test proves nothing.
  REQUIRE(now_ms() < due);

  std::vector<int64_t> starts;
  int64_t last_finish = 0;
  for (auto id : ids) {
    json j = wait_finished(svc, id, 60s);
    CHECK(has_status(j, "success"));
    starts.push_back(ms_field(j, "started_at"));
    last_finish = std::max(last_finish, ms_field(j, "finished_at"));
  }
  auto [first, last] = std::minmax_element(starts.begin(), starts.end());
  INFO("started between " << format_utc_ms(*first) << " and " << format_utc_ms(*last)
                          << ", last finished " << format_utc_ms(last_finish));
  // 20 x sleep 1 one after another would take 20 s: all in about 1 s, generously bounded.
  CHECK(*first >= due - 5);
  CHECK(*last - *first < 2000);
  CHECK(last_finish - due < 8000);
}

TEST_CASE("the max-running option bounds the commands running at once", "[e2e][lifecycle]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  auto& svc = f.svc;
  REQUIRE(svc.start({"--max-running=2"}) == "");
  auto client = svc.client();

  int64_t due = now_ms() + 2000;
  std::vector<int64_t> ids;
  for (int i = 0; i < 4; ++i)
    ids.push_back(schedule(client, "sleep 1", format_utc_ms(due)));
  struct span {
    int64_t start;
    int64_t end;
  };
  std::vector<span> runs;
  for (auto id : ids) {
    json j = wait_finished(svc, id, 60s);
    CHECK(has_status(j, "success"));
    runs.push_back({ms_field(j, "started_at"), ms_field(j, "finished_at")});
  }
  // At each start, at most two runs (itself included) are under way; 20 ms of slack for
  // the order in which the service takes its two timestamps.
  for (auto& r : runs) {
    int overlapping = 0;
    for (auto& o : runs)
      if (o.start <= r.start && o.end > r.start + 20)
        ++overlapping;
    INFO("run started at " << format_utc_ms(r.start));
    CHECK(overlapping <= 2);
  }
  int64_t first_start = std::min_element(runs.begin(), runs.end(), [](auto& a, auto& b) {
                          return a.start < b.start;
                        })->start;
  int64_t last_end = std::max_element(runs.begin(), runs.end(), [](auto& a, auto& b) {
                       return a.end < b.end;
                     })->end;
  // Four one-second runs, two at a time: two seconds at least (the overflow waited).
  CHECK(last_end - first_start >= 1900);
}

TEST_CASE("a restart keeps pending tasks and runs them at their time", "[e2e][lifecycle]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  auto& svc = f.svc;
  REQUIRE(svc.start() == "");
  int64_t due_a = now_ms() + 3000;   // passes while the service is down
  int64_t due_b = now_ms() + 10000;  // still ahead after the restart
  int64_t a = schedule(svc.client(), "echo A", format_utc_ms(due_a));
  int64_t b = schedule(svc.client(), "echo B", format_utc_ms(due_b));

  REQUIRE(svc.signal(SIGTERM));
  auto code = svc.wait(40s);
  INFO(svc.diagnostics());
  REQUIRE(code.has_value());
  CHECK(*code == 0);

  sleep_until_ms(due_a + 500);
  int64_t restarted = now_ms();
  REQUIRE(svc.start() == "");
  auto client = svc.client();

  // A's time passed while the service was down: it runs at once after the restart.
  json ja = wait_finished(svc, a);
  CHECK(has_status(ja, "success"));
  CHECK(ja["output"] == "A\n");
  CHECK(ms_field(ja, "started_at") >= restarted - 5);
  CHECK(ms_field(ja, "started_at") <= now_ms());

  // B is still waiting for its time.
  auto mid = client.get("/status?id=" + std::to_string(b));
  if (now_ms() < due_b - 500) {
    INFO(mid.describe());
    CHECK(has_status(mid.json(), "pending"));
  }
  json jb = wait_finished(svc, b);
  CHECK(has_status(jb, "success"));
  CHECK(jb["output"] == "B\n");
  CHECK(ms_field(jb, "started_at") >= due_b - 5);
}

TEST_CASE("kill -9 during a run: interrupted after restart, never run twice, leftover killed",
          "[e2e][lifecycle]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  auto& svc = f.svc;
  REQUIRE(svc.start() == "");
  std::string pid_file = f.dir.file("pid");
  std::string count_file = f.dir.file("count");
  std::string done_file = f.dir.file("done");
  int64_t id = schedule(svc.client(),
                        "echo $$ > " + sh_quote(pid_file) + "; echo started >> "
                          + sh_quote(count_file) + "; sleep 3; touch " + sh_quote(done_file),
                        past);

  // The process really runs (not merely claimed) before the crash.
  REQUIRE(wait_for_file(count_file));
  int64_t process_started = now_ms();
  auto running = poll_status(svc.client(), id, [](const json& j) {
    return has_status(j, "running");
  });
  INFO(running.last_raw);
  REQUIRE(running.met);
  json run_id = running.last["run_id"];
  CHECK(run_id.is_number_integer());
  int shell = read_pid(pid_file);
  REQUIRE(shell > 0);

  REQUIRE(svc.signal(SIGKILL));
  auto code = svc.wait(20s);
  REQUIRE(code.has_value());
  CHECK(*code == 128 + SIGKILL);

  REQUIRE(svc.start() == "");
  json j = wait_finished(svc, id);
  CHECK(has_status(j, "failure"));
  CHECK(j["reason"] == "interrupted");
  CHECK(j["exit_code"].is_null());
  CHECK(j["run_id"] == run_id);  // the same run: no second one was started

  // The leftover process group was killed by the restart, well before its `sleep 3` ended.
  CHECK(wait_group_gone(shell, 10s));
  // And it never reached its end: give it time past when it would have finished.
  sleep_until_ms(process_started + 5000);
  CHECK_FALSE(file_exists(done_file));
  CHECK(read_file(count_file) == "started\n");
  auto again = svc.client().get("/status?id=" + std::to_string(id));
  CHECK(again.json()["run_id"] == run_id);
  CHECK(has_status(again.json(), "failure"));
}

TEST_CASE("SIGTERM lets a short running command finish and exits 0", "[e2e][lifecycle]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  auto& svc = f.svc;
  REQUIRE(svc.start() == "");
  auto client = svc.client();
  std::string started_file = f.dir.file("started");
  int64_t id = schedule(client, "touch " + sh_quote(started_file) + "; sleep 2; echo finished",
                        past);
  REQUIRE(wait_for_file(started_file));
  // Due while the service shuts down: it must wait for the next start.
  int64_t due_later = now_ms() + 1000;
  int64_t later = schedule(client, "echo later", format_utc_ms(due_later));

  REQUIRE(svc.signal(SIGTERM));
  // New requests get 503 `unavailable` once shutdown has begun (or find the listener
  // closed once the service is nearly gone); a 201 is fine only in the moment before the
  // signal is handled. The command still runs for about two seconds, so requests reach
  // the service while it shuts down.
  std::vector<int64_t> acknowledged;
  bool refused = false;
  int unavailable = 0;
  std::optional<int> code;
  auto deadline = std::chrono::steady_clock::now() + 45s;
  while (!code && std::chrono::steady_clock::now() < deadline) {
    auto r = http_client(svc.port(), "127.0.0.1", 5s)
               .post("/taskschedulizer", task_body("echo during shutdown", "2099-01-01T00:00:00Z"));
    if (r.ok() && r.status == 201) {
      CHECK_FALSE(refused);
      acknowledged.push_back(r.json().value("id", int64_t{0}));
    } else {
      refused = true;
      if (r.ok()) {
        INFO(r.describe());
        CHECK(r.status == 503);
        CHECK(r.error_code() == "unavailable");
        unavailable += r.status == 503 ? 1 : 0;
      }
    }
    code = svc.wait(50ms);
  }
  INFO(svc.diagnostics());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(refused);
  CHECK(unavailable > 0);

  int64_t restarted = now_ms();
  REQUIRE(svc.start() == "");
  auto after = svc.client().get("/status?id=" + std::to_string(id));
  INFO(after.describe());
  json j = after.json();
  CHECK(has_status(j, "success"));
  CHECK(j["output"] == "finished\n");
  CHECK(j["exit_code"] == 0);

  // The task that came due during shutdown did not start then; it runs after the restart.
  json jl = wait_finished(svc, later);
  CHECK(has_status(jl, "success"));
  CHECK(ms_field(jl, "started_at") >= restarted);
  CHECK(ms_field(jl, "started_at") >= due_later);
  // Whatever was acknowledged is kept.
  for (auto ack : acknowledged) {
    auto s = svc.client().get("/status?id=" + std::to_string(ack));
    INFO("acknowledged task " << ack << ": " << s.describe());
    CHECK(s.status == 200);
  }
}

TEST_CASE("a command outliving the shutdown grace is killed and recorded interrupted",
          "[e2e][lifecycle]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  auto& svc = f.svc;
  REQUIRE(svc.start({"--shutdown-grace=1"}) == "");
  std::string pid_file = f.dir.file("pid");
  std::string done_file = f.dir.file("done");
  int64_t id = schedule(svc.client(),
                        "echo $$ > " + sh_quote(pid_file) + "; sleep 60; touch "
                          + sh_quote(done_file),
                        past);
  REQUIRE(wait_for_file(pid_file));
  pause_briefly(100ms);  // let the shell finish writing its pid
  int shell = read_pid(pid_file);
  REQUIRE(shell > 0);
  REQUIRE(live_group_members(shell).size() >= 1);

  auto term_at = std::chrono::steady_clock::now();
  REQUIRE(svc.signal(SIGTERM));
  auto code = svc.wait(40s);
  auto took = std::chrono::steady_clock::now() - term_at;
  INFO(svc.diagnostics());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  // One second of grace, then SIGTERM to the group (SIGKILL 5 s later if needed).
  CHECK(took < 15s);
  CHECK(wait_group_gone(shell, 10s));

  REQUIRE(svc.start() == "");
  json j = wait_finished(svc, id);
  CHECK(has_status(j, "failure"));
  CHECK(j["reason"] == "interrupted");
  CHECK_FALSE(file_exists(done_file));
}
