// Assertions on errors-as-values and the test MariaDB database, shared by the store test
// files.
#pragma once

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <catch2/catch.hpp>
#include <mysql.h>

#include "core/error.hpp"
#include "storage/db_url.hpp"

namespace ts::test {

/// The ts::ec of an error that must be one of ours.
inline ec code_of(const caf::error& err) {
  REQUIRE(err);
  REQUIRE(err.category() == ec_category);
  return static_cast<ec>(err.code());
}

/// The value of an expected that must hold one.
template <class T>
T ok(caf::expected<T> x) {
  if (!x)
    FAIL("unexpected error: " << render(x.error()));
  return std::move(*x);
}

inline void ok(const caf::error& err) {
  if (err)
    FAIL("unexpected error: " << render(err));
}

/// The error of an expected that must hold one (calling error() on a value is undefined).
template <class T>
caf::error error_of(const caf::expected<T>& x) {
  REQUIRE_FALSE(x);
  return x.error();
}

/// The test MariaDB database (TS_TEST_MYSQL_URL); null where none is set.
inline const char* mysql_url() {
  const char* url = std::getenv("TS_TEST_MYSQL_URL");
  return url && *url ? url : nullptr;
}

/// The backends a conformance case runs on: SQLite always, MariaDB where there is one.
inline std::vector<std::string> backends() {
  std::vector<std::string> out{"sqlite"};
  if (mysql_url())
    out.emplace_back("mysql");
  return out;
}

/// Connects `conn` (mysql_init'ed, its options set) to the test MariaDB database; the
/// password comes from the URL or else TASKSCHEDULIZER_DB_PASSWORD, as for the service.
inline void connect_test_mysql(MYSQL* conn, unsigned long client_flags) {
  auto url = ts::storage::parse_db_url(mysql_url());
  REQUIRE(url);
  const char* password = url->has_password ? url->password.c_str()
                                           : std::getenv("TASKSCHEDULIZER_DB_PASSWORD");
  auto connected = mysql_real_connect(conn, url->host.c_str(), url->user.c_str(), password,
                                      url->database.c_str(), url->port,
                                      url->socket.empty() ? nullptr : url->socket.c_str(),
                                      client_flags);
  INFO(mysql_error(conn));
  REQUIRE(connected);
}

} // namespace ts::test
