// HTTP/1.1 as the real binary speaks it over raw sockets (issue 15): pipelined requests are
// all answered in order, requests that readers could disagree on are refused and closed,
// HEAD answers every GET route.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include <sys/resource.h>

#include "core/defaults.hpp"

#include "tests/e2e/service.hpp"

using namespace ts::e2e;
using ts::test_http::connection;
using nlohmann::json;

namespace {

const std::string healthz = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

std::string create_request(const std::string& body) {
  return "POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "Content-Length: "
         + std::to_string(body.size()) + "\r\n\r\n" + body;
}

} // namespace

TEST_CASE("http e2e: pipelined requests are all answered, in order", "[e2e][http]") {
  service_fixture f("sqlite");
  REQUIRE(f.svc.start() == "");
  INFO(f.svc.diagnostics());
  connection c{f.svc.port()};
  // Three answered inside the handler, in one write.
  REQUIRE(c.send_bytes(healthz + healthz + healthz) == "");
  for (int i = 0; i < 3; ++i) {
    auto r = c.read_response();
    INFO("response " << i << ": " << r.describe());
    REQUIRE(r.ok());
    CHECK(r.status == 200);
  }
  // Two of those, then a create that the actors answer: the create is stored and answered.
  auto body = json{{"command", "true"}, {"name", "pipelined"},
                   {"schedule", {{"at", "2099-01-01T00:00:00Z"}}}}
                .dump();
  REQUIRE(c.send_bytes(healthz + healthz + create_request(body)) == "");
  CHECK(c.read_response().status == 200);
  CHECK(c.read_response().status == 200);
  auto created = c.read_response();
  INFO(created.describe());
  REQUIRE(created.status == 201);
  auto id = created.json()["id"].get<int64_t>();
  CHECK(get_ok(f.svc.client(), "/v1/tasks/" + std::to_string(id))["name"] == "pipelined");
  // And an error between two answers keeps its place.
  REQUIRE(c.send_bytes(healthz + "GET /v1/tasks/x HTTP/1.1\r\nHost: x\r\n\r\n" + healthz) == "");
  CHECK(c.read_response().status == 200);
  CHECK(c.read_response().status == 400);
  CHECK(c.read_response().status == 200);
}

TEST_CASE("http e2e: a request line without a version, or a space before a colon, is a 400",
          "[e2e][http]") {
  service_fixture f("sqlite");
  REQUIRE(f.svc.start() == "");
  INFO(f.svc.diagnostics());
  for (std::string bytes : {std::string{"GET /healthz\r\n\r\n"},
                            std::string{"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n"}}) {
    INFO(bytes);
    connection c{f.svc.port()};
    auto r = c.exchange(bytes);
    INFO(r.describe());
    CHECK(r.status == 400);
    CHECK(r.error_code() == "malformed_request");
    CHECK(r.header("Connection") == "close");
  }
  // A proper request still works.
  connection d{f.svc.port()};
  CHECK(d.exchange(healthz).status == 200);
}

TEST_CASE("http e2e: HEAD answers every GET route with the GET's head and no body",
          "[e2e][http]") {
  service_fixture f("sqlite");
  REQUIRE(f.svc.start() == "");
  INFO(f.svc.diagnostics());
  auto client = f.svc.client();
  auto t = create_v1_task(client, {{"command", "true"}, {"schedule", {{"at", "2099-01-01T00:00:00Z"}}}});
  auto task_path = "/v1/tasks/" + std::to_string(t["id"].get<int64_t>());
  for (std::string path : {std::string{"/healthz"}, std::string{"/v1/tasks"}, task_path,
                           std::string{"/v1/openapi.json"}}) {
    INFO(path);
    connection c{f.svc.port()};
    auto get = c.exchange("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(get.status == 200);
    auto head = c.exchange("HEAD " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
    INFO(head.describe());
    CHECK(head.status == 200);
    CHECK(head.body.empty());
    CHECK(head.header("Content-Type") == get.header("Content-Type"));
    CHECK(head.header("Content-Length") == std::to_string(get.body.size()));
    // The connection is still in step: the next answer is the next request's.
    CHECK(c.exchange(healthz).status == 200);
  }
  // HEAD where GET is not allowed is still a 405.
  connection c{f.svc.port()};
  auto r = c.exchange("HEAD " + task_path + "/cancel HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(r.status == 405);
  CHECK(r.body.empty());
}

TEST_CASE("http e2e: an idle keep-alive connection is closed after --idle-timeout",
          "[e2e][http]") {
  service_fixture f("sqlite");
  REQUIRE(f.svc.start({"--idle-timeout=1"}) == "");
  INFO(f.svc.diagnostics());
  connection c{f.svc.port()};
  REQUIRE(c.exchange(healthz).status == 200);
  auto idle_from = std::chrono::steady_clock::now();
  // Blocks until the server closes the connection (at most the client's 15 s).
  CHECK(c.closed_by_peer());
  auto idle = std::chrono::steady_clock::now() - idle_from;
  CHECK(idle >= std::chrono::milliseconds(500));
  CHECK(idle < std::chrono::seconds(10));
}

TEST_CASE("http e2e: HTTP bounds out of range refuse to start", "[e2e][http]") {
  temp_dir dir;
  service svc(dir.path(), "sqlite:" + dir.file("t.db"));
  for (std::string bad : {"--max-connections=0", "--max-in-flight=0", "--header-timeout=0",
                          "--header-timeout=3601", "--idle-timeout=0", "--idle-timeout=3601",
                          "--http-nice=20"}) {
    auto code = svc.run_to_exit({"--port=0", "--db=sqlite:" + dir.file("t.db"), bad});
    INFO(bad << ": " << svc.diagnostics());
    REQUIRE(code.has_value());
    CHECK(*code != 0);
    CHECK(svc.stdout_text().find("listening on") == std::string::npos);
    CHECK(svc.stderr_text().find(bad.substr(0, bad.find('='))) != std::string::npos);
  }
}

namespace {

/// How many of the process's threads run at this niceness (/proc/PID/task/TID/stat, field
/// 19; the command name in field 2 is in parentheses and may hold spaces).
size_t threads_at_nice(pid_t pid, long nice) {
  size_t n = 0;
  auto dir = "/proc/" + std::to_string(pid) + "/task";
  for (auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto close = stat.rfind(')');
    if (close == std::string::npos)
      continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string f;
    // Fields 3..19: state is the first after the name, niceness the 17th.
    for (int i = 3; i <= 19 && fields >> f; ++i)
      if (i == 19 && std::stol(f) == nice)
        ++n;
  }
  return n;
}

} // namespace

TEST_CASE("http e2e: the HTTP threads run at --http-nice, and the rest of the process does not",
          "[e2e][http]") {
  service_fixture f("sqlite");
  REQUIRE(f.svc.start({"--http-threads=3"}) == "");
  INFO(f.svc.diagnostics());
  // The default, above the niceness the service was started with (the test's own, which
  // `nice -n` may have raised); every other thread (actors, the store, the timer) keeps it.
  errno = 0;
  long base = getpriority(PRIO_PROCESS, 0);
  REQUIRE(errno == 0);
  long http = std::min(19L, base + static_cast<long>(ts::defaults::http_nice));
  if (http == base)
    SUCCEED("started at niceness 19: nothing can be nicer");
  else
    CHECK(threads_at_nice(f.svc.pid(), http) == 3);
  CHECK(threads_at_nice(f.svc.pid(), base) >= 2);
  // The commands start from the actor threads, so they keep the service's own niceness.
  auto c = f.svc.client();
  auto id = create_v1_task(c, {{"command", "cut -d' ' -f19 /proc/self/stat"},
                               {"schedule", {{"at", format_utc_ms(now_ms() + 300)}}}})["id"]
              .get<int64_t>();
  std::string output;
  REQUIRE(wait_until([&] {
    auto runs = get_ok(c, "/v1/tasks/" + std::to_string(id) + "/runs")["items"];
    if (runs.empty() || runs[0]["status"] != "success")
      return false;
    output = runs[0]["output"].get<std::string>();
    return true;
  }, 10s));
  CHECK(output == std::to_string(base) + "\n");
}

TEST_CASE("http e2e: --http-nice=0 leaves every thread as it is", "[e2e][http]") {
  service_fixture f("sqlite");
  REQUIRE(f.svc.start({"--http-nice=0"}) == "");
  INFO(f.svc.diagnostics());
  errno = 0;
  long base = getpriority(PRIO_PROCESS, 0);
  REQUIRE(errno == 0);
  auto dir = "/proc/" + std::to_string(f.svc.pid()) + "/task";
  auto all = static_cast<size_t>(std::distance(std::filesystem::directory_iterator(dir),
                                               std::filesystem::directory_iterator{}));
  CHECK(all > 4);
  CHECK(threads_at_nice(f.svc.pid(), base) == all);
}
