// The v1 schedule object without a socket: every form and window, every refusal with its
// code and field, previews through the router (DST notes in the test zones) and a stored
// task's occurrences.
#include "http/responses.hpp"
#include "http/routes.hpp"
#include "http/v1_schedule.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/time_zone.hpp"

using nlohmann::json;
using ts::millis;
namespace api = ts::api;

namespace {

constexpr millis now = 1700000000000; // 2023-11-14T22:13:20Z

struct answer {
  int status = 0;
  json body;
};

answer preview(const std::string& body, const ts::time_zone* zone = nullptr) {
  api::request_view r;
  r.method = "POST";
  r.path = "/v1/schedules/preview";
  r.body = body;
  auto a = api::route(r, "", false, now, true, zone);
  auto res = std::get_if<ts::http_response>(&a);
  REQUIRE(res != nullptr);
  return {res->status, json::parse(res->body)};
}

void refused(const std::string& body, const std::string& code, const std::string& field) {
  INFO(body);
  auto a = preview(body);
  CHECK(a.status == 400);
  CHECK(a.body["error"]["code"] == code);
  CHECK(a.body["error"]["field"] == field);
  CHECK(!a.body["error"]["message"].get<std::string>().empty());
  // A create refuses the same schedule with the same answer.
  auto s = json::parse(body).at("schedule");
  auto c = api::parse_create_request(json{{"command", "x"}, {"schedule", s}}.dump(),
                                     std::nullopt, std::nullopt, now, {});
  REQUIRE_FALSE(c);
  auto res = api::error_response(c.error());
  CHECK(json::parse(res.body)["error"]["code"] == code);
}

/// The preview's (utc, local, dst) triples.
std::vector<std::vector<std::string>> listed(const answer& a) {
  REQUIRE(a.status == 200);
  std::vector<std::vector<std::string>> out;
  for (auto& o : a.body.at("occurrences"))
    out.push_back({o["utc"], o["local"], o["dst"].is_null() ? "-" : o["dst"].get<std::string>()});
  return out;
}

using rows = std::vector<std::vector<std::string>>;

} // namespace

TEST_CASE("preview: cron across New York's changes, with the DST notes", "[v1][schedule]") {
  auto a = preview(R"({"schedule":{"cron":"0 30 2 * * *","time_zone":"America/New_York",
                     "start_at":"2026-03-07T00:00:00Z"},"count":3})");
  CHECK(listed(a) == rows{
    {"2026-03-07T07:30:00.000Z", "2026-03-07T02:30:00.000-05:00", "-"},
    {"2026-03-08T07:00:00.000Z", "2026-03-08T03:00:00.000-04:00", "shifted_from_gap"},
    {"2026-03-09T06:30:00.000Z", "2026-03-09T02:30:00.000-04:00", "-"}});
  a = preview(R"({"schedule":{"cron":"30 1 * * *","time_zone":"America/New_York",
                 "start_at":"2026-11-01 00:00:00"},"count":2})");
  CHECK(listed(a) == rows{
    {"2026-11-01T05:30:00.000Z", "2026-11-01T01:30:00.000-04:00", "first_of_fold"},
    {"2026-11-02T06:30:00.000Z", "2026-11-02T01:30:00.000-05:00", "-"}});
  // Hour '*': every real instant, both of the fold's 01:30s.
  a = preview(R"({"schedule":{"cron":"0 30 * * * *","time_zone":"America/New_York",
                 "start_at":"2026-11-01T05:00:00Z"},"count":3})");
  CHECK(listed(a) == rows{
    {"2026-11-01T05:30:00.000Z", "2026-11-01T01:30:00.000-04:00", "-"},
    {"2026-11-01T06:30:00.000Z", "2026-11-01T01:30:00.000-05:00", "-"},
    {"2026-11-01T07:30:00.000Z", "2026-11-01T02:30:00.000-05:00", "-"}});
}

TEST_CASE("preview: Lord Howe's half hour and Apia's missing day", "[v1][schedule]") {
  // Lord Howe springs from 02:00 +10:30 to 02:30 +11:00 (2026-10-04).
  auto a = preview(R"({"schedule":{"cron":"0 15 2 * * *","time_zone":"Australia/Lord_Howe",
                     "start_at":"2026-10-03T00:00:00Z"},"count":2})");
  CHECK(listed(a) == rows{
    {"2026-10-03T15:30:00.000Z", "2026-10-04T02:30:00.000+11:00", "shifted_from_gap"},
    {"2026-10-04T15:15:00.000Z", "2026-10-05T02:15:00.000+11:00", "-"}});
  // Samoa skipped 2011-12-30: the day's noon fires once, at the first instant after.
  a = preview(R"({"schedule":{"cron":"0 0 12 * * *","time_zone":"Pacific/Apia",
                 "start_at":"2011-12-29T00:00:00Z"},"count":2})");
  CHECK(listed(a) == rows{
    {"2011-12-29T22:00:00.000Z", "2011-12-29T12:00:00.000-10:00", "-"},
    {"2011-12-30T10:00:00.000Z", "2011-12-31T00:00:00.000+14:00", "shifted_from_gap"}});
}

TEST_CASE("preview: intervals, one-shot times, windows and counts", "[v1][schedule]") {
  auto a = preview(R"({"schedule":{"every_s":5400,"anchor":"2026-03-29 00:00:00",
                     "time_zone":"Europe/Berlin","start_at":"2026-03-28T23:00:00Z",
                     "end_at":"2026-03-29T02:00:00Z"}})");
  CHECK(listed(a) == rows{
    {"2026-03-28T23:00:00.000Z", "2026-03-29T00:00:00.000+01:00", "-"},
    {"2026-03-29T00:30:00.000Z", "2026-03-29T01:30:00.000+01:00", "-"},
    {"2026-03-29T02:00:00.000Z", "2026-03-29T04:00:00.000+02:00", "-"}});
  // The default anchor is now, which is itself the first occurrence; max_runs caps.
  a = preview(R"({"schedule":{"every_s":60,"time_zone":"UTC","max_runs":2},"count":5})");
  CHECK(listed(a) == rows{{"2023-11-14T22:13:20.000Z", "2023-11-14T22:13:20.000+00:00", "-"},
                          {"2023-11-14T22:14:20.000Z", "2023-11-14T22:14:20.000+00:00", "-"}});
  a = preview(R"({"schedule":{"at":"2027-01-01 10:00:00.250","time_zone":"Asia/Kolkata"}})");
  CHECK(listed(a) == rows{{"2027-01-01T04:30:00.250Z", "2027-01-01T10:00:00.250+05:30", "-"}});
  a = preview(R"({"schedule":{"cron":"@hourly","time_zone":"UTC"},"count":100})");
  CHECK(listed(a).size() == 100);
  CHECK(listed(preview(R"({"schedule":{"cron":"@hourly","time_zone":"UTC"}})")).size() == 10);
  // Without a time_zone: --default-time-zone.
  auto berlin = ts::find_time_zone("Europe/Berlin");
  REQUIRE(berlin);
  a = preview(R"({"schedule":{"cron":"0 0 0 1 1 *","start_at":"2030-01-01T00:00:00Z"},
                 "count":1})", berlin->get());
  CHECK(listed(a) == rows{{"2030-12-31T23:00:00.000Z", "2031-01-01T00:00:00.000+01:00", "-"}});
}

TEST_CASE("schedules: every refusal names its code and field", "[v1][schedule]") {
  refused(R"({"schedule":{"cron":"* * * *"}})", "invalid_cron", "schedule.cron");
  refused(R"({"schedule":{"cron":"0 0 0 32 2 *"}})", "invalid_cron", "schedule.cron");
  refused(R"({"schedule":{"cron":7}})", "invalid_cron", "schedule.cron");
  refused(R"({"schedule":{"cron":"0 0 0 30 2 *"}})", "schedule_never_fires", "schedule");
  refused(R"({"schedule":{"cron":"@hourly","end_at":"2020-01-01T00:00:00Z"}})",
          "schedule_never_fires", "schedule");
  refused(R"({"schedule":{"at":"2030-01-01T00:00:00Z","start_at":"2031-01-01T00:00:00Z"}})",
          "schedule_never_fires", "schedule");
  refused(R"({"schedule":{"cron":"@daily","time_zone":"Mars/Olympus"}})", "invalid_time_zone",
          "schedule.time_zone");
  refused(R"({"schedule":{"cron":"@daily","at":"2030-01-01T00:00:00Z"}})", "invalid_field",
          "schedule");
  refused(R"({"schedule":{"every_s":0}})", "invalid_field", "schedule.every_s");
  refused(R"({"schedule":{"every_s":1.5}})", "invalid_field", "schedule.every_s");
  refused(R"({"schedule":{"every_s":18446744073709551615}})", "invalid_field",
          "schedule.every_s");
  refused(R"({"schedule":{"cron":"@daily","anchor":"2030-01-01T00:00:00Z"}})", "invalid_field",
          "schedule.anchor");
  refused(R"({"schedule":{"every_s":60,"anchor":"soon"}})", "invalid_time", "schedule.anchor");
  refused(R"({"schedule":{"every_s":60,"start_at":"2031-01-01T00:00:00Z",
            "end_at":"2030-01-01T00:00:00Z"}})", "invalid_field", "schedule.end_at");
  refused(R"({"schedule":{"every_s":60,"max_runs":0}})", "invalid_field", "schedule.max_runs");
  refused(R"({"schedule":{"every_s":60,"every":1}})", "unknown_field", "schedule.every");
  // Nothing fires after 9999-12-31T23:59:59Z (times have four-digit years).
  refused(R"({"schedule":{"cron":"0 0 0 29 2 *","time_zone":"UTC",
            "start_at":"9999-03-01T00:00:00Z"}})", "schedule_never_fires", "schedule");
  CHECK(listed(preview(R"({"schedule":{"cron":"0 0 0 * * *","time_zone":"UTC",
                          "start_at":"9999-12-30T00:00:00Z"}})")).size() == 2);
  // A preview's own fields.
  auto a = preview(R"({"schedule":{"cron":"@daily"},"count":101})");
  CHECK((a.status == 400 && a.body["error"]["field"] == "count"));
  a = preview(R"({"schedule":{"cron":"@daily"},"count":0})");
  CHECK((a.status == 400 && a.body["error"]["field"] == "count"));
  a = preview(R"({"count":3})");
  CHECK((a.status == 400 && a.body["error"]["field"] == "schedule"));
  a = preview(R"({"schedule":{"cron":"@daily"},"what":1})");
  CHECK((a.status == 400 && a.body["error"]["code"] == "unknown_field"));
}

TEST_CASE("create: a one-shot time inside its window", "[v1][schedule]") {
  // A window that holds a one-shot time is accepted.
  auto t = api::parse_create_request(
    R"({"command":"x","schedule":{"at":"2030-01-01T00:00:00Z","start_at":"2029-01-01T00:00:00Z",
        "end_at":"2030-01-01T00:00:00Z","max_runs":1}})",
    std::nullopt, std::nullopt, now, {});
  REQUIRE(t);
  CHECK(t->due == 1893456000000);
  // Nothing of the window is kept: the time was checked to lie inside it.
  CHECK(!t->recur.recurring());
  CHECK(!t->recur.start_at);
  CHECK(!t->recur.max_runs);
}

TEST_CASE("a stored task's occurrences", "[v1][schedule]") {
  ts::task_info t;
  t.due = 1893456000000;
  t.time_zone = "Asia/Kolkata";
  auto list = api::task_occurrences(t, 10, now);
  REQUIRE(list.size() == 1);
  CHECK(list[0].utc == t.due);
  auto res = api::occurrence_list(list, *api::task_zone(t, nullptr));
  CHECK(json::parse(res.body)["occurrences"][0]["local"] == "2030-01-01T05:30:00.000+05:30");
  CHECK(api::task_occurrences(t, 0, now).empty());
  ts::run_info manual;
  manual.trigger = ts::run_trigger::manual;
  t.latest_run = manual;
  CHECK(api::task_occurrences(t, 3, now).size() == 1);
  ts::run_info scheduled;
  t.latest_run = scheduled;
  CHECK(api::task_occurrences(t, 3, now).empty());
  t.latest_run.reset();
  t.state = ts::task_state::cancelled;
  CHECK(api::task_occurrences(t, 3, now).empty());
  // The route checks count and hands the id on.
  api::request_view r;
  r.method = "GET";
  r.path = "/v1/tasks/7/occurrences";
  r.query = "count=3";
  auto a = api::route(r, "", false, now, true);
  auto v = std::get_if<api::v1_action>(&a);
  REQUIRE(v != nullptr);
  auto o = std::get_if<api::task_occurrences_action>(v);
  REQUIRE(o != nullptr);
  CHECK((o->id == 7 && o->count == 3 && o->now == now));
  for (auto q : {"count=0", "count=101", "count=x", "n=3", "count=1&count=2"}) {
    r.query = q;
    INFO(q);
    a = api::route(r, "", false, now, true);
    auto res = std::get_if<ts::http_response>(&a);
    REQUIRE(res != nullptr);
    CHECK(res->status == 400);
  }
}
