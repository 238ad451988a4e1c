// The v1 API of the real binary over real HTTP, on every backend: legacy and v1 views of
// one task agree at each stage; pagination over 1,000 tasks while another client inserts;
// filters; cancel of a waiting, a starting and a running task; trigger; following a running
// command's output; a restart keeps everything; an edit (PATCH) with its version and ETag.
#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/service.hpp"

using namespace ts::e2e;
using nlohmann::json;

namespace {

const std::string future = "2099-01-01T00:00:00Z";

json task(const http_client& c, int64_t id) {
  return get_ok(c, "/v1/tasks/" + std::to_string(id));
}

json legacy(const http_client& c, int64_t id) {
  return get_ok(c, "/status?id=" + std::to_string(id));
}

http_response post_action(const http_client& c, int64_t id, const std::string& what,
                          header_list headers = {}) {
  return c.post("/v1/tasks/" + std::to_string(id) + "/" + what, "", std::move(headers));
}

/// PATCH /v1/tasks/ID with a merge patch.
http_response patch_task(const http_client& c, int64_t id, const json& patch,
                         header_list headers = {}) {
  headers.emplace_back("Content-Type", "application/merge-patch+json");
  return c.send({"PATCH", "/v1/tasks/" + std::to_string(id), std::move(headers), patch.dump()});
}

std::string latest_status(const json& t) {
  return t["latest_run"].is_null() ? "" : t["latest_run"]["status"].get<std::string>();
}

bool run_ended(const json& t) {
  auto s = latest_status(t);
  return s == "success" || s == "failure";
}

/// Every item of every page of `target` (a list path with its filters), following
/// next_cursor; REQUIREs the pages to be newest first.
std::vector<int64_t> all_pages(const http_client& c, const std::string& target, int limit) {
  std::vector<int64_t> ids;
  std::string cursor;
  for (int page = 0; page < 10000; ++page) {
    auto sep = target.find('?') == std::string::npos ? "?" : "&";
    auto j = get_ok(c, target + sep + "limit=" + std::to_string(limit)
                         + (cursor.empty() ? "" : "&cursor=" + cursor));
    REQUIRE(j["items"].size() <= static_cast<size_t>(limit));
    for (auto& item : j["items"]) {
      auto id = item["id"].get<int64_t>();
      if (!ids.empty())
        REQUIRE(id < ids.back());
      ids.push_back(id);
    }
    if (j["next_cursor"].is_null())
      return ids;
    cursor = j["next_cursor"].get<std::string>();
  }
  FAIL("the pages did not end");
  return ids;
}

} // namespace

TEST_CASE("v1 and legacy views of one task agree at each stage", "[e2e][v1]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  REQUIRE(f.svc.start() == "");
  auto c = f.svc.client();

  // Waiting for its time.
  auto t = create_v1_task(c, {{"command", "echo hello; echo oops >&2; exit 3"},
                      {"name", "greeter"},
                      {"labels", {{"team", "ops"}}},
                      {"schedule", {{"at", format_utc_ms(now_ms() + 1500)}}}});
  auto id = t["id"].get<int64_t>();
  CHECK(t["state"] == "active");
  CHECK(t["version"] == 1);
  CHECK(t["latest_run"].is_null());
  CHECK(t["next_run_at"] == t["schedule"]["at"]);
  CHECK(t["labels"] == json({{"team", "ops"}}));
  CHECK(t["output_limit_bytes"] == 65536);
  auto l = legacy(c, id);
  CHECK(l["status"] == "pending");
  CHECK(l["task"] == "echo hello; echo oops >&2; exit 3");
  CHECK(l["time"] == t["schedule"]["at"]);
  CHECK(l["started_at"].is_null());

  // Finished.
  auto done = wait_task(c, id, run_ended);
  auto& run = done["latest_run"];
  CHECK(done["state"] == "completed");
  CHECK(done["next_run_at"].is_null());
  CHECK(done["version"].get<int64_t>() > 1);
  CHECK(run["status"] == "failure");
  CHECK(run["reason"] == "exit");
  CHECK(run["exit_code"] == 3);
  CHECK(run["trigger"] == "schedule");
  CHECK(run["attempt"] == 1);
  CHECK(run["output"] == "hello\noops\n");
  CHECK(run["output_bytes"] == 11);
  CHECK(run["scheduled_for"] == t["schedule"]["at"]);
  CHECK(run["lateness_ms"].is_number_integer());
  l = legacy(c, id);
  CHECK(l["status"] == "failure");
  CHECK(l["reason"] == "exit");
  CHECK(l["exit_code"] == 3);
  CHECK(l["output"] == run["output"]);
  CHECK(l["started_at"] == run["started_at"]);
  CHECK(l["finished_at"] == run["finished_at"]);
  CHECK(l["run_id"] == run["id"]);

  // The run as its own resource, in the task's runs and in all runs; its output.
  auto run_id = run["id"].get<int64_t>();
  auto r = get_ok(c, "/v1/runs/" + std::to_string(run_id));
  CHECK(r == run);
  auto runs = get_ok(c, "/v1/tasks/" + std::to_string(id) + "/runs");
  REQUIRE(runs["items"].size() == 1);
  CHECK(runs["items"][0]["id"] == run_id);
  CHECK(runs["next_cursor"].is_null());
  auto out = c.get("/v1/runs/" + std::to_string(run_id) + "/output");
  CHECK(out.status == 200);
  CHECK(out.body == "hello\noops\n");
  CHECK(out.header("X-Output-Complete") == "true");
  CHECK(out.header("Content-Type") == "text/plain; charset=utf-8");

  // A legacy task is a v1 task too.
  auto created = c.post("/taskschedulizer", task_body("true", future));
  REQUIRE(created.status == 201);
  auto lid = created.json()["id"].get<int64_t>();
  auto lt = task(c, lid);
  CHECK(lt["command"] == "true");
  CHECK(lt["name"].is_null());
  CHECK(lt["labels"] == json::object());
  CHECK(lt["state"] == "active");
  CHECK(lt["schedule"]["at"] == "2099-01-01T00:00:00.000Z");

  // Missing things are 404s that say which.
  auto missing = c.get("/v1/tasks/999999");
  CHECK(missing.status == 404);
  CHECK(missing.error_code() == "not_found");
  CHECK(c.get("/v1/runs/999999").status == 404);
  CHECK(c.get("/v1/runs/999999/output").status == 404);
  CHECK(c.get("/v1/tasks/999999/runs").status == 404);
  CHECK(post_action(c, 999999, "cancel").status == 404);
  CHECK(post_action(c, 999999, "trigger").status == 404);
}

TEST_CASE("v1 pages over 1,000 tasks stay stable while another client inserts",
          "[e2e][v1]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  REQUIRE(f.svc.start() == "");
  auto c = f.svc.client();
  std::set<int64_t> before;
  for (int i = 0; i < 1000; ++i) {
    auto r = c.post("/taskschedulizer", task_body("true", future));
    REQUIRE(r.status == 201);
    before.insert(r.json()["id"].get<int64_t>());
  }
  std::atomic<bool> stop{false};
  std::atomic<int> inserted{0};
  std::thread writer([&] {
    auto w = f.svc.client();
    for (int i = 0; i < 5000 && !stop; ++i) {
      json body = {{"command", "true"}, {"schedule", {{"at", future}}}};
      if (w.post("/v1/tasks", body.dump()).status == 201)
        ++inserted;
    }
  });
  std::vector<int64_t> seen;
  try {
    seen = all_pages(c, "/v1/tasks", 37);
  } catch (...) {
    stop = true;
    writer.join();
    throw;
  }
  stop = true;
  writer.join();
  INFO("inserted meanwhile: " << inserted.load());
  std::set<int64_t> unique(seen.begin(), seen.end());
  CHECK(unique.size() == seen.size());  // no item twice
  for (auto id : before)
    CHECK(unique.count(id) == 1);  // none skipped of those that existed at the first page
}

TEST_CASE("v1 list filters (state, labels, name prefix) and their errors", "[e2e][v1]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  REQUIRE(f.svc.start() == "");
  auto c = f.svc.client();
  auto a = create_v1_task(c, {{"command", "true"}, {"name", "backup-db"},
                      {"labels", {{"team", "ops"}, {"env", "prod"}}},
                      {"schedule", {{"at", future}}}})["id"].get<int64_t>();
  auto b = create_v1_task(c, {{"command", "true"}, {"name", "backup-files"},
                      {"labels", {{"team", "ops"}, {"env", "test"}}},
                      {"schedule", {{"at", future}}}})["id"].get<int64_t>();
  auto d = create_v1_task(c, {{"command", "true"}, {"name", "report"}, {"labels", {{"team", "dev"}}},
                      {"schedule", {{"at", future}}}})["id"].get<int64_t>();
  REQUIRE(post_action(c, d, "cancel").status == 200);
  auto ids = [&](const std::string& q) { return all_pages(c, "/v1/tasks?" + q, 2); };
  CHECK(ids("label=team:ops") == std::vector<int64_t>{b, a});
  CHECK(ids("label=team:ops&label=env:prod") == std::vector<int64_t>{a});
  CHECK(ids("label=team:nobody").empty());
  CHECK(ids("name_prefix=backup-") == std::vector<int64_t>{b, a});
  CHECK(ids("name_prefix=backup-f") == std::vector<int64_t>{b});
  CHECK(ids("state=cancelled") == std::vector<int64_t>{d});
  CHECK(ids("state=active") == std::vector<int64_t>{b, a});
  CHECK(ids("state=completed").empty());
  auto unknown = c.get("/v1/tasks?stat=active");
  CHECK(unknown.status == 400);
  CHECK(unknown.error_code() == "unknown_field");
  CHECK(unknown.json()["error"]["field"] == "stat");
  auto page = get_ok(c, "/v1/tasks?limit=1");
  auto cursor = page["next_cursor"].get<std::string>();
  auto foreign = c.get("/v1/tasks?state=active&cursor=" + cursor);
  CHECK(foreign.status == 400);
  CHECK(foreign.error_code() == "invalid_cursor");
  auto cut = c.get("/v1/tasks?cursor=" + cursor.substr(0, cursor.size() - 2));
  CHECK(cut.status == 400);
  CHECK(cut.error_code() == "invalid_cursor");
  auto bad = c.post("/v1/tasks", R"({"command":"true","labels":{"Bad Key":"x"}})");
  CHECK(bad.status == 400);
  CHECK(bad.json()["error"]["field"] == "labels.Bad Key");
  auto typo = c.post("/v1/tasks", R"({"command":"true","schedul":{}})");
  CHECK(typo.status == 400);
  CHECK(typo.error_code() == "unknown_field");
}

TEST_CASE("v1 cancel: a waiting, a running and a starting task", "[e2e][v1]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  REQUIRE(f.svc.start() == "");
  auto c = f.svc.client();

  SECTION("waiting") {
    auto id = create_v1_task(c, {{"command", "true"}, {"schedule", {{"at", future}}}})["id"]
                .get<int64_t>();
    auto r = post_action(c, id, "cancel");
    INFO(r.describe());
    REQUIRE(r.status == 200);
    auto t = r.json();
    CHECK(t["state"] == "cancelled");
    CHECK(t["next_run_at"].is_null());
    CHECK(t["latest_run"].is_null());
    CHECK(legacy(c, id)["status"] == "cancelled");
    auto again = post_action(c, id, "cancel");
    CHECK(again.status == 409);
    CHECK(again.error_code() == "invalid_state");
    auto trig = post_action(c, id, "trigger");
    CHECK(trig.status == 409);
    CHECK(trig.error_code() == "invalid_state");
    // An Idempotency-Key makes a retried cancel answer as the first one did.
    auto k = create_v1_task(c, {{"command", "true"}, {"schedule", {{"at", future}}}})["id"]
               .get<int64_t>();
    auto first = post_action(c, k, "cancel", {{"Idempotency-Key", "cancel-" + std::to_string(k)}});
    REQUIRE(first.status == 200);
    auto retry = post_action(c, k, "cancel", {{"Idempotency-Key", "cancel-" + std::to_string(k)}});
    CHECK(retry.status == 200);
    CHECK(retry.header("Idempotent-Replayed") == "true");
    CHECK(retry.json()["version"] == first.json()["version"]);
  }
  SECTION("running") {
    std::string marker = f.dir.file("cancelled-marker");
    auto id = create_v1_task(c, {{"command", "echo started; sleep 30; touch " + sh_quote(marker)}})["id"]
                .get<int64_t>();
    auto running = wait_task(c, id, [](const json& t) {
      return latest_status(t) == "running" && t["latest_run"]["output_bytes"] == 8;
    });
    auto l = legacy(c, id);
    CHECK(l["status"] == "running");
    CHECK(!l["started_at"].is_null());
    auto r = post_action(c, id, "cancel");
    INFO(r.describe());
    REQUIRE(r.status == 200);
    CHECK(r.json()["state"] == "cancelled");
    CHECK(r.json()["latest_run"]["stop_requested"] == true);
    auto done = wait_task(c, id, run_ended, 15s);
    auto& run = done["latest_run"];
    CHECK(run["status"] == "failure");
    CHECK(run["reason"] == "cancelled");
    CHECK(run["output"] == "started\n");
    CHECK(done["state"] == "cancelled");
    auto lr = legacy(c, id);
    CHECK(lr["status"] == "failure");
    CHECK(lr["reason"] == "cancelled");
    CHECK(!file_exists(marker));
    CHECK(post_action(c, id, "cancel").status == 409);
  }
  SECTION("starting: claimed ahead of its time, never started") {
    // Runs are claimed 100 ms before their time; a cancel inside that window finds the run
    // `starting`. The window is hit by timing, so a miss is retried with a new task, and
    // each attempt checks whichever case it hit.
    bool caught = false;
    for (int attempt = 0; attempt < 20 && !caught; ++attempt) {
      std::string marker = f.dir.file("ran-" + std::to_string(attempt));
      int64_t due = now_ms() + 1000;
      auto id = create_v1_task(c, {{"command", "touch " + sh_quote(marker)},
                           {"schedule", {{"at", format_utc_ms(due)}}}})["id"]
                  .get<int64_t>();
      sleep_until_ms(due - 40);
      auto r = post_action(c, id, "cancel");
      if (r.status == 409)
        continue;  // too late: it already ran
      REQUIRE(r.status == 200);
      auto t = r.json();
      if (latest_status(t) != "starting")
        continue;  // before the claim (a waiting cancel) or after the start
      caught = true;
      CHECK(t["latest_run"]["stop_requested"] == true);
      auto done = wait_task(c, id, run_ended, 10s);
      CHECK(done["latest_run"]["reason"] == "cancelled");
      CHECK(done["latest_run"]["started_at"].is_null());
      pause_briefly(300ms);
      CHECK(!file_exists(marker));
    }
    CHECK(caught);
  }
}

TEST_CASE("v1 cancel: a due task waiting for a run slot never runs", "[e2e][v1]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  REQUIRE(f.svc.start({"--max-running=1"}) == "");
  auto c = f.svc.client();
  auto blocker = create_v1_task(c, {{"command", "sleep 30"}})["id"].get<int64_t>();
  wait_task(c, blocker, [](const json& t) { return latest_status(t) == "running"; });
  std::string marker = f.dir.file("waited");
  auto id = create_v1_task(c, {{"command", "touch " + sh_quote(marker)}})["id"].get<int64_t>();
  pause_briefly(300ms);
  // Due, but the one slot is taken: no run has started.
  auto waiting = task(c, id);
  CHECK(waiting["state"] == "active");
  CHECK(latest_status(waiting) != "running");
  CHECK(legacy(c, id)["status"] == "pending");
  auto r = post_action(c, id, "cancel");
  INFO(r.describe());
  REQUIRE(r.status == 200);
  CHECK(r.json()["state"] == "cancelled");
  // Freeing the slot does not start it.
  REQUIRE(post_action(c, blocker, "cancel").status == 200);
  wait_task(c, blocker, run_ended, 15s);
  pause_briefly(500ms);
  CHECK(!file_exists(marker));
  CHECK(legacy(c, id)["status"] == "cancelled");
  CHECK(get_ok(c, "/v1/tasks/" + std::to_string(id) + "/runs")["items"].empty());
}

TEST_CASE("v1 trigger: one more run now, refused while one is active", "[e2e][v1]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  REQUIRE(f.svc.start() == "");
  auto c = f.svc.client();
  auto id = create_v1_task(c, {{"command", "echo run"}})["id"].get<int64_t>();
  auto first = wait_task(c, id, run_ended);
  auto first_run = first["latest_run"]["id"].get<int64_t>();
  auto r = post_action(c, id, "trigger", {{"Idempotency-Key", "t-" + std::to_string(id)}});
  INFO(r.describe());
  REQUIRE(r.status == 200);
  CHECK(r.json()["state"] == "active");
  CHECK(r.json()["version"].get<int64_t>() > first["version"].get<int64_t>());
  auto second = wait_task(c, id, [&](const json& t) {
    return run_ended(t) && t["latest_run"]["id"].get<int64_t>() != first_run;
  });
  CHECK(second["latest_run"]["trigger"] == "manual");
  CHECK(second["latest_run"]["status"] == "success");
  CHECK(second["latest_run"]["output"] == "run\n");
  CHECK(second["state"] == "completed");
  // A retry with the same key does not run it a third time.
  auto retry = post_action(c, id, "trigger", {{"Idempotency-Key", "t-" + std::to_string(id)}});
  CHECK(retry.status == 200);
  CHECK(retry.header("Idempotent-Replayed") == "true");
  pause_briefly(500ms);
  auto runs = get_ok(c, "/v1/tasks/" + std::to_string(id) + "/runs");
  CHECK(runs["items"].size() == 2);
  CHECK(get_ok(c, "/v1/runs?status=success")["items"].size() == 2);

  // While a run is active: 409.
  auto slow = create_v1_task(c, {{"command", "sleep 30"}})["id"].get<int64_t>();
  wait_task(c, slow, [](const json& t) { return latest_status(t) == "running"; });
  auto busy = post_action(c, slow, "trigger");
  CHECK(busy.status == 409);
  CHECK(busy.error_code() == "invalid_state");
  CHECK(post_action(c, slow, "cancel").status == 200);
}

TEST_CASE("v1 output of a running command can be followed line by line", "[e2e][v1]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  REQUIRE(f.svc.start() == "");
  auto c = f.svc.client();
  auto id = create_v1_task(c, {{"command", "for i in 1 2 3; do echo $i; sleep 1; done"}})["id"]
              .get<int64_t>();
  auto t = wait_task(c, id, [](const json& t) { return !t["latest_run"].is_null(); });
  auto run = t["latest_run"]["id"].get<int64_t>();
  std::string followed;
  std::vector<std::string> pieces;
  int64_t offset = 0;
  bool complete = false;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!complete && std::chrono::steady_clock::now() < deadline) {
    auto r = c.get("/v1/runs/" + std::to_string(run) + "/output?offset=" + std::to_string(offset));
    INFO(r.describe());
    REQUIRE(r.status == 200);
    CHECK(r.header("X-Output-Offset") == std::to_string(offset));
    complete = r.header("X-Output-Complete") == "true";
    if (!r.body.empty()) {
      pieces.push_back(r.body);
      followed += r.body;
    }
    offset = std::stoll(r.header("X-Output-Next-Offset"));
    if (!complete)
      pause_briefly(100ms);
  }
  INFO("pieces: " << pieces.size());
  CHECK(complete);
  CHECK(followed == "1\n2\n3\n");
  // Seen while it ran: in at least three reads, the first before the command ended.
  CHECK(pieces.size() >= 3);
  if (!pieces.empty())
    CHECK(pieces.front() == "1\n");
}

TEST_CASE("v1: a restart keeps tasks, runs and output", "[e2e][v1]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  REQUIRE(f.svc.start() == "");
  auto c = f.svc.client();
  auto a = create_v1_task(c, {{"command", "echo kept"}, {"name", "a"}, {"labels", {{"k", "v"}}}})["id"]
             .get<int64_t>();
  auto b = create_v1_task(c, {{"command", "true"}, {"schedule", {{"at", future}}}})["id"].get<int64_t>();
  wait_task(c, a, run_ended);
  REQUIRE(post_action(c, b, "cancel").status == 200);
  auto tasks_before = get_ok(c, "/v1/tasks");
  auto runs_before = get_ok(c, "/v1/runs");
  REQUIRE(f.svc.signal(SIGTERM));
  REQUIRE(f.svc.wait(40s) == 0);
  REQUIRE(f.svc.start() == "");
  auto c2 = f.svc.client();
  CHECK(get_ok(c2, "/v1/tasks") == tasks_before);
  CHECK(get_ok(c2, "/v1/runs") == runs_before);
  auto run = runs_before["items"][0]["id"].get<int64_t>();
  CHECK(c2.get("/v1/runs/" + std::to_string(run) + "/output").body == "kept\n");
}

TEST_CASE("v1 edit: a PATCH changes what later runs run, its version and its ETag",
          "[e2e][v1]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  REQUIRE(f.svc.start() == "");
  INFO(f.svc.diagnostics());
  auto c = f.svc.client();
  auto t = create_v1_task(c, {{"command", "echo one"},
                              {"name", "first"},
                              {"labels", {{"team", "ops"}, {"tier", "1"}}},
                              {"schedule", {{"at", future}}}});
  auto id = t["id"].get<int64_t>();
  auto path = "/v1/tasks/" + std::to_string(id);
  REQUIRE(t["version"] == 1);
  CHECK(c.get(path).header("ETag") == "\"1\"");

  // Replaced, removed (null), merged; the schedule is not in the patch, so it stays.
  auto r = patch_task(c, id,
                      {{"command", "echo two"},
                       {"name", nullptr},
                       {"labels", {{"tier", nullptr}, {"env", "prod"}}},
                       {"timeout_s", 30}},
                      {{"If-Match", "\"1\""}});
  INFO(r.describe());
  REQUIRE(r.status == 200);
  CHECK(r.header("ETag") == "\"2\"");
  auto edited = r.json();
  CHECK(edited["version"] == 2);
  CHECK(edited["command"] == "echo two");
  CHECK(edited["name"].is_null());
  CHECK(edited["labels"] == json({{"team", "ops"}, {"env", "prod"}}));
  CHECK(edited["timeout_s"] == 30.0);
  CHECK(edited["schedule"] == t["schedule"]);
  CHECK(edited["next_run_at"] == t["next_run_at"]);
  auto read = c.get(path);
  CHECK(read.header("ETag") == "\"2\"");
  auto stored = read.json();
  for (auto key : {"command", "name", "labels", "timeout_s", "schedule", "version"})
    CHECK(stored[key] == edited[key]);

  // The If-Match it was made with is stale now: 412, and nothing changes.
  auto stale = patch_task(c, id, {{"command", "echo three"}}, {{"If-Match", "\"1\""}});
  CHECK(stale.status == 412);
  CHECK(stale.error_code() == "version_mismatch");
  CHECK(get_ok(c, path)["command"] == "echo two");

  // A new time, without If-Match: the edited command runs then.
  auto soon = patch_task(c, id, {{"schedule", {{"at", format_utc_ms(now_ms() + 500)}}}});
  INFO(soon.describe());
  REQUIRE(soon.status == 200);
  CHECK(soon.json()["version"] == 3);
  auto ran = wait_task(c, id, run_ended);
  CHECK(ran["latest_run"]["output"] == "two\n");
  // It has had its run: a new time is refused, and so is any edit of a cancelled task.
  auto again = patch_task(c, id, {{"schedule", {{"at", future}}}});
  CHECK(again.status == 409);
  CHECK(again.error_code() == "invalid_state");
  auto other = create_v1_task(c, {{"command", "true"}, {"schedule", {{"at", future}}}});
  auto other_id = other["id"].get<int64_t>();
  REQUIRE(post_action(c, other_id, "cancel").status == 200);
  auto cancelled = patch_task(c, other_id, {{"command", "false"}});
  CHECK(cancelled.status == 409);
  CHECK(cancelled.error_code() == "invalid_state");

  // A recurring task: the next occurrences run the new command (no If-Match: the edit is
  // made again if a run ends between its read and its write).
  auto every = create_v1_task(c, {{"command", "echo a"}, {"schedule", {{"every_s", 1}}}});
  auto every_id = every["id"].get<int64_t>();
  wait_task(c, every_id, [](const json& t) {
    return run_ended(t) && t["latest_run"]["output"] == "a\n";
  });
  auto b = patch_task(c, every_id, {{"command", "echo b"}});
  INFO(b.describe());
  REQUIRE(b.status == 200);
  wait_task(c, every_id, [](const json& t) {
    return run_ended(t) && t["latest_run"]["output"] == "b\n";
  });
  // Recurring to one-shot is refused.
  json one_shot = {{"every_s", nullptr}, {"anchor", nullptr}, {"at", future}};
  auto once = patch_task(c, every_id, {{"schedule", one_shot}});
  CHECK(once.status == 409);
  CHECK(once.error_code() == "invalid_state");
  REQUIRE(post_action(c, every_id, "cancel").status == 200);
}
