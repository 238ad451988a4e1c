// The real binary serving HTTPS (--tls-cert-file, --tls-key-file) with a throwaway CA and
// server certificate for 127.0.0.1 that each test makes with the openssl command: the API
// over TLS, the versions and ciphers refused, a plain-HTTP client served nothing, the head
// judge and the header timeout over TLS (and before the handshake), the key file's
// permissions, a mismatched key, and what a non-loopback bind requires.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <openssl/ssl.h>

#include <cctype>
#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/service.hpp"
#include "tests/e2e/test_pki.hpp"

using namespace ts::e2e;
using ts::test_http::connection;
using ts::test_http::tls_context;
using ts::test_http::tls_setup;

namespace {

std::shared_ptr<tls_context> client_tls(tls_setup setup) {
  std::string error;
  auto ctx = ts::test_http::make_tls_context(setup, error);
  INFO(error);
  REQUIRE(ctx);
  return ctx;
}

/// A client that trusts the test CA, as a real one would.
std::shared_ptr<tls_context> trusting(const test_pki& pki) {
  tls_setup s;
  s.ca_file = pki.ca_cert;
  return client_tls(s);
}

/// The error of a handshake made with `setup`: "" when it succeeded.
std::string handshake_error(uint16_t port, tls_setup setup) {
  connection c{port, "127.0.0.1", 15s, client_tls(std::move(setup))};
  return c.send_bytes("");
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// Runs the binary with `args` to its exit; REQUIREs a refusal whose stderr holds `words`.
void check_refused(const std::vector<std::string>& args, const std::string& words) {
  temp_dir dir;
  service svc(dir.path(), "sqlite:" + dir.file("t.db"));
  std::vector<std::string> all{"--port=0", "--db=sqlite:" + dir.file("t.db"),
                               "--run-as=" + current_user()};
  all.insert(all.end(), args.begin(), args.end());
  auto code = svc.run_to_exit(all);
  INFO(svc.diagnostics());
  REQUIRE(code.has_value());
  CHECK(*code != 0);
  CHECK(svc.stdout_text().find("listening on") == std::string::npos);
  CHECK(lower(svc.stderr_text()).find(words) != std::string::npos);
  // The database was never opened: the refusal comes before anything else starts.
  CHECK_FALSE(file_exists(dir.file("t.db")));
}

} // namespace

TEST_CASE("tls: a client that trusts the CA creates and reads a task over HTTPS",
          "[e2e][tls]") {
  service_fixture f{"sqlite"};
  test_pki pki{f.dir};
  REQUIRE(f.svc.start(pki.flags()) == "");
  http_client client{f.svc.port(), "127.0.0.1", 15s, trusting(pki)};
  CHECK(client.get("/healthz").status == 200);
  auto ready = client.get("/readyz");
  INFO(ready.describe());
  CHECK(ready.status == 200);
  auto task = create_v1_task(client, {{"command", "echo over-tls"}});
  int64_t id = task["id"].get<int64_t>();
  auto done = wait_task(client, id, [](const nlohmann::json& t) {
    return t["state"] == "completed";
  });
  CHECK(done["latest_run"]["output"] == "over-tls\n");
  // The legacy endpoint's Location stays relative, so it is right under any scheme.
  auto legacy = client.post("/taskschedulizer", task_body("true", "2099-01-01 00:00:00"));
  INFO(legacy.describe());
  CHECK(legacy.status == 201);
  CHECK(legacy.header("Location").rfind("/status?id=", 0) == 0);
  // Keep-alive and pipelining go through the TLS stream as through the socket.
  connection kept{f.svc.port(), "127.0.0.1", 15s, trusting(pki)};
  REQUIRE(kept.send_bytes("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /v1/tasks/"
                          + std::to_string(id) + " HTTP/1.1\r\nHost: t\r\n\r\n")
          == "");
  CHECK(kept.read_response().status == 200);
  auto second = kept.read_response();
  CHECK(second.status == 200);
  CHECK(second.json()["id"] == id);
  CHECK(f.svc.stderr_text().find("tls=on") != std::string::npos);
}

TEST_CASE("tls: TLS 1.1 and a TLS 1.2 cipher without AEAD are refused", "[e2e][tls]") {
  service_fixture f{"sqlite"};
  test_pki pki{f.dir};
  REQUIRE(f.svc.start(pki.flags()) == "");
  auto port = f.svc.port();
  SECTION("TLS 1.1 (offered for real: security level 0 lets OpenSSL 3 send it)") {
    tls_setup s;
    s.min_version = TLS1_1_VERSION;
    s.max_version = TLS1_1_VERSION;
    s.ciphers = "DEFAULT:@SECLEVEL=0";
    auto err = handshake_error(port, s);
    INFO(err);
    CHECK(err.find("tls handshake") != std::string::npos);
    CHECK(lower(err).find("protocol version") != std::string::npos);
  }
  SECTION("TLS 1.2 with CBC ciphers only") {
    tls_setup s;
    s.max_version = TLS1_2_VERSION;
    s.ciphers = "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA";
    auto err = handshake_error(port, s);
    INFO(err);
    CHECK(err.find("tls handshake") != std::string::npos);
    CHECK(lower(err).find("handshake failure") != std::string::npos);
  }
  SECTION("TLS 1.2 with ECDHE and AES-GCM is served, and TLS 1.3") {
    tls_setup s;
    s.ca_file = pki.ca_cert;
    s.max_version = TLS1_2_VERSION;
    s.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
    CHECK(handshake_error(port, s) == "");
    s.min_version = TLS1_3_VERSION;
    s.max_version = TLS1_3_VERSION;
    CHECK(handshake_error(port, s) == "");
  }
  // The refused handshakes cost the service nothing it keeps.
  http_client client{port, "127.0.0.1", 15s, trusting(pki)};
  CHECK(client.get("/healthz").status == 200);
}

TEST_CASE("tls: a plain-HTTP client to the TLS port is served nothing", "[e2e][tls]") {
  service_fixture f{"sqlite"};
  test_pki pki{f.dir};
  REQUIRE(f.svc.start(pki.flags()) == "");
  http_client plain{f.svc.port(), "127.0.0.1", 5s};
  auto r = plain.post("/v1/tasks", R"({"command": "touch created"})");
  INFO(r.describe());
  CHECK_FALSE(r.ok());
  CHECK(r.status == 0);
  CHECK(r.body.find("HTTP/") == std::string::npos);
  // Nothing was created: the TLS client sees no task, and the command never ran.
  http_client client{f.svc.port(), "127.0.0.1", 15s, trusting(pki)};
  auto list = get_ok(client, "/v1/tasks");
  CHECK(list["items"].empty());
  CHECK_FALSE(file_exists(f.dir.file("created")));
}

TEST_CASE("tls: the head judge refuses over TLS (401 with a token, 413 declared)",
          "[e2e][tls][guard]") {
  service_fixture f{"sqlite"};
  test_pki pki{f.dir};
  REQUIRE(write_file(f.dir.file("token"), "tls-secret\n"));
  auto flags = pki.flags();
  flags.push_back("--api-token-file=" + f.dir.file("token"));
  REQUIRE(f.svc.start(flags) == "");
  auto tls = trusting(pki);
  auto check_refusal = [](const http_response& r, int status, const std::string& code) {
    INFO(r.describe());
    REQUIRE(r.ok());
    CHECK(r.status == status);
    CHECK(r.error_code() == code);
    CHECK(r.header("Connection") == "close");
  };
  connection unauthorized{f.svc.port(), "127.0.0.1", 15s, tls};
  check_refusal(unauthorized.exchange("POST /v1/tasks HTTP/1.1\r\nHost: t\r\n"
                                      "Content-Type: application/json\r\n"
                                      "Expect: 100-continue\r\nContent-Length: 20\r\n\r\n"),
                401, "unauthorized");
  connection large{f.svc.port(), "127.0.0.1", 15s, tls};
  check_refusal(large.exchange("POST /v1/tasks HTTP/1.1\r\nHost: t\r\n"
                               "Authorization: Bearer tls-secret\r\n"
                               "Content-Type: application/json\r\n"
                               "Content-Length: 8388608\r\n\r\n"),
                413, "payload_too_large");
  // Expect: 100-continue with a head that passes gets its 100 over TLS too.
  connection expecting{f.svc.port(), "127.0.0.1", 15s, tls};
  expecting.keep_interim(true);
  std::string body = R"({"command": "true", "schedule": {"at": "2099-01-01T00:00:00Z"}})";
  REQUIRE(expecting.send_bytes("POST /v1/tasks HTTP/1.1\r\nHost: t\r\n"
                               "Authorization: Bearer tls-secret\r\n"
                               "Content-Type: application/json\r\nExpect: 100-continue\r\n"
                               "Content-Length: "
                               + std::to_string(body.size()) + "\r\n\r\n")
          == "");
  CHECK(expecting.read_response().status == 100);
  REQUIRE(expecting.send_bytes(body) == "");
  CHECK(expecting.read_response().status == 201);
}

TEST_CASE("tls: --header-timeout bounds the handshake and the head after it",
          "[e2e][tls][guard]") {
  service_fixture f{"sqlite"};
  test_pki pki{f.dir};
  auto flags = pki.flags();
  flags.push_back("--header-timeout=1");
  REQUIRE(f.svc.start(flags) == "");
  SECTION("a client that connects and never handshakes is closed") {
    connection silent{f.svc.port(), "127.0.0.1", 10s};
    auto start = std::chrono::steady_clock::now();
    REQUIRE(silent.send_bytes("") == "");
    CHECK(silent.closed_by_peer());
    auto took = std::chrono::steady_clock::now() - start;
    CHECK(took >= 900ms);
    CHECK(took < 4s);
  }
  SECTION("a client that handshakes and sends no head gets 408 over TLS") {
    connection idle{f.svc.port(), "127.0.0.1", 10s, trusting(pki)};
    auto start = std::chrono::steady_clock::now();
    REQUIRE(idle.send_bytes("GET /healthz HTTP/1.1\r\n") == "");
    auto r = idle.read_response();
    INFO(r.describe());
    CHECK(r.status == 408);
    CHECK(r.error_code() == "request_timeout");
    CHECK(std::chrono::steady_clock::now() - start < 4s);
  }
  // The service goes on serving.
  http_client client{f.svc.port(), "127.0.0.1", 15s, trusting(pki)};
  CHECK(client.get("/healthz").status == 200);
}

TEST_CASE("tls: a bad key file refuses the start", "[e2e][tls]") {
  temp_dir dir;
  test_pki pki{dir};
  SECTION("readable by others") {
    REQUIRE(::chmod(pki.key.c_str(), 0644) == 0);
    check_refused(pki.flags(), "chmod 600");
  }
  SECTION("readable by the group") {
    REQUIRE(::chmod(pki.key.c_str(), 0640) == 0);
    check_refused(pki.flags(), "accessible to other users");
  }
  SECTION("not the certificate's key") {
    check_refused({"--tls-cert-file=" + pki.cert, "--tls-key-file=" + pki.other_key},
                  "does not match");
  }
  SECTION("not a key at all") {
    REQUIRE(write_file(dir.file("junk.key"), "not a key\n"));
    REQUIRE(::chmod(dir.file("junk.key").c_str(), 0600) == 0);
    check_refused({"--tls-cert-file=" + pki.cert, "--tls-key-file=" + dir.file("junk.key")},
                  "cannot load the tls private key");
  }
  SECTION("a certificate file that is missing or not PEM") {
    check_refused({"--tls-cert-file=" + dir.file("missing.crt"), "--tls-key-file=" + pki.key},
                  "cannot read the tls certificate file");
    check_refused({"--tls-cert-file=" + pki.other_key, "--tls-key-file=" + pki.key},
                  "cannot load the tls certificate chain");
  }
  SECTION("one of the two flags alone") {
    check_refused({"--tls-cert-file=" + pki.cert}, "go together");
  }
}

TEST_CASE("tls: a non-loopback bind needs a token and TLS, or --insecure-http",
          "[e2e][tls]") {
  temp_dir dir;
  test_pki pki{dir};
  REQUIRE(write_file(dir.file("token"), "bind-secret\n"));
  std::string token = "--api-token-file=" + dir.file("token");
  SECTION("a token without TLS is refused") {
    check_refused({"--bind=0.0.0.0", token}, "without tls");
  }
  SECTION("TLS without a token is refused") {
    auto args = pki.flags();
    args.push_back("--bind=0.0.0.0");
    check_refused(args, "token");
  }
  SECTION("a token and --insecure-http start, in plain HTTP") {
    service_fixture f{"sqlite"};
    REQUIRE(f.svc.start({"--bind=0.0.0.0", token, "--insecure-http"}) == "");
    CHECK(f.svc.address() == "0.0.0.0");
    auto r = f.svc.client().get("/v1/tasks", {{"Authorization", "Bearer bind-secret"}});
    INFO(r.describe());
    CHECK(r.status == 200);
  }
  SECTION("a token and TLS start, in HTTPS") {
    service_fixture f{"sqlite"};
    auto args = pki.flags();
    args.push_back("--bind=0.0.0.0");
    args.push_back(token);
    REQUIRE(f.svc.start(args) == "");
    CHECK(f.svc.address() == "0.0.0.0");
    http_client client{f.svc.port(), "127.0.0.1", 15s, trusting(pki)};
    auto r = client.get("/v1/tasks", {{"Authorization", "Bearer bind-secret"}});
    INFO(r.describe());
    CHECK(r.status == 200);
    CHECK(client.get("/v1/tasks").status == 401);
  }
}

TEST_CASE("tls: the README's set-up works as written", "[e2e][tls]") {
  if (run_command({"curl", "--version"}, {}, 10s).exit_code != 0) {
    WARN("curl is not installed: the README's TLS example was not run");
    return;
  }
  // The commands of the security section's TLS example, in order.
  auto lines = readme_block("**TLS and `--insecure-http`**");
  REQUIRE(lines.size() == 5);
  REQUIRE(lines[3].rfind("scripts/run ", 0) == 0);
  REQUIRE(lines[4].rfind("curl ", 0) == 0);
  service_fixture f{"sqlite"};
  for (size_t i = 0; i < 3; ++i) {
    auto r = run_command({"sh", "-c", "cd " + sh_quote(f.dir.path()) + " && " + lines[i]});
    INFO(lines[i] << "\n" << r.output);
    REQUIRE(r.exit_code == 0);
  }
  // scripts/run's arguments go to the binary; the port is the test's own.
  std::vector<std::string> args;
  std::istringstream words{lines[3].substr(std::string{"scripts/run "}.size())};
  for (std::string w; words >> w;)
    args.push_back(w);
  REQUIRE(f.svc.start(args) == "");
  auto curl = lines[4];
  auto at = curl.find(":8081/");
  REQUIRE(at != std::string::npos);
  curl.replace(at, 6, ":" + std::to_string(f.svc.port()) + "/");
  // A fresh database: status?id=1 is a 404, which says the request went through.
  auto r = run_command({"sh", "-c", "cd " + sh_quote(f.dir.path()) + " && " + curl
                                      + " -sS -o /dev/null -w '%{http_code}'"});
  INFO(curl << "\n" << r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output == "404");
}
