// The real binary judging requests from their heads (http/guarded_socket.hpp), over raw
// loopback sockets: Expect: 100-continue, refusals before the body, the head limits, the
// header timeout, --max-connections, and the memory that refused bodies cost.
#include <catch2/catch.hpp>

#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/service.hpp"

using namespace ts::e2e;
using ts::test_http::connection;

namespace {

const std::string guard_task_body = R"({"command": "true", "schedule": {"at": "2099-01-01T00:00:00Z"}})";

std::string post_head(const std::string& extra, size_t length) {
  return "POST /v1/tasks HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n" + extra
         + "Content-Length: " + std::to_string(length) + "\r\n\r\n";
}

void check_refusal(const http_response& r, int status, const std::string& code) {
  INFO(r.describe());
  REQUIRE(r.ok());
  CHECK(r.status == status);
  CHECK(r.error_code() == code);
  CHECK(r.header("Connection") == "close");
}

// Resident memory of a process in KiB, from /proc.
long rss_kib(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string key;
  long value = 0;
  while (in >> key) {
    if (key == "VmRSS:") {
      in >> value;
      return value;
    }
    in.ignore(4096, '\n');
  }
  return -1;
}

} // namespace

TEST_CASE("guard: Expect 100-continue gets 100, then the answer", "[api][guard]") {
  service_fixture f{"sqlite"};
  REQUIRE(f.svc.start() == "");
  connection c{f.svc.port()};
  c.keep_interim(true);
  REQUIRE(c.send_bytes(post_head("Expect: 100-continue\r\n", guard_task_body.size())) == "");
  auto interim = c.read_response();
  INFO(interim.describe());
  REQUIRE(interim.ok());
  CHECK(interim.status == 100);
  REQUIRE(c.send_bytes(guard_task_body) == "");
  auto r = c.read_response();
  INFO(r.describe());
  CHECK(r.status == 201);
}

TEST_CASE("guard: Expect with a wrong token gets 401 at once, without a 100", "[api][guard]") {
  service_fixture f{"sqlite"};
  std::ofstream{f.dir.file("token")} << "secret\n";
  REQUIRE(f.svc.start({"--api-token-file=" + f.dir.file("token")}) == "");
  connection c{f.svc.port()};
  c.keep_interim(true);
  auto r = c.exchange(post_head("Authorization: Bearer wrong\r\nExpect: 100-continue\r\n",
                                guard_task_body.size()));
  check_refusal(r, 401, "unauthorized");
}

TEST_CASE("guard: a declared 8 MiB body gets 413 before it is sent", "[api][guard]") {
  service_fixture f{"sqlite"};
  REQUIRE(f.svc.start() == "");
  connection c{f.svc.port()};
  auto r = c.exchange(post_head("", 8 * 1024 * 1024));
  check_refusal(r, 413, "payload_too_large");
  // A chunked body is refused once it passes 1 MiB.
  connection chunked{f.svc.port()};
  std::string head = "POST /v1/tasks HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n";
  std::string chunk = "40000\r\n" + std::string(0x40000, ' ') + "\r\n";
  std::string bytes = head;
  for (int i = 0; i < 5; ++i)
    bytes += chunk;
  check_refusal(chunked.exchange(bytes), 413, "payload_too_large");
}

TEST_CASE("guard: more than 100 header fields or 16 KiB of head get 431", "[api][guard]") {
  service_fixture f{"sqlite"};
  REQUIRE(f.svc.start() == "");
  std::string many = "GET /healthz HTTP/1.1\r\nHost: t\r\n";
  for (int i = 0; i < 100; ++i)
    many += "X-Field-" + std::to_string(i) + ": v\r\n";
  connection a{f.svc.port()};
  check_refusal(a.exchange(many + "\r\n"), 431, "header_too_large");
  connection b{f.svc.port()};
  check_refusal(b.exchange("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(17 * 1024, 'a')
                           + "\r\n\r\n"),
                431, "header_too_large");
  // Within the limits the same connection serves request after request.
  connection ok{f.svc.port()};
  for (int i = 0; i < 3; ++i)
    CHECK(ok.get("/healthz").status == 200);
}

TEST_CASE("guard: a head trickled past --header-timeout gets 408", "[api][guard]") {
  service_fixture f{"sqlite"};
  REQUIRE(f.svc.start({"--header-timeout=1"}) == "");
  connection c{f.svc.port()};
  std::string head = "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ";
  auto start = std::chrono::steady_clock::now();
  REQUIRE(c.send_bytes(head) == "");
  // A byte every 200 ms, at most 15 of them: the 1 s limit ends it first.
  for (int i = 0; i < 15 && std::chrono::steady_clock::now() - start < 3s; ++i) {
    std::this_thread::sleep_for(200ms);
    if (!c.send_bytes("a").empty())
      break;
  }
  auto r = c.read_response();
  check_refusal(r, 408, "request_timeout");
  CHECK(std::chrono::steady_clock::now() - start < 5s);
}

TEST_CASE("guard: beyond --max-connections, 503 overloaded with Retry-After", "[api][guard]") {
  service_fixture f{"sqlite"};
  REQUIRE(f.svc.start({"--max-connections=2"}) == "");
  connection a{f.svc.port()};
  connection b{f.svc.port()};
  REQUIRE(a.get("/healthz").status == 200);
  REQUIRE(b.get("/healthz").status == 200);
  connection c{f.svc.port()};
  auto r = c.get("/healthz");
  check_refusal(r, 503, "overloaded");
  CHECK(r.header("Retry-After") == "1");
  // A closed connection frees its place.
  a.send_bytes("GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  CHECK(a.read_response().status == 200);
  CHECK(wait_until([&] {
    connection d{f.svc.port()};
    return d.get("/healthz").status == 200;
  }, 5s, 100ms));
}

TEST_CASE("guard: 30 connections declaring large bodies cost no memory", "[api][guard]") {
  service_fixture f{"sqlite"};
  REQUIRE(f.svc.start() == "");
  // Warm up: the first connections allocate the server's own buffers.
  connection warm{f.svc.port()};
  REQUIRE(warm.get("/healthz").status == 200);
  long before = rss_kib(f.svc.pid());
  REQUIRE(before > 0);
  std::vector<std::unique_ptr<connection>> conns;
  std::string body_piece(1024 * 1024, ' ');
  for (int i = 0; i < 30; ++i) {
    conns.push_back(std::make_unique<connection>(f.svc.port(), "127.0.0.1", 5s));
    // 8 MiB declared, 1 MiB sent straight after the head (as a client that does not wait
    // for 100 Continue): the server may close while it is sent.
    conns.back()->send_bytes(post_head("", 8 * 1024 * 1024) + body_piece);
  }
  int refused = 0;
  for (auto& c : conns)
    refused += c->read_response().status == 413;
  long after = rss_kib(f.svc.pid());
  INFO("RSS before " << before << " KiB, after " << after << " KiB");
  CHECK(refused == 30);
  // Before the guard each of them buffered up to 8 MiB (28 -> 266 MiB for 30).
  CHECK(after - before < 16 * 1024);
  WARN("RSS with 30 large-body connections: " << before << " -> " << after << " KiB");
}
