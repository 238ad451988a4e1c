// The HTTP API: validation, routing and rendering without a socket (every row of the error
// table), then the real server on a loopback socket with fake coordinator and persistence
// actors behind the real gateway.
#include "http/requests.hpp"
#include "http/responses.hpp"
#include "http/routes.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "actors/interfaces.hpp"
#include "http/gateway.hpp"
#include "http/server.hpp"
#include "core/time_format.hpp"
#include "core/time_zone.hpp"
#include "tests/support/http_client.hpp"

using nlohmann::json;
using ts::http_response;
using ts::millis;
namespace api = ts::api;

namespace {

/// 2024-09-22T17:00:00Z.
constexpr millis example = 1727024400000;
constexpr millis now = 1700000000000;
const std::string example_body = R"({"task":"whoami","time":"2024-09-22T17:00:00Z"})";

json body_of(const http_response& res) {
  return json::parse(res.body);
}

/// Checks the error shape of the issue: status, JSON content type, {"error":{code,message}},
/// and "field" only where one field is at fault.
void check_error(const http_response& res, int status, const std::string& code) {
  CHECK(res.status == status);
  REQUIRE(res.header("Content-Type") != nullptr);
  CHECK(*res.header("Content-Type") == "application/json");
  auto j = body_of(res);
  REQUIRE(j.is_object());
  CHECK(j.size() == 1);
  REQUIRE(j.contains("error"));
  CHECK(j["error"].size() == (j["error"].contains("field") ? 3u : 2u));
  CHECK(j["error"]["code"] == code);
  REQUIRE(j["error"]["message"].is_string());
  CHECK(!j["error"]["message"].get<std::string>().empty());
}

/// The response for a failed schedule validation.
http_response schedule_error(const std::string& body,
                             std::optional<std::string_view> content_type = std::nullopt,
                             std::optional<std::string_view> key = std::nullopt) {
  auto t = api::parse_schedule_request(body, content_type, key, now);
  REQUIRE_FALSE(t);
  return api::error_response(t.error());
}

std::string task_body(const std::string& task) {
  return json{{"task", task}, {"time", "2024-09-22T17:00:00Z"}}.dump();
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

http_response immediate(const api::action& a) {
  auto res = std::get_if<http_response>(&a);
  REQUIRE(res != nullptr);
  return *res;
}

} // namespace

// -- schedule validation --------------------------------------------------------------------

TEST_CASE("a valid schedule request becomes a new task", "[api]") {
  SECTION("application/json") {
    auto t = api::parse_schedule_request(example_body, std::string_view{"application/json"},
                                         std::nullopt, now);
    REQUIRE(t);
    CHECK(t->command == "whoami");
    CHECK(t->due == example);
    CHECK(t->created_at == now);
    CHECK_FALSE(t->idempotency_key);
    CHECK(t->request_hash == api::request_digest("whoami", "2024-09-22T17:00:00Z"));
  }
  SECTION("content types read as JSON") {
    for (std::string_view ct : {"application/json; charset=utf-8", "APPLICATION/JSON",
                                " application/json ;charset=UTF-8",
                                "application/x-www-form-urlencoded"}) {
      INFO(ct);
      CHECK(api::parse_schedule_request(example_body, ct, std::nullopt, now));
    }
    CHECK(api::parse_schedule_request(example_body, std::nullopt, std::nullopt, now));
  }
  SECTION("the issue's local time form") {
    auto body = R"({"task":"whoami", "time":"2024-09-22 17:00:00"})";
    auto t = api::parse_schedule_request(body, std::nullopt, std::nullopt, now);
    REQUIRE(t);
    auto expected = ts::parse_time("2024-09-22 17:00:00");
    REQUIRE(expected);
    CHECK(t->due == *expected);
  }
  SECTION("a naive time in --default-time-zone; an offset ignores the zone") {
    auto kolkata = ts::find_time_zone("Asia/Kolkata");
    REQUIRE(kolkata);
    auto naive = R"({"task":"whoami", "time":"2024-09-22 17:00:00"})";
    auto t = api::parse_schedule_request(naive, std::nullopt, std::nullopt, now, kolkata->get());
    REQUIRE(t);
    CHECK(t->due == example - (5 * 60 + 30) * 60 * 1000);
    auto with_offset = api::parse_schedule_request(example_body, std::nullopt, std::nullopt, now,
                                                   kolkata->get());
    REQUIRE(with_offset);
    CHECK(with_offset->due == example);
    // A gap in the zone is refused as in the process's zone, through route as well.
    auto new_york = ts::find_time_zone("America/New_York");
    REQUIRE(new_york);
    auto in_gap = R"({"task":"ls", "time":"2024-03-10 02:30:00"})";
    auto refused
      = api::parse_schedule_request(in_gap, std::nullopt, std::nullopt, now, new_york->get());
    REQUIRE_FALSE(refused);
    auto req = request("POST", api::schedule_path, {}, in_gap);
    check_error(immediate(api::route(req, "", false, now, false, new_york->get())), 400,
                "invalid_time");
  }
  SECTION("unknown fields are ignored") {
    auto body = R"({"task":"ls","time":"2024-09-22T17:00:00+05:30","x":[1],"retries":3})";
    auto t = api::parse_schedule_request(body, std::nullopt, std::nullopt, now);
    REQUIRE(t);
    CHECK(t->command == "ls");
    CHECK(t->due == example - (5 * 60 + 30) * 60 * 1000);
  }
  SECTION("a time in the past is accepted (run now)") {
    auto body = R"({"task":"ls","time":"1999-01-01T00:00:00Z"})";
    CHECK(api::parse_schedule_request(body, std::nullopt, std::nullopt, now));
  }
  SECTION("idempotency key and request hash") {
    auto t = api::parse_schedule_request(example_body, std::nullopt,
                                         std::string_view{"key-1"}, now);
    REQUIRE(t);
    CHECK(t->idempotency_key == "key-1");
    CHECK(t->request_hash.size() == 64);
    // Formatting of the body does not matter; the fields do.
    auto spaced = R"({ "time" : "2024-09-22T17:00:00Z", "task" : "whoami", "other": 1 })";
    auto same = api::parse_schedule_request(spaced, std::nullopt, std::nullopt, now);
    REQUIRE(same);
    CHECK(same->request_hash == t->request_hash);
    auto other = api::parse_schedule_request(task_body("whoami "), std::nullopt,
                                             std::nullopt, now);
    REQUIRE(other);
    CHECK(other->request_hash != t->request_hash);
    std::string key(255, 'k');
    CHECK(api::parse_schedule_request(example_body, std::nullopt, std::string_view{key}, now));
  }
  SECTION("a task of exactly 64 KiB, and multi-byte UTF-8") {
    CHECK(api::parse_schedule_request(task_body(std::string(65536, 'a')), std::nullopt,
                                      std::nullopt, now));
    auto t = api::parse_schedule_request(task_body("echo h\xc3\xa9llo \xe2\x9c\x93"),
                                         std::nullopt, std::nullopt, now);
    REQUIRE(t);
    CHECK(t->command == "echo h\xc3\xa9llo \xe2\x9c\x93");
  }
}

TEST_CASE("invalid_json: not JSON or not an object", "[api]") {
  for (std::string body : {"", "not json", "{\"task\":", "[1,2]", "\"whoami\"", "42", "null",
                           "{\"task\":\"a\",\"time\":\"b\"} trailing",
                           "{\"task\":\"\xff\xfe\",\"time\":\"2024-09-22T17:00:00Z\"}"}) {
    INFO(body);
    check_error(schedule_error(body), 400, "invalid_json");
  }
}

TEST_CASE("invalid_field: task or time missing or not a string", "[api]") {
  for (std::string body : {R"({})", R"({"time":"2024-09-22T17:00:00Z"})",
                           R"({"task":1,"time":"2024-09-22T17:00:00Z"})",
                           R"({"task":null,"time":"2024-09-22T17:00:00Z"})",
                           R"({"task":["ls"],"time":"2024-09-22T17:00:00Z"})",
                           R"({"task":"ls"})", R"({"task":"ls","time":1727024400})",
                           R"({"task":"ls","time":{}})"}) {
    INFO(body);
    auto res = schedule_error(body);
    check_error(res, 400, "invalid_field");
    // The message names the field.
    auto message = body_of(res)["error"]["message"].get<std::string>();
    bool names_field = message.find("task") != std::string::npos
                       || message.find("time") != std::string::npos;
    CHECK(names_field);
  }
}

TEST_CASE("invalid_field: a malformed Idempotency-Key", "[api]") {
  std::string long_key(256, 'k');
  for (std::string key : {std::string{}, long_key, std::string{"a\tb"}, std::string{"caf\xc3\xa9"},
                          std::string{"a\nb"}}) {
    INFO(key);
    check_error(schedule_error(example_body, std::nullopt, std::string_view{key}), 400,
                "invalid_field");
  }
}

TEST_CASE("invalid_time: unparseable or impossible times", "[api]") {
  for (std::string time : {"2024-02-30 10:00:00", "2024-09-22 25:00:00", "tomorrow", "",
                           "1969-12-31T23:59:59Z", "10000-01-01T00:00:00Z",
                           "2024-09-22T17:00:00+25:00"}) {
    INFO(time);
    auto res = schedule_error(json{{"task", "ls"}, {"time", time}}.dump());
    check_error(res, 400, "invalid_time");
  }
  // The message says what is wrong (it comes from parse_time).
  auto res = schedule_error(R"({"task":"ls","time":"2024-09-22 25:00:00"})");
  CHECK(body_of(res)["error"]["message"].get<std::string>().find("hour")
        != std::string::npos);
}

TEST_CASE("invalid_task: empty, blank, NUL, too long", "[api]") {
  for (std::string task : {std::string{}, std::string{"   "}, std::string{" \t\n\r "},
                           std::string{"ls\0-la", 6}, std::string(65537, 'a')}) {
    INFO(task.size());
    check_error(schedule_error(task_body(task)), 400, "invalid_task");
  }
}

TEST_CASE("unsupported_media_type: anything but JSON", "[api]") {
  for (std::string_view ct : {"text/plain", "application/xml", "multipart/form-data; b=x",
                              "application/jsonx", "json", ""}) {
    INFO(ct);
    check_error(schedule_error(example_body, ct), 415, "unsupported_media_type");
  }
}

// -- ids ------------------------------------------------------------------------------------

TEST_CASE("parse_id accepts 1 .. 2^63-1 in decimal only", "[api]") {
  CHECK(api::parse_id(std::string_view{"1"}).value() == 1);
  CHECK(api::parse_id(std::string_view{"42"}).value() == 42);
  CHECK(api::parse_id(std::string_view{"9223372036854775807"}).value()
        == 9223372036854775807LL);
  for (std::string_view bad : {"", "0", "00", "-1", "+1", " 1", "1 ", "1.0", "0x10", "abc",
                               "1e3", "9223372036854775808", "18446744073709551616",
                               "99999999999999999999999"}) {
    INFO(bad);
    auto id = api::parse_id(bad);
    REQUIRE_FALSE(id);
    check_error(api::error_response(id.error()), 400, "invalid_id");
  }
  auto missing = api::parse_id(std::nullopt);
  REQUIRE_FALSE(missing);
  check_error(api::error_response(missing.error()), 400, "invalid_id");
}

TEST_CASE("parse_id_query finds id in a query string", "[api]") {
  CHECK(api::parse_id_query("id=5").value() == 5);
  CHECK(api::parse_id_query("x=1&id=7&y").value() == 7);
  CHECK(api::parse_id_query("id=%31%32").value() == 12);
  for (std::string_view bad : {"", "id", "id=", "x=1", "id=1&id=2", "id=%3", "id=%zz",
                               "id=+1", "id=%2B1", "id=1+"}) {
    INFO(bad);
    auto id = api::parse_id_query(bad);
    REQUIRE_FALSE(id);
    check_error(api::error_response(id.error()), 400, "invalid_id");
  }
}

// -- digest and auth ------------------------------------------------------------------------

TEST_CASE("request_digest is SHA-256 of the canonical JSON", "[api]") {
  // Expected values from Python's hashlib over json.dumps(sort_keys=True) of the same
  // fields; the lengths cover SHA-256's padding boundaries (55, 56, 64 bytes, two blocks).
  CHECK(api::request_digest("whoami", "2024-09-22 17:00:00")
        == "14fae28e125be231d48947a5b26045b9bb5a7d3dd07545df1088a38b6f176735");
  CHECK(api::request_digest("a", "b")
        == "7467e8a430943f3f49d42cace549b0c1806d14ffd2a2b2a5401b9bcabd877233");
  CHECK(api::request_digest(std::string(33, 'x'), "y")
        == "d26db7a0a15bde2916e069d7132c2e20bc819c190f7e8be102fc4ddb82008b84");
  CHECK(api::request_digest(std::string(34, 'x'), "y")
        == "83ce11ea5888faafc8a63f936e0c960a2271e8f80bb64d5341d006e3dcf1b760");
  CHECK(api::request_digest(std::string(42, 'x'), "y")
        == "311ea6130222ba77924e377dac1341c2a278857c875ff443a9d68db0f9090eb0");
  CHECK(api::request_digest(std::string(98, 'x'), "y")
        == "c7e2d6aa7e1fce3d3b046c2d5069e3c4bb97c0d05b7c171e96c1f20a250fd0c3");
  CHECK(api::request_digest("echo \"hi\"\n", "t")
        == "c5c47ac122ff199f944b2b92494516895a756adb16ebae4de27f5294482c14b2");
  CHECK(api::request_digest("h\xc3\xa9llo \xe2\x9c\x93", "2024-09-22T17:00:00+05:30")
        == "d5bbf14b4bc3427e65149abfe5319604348c9d929a4045f29725a3358822e7dd");
}

TEST_CASE("authorized compares the bearer token exactly", "[api]") {
  const std::string token = "s3cret-token";
  CHECK(api::authorized(std::nullopt, ""));
  CHECK(api::authorized(std::string_view{"anything"}, ""));
  CHECK(api::authorized(std::string_view{"Bearer s3cret-token"}, token));
  CHECK(api::authorized(std::string_view{"bearer s3cret-token"}, token));
  CHECK(api::authorized(std::string_view{"Bearer  s3cret-token "}, token));
  CHECK_FALSE(api::authorized(std::nullopt, token));
  for (std::string_view bad : {"", "Bearer", "Bearer ", "s3cret-token", "Basic s3cret-token",
                               "Bearer s3cret-tokeN", "Bearer s3cret-toke",
                               "Bearer s3cret-token2", "Bearers3cret-token",
                               "Bearer x", "Bearer s3cret-token s3cret-token"}) {
    INFO(bad);
    CHECK_FALSE(api::authorized(bad, token));
  }
  // A NUL-padded guess must not pass (the shorter side is compared as zeros).
  CHECK_FALSE(api::authorized(std::string_view{"Bearer s3cret-token\0\0", 22}, token));
}

// -- the error table ------------------------------------------------------------------------

TEST_CASE("error_response maps every error to its row", "[api]") {
  using api::http_ec;
  auto http = [](http_ec code) { return api::error_response(api::make_http_error(code, "m")); };
  check_error(http(http_ec::invalid_json), 400, "invalid_json");
  check_error(http(http_ec::invalid_field), 400, "invalid_field");
  check_error(http(http_ec::invalid_time), 400, "invalid_time");
  check_error(http(http_ec::invalid_task), 400, "invalid_task");
  check_error(http(http_ec::invalid_id), 400, "invalid_id");
  check_error(http(http_ec::unknown_path), 404, "not_found");
  check_error(http(http_ec::payload_too_large), 413, "payload_too_large");
  check_error(http(http_ec::unsupported_media_type), 415, "unsupported_media_type");

  auto unauth = api::unauthorized();
  check_error(unauth, 401, "unauthorized");
  REQUIRE(unauth.header("WWW-Authenticate"));
  CHECK(*unauth.header("www-authenticate") == "Bearer");

  auto wrong_method = api::method_not_allowed("GET");
  check_error(wrong_method, 405, "method_not_allowed");
  REQUIRE(wrong_method.header("Allow"));
  CHECK(*wrong_method.header("Allow") == "GET");

  check_error(api::error_response(ts::make_error(ts::ec::not_found)), 404, "not_found");
  check_error(api::error_response(ts::make_error(ts::ec::idempotency_conflict)), 409,
              "idempotency_conflict");
  for (auto err : {ts::make_error(ts::ec::unavailable), ts::make_error(ts::ec::shutting_down),
                   caf::make_error(caf::sec::request_timeout),
                   caf::make_error(caf::sec::request_receiver_down)}) {
    INFO(ts::render(err));
    auto res = api::error_response(err);
    check_error(res, 503, "unavailable");
    REQUIRE(res.header("Retry-After"));
    CHECK(std::stoi(*res.header("Retry-After")) >= 1);
  }
  check_error(api::shutting_down(), 503, "unavailable");
}

TEST_CASE("unexpected errors are a 500 that shows nothing internal", "[api]") {
  for (auto err : {ts::make_error(ts::ec::storage_failure, "UNIQUE failed; password=hunter2"),
                   ts::make_error(ts::ec::schema_too_new, "password=hunter2"),
                   ts::make_error(ts::ec::invalid_argument, "password=hunter2"),
                   caf::make_error(caf::sec::unexpected_message), caf::error{}}) {
    INFO(ts::render(err));
    auto res = api::error_response(err);
    check_error(res, 500, "internal_error");
    CHECK(res.body.find("hunter2") == std::string::npos);
    CHECK(res.body.find("storage_failure") == std::string::npos);
  }
}

// -- routing --------------------------------------------------------------------------------

TEST_CASE("route: paths, methods, sizes, auth and shutdown", "[api]") {
  SECTION("schedule") {
    auto a = api::route(request("POST", "/taskschedulizer", "", example_body), "", false, now);
    auto s = std::get_if<api::schedule_action>(&a);
    REQUIRE(s);
    CHECK(s->task.command == "whoami");
    CHECK(s->task.created_at == now);
  }
  SECTION("status") {
    auto a = api::route(request("GET", "/status", "id=17"), "", false, now);
    auto s = std::get_if<api::status_action>(&a);
    REQUIRE(s);
    CHECK(s->id == 17);
    check_error(immediate(api::route(request("GET", "/status", "id=x"), "", false, now)), 400,
                "invalid_id");
    check_error(immediate(api::route(request("GET", "/status"), "", false, now)), 400,
                "invalid_id");
  }
  SECTION("unknown paths") {
    for (std::string_view path : {"/", "/nope", "/status/", "/taskschedulizer/x", "/STATUS"}) {
      INFO(path);
      check_error(immediate(api::route(request("GET", path), "", false, now)), 404,
                  "not_found");
    }
  }
  SECTION("wrong methods") {
    for (auto [method, path, allow] :
         std::vector<std::tuple<std::string_view, std::string_view, std::string>>{
           {"GET", "/taskschedulizer", "POST"}, {"PUT", "/taskschedulizer", "POST"},
           {"DELETE", "/taskschedulizer", "POST"}, {"POST", "/status", "GET"},
           {"HEAD", "/taskschedulizer", "POST"}}) {
      INFO(method << " " << path);
      auto res = immediate(api::route(request(method, path, "id=1"), "", false, now));
      check_error(res, 405, "method_not_allowed");
      REQUIRE(res.header("Allow"));
      CHECK(*res.header("Allow") == allow);
    }
  }
  SECTION("body size") {
    std::string big(api::max_body_bytes + 1, ' ');
    check_error(immediate(api::route(request("POST", "/taskschedulizer", "", big), "", false,
                                     now)),
                413, "payload_too_large");
    // Exactly 1 MiB is read (and here is not JSON).
    std::string limit(api::max_body_bytes, ' ');
    check_error(immediate(api::route(request("POST", "/taskschedulizer", "", limit), "",
                                     false, now)),
                400, "invalid_json");
  }
  SECTION("content type") {
    auto r = request("POST", "/taskschedulizer", "", example_body);
    r.content_type = "text/plain";
    check_error(immediate(api::route(r, "", false, now)), 415, "unsupported_media_type");
  }
  SECTION("authentication comes first") {
    auto r = request("GET", "/nope");
    auto res = immediate(api::route(r, "tok", false, now));
    check_error(res, 401, "unauthorized");
    CHECK(res.header("WWW-Authenticate"));
    r.authorization = "Bearer wrong";
    check_error(immediate(api::route(r, "tok", false, now)), 401, "unauthorized");
    r.authorization = "Bearer tok";
    check_error(immediate(api::route(r, "tok", false, now)), 404, "not_found");
    auto s = request("GET", "/status", "id=1");
    s.authorization = "Bearer tok";
    CHECK(std::holds_alternative<api::status_action>(api::route(s, "tok", false, now)));
  }
  SECTION("shutting down") {
    check_error(immediate(api::route(request("POST", "/taskschedulizer", "", example_body), "",
                                     true, now)),
                503, "unavailable");
  }
}

// -- rendering ------------------------------------------------------------------------------

TEST_CASE("created renders 201 with Location and the task", "[api]") {
  ts::task_record rec;
  rec.id = 42;
  rec.command = "whoami";
  rec.due = example;
  rec.created_at = example - 1500;
  auto res = api::created(rec);
  CHECK(res.status == 201);
  REQUIRE(res.header("Location"));
  CHECK(*res.header("Location") == "/status?id=42");
  CHECK(*res.header("Content-Type") == "application/json");
  CHECK_FALSE(res.header("Idempotent-Replayed"));
  auto j = body_of(res);
  CHECK(j == json{{"id", 42}, {"task", "whoami"}, {"time", "2024-09-22T17:00:00.000Z"},
                  {"status", "pending"}, {"created_at", "2024-09-22T16:59:58.500Z"}});
  // Key order: id first, for people reading curl output.
  CHECK(res.body.rfind("{\"id\":42,", 0) == 0);

  rec.replayed = true;
  auto replay = api::created(rec);
  CHECK(replay.status == 201);
  REQUIRE(replay.header("Idempotent-Replayed"));
  CHECK(*replay.header("Idempotent-Replayed") == "true");
  CHECK(body_of(replay) == j);
}

TEST_CASE("status renders the task with its latest run", "[api]") {
  ts::task_view v;
  v.id = 7;
  v.command = "sleep 1";
  v.due = example;
  v.created_at = example - 1000;
  SECTION("pending: no run, everything about the run is null") {
    auto res = api::status(v);
    CHECK(res.status == 200);
    CHECK(*res.header("Content-Type") == "application/json");
    auto j = body_of(res);
    CHECK(j["id"] == 7);
    CHECK(j["task"] == "sleep 1");
    CHECK(j["time"] == "2024-09-22T17:00:00.000Z");
    CHECK(j["created_at"] == "2024-09-22T16:59:59.000Z");
    CHECK(j["status"] == "pending");
    for (auto key : {"exit_code", "signal", "reason", "output", "started_at", "finished_at",
                     "run_id"}) {
      INFO(key);
      REQUIRE(j.contains(key));
      CHECK(j[key].is_null());
    }
    CHECK(j["output_truncated"] == false);
  }
  SECTION("running") {
    v.status = ts::task_status::running;
    v.run = 3;
    v.started_at = example + 2;
    auto j = body_of(api::status(v));
    CHECK(j["status"] == "running");
    CHECK(j["run_id"] == 3);
    CHECK(j["started_at"] == "2024-09-22T17:00:00.002Z");
    CHECK(j["finished_at"].is_null());
    CHECK(j["reason"].is_null());
    CHECK(j["exit_code"].is_null());
    CHECK(j["output"] == "");
  }
  SECTION("success") {
    v.status = ts::task_status::success;
    v.run = 3;
    v.exit_code = 0;
    v.output = "root\n";
    v.started_at = example;
    v.finished_at = example + 15;
    auto j = body_of(api::status(v));
    CHECK(j["status"] == "success");
    CHECK(j["exit_code"] == 0);
    CHECK(j["signal"].is_null());
    CHECK(j["reason"].is_null());
    CHECK(j["output"] == "root\n");
    CHECK(j["finished_at"] == "2024-09-22T17:00:00.015Z");
  }
  SECTION("failure by exit code, output truncated") {
    v.status = ts::task_status::failure;
    v.run = 4;
    v.reason = ts::run_reason::exit;
    v.exit_code = 3;
    v.output = "x";
    v.output_truncated = true;
    v.started_at = example;
    v.finished_at = example + 1;
    auto j = body_of(api::status(v));
    CHECK(j["status"] == "failure");
    CHECK(j["reason"] == "exit");
    CHECK(j["exit_code"] == 3);
    CHECK(j["signal"].is_null());
    CHECK(j["output_truncated"] == true);
  }
  SECTION("killed by a signal") {
    v.status = ts::task_status::failure;
    v.run = 5;
    v.reason = ts::run_reason::signal;
    v.signal = SIGKILL;
    v.started_at = example;
    v.finished_at = example + 1;
    auto j = body_of(api::status(v));
    CHECK(j["reason"] == "signal");
    CHECK(j["signal"] == "SIGKILL");
    CHECK(j["exit_code"].is_null());
  }
  SECTION("start_failed and interrupted") {
    v.status = ts::task_status::failure;
    v.run = 6;
    v.reason = ts::run_reason::start_failed;
    auto j = body_of(api::status(v));
    CHECK(j["reason"] == "start_failed");
    CHECK(j["started_at"].is_null());
    v.reason = ts::run_reason::interrupted;
    CHECK(body_of(api::status(v))["reason"] == "interrupted");
  }
  SECTION("output that is not valid UTF-8 still renders") {
    v.run = 1;
    v.output = "a\xff" "b";
    auto res = api::status(v);
    CHECK(res.status == 200);
    CHECK(body_of(res)["output"].is_string());
  }
}

TEST_CASE("status and created bodies are exactly nlohmann's compact form", "[api]") {
  // The hot responses are written by appending; they must stay byte for byte what a
  // JSON library makes of the same document, in the same key order, whatever the strings.
  auto canonical = [](const std::string& body) {
    return nlohmann::ordered_json::parse(body).dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  for (std::string text : {std::string{"plain"}, std::string{"quote \" back \\ slash"},
                           std::string{"line\nfeed\ttab\x01\x1f\x7f"},
                           std::string{"unicode \xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x9a\x80"},
                           std::string{""}}) {
    INFO(text);
    ts::task_view v;
    v.id = 12;
    v.command = text;
    v.due = example;
    v.created_at = example;
    v.status = ts::task_status::failure;
    v.run = 3;
    v.reason = ts::run_reason::signal;
    v.signal = SIGTERM;
    v.output = text;
    v.started_at = example;
    v.finished_at = example + 1;
    auto body = api::status(v).body;
    CHECK(body == canonical(body));
    auto j = nlohmann::json::parse(body);
    CHECK(j["task"] == text);
    CHECK(j["output"] == text);
    CHECK(j["exit_code"].is_null());
    CHECK(body.rfind("{\"id\":12,\"task\":", 0) == 0);
    ts::task_record rec;
    rec.id = 12;
    rec.command = text;
    rec.due = example;
    rec.created_at = example;
    auto created = api::created(rec).body;
    CHECK(created == canonical(created));
    CHECK(nlohmann::json::parse(created)["task"] == text);
  }
  // Not UTF-8 (stored output is repaired, but never trust that): still valid JSON.
  ts::task_view v;
  v.run = 1;
  v.output = "a\xff" "b";
  auto body = api::status(v).body;
  CHECK(nlohmann::json::parse(body)["output"] == "a\xef\xbf\xbd" "b");
}

TEST_CASE("signal names", "[api]") {
  CHECK(api::signal_name(SIGKILL) == "SIGKILL");
  CHECK(api::signal_name(SIGTERM) == "SIGTERM");
  CHECK(api::signal_name(SIGSEGV) == "SIGSEGV");
  CHECK(api::signal_name(SIGRTMIN + 2) == "SIGRTMIN+2");
  CHECK(api::signal_name(200) == "SIG200");
}

// -- the real server on a loopback socket ------------------------------------------------------

namespace {

using namespace std::chrono_literals;

/// One kept-alive connection, fed the raw requests below byte for byte.
using client = ts::test_http::connection;

std::string post(const std::string& body, const std::string& extra_headers = {},
                 const std::string& path = "/taskschedulizer") {
  return "POST " + path + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers
         + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string schedule(const std::string& task, const std::string& extra_headers = {}) {
  return post(task_body(task), "Content-Type: application/json\r\n" + extra_headers);
}

std::string get(const std::string& target, const std::string& extra_headers = {}) {
  return "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers + "\r\n";
}

void check_json_error(const ts::test_http::response& res, int status, const std::string& code) {
  INFO(res.describe());
  CHECK(res.status == status);
  CHECK(res.header("content-type") == "application/json");
  auto j = res.json();
  CHECK(j["error"]["code"] == code);
  CHECK(j["error"]["message"].is_string());
}

/// What the fake coordinator saw and holds.
/// The one v1 task the fakes know: task 1, whoami, finished with run 11.
ts::task_info v1_task() {
  using namespace ts;
  task_info t;
  t.id = 1;
  t.command = "whoami";
  t.name = std::string{"who"};
  t.labels = {{"team", "ops"}};
  t.due = example;
  t.created_at = t.updated_at = example - 1000;
  t.state = task_state::completed;
  t.version = 3;
  run_info r;
  r.id = 11;
  r.task = 1;
  r.scheduled_for = example;
  r.status = run_status::success;
  r.started_at = example;
  r.finished_at = example + 20;
  r.exit_code = 0;
  r.output = "root\n";
  r.output_size = 5;
  r.lateness_ms = 0;
  t.latest_run = r;
  return t;
}

struct fake_coordinator_state {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<ts::new_task> scheduled;
  std::vector<caf::typed_response_promise<ts::task_record>> held; // never answered
  bool delayed_seen = false;
  /// Task 1's version, which persistence reads and an edit checks and bumps.
  int64_t task_version = 3;
  /// Edits that lose a race: each bumps the version (another change came first) and is
  /// refused as stale.
  int races = 0;
  std::vector<ts::task_edit> edits;
};

ts::task_record record_of(const ts::new_task& t, ts::task_id id) {
  ts::task_record rec;
  rec.id = id;
  rec.command = t.command;
  rec.due = t.due;
  rec.created_at = t.created_at;
  return rec;
}

/// Canned answers chosen by the command text.
ts::coordinator_actor::behavior_type
fake_coordinator(ts::coordinator_actor::pointer self,
                 std::shared_ptr<fake_coordinator_state> st) {
  using namespace ts;
  return {
    [=](schedule_atom, new_task& t) -> caf::result<task_record> {
      auto rp = self->make_response_promise<task_record>();
      std::unique_lock<std::mutex> guard{st->mtx};
      st->scheduled.push_back(t);
      if (t.command == "conflict") {
        rp.deliver(make_error(ec::idempotency_conflict));
      } else if (t.command == "outage") {
        rp.deliver(make_error(ec::unavailable, "db down"));
      } else if (t.command == "stopping") {
        rp.deliver(make_error(ec::shutting_down));
      } else if (t.command == "boom") {
        rp.deliver(make_error(ec::storage_failure, "disk I/O error at /secret/path"));
      } else if (t.command == "replay") {
        auto rec = record_of(t, 9);
        rec.replayed = true;
        rp.deliver(rec);
      } else if (t.command == "slow") {
        st->held.push_back(rp);
      } else if (t.command == "delayed") {
        // Answered later, from a message to itself: the request is in flight meanwhile.
        st->delayed_seen = true;
        st->cv.notify_all();
        self->delayed_send(self, 300ms, retry_atom::value);
        st->held.push_back(rp);
      } else {
        rp.deliver(record_of(t, 1));
      }
      return rp;
    },
    [=](load_atom, std::vector<pending_entry>&) {},
    [=](tick_atom) {},
    [=](done_atom, run_id) {},
    [=](rearm_atom, task_id, millis) {},
    [=](stats_atom) { return coordinator_stats{}; },
    [=](shutdown_atom, int64_t) { return caf::ok_atom::value; },
    [=](cancel_atom, task_id id, request_key& key) -> caf::result<task_change> {
      if (id != 1)
        return make_error(ec::not_found);
      task_change c;
      c.task = v1_task();
      c.task.state = task_state::cancelled;
      c.replayed = key.idempotency_key.has_value();
      return c;
    },
    [=](trigger_atom, task_id, request_key&) -> caf::result<task_change> {
      return make_error(ec::invalid_state, "task 1: a run of the task is in progress");
    },
    // Task 1 pauses and resumes; task 3 has completed; others do not exist.
    [=](pause_atom, task_id id, request_key& key) -> caf::result<task_change> {
      if (id == 3)
        return make_error(ec::invalid_state, "task 3 is completed");
      if (id != 1)
        return make_error(ec::not_found);
      task_change c;
      c.task = v1_task();
      c.task.state = task_state::paused;
      c.task.paused_at = example + 60000;
      c.task.next_run_at.reset();
      c.replayed = key.idempotency_key.has_value();
      return c;
    },
    [=](resume_atom, task_id id, request_key&) -> caf::result<task_change> {
      if (id == 3)
        return make_error(ec::invalid_state, "task 3 is completed");
      if (id != 1)
        return make_error(ec::not_found);
      task_change c;
      c.task = v1_task();
      c.task.state = task_state::active;
      return c;
    },
    // Task 1 at st->task_version takes the edit (command, name and labels shown as edited);
    // an edit from another version is stale.
    [=](edit_atom, task_edit& e) -> caf::result<task_change> {
      std::lock_guard<std::mutex> guard{st->mtx};
      st->edits.push_back(e);
      if (e.id != 1)
        return make_error(ec::not_found);
      if (st->races > 0) {
        --st->races;
        ++st->task_version;
      }
      if (e.expected_version != st->task_version)
        return make_error(ec::version_mismatch, "stale");
      task_change c;
      c.task = v1_task();
      c.task.command = e.task.command;
      c.task.name = e.task.name;
      c.task.labels = e.task.labels;
      c.task.version = ++st->task_version;
      return c;
    },
    [=](kill_atom) {},
    [=](retry_atom) {
      std::unique_lock<std::mutex> guard{st->mtx};
      for (auto& rp : st->held)
        if (rp.pending())
          rp.deliver(record_of(st->scheduled.back(), 5));
    },
  };
}

ts::persistence_actor::behavior_type
fake_persistence(std::shared_ptr<fake_coordinator_state> st) {
  using namespace ts;
  return {
    [](schedule_atom, new_task&) -> caf::result<task_record> {
      return make_error(ec::storage_failure);
    },
    [](caf::get_atom, task_id id) -> caf::result<task_view> {
      if (id == 1) {
        task_view v;
        v.id = 1;
        v.command = "whoami";
        v.due = example;
        v.created_at = example - 1000;
        v.status = task_status::success;
        v.run = 11;
        v.exit_code = 0;
        v.output = "root\n";
        v.started_at = example;
        v.finished_at = example + 20;
        return v;
      }
      if (id == 3) {
        task_view v;
        v.id = 3;
        v.command = "sleep 100";
        v.due = example;
        v.created_at = example;
        v.status = task_status::failure;
        v.run = 12;
        v.reason = run_reason::signal;
        v.signal = SIGKILL;
        v.started_at = example;
        v.finished_at = example + 5;
        return v;
      }
      return make_error(ec::not_found);
    },
    [](claim_atom, task_id, millis) -> caf::result<claim> { return make_error(ec::not_found); },
    [](unclaim_atom, run_id) { return caf::ok_atom::value; },
    [](started_atom, process_start&) {},
    [](finished_atom, run_outcome&) { return caf::ok_atom::value; },
    [](append_atom, run_id, int64_t, std::string&) {},
    [=](task_atom, task_id id, int64_t) -> caf::result<task_info> {
      if (id != 1)
        return make_error(ec::not_found);
      auto t = v1_task();
      std::lock_guard<std::mutex> guard{st->mtx};
      t.version = st->task_version;
      return t;
    },
    [](list_atom, task_filter& f) -> caf::result<task_page> {
      // Two tasks (ids 2 and 1); the first page of one has a cursor at 2.
      task_page p;
      for (task_id id : {task_id{2}, task_id{1}}) {
        if (f.after && id >= *f.after)
          continue;
        auto t = v1_task();
        t.id = id;
        p.items.push_back(t);
        if (static_cast<int32_t>(p.items.size()) == f.limit) {
          if (id > 1)
            p.next = id;
          break;
        }
      }
      return p;
    },
    [](list_atom, run_filter& f) -> caf::result<run_page> {
      run_page p;
      if (!f.task || *f.task == 1)
        p.items.push_back(*v1_task().latest_run);
      return p;
    },
    [](run_atom, run_id id, int64_t) -> caf::result<run_info> {
      if (id == 11)
        return *v1_task().latest_run;
      return make_error(ec::not_found);
    },
    [](output_atom, run_id id, int64_t offset, int64_t) -> caf::result<output_slice> {
      if (id != 11)
        return make_error(ec::not_found);
      std::string all = "root\n";
      auto from = std::min<int64_t>(offset, static_cast<int64_t>(all.size()));
      return output_slice{11, from, all.substr(static_cast<size_t>(from)),
                          static_cast<int64_t>(all.size()), true};
    },
    [](cancel_atom, task_id, millis, request_key&) -> caf::result<task_change> {
      return make_error(ec::storage_failure);
    },
    [](trigger_atom, task_id, millis, request_key&) -> caf::result<task_change> {
      return make_error(ec::storage_failure);
    },
    [](pause_atom, task_id, millis, request_key&) -> caf::result<task_change> {
      return make_error(ec::storage_failure);
    },
    [](resume_atom, task_id, millis, request_key&) -> caf::result<task_change> {
      return make_error(ec::storage_failure);
    },
    [](edit_atom, task_edit&, millis) -> caf::result<task_change> {
      return make_error(ec::storage_failure);
    },
    [](ping_atom) { return caf::ok_atom::value; },
    [](flush_atom) {},
    [](retry_atom) {},
  };
}

struct test_config : caf::actor_system_config {
  test_config() {
    ts::register_types(*this);
  }
};

/// An actor system with fakes, the real gateway, and the real server on 127.0.0.1:0.
struct fixture {
  explicit fixture(std::optional<std::string> token = std::nullopt,
                   caf::timespan gateway_timeout = 5s, size_t max_in_flight = 4096) {
    coord_state = std::make_shared<fake_coordinator_state>();
    coordinator = sys.spawn(fake_coordinator, coord_state);
    persistence = sys.spawn(fake_persistence, coord_state);
    gateway = ts::spawn_gateway(sys, coordinator, persistence, gateway_timeout);
    ts::server_options opts;
    opts.bind = "127.0.0.1";
    opts.port = 0;
    if (token) {
      auto set = ts::parse_token_file(*token);
      REQUIRE(set);
      opts.tokens = std::make_shared<ts::token_holder>(std::make_shared<const ts::token_set>(*set));
    }
    opts.threads = 2;
    opts.max_in_flight = max_in_flight;
    auto s = ts::start_http_server(opts, gateway);
    REQUIRE(s);
    server = std::move(*s);
  }

  ~fixture() {
    server->stop();
    {
      // Promises still held would answer nobody; drop them before the actors go.
      std::lock_guard<std::mutex> guard{coord_state->mtx};
      coord_state->held.clear();
    }
    caf::anon_send_exit(gateway, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(coordinator, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(persistence, caf::exit_reason::user_shutdown);
  }

  uint16_t port() const {
    return server->port();
  }

  test_config cfg;
  caf::actor_system sys{cfg};
  std::shared_ptr<fake_coordinator_state> coord_state;
  ts::coordinator_actor coordinator;
  ts::persistence_actor persistence;
  caf::actor gateway;
  std::unique_ptr<ts::http_server> server;
};

} // namespace

TEST_CASE("server: binds port 0 to a real port", "[server]") {
  fixture f;
  REQUIRE(f.port() != 0);
  client c{f.port()};
  CHECK(c.exchange(get("/status?id=1")).status == 200);
}

TEST_CASE("server: beyond --max-in-flight a request is shed with 503 overloaded, probes are not",
          "[server]") {
  fixture f{std::nullopt, 5s, 2};
  // Two requests the fake coordinator never answers: both in flight from now on.
  client slow1{f.port()}, slow2{f.port()};
  REQUIRE(slow1.send_bytes(schedule("slow")) == "");
  REQUIRE(slow2.send_bytes(schedule("slow")) == "");
  {
    std::unique_lock<std::mutex> guard{f.coord_state->mtx};
    for (int i = 0; i < 500 && f.coord_state->held.size() < 2; ++i) {
      guard.unlock();
      std::this_thread::sleep_for(10ms);
      guard.lock();
    }
    REQUIRE(f.coord_state->held.size() == 2);
  }
  client c{f.port()};
  auto r = c.exchange(get("/status?id=1"));
  check_json_error(r, 503, "overloaded");
  CHECK(r.header("Retry-After") == "1");
  // Shed with the connection kept: a retry costs no reconnect.
  CHECK(r.header("Connection") != "close");
  // Shed requests hold no slot, however many: the bound is still two, not two minus them.
  for (int i = 0; i < 20; ++i)
    check_json_error(c.exchange(schedule("fine")), 503, "overloaded");
  CHECK(c.exchange(get("/healthz")).status == 200);  // same connection; probes are not shed
  client probe{f.port()};
  CHECK(probe.exchange(get("/healthz")).status == 200);
  // Once a slot frees, the next request is admitted on the connection that was shed.
  caf::anon_send(f.coordinator, ts::retry_atom::value);  // the fake answers what it held
  CHECK(slow1.read_response().status == 201);
  CHECK(slow2.read_response().status == 201);
  auto admitted = c.exchange(get("/status?id=1"));
  CHECK(admitted.status == 200);
}

TEST_CASE("server: a busy port is an error, not an exception", "[server]") {
  fixture f;
  ts::server_options opts;
  opts.bind = "127.0.0.1";
  opts.port = f.port();
  // RESTinio sets SO_REUSEADDR, which does not allow two listeners on one port.
  auto second = ts::start_http_server(opts, f.gateway);
  CHECK_FALSE(second);
  opts.port = 0;
  opts.bind = "not-an-address";
  CHECK_FALSE(ts::start_http_server(opts, f.gateway));
}

TEST_CASE("server: schedule and status over HTTP", "[server]") {
  fixture f;
  client c{f.port()};
  SECTION("the README's curl example") {
    auto res = c.exchange(post(R"({"task":"whoami", "time":"2024-09-22 17:00:00"})",
                               "Content-Type: application/json\r\n"));
    CHECK(res.status == 201);
    CHECK(res.header("location") == "/status?id=1");
    CHECK(res.header("content-type") == "application/json");
    auto j = res.json();
    CHECK(j["id"] == 1);
    CHECK(j["task"] == "whoami");
    CHECK(j["status"] == "pending");
    CHECK(j["time"].get<std::string>().size() == 24);
    // What the coordinator got: validated, with created_at close to now.
    std::lock_guard<std::mutex> guard{f.coord_state->mtx};
    REQUIRE(f.coord_state->scheduled.size() == 1);
    auto& t = f.coord_state->scheduled[0];
    CHECK(t.command == "whoami");
    CHECK(t.request_hash == api::request_digest("whoami", "2024-09-22 17:00:00"));
    auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    CHECK(std::abs(wall - t.created_at) < 60000);
  }
  SECTION("curl -d without a content type (form-urlencoded) is read as JSON") {
    auto res = c.exchange(post(example_body,
                               "Content-Type: application/x-www-form-urlencoded\r\n"));
    CHECK(res.status == 201);
  }
  SECTION("keep-alive: several requests on one connection") {
    for (int i = 0; i < 5; ++i) {
      CHECK(c.exchange(schedule("echo " + std::to_string(i))).status == 201);
      CHECK(c.exchange(get("/status?id=1")).status == 200);
    }
  }
  SECTION("status of a finished task") {
    auto res = c.exchange(get("/status?id=1"));
    CHECK(res.status == 200);
    CHECK(res.header("content-type") == "application/json");
    auto j = res.json();
    CHECK(j["id"] == 1);
    CHECK(j["status"] == "success");
    CHECK(j["exit_code"] == 0);
    CHECK(j["signal"].is_null());
    CHECK(j["reason"].is_null());
    CHECK(j["output"] == "root\n");
    CHECK(j["output_truncated"] == false);
    CHECK(j["started_at"] == "2024-09-22T17:00:00.000Z");
    CHECK(j["finished_at"] == "2024-09-22T17:00:00.020Z");
    CHECK(j["run_id"] == 11);
  }
  SECTION("status of a killed task") {
    auto j = c.exchange(get("/status?id=3")).json();
    CHECK(j["signal"] == "SIGKILL");
    CHECK(j["reason"] == "signal");
  }
  SECTION("idempotent replay") {
    auto res = c.exchange(schedule("replay", "Idempotency-Key: abc\r\n"));
    CHECK(res.status == 201);
    CHECK(res.header("idempotent-replayed") == "true");
    CHECK(res.header("location") == "/status?id=9");
    std::lock_guard<std::mutex> guard{f.coord_state->mtx};
    REQUIRE(f.coord_state->scheduled.size() == 1);
    CHECK(f.coord_state->scheduled[0].idempotency_key == "abc");
  }
}

TEST_CASE("server: the v1 routes through the gateway", "[server][v1]") {
  fixture f;
  client c{f.port()};
  SECTION("a task, a run, its output, pages") {
    auto t = c.exchange(get("/v1/tasks/1"));
    INFO(t.describe());
    CHECK(t.status == 200);
    auto j = t.json();
    CHECK(j["name"] == "who");
    CHECK(j["labels"]["team"] == "ops");
    CHECK(j["state"] == "completed");
    CHECK(j["latest_run"]["id"] == 11);
    auto r = c.exchange(get("/v1/runs/11"));
    CHECK(r.status == 200);
    CHECK(r.json()["output"] == "root\n");
    auto o = c.exchange(get("/v1/runs/11/output?offset=2"));
    CHECK(o.status == 200);
    CHECK(o.body == "ot\n");
    CHECK(o.header("x-output-complete") == "true");
    CHECK(o.header("content-type") == "text/plain; charset=utf-8");
    auto p1 = c.exchange(get("/v1/tasks?limit=1")).json();
    REQUIRE(p1["items"].size() == 1);
    CHECK(p1["items"][0]["id"] == 2);
    REQUIRE(p1["next_cursor"].is_string());
    auto p2 = c.exchange(get("/v1/tasks?limit=1&cursor=" + p1["next_cursor"].get<std::string>()))
                .json();
    REQUIRE(p2["items"].size() == 1);
    CHECK(p2["items"][0]["id"] == 1);
    CHECK(p2["next_cursor"].is_null());
    auto runs = c.exchange(get("/v1/tasks/1/runs")).json();
    CHECK(runs["items"].size() == 1);
    CHECK(c.exchange(get("/v1/runs")).json()["items"].size() == 1);
  }
  SECTION("missing things say which") {
    auto t = c.exchange(get("/v1/tasks/5"));
    check_json_error(t, 404, "not_found");
    CHECK(t.json()["error"]["message"] == "no task with this id");
    auto r = c.exchange(get("/v1/runs/5"));
    check_json_error(r, 404, "not_found");
    CHECK(r.json()["error"]["message"] == "no run with this id");
    check_json_error(c.exchange(get("/v1/runs/5/output")), 404, "not_found");
    // An empty page of a task that does not exist.
    check_json_error(c.exchange(get("/v1/tasks/5/runs")), 404, "not_found");
  }
  SECTION("create reads the task back") {
    auto res = c.exchange(post(R"({"command":"whoami"})", "Content-Type: application/json\r\n",
                               "/v1/tasks"));
    INFO(res.describe());
    CHECK(res.status == 201);
    CHECK(res.header("location") == "/v1/tasks/1");
    CHECK(res.json()["command"] == "whoami");
    std::lock_guard<std::mutex> guard{f.coord_state->mtx};
    REQUIRE(f.coord_state->scheduled.size() == 1);
    CHECK(f.coord_state->scheduled[0].command == "whoami");
  }
  SECTION("cancel and trigger go to the coordinator") {
    auto res = c.exchange(post("", "Idempotency-Key: k\r\n", "/v1/tasks/1/cancel"));
    CHECK(res.status == 200);
    CHECK(res.json()["state"] == "cancelled");
    CHECK(res.header("idempotent-replayed") == "true");
    check_json_error(c.exchange(post("", "", "/v1/tasks/2/cancel")), 404, "not_found");
    auto busy = c.exchange(post("{}", "Content-Type: application/json\r\n",
                                "/v1/tasks/1/trigger"));
    check_json_error(busy, 409, "invalid_state");
    CHECK(busy.json()["error"]["message"] == "task 1: a run of the task is in progress");
  }
  SECTION("pause and resume go to the coordinator") {
    auto paused = c.exchange(post("", "Idempotency-Key: p\r\n", "/v1/tasks/1/pause"));
    INFO(paused.describe());
    CHECK(paused.status == 200);
    CHECK(paused.json()["state"] == "paused");
    CHECK(paused.json()["paused_at"] == ts::format_time(example + 60000));
    CHECK(paused.json()["next_run_at"].is_null());
    CHECK(paused.header("idempotent-replayed") == "true");
    auto resumed = c.exchange(post("{}", "Content-Type: application/json\r\n",
                                   "/v1/tasks/1/resume"));
    CHECK(resumed.status == 200);
    CHECK(resumed.json()["state"] == "active");
    CHECK(resumed.json()["paused_at"].is_null());
    CHECK_FALSE(resumed.has_header("idempotent-replayed"));
    check_json_error(c.exchange(post("", "", "/v1/tasks/3/resume")), 409, "invalid_state");
    check_json_error(c.exchange(post("", "", "/v1/tasks/3/pause")), 409, "invalid_state");
    check_json_error(c.exchange(post("", "", "/v1/tasks/2/pause")), 404, "not_found");
    check_json_error(c.exchange(post(R"({"x":1})", "Content-Type: application/json\r\n",
                                     "/v1/tasks/1/resume")),
                     400, "unknown_field");
  }
}

TEST_CASE("server: PATCH /v1/tasks/{id} edits through the gateway, under If-Match",
          "[server][v1][edit]") {
  fixture f;
  client c{f.port()};
  auto patch = [&](const std::string& body, const std::string& headers = {},
                   const std::string& path = "/v1/tasks/1") {
    return c.exchange("PATCH " + path + " HTTP/1.1\r\nHost: localhost\r\n" + headers
                      + "Content-Type: application/merge-patch+json\r\nContent-Length: "
                      + std::to_string(body.size()) + "\r\n\r\n" + body);
  };
  auto edits = [&] {
    std::lock_guard<std::mutex> guard{f.coord_state->mtx};
    return f.coord_state->edits;
  };
  auto racing = [&](int n) {
    std::lock_guard<std::mutex> guard{f.coord_state->mtx};
    f.coord_state->races = n;
  };
  SECTION("GET and PATCH send the version as the ETag") {
    auto got = c.exchange(get("/v1/tasks/1"));
    CHECK(got.header("etag") == "\"3\"");
    auto res = patch(R"({"command":"id -u","labels":{"team":null,"tier":"1"}})");
    INFO(res.describe());
    CHECK(res.status == 200);
    CHECK(res.header("etag") == "\"4\"");
    auto j = res.json();
    CHECK(j["version"] == 4);
    CHECK(j["command"] == "id -u");
    CHECK(j["labels"] == json({{"tier", "1"}}));
    auto sent = edits();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].id == 1);
    CHECK(sent[0].expected_version == 3);
    CHECK(sent[0].task.name == "who");
    CHECK_FALSE(sent[0].schedule_changed);
    CHECK(c.exchange(get("/v1/tasks/1")).header("etag") == "\"4\"");
  }
  SECTION("If-Match: a listed version, *, a stale one, a weak one") {
    CHECK(patch(R"({"name":"a"})", "If-Match: \"3\"\r\n").status == 200);
    CHECK(patch(R"({"name":"b"})", "If-Match: \"1\", \"4\"\r\n").status == 200);
    CHECK(patch(R"({"name":"c"})", "If-Match: *\r\n").status == 200);
    CHECK(edits().size() == 3);
    auto stale = patch(R"({"name":"d"})", "If-Match: \"3\"\r\n");
    check_json_error(stale, 412, "version_mismatch");
    CHECK(stale.json()["error"]["message"] == "the task is at version 6, not one that If-Match "
                                               "names");
    check_json_error(patch(R"({"name":"d"})", "If-Match: W/\"6\"\r\n"), 412,
                     "version_mismatch");
    // Refused before the coordinator was asked.
    CHECK(edits().size() == 3);
    check_json_error(patch(R"({"name":"d"})", "If-Match: 6\r\n"), 400, "invalid_field");
  }
  SECTION("without If-Match a lost race is tried again from a fresh read") {
    racing(2);
    auto res = patch(R"({"command":"true"})");
    INFO(res.describe());
    CHECK(res.status == 200);
    auto sent = edits();
    REQUIRE(sent.size() == 3);
    CHECK(sent[0].expected_version == 3);
    CHECK(sent[1].expected_version == 4);
    CHECK(sent[2].expected_version == 5);
    CHECK(res.header("etag") == "\"6\"");
    // Four lost races: 409 edit_conflict, after the first try and three more.
    racing(4);
    check_json_error(patch(R"({"command":"true"})"), 409, "edit_conflict");
    CHECK(edits().size() == 3 + 4);
  }
  SECTION("with If-Match a lost race is a 412 at once") {
    racing(1);
    auto res = patch(R"({"command":"true"})", "If-Match: \"3\"\r\n");
    check_json_error(res, 412, "version_mismatch");
    CHECK(edits().size() == 1);
  }
  SECTION("refusals: no such task, a bad patch, a wrong type") {
    check_json_error(patch(R"({"name":"x"})", "", "/v1/tasks/2"), 404, "not_found");
    check_json_error(patch(R"({"id":2})"), 400, "unknown_field");
    check_json_error(patch(R"({"command":null})"), 400, "invalid_field");
    check_json_error(patch("[1]"), 400, "invalid_json");
    auto typed = c.exchange("PATCH /v1/tasks/1 HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain"
                            "\r\nContent-Length: 2\r\n\r\n{}");
    check_json_error(typed, 415, "unsupported_media_type");
    CHECK(typed.header("accept-patch") == "application/merge-patch+json, application/json");
    CHECK(edits().empty());
  }
}

TEST_CASE("server: every error row over HTTP", "[server]") {
  fixture f;
  client c{f.port()};
  check_json_error(c.exchange(post("nope", "Content-Type: application/json\r\n")), 400,
                   "invalid_json");
  check_json_error(c.exchange(post(R"({"task":"ls"})")), 400, "invalid_field");
  check_json_error(c.exchange(post(R"({"task":"ls","time":"2024-02-30 10:00:00"})")), 400,
                   "invalid_time");
  check_json_error(c.exchange(schedule("   ")), 400, "invalid_task");
  check_json_error(c.exchange(get("/status?id=0")), 400, "invalid_id");
  check_json_error(c.exchange(get("/status")), 400, "invalid_id");
  check_json_error(c.exchange(get("/status?id=2")), 404, "not_found");
  check_json_error(c.exchange(get("/nope")), 404, "not_found");
  auto wrong = c.exchange(post(example_body, "", "/status"));
  check_json_error(wrong, 405, "method_not_allowed");
  CHECK(wrong.header("allow") == "GET");
  wrong = c.exchange(get("/taskschedulizer"));
  check_json_error(wrong, 405, "method_not_allowed");
  CHECK(wrong.header("allow") == "POST");
  // HEAD gets its 405 without a body, so the next response on the connection is intact;
  // on a GET route it is the GET's answer without the body.
  auto head = c.exchange("HEAD /taskschedulizer HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(head.status == 405);
  CHECK(head.header("allow") == "POST");
  CHECK(head.body.empty());
  head = c.exchange("HEAD /status?id=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(c.exchange(get("/status?id=1")).status == 200);
  check_json_error(c.exchange(schedule("conflict", "Idempotency-Key: k\r\n")), 409,
                   "idempotency_conflict");
  check_json_error(c.exchange(post(std::string(api::max_body_bytes + 1, ' '))), 413,
                   "payload_too_large");
  check_json_error(c.exchange(post(example_body, "Content-Type: text/plain\r\n")), 415,
                   "unsupported_media_type");
  auto outage = c.exchange(schedule("outage"));
  check_json_error(outage, 503, "unavailable");
  CHECK(!outage.header("retry-after").empty());
  check_json_error(c.exchange(schedule("stopping")), 503, "unavailable");
  auto boom = c.exchange(schedule("boom"));
  check_json_error(boom, 500, "internal_error");
  CHECK(boom.body.find("secret") == std::string::npos);
  // The connection survived all of them.
  CHECK(c.exchange(get("/status?id=1")).status == 200);
}

TEST_CASE("server: an actor that does not answer gives 503 after the timeout", "[server]") {
  fixture f{std::nullopt, 300ms};
  client c{f.port()};
  auto res = c.exchange(schedule("slow"));
  check_json_error(res, 503, "unavailable");
  CHECK(!res.header("retry-after").empty());
}

TEST_CASE("server: a timed-out request is answered once while others pass it", "[server]") {
  fixture f{std::nullopt, 300ms};
  client slow{f.port()};
  client quick{f.port()};
  auto start = std::chrono::steady_clock::now();
  REQUIRE(slow.send_bytes(schedule("slow")) == "");
  // Requests behind the waiting one are answered at once, not after its deadline.
  for (int i = 0; i < 3; ++i)
    CHECK(quick.exchange(schedule("fine")).status == 201);
  CHECK(std::chrono::steady_clock::now() - start < 250ms);
  auto res = slow.read_response();
  auto waited = std::chrono::steady_clock::now() - start;
  check_json_error(res, 503, "unavailable");
  CHECK(waited >= 250ms);
  CHECK(waited < 5s);
  // The late answer must reach nobody: a second response would break the keep-alive
  // framing of the next exchange on the same connection.
  caf::anon_send(f.coordinator, ts::retry_atom::value);
  std::this_thread::sleep_for(100ms);
  auto next = slow.exchange(get("/status?id=1"));
  CHECK(next.status == 200);
  CHECK(next.body.find("\"id\":1") != std::string::npos);
}

TEST_CASE("server: a body over the hard cap is refused without a crash", "[server]") {
  fixture f;
  {
    client c{f.port()};
    // 9 MiB announced: refused from the head (the guarded socket), before the body.
    std::string head = "POST /taskschedulizer HTTP/1.1\r\nHost: x\r\n"
                       "Content-Type: application/json\r\nContent-Length: 9437184\r\n\r\n";
    REQUIRE(c.send_bytes(head) == "");
    std::string chunk(64 * 1024, 'a');
    bool refused = false;
    for (int i = 0; i < 144 && !refused; ++i)
      refused = !c.send_bytes(chunk).empty();
    if (!refused) {
      auto res = c.read_response();
      CHECK(res.status == 413);
      CHECK(res.header("Connection") == "close");
    }
  }
  // And the server still serves.
  client c{f.port()};
  CHECK(c.exchange(get("/status?id=1")).status == 200);
}

TEST_CASE("server: bearer token", "[server]") {
  fixture f{"s3cret"};
  client c{f.port()};
  for (std::string auth : {std::string{}, std::string{"Authorization: Bearer wrong\r\n"},
                           std::string{"Authorization: Basic s3cret\r\n"},
                           std::string{"Authorization: Bearer s3cre\r\n"}}) {
    INFO(auth);
    auto res = c.exchange(get("/status?id=1", auth));
    check_json_error(res, 401, "unauthorized");
    CHECK(res.header("www-authenticate") == "Bearer");
    check_json_error(c.exchange(schedule("whoami", auth)), 401, "unauthorized");
    check_json_error(c.exchange(get("/nope", auth)), 401, "unauthorized");
  }
  auto ok = "Authorization: Bearer s3cret\r\n";
  CHECK(c.exchange(get("/status?id=1", ok)).status == 200);
  CHECK(c.exchange(schedule("whoami", ok)).status == 201);
  check_json_error(c.exchange(get("/nope", ok)), 404, "not_found");
}

TEST_CASE("server: an empty token set is refused, never taken for no token", "[server]") {
  test_config cfg;
  caf::actor_system sys{cfg};
  caf::actor gateway = sys.spawn([] { return caf::behavior{[](int) {}}; });
  ts::server_options opts;
  opts.bind = "127.0.0.1";
  opts.port = 0;
  opts.tokens = std::make_shared<ts::token_holder>(std::make_shared<const ts::token_set>());
  auto s = ts::start_http_server(opts, gateway);
  REQUIRE_FALSE(s);
  CHECK(s.error() == ts::ec::invalid_argument);
  opts.tokens = std::make_shared<ts::token_holder>(nullptr);
  CHECK_FALSE(ts::start_http_server(opts, gateway));
  caf::anon_send_exit(gateway, caf::exit_reason::user_shutdown);
}

TEST_CASE("server: without a token no header is needed", "[server]") {
  fixture f;
  client c{f.port()};
  CHECK(c.exchange(get("/status?id=1", "Authorization: Bearer anything\r\n")).status == 200);
  CHECK(c.exchange(get("/status?id=1")).status == 200);
}

TEST_CASE("server: shutdown rejects new requests and finishes those in flight",
          "[server]") {
  fixture f;
  client busy{f.port()};
  REQUIRE(busy.send_bytes(schedule("delayed")) == "");
  {
    std::unique_lock<std::mutex> guard{f.coord_state->mtx};
    REQUIRE(f.coord_state->cv.wait_for(guard, 10s, [&] { return f.coord_state->delayed_seen; }));
  }
  f.server->reject_new_requests();
  client late{f.port()};
  auto rejected = late.exchange(schedule("whoami"));
  check_json_error(rejected, 503, "unavailable");
  CHECK(rejected.header("connection") == "close");
  // stop() returns only once the request in flight has its answer written.
  f.server->stop();
  auto res = busy.read_response();
  CHECK(res.status == 201);
  CHECK(res.header("location") == "/status?id=5");
  // Nothing listens any more: the connect itself fails.
  client after{f.port()};
  CHECK(after.send_bytes(get("/status?id=1")).rfind("connect: ", 0) == 0);
}

TEST_CASE("server: a request whose gateway is gone still gets an answer", "[server]") {
  fixture f;
  caf::anon_send_exit(f.gateway, caf::exit_reason::user_shutdown);
  client c{f.port()};
  // The message to the dead gateway is dropped with its responder, which answers 503.
  bool answered = false;
  for (int i = 0; i < 100 && !answered; ++i) {
    auto res = c.exchange(get("/status?id=1"));
    REQUIRE(res.status != 0);
    if (res.status == 503) {
      answered = true;
      check_json_error(res, 503, "unavailable");
    } else {
      std::this_thread::sleep_for(20ms);
    }
  }
  CHECK(answered);
}

TEST_CASE("server: concurrent clients", "[server]") {
  fixture f;
  std::vector<std::future<int>> results;
  for (int i = 0; i < 8; ++i)
    results.push_back(std::async(std::launch::async, [&f] {
      client c{f.port()};
      int ok = 0;
      for (int k = 0; k < 25; ++k)
        ok += c.exchange(schedule("echo hi")).status == 201;
      return ok;
    }));
  int total = 0;
  for (auto& r : results)
    total += r.get();
  CHECK(total == 200);
}

// The gateway with a fake coordinator and persistence, under clients on every kind of
// route at once: the gateway's deadline queue and reply_once, the responders and the
// in-flight count are used from the RESTinio threads and the actors' threads together.
TEST_CASE("server: concurrent clients on every route through the gateway", "[server][threads]") {
  fixture f;
  const std::string edit = R"({"command":"id"})";
  const std::string patch = "PATCH /v1/tasks/1 HTTP/1.1\r\nHost: localhost\r\n"
                            "Content-Type: application/merge-patch+json\r\nIf-Match: *\r\n"
                            "Content-Length: " + std::to_string(edit.size()) + "\r\n\r\n" + edit;
  // Catch's macros are not thread-safe: the clients keep what went wrong for the main thread.
  std::mutex mtx;
  std::vector<std::string> wrong;
  std::vector<std::future<int>> results;
  for (int i = 0; i < 6; ++i)
    results.push_back(std::async(std::launch::async, [&f, &patch, &mtx, &wrong, i] {
      client c{f.port()};
      int ok = 0;
      for (int k = 0; k < 12; ++k) {
        auto expect = [&](const std::string& bytes, std::initializer_list<int> statuses) {
          auto res = c.exchange(bytes);
          for (int s : statuses)
            if (res.status == s)
              return ++ok, void();
          std::lock_guard<std::mutex> guard{mtx};
          wrong.push_back(res.describe());
        };
        switch ((i + k) % 8) {
          case 0: expect(schedule("echo " + std::to_string(k)), {201}); break;
          case 1: expect(get("/status?id=1"), {200}); break;
          case 2: expect(get("/v1/tasks?limit=1"), {200}); break;
          case 3: expect(get("/v1/tasks/1"), {200}); break;
          case 4: expect(post("", {}, "/v1/tasks/1/cancel"), {200}); break;
          // Edits race each other: a lost race is tried again, and may end as a conflict.
          case 5: expect(patch, {200, 409}); break;
          case 6: expect(get("/readyz"), {200}); break;
          default: expect(get("/v1/runs/11/output"), {200}); break;
        }
      }
      return ok;
    }));
  int total = 0;
  for (auto& r : results)
    total += r.get();
  for (auto& w : wrong)
    UNSCOPED_INFO(w);
  CHECK(total == 6 * 12);
}
