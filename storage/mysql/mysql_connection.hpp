// One connection of the MySQL / MariaDB backend with its prepared statements, and the one
// place that executes them and turns client and server errors into ours.
//
// Outages: a connection-level error marks the connection broken, so that every later call
// fails fast with ec::unavailable (and cannot silently run outside the lost transaction)
// until connect() succeeds again. The client library's own auto-reconnect stays off for the
// same reason. Connect, read and write timeouts bound every call against a hung server.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include <caf/error.hpp>
#include <mysql.h>

#include "storage/db_url.hpp"
#include "storage/mysql/mysql_bind.hpp"
#include "storage/mysql/mysql_sql.hpp"
#include "storage/store.hpp"

namespace ts::storage::mysql {

class connection {
public:
  connection(db_url url, const store_options& opts);
  ~connection();

  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Connects and sets the session up (UTC, strict mode, READ COMMITTED, lock wait timeout).
  caf::error connect();

  /// Prepares every statement of sql::statements on this connection.
  caf::error prepare_all();

  /// Closes the statements and the connection, which counts as broken until connect().
  void close();

  /// Fails fast with ec::unavailable while the connection is known to be lost.
  caf::error usable() const;

  bool connected() const {
    return conn_ != nullptr && !broken_;
  }

  /// Connected, and the server answers a ping.
  bool alive() {
    return connected() && mysql_ping(conn_) == 0;
  }

  caf::error ping();

  /// Whether a transaction is open. An outage ends it: the server drops or has rolled back
  /// the transaction of a lost connection.
  bool in_tx() const {
    return in_tx_;
  }

  void set_in_tx(bool x) {
    in_tx_ = x;
  }

  /// Executes a prepared statement that returns no rows.
  caf::error execute(sql::q id, params& p) {
    return run(stmt(id), name(id), p, nullptr, nullptr);
  }

  /// Executes a prepared statement and calls `on_row` for each row, read into `r`.
  template <class F>
  caf::error query(sql::q id, params& p, row& r, F on_row) {
    std::function<void()> g = std::move(on_row);
    return run(stmt(id), name(id), p, &r, &g);
  }

  /// Rows matched by the last execution of `id` (CLIENT_FOUND_ROWS).
  uint64_t affected(sql::q id) const {
    return static_cast<uint64_t>(mysql_stmt_affected_rows(stmt(id)));
  }

  uint64_t insert_id(sql::q id) const {
    return static_cast<uint64_t>(mysql_stmt_insert_id(stmt(id)));
  }

  /// The client or server error code of the last failed execution; 0 after a success.
  unsigned last_errno() const {
    return last_errno_;
  }

  /// For statements used once per connection (session setup, migrations): prepared,
  /// executed and closed.
  caf::error exec_once(const char* sql, const char* what) {
    params p;
    return run_once(sql, what, p, nullptr, nullptr);
  }

  template <class F>
  caf::error query_once(const char* sql, const char* what, params& p, row& r, F on_row) {
    std::function<void()> g = std::move(on_row);
    return run_once(sql, what, p, &r, &g);
  }

  caf::error run_once(const char* sql, const char* what, params& p, row* r,
                      std::function<void()>* on_row);

  const db_url& url() const {
    return url_;
  }

  /// host:port or socket, user and database: never the password.
  const std::string& where() const {
    return where_;
  }

  /// Below the read timeout, so that a lock wait ends with the server's error rather
  /// than a client timeout that would cost the connection.
  int lock_wait_timeout() const {
    return io_timeout_s_ > 1 ? io_timeout_s_ - 1 : 1;
  }

private:
  MYSQL_STMT* stmt(sql::q id) const {
    return stmts_[static_cast<size_t>(id)];
  }

  static const char* name(sql::q id) {
    return sql::statements[static_cast<size_t>(id)].name;
  }

  caf::error run(MYSQL_STMT* s, const char* what, params& p, row* r,
                 std::function<void()>* on_row);
  caf::error fail(unsigned code, const char* msg, const char* what);
  std::string scrub(std::string text) const;

  db_url url_;
  std::string password_;
  int connect_timeout_s_;
  int io_timeout_s_;
  std::string where_;
  MYSQL* conn_ = nullptr;
  std::array<MYSQL_STMT*, sql::statement_count> stmts_;
  bool broken_ = true;
  bool in_tx_ = false;
  unsigned last_errno_ = 0;
};

} // namespace ts::storage::mysql
