// Raw SQLite access for the baselines (see raw_db.hpp): hand-written SQL on purpose.
#include <sqlite3.h>

#include "bench/raw_db.hpp"

namespace ts::bench {

namespace {

class raw_sqlite final : public raw_db {
public:
  ~raw_sqlite() override {
    sqlite3_finalize(insert_);
    sqlite3_finalize(read_);
    sqlite3_close_v2(db_);
  }

  bool open(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        nullptr)
        != SQLITE_OK)
      return false;
    sqlite3_busy_timeout(db_, 5000);
    // The service's durability: every commit syncs the WAL.
    return exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
           // The columns the service fills for a new task (schema v2): the next run is the
           // due time, and load_pending reads it.
           && prepare("INSERT INTO tasks(command, due_ms, created_ms, status, next_run_ms,"
                      " updated_ms) VALUES(?1, ?2, ?3, 'pending', ?2, ?3)",
                      insert_)
           && prepare("SELECT id, next_run_ms FROM tasks WHERE status = 'pending'", read_);
  }

  bool begin() override {
    return exec("BEGIN IMMEDIATE");
  }

  bool commit() override {
    return exec("COMMIT");
  }

  bool insert_pending(const std::string& command, int64_t due_ms,
                      int64_t created_ms) override {
    sqlite3_bind_text64(insert_, 1, command.data(), command.size(), SQLITE_STATIC,
                        SQLITE_UTF8);
    sqlite3_bind_int64(insert_, 2, due_ms);
    sqlite3_bind_int64(insert_, 3, created_ms);
    auto rc = sqlite3_step(insert_);
    sqlite3_reset(insert_);
    return rc == SQLITE_DONE;
  }

  bool load_pending(int64_t count, const std::string& command, int64_t due_ms,
                    int64_t created_ms) override {
    if (!begin())
      return false;
    for (int64_t i = 0; i < count; ++i)
      if (!insert_pending(command, due_ms, created_ms))
        return false;
    return commit();
  }

  bool make_recurring(int64_t every_s) override {
    auto sql = "UPDATE tasks SET every_s = " + std::to_string(every_s)
               + ", anchor_ms = due_ms, next_occurrence_ms = due_ms";
    return exec(sql.c_str());
  }

  bool read_pending(std::vector<std::pair<int64_t, int64_t>>& out) override {
    int rc;
    while ((rc = sqlite3_step(read_)) == SQLITE_ROW)
      out.emplace_back(sqlite3_column_int64(read_, 0), sqlite3_column_int64(read_, 1));
    sqlite3_reset(read_);
    return rc == SQLITE_DONE;
  }

  std::string error() const override {
    return db_ ? sqlite3_errmsg(db_) : "sqlite: out of memory";
  }

private:
  bool exec(const char* sql) {
    return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
  }

  bool prepare(const char* sql, sqlite3_stmt*& stmt) {
    return sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr)
           == SQLITE_OK;
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* read_ = nullptr;
};

} // namespace

std::unique_ptr<raw_db> open_raw_sqlite(const std::string& path, std::string& error) {
  auto db = std::make_unique<raw_sqlite>();
  if (!db->open(path)) {
    error = "sqlite " + path + ": " + db->error();
    return nullptr;
  }
  return db;
}

} // namespace ts::bench
