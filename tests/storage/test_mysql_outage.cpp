// Outages at the store level, against real MariaDB servers: stopped, frozen (SIGSTOP) and
// never there; and what only the MySQL backend must get right on its own (exact keys). Each case that needs a server starts a private one (scripts/mariadb) on its
// own data directory and port, because stopping or freezing the shared test server would
// break the suites that run beside this one (ctest -j). Those cases run only where
// TS_TEST_MARIADB_DIR is set (scripts/test sets it: a MariaDB server can run here).
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <mysql.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/error.hpp"
#include "storage/db_url.hpp"
#include "tests/support/store_test_support.hpp"
#include "storage/store.hpp"

using namespace ts;
using ts::test::code_of;
using ts::test::ok;
using ts::storage::open_store;
using ts::storage::store;
using ts::storage::store_options;

namespace fs = std::filesystem;

namespace {

using steady = std::chrono::steady_clock;

// Not the user's or the database's name, so that finding it in a message means a leak.
constexpr const char* secret = "Zq8-outage-S3cret";

double seconds_since(steady::time_point t0) {
  return std::chrono::duration<double>(steady::now() - t0).count();
}

/// An unavailable error that names where the server is and never the password.
void check_unavailable(const caf::error& err, const std::string& where) {
  REQUIRE(err);
  INFO(render(err));
  CHECK(code_of(err) == ec::unavailable);
  CHECK(render(err).find(secret) == std::string::npos);
  CHECK(render(err).find(where) != std::string::npos);
}

/// A loopback port with nobody listening at the moment.
unsigned free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string script() {
  return (fs::path{TS_SOURCE_DIR} / "scripts" / "mariadb").string();
}

bool mariadb_tests_enabled() {
  const char* dir = std::getenv("TS_TEST_MARIADB_DIR");
  return dir != nullptr && *dir != '\0';
}

/// A private MariaDB server for one test case, with a user whose password is `secret`.
class private_server {
public:
  private_server() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/ts-outage-XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    dir_ = tmpl;
    // A port can be taken between the probe and the start: try a few.
    bool started = false;
    for (int attempt = 0; attempt < 3 && !started; ++attempt) {
      port_ = free_port();
      started = sh("start " + dir_ + " " + std::to_string(port_) + " >/dev/null") == 0;
    }
    REQUIRE(started);
    auto sql = "CREATE USER 'outage'@'127.0.0.1' IDENTIFIED BY '" + std::string{secret}
               + "'; GRANT ALL ON ts.* TO 'outage'@'127.0.0.1';";
    REQUIRE(std::system(("mariadb --no-defaults --socket=" + dir_ + "/mysqld.sock -uroot -e \""
                         + sql + "\"")
                          .c_str())
            == 0);
  }

  private_server(const private_server&) = delete;
  private_server& operator=(const private_server&) = delete;

  ~private_server() {
    sh("stop " + dir_);
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::string url() const {
    return "mysql://outage:" + std::string{secret} + "@127.0.0.1:" + std::to_string(port_)
           + "/ts";
  }

  /// How errors name the server.
  std::string where() const {
    return "127.0.0.1:" + std::to_string(port_);
  }

  void stop() {
    REQUIRE(sh("stop " + dir_) == 0);
  }
  void restart() {
    REQUIRE(sh("restart " + dir_ + " >/dev/null") == 0);
  }
  void pause() {
    REQUIRE(sh("pause " + dir_) == 0);
  }
  void resume() {
    REQUIRE(sh("resume " + dir_) == 0);
  }

private:
  int sh(const std::string& args) {
    return std::system((script() + " " + args).c_str());
  }

  std::string dir_;
  unsigned port_ = 0;
};

new_task make_task(std::string command, millis due,
                   std::optional<std::string> key = std::nullopt) {
  new_task t;
  t.command = std::move(command);
  t.due = due;
  t.created_at = due - 1000;
  t.request_hash = key ? "h" : "";
  t.idempotency_key = std::move(key);
  return t;
}

task_record insert(store& s, const new_task& t) {
  ok(s.begin());
  auto r = s.insert_task(t);
  if (!r)
    s.rollback();
  auto rec = ok(std::move(r));
  ok(s.commit());
  return rec;
}

/// Reconnects, retrying a few times: a freshly started server may still be warming up.
void reconnect_soon(store& s) {
  caf::error err;
  for (int i = 0; i < 20; ++i) {
    err = s.reconnect();
    if (!err)
      return;
    usleep(250 * 1000);
  }
  FAIL("reconnect kept failing: " << render(err));
}

/// A database of its own on the shared test server (TS_TEST_MYSQL_URL), dropped afterwards:
/// the conformance suite wipes the URL's database before each of its cases, and those run
/// beside this one.
class own_database {
public:
  explicit own_database(const std::string& url) {
    auto parsed = ts::storage::parse_db_url(url);
    REQUIRE(parsed);
    name_ = "ts_keys_" + std::to_string(getpid());
    conn_ = mysql_init(nullptr);
    REQUIRE(conn_);
    unsigned timeout = 5;
    mysql_options(conn_, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    auto connected = mysql_real_connect(conn_, parsed->host.c_str(), parsed->user.c_str(),
                                        parsed->password.c_str(), nullptr, parsed->port,
                                        parsed->socket.empty() ? nullptr
                                                               : parsed->socket.c_str(),
                                        0);
    INFO(mysql_error(conn_));
    REQUIRE(connected);
    exec("DROP DATABASE IF EXISTS " + name_);
    exec("CREATE DATABASE " + name_);
    // Same URL, other database: the path is what follows the authority, up to any query.
    auto query = url.find('?');
    auto slash = url.rfind('/', query == std::string::npos ? url.size() : query);
    url_ = url.substr(0, slash + 1) + name_
           + (query == std::string::npos ? "" : url.substr(query));
  }

  own_database(const own_database&) = delete;
  own_database& operator=(const own_database&) = delete;

  ~own_database() {
    mysql_query(conn_, ("DROP DATABASE IF EXISTS " + name_).c_str());
    mysql_close(conn_);
  }

  const std::string& url() const {
    return url_;
  }

private:
  void exec(const std::string& sql) {
    auto rc = mysql_query(conn_, sql.c_str());
    INFO(sql << ": " << mysql_error(conn_));
    REQUIRE(rc == 0);
  }

  MYSQL* conn_ = nullptr;
  std::string name_;
  std::string url_;
};

} // namespace

TEST_CASE("mysql: idempotency keys match byte for byte", "[store][mysql]") {
  const char* url = std::getenv("TS_TEST_MYSQL_URL");
  if (url == nullptr || *url == '\0') {
    WARN("skipped: set TS_TEST_MYSQL_URL to run MariaDB cases");
    return;
  }
  own_database db{url};
  auto s = ok(open_store(db.url()));
  // Each differs from "key" only in a way a collation could forgive.
  const std::string keys[] = {"key", "key ", "KEY", "key\t", "k\xC3\xA9y", "ke\xCC\x81y"};
  std::vector<task_id> ids;
  for (auto& k : keys) {
    auto rec = insert(*s, make_task("echo " + k, 1000, k));
    CHECK_FALSE(rec.replayed);
    ids.push_back(rec.id);
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    CAPTURE(i);
    auto again = insert(*s, make_task("echo " + keys[i], 1000, keys[i]));
    CHECK(again.replayed);
    CHECK(again.id == ids[i]);
    CHECK(again.command == "echo " + keys[i]);
  }
}

TEST_CASE("an unreachable server fails start-up with unavailable, naming it without the "
          "password", "[store][mysql][outage]") {
  auto port = free_port(); // nobody listens there
  store_options opts;
  opts.connect_timeout_s = 2;
  auto url = "mysql://outage:" + std::string{secret} + "@127.0.0.1:" + std::to_string(port)
             + "/ts";
  auto t0 = steady::now();
  auto s = open_store(url, opts);
  CHECK(seconds_since(t0) < 10);
  REQUIRE_FALSE(s);
  check_unavailable(s.error(), "127.0.0.1:" + std::to_string(port));
  // A password from the options is just as secret.
  store_options from_file = opts;
  from_file.password = secret;
  s = open_store("mysql://outage@127.0.0.1:" + std::to_string(port) + "/ts", from_file);
  REQUIRE_FALSE(s);
  check_unavailable(s.error(), "127.0.0.1:" + std::to_string(port));
}

TEST_CASE("a stopped server: calls fail fast, and after its restart reconnect() finds the "
          "data intact", "[store][mysql][outage]") {
  if (!mariadb_tests_enabled()) {
    WARN("skipped: set TS_TEST_MARIADB_DIR (scripts/test does) to run MariaDB outage tests");
    return;
  }
  private_server server;
  store_options opts;
  opts.connect_timeout_s = 2;
  opts.io_timeout_s = 3;

  // A wrong password is refused as a failure, not an outage, and is not quoted either.
  auto url = server.url();
  auto wrong = url;
  wrong.replace(wrong.find(secret), std::string{secret}.size(), "not-it");
  auto denied = open_store(wrong, opts);
  REQUIRE_FALSE(denied);
  CHECK(code_of(denied.error()) == ec::storage_failure);
  CHECK(render(denied.error()).find("not-it") == std::string::npos);

  // The password may come from the options (--db-password-file, environment) instead.
  store_options with_password = opts;
  with_password.password = secret;
  ok(ok(open_store("mysql://outage@" + server.where() + "/ts", with_password))->ping());

  auto s = ok(open_store(url, opts));
  auto kept = insert(*s, make_task("echo kept \xF0\x9F\x98\x80", 1000, "key-kept"));
  ok(s->begin());
  auto c = s->claim_run(kept.id, 1000);
  REQUIRE(c);
  ok(s->commit());
  // A transaction open when the server goes away never lands.
  ok(s->begin());
  auto lost = ok(s->insert_task(make_task("echo lost", 2000)));

  server.stop();
  auto t0 = steady::now();
  auto err = s->commit();
  CHECK(seconds_since(t0) < 10);
  check_unavailable(err, server.where());
  s->rollback(); // safe on a broken connection

  // Broken: every call fails at once, without waiting for the network.
  t0 = steady::now();
  check_unavailable(s->ping(), server.where());
  check_unavailable(s->begin(), server.where());
  check_unavailable(s->get_task(kept.id).error(), server.where());
  check_unavailable(s->load_pending([](const pending_entry&) {}), server.where());
  check_unavailable(s->interrupt_running(5000).error(), server.where());
  check_unavailable(s->retry_interrupted(c->run, 5000), server.where());
  check_unavailable(s->insert_task(make_task("true", 1)).error(), server.where());
  CHECK(seconds_since(t0) < 2);

  // Reconnecting while the server is down fails within the connect timeout, repeatedly.
  for (int i = 0; i < 2; ++i) {
    t0 = steady::now();
    check_unavailable(s->reconnect(), server.where());
    CHECK(seconds_since(t0) < 10);
  }
  // So does a fresh start-up.
  auto fresh = open_store(url, opts);
  REQUIRE_FALSE(fresh);
  check_unavailable(fresh.error(), server.where());

  server.restart();
  reconnect_soon(*s);
  ok(s->ping());
  auto v = ok(s->get_task(kept.id));
  CHECK(v.command == "echo kept \xF0\x9F\x98\x80");
  CHECK(v.status == task_status::pending);  // claimed, not started (issue 10)
  CHECK(v.run == c->run);
  CHECK(code_of(s->get_task(lost.id).error()) == ec::not_found);
  // Keys survived, and the store writes again.
  CHECK(insert(*s, make_task("echo kept \xF0\x9F\x98\x80", 1000, "key-kept")).replayed);
  auto after = insert(*s, make_task("echo after", 3000));
  CHECK(ok(s->get_task(after.id)).command == "echo after");
  // A healthy connection is kept by reconnect(): an open transaction survives it.
  ok(s->begin());
  auto inside = ok(s->insert_task(make_task("echo inside", 4000)));
  ok(s->reconnect());
  ok(s->commit());
  CHECK(ok(s->get_task(inside.id)).command == "echo inside");
}

TEST_CASE("a frozen server: calls time out with unavailable, and reconnect() works once it "
          "thaws", "[store][mysql][outage]") {
  if (!mariadb_tests_enabled()) {
    WARN("skipped: set TS_TEST_MARIADB_DIR (scripts/test does) to run MariaDB outage tests");
    return;
  }
  private_server server;
  store_options opts;
  opts.connect_timeout_s = 2;
  opts.io_timeout_s = 2;
  auto s = ok(open_store(server.url(), opts));
  auto writer = ok(open_store(server.url(), opts));
  auto kept = insert(*s, make_task("echo kept", 1000));
  ok(writer->begin());
  ok(writer->insert_task(make_task("echo in flight", 2000)));

  server.pause();
  // Generous bounds: the io timeout is 2 s; nothing may hang.
  auto t0 = steady::now();
  check_unavailable(s->get_task(kept.id).error(), server.where());
  CHECK(seconds_since(t0) < 15);
  t0 = steady::now();
  check_unavailable(writer->commit(), server.where());
  CHECK(seconds_since(t0) < 15);
  writer->rollback();
  // Later calls fail at once.
  t0 = steady::now();
  check_unavailable(s->ping(), server.where());
  check_unavailable(s->get_task(kept.id).error(), server.where());
  CHECK(seconds_since(t0) < 2);
  // Connecting to a frozen server (the kernel still accepts the TCP connection) times out.
  t0 = steady::now();
  check_unavailable(s->reconnect(), server.where());
  CHECK(seconds_since(t0) < 15);
  t0 = steady::now();
  auto fresh = open_store(server.url(), opts);
  CHECK(seconds_since(t0) < 15);
  REQUIRE_FALSE(fresh);
  check_unavailable(fresh.error(), server.where());

  server.resume();
  reconnect_soon(*s);
  reconnect_soon(*writer);
  CHECK(ok(s->get_task(kept.id)).command == "echo kept");
  // The commit that timed out may or may not have landed (the server had it in its
  // buffer); either way both connections work again.
  auto after = insert(*writer, make_task("echo after", 3000));
  CHECK(ok(s->get_task(after.id)).command == "echo after");
}
