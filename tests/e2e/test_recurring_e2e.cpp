// Recurring tasks in the real binary over real HTTP, on every backend: a six-field cron runs
// every 2 s on even seconds, an interval runs from its anchor, the previews named the very
// occurrences that ran, pause and resume record what was skipped, and a kill -9 neither
// runs an occurrence twice nor loses the schedule (the missed ones follow the policy).
// Each command appends $TS_SCHEDULED_FOR to a file, so "at most once" is checked on what
// really ran, not only on what the API says.
#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/service.hpp"

using namespace ts::e2e;
using nlohmann::json;

namespace {

std::string path_of(int64_t id, const std::string& what = "") {
  return "/v1/tasks/" + std::to_string(id) + what;
}

/// The task's runs, oldest first.
std::vector<json> runs_of(const http_client& c, int64_t id) {
  auto page = get_ok(c, path_of(id, "/runs?limit=500"));
  std::vector<json> out(page["items"].begin(), page["items"].end());
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<json> with_status(const std::vector<json>& runs, const std::string& status) {
  std::vector<json> out;
  for (auto& r : runs)
    if (r["status"] == status)
      out.push_back(r);
  return out;
}

/// The lines of a file of $TS_SCHEDULED_FOR values.
std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);)
    if (!line.empty())
      out.push_back(line);
  return out;
}

std::string record_to(const std::string& file) {
  return "echo \"$TS_SCHEDULED_FOR\" >> " + sh_quote(file);
}

json post_ok(const http_client& c, const std::string& target) {
  auto r = c.post(target, "");
  INFO(target << " -> " << r.status << " " << r.body);
  REQUIRE(r.status == 200);
  return r.json();
}

} // namespace

TEST_CASE("recurring e2e: cron every 2 s and an interval with an anchor run as previewed, "
          "pause and resume",
          "[e2e][recurring]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  REQUIRE(f.svc.start() == "");
  INFO(f.svc.diagnostics());
  auto c = f.svc.client();
  auto cron_file = f.dir.file("cron");
  auto every_file = f.dir.file("every");
  // The interval's anchor: a whole second, 3-4 s from now, so that it is still ahead once
  // both creates are acknowledged on a loaded machine (ASan, a parallel suite).
  auto anchor = (now_ms() / 1000 + 4) * 1000;
  auto cron = create_v1_task(c, {{"command", record_to(cron_file)},
                                 {"schedule", {{"cron", "*/2 * * * * *"}}}});
  auto every = create_v1_task(c, {{"command", record_to(every_file)},
                                  {"schedule", {{"every_s", 3}, {"anchor", format_utc_ms(anchor)}}},
                                  {"overlap", "queue"},
                                  {"misfire", {{"policy", "skip"}, {"grace_s", 5}}}});
  // No run can start before its task was acknowledged: an occurrence that fell due while
  // the create was on its way is measured from the acknowledgement.
  auto acked = now_ms();
  auto cron_id = cron["id"].get<int64_t>();
  auto every_id = every["id"].get<int64_t>();
  CHECK(cron["schedule"]["cron"] == "*/2 * * * * *");
  CHECK(cron["overlap"] == "skip");
  CHECK(cron["misfire"]["policy"] == "run_once");
  CHECK(every["schedule"]["every_s"] == 3);
  CHECK(every["overlap"] == "queue");
  CHECK(every["misfire"]["grace_s"] == 5);
  CHECK(every["next_run_at"] == format_utc_ms(anchor));
  // What the service says will run...
  auto preview = get_ok(c, path_of(cron_id, "/occurrences?count=4"))["occurrences"];
  auto every_preview = get_ok(c, path_of(every_id, "/occurrences?count=3"))["occurrences"];
  REQUIRE(preview.size() == 4);
  REQUIRE(every_preview.size() == 3);

  auto started = now_ms();
  sleep_until_ms(started + 10'000);
  auto runs = with_status(runs_of(c, cron_id), "success");
  INFO(json(runs).dump());
  REQUIRE(runs.size() >= 4);
  REQUIRE(runs.size() <= 6);
  std::set<int64_t> seen;
  for (size_t i = 0; i < runs.size(); ++i) {
    auto at = ms_field(runs[i], "scheduled_for");
    CHECK(at % 2000 == 0);  // even seconds
    CHECK(seen.insert(at).second);
    if (i > 0)
      CHECK(at - ms_field(runs[i - 1], "scheduled_for") == 2000);
    // Generous: the start follows its time within 1.5 s (less than the period) even on a
    // loaded machine; bench/ measures the real lateness.
    CHECK(ms_field(runs[i], "started_at") - at >= 0);
    CHECK(ms_field(runs[i], "started_at") - std::max(at, acked) < 1500);
  }
  // ...is what ran: from the preview's first occurrence on (on a loaded machine the create
  // can take long enough that one occurrence ran before the preview was read).
  size_t first = 0;
  while (first < runs.size() && runs[first]["scheduled_for"] != preview[0]["utc"])
    ++first;
  REQUIRE(first <= 1);
  REQUIRE(runs.size() >= first + 4);
  for (size_t i = 0; i < 4; ++i)
    CHECK(preview[i]["utc"] == runs[first + i]["scheduled_for"]);
  auto every_runs = with_status(runs_of(c, every_id), "success");
  REQUIRE(every_runs.size() >= 2);
  for (size_t i = 0; i < every_runs.size(); ++i)
    CHECK(ms_field(every_runs[i], "scheduled_for") == anchor + static_cast<int64_t>(i) * 3000);
  for (size_t i = 0; i < 2; ++i)
    CHECK(every_preview[i]["utc"] == every_runs[i]["scheduled_for"]);
  // Each occurrence's process ran once.
  auto ran = lines_of(cron_file);
  CHECK(std::set<std::string>(ran.begin(), ran.end()).size() == ran.size());
  CHECK(ran.size() >= runs.size());

  // Pause: nothing runs; a second pause is a no-op.
  auto paused = post_ok(c, path_of(cron_id, "/pause"));
  CHECK(paused["state"] == "paused");
  CHECK(paused["next_run_at"].is_null());
  CHECK_FALSE(paused["paused_at"].is_null());
  CHECK(post_ok(c, path_of(cron_id, "/pause"))["version"] == paused["version"]);
  auto before = ran.size();
  auto paused_ms = now_ms();
  sleep_until_ms(paused_ms + 4500);
  CHECK(lines_of(cron_file).size() <= before + 1);  // one may have been starting
  auto resumed = post_ok(c, path_of(cron_id, "/resume"));
  CHECK(resumed["state"] == "active");
  CHECK(resumed["paused_at"].is_null());
  auto skipped = with_status(runs_of(c, cron_id), "skipped");
  REQUIRE(skipped.size() == 1);
  CHECK(skipped[0]["skip_reason"] == "paused");
  CHECK(skipped[0]["missed_count"].get<int64_t>() >= 1);
  CHECK(skipped[0]["missed_count"].get<int64_t>() <= 3);
  auto resumed_ms = now_ms();
  auto at_resume = lines_of(cron_file).size();
  REQUIRE(wait_until([&] { return lines_of(cron_file).size() > at_resume; }, 5s));
  CHECK(now_ms() - resumed_ms < 3500);
  // Cancel ends it; resume is then refused.
  post_ok(c, path_of(cron_id, "/cancel"));
  auto refused = c.post(path_of(cron_id, "/resume"), "");
  CHECK(refused.status == 409);
  CHECK(refused.error_code() == "invalid_state");
  post_ok(c, path_of(every_id, "/cancel"));
}

TEST_CASE("recurring e2e: after kill -9 no occurrence runs twice and the missed ones follow "
          "the policy",
          "[e2e][recurring]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  auto& svc = f.svc;
  REQUIRE(svc.start() == "");
  INFO(svc.diagnostics());
  auto file = f.dir.file("ran");
  // Every second; misfire skip with a 1 s grace: what the downtime passed over is skipped.
  auto t = create_v1_task(svc.client(),
                          {{"command", record_to(file) + "; sleep 0.3"},
                           {"schedule", {{"every_s", 1}}},
                           {"misfire", {{"policy", "skip"}, {"grace_s", 1}}}});
  auto id = t["id"].get<int64_t>();
  REQUIRE(wait_until([&] { return lines_of(file).size() >= 3; }, 10s));
  REQUIRE(svc.signal(SIGKILL));
  REQUIRE(svc.wait(20s).has_value());
  auto killed_at = now_ms();
  sleep_until_ms(killed_at + 4000);
  REQUIRE(svc.start() == "");
  auto restarted = now_ms();
  sleep_until_ms(restarted + 3000);
  auto c = svc.client();
  post_ok(c, path_of(id, "/cancel"));
  auto runs = runs_of(c, id);
  INFO(json(runs).dump());
  std::set<std::string> occurrences;
  int64_t missed = 0;
  for (auto& r : runs) {
    if (r["status"] == "skipped") {
      if (r["skip_reason"] == "missed")
        missed += r["missed_count"].get<int64_t>();
      continue;
    }
    CHECK(occurrences.insert(r["scheduled_for"].get<std::string>()).second);
  }
  // About 4 s of occurrences were missed (the service was down); none ran late.
  CHECK(missed >= 2);
  CHECK(missed <= 7);
  auto ran = lines_of(file);
  CHECK(std::set<std::string>(ran.begin(), ran.end()).size() == ran.size());
  // Runs resumed after the restart.
  CHECK(with_status(runs, "success").size() >= 4);
}
