// Metrics, health and readiness of the real binary: /metrics scraped over HTTP and checked
// by `promtool check metrics` (Prometheus' own linter), values asserted after real runs
// (scheduled, started, finished by reason, lateness, durations, output bytes, actors,
// storage, HTTP counters by route and code), the token's reach, --metrics=off, and /readyz
// following a private MariaDB server that is stopped, restarted, frozen and thawed.
//
// promtool comes from TS_TEST_PROMTOOL (scripts/test sets it from scripts/promtool) or
// PATH; without it the lint step is skipped with a warning, except under CI=true, where a
// missing linter fails the test.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/private_mariadb.hpp"
#include "tests/e2e/service.hpp"

using namespace ts::e2e;
using nlohmann::json;

namespace {

using steady = std::chrono::steady_clock;

const std::string past = "2000-01-01T00:00:00Z";
// Not a user, database or metric name, so finding it in output means a leak.
const std::string secret = "Zq8-e2e-metrics-S3cret";

// -- scraping ---------------------------------------------------------------------------------

/// The value of the sample `series` (name and labels as rendered, labels sorted by name).
std::optional<double> sample(const std::string& text, const std::string& series) {
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line))
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0
        && line[series.size()] == ' ')
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
  return std::nullopt;
}

/// A scrape that must succeed; its body.
std::string scrape(const http_client& client, header_list headers = {}) {
  auto r = client.get("/metrics", std::move(headers));
  INFO(r.describe());
  REQUIRE(r.ok());
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  return r.body;
}

/// The value of a series that must be present.
double value(const std::string& text, const std::string& series) {
  auto v = sample(text, series);
  INFO(series << " in:\n" << text);
  REQUIRE(v);
  return *v;
}

std::string http_series(const std::string& route, int code) {
  return "taskschedulizer_http_requests_total{code=\"" + std::to_string(code) + "\",route=\""
         + route + "\"}";
}

std::string kind(const char* name, const char* k) {
  return std::string{name} + "{kind=\"" + k + "\"}";
}

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string{ci} == "true";
}

std::string promtool_path() {
  if (const char* p = std::getenv("TS_TEST_PROMTOOL"); p != nullptr && *p != '\0')
    return p;
  auto which = run_command({"sh", "-c", "command -v promtool"}, {}, 10s);
  auto path = which.output.substr(0, which.output.find('\n'));
  return which.exit_code == 0 ? path : std::string{};
}

/// `promtool check metrics` on a scrape: format and naming conventions.
void check_with_promtool(const std::string& text, const temp_dir& dir) {
  auto tool = promtool_path();
  if (tool.empty()) {
    if (in_ci())
      FAIL("promtool is missing under CI=true: scripts/promtool fetches it and scripts/test "
           "passes it as TS_TEST_PROMTOOL");
    WARN("promtool not found: `promtool check metrics` skipped (run scripts/promtool and set "
         "TS_TEST_PROMTOOL)");
    return;
  }
  auto file = dir.file("scrape.txt");
  REQUIRE(write_file(file, text));
  auto r = run_command({"sh", "-c", sh_quote(tool) + " check metrics < " + sh_quote(file)}, {},
                       60s);
  INFO("promtool check metrics:\n" << r.output << "\nscrape:\n" << text);
  CHECK(r.exit_code == 0);
}

// -- tasks ------------------------------------------------------------------------------------

/// One /readyz answer and how long it took.
struct probe {
  http_response res;
  double seconds = 0;
};

probe ready(const http_client& client) {
  auto t0 = steady::now();
  probe p{client.get("/readyz"), 0};
  p.seconds = std::chrono::duration<double>(steady::now() - t0).count();
  return p;
}

std::string reason_of(const http_response& r) {
  auto j = r.json();
  return j.is_object() && j.contains("reason") && j["reason"].is_string()
           ? j["reason"].get<std::string>()
           : std::string{};
}

/// Polls /readyz until it answers `status`; every answer must come within 8 s (a hung
/// database must not hang the probe). Returns the matching answer's reason.
std::string wait_ready_status(const service& svc, int status, std::chrono::seconds within) {
  auto client = svc.client(15s);
  std::string last;
  bool met = wait_until(
    [&] {
      auto p = ready(client);
      last = p.res.describe() + " after " + std::to_string(p.seconds) + " s";
      INFO(last);
      REQUIRE(p.res.ok());
      CHECK(p.seconds < 8);
      if (p.res.status == status) {
        last = reason_of(p.res);
        return true;
      }
      return false;
    },
    within);
  INFO("last /readyz: " << last);
  INFO(svc.diagnostics());
  REQUIRE(met);
  return last;
}

} // namespace

TEST_CASE("metrics: values after five runs of which two fail", "[e2e][metrics]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  auto started_at = now_ms() / 1000.0;
  service_fixture f(backend);
  auto& dir = f.dir;
  auto& svc = f.svc;
  REQUIRE(svc.start() == "");
  auto client = svc.client();
  INFO(svc.diagnostics());

  auto before = scrape(client);
  check_with_promtool(before, dir);
  CHECK(value(before, "taskschedulizer_tasks_scheduled_total") == 0);
  CHECK(value(before, "taskschedulizer_tasks_pending") == 0);
  CHECK(value(before, "taskschedulizer_storage_up") == 1);
  CHECK(value(before, kind("taskschedulizer_actors_alive", "coordinator")) == 1);
  CHECK(value(before, kind("taskschedulizer_actors_alive", "persistence")) == 1);
  CHECK(value(before, kind("taskschedulizer_actors_alive", "http_gateway")) == 1);
  CHECK(value(before, kind("taskschedulizer_actors_alive", "executor")) == 0);
  auto commits_before = value(before, "taskschedulizer_storage_transactions_total{outcome=\"committed\"}");

  // Due a few seconds from now, so that the pending gauge is seen up first.
  auto due = format_utc_ms(now_ms() + 4000);
  std::vector<int64_t> ids;
  for (auto* command : {"true", "echo ok", "printf abc", "exit 3", "kill -9 $$"})
    ids.push_back(schedule(client, command, due));
  auto armed = scrape(client);
  CHECK(value(armed, "taskschedulizer_tasks_scheduled_total") == 5);
  CHECK(value(armed, "taskschedulizer_tasks_pending") == 5);
  CHECK(value(armed, "taskschedulizer_tasks_started_total") == 0);
  CHECK(value(armed, "taskschedulizer_storage_transactions_total{outcome=\"committed\"}")
        > commits_before);

  for (auto id : ids)
    wait_finished(svc, id);
  std::string after;
  // The last executors end just after their outcomes are recorded.
  CHECK(wait_until(
    [&] {
      after = scrape(client);
      return sample(after, kind("taskschedulizer_actors_alive", "executor")) == 0.0
             && sample(after, "taskschedulizer_tasks_running") == 0.0;
    },
    15s));
  INFO(after);
  check_with_promtool(after, dir);
  CHECK(value(after, "taskschedulizer_tasks_scheduled_total") == 5);
  CHECK(value(after, "taskschedulizer_tasks_started_total") == 5);
  CHECK(value(after, "taskschedulizer_tasks_finished_total{outcome=\"success\",reason=\"none\"}")
        == 3);
  CHECK(value(after, "taskschedulizer_tasks_finished_total{outcome=\"failure\",reason=\"exit\"}")
        == 1);
  CHECK(value(after, "taskschedulizer_tasks_finished_total{outcome=\"failure\",reason=\"signal\"}")
        == 1);
  CHECK(value(after,
              "taskschedulizer_tasks_finished_total{outcome=\"failure\",reason=\"start_failed\"}")
        == 0);
  CHECK(value(after,
              "taskschedulizer_tasks_finished_total{outcome=\"failure\",reason=\"interrupted\"}")
        == 0);
  CHECK(value(after, "taskschedulizer_task_dispatch_lateness_seconds_count") == 5);
  CHECK(value(after, "taskschedulizer_task_dispatch_lateness_seconds_bucket{le=\"+Inf\"}") == 5);
  // Started on time (claimed ahead): well within a generous bound, never absurd.
  CHECK(value(after, "taskschedulizer_task_dispatch_lateness_seconds_bucket{le=\"2.5\"}") == 5);
  CHECK(value(after, "taskschedulizer_task_run_duration_seconds_count") == 5);
  // "ok\n" and "abc": the rest print nothing.
  CHECK(value(after, "taskschedulizer_task_output_bytes_total") == 6);
  CHECK(value(after, "taskschedulizer_tasks_pending") == 0);
  CHECK(value(after, "taskschedulizer_tasks_waiting") == 0);
  CHECK(value(after, "taskschedulizer_run_slots_used") == 0);
  CHECK(value(after, "taskschedulizer_run_slots_max") == 64);

  // Storage: every write was committed: 5 inserts, 5 claims, 5 process starts, 5 outcomes,
  // and the output of the two runs that printed, stored as it came (one piece each).
  CHECK(value(after, "taskschedulizer_storage_commit_rows_sum") == 22);
  auto commits = value(after, "taskschedulizer_storage_transactions_total{outcome=\"committed\"}");
  CHECK(commits > value(armed, "taskschedulizer_storage_transactions_total{outcome=\"committed\"}"));
  CHECK(value(after, "taskschedulizer_storage_commit_duration_seconds_count") == commits);
  CHECK(value(after, "taskschedulizer_storage_transactions_total{outcome=\"failed\"}") == 0);

  // Actors: five executors came and went; every kind handled messages; no gauge drifted.
  CHECK(value(after, kind("taskschedulizer_actor_messages_processed_total", "executor")) >= 10);
  for (auto* k : {"coordinator", "executor", "persistence", "http_gateway"}) {
    INFO(k);
    CHECK(value(after, kind("taskschedulizer_actor_messages_processed_total", k)) > 0);
    // Both move per message (one may be a step ahead while a tick is being handled).
    auto timed = value(after, kind("taskschedulizer_actor_message_handling_seconds_count", k));
    auto processed = value(after, kind("taskschedulizer_actor_messages_processed_total", k));
    CHECK(timed >= processed - 1);
    CHECK(timed <= processed + 1);
    auto mailbox = value(after, kind("taskschedulizer_actor_mailbox_messages", k));
    CHECK(mailbox >= 0);
    CHECK(mailbox <= 2);  // a tick may be on its way
  }

  // Process metrics.
  CHECK(value(after, "process_resident_memory_bytes") > 1024 * 1024);
  CHECK(value(after, "process_virtual_memory_bytes") >= value(after, "process_resident_memory_bytes"));
  CHECK(value(after, "process_open_fds") >= 3);
  CHECK(value(after, "process_max_fds") >= value(after, "process_open_fds"));
  CHECK(value(after, "process_cpu_seconds_total") >= 0);
  CHECK(value(after, "process_start_time_seconds") >= started_at - 5);
  CHECK(value(after, "process_start_time_seconds") <= now_ms() / 1000.0 + 1);

  SECTION("HTTP requests by route pattern and status code") {
    auto base = scrape(client);
    auto count = [&](const std::string& text, const std::string& route, int code) {
      return sample(text, http_series(route, code)).value_or(0);
    };
    for (int i = 0; i < 3; ++i)
      CHECK(client.get("/status?id=" + std::to_string(ids[0])).status == 200);
    CHECK(client.get("/status?id=x").status == 400);
    CHECK(client.get("/status?id=999999").status == 404);
    // Hostile paths: one label for all of them, never the path itself.
    CHECK(client.get("/%2e%2e/etc/passwd").status == 404);
    CHECK(client.get("/metrics/../../x?y=" + std::string(300, 'z')).status == 404);
    CHECK(client.post("/status", "{}").status == 405);
    CHECK(client.get("/healthz").status == 200);
    auto now = scrape(client);
    CHECK(count(now, "/status", 200) - count(base, "/status", 200) == 3);
    CHECK(count(now, "/status", 400) - count(base, "/status", 400) == 1);
    CHECK(count(now, "/status", 404) - count(base, "/status", 404) == 1);
    CHECK(count(now, "/status", 405) - count(base, "/status", 405) == 1);
    CHECK(count(now, "other", 404) - count(base, "other", 404) == 2);
    CHECK(count(now, "/healthz", 200) - count(base, "/healthz", 200) == 1);
    // The scrape that produced `base` is counted in `now`.
    CHECK(count(now, "/metrics", 200) - count(base, "/metrics", 200) == 1);
    CHECK(count(now, "/taskschedulizer", 201) == 5);
    CHECK(value(now, "taskschedulizer_http_request_duration_seconds_count{route=\"/taskschedulizer\"}")
          == 5);
    CHECK(now.find("passwd") == std::string::npos);
    CHECK(now.find("zzzz") == std::string::npos);
    // Every route label is a known pattern.
    std::istringstream in{now};
    std::string line;
    while (std::getline(in, line)) {
      auto at = line.find("route=\"");
      if (line.empty() || line[0] == '#' || at == std::string::npos)
        continue;
      auto label = line.substr(at + 7, line.find('"', at + 7) - at - 7);
      INFO(line);
      CHECK((label == "/taskschedulizer" || label == "/status" || label == "/metrics"
             || label == "/healthz" || label == "/readyz" || label == "other"));
    }
  }
}

TEST_CASE("metrics: tasks waiting for a run slot", "[e2e][metrics]") {
  temp_dir dir;
  service svc(dir.path(), "sqlite:" + dir.file("t.db"));
  REQUIRE(svc.start({"--max-running=1"}) == "");
  auto client = svc.client();
  INFO(svc.diagnostics());
  std::vector<int64_t> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(schedule(client, "sleep 2", past));
  std::string text;
  CHECK(wait_until(
    [&] {
      text = scrape(client);
      return sample(text, "taskschedulizer_tasks_running") == 1.0
             && sample(text, "taskschedulizer_tasks_waiting") == 2.0;
    },
    10s));
  INFO(text);
  CHECK(value(text, "taskschedulizer_run_slots_used") == 1);
  CHECK(value(text, "taskschedulizer_run_slots_max") == 1);
  CHECK(value(text, kind("taskschedulizer_actors_alive", "executor")) == 1);
  for (auto id : ids)
    wait_finished(svc, id, 30s);
  CHECK(wait_until(
    [&] {
      text = scrape(client);
      return sample(text, "taskschedulizer_tasks_waiting") == 0.0
             && sample(text, "taskschedulizer_tasks_running") == 0.0
             && sample(text, kind("taskschedulizer_actors_alive", "executor")) == 0.0;
    },
    10s));
  CHECK(value(text, "taskschedulizer_task_run_duration_seconds_bucket{le=\"1\"}") == 0);
  CHECK(value(text, "taskschedulizer_task_run_duration_seconds_bucket{le=\"5\"}") == 3);
}

TEST_CASE("metrics: the token guards /metrics but not the probes", "[e2e][metrics]") {
  temp_dir dir;
  const std::string token = "metrics-token-0123456789";
  REQUIRE(write_file(dir.file("token"), token));
  service svc(dir.path(), "sqlite:" + dir.file("t.db"));
  REQUIRE(svc.start({"--api-token-file=" + dir.file("token")}) == "");
  auto client = svc.client();
  INFO(svc.diagnostics());

  auto none = client.get("/metrics");
  CHECK(none.status == 401);
  CHECK(none.error_code() == "unauthorized");
  CHECK(client.get("/metrics", {{"Authorization", "Bearer wrong"}}).status == 401);
  auto text = scrape(client, {{"Authorization", "Bearer " + token}});
  check_with_promtool(text, dir);
  CHECK(text.find(token) == std::string::npos);
  // The refused scrapes are counted too.
  CHECK(value(text, http_series("/metrics", 401)) == 2);

  auto health = client.get("/healthz");
  CHECK(health.status == 200);
  CHECK(health.json() == json{{"status", "ok"}});
  auto ready = client.get("/readyz");
  CHECK(ready.status == 200);
  CHECK(ready.json() == json{{"status", "ready"}});
  CHECK(client.post("/healthz", "{}").status == 405);
}

TEST_CASE("metrics: with --metrics=off", "[e2e][metrics]") {
  temp_dir dir;
  service svc(dir.path(), "sqlite:" + dir.file("t.db"));
  REQUIRE(svc.start({"--metrics=off"}) == "");
  auto client = svc.client();
  INFO(svc.diagnostics());
  auto r = client.get("/metrics");
  INFO(r.describe());
  CHECK(r.status == 404);
  CHECK(r.error_code() == "not_found");
  CHECK(r.header("Content-Type") == "application/json");
  CHECK(client.get("/healthz").status == 200);
  CHECK(client.get("/readyz").status == 200);
  // The service itself works as ever.
  auto id = schedule(client, "echo off", past);
  auto j = wait_finished(svc, id);
  CHECK(j["output"] == "off\n");

  service bad(dir.path(), "sqlite:" + dir.file("t2.db"));
  auto code = bad.run_to_exit({"--port=0", "--db=sqlite:" + dir.file("t2.db"), "--metrics=maybe"});
  INFO(bad.diagnostics());
  REQUIRE(code.has_value());
  CHECK(*code != 0);
  CHECK(bad.stderr_text().find("--metrics must be on or off") != std::string::npos);
}

TEST_CASE("readiness follows the database when stopped and restarted or frozen and thawed",
          "[e2e][metrics][mysql]") {
  if (!mariadb_tests_enabled()) {
    WARN("TS_TEST_MARIADB_DIR is not set: no private MariaDB server, readiness test skipped");
    return;
  }
  temp_dir dir;
  private_mariadb server(dir.file("mariadb"), "metrics", secret);
  service svc(dir.path(), server.url());
  REQUIRE(svc.start() == "");
  auto client = svc.client(15s);
  INFO(svc.diagnostics());

  CHECK(wait_ready_status(svc, 200, 10s).empty());
  auto text = scrape(client);
  check_with_promtool(text, dir);
  CHECK(value(text, "taskschedulizer_storage_up") == 1);
  CHECK(text.find(secret) == std::string::npos);
  auto reconnects = value(text, "taskschedulizer_storage_reconnects_total{outcome=\"success\"}");

  SECTION("stopped, then restarted") {
    server.stop();
    auto why = wait_ready_status(svc, 503, 20s);
    CHECK((why == "the database is unavailable" || why == "the database did not answer in time"));
    CHECK(client.get("/healthz").status == 200);
    CHECK(wait_until([&] { return sample(scrape(client), "taskschedulizer_storage_up") == 0.0; },
                     10s));
    server.restart();
    wait_ready_status(svc, 200, 30s);
    text = scrape(client);
    CHECK(value(text, "taskschedulizer_storage_up") == 1);
    CHECK(value(text, "taskschedulizer_storage_reconnects_total{outcome=\"success\"}")
          > reconnects);
    // Requests work again.
    auto id = schedule(client, "echo back", past);
    CHECK(wait_finished(svc, id)["output"] == "back\n");
  }
  SECTION("frozen (SIGSTOP), then thawed") {
    server.pause();
    auto t0 = steady::now();
    auto why = wait_ready_status(svc, 503, 20s);
    CHECK((why == "the database is unavailable" || why == "the database did not answer in time"));
    CHECK(std::chrono::duration<double>(steady::now() - t0).count() < 15);
    // Scrapes do not wait for the database.
    auto s0 = steady::now();
    scrape(client);
    CHECK(std::chrono::duration<double>(steady::now() - s0).count() < 5);
    server.resume();
    wait_ready_status(svc, 200, 30s);
  }

  text = scrape(client);
  check_with_promtool(text, dir);
  CHECK(text.find(secret) == std::string::npos);
  CHECK(svc.stderr_text().find(secret) == std::string::npos);
}
