// The MySQL / MariaDB backend (MariaDB Connector/C). Every SQL statement of this backend lives
// in this file; each is prepared once per connection and re-prepared after a reconnect.
//
// Outages: a connection-level error marks the connection broken, so that every later call
// fails fast with ec::unavailable (and cannot silently run outside the lost transaction)
// until reconnect() succeeds. The client library's own auto-reconnect stays off for the same
// reason. Connect, read and write timeouts bound every call against a hung server.
#include "storage/mysql/mysql_store.hpp"

#include <array>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>

#include "core/error.hpp"

namespace ts::storage {

namespace {

// -- SQL ---------------------------------------------------------------------------------------

// Each migration step brings the schema from version N-1 to N. MySQL commits DDL implicitly,
// so a step cannot be a transaction: its statements are idempotent instead, and a step cut
// short by a crash is simply run again (the version row is written after it).
const std::vector<std::vector<const char*>> migrations = {
  // 1: the initial schema (storage/SCHEMA.md). The idempotency key is VARBINARY so that a key
  // matches only itself: utf8mb4_bin would still ignore trailing spaces (PAD SPACE), and
  // MySQL 8 lacks MariaDB's utf8mb4_nopad_bin. 1020 bytes hold 255 characters of utf8mb4.
  {
    "CREATE TABLE IF NOT EXISTS tasks ("
    " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " command MEDIUMTEXT NOT NULL,"
    " due_ms BIGINT NOT NULL,"
    " created_ms BIGINT NOT NULL,"
    " status VARCHAR(16) NOT NULL,"
    " reason VARCHAR(16) NULL,"
    " idempotency_key VARBINARY(1020) NULL,"
    " request_hash VARCHAR(64) NULL,"
    " latest_run BIGINT NULL,"
    " UNIQUE KEY tasks_idempotency_key (idempotency_key),"
    " KEY tasks_status (status)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "CREATE TABLE IF NOT EXISTS runs ("
    " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " task_id BIGINT NOT NULL,"
    " status VARCHAR(16) NOT NULL,"
    " reason VARCHAR(16) NULL,"
    " claimed_ms BIGINT NOT NULL,"
    " started_ms BIGINT NULL,"
    " finished_ms BIGINT NULL,"
    " exit_code INT NULL,"
    " signal_no INT NULL,"
    " output MEDIUMTEXT NULL,"
    " output_truncated BOOLEAN NOT NULL DEFAULT 0,"
    " pid INT NULL,"
    " pgid INT NULL,"
    " start_ticks BIGINT NULL,"
    " KEY runs_task (task_id),"
    " KEY runs_status (status),"
    " CONSTRAINT runs_task_fk FOREIGN KEY (task_id) REFERENCES tasks (id)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
  },
};

constexpr const char* create_version_table =
  "CREATE TABLE IF NOT EXISTS schema_version (version INT NOT NULL) ENGINE=InnoDB";
constexpr const char* select_version = "SELECT MAX(version) FROM schema_version";
constexpr const char* delete_version = "DELETE FROM schema_version";
constexpr const char* insert_version = "INSERT INTO schema_version (version) VALUES (?)";
// Serializes the migration of one database between instances starting together.
constexpr const char* get_schema_lock = "SELECT GET_LOCK(CONCAT('taskschedulizer.', ?), ?)";
constexpr const char* release_schema_lock =
  "SELECT RELEASE_LOCK(CONCAT('taskschedulizer.', ?))";

constexpr const char* set_isolation = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED";
// Strict mode: a value that does not fit is an error, never silently truncated. The long
// wait_timeout keeps a quiet service's connection: the server's default 8 hours would
// close it, and the next request would meet a spurious outage.
constexpr const char* set_session =
  "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION',"
  " wait_timeout = 31536000, innodb_lock_wait_timeout = ";

// The statements prepared on every connection.
enum class q : size_t {
  begin,
  commit,
  rollback,
  savepoint,
  rollback_to_savepoint,
  insert_task,
  select_task_by_key,
  claim_task,
  insert_run,
  set_latest_run,
  select_claimed,
  select_task_status,
  select_run,
  delete_run,
  reset_task,
  record_start,
  finish_run,
  finish_task,
  get_task,
  load_pending,
  select_running,
  interrupt_run,
  interrupt_task,
  count_,
};

struct statement_text {
  q id;
  const char* name;  // for error messages
  const char* sql;
};

constexpr statement_text statements[] = {
  {q::begin, "begin", "START TRANSACTION"},
  {q::commit, "commit", "COMMIT"},
  {q::rollback, "rollback", "ROLLBACK"},
  {q::savepoint, "savepoint", "SAVEPOINT op"},
  {q::rollback_to_savepoint, "rollback to savepoint", "ROLLBACK TO SAVEPOINT op"},
  {q::insert_task, "insert task",
   "INSERT INTO tasks (command, due_ms, created_ms, status, idempotency_key, request_hash)"
   " VALUES (?, ?, ?, 'pending', ?, ?)"},
  {q::select_task_by_key, "select task by key",
   "SELECT id, command, due_ms, created_ms, status, request_hash FROM tasks"
   " WHERE idempotency_key = ?"},
  // Atomic against concurrent claimers: the row lock serializes them and only one finds
  // the task still pending.
  {q::claim_task, "claim task",
   "UPDATE tasks SET status = 'running', reason = NULL WHERE id = ? AND status = 'pending'"},
  {q::insert_run, "insert run",
   "INSERT INTO runs (task_id, status, claimed_ms) VALUES (?, 'running', ?)"},
  {q::set_latest_run, "set latest run", "UPDATE tasks SET latest_run = ? WHERE id = ?"},
  {q::select_claimed, "select claimed task", "SELECT command, due_ms FROM tasks WHERE id = ?"},
  {q::select_task_status, "select task status", "SELECT status FROM tasks WHERE id = ?"},
  {q::select_run, "select run", "SELECT task_id, status, started_ms FROM runs WHERE id = ?"},
  {q::delete_run, "delete run", "DELETE FROM runs WHERE id = ?"},
  {q::reset_task, "reset task",
   "UPDATE tasks SET status = 'pending', reason = NULL,"
   " latest_run = (SELECT MAX(id) FROM runs WHERE task_id = ?) WHERE id = ?"},
  {q::record_start, "record start",
   "UPDATE runs SET pid = ?, pgid = ?, start_ticks = ?, started_ms = ? WHERE id = ?"},
  {q::finish_run, "finish run",
   "UPDATE runs SET status = ?, reason = ?, exit_code = ?, signal_no = ?, output = ?,"
   " output_truncated = ?, started_ms = COALESCE(?, started_ms), finished_ms = ?"
   " WHERE id = ?"},
  {q::finish_task, "finish task",
   "UPDATE tasks SET status = ?, reason = ? WHERE id = (SELECT task_id FROM runs WHERE id = ?)"},
  {q::get_task, "get task",
   "SELECT t.id, t.command, t.due_ms, t.created_ms, t.status, t.reason, t.latest_run,"
   " r.reason, r.exit_code, r.signal_no, r.output, r.output_truncated, r.started_ms,"
   " r.finished_ms"
   " FROM tasks t LEFT JOIN runs r ON r.id = t.latest_run WHERE t.id = ?"},
  {q::load_pending, "load pending", "SELECT id, due_ms FROM tasks WHERE status = 'pending'"},
  {q::select_running, "select running runs",
   "SELECT id, task_id, pid, pgid, start_ticks, started_ms FROM runs"
   " WHERE status = 'running' FOR UPDATE"},
  {q::interrupt_run, "interrupt run",
   "UPDATE runs SET status = 'failure', reason = 'interrupted', finished_ms = ?"
   " WHERE id = ? AND status = 'running'"},
  {q::interrupt_task, "interrupt task",
   "UPDATE tasks SET status = 'failure', reason = 'interrupted'"
   " WHERE id = ? AND status = 'running'"},
};

constexpr size_t statement_count = static_cast<size_t>(q::count_);
static_assert(sizeof(statements) / sizeof(statements[0]) == statement_count);

constexpr bool statements_in_order() {
  for (size_t i = 0; i < statement_count; ++i)
    if (static_cast<size_t>(statements[i].id) != i)
      return false;
  return true;
}
static_assert(statements_in_order(), "statements[] must follow the order of enum q");

// -- values ------------------------------------------------------------------------------------

bool parse_status(std::string_view s, task_status& out) {
  for (auto x : {task_status::pending, task_status::running, task_status::success,
                 task_status::failure})
    if (s == to_string(x)) {
      out = x;
      return true;
    }
  return false;
}

run_reason parse_reason(std::string_view s) {
  for (auto x : {run_reason::exit, run_reason::signal, run_reason::start_failed,
                 run_reason::interrupted})
    if (s == to_string(x))
      return x;
  return run_reason::none;
}

/// Errors that mean the server is away or timed out (or rolled the whole transaction
/// back): the caller may retry later, and this connection must be replaced first.
bool is_outage(unsigned code) {
  switch (code) {
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_UNKNOWN_HOST:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_SERVER_LOST_EXTENDED:
    case CR_ERR_NET_READ:
    case CR_ERR_NET_WRITE:
    case ER_CON_COUNT_ERROR:
    case ER_OUT_OF_RESOURCES:
    case ER_SERVER_SHUTDOWN:
    case ER_CANT_CREATE_THREAD:
    case ER_ABORTING_CONNECTION:
    case ER_NEW_ABORTING_CONNECTION:
    case ER_NET_READ_ERROR:
    case ER_NET_READ_INTERRUPTED:
    case ER_NET_WRITE_INTERRUPTED:
    case ER_LOCK_WAIT_TIMEOUT:
    case ER_LOCK_DEADLOCK:
    case ER_QUERY_INTERRUPTED:
    case ER_CONNECTION_KILLED:
    case ER_STATEMENT_TIMEOUT:
      return true;
    default:
      return false;
  }
}

/// Parameters of one execution. Fixed capacity: the bind structures point into this object,
/// and string parameters point at the caller's strings, which must outlive the execution.
class params {
public:
  params() = default;
  params(const params&) = delete;
  params& operator=(const params&) = delete;

  params& integer(int64_t v) {
    auto i = next();
    ints_[i] = v;
    binds_[i].buffer_type = MYSQL_TYPE_LONGLONG;
    binds_[i].buffer = &ints_[i];
    return *this;
  }

  /// NULL when `is_null`.
  params& integer(int64_t v, bool is_null) {
    integer(v);
    if (is_null)
      set_null();
    return *this;
  }

  params& text(const std::string& s) {
    auto i = next();
    lens_[i] = s.size();
    binds_[i].buffer_type = MYSQL_TYPE_STRING;
    binds_[i].buffer = const_cast<char*>(s.data());  // only read by the library
    binds_[i].buffer_length = s.size();
    binds_[i].length = &lens_[i];
    return *this;
  }

  params& text(const std::string& s, bool is_null) {
    text(s);
    if (is_null)
      set_null();
    return *this;
  }

  /// More than `capacity` parameters is a programming error that execution refuses.
  bool overflowed() const {
    return n_ > capacity;
  }

  size_t size() const {
    return n_;
  }

  MYSQL_BIND* binds() {
    return binds_.data();
  }

private:
  static constexpr size_t capacity = 12;

  /// The slot of the next parameter; past the capacity, a scratch slot never sent.
  size_t next() {
    auto i = n_ < capacity ? n_ : capacity;
    ++n_;
    std::memset(&binds_[i], 0, sizeof(MYSQL_BIND));
    nulls_[i] = 0;
    return i;
  }

  void set_null() {
    auto i = n_ - 1 < capacity ? n_ - 1 : capacity;
    nulls_[i] = 1;
    binds_[i].is_null = &nulls_[i];
  }

  std::array<MYSQL_BIND, capacity + 1> binds_{};
  std::array<long long, capacity + 1> ints_{};
  std::array<unsigned long, capacity + 1> lens_{};
  std::array<my_bool, capacity + 1> nulls_{};
  size_t n_ = 0;
};

enum class col { integer, text };

/// One row of a result set, with columns declared as integers or texts. Texts of any
/// length are read in two steps: a short fixed buffer first, then mysql_stmt_fetch_column
/// for the whole value when it did not fit (outputs reach 64 KiB and more).
class row {
public:
  row(std::initializer_list<col> kinds) : kinds_(kinds) {
    auto n = kinds_.size();
    binds_.resize(n);
    ints_.resize(n);
    lens_.resize(n);
    nulls_.resize(n);
    errors_.resize(n);
    shorts_.resize(n);
    texts_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      auto& b = binds_[i];
      std::memset(&b, 0, sizeof b);
      b.is_null = &nulls_[i];
      b.length = &lens_[i];
      b.error = &errors_[i];
      if (kinds_[i] == col::integer) {
        b.buffer_type = MYSQL_TYPE_LONGLONG;
        b.buffer = &ints_[i];
      } else {
        b.buffer_type = MYSQL_TYPE_STRING;
        b.buffer = shorts_[i].data();
        b.buffer_length = shorts_[i].size();
      }
    }
  }

  row(const row&) = delete;
  row& operator=(const row&) = delete;

  size_t size() const {
    return kinds_.size();
  }

  MYSQL_BIND* binds() {
    return binds_.data();
  }

  /// Completes the texts of the row just fetched; false when the library refuses.
  bool complete(MYSQL_STMT* stmt) {
    for (size_t i = 0; i < kinds_.size(); ++i) {
      if (kinds_[i] != col::text)
        continue;
      auto& out = texts_[i];
      if (nulls_[i]) {
        out.clear();
        continue;
      }
      auto len = lens_[i];
      if (len <= shorts_[i].size()) {
        out.assign(shorts_[i].data(), len);
        continue;
      }
      out.resize(len);
      MYSQL_BIND b;
      std::memset(&b, 0, sizeof b);
      unsigned long got = 0;
      b.buffer_type = MYSQL_TYPE_STRING;
      b.buffer = out.data();
      b.buffer_length = len;
      b.length = &got;
      if (mysql_stmt_fetch_column(stmt, &b, static_cast<unsigned>(i), 0) != 0 || got != len)
        return false;
    }
    return true;
  }

  bool is_null(size_t i) const {
    return nulls_[i] != 0;
  }

  int64_t integer(size_t i, int64_t if_null = null_value) const {
    return nulls_[i] ? if_null : static_cast<int64_t>(ints_[i]);
  }

  std::string& text(size_t i) {
    return texts_[i];
  }

private:
  std::vector<col> kinds_;
  std::vector<MYSQL_BIND> binds_;
  std::vector<long long> ints_;
  std::vector<unsigned long> lens_;
  std::vector<my_bool> nulls_;
  std::vector<my_bool> errors_;
  std::vector<std::array<char, 256>> shorts_;
  std::vector<std::string> texts_;
};

void init_library_once() {
  // mysql_init would do this on first use, but not safely from two threads at once.
  static std::once_flag flag;
  std::call_once(flag, [] { mysql_library_init(0, nullptr, nullptr); });
}

// -- the store ---------------------------------------------------------------------------------

class mysql_store final : public store {
public:
  mysql_store(db_url url, const store_options& opts)
    : url_(std::move(url)),
      password_(url_.has_password ? url_.password : opts.password),
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

  ~mysql_store() override {
    close();
  }

  mysql_store(const mysql_store&) = delete;
  mysql_store& operator=(const mysql_store&) = delete;

  /// Connects, brings the schema up to date and prepares the statements.
  caf::error open() {
    auto err = connect();
    if (!err)
      err = migrate();
    if (!err)
      err = prepare_all();
    if (err)
      close();
    return err;
  }

  const char* backend() const override {
    return "mysql";
  }

  // -- transactions --------------------------------------------------------------------------

  caf::error begin() override {
    if (auto err = usable())
      return err;
    if (in_tx_)
      return make_error(ec::storage_failure, "mysql: a transaction is already open");
    params p;
    if (auto err = execute(q::begin, p))
      return err;
    in_tx_ = true;
    return {};
  }

  caf::error commit() override {
    if (auto err = usable())
      return err;
    in_tx_ = false;
    params p;
    return execute(q::commit, p);
  }

  void rollback() override {
    in_tx_ = false;
    if (!conn_ || broken_)
      return;  // the server rolls back a transaction whose connection is gone
    params p;
    static_cast<void>(execute(q::rollback, p));
  }

  // -- writes ----------------------------------------------------------------------------------

  caf::expected<task_record> insert_task(const new_task& t) override {
    if (auto err = usable())
      return err;
    bool no_key = t.idempotency_key.empty();
    params p;
    p.text(t.command)
      .integer(t.due)
      .integer(t.created_at)
      .text(t.idempotency_key, no_key)
      .text(t.request_hash, no_key);
    auto err = execute(q::insert_task, p);
    if (!err) {
      task_record rec;
      rec.id = static_cast<task_id>(mysql_stmt_insert_id(stmt(q::insert_task)));
      rec.command = t.command;
      rec.due = t.due;
      rec.created_at = t.created_at;
      rec.status = task_status::pending;
      return rec;
    }
    if (last_errno_ != ER_DUP_ENTRY)
      return err;
    // The key was used before. InnoDB undid only the failed statement, so the transaction
    // goes on; the earlier row is committed or our own (a duplicate insert waits for a
    // concurrent one to commit or roll back first).
    params k;
    k.text(t.idempotency_key);
    row r{col::integer, col::text, col::integer, col::integer, col::text, col::text};
    bool found = false;
    if (auto err2 = query(q::select_task_by_key, k, r, [&] { found = true; }))
      return err2;
    if (!found)
      return make_error(ec::storage_failure, "mysql: duplicate idempotency key, but no row");
    if (r.text(5) != t.request_hash)
      return make_error(ec::idempotency_conflict,
                        "the idempotency key was used with a different request");
    task_record rec;
    rec.id = r.integer(0);
    rec.command = std::move(r.text(1));
    rec.due = r.integer(2);
    rec.created_at = r.integer(3);
    if (!parse_status(r.text(4), rec.status))
      return make_error(ec::storage_failure, "mysql: unknown task status in the database");
    rec.replayed = true;
    return rec;
  }

  caf::expected<claim> claim_run(task_id task, millis claimed_at) override {
    claim c;
    auto err = atomically([&]() -> caf::error {
      params p;
      p.integer(task);
      if (auto err = execute(q::claim_task, p))
        return err;
      if (affected(q::claim_task) == 0)
        return refusal(task);
      params r;
      r.integer(task).integer(claimed_at);
      if (auto err = execute(q::insert_run, r))
        return err;
      c.run = static_cast<run_id>(mysql_stmt_insert_id(stmt(q::insert_run)));
      c.task = task;
      params l;
      l.integer(c.run).integer(task);
      if (auto err = execute(q::set_latest_run, l))
        return err;
      params s;
      s.integer(task);
      row t{col::text, col::integer};
      bool found = false;
      if (auto err = query(q::select_claimed, s, t, [&] {
            c.command = std::move(t.text(0));
            c.due = t.integer(1);
            found = true;
          }))
        return err;
      if (!found)
        return make_error(ec::storage_failure, "mysql: claimed task vanished");
      return {};
    });
    if (err)
      return err;
    return c;
  }

  caf::error unclaim_run(run_id run) override {
    return atomically([&]() -> caf::error {
      params p;
      p.integer(run);
      row r{col::integer, col::text, col::integer};
      bool found = false;
      bool claimed_only = false;
      task_id task = 0;
      if (auto err = query(q::select_run, p, r, [&] {
            found = true;
            task = r.integer(0);
            claimed_only = r.text(1) == "running" && r.is_null(2);
          }))
        return err;
      if (!found)
        return make_error(ec::not_found, "no run " + std::to_string(run));
      // Once the process started, undoing the claim would let the task run twice.
      if (!claimed_only)
        return make_error(ec::not_pending,
                          "run " + std::to_string(run) + " has started or ended");
      params d;
      d.integer(run);
      if (auto err = execute(q::delete_run, d))
        return err;
      params t;
      t.integer(task).integer(task);
      return execute(q::reset_task, t);
    });
  }

  caf::error record_start(const process_start& s) override {
    if (auto err = usable())
      return err;
    params p;
    p.integer(s.pid)
      .integer(s.pgid)
      .integer(static_cast<int64_t>(s.start_ticks))
      .integer(s.started_at)
      .integer(s.run);
    if (auto err = execute(q::record_start, p))
      return err;
    if (affected(q::record_start) == 0)
      return make_error(ec::not_found, "no run " + std::to_string(s.run));
    return {};
  }

  caf::error finish_run(const run_outcome& o) override {
    return atomically([&]() -> caf::error {
      std::string status = to_string(o.status);
      std::string reason = to_string(o.reason);
      bool no_reason = o.reason == run_reason::none;
      params p;
      p.text(status)
        .text(reason, no_reason)
        .integer(o.exit_code, o.exit_code == null_value)
        .integer(o.signal, o.signal == 0)
        .text(o.output)
        .integer(o.output_truncated ? 1 : 0)
        .integer(o.started_at, o.started_at == null_value)
        .integer(o.finished_at)
        .integer(o.run);
      if (auto err = execute(q::finish_run, p))
        return err;
      if (affected(q::finish_run) == 0)
        return make_error(ec::not_found, "no run " + std::to_string(o.run));
      // The task keeps a reason only when it failed (SCHEMA.md).
      params t;
      t.text(status).text(reason, no_reason || o.status != task_status::failure).integer(o.run);
      return execute(q::finish_task, t);
    });
  }

  // -- reads and maintenance -------------------------------------------------------------------

  caf::expected<task_view> get_task(task_id id) override {
    if (auto err = usable())
      return err;
    params p;
    p.integer(id);
    row r{col::integer, col::text,    col::integer, col::integer, col::text,
          col::text,    col::integer, col::text,    col::integer, col::integer,
          col::text,    col::integer, col::integer, col::integer};
    task_view v;
    bool found = false;
    bool bad_status = false;
    if (auto err = query(q::get_task, p, r, [&] {
          found = true;
          v.id = r.integer(0);
          v.command = std::move(r.text(1));
          v.due = r.integer(2);
          v.created_at = r.integer(3);
          bad_status = !parse_status(r.text(4), v.status);
          v.run = r.integer(6, 0);
          v.reason = parse_reason(r.is_null(7) ? r.text(5) : r.text(7));
          v.exit_code = static_cast<int32_t>(r.integer(8));
          v.signal = static_cast<int32_t>(r.integer(9, 0));
          v.output = std::move(r.text(10));
          v.output_truncated = r.integer(11, 0) != 0;
          v.started_at = r.integer(12);
          v.finished_at = r.integer(13);
        }))
      return err;
    if (!found)
      return make_error(ec::not_found, "no task " + std::to_string(id));
    if (bad_status)
      return make_error(ec::storage_failure, "mysql: unknown task status in the database");
    return v;
  }

  caf::error load_pending(const std::function<void(const pending_entry&)>& f) override {
    if (auto err = usable())
      return err;
    // Gathered first: `f` may be slow or call back into the store.
    std::vector<pending_entry> all;
    params p;
    row r{col::integer, col::integer};
    if (auto err = query(q::load_pending, p, r,
                         [&] { all.push_back(pending_entry{r.integer(0), r.integer(1)}); }))
      return err;
    for (auto& e : all)
      f(e);
    return {};
  }

  caf::expected<std::vector<orphan_run>> interrupt_running(millis now) override {
    std::vector<orphan_run> out;
    auto err = atomically([&]() -> caf::error {
      out.clear();
      params p;
      row r{col::integer, col::integer, col::integer, col::integer, col::integer, col::integer};
      if (auto err = query(q::select_running, p, r, [&] {
            orphan_run o;
            o.run = r.integer(0);
            o.task = r.integer(1);
            o.process.run = o.run;
            o.process.pid = static_cast<int32_t>(r.integer(2, 0));
            o.process.pgid = static_cast<int32_t>(r.integer(3, 0));
            o.process.start_ticks = static_cast<uint64_t>(r.integer(4, 0));
            o.process.started_at = r.integer(5);  // null_value when never started, as in SQLite
            out.push_back(o);
          }))
        return err;
      for (auto& o : out) {
        params u;
        u.integer(now).integer(o.run);
        if (auto err = execute(q::interrupt_run, u))
          return err;
        params t;
        t.integer(o.task);
        if (auto err = execute(q::interrupt_task, t))
          return err;
      }
      return {};
    });
    if (err)
      return err;
    return out;
  }

  caf::error ping() override {
    if (auto err = usable())
      return err;
    if (mysql_ping(conn_) != 0)
      return fail(mysql_errno(conn_), mysql_error(conn_), "ping");
    return {};
  }

  caf::error reconnect() override {
    // A healthy connection is kept: replacing it would drop an open transaction.
    if (conn_ && !broken_ && mysql_ping(conn_) == 0)
      return {};
    close();
    auto err = connect();
    if (!err)
      err = prepare_all();
    if (err)
      close();  // half a connection would look usable
    return err;
  }

private:
  // -- connection ----------------------------------------------------------------------------

  caf::error connect() {
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
    std::string session = set_session + std::to_string(lock_wait_timeout());
    if (auto err = exec_once(set_isolation, "session setup"))
      return err;
    return exec_once(session.c_str(), "session setup");
  }

  /// Below the read timeout, so that a lock wait ends with the server's error rather
  /// than a client timeout that would cost the connection.
  int lock_wait_timeout() const {
    return io_timeout_s_ > 1 ? io_timeout_s_ - 1 : 1;
  }

  void close() {
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

  caf::error prepare_all() {
    for (auto& st : statements) {
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

  // -- schema ----------------------------------------------------------------------------------

  caf::error migrate() {
    // Lock names are server-wide: the database name keeps two databases apart. The wait
    // stays below the read timeout.
    std::string lock_name = url_.database.substr(0, 40);
    bool locked = false;
    {
      params p;
      p.text(lock_name).integer(lock_wait_timeout());
      row r{col::integer};
      if (auto err = query_once(get_schema_lock, "schema lock", p, r,
                                [&] { locked = r.integer(0, 0) == 1; }))
        return err;
    }
    if (!locked)
      return make_error(ec::unavailable,
                        "mysql: another instance is migrating the schema at " + where_);
    auto err = migrate_locked();
    if (!broken_) {
      params p;
      p.text(lock_name);
      row r{col::integer};
      static_cast<void>(query_once(release_schema_lock, "schema unlock", p, r, [] {}));
    }
    return err;
  }

  caf::error migrate_locked() {
    if (auto err = exec_once(create_version_table, "create schema_version"))
      return err;
    int version = 0;
    {
      params p;
      row r{col::integer};
      if (auto err = query_once(select_version, "read schema version", p, r,
                                [&] { version = static_cast<int>(r.integer(0, 0)); }))
        return err;
    }
    if (version > schema_version)
      return make_error(ec::schema_too_new, "database schema version " + std::to_string(version)
                                              + " is newer than this binary supports ("
                                              + std::to_string(schema_version) + ")");
    if (migrations.size() != static_cast<size_t>(schema_version))
      return make_error(ec::storage_failure, "mysql: no migration step per schema version");
    for (int v = version + 1; v <= schema_version; ++v) {
      for (auto sql : migrations[static_cast<size_t>(v - 1)])
        if (auto err = exec_once(sql, "migration"))
          return err;
      // The version row is replaced in one transaction: exactly one row at any time.
      if (auto err = exec_once("START TRANSACTION", "migration"))
        return err;
      params p;
      p.integer(v);
      caf::error err = exec_once(delete_version, "migration");
      if (!err)
        err = run_once(insert_version, "migration", p, nullptr, nullptr);
      if (!err)
        err = exec_once("COMMIT", "migration");
      if (err) {
        if (!broken_)
          static_cast<void>(exec_once("ROLLBACK", "migration"));
        return err;
      }
    }
    return {};
  }

  // -- execution -------------------------------------------------------------------------------

  /// Fails fast while the connection is known to be lost.
  caf::error usable() const {
    if (conn_ == nullptr || broken_)
      return make_error(ec::unavailable,
                        "mysql: no connection to " + where_ + "; waiting for reconnect");
    return {};
  }

  MYSQL_STMT* stmt(q id) const {
    return stmts_[static_cast<size_t>(id)];
  }

  uint64_t affected(q id) const {
    return static_cast<uint64_t>(mysql_stmt_affected_rows(stmt(id)));
  }

  /// Runs `f` as one unit: under a savepoint inside the caller's transaction (a failure
  /// undoes only this operation and leaves the transaction usable), else in a transaction
  /// of its own.
  template <class F>
  caf::error atomically(F f) {
    if (auto err = usable())
      return err;
    params none;
    if (in_tx_) {
      if (auto err = execute(q::savepoint, none))
        return err;
      auto err = f();
      if (err && !broken_) {
        params p;
        static_cast<void>(execute(q::rollback_to_savepoint, p));
      }
      return err;
    }
    if (auto err = begin())
      return err;
    if (auto err = f()) {
      rollback();
      return err;
    }
    return commit();
  }

  /// Executes a prepared statement that returns no rows.
  caf::error execute(q id, params& p) {
    return run(stmt(id), statements[static_cast<size_t>(id)].name, p, nullptr, nullptr);
  }

  /// Executes a prepared statement and calls `on_row` for each row, read into `r`.
  template <class F>
  caf::error query(q id, params& p, row& r, F on_row) {
    std::function<void()> g = std::move(on_row);
    return run(stmt(id), statements[static_cast<size_t>(id)].name, p, &r, &g);
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
  caf::error run(MYSQL_STMT* s, const char* what, params& p, row* r,
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
  caf::error fail(unsigned code, const char* msg, const char* what) {
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
  std::string scrub(std::string text) const {
    if (password_.empty())
      return text;
    for (size_t pos = text.find(password_); pos != std::string::npos;
         pos = text.find(password_, pos + 3))
      text.replace(pos, password_.size(), "***");
    return text;
  }

  /// ec::not_found or ec::not_pending for a task that could not be claimed.
  caf::error refusal(task_id task) {
    params p;
    p.integer(task);
    row r{col::text};
    bool found = false;
    if (auto err = query(q::select_task_status, p, r, [&] { found = true; }))
      return err;
    if (!found)
      return make_error(ec::not_found, "no task " + std::to_string(task));
    return make_error(ec::not_pending,
                      "task " + std::to_string(task) + " is " + r.text(0) + ", not pending");
  }

  db_url url_;
  std::string password_;
  int connect_timeout_s_;
  int io_timeout_s_;
  std::string where_;  // host:port or socket, user and database: never the password
  MYSQL* conn_ = nullptr;
  std::array<MYSQL_STMT*, statement_count> stmts_;
  bool broken_ = true;
  bool in_tx_ = false;
  unsigned last_errno_ = 0;
};

} // namespace

caf::expected<std::unique_ptr<store>> make_mysql_store(const db_url& url,
                                                       const store_options& opts) {
  auto result = std::make_unique<mysql_store>(url, opts);
  if (auto err = result->open())
    return err;
  return std::unique_ptr<store>{std::move(result)};
}

} // namespace ts::storage
