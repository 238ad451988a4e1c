// The v1 API without a socket: validation of every field and limit, unknown fields, query
// strings, cursors (tampered, truncated, foreign), routing and rendering.
#include "http/cursor.hpp"
#include "http/responses.hpp"
#include "http/routes.hpp"
#include "http/v1_requests.hpp"

#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/text.hpp"
#include "core/time_format.hpp"
#include "core/time_zone.hpp"

using nlohmann::json;
using ts::http_response;
using ts::millis;
namespace api = ts::api;

namespace {

constexpr millis now = 1700000000000;

/// The error of a failed v1 call as the client sees it: status, code and field.
struct seen_error {
  int status = 0;
  std::string code;
  std::string field;
};

seen_error seen(const caf::error& err) {
  auto res = api::error_response(err);
  auto j = json::parse(res.body);
  seen_error e;
  e.status = res.status;
  e.code = j["error"]["code"];
  REQUIRE(!j["error"]["message"].get<std::string>().empty());
  if (j["error"].contains("field"))
    e.field = j["error"]["field"];
  return e;
}

caf::expected<ts::new_task> create(const std::string& body, api::v1_limits limits = {}) {
  return api::parse_create_request(body, std::nullopt, std::nullopt, now, limits);
}

/// Checks that `body` is refused with that code and field.
void refused(const std::string& body, const std::string& code, const std::string& field,
             api::v1_limits limits = {}) {
  INFO(body);
  auto t = create(body, limits);
  REQUIRE_FALSE(t);
  auto e = seen(t.error());
  CHECK(e.status == 400);
  CHECK(e.code == code);
  CHECK(e.field == field);
}

api::request_view request(std::string_view method, std::string_view path,
                          std::string_view query = {}, std::string_view body = {}) {
  api::request_view r;
  r.method = method;
  r.path = path;
  r.query = query;
  r.body = body;
  return r;
}

api::action route(std::string_view method, std::string_view path, std::string_view query = {},
                  std::string_view body = {}) {
  return api::route(request(method, path, query, body), "", false, now, true);
}

http_response immediate(const api::action& a) {
  auto res = std::get_if<http_response>(&a);
  REQUIRE(res != nullptr);
  return *res;
}

template <class T>
T v1(const api::action& a) {
  auto v = std::get_if<api::v1_action>(&a);
  REQUIRE(v != nullptr);
  auto x = std::get_if<T>(v);
  REQUIRE(x != nullptr);
  return *x;
}

std::string code_of(const http_response& res) {
  return json::parse(res.body)["error"]["code"];
}

} // namespace

// -- create -----------------------------------------------------------------------------------

TEST_CASE("v1 create: a full request becomes a new task", "[v1]") {
  auto t = create(R"({"command":"echo hi","name":"nightly","labels":{"team":"ops","a.b/c-d_e":""},
    "schedule":{"at":"2026-12-01 12:00:00","time_zone":"Asia/Kolkata"},
    "output_limit_bytes":1024})");
  REQUIRE(t);
  CHECK(t->command == "echo hi");
  CHECK(t->name == "nightly");
  REQUIRE(t->labels.size() == 2);
  CHECK(t->labels[0].key == "a.b/c-d_e");
  CHECK(t->labels[1].key == "team");
  CHECK(t->labels[1].value == "ops");
  CHECK(t->time_zone == "Asia/Kolkata");
  // 12:00 in Kolkata (+05:30) is 06:30 UTC.
  CHECK(ts::format_time(t->due) == "2026-12-01T06:30:00.000Z");
  CHECK(t->output_limit_bytes == 1024);
  CHECK(t->created_at == now);
  CHECK(!t->idempotency_key);
}

TEST_CASE("v1 create: only the command is required, and the defaults", "[v1]") {
  auto t = create(R"({"command":"true"})");
  REQUIRE(t);
  CHECK(t->due == now);
  CHECK(!t->name);
  CHECK(t->labels.empty());
  CHECK(!t->time_zone);
  CHECK(t->output_limit_bytes == ts::defaults::output_limit_bytes);
  // null where a value is optional means absent.
  auto n = create(R"({"command":"true","name":null,"schedule":{"at":null,"time_zone":null}})");
  REQUIRE(n);
  CHECK(n->due == now);
  CHECK(!n->name);
  // An offset in the text wins over the zone; --default-time-zone applies to naive times.
  auto utc = ts::find_time_zone("UTC");
  REQUIRE(utc);
  api::v1_limits l;
  l.zone = utc->get();
  auto d = create(R"({"command":"x","schedule":{"at":"2026-12-01 12:00:00"}})", l);
  REQUIRE(d);
  CHECK(ts::format_time(d->due) == "2026-12-01T12:00:00.000Z");
  auto o = create(R"({"command":"x","schedule":{"at":"2026-12-01T12:00:00+01:00",
    "time_zone":"Asia/Kolkata"}})");
  REQUIRE(o);
  CHECK(ts::format_time(o->due) == "2026-12-01T11:00:00.000Z");
}

TEST_CASE("v1 create: unknown fields are refused, at any depth", "[v1]") {
  refused(R"({"command":"x","comand":"y"})", "unknown_field", "comand");
  refused(R"({"command":"x","task":"y"})", "unknown_field", "task");
  refused(R"({"command":"x","schedule":{"at":"2026-12-01 12:00:00","tz":"UTC"}})",
          "unknown_field", "schedule.tz");
}

TEST_CASE("v1 create: every field's type and limits", "[v1]") {
  refused(R"({})", "invalid_field", "command");
  refused(R"({"command":5})", "invalid_field", "command");
  refused(R"({"command":"  "})", "invalid_field", "command");
  refused(json{{"command", std::string("a\0b", 3)}}.dump(), "invalid_field", "command");
  refused(json{{"command", std::string(65537, 'x')}}.dump(), "invalid_field", "command");
  CHECK(create(json{{"command", std::string(65536, 'x')}}.dump()));

  refused(R"({"command":"x","name":""})", "invalid_field", "name");
  refused(R"({"command":"x","name":7})", "invalid_field", "name");
  refused(R"({"command":"x","name":"a\nb"})", "invalid_field", "name");
  refused(json{{"command", "x"}, {"name", std::string(201, 'n')}}.dump(), "invalid_field",
          "name");
  // Bytes, not characters: 100 two-byte characters are 200 bytes.
  std::string two_hundred;
  for (int i = 0; i < 100; ++i)
    two_hundred += "\xc3\xa9";
  CHECK(create(json{{"command", "x"}, {"name", two_hundred}}.dump()));
  refused(json{{"command", "x"}, {"name", two_hundred + "e"}}.dump(), "invalid_field", "name");

  refused(R"({"command":"x","labels":[]})", "invalid_field", "labels");
  refused(R"({"command":"x","labels":{"Team":"a"}})", "invalid_field", "labels.Team");
  refused(R"({"command":"x","labels":{"-a":"a"}})", "invalid_field", "labels.-a");
  refused(R"({"command":"x","labels":{"a b":"a"}})", "invalid_field", "labels.a b");
  refused(R"({"command":"x","labels":{"":"a"}})", "invalid_field", "labels.");
  refused(R"({"command":"x","labels":{"a":1}})", "invalid_field", "labels.a");
  refused(json{{"command", "x"}, {"labels", {{std::string(64, 'k'), "v"}}}}.dump(),
          "invalid_field", "labels." + std::string(64, 'k'));
  CHECK(create(json{{"command", "x"}, {"labels", {{std::string(63, 'k'), "v"}}}}.dump()));
  refused(json{{"command", "x"}, {"labels", {{"k", std::string(201, 'v')}}}}.dump(),
          "invalid_field", "labels.k");
  json many = {{"command", "x"}, {"labels", json::object()}};
  for (int i = 0; i < 32; ++i)
    many["labels"]["k" + std::to_string(i)] = "v";
  CHECK(create(many.dump()));
  many["labels"]["k32"] = "v";
  refused(many.dump(), "invalid_field", "labels");

  refused(R"({"command":"x","output_limit_bytes":0})", "invalid_field", "output_limit_bytes");
  refused(R"({"command":"x","output_limit_bytes":1.5})", "invalid_field",
          "output_limit_bytes");
  refused(R"({"command":"x","output_limit_bytes":"1"})", "invalid_field",
          "output_limit_bytes");
  refused(R"({"command":"x","output_limit_bytes":true})", "invalid_field",
          "output_limit_bytes");
  refused(R"({"command":"x","output_limit_bytes":18446744073709551615})", "invalid_field",
          "output_limit_bytes");
  refused(R"({"command":"x","output_limit_bytes":8388609})", "invalid_field",
          "output_limit_bytes");
  CHECK(create(R"({"command":"x","output_limit_bytes":8388608})"));
  api::v1_limits small;
  small.max_output_bytes = 4096;
  refused(R"({"command":"x","output_limit_bytes":4097})", "invalid_field",
          "output_limit_bytes", small);

  refused(R"({"command":"x","schedule":"now"})", "invalid_field", "schedule");
  refused(R"({"command":"x","schedule":{"at":17}})", "invalid_time", "schedule.at");
  refused(R"({"command":"x","schedule":{"at":"tomorrow"}})", "invalid_time", "schedule.at");
  refused(R"({"command":"x","schedule":{"at":"2026-02-30 12:00:00"}})", "invalid_time",
          "schedule.at");
  refused(R"({"command":"x","schedule":{"time_zone":"Mars/Olympus"}})", "invalid_time_zone",
          "schedule.time_zone");
  refused(R"({"command":"x","schedule":{"time_zone":"../../etc/passwd"}})", "invalid_time_zone",
          "schedule.time_zone");
  refused(R"({"command":"x","schedule":{"time_zone":3}})", "invalid_field",
          "schedule.time_zone");
  // A local time the zone skips (Berlin, 2026-03-29 02:30) does not exist.
  refused(R"({"command":"x","schedule":{"at":"2026-03-29 02:30:00","time_zone":"Europe/Berlin"}})",
          "invalid_time", "schedule.at");
}

TEST_CASE("v1 create: the body, its type and the Idempotency-Key", "[v1]") {
  for (auto body : {"", "[]", "\"x\"", "{", "null"}) {
    INFO(body);
    auto t = create(body);
    REQUIRE_FALSE(t);
    CHECK(seen(t.error()).code == "invalid_json");
  }
  auto t = api::parse_create_request(R"({"command":"x"})", std::string_view{"text/plain"},
                                     std::nullopt, now, {});
  REQUIRE_FALSE(t);
  CHECK(seen(t.error()).status == 415);
  for (std::string key : {std::string{}, std::string(256, 'k'), std::string{"a\tb"}}) {
    auto k = api::parse_create_request(R"({"command":"x"})", std::nullopt,
                                       std::string_view{key}, now, {});
    REQUIRE_FALSE(k);
    CHECK(seen(k.error()).field == "Idempotency-Key");
  }
  auto a = api::parse_create_request(R"({"command":"x","name":"n"})", std::nullopt,
                                     std::string_view{"k1"}, now, {});
  auto b = api::parse_create_request(R"({ "name":"n", "command":"x" })", std::nullopt,
                                     std::string_view{"k1"}, now + 5, {});
  auto c = api::parse_create_request(R"({"command":"y","name":"n"})", std::nullopt,
                                     std::string_view{"k1"}, now, {});
  REQUIRE((a && b && c));
  CHECK(a->idempotency_key == "k1");
  // The same request in another key order or later is the same; another command is not.
  CHECK(a->request_hash == b->request_hash);
  CHECK(a->request_hash != c->request_hash);
}

// -- cancel and trigger -------------------------------------------------------------------------

TEST_CASE("v1 cancel/trigger: no body or {}, nothing else", "[v1]") {
  auto a = api::parse_action_request("", std::nullopt, std::nullopt, "POST /v1/tasks/1/cancel");
  REQUIRE(a);
  CHECK(!a->idempotency_key);
  auto b = api::parse_action_request(" {} ", std::nullopt, std::string_view{"k"},
                                     "POST /v1/tasks/1/cancel");
  REQUIRE(b);
  CHECK(b->idempotency_key == "k");
  CHECK(a->request_hash == b->request_hash);
  auto other = api::parse_action_request("", std::nullopt, std::nullopt,
                                         "POST /v1/tasks/2/cancel");
  REQUIRE(other);
  CHECK(other->request_hash != a->request_hash);
  auto u = api::parse_action_request(R"({"force":true})", std::nullopt, std::nullopt, "x");
  REQUIRE_FALSE(u);
  CHECK(seen(u.error()).code == "unknown_field");
  CHECK(seen(u.error()).field == "force");
  auto j = api::parse_action_request("nope", std::nullopt, std::nullopt, "x");
  REQUIRE_FALSE(j);
  CHECK(seen(j.error()).code == "invalid_json");
}

// -- lists ----------------------------------------------------------------------------------------

TEST_CASE("v1 task lists: filters, limits and unknown parameters", "[v1]") {
  auto l = api::parse_task_list_query(
    "state=active&label=team:ops&label=env:prod%3Ablue&name_prefix=night%20ly&limit=500");
  REQUIRE(l);
  CHECK(l->filter.state == ts::task_state::active);
  REQUIRE(l->filter.labels.size() == 2);
  CHECK(l->filter.labels[1].key == "env");
  CHECK(l->filter.labels[1].value == "prod:blue");
  CHECK(l->filter.name_prefix == "night ly");
  CHECK(l->filter.limit == 500);
  CHECK(!l->filter.after);
  auto d = api::parse_task_list_query("");
  REQUIRE(d);
  CHECK(d->filter.limit == 50);
  auto bad = [](const std::string& q, const std::string& code, const std::string& field) {
    INFO(q);
    auto r = api::parse_task_list_query(q);
    REQUIRE_FALSE(r);
    auto e = seen(r.error());
    CHECK(e.status == 400);
    CHECK(e.code == code);
    CHECK(e.field == field);
  };
  bad("stat=active", "unknown_field", "stat");
  bad("state=done", "invalid_field", "state");
  bad("state=active&state=active", "invalid_field", "state");
  bad("limit=0", "invalid_field", "limit");
  bad("limit=501", "invalid_field", "limit");
  bad("limit=-1", "invalid_field", "limit");
  bad("limit=1e2", "invalid_field", "limit");
  bad("label=team", "invalid_field", "label");
  bad("label=Team:x", "invalid_field", "label");
  bad("name_prefix=", "invalid_field", "name_prefix");
  bad("cursor=abc", "invalid_cursor", "cursor");
  bad("limit=%zz", "invalid_field", "");
}

TEST_CASE("v1 run lists: status, since, until", "[v1]") {
  auto utc = ts::find_time_zone("UTC");
  REQUIRE(utc);
  auto l = api::parse_run_list_query("status=running&since=2026-12-01 00:00:00"
                                     "&until=2026-12-02T00:00:00Z",
                                     ts::task_id{7}, utc->get());
  REQUIRE(l);
  CHECK(l->filter.task == ts::task_id{7});
  CHECK(l->filter.status == ts::run_status::running);
  REQUIRE(l->filter.since);
  CHECK(ts::format_time(*l->filter.since) == "2026-12-01T00:00:00.000Z");
  CHECK(ts::format_time(*l->filter.until) == "2026-12-02T00:00:00.000Z");
  auto e = api::parse_run_list_query("since=yesterday", std::nullopt, nullptr);
  REQUIRE_FALSE(e);
  CHECK(seen(e.error()).code == "invalid_time");
  CHECK(seen(e.error()).field == "since");
  auto s = api::parse_run_list_query("status=ok", std::nullopt, nullptr);
  REQUIRE_FALSE(s);
  CHECK(seen(s.error()).field == "status");
  auto u = api::parse_run_list_query("state=running", std::nullopt, nullptr);
  REQUIRE_FALSE(u);
  CHECK(seen(u.error()).code == "unknown_field");
}

// -- cursors ----------------------------------------------------------------------------------------

TEST_CASE("cursors: round trip, and every tampered, truncated or foreign one is refused",
          "[v1][cursor]") {
  auto filter = std::string{R"({"state":"active"})"};
  auto c = api::encode_cursor(api::cursor_list::tasks, filter, 123456789);
  auto back = api::decode_cursor(c, api::cursor_list::tasks, filter);
  REQUIRE(back);
  CHECK(*back == 123456789);
  // URL-safe as it is.
  for (char ch : c)
    CHECK((std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_'));
  // Every truncation and every single-character change.
  for (size_t n = 0; n < c.size(); ++n) {
    INFO(n);
    CHECK_FALSE(api::decode_cursor(c.substr(0, n), api::cursor_list::tasks, filter));
    for (char repl : {'A', 'z', '0', '-', '_'}) {
      auto t = c;
      if (t[n] == repl)
        continue;
      t[n] = repl;
      CHECK_FALSE(api::decode_cursor(t, api::cursor_list::tasks, filter));
    }
  }
  CHECK_FALSE(api::decode_cursor(c + "A", api::cursor_list::tasks, filter));
  // Foreign: another list, other filters.
  CHECK_FALSE(api::decode_cursor(c, api::cursor_list::runs, filter));
  CHECK_FALSE(api::decode_cursor(c, api::cursor_list::tasks, "{}"));
  // Garbage that is valid base64url, and a forged body without the right check.
  CHECK_FALSE(api::decode_cursor(ts::base64url_encode("1t.0000000000000000.5.0000000000000000"),
                                 api::cursor_list::tasks, filter));
  CHECK_FALSE(api::decode_cursor("%%%", api::cursor_list::tasks, filter));
  CHECK_FALSE(api::decode_cursor(std::string(200, 'A'), api::cursor_list::tasks, filter));
}

TEST_CASE("cursors: a cursor continues only the list it came from", "[v1][cursor]") {
  auto first = api::parse_task_list_query("state=active&label=b:2&label=a:1&limit=10");
  REQUIRE(first);
  auto c = api::encode_cursor(api::cursor_list::tasks, first->filter_key, 40);
  // The same filters in another order and another page size: the same list.
  auto same = api::parse_task_list_query("label=a:1&limit=20&label=b:2&state=active&cursor=" + c);
  REQUIRE(same);
  CHECK(same->filter.after == ts::task_id{40});
  CHECK(same->filter.limit == 20);
  for (std::string q : {"state=completed&label=b:2&label=a:1", "label=b:2&label=a:1",
                        "state=active&label=b:2"}) {
    INFO(q);
    auto other = api::parse_task_list_query(q + "&cursor=" + c);
    REQUIRE_FALSE(other);
    CHECK(seen(other.error()).code == "invalid_cursor");
  }
  // A task cursor on a run list, and one task's runs on another's.
  auto runs = api::parse_run_list_query("cursor=" + c, std::nullopt, nullptr);
  REQUIRE_FALSE(runs);
  CHECK(seen(runs.error()).code == "invalid_cursor");
  auto of7 = api::parse_run_list_query("", ts::task_id{7}, nullptr);
  REQUIRE(of7);
  auto rc = api::encode_cursor(api::cursor_list::runs, of7->filter_key, 3);
  CHECK(api::parse_run_list_query("cursor=" + rc, ts::task_id{7}, nullptr));
  CHECK_FALSE(api::parse_run_list_query("cursor=" + rc, ts::task_id{8}, nullptr));
}

TEST_CASE("pages render next_cursor from the store's last id", "[v1][cursor]") {
  ts::task_page p;
  p.items.resize(2);
  p.items[0].id = 9;
  p.items[1].id = 8;
  p.next = 8;
  auto res = api::task_list(p, "{}");
  CHECK(res.status == 200);
  auto j = json::parse(res.body);
  REQUIRE(j["items"].size() == 2);
  CHECK(j["items"][0]["id"] == 9);
  auto next = api::decode_cursor(j["next_cursor"].get<std::string>(), api::cursor_list::tasks,
                                 "{}");
  REQUIRE(next);
  CHECK(*next == 8);
  p.next.reset();
  CHECK(json::parse(api::task_list(p, "{}").body)["next_cursor"].is_null());
}

// -- routing --------------------------------------------------------------------------------------

TEST_CASE("v1 routes: each path and method to its action", "[v1][route]") {
  CHECK(v1<api::create_task_action>(route("POST", "/v1/tasks", "", R"({"command":"x"})"))
          .task.command == "x");
  CHECK(v1<api::list_tasks_action>(route("GET", "/v1/tasks", "limit=3")).list.filter.limit == 3);
  CHECK(v1<api::get_task_action>(route("GET", "/v1/tasks/42")).id == 42);
  CHECK(v1<api::cancel_task_action>(route("POST", "/v1/tasks/42/cancel")).id == 42);
  CHECK(v1<api::trigger_task_action>(route("POST", "/v1/tasks/42/trigger", "", "{}")).id == 42);
  auto runs = v1<api::list_runs_action>(route("GET", "/v1/tasks/42/runs"));
  CHECK(runs.list.filter.task == ts::task_id{42});
  CHECK(!v1<api::list_runs_action>(route("GET", "/v1/runs")).list.filter.task);
  CHECK(v1<api::get_run_action>(route("GET", "/v1/runs/5")).id == 5);
  auto out = v1<api::read_output_action>(route("GET", "/v1/runs/5/output", "offset=17"));
  CHECK(out.id == 5);
  CHECK(out.offset == 17);
  CHECK(v1<api::read_output_action>(route("GET", "/v1/runs/5/output")).offset == 0);
  auto doc = immediate(route("GET", "/v1/openapi.json"));
  CHECK(doc.status == 200);
  CHECK(*doc.header("Content-Type") == "application/json");
}

TEST_CASE("v1 routes: bad ids, unknown paths, wrong methods, unknown parameters",
          "[v1][route]") {
  for (auto [method, path] : std::vector<std::pair<const char*, const char*>>{
         {"GET", "/v1/tasks/abc"}, {"GET", "/v1/tasks/0"}, {"GET", "/v1/tasks/-1"},
         {"POST", "/v1/tasks/1x/cancel"}, {"GET", "/v1/runs/99999999999999999999"},
         {"GET", "/v1/runs/x/output"}}) {
    INFO(path);
    auto res = immediate(route(method, path));
    CHECK(res.status == 400);
    CHECK(code_of(res) == "invalid_id");
  }
  for (auto path : {"/v1", "/v1/", "/v1/tasks/", "/v1/tasks/1/", "/v1/tasks/1/nope",
                    "/v1/task", "/v1/runs/1/output/x", "/v2/tasks"}) {
    INFO(path);
    auto res = immediate(route("GET", path));
    CHECK(res.status == 404);
    CHECK(code_of(res) == "not_found");
  }
  auto put = immediate(route("PUT", "/v1/tasks/1"));
  CHECK(put.status == 405);
  CHECK(*put.header("Allow") == "GET, PATCH");
  auto del = immediate(route("DELETE", "/v1/tasks"));
  CHECK(*del.header("Allow") == "GET, POST");
  auto get_cancel = immediate(route("GET", "/v1/tasks/1/cancel"));
  CHECK(*get_cancel.header("Allow") == "POST");
  for (auto path : {"/v1/tasks/1", "/v1/runs/1", "/v1/openapi.json"}) {
    INFO(path);
    auto res = immediate(route("GET", path, "verbose=1"));
    CHECK(res.status == 400);
    CHECK(code_of(res) == "unknown_field");
  }
  auto off = immediate(route("GET", "/v1/runs/1/output", "offset=-1"));
  CHECK(code_of(off) == "invalid_field");
  auto off2 = immediate(route("GET", "/v1/runs/1/output", "from=1"));
  CHECK(code_of(off2) == "unknown_field");
}

TEST_CASE("v1 routes: the bearer token and shutdown apply as on the legacy routes",
          "[v1][route]") {
  auto r = request("GET", "/v1/tasks");
  CHECK(immediate(api::route(r, "tok", false, now)).status == 401);
  r.authorization = "Bearer tok";
  CHECK(std::holds_alternative<api::v1_action>(api::route(r, "tok", false, now)));
  CHECK(immediate(api::route(r, "tok", true, now)).status == 503);
  // The document too: it tells what the API can do.
  auto d = request("GET", "/v1/openapi.json");
  CHECK(immediate(api::route(d, "tok", false, now)).status == 401);
}

TEST_CASE("every route has a label of its own, and unknown paths share one", "[v1][route]") {
  std::vector<std::string> labels;
  for (auto& e : api::route_table()) {
    CHECK(api::classify(e.pattern) == e.id);
    CHECK(std::string{api::route_label(e.id)} == e.pattern);
    labels.push_back(api::route_label(e.id));
  }
  CHECK(api::route_table().size() + 1 == api::route_count);
  CHECK(api::classify("/v1/tasks/12345/runs") == api::route_id::v1_task_runs);
  CHECK(std::string{api::route_label(api::classify("/v1/tasks/9/nope"))} == "other");
}

// -- rendering ------------------------------------------------------------------------------------

TEST_CASE("v1 rendering: a task with its run, every key present", "[v1]") {
  ts::task_info t;
  t.id = 3;
  t.command = "echo";
  t.labels = {{"a", "1"}};
  t.due = 1727024400000;
  t.created_at = t.updated_at = t.due;
  ts::run_info r;
  r.id = 9;
  r.task = 3;
  r.scheduled_for = t.due;
  r.status = ts::run_status::failure;
  r.reason = ts::run_reason::signal;
  r.signal = 9;
  r.output = "out";
  r.output_size = 3;
  t.latest_run = r;
  auto res = api::task_created(t, true);
  CHECK(res.status == 201);
  CHECK(*res.header("Location") == "/v1/tasks/3");
  CHECK(*res.header("Idempotent-Replayed") == "true");
  auto j = json::parse(res.body);
  for (auto key : {"id", "command", "name", "labels", "schedule", "output_limit_bytes", "state",
                   "version", "next_run_at", "created_at", "updated_at", "latest_run"})
    CHECK(j.contains(key));
  CHECK(j["name"].is_null());
  CHECK(j["labels"]["a"] == "1");
  CHECK(j["schedule"]["at"] == "2024-09-22T17:00:00.000Z");
  CHECK(j["schedule"]["time_zone"].is_null());
  CHECK(j["state"] == "active");
  auto& run = j["latest_run"];
  CHECK(run["signal"] == "SIGKILL");
  CHECK(run["reason"] == "signal");
  CHECK(run["status"] == "failure");
  CHECK(run["trigger"] == "schedule");
  CHECK(run["exit_code"].is_null());
  CHECK(run["started_at"].is_null());
  CHECK(run["output_bytes"] == 3);
  CHECK(api::task_resource(t).header("Idempotent-Replayed") == nullptr);
}

TEST_CASE("v1 rendering: output with its offsets and completeness", "[v1]") {
  ts::output_slice s;
  s.data = "2\n3\n";
  s.offset = 2;
  s.next_offset = 6;
  s.complete = false;
  auto res = api::output_text(s);
  CHECK(res.status == 200);
  CHECK(res.body == "2\n3\n");
  CHECK(*res.header("Content-Type") == "text/plain; charset=utf-8");
  CHECK(*res.header("X-Output-Complete") == "false");
  CHECK(*res.header("X-Output-Offset") == "2");
  CHECK(*res.header("X-Output-Next-Offset") == "6");
}

TEST_CASE("v1 errors: forbidden is a 403", "[v1]") {
  auto e = seen(api::make_http_error(api::http_ec::forbidden, "this token may not run as root"));
  CHECK(e.status == 403);
  CHECK(e.code == "forbidden");
  CHECK(std::string{api::reason_phrase(403)} == "Forbidden");
}

TEST_CASE("v1 errors: invalid_state is a 409 with the store's reason", "[v1]") {
  auto res = api::error_response(ts::make_error(ts::ec::invalid_state, "task 4: a run of the "
                                                                       "task is in progress"));
  CHECK(res.status == 409);
  auto j = json::parse(res.body);
  CHECK(j["error"]["code"] == "invalid_state");
  CHECK(j["error"]["message"] == "task 4: a run of the task is in progress");
}

// -- execution controls ---------------------------------------------------------------------------

TEST_CASE("v1 create: the execution controls, their defaults and limits", "[v1][controls]") {
  std::vector<std::string> users{"deploy"};
  api::v1_limits limits;
  limits.allowed_run_as = &users;
  auto t = create(R"({"command":"x","timeout_s":1.5,"kill_grace_s":0,
    "retry":{"max_attempts":3,"delay_s":0.25,"multiplier":1.5,"max_delay_s":60,
             "jitter":"equal","on_interrupted":true},
    "env":{"A_1":"x","_B":""},"cwd":"/srv/app","run_as":"deploy"})",
                  limits);
  REQUIRE(t);
  auto& c = t->controls;
  CHECK(c.timeout_ms == 1500);
  CHECK(c.kill_grace_ms == 0);
  CHECK(c.retry.max_attempts == 3);
  CHECK(c.retry.delay_ms == 250);
  CHECK(c.retry.multiplier == 1.5);
  CHECK(c.retry.max_delay_ms == 60000);
  CHECK(c.retry.jitter == ts::retry_jitter::equal);
  CHECK(c.retry.on_interrupted);
  REQUIRE(c.env.size() == 2);
  CHECK(c.env[0].key == "A_1");
  CHECK(c.cwd == "/srv/app");
  CHECK(c.run_as == "deploy");
  auto d = create(R"({"command":"x"})");
  REQUIRE(d);
  CHECK(!d->controls.timeout_ms);
  CHECK(d->controls.kill_grace_ms == 10000);
  CHECK(d->controls.retry.max_attempts == 1);
  CHECK(d->controls.retry.jitter == ts::retry_jitter::full);
  // A tiny positive timeout never rounds to none.
  auto tiny = create(R"({"command":"x","timeout_s":0.0001})");
  REQUIRE(tiny);
  CHECK(tiny->controls.timeout_ms == 1);
}

TEST_CASE("v1 create: every control's type and range is checked", "[v1][controls]") {
  refused(R"({"command":"x","timeout_s":0})", "invalid_field", "timeout_s");
  refused(R"({"command":"x","timeout_s":-1})", "invalid_field", "timeout_s");
  refused(R"({"command":"x","timeout_s":"10"})", "invalid_field", "timeout_s");
  refused(R"({"command":"x","timeout_s":true})", "invalid_field", "timeout_s");
  refused(R"({"command":"x","timeout_s":1e12})", "invalid_field", "timeout_s");
  refused(R"({"command":"x","kill_grace_s":600.5})", "invalid_field", "kill_grace_s");
  refused(R"({"command":"x","kill_grace_s":-0.5})", "invalid_field", "kill_grace_s");
  CHECK(create(R"({"command":"x","kill_grace_s":600})"));
  refused(R"({"command":"x","retry":3})", "invalid_field", "retry");
  refused(R"({"command":"x","retry":{"max_attempts":0}})", "invalid_field", "retry.max_attempts");
  refused(R"({"command":"x","retry":{"max_attempts":101}})", "invalid_field",
          "retry.max_attempts");
  refused(R"({"command":"x","retry":{"max_attempts":2.5}})", "invalid_field",
          "retry.max_attempts");
  CHECK(create(R"({"command":"x","retry":{"max_attempts":100}})"));
  refused(R"({"command":"x","retry":{"delay_s":-1}})", "invalid_field", "retry.delay_s");
  refused(R"({"command":"x","retry":{"multiplier":0.5}})", "invalid_field", "retry.multiplier");
  refused(R"({"command":"x","retry":{"multiplier":11}})", "invalid_field", "retry.multiplier");
  refused(R"({"command":"x","retry":{"max_delay_s":"1h"}})", "invalid_field",
          "retry.max_delay_s");
  refused(R"({"command":"x","retry":{"jitter":"some"}})", "invalid_field", "retry.jitter");
  refused(R"({"command":"x","retry":{"on_interrupted":1}})", "invalid_field",
          "retry.on_interrupted");
  refused(R"({"command":"x","retry":{"attempts":2}})", "unknown_field", "retry.attempts");
  refused(R"({"command":"x","env":[]})", "invalid_field", "env");
  refused(R"({"command":"x","env":{"A-B":"x"}})", "invalid_field", "env.A-B");
  refused(R"({"command":"x","env":{"9A":"x"}})", "invalid_field", "env.9A");
  refused(R"({"command":"x","env":{"TS_TASK_ID":"1"}})", "invalid_field", "env.TS_TASK_ID");
  refused(R"({"command":"x","env":{"A":1}})", "invalid_field", "env.A");
  refused(json{{"command", "x"}, {"env", {{"A", std::string("a\0b", 3)}}}}.dump(),
          "invalid_field", "env.A");
  json many = {{"command", "x"}, {"env", json::object()}};
  for (int i = 0; i < 128; ++i)
    many["env"]["V" + std::to_string(i)] = "v";
  CHECK(create(many.dump()));
  many["env"]["V128"] = "v";
  refused(many.dump(), "invalid_field", "env");
  refused(json{{"command", "x"}, {"env", {{"BIG", std::string(70000, 'v')}}}}.dump(),
          "invalid_field", "env");
  refused(R"({"command":"x","cwd":"relative"})", "invalid_field", "cwd");
  refused(R"({"command":"x","cwd":""})", "invalid_field", "cwd");
  refused(R"({"command":"x","cwd":7})", "invalid_field", "cwd");
  refused(json{{"command", "x"}, {"cwd", "/" + std::string(4096, 'd')}}.dump(),
          "invalid_field", "cwd");
  // run_as: 403 unless the service allows the user.
  auto t = create(R"({"command":"x","run_as":"root"})");
  REQUIRE_FALSE(t);
  auto e = seen(t.error());
  CHECK(e.status == 403);
  CHECK(e.code == "forbidden");
  CHECK(e.field == "run_as");
  refused(R"({"command":"x","run_as":5})", "invalid_field", "run_as");
}

TEST_CASE("v1 rendering: a task's controls and a waiting retry", "[v1][controls]") {
  ts::task_info t;
  t.id = 1;
  t.command = "x";
  t.controls.timeout_ms = 1500;
  t.controls.retry.max_attempts = 3;
  t.controls.env = {{"A", "1"}};
  t.controls.cwd = std::string{"/tmp"};
  ts::run_info r;
  r.id = 2;
  r.task = 1;
  r.attempt = 2;
  r.trigger = ts::run_trigger::retry;
  r.status = ts::run_status::waiting;
  r.next_attempt_at = 1727024400000;
  t.latest_run = r;
  auto j = json::parse(api::task_resource(t).body);
  CHECK(j["timeout_s"] == 1.5);
  CHECK(j["kill_grace_s"] == 10.0);
  CHECK(j["retry"]["max_attempts"] == 3);
  CHECK(j["retry"]["jitter"] == "full");
  CHECK(j["env"] == json({{"A", "1"}}));
  CHECK(j["cwd"] == "/tmp");
  CHECK(j["run_as"].is_null());
  CHECK(j["latest_run"]["trigger"] == "retry");
  CHECK(j["latest_run"]["status"] == "waiting");
  CHECK(j["latest_run"]["next_attempt_at"] == "2024-09-22T17:00:00.000Z");
  t.controls.timeout_ms.reset();
  CHECK(json::parse(api::task_resource(t).body)["timeout_s"].is_null());
}
