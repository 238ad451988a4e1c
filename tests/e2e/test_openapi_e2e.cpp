// The real binary against its OpenAPI document (http/openapi.json): every v1 route driven
// through its successes and its errors (create, get, edit, list with cursors, cancel,
// trigger, runs, a run, its output, 400 unknown_field and friends, 401, 404, 405, 409, 412,
// 413, 415),
// the legacy and operational routes, every path and method the document lists sent over
// real HTTP (so that server.cpp's dispatch is covered, not only api::route), schedule
// previews and a task's occurrences, and the README's API examples run as written; every
// response is validated against the document's schemas in one run of
// tests/e2e/validate_responses.py (response_log).
#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/response_log.hpp"
#include "tests/e2e/service.hpp"

using namespace ts::e2e;
using nlohmann::json;

namespace {

const std::string future = "2099-01-01T00:00:00Z";

std::string upper(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return s;
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

/// The response's status must be `status`; returns its JSON body.
json expect(const http_response& r, int status) {
  INFO(r.describe());
  REQUIRE(r.ok());
  REQUIRE(r.status == status);
  return r.json();
}

/// An error with this status and code (and field, when given).
void expect_error(const http_response& r, int status, const std::string& code,
                  const char* field = nullptr) {
  INFO(r.describe());
  REQUIRE(r.ok());
  CHECK(r.status == status);
  CHECK(r.error_code() == code);
  if (field != nullptr) {
    auto j = r.json();
    CHECK((j.is_object() && j["error"].is_object() && j["error"].value("field", "") == field));
  }
}

std::string path_of(int64_t id, const char* suffix = "") {
  return "/v1/tasks/" + std::to_string(id) + suffix;
}

/// Polls GET /v1/tasks/{id} until `pred` holds on the task (the last answer is logged).
json poll_task(response_log& log, const http_client& client, int64_t id,
               const std::function<bool(const json&)>& pred, const service& svc,
               std::chrono::milliseconds within = 30s) {
  json last;
  std::string raw;
  bool met = wait_until(
    [&] {
      auto r = client.get(path_of(id));
      raw = r.describe();
      if (!r.ok() || r.status != 200)
        return false;
      last = r.json();
      return pred(last);
    },
    within);
  INFO("task " << id << ": " << raw);
  INFO(svc.diagnostics());
  REQUIRE(met);
  log.get(client, path_of(id));
  return last;
}

bool run_finished(const json& task) {
  return task.is_object() && task["latest_run"].is_object()
         && !task["latest_run"]["finished_at"].is_null();
}

bool run_running(const json& task) {
  return task.is_object() && task["latest_run"].is_object()
         && task["latest_run"]["status"] == "running";
}

/// Every page of a list, following next_cursor; the ids in order.
std::vector<int64_t> all_pages(response_log& log, const http_client& client,
                               const std::string& target) {
  std::vector<int64_t> ids;
  std::string cursor;
  for (int page = 0; page < 100; ++page) {
    auto sep = target.find('?') == std::string::npos ? "?" : "&";
    auto page_target = cursor.empty() ? target : target + sep + "cursor=" + cursor;
    auto r = log.get(client, page_target);
    auto j = expect(r, 200);
    REQUIRE(j["items"].is_array());
    for (auto& item : j["items"])
      ids.push_back(item["id"].get<int64_t>());
    if (j["next_cursor"].is_null())
      return ids;
    REQUIRE(j["next_cursor"].is_string());
    cursor = j["next_cursor"].get<std::string>();
  }
  FAIL("more than 100 pages in " << target);
  return ids;
}

/// The example of a parameter as it goes into a URL.
std::string example_text(const json& param) {
  REQUIRE(param.contains("example"));
  auto& ex = param["example"];
  return ex.is_string() ? ex.get<std::string>() : ex.dump();
}

const json& deref(const json& node) {
  if (node.is_object() && node.contains("$ref"))
    return openapi_document().at(json::json_pointer(node["$ref"].get<std::string>().substr(1)));
  return node;
}

/// A concrete request for a documented operation, from the document's examples (as
/// tests/http/test_openapi.cpp builds them for api::route).
http_request build(const std::string& path, const std::string& method) {
  const json& item = openapi_document().at("paths").at(path);
  const json& op = item.at(lower(method));
  http_request req;
  req.method = method;
  std::string target = path;
  std::string query;
  for (auto* list : {&item, &op}) {
    if (!list->contains("parameters"))
      continue;
    for (auto& ref : (*list)["parameters"]) {
      auto& p = deref(ref);
      auto name = p.at("name").get<std::string>();
      if (p["in"] == "path") {
        auto slot = target.find("{" + name + "}");
        REQUIRE(slot != std::string::npos);
        target.replace(slot, name.size() + 2, example_text(p));
      } else if (p["in"] == "query" && p.value("required", false)) {
        query += (query.empty() ? "?" : "&") + name + "=" + example_text(p);
      }
    }
  }
  req.target = target + query;
  if (op.contains("requestBody")) {
    auto& media = deref(op["requestBody"]).at("content").at("application/json");
    REQUIRE(media.contains("example"));
    req.body = media["example"].dump();
    req.headers.emplace_back("Content-Type", "application/json");
  }
  return req;
}

/// Path template -> its methods (upper case), as the document lists them.
std::map<std::string, std::set<std::string>> documented() {
  std::map<std::string, std::set<std::string>> out;
  for (auto& [path, item] : openapi_document().at("paths").items())
    for (auto& [key, op] : item.items())
      if (std::set<std::string>{"get", "put", "post", "delete", "patch"}.count(key))
        out[path].insert(upper(key));
  return out;
}

std::set<std::string> split_allow(const std::string& allow) {
  std::set<std::string> out;
  std::istringstream in{allow};
  std::string word;
  while (std::getline(in, word, ',')) {
    auto b = word.find_first_not_of(' ');
    auto e = word.find_last_not_of(' ');
    if (b != std::string::npos)
      out.insert(word.substr(b, e - b + 1));
  }
  return out;
}

} // namespace

TEST_CASE("openapi e2e: every v1 route's answers match the document", "[e2e][openapi]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  auto& svc = f.svc;
  REQUIRE(svc.start() == "");
  auto client = svc.client();
  INFO(svc.diagnostics());
  response_log log;

  // -- the document itself --------------------------------------------------------------------
  {
    auto r = log.get(client, "/v1/openapi.json");
    expect(r, 200);
    CHECK(r.header("Content-Type").rfind("application/json", 0) == 0);
    CHECK(r.body == read_file(source_dir() + "/http/openapi.json"));
    expect_error(log.get(client, "/v1/openapi.json?x=1"), 400, "unknown_field");
  }

  // -- create ----------------------------------------------------------------------------------
  json hello_body{{"command", "printf 'hello\\n'"},
                  {"name", "first"},
                  {"labels", {{"team", "ops"}, {"tier", "1"}}}};
  auto hello = log.post(client, "/v1/tasks", hello_body.dump());
  auto t1 = expect(hello, 201);
  int64_t id1 = t1["id"].get<int64_t>();
  CHECK(hello.header("Location") == path_of(id1));
  CHECK(t1["name"] == "first");
  CHECK(t1["labels"] == json{{"team", "ops"}, {"tier", "1"}});
  CHECK(t1["output_limit_bytes"] == 65536);
  CHECK(t1["version"].get<int64_t>() >= 1);

  json later_body{{"command", "true"},
                  {"schedule", {{"at", "2099-01-01 00:00:00"}, {"time_zone", "Europe/Berlin"}}},
                  {"output_limit_bytes", 1024},
                  {"name", nullptr}};
  auto later = log.post(client, "/v1/tasks", later_body.dump());
  auto t2 = expect(later, 201);
  int64_t id2 = t2["id"].get<int64_t>();
  CHECK(t2["schedule"]["at"] == "2098-12-31T23:00:00.000Z");
  CHECK(t2["schedule"]["time_zone"] == "Europe/Berlin");
  CHECK(t2["output_limit_bytes"] == 1024);
  CHECK(t2["name"].is_null());
  CHECK(t2["next_run_at"] == "2098-12-31T23:00:00.000Z");
  CHECK(t2["latest_run"].is_null());

  auto sleeper = log.post(client, "/v1/tasks", R"({"command":"sleep 30"})");
  int64_t id3 = expect(sleeper, 201)["id"].get<int64_t>();

  // Idempotency: a replay answers as the first time, a different body under the key is 409.
  header_list key{{"Idempotency-Key", "create-once"}};
  auto keyed_body = json{{"command", "true"}, {"schedule", {{"at", future}}}}.dump();
  auto first = log.post(client, "/v1/tasks", keyed_body, key);
  auto replay = log.post(client, "/v1/tasks", keyed_body, key);
  auto j_first = expect(first, 201);
  auto j_replay = expect(replay, 201);
  CHECK(j_replay["id"] == j_first["id"]);
  CHECK(replay.header("Idempotent-Replayed") == "true");
  CHECK_FALSE(first.has_header("Idempotent-Replayed"));
  expect_error(log.post(client, "/v1/tasks", R"({"command":"false"})", key), 409,
               "idempotency_conflict");

  // Refusals of a create.
  expect_error(log.post(client, "/v1/tasks", R"({"command":"true","colour":"red"})"), 400,
               "unknown_field", "colour");
  expect_error(log.post(client, "/v1/tasks", R"({"command":"true","schedule":{"every":"1h"}})"),
               400, "unknown_field", "schedule.every");
  expect_error(log.post(client, "/v1/tasks", R"({"command":"true","schedule":{"at":"soon"}})"),
               400, "invalid_time", "schedule.at");
  expect_error(log.post(client, "/v1/tasks", R"({})"), 400, "invalid_field", "command");
  expect_error(log.post(client, "/v1/tasks", R"({"command":"   "})"), 400, "invalid_field",
               "command");
  expect_error(log.post(client, "/v1/tasks", R"({"command":"true","labels":{"Team":"x"}})"),
               400, "invalid_field");
  expect_error(log.post(client, "/v1/tasks", R"({"command":"true","output_limit_bytes":0})"),
               400, "invalid_field", "output_limit_bytes");
  expect_error(log.post(client, "/v1/tasks", "not json"), 400, "invalid_json");
  expect_error(log.post(client, "/v1/tasks", "[1]"), 400, "invalid_json");
  expect_error(log.post(client, "/v1/tasks", R"({"command":"true"})",
                        {{"Content-Type", "text/plain"}}),
               415, "unsupported_media_type");
  expect_error(log.post(client, "/v1/tasks", R"({"command":"true"})",
                        {{"Idempotency-Key", std::string(256, 'k')}}),
               400, "invalid_field", "Idempotency-Key");
  expect_error(log.post(client, "/v1/tasks",
                        R"({"command":")" + std::string(1024 * 1024, 'x') + R"("})"),
               413, "payload_too_large");

  // -- get -------------------------------------------------------------------------------------
  auto done = poll_task(log, client, id1, run_finished, svc);
  CHECK(done["latest_run"]["status"] == "success");
  CHECK(done["latest_run"]["output"] == "hello\n");
  CHECK(done["latest_run"]["exit_code"] == 0);
  CHECK(done["latest_run"]["trigger"] == "schedule");
  CHECK(done["latest_run"]["task_id"] == id1);
  int64_t run1 = done["latest_run"]["id"].get<int64_t>();
  expect_error(log.get(client, "/v1/tasks/999999"), 404, "not_found");
  expect_error(log.get(client, "/v1/tasks/abc"), 400, "invalid_id");
  expect_error(log.get(client, "/v1/tasks/0"), 400, "invalid_id");
  expect_error(log.get(client, path_of(id1) + "?verbose=1"), 400, "unknown_field");

  // -- list ------------------------------------------------------------------------------------
  {
    auto one_by_one = all_pages(log, client, "/v1/tasks?limit=1");
    auto at_once = all_pages(log, client, "/v1/tasks");
    CHECK(one_by_one == at_once);
    CHECK(one_by_one.size() == 4);
    // Newest first.
    CHECK(std::is_sorted(at_once.rbegin(), at_once.rend()));
    auto ops = all_pages(log, client, "/v1/tasks?label=team:ops&label=tier:1");
    CHECK(ops == std::vector<int64_t>{id1});
    auto named = all_pages(log, client, "/v1/tasks?name_prefix=fir");
    CHECK(named == std::vector<int64_t>{id1});
    auto active = all_pages(log, client, "/v1/tasks?state=active");
    CHECK(std::find(active.begin(), active.end(), id2) != active.end());

    expect_error(log.get(client, "/v1/tasks?colour=red"), 400, "unknown_field", "colour");
    expect_error(log.get(client, "/v1/tasks?limit=0"), 400, "invalid_field", "limit");
    expect_error(log.get(client, "/v1/tasks?limit=501"), 400, "invalid_field", "limit");
    expect_error(log.get(client, "/v1/tasks?state=sleeping"), 400, "invalid_field", "state");
    expect_error(log.get(client, "/v1/tasks?cursor=garbage"), 400, "invalid_cursor", "cursor");
    // A cursor belongs to its list and its filters.
    auto page = expect(log.get(client, "/v1/tasks?limit=1"), 200);
    REQUIRE(page["next_cursor"].is_string());
    auto cursor = page["next_cursor"].get<std::string>();
    expect_error(log.get(client, "/v1/tasks?state=cancelled&cursor=" + cursor), 400,
                 "invalid_cursor");
    expect_error(log.get(client, "/v1/runs?cursor=" + cursor), 400, "invalid_cursor");
  }

  // -- runs ------------------------------------------------------------------------------------
  {
    auto runs = expect(log.get(client, path_of(id1, "/runs")), 200);
    REQUIRE(runs["items"].size() == 1);
    CHECK(runs["items"][0]["id"] == run1);
    CHECK(runs["items"][0]["output"] == "hello\n");
    CHECK(runs["next_cursor"].is_null());
    auto all = all_pages(log, client, "/v1/runs?limit=1");
    CHECK(std::find(all.begin(), all.end(), run1) != all.end());
    auto ok = all_pages(log, client,
                        "/v1/runs?status=success&since=2000-01-01T00:00:00Z"
                        "&until=2099-01-01%2000:00:00");
    CHECK(std::find(ok.begin(), ok.end(), run1) != ok.end());
    auto none = all_pages(log, client, "/v1/runs?until=2000-01-01T00:00:00Z");
    CHECK(none.empty());
    expect(log.get(client, path_of(id2, "/runs")), 200);
    expect_error(log.get(client, "/v1/tasks/999999/runs"), 404, "not_found");
    expect_error(log.get(client, "/v1/tasks/x/runs"), 400, "invalid_id");
    expect_error(log.get(client, "/v1/runs?since=yesterday"), 400, "invalid_time", "since");
    expect_error(log.get(client, "/v1/runs?status=done"), 400, "invalid_field", "status");
    expect_error(log.get(client, "/v1/runs?limit=abc"), 400, "invalid_field", "limit");
    expect_error(log.get(client, "/v1/runs?task=1"), 400, "unknown_field", "task");

    auto run = expect(log.get(client, "/v1/runs/" + std::to_string(run1)), 200);
    CHECK(run["output"] == "hello\n");
    CHECK(run["output_bytes"] == 6);
    CHECK(run["output_truncated"] == false);
    CHECK(run["attempt"].get<int64_t>() >= 1);
    CHECK(run["stop_requested"] == false);
    expect_error(log.get(client, "/v1/runs/999999"), 404, "not_found");
    expect_error(log.get(client, "/v1/runs/-1"), 400, "invalid_id");

    auto out = log.get(client, "/v1/runs/" + std::to_string(run1) + "/output");
    expect(out, 200);
    CHECK(out.body == "hello\n");
    CHECK(out.header("Content-Type") == "text/plain; charset=utf-8");
    CHECK(out.header("X-Output-Complete") == "true");
    CHECK(out.header("X-Output-Offset") == "0");
    CHECK(out.header("X-Output-Next-Offset") == "6");
    auto tail = log.get(client, "/v1/runs/" + std::to_string(run1) + "/output?offset=3");
    expect(tail, 200);
    CHECK(tail.body == "lo\n");
    CHECK(tail.header("X-Output-Offset") == "3");
    CHECK(tail.header("X-Output-Next-Offset") == "6");
    auto past_end = log.get(client, "/v1/runs/" + std::to_string(run1) + "/output?offset=6");
    expect(past_end, 200);
    CHECK(past_end.body.empty());
    expect_error(log.get(client, "/v1/runs/" + std::to_string(run1) + "/output?offset=x"), 400,
                 "invalid_field", "offset");
    expect_error(log.get(client, "/v1/runs/" + std::to_string(run1) + "/output?from=1"), 400,
                 "unknown_field", "from");
    expect_error(log.get(client, "/v1/runs/999999/output"), 404, "not_found");
  }

  // -- cancel and trigger ----------------------------------------------------------------------
  {
    // A task waiting for 2099: cancelled, it neither runs nor can be triggered.
    auto cancelled = expect(log.post(client, path_of(id2, "/cancel"), "{}"), 200);
    CHECK(cancelled["id"] == id2);
    CHECK(cancelled["state"] == "cancelled");
    CHECK(cancelled["next_run_at"].is_null());
    expect_error(log.post(client, path_of(id2, "/cancel"), ""), 409, "invalid_state");
    expect_error(log.post(client, path_of(id2, "/trigger"), ""), 409, "invalid_state");
    auto gone = all_pages(log, client, "/v1/tasks?state=cancelled");
    CHECK(gone == std::vector<int64_t>{id2});

    // A running command: no second run while it runs; a cancel stops it.
    poll_task(log, client, id3, run_running, svc);
    expect_error(log.post(client, path_of(id3, "/trigger"), ""), 409, "invalid_state");
    header_list once{{"Idempotency-Key", "cancel-3"}};
    auto stop = log.post(client, path_of(id3, "/cancel"), "", once);
    auto stopped = expect(stop, 200);
    CHECK(stopped["state"] == "cancelled");
    auto again = log.post(client, path_of(id3, "/cancel"), "", once);
    CHECK(expect(again, 200)["id"] == id3);
    CHECK(again.header("Idempotent-Replayed") == "true");
    auto ended = poll_task(log, client, id3, run_finished, svc);
    CHECK(ended["latest_run"]["status"] == "failure");
    CHECK(ended["latest_run"]["reason"] == "cancelled");
    CHECK(ended["latest_run"]["stop_requested"] == true);

    // A completed task may run again.
    expect(log.post(client, path_of(id1, "/trigger"), ""), 200);
    auto rerun = poll_task(log, client, id1, [&](const json& t) {
      return run_finished(t) && t["latest_run"]["id"] != run1;
    }, svc);
    CHECK(rerun["latest_run"]["trigger"] == "manual");
    CHECK(expect(log.get(client, path_of(id1, "/runs")), 200)["items"].size() == 2);

    expect_error(log.post(client, path_of(id1, "/cancel"), R"({"now":true})"), 400,
                 "unknown_field", "now");
    expect_error(log.post(client, path_of(id1, "/trigger"), "nope"), 400, "invalid_json");
    expect_error(log.post(client, "/v1/tasks/999999/cancel", ""), 404, "not_found");
    expect_error(log.post(client, "/v1/tasks/999999/trigger", ""), 404, "not_found");
    expect_error(log.post(client, "/v1/tasks/x/cancel", ""), 400, "invalid_id");
    expect_error(log.post(client, path_of(id1, "/trigger"), "{}", {{"Content-Type", "text/csv"}}),
                 415, "unsupported_media_type");
  }

  // -- edit ------------------------------------------------------------------------------------
  // What holds whether or not the store applies an edit: the ETag is the version, If-Match is
  // checked before anything is sent, every refusal is documented. (What an edit changes:
  // "v1 edit: ..." in test_v1_e2e.cpp.)
  {
    auto patch = [&](const std::string& target, const std::string& body,
                     header_list headers = {},
                     const std::string& type = "application/merge-patch+json") {
      headers.emplace_back("Content-Type", type);
      return log.send(client, {"PATCH", target, std::move(headers), body});
    };
    auto read = log.get(client, path_of(id1));
    auto version = expect(read, 200)["version"].get<int64_t>();
    auto tag = [](int64_t v) { return "\"" + std::to_string(v) + "\""; };
    auto etag = tag(version);
    CHECK(read.header("ETag") == etag);
    auto rename = R"({"name":"renamed"})";
    expect_error(patch(path_of(id1), rename, {{"If-Match", tag(version + 1)}}), 412,
                 "version_mismatch");
    expect_error(patch(path_of(id1), rename, {{"If-Match", "W/" + etag}}), 412,
                 "version_mismatch");
    expect_error(patch(path_of(id1), rename, {{"If-Match", std::to_string(version)}}), 400,
                 "invalid_field", "If-Match");
    expect_error(patch(path_of(id1), R"({"version":1})"), 400, "unknown_field", "version");
    expect_error(patch(path_of(id1), R"({"command":null})"), 400, "invalid_field", "command");
    expect_error(patch(path_of(id1), R"({"schedule":{"at":"soon"}})"), 400, "invalid_time",
                 "schedule.at");
    expect_error(patch(path_of(id1), "[]"), 400, "invalid_json");
    auto typed = patch(path_of(id1), "{}", {}, "text/plain");
    expect_error(typed, 415, "unsupported_media_type");
    CHECK(typed.header("Accept-Patch") == "application/merge-patch+json, application/json");
    expect_error(patch("/v1/tasks/999999", rename), 404, "not_found");
    expect_error(patch("/v1/tasks/x", rename), 400, "invalid_id");
    // A list with the task's version: the task at its version after the edit, as its ETag.
    auto edited = patch(path_of(id1), rename, {{"If-Match", "\"0\", " + etag}},
                        "application/json");
    auto after = expect(edited, 200);
    CHECK(after["id"] == id1);
    CHECK(edited.header("ETag") == tag(after["version"].get<int64_t>()));
  }

  // -- legacy, probes, metrics, unknown paths and methods ---------------------------------------
  {
    auto created = log.post(client, "/taskschedulizer", task_body("true", future));
    auto legacy = expect(created, 201);
    auto legacy_id = legacy["id"].get<int64_t>();
    expect(log.get(client, "/status?id=" + std::to_string(legacy_id)), 200);
    expect_error(log.get(client, "/status"), 400, "invalid_id");
    expect_error(log.get(client, "/status?id=999999"), 404, "not_found");
    expect_error(log.post(client, "/taskschedulizer", task_body(" ", future)), 400,
                 "invalid_task");
    expect_error(log.post(client, "/taskschedulizer", R"({"task":"true"})"), 400,
                 "invalid_field");
    // A legacy task is a v1 task too.
    expect(log.get(client, path_of(legacy_id)), 200);

    expect(log.get(client, "/healthz"), 200);
    expect(log.get(client, "/readyz"), 200);
    auto m = log.get(client, "/metrics");
    expect(m, 200);

    expect_error(log.get(client, "/v1/nope"), 404, "not_found");
    expect_error(log.get(client, "/v1/tasks/1/nope"), 404, "not_found");
    auto del = log.send(client, {"DELETE", path_of(id1), {}, ""});
    expect_error(del, 405, "method_not_allowed");
    CHECK(split_allow(del.header("Allow")) == std::set<std::string>{"GET", "PATCH"});
    auto put = log.send(client, {"PUT", "/v1/tasks", {}, "{}"});
    expect_error(put, 405, "method_not_allowed");
    CHECK(split_allow(put.header("Allow")) == std::set<std::string>{"GET", "POST"});
  }

  // -- the token -------------------------------------------------------------------------------
  {
    const std::string token = "openapi-e2e-t0ken";
    REQUIRE(write_file(f.dir.file("token"), token));
    REQUIRE(svc.signal(SIGTERM));
    REQUIRE(svc.wait(30s) == 0);
    REQUIRE(svc.start({"--api-token-file=" + f.dir.file("token")}) == "");
    auto guarded = svc.client();
    auto r = log.get(guarded, "/v1/tasks");
    expect_error(r, 401, "unauthorized");
    CHECK(r.header("WWW-Authenticate") == "Bearer");
    expect_error(log.post(guarded, "/v1/tasks", R"({"command":"true"})"), 401, "unauthorized");
    expect_error(log.get(guarded, "/v1/openapi.json"), 401, "unauthorized");
    expect(log.get(guarded, "/v1/tasks", {{"Authorization", "Bearer " + token}}), 200);
    expect(log.get(guarded, "/healthz"), 200);
  }

  log.validate(f.dir);
}

TEST_CASE("openapi e2e: schedule previews and a task's occurrences, on every backend",
          "[e2e][openapi][schedule]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  REQUIRE(f.svc.start() == "");
  auto client = f.svc.client();
  INFO(f.svc.diagnostics());
  response_log log;
  // New York's spring-forward day: 02:30 does not exist and fires at 03:00 EDT.
  auto p = expect(log.post(client, "/v1/schedules/preview",
                           R"({"schedule":{"cron":"0 30 2 * * *","time_zone":"America/New_York",)"
                           R"("start_at":"2026-03-07T00:00:00Z"},"count":3})"),
                  200);
  REQUIRE(p["occurrences"].size() == 3);
  CHECK(p["occurrences"][1]["utc"] == "2026-03-08T07:00:00.000Z");
  CHECK(p["occurrences"][1]["local"] == "2026-03-08T03:00:00.000-04:00");
  CHECK(p["occurrences"][1]["dst"] == "shifted_from_gap");
  CHECK(p["occurrences"][2]["dst"].is_null());
  // Berlin's fall-back day: 02:30 happens twice and fires at the first.
  p = expect(log.post(client, "/v1/schedules/preview",
                      R"({"schedule":{"cron":"30 2 * * *","time_zone":"Europe/Berlin",)"
                      R"("start_at":"2026-10-25T00:00:00Z"},"count":1})"),
             200);
  CHECK(p["occurrences"][0]["local"] == "2026-10-25T02:30:00.000+02:00");
  CHECK(p["occurrences"][0]["dst"] == "first_of_fold");
  p = expect(log.post(client, "/v1/schedules/preview", R"({"schedule":{"every_s":60}})"), 200);
  CHECK(p["occurrences"].size() == 10);
  struct refusal {
    const char* body;
    const char* code;
  };
  for (auto [body, code] : std::vector<refusal>{
         {R"({"schedule":{"cron":"0 0 0 30 2 *"}})", "schedule_never_fires"},
         {R"({"schedule":{"cron":"0 61 * * * *"}})", "invalid_cron"},
         {R"({"schedule":{"cron":"@daily","time_zone":"Mars/Olympus"}})", "invalid_time_zone"},
         {R"({"schedule":{"cron":"@daily"},"count":101})", "invalid_field"}}) {
    INFO(body);
    auto r = log.post(client, "/v1/schedules/preview", body);
    CHECK(r.status == 400);
    CHECK(r.error_code() == code);
  }
  // A recurring task lists its next occurrences, as the preview of its schedule does.
  auto hourly = expect(log.post(client, "/v1/tasks",
                                R"({"command":"true","schedule":{"cron":"@hourly"}})"),
                       201);
  auto hourly_id = std::to_string(hourly["id"].get<int64_t>());
  auto next = expect(log.get(client, "/v1/tasks/" + hourly_id + "/occurrences?count=3"), 200);
  auto same = expect(log.post(client, "/v1/schedules/preview",
                              R"({"schedule":{"cron":"@hourly"},"count":3})"),
                     200);
  REQUIRE(next["occurrences"].size() == 3);
  CHECK(next["occurrences"] == same["occurrences"]);
  CHECK(hourly["next_run_at"] == next["occurrences"][0]["utc"]);
  expect(log.post(client, "/v1/tasks/" + hourly_id + "/cancel", ""), 200);
  // A stored one-shot task lists its time, in its own zone, until it is cancelled.
  auto t = expect(log.post(client, "/v1/tasks",
                           R"({"command":"true","schedule":{"at":"2099-07-01 09:00:00",)"
                           R"("time_zone":"Australia/Lord_Howe"}})"),
                  201);
  auto id = std::to_string(t["id"].get<int64_t>());
  CHECK(t["next_run_at"] == "2099-06-30T22:30:00.000Z");
  auto o = expect(log.get(client, "/v1/tasks/" + id + "/occurrences?count=5"), 200);
  REQUIRE(o["occurrences"].size() == 1);
  CHECK(o["occurrences"][0]["local"] == "2099-07-01T09:00:00.000+10:30");
  CHECK(log.get(client, "/v1/tasks/" + id + "/occurrences?count=0").status == 400);
  CHECK(log.get(client, "/v1/tasks/999/occurrences").status == 404);
  expect(log.post(client, "/v1/tasks/" + id + "/cancel", ""), 200);
  o = expect(log.get(client, "/v1/tasks/" + id + "/occurrences"), 200);
  CHECK(o["occurrences"].empty());
  log.validate(f.dir);
}

TEST_CASE("openapi e2e: every documented path and method is routed by the real server",
          "[e2e][openapi]") {
  service_fixture f("sqlite");
  auto& svc = f.svc;
  REQUIRE(svc.start() == "");
  auto client = svc.client();
  INFO(svc.diagnostics());
  response_log log;
  // Task 1 and run 1 exist, so that every {id} (the document's example, 1) names something.
  auto t = expect(log.post(client, "/v1/tasks", R"({"command":"echo routed"})"), 201);
  REQUIRE(t["id"] == 1);
  poll_task(log, client, 1, run_finished, svc);

  size_t count = 0;
  for (auto& [path, methods] : documented()) {
    for (auto& method : methods) {
      auto req = build(path, method);
      auto r = log.send(client, req);
      INFO(req.method << " " << req.target << " " << req.body << "\n" << r.describe());
      REQUIRE(r.ok());
      // Neither an unknown path nor a method the server does not take; the validation below
      // holds the rest of the answer to the document.
      CHECK(r.status != 404);
      CHECK(r.status != 405);
      ++count;
    }
    // The other methods: 405 naming exactly the documented ones.
    auto base = build(path, *methods.begin());
    for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
      if (methods.count(method))
        continue;
      auto r = log.send(client, {method, base.target, {}, ""});
      INFO(method << " " << base.target << "\n" << r.describe());
      REQUIRE(r.ok());
      CHECK(r.status == 405);
      CHECK(split_allow(r.header("Allow")) == methods);
    }
  }
  CHECK(count >= 15);
  log.validate(f.dir);
}

namespace {

/// The curl commands of the README's "## API" section, in order.
std::vector<std::string> readme_api_examples() {
  std::istringstream in{read_file(source_dir() + "/README.md")};
  std::vector<std::string> out;
  std::string line;
  bool section = false;
  bool fence = false;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) {
      section = line == "## API";
      continue;
    }
    if (!section)
      continue;
    if (line.rfind("```", 0) == 0) {
      fence = !fence;
      continue;
    }
    if (fence && line.rfind("curl ", 0) == 0)
      out.push_back(line);
  }
  return out;
}

/// The document's path template that a concrete path matches ("{...}": one non-empty
/// segment; literal segments win), or the path itself.
std::string template_of(const std::string& path) {
  auto segments = [](const std::string& p) {
    std::vector<std::string> out;
    std::istringstream in{p};
    std::string part;
    while (std::getline(in, part, '/'))
      out.push_back(part);
    return out;
  };
  auto got = segments(path);
  std::string best = path;
  int best_literal = -1;
  for (auto& [tpl, item] : openapi_document().at("paths").items()) {
    auto want = segments(tpl);
    if (want.size() != got.size())
      continue;
    int literal = 0;
    bool match = true;
    for (size_t i = 0; i < want.size() && match; ++i) {
      if (want[i].size() > 1 && want[i].front() == '{' && want[i].back() == '}')
        match = !got[i].empty();
      else if (want[i] == got[i])
        ++literal;
      else
        match = false;
    }
    if (match && literal > best_literal) {
      best = tpl;
      best_literal = literal;
    }
  }
  return best;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

} // namespace

TEST_CASE("openapi e2e: the README's API examples work as written", "[e2e][openapi]") {
  service_fixture f("sqlite");
  auto& svc = f.svc;
  auto& dir = f.dir;
  REQUIRE(svc.start() == "");
  INFO(svc.diagnostics());
  if (run_command({"curl", "--version"}, {}, 10s).exit_code != 0) {
    WARN("curl is not installed: the README's API examples were not run");
    return;
  }
  auto examples = readme_api_examples();
  REQUIRE(examples.size() >= 10);
  const std::string host = "127.0.0.1:8081";
  const std::string here = "127.0.0.1:" + std::to_string(svc.port());
  response_log log;
  std::set<std::string> covered;
  auto client = svc.client();
  for (size_t i = 0; i < examples.size(); ++i) {
    auto& example = examples[i];
    INFO("README: " << example);
    REQUIRE(example.find(host) != std::string::npos);
    // As written, but at this service's port, with the head and body saved for the checks.
    auto head_file = dir.file("head.txt");
    auto body_file = dir.file("body.txt");
    auto command = "curl -sS --max-time 15 -D " + sh_quote(head_file) + " -o "
                   + sh_quote(body_file) + " " + replace_all(example, host, here).substr(5);
    auto r = run_command({"sh", "-c", command}, {}, 30s);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    http_response res;
    auto head = read_file(head_file);
    REQUIRE(ts::test_http::parse_head(head.substr(0, head.find("\r\n\r\n")), res) == "");
    res.body = read_file(body_file);
    // `curl -i` writes the head into the body too.
    if (res.body.rfind("HTTP/", 0) == 0)
      res.body = res.body.substr(res.body.find("\r\n\r\n") + 4);
    INFO(res.describe());
    CHECK(res.status >= 200);
    CHECK(res.status < 300);
    // The method and target as curl sent them: -X names it, else -d makes a POST.
    std::string method = "GET";
    if (auto x = example.find(" -X "); x != std::string::npos)
      method = example.substr(x + 4, example.find(' ', x + 4) - (x + 4));
    else if (example.find(" -d ") != std::string::npos)
      method = "POST";
    auto from = example.find("http://" + host) + std::string{"http://"}.size() + host.size();
    auto end = example.find_first_of(" '\"", from);
    auto target = example.substr(from, end == std::string::npos ? std::string::npos : end - from);
    log.add(method, target, res);
    covered.insert(method + " " + template_of(target.substr(0, target.find('?'))));
    // The first example creates task 1, which runs at once; the others read its run.
    if (i == 0) {
      REQUIRE(res.status == 201);
      poll_task(log, client, 1, run_finished, svc);
    }
  }
  // Every operation of the document has an example.
  for (auto& [path, methods] : documented())
    for (auto& method : methods) {
      INFO("no README example for " << method << " " << path);
      CHECK(covered.count(method + " " + path) == 1);
    }
  log.validate(dir);
}
