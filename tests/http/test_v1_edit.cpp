// PATCH /v1/tasks/{id} without a socket: the merge of a patch into a stored task's create
// request (replaced, removed by null, merged objects), refusals identical to a create's, the
// stored schedule kept as it is without a "schedule" member, If-Match parsed and compared,
// the route (content types, the body, Allow) and the status codes of its errors.
#include "http/responses.hpp"
#include "http/routes.hpp"
#include "http/v1_edit.hpp"
#include "http/v1_requests.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/time_format.hpp"

using nlohmann::json;
using ts::http_response;
using ts::millis;
namespace api = ts::api;

namespace {

constexpr millis created_at = 1700000000000; // 2023-11-14T22:13:20Z
constexpr millis now = created_at + 86400000; // a day later

ts::new_task created(const std::string& body) {
  INFO(body);
  auto t = api::parse_create_request(body, std::nullopt, std::nullopt, created_at, {});
  INFO((t ? std::string{} : api::error_response(t.error()).body));
  REQUIRE(t);
  return *t;
}

/// The task a store would hold after the create, at version 4.
ts::task_info stored(const ts::new_task& n) {
  ts::task_info t;
  t.id = 7;
  t.command = n.command;
  t.name = n.name;
  t.labels = n.labels;
  t.due = n.due;
  t.time_zone = n.time_zone;
  t.output_limit_bytes = n.output_limit_bytes;
  t.controls = n.controls;
  t.recur = n.recur;
  t.policy = n.policy;
  t.version = 4;
  t.next_run_at = n.due;
  t.created_at = t.updated_at = n.created_at;
  return t;
}

ts::task_info stored(const std::string& body) {
  return stored(created(body));
}

api::edit_request request(const std::string& patch,
                          std::optional<std::string_view> if_match = std::nullopt) {
  auto r = api::parse_edit_request(patch, std::nullopt, if_match);
  INFO(patch);
  REQUIRE(r);
  return *r;
}

caf::expected<ts::task_edit> edit(const ts::task_info& t, const std::string& patch,
                                  std::optional<std::string_view> if_match = std::nullopt) {
  return api::make_edit(t, request(patch, if_match), now, {});
}

ts::task_edit edited(const ts::task_info& t, const std::string& patch) {
  auto e = edit(t, patch);
  INFO(patch);
  INFO((e ? std::string{} : api::error_response(e.error()).body));
  REQUIRE(e);
  return *e;
}

/// Status, code and field of an error as the client sees it.
std::string seen(const caf::error& err) {
  auto res = api::error_response(err);
  auto j = json::parse(res.body);
  return std::to_string(res.status) + " " + j["error"]["code"].get<std::string>() + " "
         + j["error"].value("field", "");
}

std::vector<std::string> label_keys(const ts::new_task& t) {
  std::vector<std::string> out;
  for (auto& l : t.labels)
    out.push_back(l.key + "=" + l.value);
  return out;
}

api::action route(std::string_view method, std::string_view path, std::string_view body,
                  std::optional<std::string_view> content_type = std::nullopt,
                  std::optional<std::string_view> if_match = std::nullopt) {
  api::request_view r;
  r.method = method;
  r.path = path;
  r.body = body;
  r.content_type = content_type;
  r.if_match = if_match;
  return api::route(r, "", false, now, true);
}

http_response immediate(const api::action& a) {
  auto res = std::get_if<http_response>(&a);
  REQUIRE(res != nullptr);
  return *res;
}

const std::string full = R"({"command":"echo one","name":"nightly",
  "labels":{"team":"ops","tier":"1"},"output_limit_bytes":4096,"timeout_s":2.007,
  "kill_grace_s":0.25,"retry":{"max_attempts":3,"delay_s":1.5,"jitter":"equal"},
  "env":{"A":"1","B":"2"},"cwd":"/srv","overlap":"queue","history_keep":7,
  "misfire":{"policy":"skip","grace_s":5},
  "schedule":{"every_s":90,"anchor":"2023-11-14T22:00:00Z","end_at":"2030-01-01T00:00:00Z"}})";

} // namespace

// -- the merge --------------------------------------------------------------------------------

TEST_CASE("v1 edit: an empty patch makes the stored task again, to the millisecond",
          "[v1][edit]") {
  for (std::string body : {full, std::string{R"({"command":"true"})"},
                           std::string{R"({"command":"x","schedule":{"cron":"0 30 2 * * *",
                             "time_zone":"America/New_York","max_runs":3}})"},
                           std::string{R"({"command":"x","timeout_s":0.0001,
                             "schedule":{"at":"2030-05-05T05:05:05.555Z"}})"}}) {
    INFO(body);
    auto first = created(body);
    auto e = edited(stored(first), "{}");
    CHECK(e.id == 7);
    CHECK(e.expected_version == 4);
    CHECK_FALSE(e.schedule_changed);
    auto& t = e.task;
    CHECK(t.command == first.command);
    CHECK(t.name == first.name);
    CHECK(label_keys(t) == label_keys(first));
    CHECK(t.output_limit_bytes == first.output_limit_bytes);
    CHECK(t.controls.timeout_ms == first.controls.timeout_ms);
    CHECK(t.controls.kill_grace_ms == first.controls.kill_grace_ms);
    CHECK(t.controls.retry.max_attempts == first.controls.retry.max_attempts);
    CHECK(t.controls.retry.delay_ms == first.controls.retry.delay_ms);
    CHECK(t.controls.retry.jitter == first.controls.retry.jitter);
    CHECK(t.controls.env.size() == first.controls.env.size());
    CHECK(t.controls.cwd == first.controls.cwd);
    CHECK(t.policy.misfire == first.policy.misfire);
    CHECK(t.policy.misfire_grace_ms == first.policy.misfire_grace_ms);
    CHECK(t.policy.overlap == first.policy.overlap);
    CHECK(t.policy.history_keep == first.policy.history_keep);
    CHECK(t.due == first.due);
    CHECK(t.recur.every_s == first.recur.every_s);
    CHECK(t.recur.cron == first.recur.cron);
    CHECK(t.time_zone == first.time_zone);
    CHECK(t.created_at == created_at);
    CHECK_FALSE(t.idempotency_key);
  }
  // 2.007 s is 2007 ms, read from the task as from the request (ceil alone made it 2008).
  CHECK(created(full).controls.timeout_ms == 2007);
}

TEST_CASE("v1 edit: a member replaces, null removes, objects merge member by member",
          "[v1][edit]") {
  auto t = stored(full);
  auto e = edited(t, R"({"command":"echo two","name":null,"labels":{"tier":null,"env":"prod"},
    "timeout_s":null,"retry":{"delay_s":null,"max_attempts":5},"env":{"A":null,"C":"3"},
    "misfire":{"grace_s":9},"overlap":null})");
  auto& n = e.task;
  CHECK(n.command == "echo two");
  CHECK(!n.name);
  CHECK(label_keys(n) == std::vector<std::string>{"env=prod", "team=ops"});
  CHECK(!n.controls.timeout_ms);
  // A nested null goes back to that member's default; the other members stay.
  CHECK(n.controls.retry.delay_ms == ts::retry_policy{}.delay_ms);
  CHECK(n.controls.retry.max_attempts == 5);
  CHECK(n.controls.retry.jitter == ts::retry_jitter::equal);
  REQUIRE(n.controls.env.size() == 2);
  CHECK(n.controls.env[0].key == "B");
  CHECK(n.controls.env[1].key == "C");
  CHECK(n.policy.misfire == ts::misfire_policy::skip);
  CHECK(n.policy.misfire_grace_ms == 9000);
  CHECK(n.policy.overlap == ts::recurrence_policy{}.overlap);
  CHECK(n.output_limit_bytes == 4096);
  CHECK(n.controls.cwd == "/srv");
  // null for a whole object: its default.
  auto d = edited(t, R"({"labels":null,"retry":null,"env":null,"cwd":null})");
  CHECK(d.task.labels.empty());
  CHECK(d.task.controls.retry.max_attempts == 1);
  CHECK(d.task.controls.env.empty());
  CHECK(!d.task.controls.cwd);
}

TEST_CASE("v1 edit: without a schedule member the stored schedule is kept, unread",
          "[v1][edit]") {
  // A one-shot time and a window's end that have passed by the time of the edit: a create
  // would run the first at once and refuse the second (schedule_never_fires).
  auto past = stored(R"({"command":"x","schedule":{"at":"2020-01-01T00:00:00Z"}})");
  auto e = edited(past, R"({"command":"y"})");
  CHECK(ts::format_time(e.task.due) == "2020-01-01T00:00:00.000Z");
  CHECK_FALSE(e.schedule_changed);
  auto ended = stored(R"({"command":"x","schedule":{"every_s":60,
    "end_at":"2023-11-15T00:00:00Z"}})");
  REQUIRE(now > *ended.recur.end_at);
  auto k = edited(ended, R"({"labels":{"a":"b"}})");
  CHECK(k.task.recur.every_s == 60);
  CHECK(k.task.recur.end_at == ended.recur.end_at);
  CHECK(k.task.due == ended.due);
  // With one, the merged schedule is checked as a create checks it, from now.
  auto refused = edit(ended, R"({"schedule":{"max_runs":5}})");
  REQUIRE_FALSE(refused);
  CHECK(seen(refused.error()) == "400 schedule_never_fires schedule");
}

TEST_CASE("v1 edit: a schedule member merges into the stored schedule", "[v1][edit]") {
  auto t = stored(full);
  // The anchor and the window stay; the first occurrence is found from now.
  auto e = edited(t, R"({"schedule":{"every_s":120}})");
  CHECK(e.schedule_changed);
  CHECK(e.task.recur.every_s == 120);
  CHECK(e.task.recur.anchor == t.recur.anchor);
  CHECK(e.task.recur.end_at == t.recur.end_at);
  CHECK(e.task.due >= now);
  CHECK((e.task.due - *t.recur.anchor) % 120000 == 0);
  // Another form takes a null for the old one (RFC 7386: members merge, nothing else).
  auto both = edit(t, R"({"schedule":{"cron":"0 0 * * * *"}})");
  REQUIRE_FALSE(both);
  CHECK(seen(both.error()) == "400 invalid_field schedule");
  auto cron = edited(t, R"({"schedule":{"cron":"0 0 * * * *","every_s":null,"anchor":null,
    "time_zone":"UTC"}})");
  CHECK(cron.task.recur.cron == "0 0 * * * *");
  CHECK(!cron.task.recur.every_s);
  CHECK(cron.task.time_zone == "UTC");
  // A one-shot task's new time (in the past too: the store runs it at once).
  auto once = stored(R"({"command":"x","schedule":{"at":"2030-01-01 09:00:00",
    "time_zone":"Europe/Berlin"}})");
  auto moved = edited(once, R"({"schedule":{"at":"2020-06-01 09:00:00"}})");
  CHECK(ts::format_time(moved.task.due) == "2020-06-01T07:00:00.000Z");
  CHECK(moved.task.time_zone == "Europe/Berlin");
  // null for the whole schedule: a create's default, once, now.
  auto reset = edited(once, R"({"schedule":null})");
  CHECK(reset.schedule_changed);
  CHECK(reset.task.due == now);
}

TEST_CASE("v1 edit: refusals are a create's, read-only keys are unknown fields",
          "[v1][edit]") {
  auto t = stored(full);
  auto refused = [&](const std::string& patch, const std::string& expected) {
    INFO(patch);
    auto e = edit(t, patch);
    REQUIRE_FALSE(e);
    CHECK(seen(e.error()) == expected);
  };
  for (auto key : {"id", "version", "state", "created_at", "latest_run", "next_run_at"})
    refused(json{{key, 1}}.dump(), std::string{"400 unknown_field "} + key);
  refused(R"({"schedule":{"tz":"UTC"}})", "400 unknown_field schedule.tz");
  refused(R"({"retry":{"attempts":2}})", "400 unknown_field retry.attempts");
  refused(R"({"command":null})", "400 invalid_field command");
  refused(R"({"command":"  "})", "400 invalid_field command");
  refused(R"({"labels":{"Team":"x"}})", "400 invalid_field labels.Team");
  refused(R"({"timeout_s":0})", "400 invalid_field timeout_s");
  refused(R"({"schedule":{"time_zone":"Mars/Olympus"}})",
          "400 invalid_time_zone schedule.time_zone");
  refused(R"({"run_as":"root"})", "403 forbidden run_as");
  // The same patch applied by hand as a create body fails the same way.
  auto doc = api::create_document(t);
  doc.merge_patch(json::parse(R"({"labels":{"-x":"y"}})"));
  auto c = api::parse_create_request(doc.dump(), std::nullopt, std::nullopt, now, {});
  REQUIRE_FALSE(c);
  refused(R"({"labels":{"-x":"y"}})", seen(c.error()));
}

TEST_CASE("v1 edit: the create document of a task has its create fields, without nulls",
          "[v1][edit]") {
  auto doc = api::create_document(
    stored(R"({"command":"x","schedule":{"at":"2030-01-01T00:00:00Z"}})"));
  std::vector<std::string> keys;
  for (auto& [key, value] : doc.items())
    keys.push_back(key);
  CHECK(keys == std::vector<std::string>{"command", "env", "history_keep", "kill_grace_s",
                                         "labels", "misfire", "output_limit_bytes", "overlap",
                                         "retry", "schedule"});
  CHECK(doc["schedule"] == json({{"at", "2030-01-01T00:00:00.000Z"}}));
}

// -- If-Match ---------------------------------------------------------------------------------

TEST_CASE("v1 edit: If-Match is *, or a list of strong tags, and weak ones never match",
          "[v1][edit]") {
  auto m = api::parse_if_match(R"( "4" )");
  REQUIRE(m);
  CHECK(m->matches(4));
  CHECK_FALSE(m->matches(3));
  auto list = api::parse_if_match(R"("1", W/"3" ,,"a,b",  "5")");
  REQUIRE(list);
  CHECK(list->tags == std::vector<std::string>{"\"1\"", "\"a,b\"", "\"5\""});
  CHECK(list->matches(5));
  CHECK_FALSE(list->matches(3));
  auto any = api::parse_if_match("*");
  REQUIRE(any);
  CHECK(any->matches(1));
  CHECK(any->matches(99));
  auto none = api::parse_if_match("");
  REQUIRE(none);
  CHECK_FALSE(none->matches(1));
  for (auto bad : {"4", "\"4", "\"4\" \"5\"", "w/\"4\"", "*, \"4\"", "\"a b\"", "W/4"}) {
    INFO(bad);
    auto b = api::parse_if_match(bad);
    REQUIRE_FALSE(b);
    CHECK(seen(b.error()) == "400 invalid_field If-Match");
  }
}

TEST_CASE("v1 edit: an If-Match that names another version is a 412, before any edit",
          "[v1][edit]") {
  auto t = stored(full);
  for (auto value : {R"("3")", R"(W/"4")", R"("3", "5")"}) {
    INFO(value);
    auto e = edit(t, R"({"command":"y"})", std::string_view{value});
    REQUIRE_FALSE(e);
    CHECK(e.error() == ts::ec::version_mismatch);
    CHECK(seen(e.error()) == "412 version_mismatch ");
  }
  for (auto value : {R"("4")", R"("3", "4")", "*"}) {
    INFO(value);
    auto e = edit(t, R"({"command":"y"})", std::string_view{value});
    REQUIRE(e);
    CHECK(e->expected_version == 4);
  }
  CHECK(request("{}").may_retry());
  CHECK(request("{}", std::string_view{"*"}).may_retry());
  CHECK_FALSE(request("{}", std::string_view{R"("4")"}).may_retry());
}

// -- the route and the answers ------------------------------------------------------------------

TEST_CASE("v1 edit: PATCH /v1/tasks/{id} is routed with its patch, type and If-Match",
          "[v1][edit][route]") {
  for (auto type : {"application/merge-patch+json", "application/json; charset=utf-8",
                    "Application/Merge-Patch+JSON"}) {
    INFO(type);
    auto a = route("PATCH", "/v1/tasks/42", R"({"name":"n"})", std::string_view{type},
                   std::string_view{R"("2")"});
    auto v = std::get_if<api::v1_action>(&a);
    REQUIRE(v != nullptr);
    auto e = std::get_if<api::edit_task_action>(v);
    REQUIRE(e != nullptr);
    CHECK(e->id == 42);
    CHECK(e->now == now);
    CHECK(e->request.patch == json({{"name", "n"}}));
    REQUIRE(e->request.condition);
    CHECK(e->request.condition->tags == std::vector<std::string>{"\"2\""});
  }
  for (auto type :
       {"text/plain", "application/x-www-form-urlencoded", "application/json-patch+json"}) {
    INFO(type);
    auto res = immediate(route("PATCH", "/v1/tasks/1", "{}", std::string_view{type}));
    CHECK(res.status == 415);
    CHECK(json::parse(res.body)["error"]["code"] == "unsupported_media_type");
    CHECK(*res.header("Accept-Patch") == "application/merge-patch+json, application/json");
  }
  for (auto body : {"", "[]", "null", "\"x\"", "{"}) {
    INFO(body);
    auto res = immediate(route("PATCH", "/v1/tasks/1", body));
    CHECK(res.status == 400);
    CHECK(json::parse(res.body)["error"]["code"] == "invalid_json");
  }
  CHECK(immediate(route("PATCH", "/v1/tasks/x", "{}")).status == 400);
  CHECK(immediate(route("PATCH", "/v1/tasks/1", std::string(api::max_body_bytes + 1, ' ')))
          .status == 413);
  auto bad_tag = immediate(route("PATCH", "/v1/tasks/1", "{}", std::nullopt,
                                 std::string_view{"1"}));
  CHECK(bad_tag.status == 400);
  for (auto method : {"PUT", "POST", "DELETE"}) {
    auto res = immediate(route(method, "/v1/tasks/1", "{}"));
    CHECK(res.status == 405);
    CHECK(*res.header("Allow") == "GET, PATCH");
  }
}

TEST_CASE("v1 edit: the answers' status codes and the ETag", "[v1][edit]") {
  auto stale = api::error_response(ts::make_error(ts::ec::version_mismatch, "the task is at "
                                                                            "version 5"));
  CHECK(stale.status == 412);
  CHECK(std::string{api::reason_phrase(412)} == "Precondition Failed");
  CHECK(json::parse(stale.body)["error"]["message"] == "the task is at version 5");
  auto bare = json::parse(api::error_response(ts::make_error(ts::ec::version_mismatch)).body);
  CHECK(!bare["error"]["message"].get<std::string>().empty());
  auto conflict = api::error_response(
    api::make_http_error(api::http_ec::edit_conflict, "the task kept changing"));
  CHECK(conflict.status == 409);
  CHECK(json::parse(conflict.body)["error"]["code"] == "edit_conflict");
  ts::task_info t;
  t.id = 1;
  t.version = 12;
  auto res = api::task_with_etag(t);
  CHECK(res.status == 200);
  CHECK(*res.header("ETag") == "\"12\"");
  CHECK(json::parse(res.body)["version"] == 12);
  CHECK(api::task_resource(t).header("ETag") == nullptr);
}
