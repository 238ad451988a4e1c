#include "storage/mysql/mysql_connection.hpp"

#include <cstring>
#include <mutex>
#include <string>
#include <utility>

#include "core/error.hpp"

namespace ts::storage::mysql {

namespace {

void init_library_once() {
  // mysql_init would do this on first use, but not safely from two threads at once.
  static std::once_flag flag;
  std::call_once(flag, [] { mysql_library_init(0, nullptr, nullptr); });
}

} // namespace

connection::connection(db_url url, const store_options& opts)
  : url_(std::move(url)),
    // No password is sent as an empty one: mysql_real_connect takes both alike.
    password_(url_.has_password ? url_.password : opts.password.value_or("")),
    connect_timeout_s_(opts.connect_timeout_s > 0 ? opts.connect_timeout_s : 1),
    io_timeout_s_(opts.io_timeout_s > 0 ? opts.io_timeout_s : 1) {
  stmts_.fill(nullptr);
  where_ = url_.socket.empty()
             ? (url_.host.empty() ? std::string{"localhost"} : url_.host) + ":"
                 + std::to_string(url_.port != 0 ? url_.port : 3306u)
             : "socket " + url_.socket;
  where_ += " (user '" + url_.user + "', database '" + url_.database + "')";
  where_ = scrub(where_);  // a user name could equal the password
}

connection::~connection() {
  close();
}

caf::error connection::connect() {
  init_library_once();
  conn_ = mysql_init(nullptr);
  if (conn_ == nullptr)
    return make_error(ec::storage_failure, "mysql: out of memory");
  broken_ = true;  // until connected and set up
  in_tx_ = false;
  unsigned connect_timeout = static_cast<unsigned>(connect_timeout_s_);
  unsigned io_timeout = static_cast<unsigned>(io_timeout_s_);
  my_bool off = 0;
  mysql_options(conn_, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
  mysql_options(conn_, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
  mysql_options(conn_, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
  mysql_options(conn_, MYSQL_OPT_RECONNECT, &off);
  mysql_options(conn_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  // A socket in the URL wins over its host; otherwise always TCP, even for "localhost".
  unsigned protocol = url_.socket.empty() ? MYSQL_PROTOCOL_TCP : MYSQL_PROTOCOL_SOCKET;
  mysql_options(conn_, MYSQL_OPT_PROTOCOL, &protocol);
  const char* host = url_.socket.empty() && !url_.host.empty() ? url_.host.c_str()
                                                                : "localhost";
  // CLIENT_FOUND_ROWS: an UPDATE reports the rows it matched, so rewriting a row with
  // its own values is not mistaken for a missing row.
  if (mysql_real_connect(conn_, host, url_.user.c_str(), password_.c_str(),
                         url_.database.c_str(), url_.port,
                         url_.socket.empty() ? nullptr : url_.socket.c_str(),
                         CLIENT_FOUND_ROWS)
      == nullptr) {
    auto code = mysql_errno(conn_);
    std::string msg = mysql_error(conn_);
    mysql_close(conn_);
    conn_ = nullptr;
    return fail(code, msg.c_str(), "connect");
  }
  broken_ = false;
  std::string session = sql::set_session + std::to_string(lock_wait_timeout());
  if (auto err = exec_once(sql::set_isolation, "session setup"))
    return err;
  return exec_once(session.c_str(), "session setup");
}

void connection::close() {
  for (auto& s : stmts_) {
    if (s != nullptr)
      mysql_stmt_close(s);
    s = nullptr;
  }
  if (conn_ != nullptr)
    mysql_close(conn_);
  conn_ = nullptr;
  broken_ = true;
  in_tx_ = false;
}

caf::error connection::prepare_all() {
  for (auto& st : sql::statements) {
    auto i = static_cast<size_t>(st.id);
    MYSQL_STMT* s = mysql_stmt_init(conn_);
    if (s == nullptr)
      return make_error(ec::storage_failure, "mysql: out of memory");
    if (mysql_stmt_prepare(s, st.sql, std::strlen(st.sql)) != 0) {
      auto code = mysql_stmt_errno(s);
      std::string msg = mysql_stmt_error(s);
      mysql_stmt_close(s);
      return fail(code, msg.c_str(), st.name);
    }
    stmts_[i] = s;
  }
  return {};
}

caf::error connection::usable() const {
  if (conn_ == nullptr || broken_)
    return make_error(ec::unavailable,
                      "mysql: no connection to " + where_ + "; waiting for reconnect");
  return {};
}

caf::error connection::ping() {
  if (auto err = usable())
    return err;
  if (mysql_ping(conn_) != 0)
    return fail(mysql_errno(conn_), mysql_error(conn_), "ping");
  return {};
}

caf::error connection::run_once(const char* sql, const char* what, params& p, row* r,
                                std::function<void()>* on_row) {
  if (auto err = usable())
    return err;
  MYSQL_STMT* s = mysql_stmt_init(conn_);
  if (s == nullptr)
    return make_error(ec::storage_failure, "mysql: out of memory");
  caf::error err;
  if (mysql_stmt_prepare(s, sql, std::strlen(sql)) != 0)
    err = fail(mysql_stmt_errno(s), mysql_stmt_error(s), what);
  else
    err = run(s, what, p, r, on_row);
  mysql_stmt_close(s);
  return err;
}

/// The one place that talks to the server: binds, executes, buffers and reads the
/// result set, and frees it, so that the next statement starts clean.
caf::error connection::run(MYSQL_STMT* s, const char* what, params& p, row* r,
                           std::function<void()>* on_row) {
  last_errno_ = 0;
  if (s == nullptr)
    return make_error(ec::unavailable, "mysql: statements not prepared");
  if (p.overflowed() || mysql_stmt_param_count(s) != p.size())
    return make_error(ec::storage_failure,
                      std::string{"mysql: wrong parameter count for "} + what);
  if (p.size() > 0 && mysql_stmt_bind_param(s, p.binds()) != 0)
    return fail(mysql_stmt_errno(s), mysql_stmt_error(s), what);
  if (mysql_stmt_execute(s) != 0)
    return fail(mysql_stmt_errno(s), mysql_stmt_error(s), what);
  if (mysql_stmt_field_count(s) == 0)
    return {};
  // Buffered client-side: the rows are read while other statements may run.
  if (mysql_stmt_store_result(s) != 0)
    return fail(mysql_stmt_errno(s), mysql_stmt_error(s), what);
  caf::error err;
  if (r == nullptr || mysql_stmt_field_count(s) != r->size()) {
    err = make_error(ec::storage_failure, std::string{"mysql: unexpected result for "} + what);
  } else if (mysql_stmt_bind_result(s, r->binds()) != 0) {
    err = fail(mysql_stmt_errno(s), mysql_stmt_error(s), what);
  } else {
    // Bounded by the buffered row count.
    for (auto n = mysql_stmt_num_rows(s); n > 0; --n) {
      int rc = mysql_stmt_fetch(s);
      if (rc == MYSQL_NO_DATA)
        break;
      if (rc == 1) {
        err = fail(mysql_stmt_errno(s), mysql_stmt_error(s), what);
        break;
      }
      if (!r->complete(s)) {
        err = make_error(ec::storage_failure, std::string{"mysql: cannot read "} + what);
        break;
      }
      if (on_row != nullptr)
        (*on_row)();
    }
  }
  mysql_stmt_free_result(s);
  return err;
}

/// Turns a client or server error into ec::unavailable (outage: the connection is now
/// broken) or ec::storage_failure. Never quotes the password.
caf::error connection::fail(unsigned code, const char* msg, const char* what) {
  last_errno_ = code;
  std::string text = msg != nullptr ? msg : "";
  if (is_outage(code)) {
    broken_ = true;
    in_tx_ = false;  // the server drops or has rolled back the transaction
    return make_error(ec::unavailable, scrub("mysql at " + where_ + " unavailable (" + what
                                             + "): " + text + " [" + std::to_string(code)
                                             + "]"));
  }
  return make_error(ec::storage_failure, scrub("mysql at " + where_ + ": " + what
                                               + " failed: " + text + " ["
                                               + std::to_string(code) + "]"));
}

/// A last line of defence: no server or client message should ever contain the
/// password, but none may carry it out if one did.
std::string connection::scrub(std::string text) const {
  if (password_.empty())
    return text;
  for (size_t pos = text.find(password_); pos != std::string::npos;
       pos = text.find(password_, pos + 3))
    text.replace(pos, password_.size(), "***");
  return text;
}

} // namespace ts::storage::mysql
