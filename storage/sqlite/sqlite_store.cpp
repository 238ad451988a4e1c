// The SQLite backend: every SQL statement of this backend lives in this file, prepared once
// at open and reused with bound parameters.
#include "storage/sqlite/sqlite_store.hpp"

#include <filesystem>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <sqlite3.h>

#include "core/error.hpp"

namespace ts::storage {

namespace {

/// Writers wait this long for another connection's lock before giving up (ec::unavailable).
constexpr int busy_timeout_ms = 5000;

// -- schema -----------------------------------------------------------------------------------

/// Version 1 (storage/SCHEMA.md). STRICT tables reject a value of the wrong type instead of
/// storing it silently.
constexpr const char* schema_v1 = R"sql(
CREATE TABLE schema_version(version INTEGER NOT NULL) STRICT;
CREATE TABLE tasks(
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  command          TEXT NOT NULL,
  due_ms           INTEGER NOT NULL,
  created_ms       INTEGER NOT NULL,
  status           TEXT NOT NULL,
  reason           TEXT,
  idempotency_key  TEXT UNIQUE,
  request_hash     TEXT,
  latest_run       INTEGER
) STRICT;
-- The index on status: covering for load_pending (id is the rowid, in every index; status
-- must be a column too, or SQLite reads the table), and partial so that finished tasks, the
-- bulk of the table over time, cost it nothing. The planner ignores a partial index whose
-- condition is an IN list, hence only 'pending' (interrupt_running reads runs instead).
CREATE INDEX tasks_pending ON tasks(status, due_ms) WHERE status = 'pending';
CREATE TABLE runs(
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id          INTEGER NOT NULL REFERENCES tasks(id),
  status           TEXT NOT NULL,
  reason           TEXT,
  claimed_ms       INTEGER NOT NULL,
  started_ms       INTEGER,
  finished_ms      INTEGER,
  exit_code        INTEGER,
  signal_no        INTEGER,
  output           TEXT,
  output_truncated INTEGER NOT NULL DEFAULT 0,
  pid              INTEGER,
  pgid             INTEGER,
  start_ticks      INTEGER
) STRICT;
CREATE INDEX runs_task ON runs(task_id);
CREATE INDEX runs_status ON runs(status);
INSERT INTO schema_version(version) VALUES(1);
)sql";

/// migrations()[i] brings a database from version i + 1 to i + 2 inside the open
/// transaction. A schema change appends one entry here and bumps storage::schema_version.
const std::vector<const char*>& migrations() {
  static const std::vector<const char*> steps{
  };
  return steps;
}

// -- enum <-> text ----------------------------------------------------------------------------

std::optional<task_status> parse_status(std::string_view s) {
  for (auto x : {task_status::pending, task_status::running, task_status::success,
                 task_status::failure})
    if (s == to_string(x))
      return x;
  return std::nullopt;
}

/// NULL (empty) reads as none.
std::optional<run_reason> parse_reason(std::string_view s) {
  if (s.empty())
    return run_reason::none;
  for (auto x : {run_reason::exit, run_reason::signal, run_reason::start_failed,
                 run_reason::interrupted})
    if (s == to_string(x))
      return x;
  return std::nullopt;
}

// -- statement handles ------------------------------------------------------------------------

/// Owns a prepared statement for the store's lifetime.
class statement {
public:
  statement() = default;
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  ~statement() {
    sqlite3_finalize(stmt_);
  }

  int prepare(sqlite3* db, const char* sql, unsigned flags) {
    return sqlite3_prepare_v3(db, sql, -1, flags, &stmt_, nullptr);
  }

  sqlite3_stmt* get() const {
    return stmt_;
  }

private:
  sqlite3_stmt* stmt_ = nullptr;
};

/// One execution of a prepared statement. Resets it on scope exit, so that no statement
/// stays active and holds a read snapshot (which would block WAL checkpoints).
class use {
public:
  explicit use(const statement& s) : s_(s.get()) {
  }
  use(const use&) = delete;
  use& operator=(const use&) = delete;
  ~use() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }

  use& bind(int i, int64_t v) {
    return check(sqlite3_bind_int64(s_, i, v));
  }
  /// NULL unless `present`.
  use& bind_if(int i, bool present, int64_t v) {
    return present ? bind(i, v) : bind_null(i);
  }
  use& bind_null(int i) {
    return check(sqlite3_bind_null(s_, i));
  }
  /// The bytes are copied by SQLite only when needed; they outlive the step here.
  use& bind_text(int i, std::string_view v) {
    return check(sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8));
  }
  /// NULL for an empty string.
  use& bind_text_or_null(int i, std::string_view v) {
    return v.empty() ? bind_null(i) : bind_text(i, v);
  }

  /// The first binding error, else the step's result code.
  int step() {
    return rc_ != SQLITE_OK ? rc_ : sqlite3_step(s_);
  }

  bool is_null(int col) const {
    return sqlite3_column_type(s_, col) == SQLITE_NULL;
  }
  int64_t int64(int col, int64_t if_null = 0) const {
    return is_null(col) ? if_null : sqlite3_column_int64(s_, col);
  }
  std::string text(int col) const {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    auto n = sqlite3_column_bytes(s_, col);
    return p ? std::string(p, static_cast<size_t>(n)) : std::string{};
  }

private:
  use& check(int rc) {
    if (rc_ == SQLITE_OK)
      rc_ = rc;
    return *this;
  }

  sqlite3_stmt* s_;
  int rc_ = SQLITE_OK;
};

/// Declared first in the store, so it closes the connection after the statements finalize.
struct connection {
  sqlite3* db = nullptr;
  ~connection() {
    sqlite3_close_v2(db);
  }
};

// -- the store --------------------------------------------------------------------------------

class sqlite_store final : public store {
public:
  explicit sqlite_store(std::string path) : path_(std::move(path)) {
  }

  caf::error open();

  const char* backend() const override {
    return "sqlite";
  }

  caf::error begin() override {
    return run(begin_, "begin");
  }

  caf::error commit() override {
    if (auto err = run(commit_, "commit")) {
      // A failed COMMIT may leave the transaction open; end it so that nothing of it lands.
      rollback();
      return err;
    }
    return caf::none;
  }

  void rollback() override {
    if (!sqlite3_get_autocommit(conn_.db)) {
      use u{rollback_};
      u.step();
    }
  }

  caf::expected<task_record> insert_task(const new_task& t) override;
  caf::expected<claim> claim_run(task_id task, millis claimed_at) override;
  caf::error unclaim_run(run_id run) override;
  caf::error record_start(const process_start& p) override;
  caf::error finish_run(const run_outcome& o) override;
  caf::expected<task_view> get_task(task_id id) override;
  caf::error load_pending(const std::function<void(const pending_entry&)>& f) override;
  caf::expected<std::vector<orphan_run>> interrupt_running(millis now) override;

  caf::error ping() override {
    use u{ping_};
    auto rc = u.step();
    return rc == SQLITE_ROW ? caf::none : fail(rc, "ping");
  }

  caf::error reconnect() override {
    return caf::none; // an embedded database has no connection to lose
  }

private:
  /// Outages (the caller may retry) versus everything else.
  caf::error fail(int rc, const char* what) const {
    std::string msg = "sqlite ";
    msg += what;
    msg += ": ";
    msg += sqlite3_errmsg(conn_.db);
    switch (rc & 0xff) {
      case SQLITE_BUSY:
      case SQLITE_LOCKED:
      case SQLITE_FULL:
      case SQLITE_IOERR:
      case SQLITE_CANTOPEN:
        return make_error(ec::unavailable, std::move(msg));
      default:
        return make_error(ec::storage_failure, std::move(msg));
    }
  }

  /// Runs a statement that returns no rows.
  caf::error run(const statement& s, const char* what) {
    use u{s};
    auto rc = u.step();
    return rc == SQLITE_DONE ? caf::none : fail(rc, what);
  }

  /// Runs `f` all-or-nothing: in a savepoint inside the caller's transaction (a failed
  /// call then leaves the rest of the transaction intact), else in a transaction of its own.
  template <class F>
  caf::error atomically(F&& f) {
    bool own = sqlite3_get_autocommit(conn_.db) != 0;
    if (auto err = run(own ? begin_ : savepoint_, "begin"))
      return err;
    auto err = f();
    if (!err)
      err = own ? commit() : run(release_, "release savepoint");
    if (err) {
      if (own) {
        rollback();
      } else if (!sqlite3_get_autocommit(conn_.db)) {
        // Not when SQLite already rolled the whole transaction back (e.g. after an I/O error).
        run(rollback_to_, "rollback to savepoint");
        run(release_, "release savepoint");
      }
    }
    return err;
  }

  caf::error exec_script(const char* sql, const char* what) {
    char* msg = nullptr;
    auto rc = sqlite3_exec(conn_.db, sql, nullptr, nullptr, &msg);
    sqlite3_free(msg);
    return rc == SQLITE_OK ? caf::none : fail(rc, what);
  }

  caf::error configure();
  caf::error migrate();
  caf::error prepare_all();

  connection conn_;
  std::string path_;

  statement begin_, commit_, rollback_, savepoint_, release_, rollback_to_;
  statement insert_task_, find_by_key_;
  statement task_for_claim_, insert_run_, set_task_running_;
  statement run_for_unclaim_, previous_run_, set_task_pending_, delete_run_;
  statement record_start_, finish_run_, finish_task_;
  statement get_task_, load_pending_;
  statement running_runs_, interrupt_run_, interrupt_task_;
  statement ping_;
};

caf::error sqlite_store::open() {
  namespace fs = std::filesystem;
  auto parent = fs::path{path_}.parent_path();
  if (!parent.empty()) {
    std::error_code err;
    fs::create_directories(parent, err);
    if (err)
      return make_error(ec::unavailable, "sqlite: cannot create folder " + parent.string()
                                           + ": " + err.message());
  }
  // NOMUTEX: one owner (the persistence actor) uses the connection. SQLite opens the
  // database, WAL and shm files with O_CLOEXEC, so commands never inherit them.
  auto rc = sqlite3_open_v2(path_.c_str(), &conn_.db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            nullptr);
  if (rc != SQLITE_OK) {
    if (!conn_.db)
      return make_error(ec::unavailable, "sqlite open " + path_ + ": out of memory");
    return fail(rc, ("open " + path_).c_str());
  }
  if (auto err = configure())
    return err;
  if (auto err = migrate())
    return err;
  return prepare_all();
}

caf::error sqlite_store::configure() {
  sqlite3_busy_timeout(conn_.db, busy_timeout_ms);
  // journal_mode answers with the mode in effect: a file system without WAL support (or
  // shared memory) keeps the old one, and we refuse rather than run without durability.
  statement journal;
  auto rc = journal.prepare(conn_.db, "PRAGMA journal_mode=WAL", 0);
  if (rc != SQLITE_OK)
    return fail(rc, "journal_mode");
  {
    use u{journal};
    rc = u.step();
    if (rc != SQLITE_ROW)
      return fail(rc, "journal_mode");
    if (u.text(0) != "wal")
      return make_error(ec::storage_failure, "sqlite: cannot enable WAL mode on " + path_
                                               + " (journal mode is " + u.text(0) + ")");
  }
  // synchronous=FULL in WAL mode syncs the WAL at every commit: durable across a machine
  // crash, not only a process crash.
  return exec_script("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", "pragmas");
}

caf::error sqlite_store::migrate() {
  // IMMEDIATE: two processes opening a fresh file at once create the schema only once.
  if (auto err = exec_script("BEGIN IMMEDIATE", "begin schema check"))
    return err;
  auto result = [&]() -> caf::error {
    statement exists;
    auto rc = exists.prepare(conn_.db,
                             "SELECT count(*) FROM sqlite_schema"
                             " WHERE type = 'table' AND name = 'schema_version'",
                             0);
    if (rc != SQLITE_OK)
      return fail(rc, "schema check");
    bool found = false;
    {
      use u{exists};
      rc = u.step();
      if (rc != SQLITE_ROW)
        return fail(rc, "schema check");
      found = u.int64(0) > 0;
    }
    if (!found)
      if (auto err = exec_script(schema_v1, "create schema"))
        return err;
    statement read;
    rc = read.prepare(conn_.db, "SELECT version, (SELECT count(*) FROM schema_version)"
                                " FROM schema_version",
                      0);
    if (rc != SQLITE_OK)
      return fail(rc, "read schema version");
    int64_t version = 0;
    {
      use u{read};
      rc = u.step();
      if (rc != SQLITE_ROW || u.int64(1) != 1)
        return rc == SQLITE_ROW || rc == SQLITE_DONE
                 ? make_error(ec::storage_failure,
                              "sqlite: schema_version of " + path_ + " must hold one row")
                 : fail(rc, "read schema version");
      version = u.int64(0);
    }
    if (version > schema_version)
      return make_error(ec::schema_too_new, "database schema version "
                                              + std::to_string(version)
                                              + " is newer than this binary supports ("
                                              + std::to_string(schema_version) + ")");
    if (version < 1)
      return make_error(ec::storage_failure,
                        "sqlite: invalid schema version " + std::to_string(version));
    if (migrations().size() + 1 != static_cast<size_t>(schema_version))
      return make_error(ec::storage_failure, "sqlite: migration list does not reach version "
                                               + std::to_string(schema_version));
    if (version == schema_version)
      return caf::none;
    for (auto v = version; v < schema_version; ++v)
      if (auto err = exec_script(migrations()[static_cast<size_t>(v - 1)], "migrate"))
        return err;
    statement set;
    rc = set.prepare(conn_.db, "UPDATE schema_version SET version = ?1", 0);
    if (rc != SQLITE_OK)
      return fail(rc, "set schema version");
    use u{set};
    u.bind(1, schema_version);
    rc = u.step();
    return rc == SQLITE_DONE ? caf::none : fail(rc, "set schema version");
  }();
  if (result) {
    exec_script("ROLLBACK", "rollback schema");
    return result;
  }
  return exec_script("COMMIT", "commit schema");
}

caf::error sqlite_store::prepare_all() {
  const std::pair<statement*, const char*> all[] = {
    {&begin_, "BEGIN IMMEDIATE"},
    {&commit_, "COMMIT"},
    {&rollback_, "ROLLBACK"},
    {&savepoint_, "SAVEPOINT op"},
    {&release_, "RELEASE op"},
    {&rollback_to_, "ROLLBACK TO op"},
    // A reused idempotency key does nothing here instead of failing, so the surrounding
    // transaction is never disturbed; insert_task then reads the earlier row.
    {&insert_task_,
     "INSERT INTO tasks(command, due_ms, created_ms, status, idempotency_key, request_hash)"
     " VALUES(?1, ?2, ?3, 'pending', ?4, ?5) ON CONFLICT(idempotency_key) DO NOTHING"},
    {&find_by_key_, "SELECT id, command, due_ms, created_ms, status, request_hash"
                    " FROM tasks WHERE idempotency_key = ?1"},
    {&task_for_claim_, "SELECT status, command, due_ms FROM tasks WHERE id = ?1"},
    {&insert_run_,
     "INSERT INTO runs(task_id, status, claimed_ms) VALUES(?1, 'running', ?2)"},
    {&set_task_running_,
     "UPDATE tasks SET status = 'running', reason = NULL, latest_run = ?2 WHERE id = ?1"},
    {&run_for_unclaim_, "SELECT task_id, status, started_ms FROM runs WHERE id = ?1"},
    {&previous_run_, "SELECT max(id) FROM runs WHERE task_id = ?1 AND id <> ?2"},
    {&set_task_pending_,
     "UPDATE tasks SET status = 'pending', reason = NULL, latest_run = ?2 WHERE id = ?1"},
    {&delete_run_, "DELETE FROM runs WHERE id = ?1"},
    {&record_start_, "UPDATE runs SET pid = ?2, pgid = ?3, start_ticks = ?4, started_ms = ?5"
                     " WHERE id = ?1"},
    {&finish_run_,
     "UPDATE runs SET status = ?2, reason = ?3, exit_code = ?4, signal_no = ?5, output = ?6,"
     " output_truncated = ?7, finished_ms = ?8, started_ms = coalesce(?9, started_ms)"
     " WHERE id = ?1"},
    {&finish_task_, "UPDATE tasks SET status = ?2, reason = ?3"
                    " WHERE id = (SELECT task_id FROM runs WHERE id = ?1)"},
    {&get_task_,
     "SELECT t.id, t.command, t.due_ms, t.created_ms, t.status, t.reason, t.latest_run,"
     " r.exit_code, r.signal_no, r.output, r.output_truncated, r.started_ms, r.finished_ms"
     " FROM tasks t LEFT JOIN runs r ON r.id = t.latest_run WHERE t.id = ?1"},
    // The literal (not a parameter) lets the planner use the partial index tasks_pending.
    {&load_pending_, "SELECT id, due_ms FROM tasks WHERE status = 'pending'"},
    {&running_runs_, "SELECT id, task_id, pid, pgid, start_ticks, started_ms"
                     " FROM runs WHERE status = 'running'"},
    {&interrupt_run_, "UPDATE runs SET status = 'failure', reason = 'interrupted',"
                      " finished_ms = ?2 WHERE id = ?1"},
    {&interrupt_task_,
     "UPDATE tasks SET status = 'failure', reason = 'interrupted' WHERE id = ?1"},
    {&ping_, "SELECT 1"},
  };
  for (auto& [stmt, sql] : all) {
    auto rc = stmt->prepare(conn_.db, sql, SQLITE_PREPARE_PERSISTENT);
    if (rc != SQLITE_OK)
      return fail(rc, "prepare");
  }
  return caf::none;
}

caf::expected<task_record> sqlite_store::insert_task(const new_task& t) {
  task_record out;
  auto err = atomically([&]() -> caf::error {
    {
      use u{insert_task_};
      u.bind_text(1, t.command)
        .bind(2, t.due)
        .bind(3, t.created_at)
        .bind_text_or_null(4, t.idempotency_key)
        .bind_text_or_null(5, t.request_hash);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "insert task");
    }
    if (sqlite3_changes(conn_.db) == 1) {
      out.id = sqlite3_last_insert_rowid(conn_.db);
      out.command = t.command;
      out.due = t.due;
      out.created_at = t.created_at;
      out.status = task_status::pending;
      return caf::none;
    }
    // The key was used before: a retry of the same request, or a different one.
    use u{find_by_key_};
    u.bind_text(1, t.idempotency_key);
    auto rc = u.step();
    if (rc != SQLITE_ROW)
      return rc == SQLITE_DONE
               ? make_error(ec::storage_failure, "sqlite insert task: conflict without a row")
               : fail(rc, "find idempotency key");
    if (u.text(5) != t.request_hash)
      return make_error(ec::idempotency_conflict,
                        "idempotency key already used for a different request");
    auto status = parse_status(u.text(4));
    if (!status)
      return make_error(ec::storage_failure, "sqlite: unknown task status " + u.text(4));
    out.id = u.int64(0);
    out.command = u.text(1);
    out.due = u.int64(2);
    out.created_at = u.int64(3);
    out.status = *status;
    out.replayed = true;
    return caf::none;
  });
  if (err)
    return err;
  return out;
}

caf::expected<claim> sqlite_store::claim_run(task_id task, millis claimed_at) {
  claim out;
  auto err = atomically([&]() -> caf::error {
    {
      use u{task_for_claim_};
      u.bind(1, task);
      auto rc = u.step();
      if (rc == SQLITE_DONE)
        return make_error(ec::not_found, "no task " + std::to_string(task));
      if (rc != SQLITE_ROW)
        return fail(rc, "claim: read task");
      if (u.text(0) != to_string(task_status::pending))
        return make_error(ec::not_pending,
                          "task " + std::to_string(task) + " is " + u.text(0));
      out.task = task;
      out.command = u.text(1);
      out.due = u.int64(2);
    }
    {
      use u{insert_run_};
      u.bind(1, task).bind(2, claimed_at);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "claim: insert run");
      out.run = sqlite3_last_insert_rowid(conn_.db);
    }
    use u{set_task_running_};
    u.bind(1, task).bind(2, out.run);
    auto rc = u.step();
    return rc == SQLITE_DONE ? caf::none : fail(rc, "claim: update task");
  });
  if (err)
    return err;
  return out;
}

caf::error sqlite_store::unclaim_run(run_id run) {
  return atomically([&]() -> caf::error {
    task_id task = 0;
    {
      use u{run_for_unclaim_};
      u.bind(1, run);
      auto rc = u.step();
      if (rc == SQLITE_DONE)
        return make_error(ec::not_found, "no run " + std::to_string(run));
      if (rc != SQLITE_ROW)
        return fail(rc, "unclaim: read run");
      // A started process must never run twice: only an unstarted claim can be undone.
      if (u.text(1) != to_string(task_status::running) || !u.is_null(2))
        return make_error(ec::not_pending,
                          "run " + std::to_string(run) + " has started or ended");
      task = u.int64(0);
    }
    int64_t previous = 0;
    bool has_previous = false;
    {
      use u{previous_run_};
      u.bind(1, task).bind(2, run);
      auto rc = u.step();
      if (rc != SQLITE_ROW)
        return fail(rc, "unclaim: previous run");
      has_previous = !u.is_null(0);
      previous = u.int64(0);
    }
    {
      // The task first: nothing may point at the run once it is deleted.
      use u{set_task_pending_};
      u.bind(1, task).bind_if(2, has_previous, previous);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "unclaim: update task");
    }
    use u{delete_run_};
    u.bind(1, run);
    auto rc = u.step();
    return rc == SQLITE_DONE ? caf::none : fail(rc, "unclaim: delete run");
  });
}

caf::error sqlite_store::record_start(const process_start& p) {
  return atomically([&]() -> caf::error {
    use u{record_start_};
    u.bind(1, p.run)
      .bind(2, p.pid)
      .bind(3, p.pgid)
      .bind(4, static_cast<int64_t>(p.start_ticks))
      .bind(5, p.started_at);
    auto rc = u.step();
    if (rc != SQLITE_DONE)
      return fail(rc, "record start");
    if (sqlite3_changes(conn_.db) == 0)
      return make_error(ec::not_found, "no run " + std::to_string(p.run));
    return caf::none;
  });
}

caf::error sqlite_store::finish_run(const run_outcome& o) {
  if (o.status != task_status::success && o.status != task_status::failure)
    return make_error(ec::invalid_argument, "a run ends as success or failure");
  return atomically([&]() -> caf::error {
    auto status = to_string(o.status);
    std::string_view reason = o.reason == run_reason::none ? "" : to_string(o.reason);
    {
      use u{finish_run_};
      u.bind(1, o.run)
        .bind_text(2, status)
        .bind_text_or_null(3, reason)
        .bind_if(4, o.exit_code != null_value, o.exit_code)
        .bind_if(5, o.signal != 0, o.signal)
        .bind_text(6, o.output)
        .bind(7, o.output_truncated ? 1 : 0)
        .bind(8, o.finished_at)
        .bind_if(9, o.started_at != null_value, o.started_at);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "finish run");
      if (sqlite3_changes(conn_.db) == 0)
        return make_error(ec::not_found, "no run " + std::to_string(o.run));
    }
    use u{finish_task_};
    u.bind(1, o.run).bind_text(2, status).bind_text_or_null(3, reason);
    auto rc = u.step();
    return rc == SQLITE_DONE ? caf::none : fail(rc, "finish run: update task");
  });
}

caf::expected<task_view> sqlite_store::get_task(task_id id) {
  use u{get_task_};
  u.bind(1, id);
  auto rc = u.step();
  if (rc == SQLITE_DONE)
    return make_error(ec::not_found, "no task " + std::to_string(id));
  if (rc != SQLITE_ROW)
    return fail(rc, "get task");
  auto status = parse_status(u.text(4));
  auto reason = parse_reason(u.text(5));
  if (!status || !reason)
    return make_error(ec::storage_failure, "sqlite: unknown status or reason of task "
                                             + std::to_string(id));
  task_view v;
  v.id = u.int64(0);
  v.command = u.text(1);
  v.due = u.int64(2);
  v.created_at = u.int64(3);
  v.status = *status;
  v.reason = *reason;
  v.run = u.int64(6, 0);
  v.exit_code = static_cast<int32_t>(u.int64(7, null_value));
  v.signal = static_cast<int32_t>(u.int64(8, 0));
  v.output = u.text(9);
  v.output_truncated = u.int64(10, 0) != 0;
  v.started_at = u.int64(11, null_value);
  v.finished_at = u.int64(12, null_value);
  return v;
}

caf::error sqlite_store::load_pending(const std::function<void(const pending_entry&)>& f) {
  use u{load_pending_};
  for (;;) {
    auto rc = u.step();
    if (rc == SQLITE_DONE)
      return caf::none;
    if (rc != SQLITE_ROW)
      return fail(rc, "load pending");
    f(pending_entry{u.int64(0), u.int64(1)});
  }
}

caf::expected<std::vector<orphan_run>> sqlite_store::interrupt_running(millis now) {
  std::vector<orphan_run> out;
  auto err = atomically([&]() -> caf::error {
    out.clear();
    {
      use u{running_runs_};
      for (;;) {
        auto rc = u.step();
        if (rc == SQLITE_DONE)
          break;
        if (rc != SQLITE_ROW)
          return fail(rc, "interrupt: read runs");
        orphan_run o;
        o.run = u.int64(0);
        o.task = u.int64(1);
        o.process.run = o.run;
        o.process.pid = static_cast<int32_t>(u.int64(2, 0));
        o.process.pgid = static_cast<int32_t>(u.int64(3, 0));
        o.process.start_ticks = static_cast<uint64_t>(u.int64(4, 0));
        o.process.started_at = u.int64(5, null_value);
        out.push_back(o);
      }
    }
    for (auto& o : out) {
      {
        use u{interrupt_run_};
        u.bind(1, o.run).bind(2, now);
        auto rc = u.step();
        if (rc != SQLITE_DONE)
          return fail(rc, "interrupt: update run");
      }
      use u{interrupt_task_};
      u.bind(1, o.task);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "interrupt: update task");
    }
    return caf::none;
  });
  if (err)
    return err;
  return out;
}

} // namespace

caf::expected<std::unique_ptr<store>> make_sqlite_store(const std::string& path) {
  auto s = std::make_unique<sqlite_store>(path);
  if (auto err = s->open())
    return err;
  return std::unique_ptr<store>{std::move(s)};
}

} // namespace ts::storage
