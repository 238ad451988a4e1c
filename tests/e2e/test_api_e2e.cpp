// The HTTP API of the real binary, over real sockets, on every backend available: the
// README's curl examples, the accepted time forms, every row of the error table, the token,
// the refusal of an open remote shell, --help and the example config file.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "tests/e2e/service.hpp"

using namespace ts::e2e;
using nlohmann::json;

namespace {

/// A past time: "run now".
const std::string past = "2000-01-01T00:00:00Z";
/// A time far enough ahead that the task stays pending for the whole test.
const std::string future = "2099-01-01T00:00:00Z";

/// Checks the JSON error contract: status, code, a message, a JSON content type.
void check_error(const http_response& r, int status, const std::string& code) {
  INFO(r.describe());
  REQUIRE(r.ok());
  CHECK(r.status == status);
  CHECK(r.error_code() == code);
  json j = r.json();
  CHECK((j.is_object() && j["error"].is_object() && j["error"]["message"].is_string()
         && !j["error"]["message"].get<std::string>().empty()));
  CHECK(r.header("Content-Type").find("application/json") == 0);
}

/// A 201 for a schedule request; returns the task id (0 on failure).
int64_t check_created(const http_response& r) {
  INFO(r.describe());
  REQUIRE(r.ok());
  REQUIRE(r.status == 201);
  json j = r.json();
  REQUIRE(j.is_object());
  REQUIRE(j["id"].is_number_integer());
  int64_t id = j["id"].get<int64_t>();
  CHECK(id >= 1);
  CHECK(r.header("Location") == "/status?id=" + std::to_string(id));
  CHECK(j["task"].is_string());
  CHECK(has_status(j, "pending"));
  CHECK(bad_time_field(j) == "");
  return id;
}

bool curl_available() {
  return run_command({"curl", "--version"}, {}, 10s).exit_code == 0;
}

/// Runs one of the README's curl commands with the port substituted; returns the status,
/// headers and body.
http_response run_curl(const temp_dir& dir, std::vector<std::string> args) {
  std::string header_file = dir.file("curl-headers.txt");
  std::string body_file = dir.file("curl-body.txt");
  std::vector<std::string> argv{"curl", "-sS", "--max-time", "15", "-D", header_file, "-o",
                                body_file};
  argv.insert(argv.end(), args.begin(), args.end());
  http_response out;
  auto r = run_command(argv, {}, 30s);
  if (r.exit_code != 0) {
    out.error = "curl failed (" + std::to_string(r.exit_code) + "): " + r.output;
    return out;
  }
  // The head curl saved is plain HTTP/1.1 text: read it with our client's own parser.
  std::string head = read_file(header_file);
  out.error = ts::test_http::parse_head(head.substr(0, head.find("\r\n\r\n")), out);
  out.body = read_file(body_file);
  return out;
}

} // namespace

TEST_CASE("the README's curl examples schedule whoami and report its output",
          "[e2e][api]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  auto& dir = f.dir;
  auto& svc = f.svc;
  // The README's time is local: pin the zone so the answer is known.
  REQUIRE(svc.start({}, {{"TZ", "UTC"}}) == "");
  CHECK(svc.address() == "127.0.0.1");
  // Scripts rely on stdout holding just this line.
  CHECK(svc.stdout_text() == "listening on 127.0.0.1:" + std::to_string(svc.port()) + "\n");
  std::string base = "http://localhost:" + std::to_string(svc.port());
  const std::string body = R"({"task":"whoami", "time":"2024-09-22 17:00:00"})";
  bool use_curl = curl_available();
  INFO("through " << (use_curl ? "curl" : "the test client (curl is not installed)"));

  http_response created =
    use_curl ? run_curl(dir, {"-X", "POST", base + "/taskschedulizer", "-d", body, "-H",
                              "Content-Type: application/json"})
             : svc.client().post("/taskschedulizer", body);
  int64_t id = check_created(created);
  CHECK(id == 1);  // a fresh database: the README's `status?id=1` is this task
  json j = created.json();
  CHECK(j["task"] == "whoami");
  CHECK(j["time"] == "2024-09-22T17:00:00.000Z");

  auto client = svc.client();
  auto done = poll_status(client, id, is_finished);
  INFO(done.last_raw);
  INFO(svc.diagnostics());
  REQUIRE(done.met);

  http_response status = use_curl ? run_curl(dir, {"-X", "GET", base + "/status?id=1"})
                                  : client.get("/status?id=1");
  INFO(status.describe());
  REQUIRE(status.ok());
  REQUIRE(status.status == 200);
  CHECK(status.header("Content-Type").find("application/json") == 0);
  json s = status.json();
  REQUIRE(s.is_object());
  for (const char* key : {"id", "task", "time", "status", "exit_code", "signal", "reason",
                          "output", "output_truncated", "started_at", "finished_at", "run_id"})
    CHECK(s.contains(key));
  CHECK(s["id"] == 1);
  CHECK(s["task"] == "whoami");
  CHECK(has_status(s, "success"));
  CHECK(s["output"] == current_user() + "\n");
  CHECK(s["exit_code"] == 0);
  CHECK(s["signal"].is_null());
  CHECK(s["reason"].is_null());
  CHECK(s["output_truncated"] == false);
  CHECK(s["run_id"].is_number_integer());
  CHECK(bad_time_field(s) == "");
  auto started = parse_utc_ms(s.value("started_at", ""));
  auto finished = parse_utc_ms(s.value("finished_at", ""));
  REQUIRE(started);
  REQUIRE(finished);
  CHECK(*started <= *finished);
  CHECK(*finished <= now_ms() + 1000);
}

TEST_CASE("schedule requests accept every documented time form", "[e2e][api]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  auto& svc = f.svc;
  REQUIRE(svc.start({}, {{"TZ", "Europe/Berlin"}}) == "");
  auto client = svc.client();

  struct form {
    std::string given;
    std::string stored;
  };
  std::vector<form> forms{
    {"2030-01-15 10:00:00", "2030-01-15T09:00:00.000Z"},         // local, winter (+01:00)
    {"2030-07-15T10:00:00", "2030-07-15T08:00:00.000Z"},         // local, summer (+02:00)
    {"2030-07-15 10:00:00.250", "2030-07-15T08:00:00.250Z"},     // milliseconds
    {"2030-07-15T10:00:00Z", "2030-07-15T10:00:00.000Z"},        // UTC
    {"2030-07-15T10:00:00+05:30", "2030-07-15T04:30:00.000Z"},   // an offset
    {"2030-07-15T10:00:00-02:00", "2030-07-15T12:00:00.000Z"},   // a negative offset
    {"2030-10-27 02:30:00", "2030-10-27T00:30:00.000Z"},         // twice in Berlin: earlier
    {"9999-12-31T23:59:59Z", "9999-12-31T23:59:59.000Z"},        // the last year accepted
  };
  for (auto& f : forms) {
    INFO("time " << f.given);
    auto r = client.post("/taskschedulizer", task_body("true", f.given));
    int64_t id = check_created(r);
    CHECK(r.json()["time"] == f.stored);
    auto s = client.get("/status?id=" + std::to_string(id));
    INFO(s.describe());
    REQUIRE(s.status == 200);
    json j = s.json();
    CHECK(j["time"] == f.stored);
    CHECK(has_status(j, "pending"));
    CHECK(j["run_id"].is_null());
    CHECK(j["exit_code"].is_null());
    CHECK(j["signal"].is_null());
    CHECK(j["reason"].is_null());
    CHECK(j["started_at"].is_null());
    CHECK(j["finished_at"].is_null());
    CHECK(j["output_truncated"] == false);
    CHECK(bad_time_field(j) == "");
  }

  // Unknown fields are ignored; a task is stored byte for byte (unicode included).
  auto r = client.post("/taskschedulizer",
                       R"({"task":"echo 'héllo ✓'","time":"2099-01-01 00:00:00","extra":[1,{"a":2}]})");
  int64_t id = check_created(r);
  auto s = client.get("/status?id=" + std::to_string(id));
  CHECK(s.json()["task"] == "echo 'héllo ✓'");
}

TEST_CASE("the default time zone option reads times without an offset in that zone", "[e2e][api]") {
  // The zone is applied before anything is stored, so one backend is enough.
  service_fixture f("sqlite");
  auto& svc = f.svc;
  // TZ names another zone: the option, not the process's zone, must decide.
  REQUIRE(svc.start({"--default-time-zone=Asia/Kolkata"}, {{"TZ", "America/New_York"}}) == "");
  auto client = svc.client();
  struct form {
    std::string given;
    std::string stored;
  };
  for (const form& t : {form{"2024-09-22 17:00:00", "2024-09-22T11:30:00.000Z"},
                        form{"2024-09-22T17:00:00.250", "2024-09-22T11:30:00.250Z"},
                        form{"2024-09-22T17:00:00Z", "2024-09-22T17:00:00.000Z"},
                        form{"2024-09-22T17:00:00-04:00", "2024-09-22T21:00:00.000Z"}}) {
    INFO("time " << t.given);
    auto r = client.post("/taskschedulizer", task_body("true", t.given));
    int64_t id = check_created(r);
    CHECK(r.json()["time"] == t.stored);
    auto s = client.get("/status?id=" + std::to_string(id));
    REQUIRE(s.status == 200);
    CHECK(s.json()["time"] == t.stored);
  }
  // New York's gap means nothing in Kolkata.
  check_created(client.post("/taskschedulizer", task_body("true", "2024-03-10 02:30:00")));
}

TEST_CASE("an unknown --default-time-zone refuses to start", "[e2e][api]") {
  temp_dir dir;
  service svc(dir.path(), "sqlite:" + dir.file("t.db"));
  for (const char* zone : {"Mars/Olympus_Mons", "../../etc/localtime", ""}) {
    auto code = svc.run_to_exit({"--port=0", "--db=sqlite:" + dir.file("t.db"),
                                 std::string{"--default-time-zone="} + zone});
    INFO("zone \"" << zone << "\": " << svc.diagnostics());
    REQUIRE(code.has_value());
    CHECK(*code != 0);
    CHECK(svc.stdout_text().find("listening on") == std::string::npos);
    CHECK(svc.stderr_text().find("--default-time-zone") != std::string::npos);
  }
}

TEST_CASE("every row of the error table is a JSON error over real HTTP", "[e2e][api]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  auto& svc = f.svc;
  REQUIRE(svc.start({}, {{"TZ", "Europe/Berlin"}}) == "");
  auto client = svc.client();
  const std::string schedule = "/taskschedulizer";

  // invalid_json: not JSON, or not a JSON object.
  {
    for (std::string body : {"not json", "{", "[1,2]", "\"text\"", "42", "null", ""}) {
      INFO("body " << body);
      check_error(client.post(schedule, body), 400, "invalid_json");
    }
  }

  // invalid_field: task or time missing or not a string.
  for (std::string body :
       {R"({"time":"2030-01-01 00:00:00"})", R"({"task":"true"})", R"({})",
        R"({"task":1,"time":"2030-01-01 00:00:00"})", R"({"task":"true","time":5})",
        R"({"task":null,"time":"2030-01-01 00:00:00"})", R"({"task":["true"],"time":"2030-01-01 00:00:00"})"}) {
    INFO("body " << body);
    check_error(client.post(schedule, body), 400, "invalid_field");
  }

  // invalid_time: unparseable, impossible, a DST gap, out of range.
  for (std::string time :
       {"2024-02-30 10:00:00", "2024-09-22 25:00:00", "2024-09-22 17:60:00",
        "2024-13-01 00:00:00", "2023-02-29 12:00:00", "2030-03-31 02:30:00" /* DST gap */,
        "1969-12-31T23:59:59Z", "10000-01-01 00:00:00", "tomorrow", "", "2024-09-22",
        "2024-09-22 17:00:00 junk", "2024-09-22T17:00:00+25:00"}) {
    INFO("time " << time);
    check_error(client.post(schedule, task_body("true", time)), 400, "invalid_time");
  }

  // invalid_task: empty, blank, a NUL byte (\u0000 in JSON), longer than 64 KiB.
  for (std::string body : {R"({"task":"","time":"2030-01-01 00:00:00"})",
                           R"({"task":"  \t \n ","time":"2030-01-01 00:00:00"})",
                           R"({"task":"echo a\u0000b","time":"2030-01-01 00:00:00"})"}) {
    INFO("body " << body);
    check_error(client.post(schedule, body), 400, "invalid_task");
  }
  std::string at_limit = "true #" + std::string(64 * 1024 - 6, 'x');
  REQUIRE(at_limit.size() == 64 * 1024);
  check_created(client.post(schedule, task_body(at_limit, future)));
  check_error(client.post(schedule, task_body(at_limit + "x", future)), 400, "invalid_task");

  // invalid_id: missing, or not a decimal integer in 1 .. 2^63-1.
  for (std::string target :
       {"/status", "/status?id=", "/status?id=abc", "/status?id=0", "/status?id=-1",
        "/status?id=9223372036854775808", "/status?id=99999999999999999999",
        "/status?id=1.5", "/status?id=1x", "/status?other=1"}) {
    INFO("target " << target);
    check_error(client.get(target), 400, "invalid_id");
  }

  // not_found: an unknown id (including the largest valid one), an unknown path.
  check_error(client.get("/status?id=9223372036854775807"), 404, "not_found");
  check_error(client.get("/status?id=424242"), 404, "not_found");
  check_error(client.get("/nope"), 404, "not_found");
  check_error(client.get("/"), 404, "not_found");
  check_error(client.post("/taskschedulizer/extra", task_body("true", future)), 404,
              "not_found");

  // method_not_allowed, with Allow.
  {
    auto r = client.get(schedule);
    check_error(r, 405, "method_not_allowed");
    CHECK(r.header("Allow").find("POST") != std::string::npos);
    r = client.send({"DELETE", schedule, {}, {}});
    check_error(r, 405, "method_not_allowed");
    CHECK(r.header("Allow").find("POST") != std::string::npos);
    r = client.post("/status?id=1", task_body("true", future));
    check_error(r, 405, "method_not_allowed");
    CHECK(r.header("Allow").find("GET") != std::string::npos);
    r = client.send({"PUT", "/status?id=1", {}, "x"});
    check_error(r, 405, "method_not_allowed");
    CHECK(r.header("Allow").find("GET") != std::string::npos);
  }

  // Idempotency: the same key and body return the first task; another body is a 409.
  {
    std::string body = task_body("echo once", future);
    auto first = client.post(schedule, body, {{"Idempotency-Key", "key-1"}});
    int64_t id = check_created(first);
    auto again = client.post(schedule, body, {{"Idempotency-Key", "key-1"}});
    INFO(again.describe());
    CHECK((again.status == 201 || again.status == 200));
    CHECK(again.json()["id"] == id);
    check_error(client.post(schedule, task_body("echo other", future),
                            {{"Idempotency-Key", "key-1"}}),
                409, "idempotency_conflict");
    // Another key is another task.
    auto other = client.post(schedule, body, {{"Idempotency-Key", "key-2"}});
    CHECK(check_created(other) != id);
  }

  // payload_too_large above 1 MiB; just below is fine (unknown fields are ignored).
  {
    std::string small = R"({"task":"true","time":"2099-01-01 00:00:00","pad":")"
                         + std::string(1024 * 1024 - 100, 'p') + "\"}";
    REQUIRE(small.size() <= 1024 * 1024);
    check_created(client.post(schedule, small));
    std::string big = R"({"task":"true","time":"2099-01-01 00:00:00","pad":")"
                      + std::string(1024 * 1024, 'p') + "\"}";
    check_error(client.post(schedule, big), 413, "payload_too_large");
  }

  // unsupported_media_type; JSON with a charset and curl's form default are read as JSON.
  {
    std::string body = task_body("true", future);
    check_error(client.post(schedule, body, {{"Content-Type", "text/plain"}}), 415,
                "unsupported_media_type");
    check_error(client.post(schedule, body, {{"Content-Type", "application/xml"}}), 415,
                "unsupported_media_type");
    check_created(client.post(schedule, body,
                              {{"Content-Type", "application/json; charset=utf-8"}}));
    check_created(client.post(schedule, body,
                              {{"Content-Type", "application/x-www-form-urlencoded"}}));
  }

  // A malformed request may get the connection closed, but the service lives on.
  http_client raw(svc.port(), "127.0.0.1", 5s);
  raw.send_raw("THIS IS NOT HTTP\r\n\r\n");
  raw.send_raw("POST /taskschedulizer HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n{}");
  raw.send_raw("GET /status?id=1 HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n");
  auto alive = client.post(schedule, task_body("true", future));
  INFO(svc.diagnostics());
  check_created(alive);
}

TEST_CASE("an API token is required on every request when configured", "[e2e][api]") {
  auto backend = GENERATE(from_range(backend_names()));
  INFO("backend " << backend);
  service_fixture f(backend);
  auto& dir = f.dir;
  auto& svc = f.svc;
  const std::string token = "s3cret-token-0123456789";
  REQUIRE(write_file(dir.file("token"), token));
  // With a token, binding every interface is allowed (in plain HTTP only with
  // --insecure-http: test_tls_e2e has the TLS cases); the test still talks over loopback.
  REQUIRE(svc.start({"--api-token-file=" + dir.file("token"), "--bind=0.0.0.0",
                     "--insecure-http"})
          == "");
  CHECK(svc.address() == "0.0.0.0");
  auto client = svc.client();
  std::string body = task_body("true", future);

  check_error(client.post("/taskschedulizer", body), 401, "unauthorized");
  check_error(client.post("/taskschedulizer", body, {{"Authorization", "Bearer wrong"}}), 401,
              "unauthorized");
  check_error(client.post("/taskschedulizer", body, {{"Authorization", "Bearer " + token + "x"}}),
              401, "unauthorized");
  check_error(client.post("/taskschedulizer", body,
                          {{"Authorization", "Bearer " + token.substr(0, token.size() - 1)}}),
              401, "unauthorized");
  check_error(client.post("/taskschedulizer", body, {{"Authorization", "Basic " + token}}), 401,
              "unauthorized");
  check_error(client.post("/taskschedulizer", body, {{"Authorization", token}}), 401,
              "unauthorized");
  check_error(client.get("/status?id=1"), 401, "unauthorized");

  header_list auth{{"Authorization", "Bearer " + token}};
  int64_t id = check_created(client.post("/taskschedulizer", body, auth));
  auto s = client.get("/status?id=" + std::to_string(id), auth);
  INFO(s.describe());
  CHECK(s.status == 200);
  CHECK(s.json()["id"] == id);
}

TEST_CASE("binding a non-loopback address without a token is refused", "[e2e][api]") {
  temp_dir dir;
  service svc(dir.path(), "sqlite:" + dir.file("t.db"));
  auto code = svc.run_to_exit({"--port=0", "--bind=0.0.0.0", "--db=sqlite:" + dir.file("t.db")});
  INFO(svc.diagnostics());
  REQUIRE(code.has_value());
  CHECK(*code != 0);
  CHECK(svc.stdout_text().find("listening on") == std::string::npos);
  std::string err = svc.stderr_text();
  std::transform(err.begin(), err.end(), err.begin(), ::tolower);
  CHECK(err.find("token") != std::string::npos);
}

TEST_CASE("the help text lists every option", "[e2e][api]") {
  temp_dir dir;
  service svc(dir.path(), "sqlite:" + dir.file("t.db"));
  auto code = svc.run_to_exit({"--help"});
  std::string text = svc.stdout_text() + svc.stderr_text();
  INFO(text);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  for (const char* option : {"port", "bind", "db", "max-running", "shutdown-grace",
                             "api-token-file", "db-password-file", "config-file"})
    CHECK(text.find(option) != std::string::npos);
}

TEST_CASE("the example config file is read, and options in an INI file apply",
          "[e2e][api]") {
  temp_dir dir;
  service svc(dir.path(), "sqlite:" + dir.file("t.db"));
  SECTION("configs/taskschedulizer.ini, with the command line overriding it") {
    std::string ini = source_dir() + "/configs/taskschedulizer.ini";
    REQUIRE(file_exists(ini));
    REQUIRE(svc.start({"--config-file=" + ini, "--port=0", "--db=sqlite:" + dir.file("t.db")})
            == "");
    check_created(svc.client().post("/taskschedulizer", task_body("true", future)));
    CHECK(file_exists(dir.file("t.db")));
  }
  SECTION("an INI file alone") {
    REQUIRE(write_file(dir.file("my.ini"), "[global]\nport=0\nbind=\"127.0.0.1\"\ndb=\"sqlite:"
                                             + dir.file("from-ini.db")
                                             + "\"\nmax-running=4\nshutdown-grace=5\n"));
    REQUIRE(svc.start({"--config-file=" + dir.file("my.ini")}) == "");
    check_created(svc.client().post("/taskschedulizer", task_body("true", future)));
    CHECK(file_exists(dir.file("from-ini.db")));
  }
}

TEST_CASE("the database password never shows in --dump-config or start-up errors",
          "[e2e][api]") {
  temp_dir dir;
  service svc(dir.path(), "sqlite:" + dir.file("t.db"));
  const std::string secret = "Pw-5ecr3t-e2e";
  // Nothing listens on port 1: the start fails, and its message must not quote the password.
  const std::string url = "mysql://ts:" + secret + "@127.0.0.1:1/ts";

  auto dumped = svc.run_to_exit({"--db=" + url, "--dump-config"});
  std::string dump = svc.stdout_text() + svc.stderr_text();
  INFO(dump);
  REQUIRE(dumped.has_value());
  CHECK(dump.find("127.0.0.1:1/ts") != std::string::npos);  // the URL is there, masked
  CHECK(dump.find(secret) == std::string::npos);

  auto failed = svc.run_to_exit({"--port=0", "--db=" + url});
  std::string out = svc.stdout_text() + svc.stderr_text();
  INFO(out);
  REQUIRE(failed.has_value());
  CHECK(*failed != 0);
  CHECK(out.find("listening on") == std::string::npos);
  CHECK(out.find(secret) == std::string::npos);

  auto from_env = svc.run_to_exit({"--port=0", "--db=mysql://ts@127.0.0.1:1/ts"},
                                  {{"TASKSCHEDULIZER_DB_PASSWORD", secret}});
  out = svc.stdout_text() + svc.stderr_text();
  INFO(out);
  REQUIRE(from_env.has_value());
  CHECK(*from_env != 0);
  CHECK(out.find(secret) == std::string::npos);
}

TEST_CASE("the MySQL password can come from a file or the environment", "[e2e][api]") {
  auto backends = backend_names();
  if (std::find(backends.begin(), backends.end(), "mysql") == backends.end()) {
    WARN("TS_TEST_MYSQL_URL is not set: MySQL password sources not tested");
    return;
  }
  temp_dir dir;
  test_database db("mysql", dir.path());
  REQUIRE(db.error() == "");
  // mysql://USER:PASSWORD@HOST...: split off the password.
  std::string url = db.url();
  size_t colon = url.find(':', std::string("mysql://").size());
  size_t at = url.find('@');
  REQUIRE(colon < at);
  std::string password = url.substr(colon + 1, at - colon - 1);
  std::string bare = url.substr(0, colon) + url.substr(at);
  service svc(dir.path(), bare);

  // Commands must not inherit the password through the environment.
  const std::string probe = "echo \"pw=${TASKSCHEDULIZER_DB_PASSWORD:-unset}\"";
  SECTION("TASKSCHEDULIZER_DB_PASSWORD") {
    REQUIRE(svc.start({}, {{"TASKSCHEDULIZER_DB_PASSWORD", password}}) == "");
    int64_t id = check_created(svc.client().post("/taskschedulizer", task_body(probe, past)));
    auto p = poll_status(svc.client(), id, is_finished);
    INFO(p.last_raw);
    REQUIRE(p.met);
    CHECK(p.last["output"] == "pw=unset\n");
  }
  SECTION("--db-password-file") {
    REQUIRE(write_file(dir.file("pw"), password + "\n"));
    REQUIRE(svc.start({"--db-password-file=" + dir.file("pw")}) == "");
    int64_t id = check_created(svc.client().post("/taskschedulizer", task_body(probe, past)));
    auto p = poll_status(svc.client(), id, is_finished);
    INFO(p.last_raw);
    REQUIRE(p.met);
    CHECK(has_status(p.last, "success"));
  }
  SECTION("a wrong password fails the start with a non-zero exit") {
    auto code = svc.run_to_exit({"--port=0", "--db=" + bare},
                                {{"TASKSCHEDULIZER_DB_PASSWORD", password + "-wrong"}});
    INFO(svc.diagnostics());
    REQUIRE(code.has_value());
    CHECK(*code != 0);
    CHECK(svc.stderr_text().find(password + "-wrong") == std::string::npos);
  }
}
