// Raw MySQL/MariaDB access for the baselines (see raw_db.hpp): hand-written SQL on purpose.
#include <mysql.h>

#include <cstring>

#include "bench/raw_db.hpp"

namespace ts::bench {

namespace {

class raw_mysql final : public raw_db {
public:
  ~raw_mysql() override {
    if (insert_)
      mysql_stmt_close(insert_);
    if (read_)
      mysql_stmt_close(read_);
    if (conn_)
      mysql_close(conn_);
  }

  bool open(const std::string& host, unsigned port, const std::string& socket,
            const std::string& user, const std::string& password,
            const std::string& database) {
    conn_ = mysql_init(nullptr);
    if (!conn_)
      return false;
    // The service's connection: utf8mb4, TCP unless a socket is named.
    mysql_options(conn_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    unsigned protocol = socket.empty() ? MYSQL_PROTOCOL_TCP : MYSQL_PROTOCOL_SOCKET;
    mysql_options(conn_, MYSQL_OPT_PROTOCOL, &protocol);
    const char* h = socket.empty() && !host.empty() ? host.c_str() : "localhost";
    if (!mysql_real_connect(conn_, h, user.c_str(), password.c_str(), database.c_str(), port,
                            socket.empty() ? nullptr : socket.c_str(), 0))
      return false;
    return exec("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
           && exec("SET time_zone = '+00:00'") && mysql_autocommit(conn_, 0) == 0
           // The columns the service fills for a new task (schema v2): the next run is the
           // due time, and load_pending reads it.
           && prepare("INSERT INTO tasks (command, due_ms, created_ms, status, next_run_ms,"
                      " updated_ms) VALUES (?, ?, ?, 'pending', ?, ?)",
                      insert_)
           && prepare("SELECT id, next_run_ms FROM tasks WHERE status = 'pending'", read_);
  }

  bool begin() override {
    return true; // autocommit is off: a transaction starts with the first statement
  }

  bool commit() override {
    return mysql_commit(conn_) == 0;
  }

  bool insert_pending(const std::string& command, int64_t due_ms,
                      int64_t created_ms) override {
    MYSQL_BIND b[5];
    std::memset(b, 0, sizeof(b));
    unsigned long len = command.size();
    b[0].buffer_type = MYSQL_TYPE_STRING;
    b[0].buffer = const_cast<char*>(command.data());
    b[0].buffer_length = len;
    b[0].length = &len;
    // due, created, then the same two as next_run_ms and updated_ms.
    for (int i : {1, 3}) {
      b[i].buffer_type = MYSQL_TYPE_LONGLONG;
      b[i].buffer = &due_ms;
      b[i + 1].buffer_type = MYSQL_TYPE_LONGLONG;
      b[i + 1].buffer = &created_ms;
    }
    return mysql_stmt_bind_param(insert_, b) == 0 && mysql_stmt_execute(insert_) == 0;
  }

  bool load_pending(int64_t count, const std::string& command, int64_t due_ms,
                    int64_t created_ms) override {
    std::string escaped(command.size() * 2 + 1, '\0');
    escaped.resize(
      mysql_real_escape_string(conn_, escaped.data(), command.data(), command.size()));
    auto row = "('" + escaped + "'," + std::to_string(due_ms) + ","
               + std::to_string(created_ms) + ",'pending'," + std::to_string(due_ms) + ","
               + std::to_string(created_ms) + ")";
    constexpr int64_t rows_per_statement = 2000;
    constexpr int64_t rows_per_commit = 100000;
    for (int64_t done = 0; done < count;) {
      auto n = std::min(rows_per_statement, count - done);
      std::string sql = "INSERT INTO tasks (command, due_ms, created_ms, status, next_run_ms,"
                        " updated_ms) VALUES ";
      sql.reserve(sql.size() + static_cast<size_t>(n) * (row.size() + 1));
      for (int64_t i = 0; i < n; ++i) {
        if (i > 0)
          sql += ',';
        sql += row;
      }
      if (mysql_real_query(conn_, sql.data(), sql.size()) != 0)
        return false;
      auto before = done;
      done += n;
      if (done / rows_per_commit != before / rows_per_commit || done == count)
        if (!commit())
          return false;
    }
    return true;
  }

  bool make_recurring(int64_t every_s) override {
    auto sql = "UPDATE tasks SET every_s = " + std::to_string(every_s)
               + ", anchor_ms = due_ms, next_occurrence_ms = due_ms";
    return exec(sql.c_str()) && commit();
  }

  bool read_pending(std::vector<std::pair<int64_t, int64_t>>& out) override {
    if (mysql_stmt_execute(read_) != 0)
      return false;
    int64_t id = 0, due = 0;
    MYSQL_BIND b[2];
    std::memset(b, 0, sizeof(b));
    b[0].buffer_type = MYSQL_TYPE_LONGLONG;
    b[0].buffer = &id;
    b[1].buffer_type = MYSQL_TYPE_LONGLONG;
    b[1].buffer = &due;
    if (mysql_stmt_bind_result(read_, b) != 0)
      return false;
    int rc;
    while ((rc = mysql_stmt_fetch(read_)) == 0)
      out.emplace_back(id, due);
    mysql_stmt_free_result(read_);
    commit(); // ends the read's transaction
    return rc == MYSQL_NO_DATA;
  }

  std::string error() const override {
    if (!conn_)
      return "mysql: out of memory";
    if (read_ && mysql_stmt_errno(read_))
      return mysql_stmt_error(read_);
    if (insert_ && mysql_stmt_errno(insert_))
      return mysql_stmt_error(insert_);
    return mysql_error(conn_);
  }

private:
  bool exec(const char* sql) {
    return mysql_query(conn_, sql) == 0;
  }

  bool prepare(const char* sql, MYSQL_STMT*& stmt) {
    stmt = mysql_stmt_init(conn_);
    return stmt && mysql_stmt_prepare(stmt, sql, std::strlen(sql)) == 0;
  }

  MYSQL* conn_ = nullptr;
  MYSQL_STMT* insert_ = nullptr;
  MYSQL_STMT* read_ = nullptr;
};

} // namespace

std::unique_ptr<raw_db> open_raw_mysql(const std::string& host, unsigned port,
                                       const std::string& socket, const std::string& user,
                                       const std::string& password,
                                       const std::string& database, std::string& error) {
  auto db = std::make_unique<raw_mysql>();
  if (!db->open(host, port, socket, user, password, database)) {
    error = "mysql: " + db->error();
    return nullptr;
  }
  return db;
}

} // namespace ts::bench
