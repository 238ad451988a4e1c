// Recurring tasks in the v1 API without a socket: cron and every_s creates become new_task's
// recur (milliseconds) with the first occurrence as due, the misfire/overlap/history_keep
// fields with their defaults and every refusal, pause and resume routes, and the task and
// run JSON of recurring tasks and skipped runs (sent back as a request, the same task).
#include "http/responses.hpp"
#include "http/routes.hpp"
#include "http/v1_requests.hpp"
#include "http/v1_schedule.hpp"

#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/time_format.hpp"
#include "core/time_zone.hpp"

using nlohmann::json;
using ts::http_response;
using ts::millis;
namespace api = ts::api;

namespace {

constexpr millis now = 1700000000000; // 2023-11-14T22:13:20Z

millis at(const std::string& text) {
  auto t = ts::parse_time(text);
  REQUIRE(t);
  return *t;
}

caf::expected<ts::new_task> create(const std::string& body, api::v1_limits limits = {},
                                   std::optional<std::string_view> key = std::nullopt) {
  return api::parse_create_request(body, std::nullopt, key, now, limits);
}

ts::new_task created(const std::string& body, api::v1_limits limits = {}) {
  INFO(body);
  auto t = create(body, limits);
  INFO((t ? std::string{} : api::error_response(t.error()).body));
  REQUIRE(t);
  return *t;
}

/// Checks that `body` is a 400 with that code and field.
void refused(const std::string& body, const std::string& code, const std::string& field) {
  INFO(body);
  auto t = create(body);
  REQUIRE_FALSE(t);
  auto res = api::error_response(t.error());
  auto j = json::parse(res.body);
  CHECK(res.status == 400);
  CHECK(j["error"]["code"] == code);
  CHECK(j["error"]["field"] == field);
  CHECK(!j["error"]["message"].get<std::string>().empty());
}

std::string with(const std::string& fields) {
  return R"({"command":"x","schedule":{"every_s":60},)" + fields + "}";
}

api::action route(std::string_view method, std::string_view path, std::string_view body = {},
                  std::optional<std::string_view> key = std::nullopt,
                  std::string_view query = {}) {
  api::request_view r;
  r.method = method;
  r.path = path;
  r.query = query;
  r.body = body;
  r.idempotency_key = key;
  return api::route(r, "", false, now, true);
}

template <class T>
T v1(const api::action& a) {
  auto v = std::get_if<api::v1_action>(&a);
  REQUIRE(v != nullptr);
  auto x = std::get_if<T>(v);
  REQUIRE(x != nullptr);
  return *x;
}

http_response immediate(const api::action& a) {
  auto res = std::get_if<http_response>(&a);
  REQUIRE(res != nullptr);
  return *res;
}

/// A stored task as the store would return the new task.
ts::task_info stored(const ts::new_task& n) {
  ts::task_info t;
  t.id = 5;
  t.command = n.command;
  t.due = n.due;
  t.time_zone = n.time_zone;
  t.output_limit_bytes = n.output_limit_bytes;
  t.controls = n.controls;
  t.recur = n.recur;
  t.policy = n.policy;
  t.version = 1;
  t.next_run_at = n.due;
  t.created_at = t.updated_at = n.created_at;
  return t;
}

std::vector<std::string> utc_list(const std::vector<api::listed_occurrence>& list) {
  std::vector<std::string> out;
  for (auto& o : list)
    out.push_back(ts::format_time(o.utc));
  return out;
}

using strings = std::vector<std::string>;

} // namespace

// -- schedules ------------------------------------------------------------------------------

TEST_CASE("recurring create: cron in its zone, due at the first occurrence",
          "[v1][recurring]") {
  auto t = created(R"({"command":"x","schedule":{"cron":"0 30 2 * * *",
                      "time_zone":"America/New_York"}})");
  REQUIRE(t.recur.recurring());
  CHECK(t.recur.cron == "0 30 2 * * *");
  CHECK(!t.recur.every_s);
  CHECK(!t.recur.anchor);
  CHECK(!t.recur.start_at);
  CHECK(!t.recur.end_at);
  CHECK(!t.recur.max_runs);
  CHECK(t.time_zone == "America/New_York");
  // 02:30 EST (-05:00) on the next day: 2023-11-14's has passed at 22:13Z.
  CHECK(ts::format_time(t.due) == "2023-11-15T07:30:00.000Z");
  CHECK(t.created_at == now);

  // Without a zone: --default-time-zone, kept with the task so that the option may change.
  auto berlin = ts::find_time_zone("Europe/Berlin");
  REQUIRE(berlin);
  api::v1_limits l;
  l.zone = berlin->get();
  auto d = created(R"({"command":"x","schedule":{"cron":"@daily"}})", l);
  CHECK(d.time_zone == "Europe/Berlin");
  CHECK(ts::format_time(d.due) == "2023-11-14T23:00:00.000Z");
  // Neither: the process's zone, which a task without a zone is read in later too.
  CHECK(!created(R"({"command":"x","schedule":{"cron":"@daily"}})").time_zone);
  // A one-shot keeps only the zone the request named.
  CHECK(!created(R"({"command":"x","schedule":{"at":"2030-01-01 00:00:00"}})", l).time_zone);
}

TEST_CASE("recurring create: every_s with an anchor, and the default anchor",
          "[v1][recurring]") {
  auto t = created(R"({"command":"x","schedule":{"every_s":3600,
                      "anchor":"2023-11-14T20:00:00Z"}})");
  CHECK(t.recur.every_s == 3600);
  CHECK(t.recur.anchor == at("2023-11-14T20:00:00Z"));
  CHECK(!t.recur.cron);
  CHECK(!t.time_zone);
  // 20:00, 21:00, 22:00 have passed: 23:00.
  CHECK(ts::format_time(t.due) == "2023-11-14T23:00:00.000Z");
  // A naive anchor is read in the named zone.
  auto k = created(R"({"command":"x","schedule":{"every_s":86400,
                      "anchor":"2030-01-01 09:00:00","time_zone":"Asia/Kolkata"}})");
  CHECK(k.recur.anchor == at("2030-01-01T03:30:00Z"));
  CHECK(k.due == *k.recur.anchor);
  CHECK(k.time_zone == "Asia/Kolkata");
  // No anchor: the creation time (in whole seconds), which is also the first occurrence.
  auto d = created(R"({"command":"x","schedule":{"every_s":60}})");
  CHECK(d.recur.anchor == now);
  CHECK(d.due == now);
  auto frac = api::parse_create_request(R"({"command":"x","schedule":{"every_s":60}})",
                                        std::nullopt, std::nullopt, now + 250, {});
  REQUIRE(frac);
  CHECK(frac->recur.anchor == now);
  CHECK(frac->due == now);
}

TEST_CASE("recurring create: the window in milliseconds, its edges rounded inwards",
          "[v1][recurring]") {
  auto t = created(R"({"command":"x","schedule":{"every_s":60,"anchor":"2030-01-01T00:00:00Z",
                      "start_at":"2030-01-01T00:00:00.500Z","end_at":"2030-01-02T00:00:00.900Z",
                      "max_runs":5}})");
  CHECK(t.recur.start_at == at("2030-01-01T00:00:01Z"));
  CHECK(t.recur.end_at == at("2030-01-02T00:00:00Z"));
  CHECK(t.recur.max_runs == 5);
  // The anchor lies before start_at (rounded up to 00:00:01): the first is 00:01:00.
  CHECK(ts::format_time(t.due) == "2030-01-01T00:01:00.000Z");
  auto c = created(R"({"command":"x","schedule":{"cron":"0 0 12 * * *","time_zone":"UTC",
                      "start_at":"2024-01-01T00:00:00Z","end_at":"2024-01-31T00:00:00Z"}})");
  CHECK(ts::format_time(c.due) == "2024-01-01T12:00:00.000Z");
  CHECK(c.recur.start_at == at("2024-01-01T00:00:00Z"));
  // A window that has passed already has no first occurrence.
  refused(R"({"command":"x","schedule":{"every_s":60,"end_at":"2023-01-01T00:00:00Z"}})",
          "schedule_never_fires", "schedule");
  refused(R"({"command":"x","schedule":{"cron":"0 0 0 30 2 *"}})", "schedule_never_fires",
          "schedule");
  // A one-shot create stays as it was: no recurrence.
  auto once = created(R"({"command":"x","schedule":{"at":"2030-01-01T00:00:00Z"}})");
  CHECK(!once.recur.recurring());
  CHECK(once.due == at("2030-01-01T00:00:00Z"));
}

// -- policies -------------------------------------------------------------------------------

TEST_CASE("recurring create: misfire, overlap and history_keep, and their defaults",
          "[v1][recurring]") {
  auto d = created(R"({"command":"x","schedule":{"cron":"@hourly"}})");
  CHECK(d.policy.misfire == ts::misfire_policy::run_once);
  CHECK(d.policy.misfire_grace_ms == 60000);
  CHECK(d.policy.overlap == ts::overlap_policy::skip);
  CHECK(d.policy.history_keep == 100);
  auto t = created(with(R"("misfire":{"policy":"run_all","grace_s":300},"overlap":"queue",
                           "history_keep":10000)"));
  CHECK(t.policy.misfire == ts::misfire_policy::run_all);
  CHECK(t.policy.misfire_grace_ms == 300000);
  CHECK(t.policy.overlap == ts::overlap_policy::queue);
  CHECK(t.policy.history_keep == 10000);
  // Each key of misfire alone; the other keeps its default.
  auto g = created(with(R"("misfire":{"grace_s":86400})"));
  CHECK(g.policy.misfire == ts::misfire_policy::run_once);
  CHECK(g.policy.misfire_grace_ms == 86400000);
  auto s = created(with(R"("misfire":{"policy":"skip"},"overlap":"replace","history_keep":1)"));
  CHECK(s.policy.misfire == ts::misfire_policy::skip);
  CHECK(s.policy.misfire_grace_ms == 60000);
  CHECK(s.policy.overlap == ts::overlap_policy::replace);
  CHECK(s.policy.history_keep == 1);
  CHECK(created(with(R"("overlap":"allow","misfire":{})")).policy.overlap
        == ts::overlap_policy::allow);
  // A one-shot task takes them too (only history_keep means something for it).
  auto once = created(R"({"command":"x","misfire":{"policy":"skip"},"overlap":"queue",
                         "history_keep":7})");
  CHECK(!once.recur.recurring());
  CHECK(once.policy.misfire == ts::misfire_policy::skip);
  CHECK(once.policy.overlap == ts::overlap_policy::queue);
  CHECK(once.policy.history_keep == 7);
}

TEST_CASE("recurring create: every bad policy field names its path", "[v1][recurring]") {
  for (auto v : {"[]", "\"run_once\"", "null", "1", "true"})
    refused(with(std::string{R"("misfire":)"} + v), "invalid_field", "misfire");
  for (auto v : {"\"sometimes\"", "\"RUN_ONCE\"", "1", "null", "{}"})
    refused(with(std::string{R"("misfire":{"policy":)"} + v + "}"), "invalid_field",
            "misfire.policy");
  for (auto v : {"0", "-1", "86401", "1.5", "\"60\"", "true", "null", "18446744073709551615",
                 "9223372036854775807"})
    refused(with(std::string{R"("misfire":{"grace_s":)"} + v + "}"), "invalid_field",
            "misfire.grace_s");
  refused(with(R"("misfire":{"policy":"skip","grace":5})"), "unknown_field", "misfire.grace");
  for (auto v : {"\"never\"", "\"\"", "1", "null", "[\"skip\"]"})
    refused(with(std::string{R"("overlap":)"} + v), "invalid_field", "overlap");
  for (auto v : {"0", "-5", "10001", "2.5", "\"100\"", "true", "null", "18446744073709551615"})
    refused(with(std::string{R"("history_keep":)"} + v), "invalid_field", "history_keep");
  refused(with(R"("overlaps":"skip")"), "unknown_field", "overlaps");
}

TEST_CASE("recurring create: the policies are part of the Idempotency-Key's request",
          "[v1][recurring]") {
  auto hash = [](const std::string& body) {
    auto t = create(body, {}, std::string_view{"k"});
    REQUIRE(t);
    return t->request_hash;
  };
  auto base = hash(with(R"("overlap":"queue","misfire":{"policy":"skip","grace_s":5})"));
  // Another key order is the same request.
  CHECK(base == hash(R"({"misfire":{"grace_s":5,"policy":"skip"},"overlap":"queue",
                       "schedule":{"every_s":60},"command":"x"})"));
  CHECK(base != hash(with(R"("overlap":"allow","misfire":{"policy":"skip","grace_s":5})")));
  CHECK(base != hash(with(R"("overlap":"queue","misfire":{"policy":"skip","grace_s":6})")));
  CHECK(base != hash(with(R"("overlap":"queue","misfire":{"policy":"skip","grace_s":5},
                             "history_keep":5)")));
}

// -- pause and resume -------------------------------------------------------------------------

TEST_CASE("pause and resume: routed like cancel and trigger", "[v1][recurring][route]") {
  auto p = v1<api::pause_task_action>(route("POST", "/v1/tasks/42/pause"));
  CHECK(p.id == 42);
  CHECK(!p.key.idempotency_key);
  auto r = v1<api::resume_task_action>(route("POST", "/v1/tasks/42/resume", " {} ",
                                             std::string_view{"k1"}));
  CHECK(r.id == 42);
  CHECK(r.key.idempotency_key == "k1");
  // Each action of each task is its own request for the Idempotency-Key.
  auto p2 = v1<api::pause_task_action>(route("POST", "/v1/tasks/42/pause", "{}",
                                             std::string_view{"k1"}));
  CHECK(p2.key.request_hash == p.key.request_hash);
  CHECK(p.key.request_hash != r.key.request_hash);
  CHECK(p.key.request_hash
        != v1<api::pause_task_action>(route("POST", "/v1/tasks/43/pause")).key.request_hash);
  auto c = v1<api::cancel_task_action>(route("POST", "/v1/tasks/42/cancel"));
  CHECK(c.key.request_hash != p.key.request_hash);
  CHECK(c.key.request_hash
        != v1<api::trigger_task_action>(route("POST", "/v1/tasks/42/trigger")).key.request_hash);
  CHECK(api::classify("/v1/tasks/7/pause") == api::route_id::v1_task_pause);
  CHECK(api::classify("/v1/tasks/7/resume") == api::route_id::v1_task_resume);
  CHECK(std::string{api::route_label(api::route_id::v1_task_resume)} == "/v1/tasks/{id}/resume");

  for (auto path : {"/v1/tasks/42/pause", "/v1/tasks/42/resume"}) {
    INFO(path);
    auto get = immediate(route("GET", path));
    CHECK(get.status == 405);
    CHECK(*get.header("Allow") == "POST");
    auto body = immediate(route("POST", path, R"({"until":"tomorrow"})"));
    CHECK(body.status == 400);
    CHECK(json::parse(body.body)["error"]["code"] == "unknown_field");
    CHECK(json::parse(body.body)["error"]["field"] == "until");
    auto q = immediate(route("POST", path, "", std::nullopt, "now=1"));
    CHECK(json::parse(q.body)["error"]["code"] == "unknown_field");
    auto bad_key = immediate(route("POST", path, "", std::string_view{""}));
    CHECK(json::parse(bad_key.body)["error"]["field"] == "Idempotency-Key");
  }
  auto bad = immediate(route("POST", "/v1/tasks/x/pause"));
  CHECK(bad.status == 400);
  CHECK(json::parse(bad.body)["error"]["code"] == "invalid_id");
  CHECK(immediate(route("POST", "/v1/tasks/1/pauses")).status == 404);
}

TEST_CASE("lists: state paused and status skipped are filters", "[v1][recurring]") {
  auto t = api::parse_task_list_query("state=paused");
  REQUIRE(t);
  CHECK(t->filter.state == ts::task_state::paused);
  auto r = api::parse_run_list_query("status=skipped", std::nullopt, nullptr);
  REQUIRE(r);
  CHECK(r->filter.status == ts::run_status::skipped);
}

// -- rendering ------------------------------------------------------------------------------

TEST_CASE("rendering: a recurring task's schedule, policies and pause", "[v1][recurring]") {
  auto n = created(R"({"command":"x","schedule":{"cron":"0 30 2 * * *",
                      "time_zone":"America/New_York","start_at":"2024-01-01T00:00:00Z",
                      "max_runs":10},"misfire":{"policy":"run_all","grace_s":120},
                      "overlap":"replace","history_keep":20})");
  auto t = stored(n);
  t.state = ts::task_state::paused;
  t.paused_at = at("2024-02-01T10:00:00.250Z");
  t.scheduled_runs = 3;
  auto j = json::parse(api::task_resource(t).body);
  CHECK(j["schedule"] == json::parse(R"({"at":null,"cron":"0 30 2 * * *","every_s":null,
    "anchor":null,"time_zone":"America/New_York","start_at":"2024-01-01T00:00:00.000Z",
    "end_at":null,"max_runs":10})"));
  CHECK(j["misfire"] == json::parse(R"({"policy":"run_all","grace_s":120})"));
  CHECK(j["overlap"] == "replace");
  CHECK(j["history_keep"] == 20);
  CHECK(j["state"] == "paused");
  CHECK(j["paused_at"] == "2024-02-01T10:00:00.250Z");
  CHECK(j["scheduled_runs"] == 3);
  CHECK(j["next_run_at"] == "2024-01-01T07:30:00.000Z");

  auto e = stored(created(R"({"command":"x","schedule":{"every_s":90,
                             "anchor":"2030-01-01T00:00:00Z","end_at":"2030-02-01T00:00:00Z"}})"));
  auto k = json::parse(api::task_resource(e).body);
  CHECK(k["schedule"] == json::parse(R"({"at":null,"cron":null,"every_s":90,
    "anchor":"2030-01-01T00:00:00.000Z","time_zone":null,"start_at":null,
    "end_at":"2030-02-01T00:00:00.000Z","max_runs":null})"));
  CHECK(k["misfire"] == json::parse(R"({"policy":"run_once","grace_s":60})"));
  CHECK(k["overlap"] == "skip");
  CHECK(k["history_keep"] == 100);
  CHECK(k["paused_at"].is_null());
  CHECK(k["scheduled_runs"] == 0);
  CHECK(k["state"] == "active");

  // A one-shot task: its time, the other forms null.
  auto o = json::parse(api::task_resource(stored(created(
    R"({"command":"x","schedule":{"at":"2030-01-01T00:00:00Z"}})"))).body);
  CHECK(o["schedule"]["at"] == "2030-01-01T00:00:00.000Z");
  for (auto key : {"cron", "every_s", "anchor", "time_zone", "start_at", "end_at", "max_runs"})
    CHECK(o["schedule"][key].is_null());
}

TEST_CASE("rendering: a task's schedule and policies sent back are the same task",
          "[v1][recurring]") {
  for (std::string body : {
         R"({"command":"x","schedule":{"cron":"*/2 * * * * *","time_zone":"Europe/Berlin",
             "end_at":"2031-01-01 00:00:00"},"overlap":"queue","history_keep":3})",
         R"({"command":"x","schedule":{"every_s":7,"anchor":"2023-11-14T22:00:00.900Z",
             "start_at":"2023-11-15T00:00:00.100Z","max_runs":4},
             "misfire":{"policy":"skip","grace_s":1}})",
         R"({"command":"x","schedule":{"at":"2030-05-05T05:05:05.555Z"},"history_keep":9})"}) {
    INFO(body);
    auto first = created(body);
    auto j = json::parse(api::task_resource(stored(first)).body);
    json again = {{"command", "x"}, {"schedule", j["schedule"]}, {"misfire", j["misfire"]},
                  {"overlap", j["overlap"]}, {"history_keep", j["history_keep"]}};
    auto second = created(again.dump());
    CHECK(second.due == first.due);
    CHECK(second.time_zone == first.time_zone);
    CHECK(second.recur.cron == first.recur.cron);
    CHECK(second.recur.every_s == first.recur.every_s);
    CHECK(second.recur.anchor == first.recur.anchor);
    CHECK(second.recur.start_at == first.recur.start_at);
    CHECK(second.recur.end_at == first.recur.end_at);
    CHECK(second.recur.max_runs == first.recur.max_runs);
    CHECK(second.policy.misfire == first.policy.misfire);
    CHECK(second.policy.misfire_grace_ms == first.policy.misfire_grace_ms);
    CHECK(second.policy.overlap == first.policy.overlap);
    CHECK(second.policy.history_keep == first.policy.history_keep);
  }
}

TEST_CASE("rendering: skipped runs with their reason and count, replaced runs",
          "[v1][recurring]") {
  ts::run_info r;
  r.id = 11;
  r.task = 5;
  r.scheduled_for = at("2024-03-01T00:00:00Z");
  r.status = ts::run_status::skipped;
  r.skip = ts::skip_reason::missed;
  r.missed_count = 7;
  auto j = json::parse(api::run_resource(r).body);
  CHECK(j["status"] == "skipped");
  CHECK(j["skip_reason"] == "missed");
  CHECK(j["missed_count"] == 7);
  CHECK(j["reason"].is_null());
  CHECK(j["started_at"].is_null());
  CHECK(j["scheduled_for"] == "2024-03-01T00:00:00.000Z");
  for (auto [reason, name] : std::vector<std::pair<ts::skip_reason, std::string>>{
         {ts::skip_reason::overlap, "overlap"}, {ts::skip_reason::paused, "paused"}}) {
    r.skip = reason;
    CHECK(json::parse(api::run_resource(r).body)["skip_reason"] == name);
  }
  ts::run_info replaced;
  replaced.status = ts::run_status::failure;
  replaced.reason = ts::run_reason::replaced;
  auto k = json::parse(api::run_resource(replaced).body);
  CHECK(k["reason"] == "replaced");
  CHECK(k["skip_reason"].is_null());
  CHECK(k["missed_count"].is_null());
  // In a list and as a task's latest run too.
  ts::run_page page;
  page.items = {r};
  auto l = json::parse(api::run_list(page, "{}").body);
  CHECK(l["items"][0]["skip_reason"] == "paused");
  ts::task_info t;
  t.latest_run = r;
  CHECK(json::parse(api::task_resource(t).body)["latest_run"]["missed_count"] == 7);
}

// -- a stored task's occurrences ------------------------------------------------------------

TEST_CASE("a recurring task's occurrences: from its armed one, within max_runs",
          "[v1][recurring]") {
  auto t = stored(created(R"({"command":"x","schedule":{"every_s":3600,
                             "anchor":"2023-11-14T20:00:00Z","max_runs":5}})"));
  // Armed for 23:00 (in the future): from now.
  CHECK(utc_list(api::task_occurrences(t, 3, now))
        == strings{"2023-11-14T23:00:00.000Z", "2023-11-15T00:00:00.000Z",
                   "2023-11-15T01:00:00.000Z"});
  // Armed for 22:00, which is due and waits for a slot: it is listed first.
  t.next_run_at = at("2023-11-14T22:00:00Z");
  CHECK(utc_list(api::task_occurrences(t, 2, now))
        == strings{"2023-11-14T22:00:00.000Z", "2023-11-14T23:00:00.000Z"});
  // max_runs minus the runs so far.
  t.scheduled_runs = 3;
  CHECK(api::task_occurrences(t, 10, now).size() == 2);
  t.scheduled_runs = 5;
  CHECK(api::task_occurrences(t, 10, now).empty());
  t.scheduled_runs = 0;
  // A recurring task's runs do not use up its schedule; pausing and the end do.
  ts::run_info scheduled;
  t.latest_run = scheduled;
  CHECK(api::task_occurrences(t, 1, now).size() == 1);
  for (auto s : {ts::task_state::paused, ts::task_state::completed, ts::task_state::cancelled}) {
    t.state = s;
    CHECK(api::task_occurrences(t, 3, now).empty());
  }
  // A cron task in its zone, with the DST notes of the preview.
  auto c = stored(created(R"({"command":"x","schedule":{"cron":"0 30 2 * * *",
                             "time_zone":"America/New_York"}})"));
  c.next_run_at.reset();
  auto list = api::task_occurrences(c, 2, at("2026-03-07T12:00:00Z"));
  CHECK(utc_list(list) == strings{"2026-03-08T07:00:00.000Z", "2026-03-09T06:30:00.000Z"});
  REQUIRE(list.size() == 2);
  CHECK(list[0].note == ts::dst_note::shifted_from_gap);
}
