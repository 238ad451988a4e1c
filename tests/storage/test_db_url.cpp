#include "storage/db_url.hpp"

#include <string>

#include <catch2/catch.hpp>

#include "core/error.hpp"

using ts::storage::parse_db_url;
using ts::storage::redact_db_url;

namespace {

ts::ec code_of(const caf::error& err) {
  REQUIRE(err.category() == ts::ec_category);
  return static_cast<ts::ec>(err.code());
}

/// Parses a URL that must be refused and returns the rendered error.
std::string refusal(const std::string& url) {
  auto r = parse_db_url(url);
  REQUIRE_FALSE(r);
  CHECK(code_of(r.error()) == ts::ec::invalid_argument);
  return ts::render(r.error());
}

} // namespace

TEST_CASE("sqlite URLs keep the path as given", "[db_url]") {
  auto rel = parse_db_url("sqlite:data/taskschedulizer.db");
  REQUIRE(rel);
  CHECK(rel->scheme == "sqlite");
  CHECK(rel->path == "data/taskschedulizer.db");
  auto abs = parse_db_url("sqlite:/var/lib/ts/x.db");
  REQUIRE(abs);
  CHECK(abs->path == "/var/lib/ts/x.db");
  // A path is not percent-decoded and may hold any character but NUL.
  auto odd = parse_db_url("sqlite:dir with space/%41:b@c.db");
  REQUIRE(odd);
  CHECK(odd->path == "dir with space/%41:b@c.db");
}

TEST_CASE("malformed sqlite URLs are refused", "[db_url]") {
  refusal("sqlite:");
  refusal("sqlite://host/x.db");
  refusal(std::string("sqlite:a\0b", 10));
  refusal("sqlite3:x.db");
  refusal("");
  refusal("postgres://u:p@h/db");
}

TEST_CASE("mysql URL with every part", "[db_url]") {
  auto u = parse_db_url("mysql://ts:secret@db.example.org:3307/tasks");
  REQUIRE(u);
  CHECK(u->scheme == "mysql");
  CHECK(u->user == "ts");
  CHECK(u->password == "secret");
  CHECK(u->has_password);
  CHECK(u->host == "db.example.org");
  CHECK(u->port == 3307);
  CHECK(u->database == "tasks");
  CHECK(u->socket.empty());
}

TEST_CASE("mysql URL without password or port, with a socket", "[db_url]") {
  auto u = parse_db_url("mysql://root@localhost/ts?socket=/tmp/ts-mariadb/mysqld.sock");
  REQUIRE(u);
  CHECK(u->user == "root");
  CHECK_FALSE(u->has_password);
  CHECK(u->password.empty());
  CHECK(u->host == "localhost");
  CHECK(u->port == 0);
  CHECK(u->database == "ts");
  CHECK(u->socket == "/tmp/ts-mariadb/mysqld.sock");

  auto empty_password = parse_db_url("mysql://root:@localhost/ts");
  REQUIRE(empty_password);
  CHECK(empty_password->has_password);
  CHECK(empty_password->password.empty());
}

TEST_CASE("mysql URL parts are percent-decoded", "[db_url]") {
  auto u = parse_db_url("mysql://us%40er:p%40ss%3Aw%2Fo%3Frd%23%25%20x@127.0.0.1:3306/my%2Ddb"
                        "?socket=/run/my%20sock");
  REQUIRE(u);
  CHECK(u->user == "us@er");
  CHECK(u->password == "p@ss:w/o?rd#% x");
  CHECK(u->database == "my-db");
  CHECK(u->socket == "/run/my sock");
  // UTF-8 passwords arrive as encoded bytes.
  auto utf8 = parse_db_url("mysql://u:%C3%A9t%C3%A9@h/d");
  REQUIRE(utf8);
  CHECK(utf8->password == "\xC3\xA9t\xC3\xA9");
}

TEST_CASE("mysql URL with an IPv6 host", "[db_url]") {
  auto u = parse_db_url("mysql://u:p@[::1]:33107/ts");
  REQUIRE(u);
  CHECK(u->host == "::1");
  CHECK(u->port == 33107);
  auto no_port = parse_db_url("mysql://u:p@[2001:db8::7]/ts");
  REQUIRE(no_port);
  CHECK(no_port->host == "2001:db8::7");
  CHECK(no_port->port == 0);
  refusal("mysql://u:p@[::1/ts");
  refusal("mysql://u:p@[::1]x/ts");
  refusal("mysql://u:p@[]/ts");
  refusal("mysql://u:p@::1/ts");
}

TEST_CASE("mysql ports are range checked", "[db_url]") {
  for (unsigned port : {1u, 3306u, 65535u}) {
    auto u = parse_db_url("mysql://u:p@h:" + std::to_string(port) + "/d");
    REQUIRE(u);
    CHECK(u->port == port);
  }
  for (auto port : {"0", "65536", "99999999999999999999", "-1", "", "12a", " 1", "+1"})
    refusal(std::string("mysql://u:p@h:") + port + "/d");
}

TEST_CASE("malformed mysql URLs are refused", "[db_url]") {
  refusal("mysql://");
  refusal("mysql://u:p@h");           // no database
  refusal("mysql://u:p@h/");          // empty database
  refusal("mysql://u:p@h/a/b");       // two path segments
  refusal("mysql://u:p@/d");          // no host
  refusal("mysql://h/d");             // no user
  refusal("mysql://:p@h/d");          // empty user
  refusal("mysql://u:p@h/d?sock=/x"); // unknown parameter
  refusal("mysql://u:p@h/d?socket="); // empty socket
  refusal("mysql://u:p%zz@h/d");      // bad escape
  refusal("mysql://u:p%2@h/d");       // truncated escape
  refusal("mysql://u:p%00@h/d");      // NUL
  // A raw NUL too, in any part (found by tests/fuzz/fuzz_db_url): the C client would cut
  // the string there and connect with another socket, user or database than was written.
  using namespace std::string_literals;
  refusal("mysql://ts@localhost/ts?socket=/run/mysqld\0/sock"s);
  refusal("mysql://t\0s:p@h/d"s);
  refusal("mysql://u:p\0w@h/d"s);
  refusal("mysql://u:p@h\0st/d"s);
  refusal("mysql://u:p@h/d\0b"s);
  refusal("mysql://u:p@h/d#frag");
  refusal("mysql:/u:p@h/d");
}

TEST_CASE("errors never contain the password", "[db_url]") {
  // Passwords that break the URL in different places when not percent-encoded.
  const char* bad[] = {
    "mysql://u:hunter2secret/@h/d",  "mysql://u:hunter2secret?@h/d",
    "mysql://u:hunter2secret#@h/d",  "mysql://u:hunter2secret%@h/d",
    "mysql://u:hunter2secret%zz@h/d", "mysql://u:pw@h:hunter2secret/d",
    "mysql://u:hunter2:secret@h:x/d", "mysql://u:hunter2secret@h/d?hunter2secret=1",
    "mysql://u:hunter2secret@h/d/hunter2secret", "mysql://u:hunter2secret@h:99999/d",
  };
  for (auto url : bad) {
    CAPTURE(url);
    auto r = parse_db_url(url);
    REQUIRE_FALSE(r);
    auto text = ts::render(r.error());
    CAPTURE(text);
    CHECK(text.find("hunter2") == std::string::npos);
    CHECK(text.find("secret") == std::string::npos);
  }
}

TEST_CASE("redact_db_url hides the password", "[db_url]") {
  CHECK(redact_db_url("mysql://ts:secret@127.0.0.1:3306/ts")
        == "mysql://ts:***@127.0.0.1:3306/ts");
  CHECK(redact_db_url("mysql://ts:p%40ss@h/d?socket=/x.sock") == "mysql://ts:***@h/d?socket=/x.sock");
  CHECK(redact_db_url("mysql://ts:@h/d") == "mysql://ts:***@h/d");
  // Unencoded reserved characters: everything up to the last '@' goes.
  auto odd = redact_db_url("mysql://ts:a/b@c?d@h:1/d");
  CHECK(odd == "mysql://ts:***@h:1/d");
  // Nothing to hide.
  CHECK(redact_db_url("mysql://ts@h:3306/d") == "mysql://ts@h:3306/d");
  CHECK(redact_db_url("mysql://h:3306/d") == "mysql://h:3306/d");
  CHECK(redact_db_url("sqlite:data/x.db") == "sqlite:data/x.db");
  CHECK(redact_db_url("sqlite:/a:b@c.db") == "sqlite:/a:b@c.db");
}
