// Every SQL text of the SQLite backend: the schema and its migrations, the connection
// settings, and the statements sqlite_store prepares once at open and reuses.
#pragma once

#include <array>

namespace ts::storage::sqlite::sql {

// -- schema -----------------------------------------------------------------------------------

/// Version 1 (storage/SCHEMA.md). STRICT tables reject a value of the wrong type instead of
/// storing it silently.
inline constexpr const char* schema_v1 = R"sql(
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

/// migrations[i] brings a database from version i + 1 to i + 2 inside the open schema
/// transaction. A schema change appends one entry here and bumps storage::schema_version.
inline constexpr std::array<const char*, 0> migrations{};

// IMMEDIATE: two processes opening a fresh file at once create the schema only once.
inline constexpr const char* begin_schema = "BEGIN IMMEDIATE";
inline constexpr const char* commit_schema = "COMMIT";
inline constexpr const char* rollback_schema = "ROLLBACK";
inline constexpr const char* schema_exists =
  "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'";
/// The version and the row count, which must be one.
inline constexpr const char* read_version =
  "SELECT version, (SELECT count(*) FROM schema_version) FROM schema_version";
inline constexpr const char* set_version = "UPDATE schema_version SET version = ?1";

// -- connection settings ----------------------------------------------------------------------

// journal_mode answers with the mode in effect: a file system without WAL support (or shared
// memory) keeps the old one, and the store refuses rather than run without durability.
inline constexpr const char* journal_mode_wal = "PRAGMA journal_mode=WAL";
// synchronous=FULL in WAL mode syncs the WAL at every commit: durable across a machine
// crash, not only a process crash.
inline constexpr const char* pragmas = "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;";

// -- statements, prepared once (SQLITE_PREPARE_PERSISTENT) -------------------------------------

inline constexpr const char* begin = "BEGIN IMMEDIATE";
inline constexpr const char* commit = "COMMIT";
inline constexpr const char* rollback = "ROLLBACK";
inline constexpr const char* savepoint = "SAVEPOINT op";
inline constexpr const char* release = "RELEASE op";
inline constexpr const char* rollback_to = "ROLLBACK TO op";

// A reused idempotency key does nothing here instead of failing, so the surrounding
// transaction is never disturbed; insert_task then reads the earlier row.
inline constexpr const char* insert_task =
  "INSERT INTO tasks(command, due_ms, created_ms, status, idempotency_key, request_hash)"
  " VALUES(?1, ?2, ?3, 'pending', ?4, ?5) ON CONFLICT(idempotency_key) DO NOTHING";
inline constexpr const char* find_by_key =
  "SELECT id, command, due_ms, created_ms, status, request_hash"
  " FROM tasks WHERE idempotency_key = ?1";

inline constexpr const char* task_for_claim =
  "SELECT status, command, due_ms FROM tasks WHERE id = ?1";
inline constexpr const char* insert_run =
  "INSERT INTO runs(task_id, status, claimed_ms) VALUES(?1, 'running', ?2)";
inline constexpr const char* set_task_running =
  "UPDATE tasks SET status = 'running', reason = NULL, latest_run = ?2 WHERE id = ?1";

inline constexpr const char* run_for_unclaim =
  "SELECT task_id, status, started_ms FROM runs WHERE id = ?1";
inline constexpr const char* previous_run =
  "SELECT max(id) FROM runs WHERE task_id = ?1 AND id <> ?2";
inline constexpr const char* set_task_pending =
  "UPDATE tasks SET status = 'pending', reason = NULL, latest_run = ?2 WHERE id = ?1";
inline constexpr const char* delete_run = "DELETE FROM runs WHERE id = ?1";

inline constexpr const char* record_start =
  "UPDATE runs SET pid = ?2, pgid = ?3, start_ticks = ?4, started_ms = ?5 WHERE id = ?1";
inline constexpr const char* finish_run =
  "UPDATE runs SET status = ?2, reason = ?3, exit_code = ?4, signal_no = ?5, output = ?6,"
  " output_truncated = ?7, finished_ms = ?8, started_ms = coalesce(?9, started_ms)"
  " WHERE id = ?1";
inline constexpr const char* finish_task =
  "UPDATE tasks SET status = ?2, reason = ?3 WHERE id = (SELECT task_id FROM runs WHERE id = ?1)";

inline constexpr const char* get_task =
  "SELECT t.id, t.command, t.due_ms, t.created_ms, t.status, t.reason, t.latest_run,"
  " r.reason, r.exit_code, r.signal_no, r.output, r.output_truncated, r.started_ms,"
  " r.finished_ms"
  " FROM tasks t LEFT JOIN runs r ON r.id = t.latest_run WHERE t.id = ?1";
// The literal (not a parameter) lets the planner use the partial index tasks_pending.
inline constexpr const char* load_pending = "SELECT id, due_ms FROM tasks WHERE status = 'pending'";

inline constexpr const char* running_runs =
  "SELECT id, task_id, pid, pgid, start_ticks, started_ms FROM runs WHERE status = 'running'";
inline constexpr const char* interrupt_run =
  "UPDATE runs SET status = 'failure', reason = 'interrupted', finished_ms = ?2 WHERE id = ?1";
inline constexpr const char* interrupt_task =
  "UPDATE tasks SET status = 'failure', reason = 'interrupted' WHERE id = ?1";

inline constexpr const char* ping = "SELECT 1";

} // namespace ts::storage::sqlite::sql
