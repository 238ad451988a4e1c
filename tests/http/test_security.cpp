// Scoped tokens through route() and judge_head() (socket-free), what the audit log records
// and its lines, and the audit writer on a real file and on one that refuses every write.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <cstdio>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "http/audit.hpp"
#include "http/routes.hpp"

namespace api = ts::api;
using ts::http_response;

namespace {

constexpr ts::millis now = 1700000000000;

const ts::token_set tokens{{{"viewer", ts::token_scope::read, "r-token"},
                            {"deployer", ts::token_scope::write, "w-token"}}};

api::request_view request(std::string_view method, std::string_view path,
                          std::optional<std::string_view> auth, std::string_view body = {}) {
  api::request_view v;
  v.method = method;
  v.path = path;
  v.body = body;
  v.authorization = auth;
  return v;
}

int status_of(const api::action& act) {
  auto res = std::get_if<http_response>(&act);
  return res ? res->status : 0;  // 0: handed on
}

std::string code_of(const api::action& act) {
  auto res = std::get_if<http_response>(&act);
  REQUIRE(res != nullptr);
  return nlohmann::json::parse(res->body)["error"]["code"];
}

const std::string task_body = R"({"command": "true"})";

} // namespace

TEST_CASE("scopes: a read token GETs and HEADs, and is 403 on everything else", "[security]") {
  auto r = std::string_view{"Bearer r-token"};
  auto w = std::string_view{"Bearer w-token"};
  CHECK(status_of(api::route(request("GET", "/v1/tasks", r), &tokens, false, now)) == 0);
  CHECK(status_of(api::route(request("HEAD", "/v1/tasks/1", r), &tokens, false, now)) == 0);
  CHECK(status_of(api::route(request("GET", "/status", r), &tokens, false, now)) == 400);
  auto post = api::route(request("POST", "/v1/tasks", r, task_body), &tokens, false, now);
  CHECK(status_of(post) == 403);
  CHECK(code_of(post) == "forbidden");
  CHECK(status_of(api::route(request("POST", "/v1/tasks/1/cancel", r), &tokens, false, now))
        == 403);
  CHECK(status_of(api::route(request("PATCH", "/v1/tasks/1", r, "{}"), &tokens, false, now))
        == 403);
  CHECK(status_of(api::route(request("POST", "/taskschedulizer", r, "{}"), &tokens, false, now))
        == 403);
  // The path and the method are judged first: nothing a GET could not learn.
  CHECK(status_of(api::route(request("POST", "/nope", r), &tokens, false, now)) == 404);
  CHECK(status_of(api::route(request("DELETE", "/v1/tasks", r), &tokens, false, now)) == 405);
  // The write token does all of it; no token or an unknown one is 401; the probes are open.
  CHECK(status_of(api::route(request("POST", "/v1/tasks", w, task_body), &tokens, false, now))
        == 0);
  CHECK(status_of(api::route(request("POST", "/v1/tasks", std::nullopt, task_body), &tokens,
                             false, now))
        == 401);
  CHECK(status_of(api::route(request("GET", "/v1/tasks", std::string_view{"Bearer x"}),
                             &tokens, false, now))
        == 401);
  CHECK(status_of(api::route(request("GET", "/healthz", std::nullopt), &tokens, false, now))
        == 200);
  // A holder without a token lets nobody in.
  ts::token_set none;
  CHECK(status_of(api::route(request("GET", "/v1/tasks", w), &none, false, now)) == 401);
  // No tokens: no check, whatever the header says.
  CHECK(status_of(api::route(request("POST", "/v1/tasks", r, task_body), nullptr, false, now))
        == 0);
}

TEST_CASE("scopes: judge_head refuses a read token's write from the head", "[security]") {
  auto r = std::string_view{"Bearer r-token"};
  auto res = api::judge_head(request("POST", "/v1/tasks", r), 20, &tokens, false);
  REQUIRE(res);
  CHECK(res->status == 403);
  CHECK_FALSE(api::judge_head(request("GET", "/v1/tasks", r), 0, &tokens, false));
  CHECK_FALSE(api::judge_head(request("HEAD", "/v1/tasks", r), 0, &tokens, false));
  auto no = api::judge_head(request("POST", "/v1/tasks", std::nullopt), 20, &tokens, false);
  REQUIRE(no);
  CHECK(no->status == 401);
  CHECK_FALSE(api::judge_head(request("POST", "/v1/tasks", std::string_view{"Bearer w-token"}),
                              20, &tokens, false));
}

TEST_CASE("audit: what is recorded, with which task and token", "[security]") {
  for (auto m : {"POST", "PATCH", "PUT", "DELETE", "OPTIONS", "BREW"})
    CHECK(api::audited(m));
  CHECK_FALSE(api::audited("GET"));
  CHECK_FALSE(api::audited("HEAD"));
  CHECK(api::path_task_id("/v1/tasks/42/cancel") == 42);
  CHECK(api::path_task_id("/v1/tasks/42") == 42);
  CHECK_FALSE(api::path_task_id("/v1/tasks/abc/cancel"));
  CHECK_FALSE(api::path_task_id("/v1/tasks"));
  CHECK_FALSE(api::path_task_id("/v1/runs/5"));
  CHECK_FALSE(api::path_task_id("/taskschedulizer"));
  CHECK(api::location_task_id("/v1/tasks/7") == 7);
  CHECK(api::location_task_id("/status?id=12") == 12);
  CHECK_FALSE(api::location_task_id("/v1/tasks/"));
  CHECK_FALSE(api::location_task_id(""));
  auto* who = api::request_token(request("POST", "/v1/tasks", std::string_view{"bearer w-token"}),
                                 &tokens);
  REQUIRE(who != nullptr);
  CHECK(who->name == "deployer");
  CHECK(api::request_token(request("POST", "/", std::nullopt), &tokens) == nullptr);
  CHECK(api::request_token(request("POST", "/", std::string_view{"Bearer w-token"}), nullptr)
        == nullptr);
}

TEST_CASE("audit: a line is one JSON object with every field", "[security]") {
  api::audit_entry e;
  e.phase = api::audit_phase::result;
  e.time = 1767225600123;
  e.request = "1767225600000-3";
  e.token = "deployer";
  e.remote = "127.0.0.1:40312";
  e.method = "POST";
  e.path = "/v1/tasks/7/cancel";
  e.task = 7;
  e.status = 200;
  CHECK(api::audit_json(e)
        == R"({"time":"2026-01-01T00:00:00.123Z","request":"1767225600000-3","phase":"result",)"
           R"("token":"deployer","remote":"127.0.0.1:40312","method":"POST",)"
           R"("path":"/v1/tasks/7/cancel","task_id":7,"status":200})");
  api::audit_entry intent;
  intent.phase = api::audit_phase::intent;
  intent.path = std::string("/a\n\"b\xff", 6);
  auto line = api::audit_json(intent);
  CHECK(line.find('\n') == std::string::npos);
  auto j = nlohmann::json::parse(line);
  CHECK(j["phase"] == "intent");
  CHECK(j["token"].is_null());
  CHECK(j["task_id"].is_null());
  CHECK(j["status"].is_null());
  CHECK(j["path"] == "/a\n\"b\xEF\xBF\xBD");
}

namespace {

// Waits for `n` done callbacks and collects what they said.
struct done_counter {
  std::mutex mtx;
  std::condition_variable cv;
  int ok = 0;
  int failed = 0;
  api::audit_log::done_fn fn() {
    return [this](bool written) {
      std::lock_guard<std::mutex> lock{mtx};
      (written ? ok : failed) += 1;
      cv.notify_all();
    };
  }
  bool wait(int n) {
    std::unique_lock<std::mutex> lock{mtx};
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return ok + failed >= n; });
  }
};

} // namespace

TEST_CASE("audit: the writer appends synced lines, and says when it cannot", "[security]") {
  char dir[] = "/tmp/ts-test-audit-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  std::string path = std::string{dir} + "/audit.log";
  {
    std::ofstream{path} << "{\"earlier\":true}\n";
  }
  std::string error;
  {
    auto log = api::audit_log::open(path, error);
    REQUIRE(log);
    CHECK(log->path() == path);
    done_counter done;
    // From several threads at once: every line whole, each id unique.
    std::vector<std::thread> writers;
    for (int t = 0; t < 4; ++t)
      writers.emplace_back([&] {
        for (int i = 0; i < 50; ++i) {
          api::audit_entry e;
          e.request = log->next_request();
          e.method = "POST";
          e.path = "/v1/tasks";
          log->write(e, done.fn());
        }
      });
    for (auto& w : writers)
      w.join();
    REQUIRE(done.wait(200));
    CHECK(done.ok == 200);
    CHECK(done.failed == 0);
    // Written without a callback too, before the log closes.
    api::audit_entry last;
    last.request = "last";
    log->write(last);
  }
  std::ifstream in{path};
  std::string line;
  std::set<std::string> ids;
  int lines = 0;
  REQUIRE(std::getline(in, line));
  CHECK(line == "{\"earlier\":true}");
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    ids.insert(j["request"].get<std::string>());
    ++lines;
  }
  CHECK(lines == 201);
  CHECK(ids.size() == 201);
  std::remove(path.c_str());
  rmdir(dir);

  // /dev/full refuses every write: each entry of the batch is told so.
  auto full = api::audit_log::open("/dev/full", error);
  REQUIRE(full);
  done_counter refused;
  for (int i = 0; i < 3; ++i)
    full->write(api::audit_entry{}, refused.fn());
  REQUIRE(refused.wait(3));
  CHECK(refused.failed == 3);
  // A folder that does not exist: no log, and why.
  CHECK_FALSE(api::audit_log::open("/nonexistent-dir/a/audit.log", error));
  CHECK(error.find("cannot open the audit log") != std::string::npos);
}
