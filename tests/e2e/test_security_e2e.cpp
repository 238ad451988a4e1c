// Scoped tokens, their reload on SIGHUP, and the audit log, on the real binary over HTTP:
// read and write tokens, a bare token file, a rewritten and a broken file taken on SIGHUP,
// one audit line per event of every request but GET (refusals included), an audit log that
// cannot be written refusing the request before it acts, and no token in any log.
#include <catch2/catch.hpp>

#include <csignal>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/service.hpp"

using namespace ts::e2e;
using nlohmann::json;

namespace {

const std::string read_secret = "r3ad-0nly-t0ken-for-the-dashboard";
const std::string write_secret = "wr1te-t0ken-for-the-deployer-0042";
const std::string future_task = R"({"command": "true", "schedule": {"at": "2099-01-01T00:00:00Z"}})";

header_list bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

// Every line of the audit file, each REQUIREd to be one JSON object.
std::vector<json> audit_lines(const std::string& path) {
  std::vector<json> out;
  std::istringstream in{read_file(path)};
  for (std::string line; std::getline(in, line);) {
    INFO(line);
    auto j = json::parse(line, nullptr, false);
    REQUIRE(j.is_object());
    out.push_back(j);
  }
  return out;
}

// The audit file once it has at least `count` lines (a refusal from the head is written
// without holding its answer).
std::vector<json> audit_lines_at_least(const std::string& path, size_t count) {
  wait_until([&] { return audit_lines(path).size() >= count; }, 10s);
  return audit_lines(path);
}

void check_error(const http_response& r, int status, const std::string& code) {
  INFO(r.describe());
  REQUIRE(r.ok());
  CHECK(r.status == status);
  CHECK(r.error_code() == code);
}

// What one request should leave in the audit log.
struct expected_line {
  std::string method;
  std::string path;
  std::optional<std::string> token;
  int status = 0;
  std::optional<int64_t> task;
  bool acted = false;  // an intent line precedes the result
};

// The audit lines are exactly `want`, in order: an intent then a result for a request that
// acted, a result alone for one that did not, with every field as expected.
void check_audit(const std::vector<json>& lines, const std::vector<expected_line>& want) {
  size_t at = 0;
  std::set<std::string> ids;
  for (auto& w : want) {
    INFO(w.method << " " << w.path << " -> " << w.status);
    for (int phase = w.acted ? 0 : 1; phase < 2; ++phase) {
      REQUIRE(at < lines.size());
      auto& l = lines[at++];
      INFO(l.dump());
      CHECK(l.size() == 9);
      CHECK(l["phase"] == (phase == 0 ? "intent" : "result"));
      REQUIRE(l["time"].is_string());
      CHECK(is_rfc3339_utc_ms(l["time"].get<std::string>()));
      CHECK(std::abs(*parse_utc_ms(l["time"].get<std::string>()) - now_ms()) < 120000);
      REQUIRE(l["request"].is_string());
      // An intent and its result share the id; no other request has it.
      if (phase == 1 && w.acted)
        CHECK(l["request"] == lines[at - 2]["request"]);
      else
        CHECK(ids.insert(l["request"].get<std::string>()).second);
      if (w.token)
        CHECK(l["token"] == *w.token);
      else
        CHECK(l["token"].is_null());
      REQUIRE(l["remote"].is_string());
      CHECK(l["remote"].get<std::string>().rfind("127.0.0.1:", 0) == 0);
      CHECK(l["method"] == w.method);
      CHECK(l["path"] == w.path);
      if (w.task && (phase == 1 || w.path.find("/v1/tasks/") == 0))
        CHECK(l["task_id"] == *w.task);
      else if (!w.task)
        CHECK(l["task_id"].is_null());
      if (phase == 0)
        CHECK(l["status"].is_null());
      else
        CHECK(l["status"] == w.status);
    }
  }
  CHECK(at == lines.size());
}

void check_no_secret(const std::string& text, const std::vector<std::string>& secrets) {
  for (auto& s : secrets) {
    INFO("a token shows in: " << text.substr(0, 4000));
    CHECK(text.find(s) == std::string::npos);
  }
}

} // namespace

TEST_CASE("security: a read token GETs, a write token acts, and the audit log has each",
          "[e2e][security]") {
  service_fixture f{"sqlite"};
  REQUIRE(write_file(f.dir.file("tokens"), "# who may do what\n\n"
                                           "dashboard read " + read_secret + "\n"
                                           "deployer\twrite\t" + write_secret + "\n"));
  auto audit = f.dir.file("audit.log");
  REQUIRE(f.svc.start({"--api-token-file=" + f.dir.file("tokens"), "--audit-log=" + audit})
          == "");
  auto c = f.svc.client();
  auto rd = bearer(read_secret);
  auto wr = bearer(write_secret);
  std::vector<expected_line> want;

  // Reads with either token; none of them is audited.
  CHECK(c.get("/v1/tasks", rd).status == 200);
  CHECK(c.get("/v1/tasks", wr).status == 200);
  CHECK(c.get("/metrics", rd).status == 200);
  check_error(c.get("/v1/tasks"), 401, "unauthorized");

  check_error(c.post("/v1/tasks", future_task, rd), 403, "forbidden");
  want.push_back({"POST", "/v1/tasks", "dashboard", 403, std::nullopt, false});
  check_error(c.post("/v1/tasks", future_task), 401, "unauthorized");
  want.push_back({"POST", "/v1/tasks", std::nullopt, 401, std::nullopt, false});
  check_error(c.post("/v1/tasks", future_task, bearer("wrong")), 401, "unauthorized");
  want.push_back({"POST", "/v1/tasks", std::nullopt, 401, std::nullopt, false});

  auto created = c.post("/v1/tasks", future_task, wr);
  INFO(created.describe());
  REQUIRE(created.status == 201);
  int64_t id = created.json()["id"].get<int64_t>();
  want.push_back({"POST", "/v1/tasks", "deployer", 201, id, true});
  auto task_path = "/v1/tasks/" + std::to_string(id);

  // Refused by validation: nothing acts, so no intent.
  check_error(c.post("/v1/tasks", R"({"command": ""})", wr), 400, "invalid_field");
  want.push_back({"POST", "/v1/tasks", "deployer", 400, std::nullopt, false});

  // Every verb, with the read token (403) and the write token.
  for (std::string verb : {"pause", "resume", "trigger", "cancel"}) {
    auto path = task_path + "/" + verb;
    check_error(c.post(path, "", rd), 403, "forbidden");
    want.push_back({"POST", path, "dashboard", 403, id, false});
    auto r = c.post(path, "", wr);
    INFO(r.describe());
    CHECK((r.status == 200 || r.status == 409));
    want.push_back({"POST", path, "deployer", r.status, id, true});
  }
  auto patch = c.send({"PATCH", task_path,
                       {{"Authorization", "Bearer " + write_secret},
                        {"Content-Type", "application/merge-patch+json"}},
                       R"({"name": "renamed"})"});
  INFO(patch.describe());
  CHECK(patch.status == 409);  // cancelled just before
  want.push_back({"PATCH", task_path, "deployer", patch.status, id, true});
  auto patch_read = c.send({"PATCH", task_path,
                            {{"Authorization", "Bearer " + read_secret},
                             {"Content-Type", "application/merge-patch+json"}},
                            R"({"name": "renamed"})"});
  check_error(patch_read, 403, "forbidden");
  want.push_back({"PATCH", task_path, "dashboard", 403, id, false});

  // The legacy create, and a preview (answered without an actor: its result only).
  auto legacy = c.post("/taskschedulizer", task_body("true", "2099-01-01 00:00:00"), wr);
  INFO(legacy.describe());
  REQUIRE(legacy.status == 201);
  want.push_back({"POST", "/taskschedulizer", "deployer", 201,
                  legacy.json()["id"].get<int64_t>(), true});
  auto preview = c.post("/v1/schedules/preview", R"({"schedule": {"every_s": 60}, "count": 1})",
                        wr);
  CHECK(preview.status == 200);
  want.push_back({"POST", "/v1/schedules/preview", "deployer", 200, std::nullopt, false});
  check_error(c.post("/v1/schedules/preview", "{}", rd), 403, "forbidden");
  want.push_back({"POST", "/v1/schedules/preview", "dashboard", 403, std::nullopt, false});
  // A cancel of a task that does not exist acts (the coordinator says 404).
  check_error(c.post("/v1/tasks/999/cancel", "", wr), 404, "not_found");
  want.push_back({"POST", "/v1/tasks/999/cancel", "deployer", 404, 999, true});
  CHECK(c.get(task_path, rd).status == 200);

  size_t count = 0;
  for (auto& w : want)
    count += w.acted ? 2 : 1;
  auto lines = audit_lines_at_least(audit, count);
  check_audit(lines, want);
  check_no_secret(read_file(audit), {read_secret, write_secret});
  check_no_secret(f.svc.stderr_text(), {read_secret, write_secret});
  // The start-up line names the tokens, and only the names.
  CHECK(f.svc.stderr_text().find("tokens=dashboard,deployer") != std::string::npos);
}

TEST_CASE("security: a file of one bare token still works, audited in the main log",
          "[e2e][security]") {
  service_fixture f{"sqlite"};
  const std::string token = "bare-t0ken-as-before-1234567890";
  REQUIRE(write_file(f.dir.file("token"), token + "\n"));
  REQUIRE(f.svc.start({"--api-token-file=" + f.dir.file("token")}) == "");
  auto c = f.svc.client();
  auto r = c.post("/v1/tasks", future_task, bearer(token));
  INFO(r.describe());
  REQUIRE(r.status == 201);
  auto id = std::to_string(r.json()["id"].get<int64_t>());
  CHECK(c.get("/v1/tasks/" + id, bearer(token)).status == 200);
  check_error(c.post("/v1/tasks", future_task), 401, "unauthorized");
  // Without --audit-log the lines go to stderr, in the log's format, under the name default.
  std::string log;
  wait_until([&] {
    log = f.svc.stderr_text();
    return log.find("status=401") != std::string::npos;
  }, 10s);
  INFO(log);
  CHECK(log.find("event=audit") != std::string::npos);
  // The main log is not synced: a result line only, no intent that would promise nothing.
  CHECK(log.find("phase=intent") == std::string::npos);
  CHECK(log.find("phase=result token=default") != std::string::npos);
  CHECK(log.find("path=/v1/tasks task_id=" + id + " status=201") != std::string::npos);
  CHECK(log.find("token=null") != std::string::npos);
  check_no_secret(log, {token});
}

TEST_CASE("security: SIGHUP takes a rewritten token file, and a broken one keeps the old",
          "[e2e][security]") {
  service_fixture f{"sqlite"};
  const std::string first = "f1rst-t0ken-aaaaaaaaaaaaaaaa";
  const std::string second = "s3cond-t0ken-bbbbbbbbbbbbbbb";
  const std::string third = "th1rd-t0ken-cccccccccccccccc";
  auto file = f.dir.file("tokens");
  auto audit = f.dir.file("audit.log");
  REQUIRE(write_file(file, "ops write " + first + "\n"));
  REQUIRE(f.svc.start({"--api-token-file=" + file, "--audit-log=" + audit}) == "");
  auto c = f.svc.client();
  CHECK(c.post("/v1/tasks", future_task, bearer(first)).status == 201);

  REQUIRE(write_file(file, "# rotated\nci write " + second + "\nviewer read " + third + "\n"));
  REQUIRE(f.svc.signal(SIGHUP));
  CHECK(wait_until([&] { return c.get("/v1/tasks", bearer(second)).status == 200; }, 10s));
  check_error(c.get("/v1/tasks", bearer(first)), 401, "unauthorized");
  check_error(c.post("/v1/tasks", future_task, bearer(first)), 401, "unauthorized");
  CHECK(c.post("/v1/tasks", future_task, bearer(second)).status == 201);
  check_error(c.post("/v1/tasks", future_task, bearer(third)), 403, "forbidden");
  CHECK(wait_until([&] {
    return f.svc.stderr_text().find("event=tokens_reloaded count=2 tokens=ci,viewer")
           != std::string::npos;
  }, 10s));

  // A scope that is not one, on line 2: refused, and the tokens in force stay.
  REQUIRE(write_file(file, "ci write " + second + "\nadmin root " + first + "\n"));
  REQUIRE(f.svc.signal(SIGHUP));
  std::string log;
  CHECK(wait_until([&] {
    log = f.svc.stderr_text();
    return log.find("event=tokens_not_reloaded") != std::string::npos;
  }, 10s));
  INFO(log);
  CHECK(log.find("line 2: the scope must be read or write") != std::string::npos);
  CHECK(c.post("/v1/tasks", future_task, bearer(second)).status == 201);
  CHECK(c.get("/v1/tasks", bearer(third)).status == 200);
  check_error(c.get("/v1/tasks", bearer(first)), 401, "unauthorized");
  // An empty file too.
  REQUIRE(write_file(file, "\n# nothing\n"));
  REQUIRE(f.svc.signal(SIGHUP));
  CHECK(wait_until([&] {
    return f.svc.stderr_text().find("no token in the file") != std::string::npos;
  }, 10s));
  CHECK(c.get("/v1/tasks", bearer(second)).status == 200);

  // The token names reach the audit log; no token reaches any log.
  auto lines = audit_lines_at_least(audit, 8);
  std::vector<std::string> tokens;
  for (auto& l : lines)
    tokens.push_back(l["token"].is_null() ? "null" : l["token"].get<std::string>());
  CHECK(tokens == std::vector<std::string>{"ops", "ops", "null", "ci", "ci", "viewer", "ci",
                                           "ci"});
  check_no_secret(read_file(audit), {first, second, third});
  check_no_secret(f.svc.stderr_text(), {first, second, third});
  // Still stops cleanly after the reloads.
  REQUIRE(f.svc.signal(SIGTERM));
  CHECK(f.svc.wait(30s) == 0);
}

TEST_CASE("security: an audit log that cannot be written refuses with 503 and acts not",
          "[e2e][security]") {
  service_fixture f{"sqlite"};
  // Every write to /dev/full fails with ENOSPC, as on a full disk.
  REQUIRE(f.svc.start({"--audit-log=/dev/full"}) == "");
  auto c = f.svc.client();
  auto r = c.post("/v1/tasks", future_task);
  check_error(r, 503, "unavailable");
  CHECK(r.header("Retry-After") == "1");
  check_error(c.post("/taskschedulizer", task_body("true", "2099-01-01 00:00:00")), 503,
              "unavailable");
  check_error(c.post("/v1/tasks/1/cancel", ""), 503, "unavailable");
  // A refusal cannot be recorded either: it is refused as unavailable too.
  check_error(c.post("/v1/tasks", R"({"command": ""})"), 503, "unavailable");
  // Reads go on, and show that nothing was created.
  auto list = c.get("/v1/tasks");
  INFO(list.describe());
  REQUIRE(list.status == 200);
  CHECK(list.json()["items"].empty());
  CHECK(c.get("/status?id=1").status == 404);
  CHECK(f.svc.stderr_text().find("event=audit_failed") != std::string::npos);
}

TEST_CASE("security: an audit log that cannot be opened stops the start", "[e2e][security]") {
  temp_dir dir;
  service svc(dir.path(), "sqlite:" + dir.file("t.db"));
  auto code = svc.run_to_exit({"--port=0", "--db=sqlite:" + dir.file("t.db"),
                               "--audit-log=" + dir.file("no/such/dir/audit.log")});
  INFO(svc.diagnostics());
  REQUIRE(code.has_value());
  CHECK(*code != 0);
  CHECK(svc.stderr_text().find("cannot open the audit log") != std::string::npos);
}

TEST_CASE("security: a broken token file stops the start, naming the line only",
          "[e2e][security]") {
  temp_dir dir;
  service svc(dir.path(), "sqlite:" + dir.file("t.db"));
  const std::string secret = "never-shown-s3cret-9876543210";
  REQUIRE(write_file(dir.file("tokens"), "ok read abcdefgh\nops " + secret + " write\n"));
  auto code = svc.run_to_exit({"--port=0", "--db=sqlite:" + dir.file("t.db"),
                               "--api-token-file=" + dir.file("tokens"), "--bind=0.0.0.0"});
  INFO(svc.diagnostics());
  REQUIRE(code.has_value());
  CHECK(*code != 0);
  CHECK(svc.stderr_text().find("line 2: the scope must be read or write") != std::string::npos);
  check_no_secret(svc.stderr_text() + svc.stdout_text(), {secret});
}
