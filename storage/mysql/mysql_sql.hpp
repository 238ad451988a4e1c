// Every SQL text of the MySQL / MariaDB backend: the schema and its migrations, the session
// settings, and the statements mysql_connection prepares on every connection (again after
// a reconnect).
#pragma once

#include <cstddef>
#include <vector>

namespace ts::storage::mysql::sql {

// -- schema -----------------------------------------------------------------------------------

// Each migration step brings the schema from version N-1 to N. MySQL commits DDL implicitly,
// so a step cannot be a transaction: its statements are idempotent instead, and a step cut
// short by a crash is simply run again (the version row is written after it).
inline const std::vector<std::vector<const char*>> migrations = {
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

inline constexpr const char* create_version_table =
  "CREATE TABLE IF NOT EXISTS schema_version (version INT NOT NULL) ENGINE=InnoDB";
inline constexpr const char* select_version = "SELECT MAX(version) FROM schema_version";
inline constexpr const char* delete_version = "DELETE FROM schema_version";
inline constexpr const char* insert_version = "INSERT INTO schema_version (version) VALUES (?)";
// The version row is replaced in one transaction: exactly one row at any time.
inline constexpr const char* begin_version = "START TRANSACTION";
inline constexpr const char* commit_version = "COMMIT";
inline constexpr const char* rollback_version = "ROLLBACK";
// Serializes the migration of one database between instances starting together.
inline constexpr const char* get_schema_lock =
  "SELECT GET_LOCK(CONCAT('taskschedulizer.', ?), ?)";
inline constexpr const char* release_schema_lock =
  "SELECT RELEASE_LOCK(CONCAT('taskschedulizer.', ?))";

// -- session ----------------------------------------------------------------------------------

inline constexpr const char* set_isolation =
  "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED";
// Strict mode: a value that does not fit is an error, never silently truncated. The long
// wait_timeout keeps a quiet service's connection: the server's default 8 hours would
// close it, and the next request would meet a spurious outage.
inline constexpr const char* set_session =
  "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION',"
  " wait_timeout = 31536000, innodb_lock_wait_timeout = ";

// -- statements, prepared on every connection -------------------------------------------------

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

inline constexpr statement_text statements[] = {
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

inline constexpr size_t statement_count = static_cast<size_t>(q::count_);
static_assert(sizeof(statements) / sizeof(statements[0]) == statement_count);

constexpr bool statements_in_order() {
  for (size_t i = 0; i < statement_count; ++i)
    if (static_cast<size_t>(statements[i].id) != i)
      return false;
  return true;
}
static_assert(statements_in_order(), "statements[] must follow the order of enum q");

} // namespace ts::storage::mysql::sql
