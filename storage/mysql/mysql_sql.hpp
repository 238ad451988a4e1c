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
  // 2 (issue 10): the v1 resources, as in the SQLite schema_v2 (storage/SCHEMA.md). The
  // backfills derive only from version 1's columns, so a step cut short runs again alike.
  // Names, label keys and values are VARBINARY: compared byte for byte, trailing spaces
  // included (PAD SPACE would make 'a ' equal 'a'), and limited in bytes as the API is.
  {
    "ALTER TABLE tasks"
    " ADD COLUMN IF NOT EXISTS name VARBINARY(200) NULL,"
    " ADD COLUMN IF NOT EXISTS time_zone VARCHAR(64) NULL,"
    " ADD COLUMN IF NOT EXISTS output_limit_bytes BIGINT NOT NULL DEFAULT 65536,"
    " ADD COLUMN IF NOT EXISTS state VARCHAR(16) NOT NULL DEFAULT 'active',"
    " ADD COLUMN IF NOT EXISTS version BIGINT NOT NULL DEFAULT 1,"
    " ADD COLUMN IF NOT EXISTS next_run_ms BIGINT NULL,"
    " ADD COLUMN IF NOT EXISTS next_trigger VARCHAR(16) NOT NULL DEFAULT 'schedule',"
    " ADD COLUMN IF NOT EXISTS updated_ms BIGINT NOT NULL DEFAULT 0",
    "UPDATE tasks SET"
    " state = CASE WHEN status IN ('pending', 'running') THEN 'active' ELSE 'completed' END,"
    " next_run_ms = CASE WHEN status = 'pending' THEN due_ms END,"
    " updated_ms = created_ms",
    // The keyset of `state=` lists, walked backwards from the cursor.
    "CREATE INDEX IF NOT EXISTS tasks_state ON tasks (state, id)",
    "CREATE TABLE IF NOT EXISTS task_labels ("
    " task_id BIGINT NOT NULL,"
    " label_key VARBINARY(63) NOT NULL,"
    " label_value VARBINARY(200) NOT NULL,"
    " PRIMARY KEY (task_id, label_key),"
    " KEY task_labels_pair (label_key, label_value, task_id),"
    " CONSTRAINT task_labels_task_fk FOREIGN KEY (task_id) REFERENCES tasks (id)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "ALTER TABLE runs"
    " ADD COLUMN IF NOT EXISTS attempt INT NOT NULL DEFAULT 1,"
    " ADD COLUMN IF NOT EXISTS run_trigger VARCHAR(16) NOT NULL DEFAULT 'schedule',"
    " ADD COLUMN IF NOT EXISTS scheduled_ms BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS message TEXT NULL,"
    " ADD COLUMN IF NOT EXISTS lateness_ms BIGINT NULL,"
    " ADD COLUMN IF NOT EXISTS stop_requested_ms BIGINT NULL,"
    " ADD COLUMN IF NOT EXISTS output_bytes BIGINT NOT NULL DEFAULT 0",
    // Multi-table UPDATE assigns in no set order: each value reads only the old columns.
    "UPDATE runs r JOIN tasks t ON t.id = r.task_id SET"
    " r.scheduled_ms = t.due_ms,"
    " r.status = CASE WHEN r.status = 'running' AND r.started_ms IS NULL THEN 'starting'"
    " ELSE r.status END,"
    " r.output_bytes = COALESCE(LENGTH(r.output), 0),"
    " r.lateness_ms = r.started_ms - t.due_ms",
    // Chunks keyed by the byte offset where each ends; within the packet limit each.
    "CREATE TABLE IF NOT EXISTS run_output ("
    " run_id BIGINT NOT NULL,"
    " end_off BIGINT NOT NULL,"
    " data MEDIUMBLOB NOT NULL,"
    " PRIMARY KEY (run_id, end_off),"
    " CONSTRAINT run_output_run_fk FOREIGN KEY (run_id) REFERENCES runs (id)"
    ") ENGINE=InnoDB",
    "INSERT IGNORE INTO run_output (run_id, end_off, data)"
    " SELECT id, output_bytes, output FROM runs WHERE output_bytes > 0",
    // The Idempotency-Keys of cancels and triggers (a create's stays in tasks); VARBINARY
    // like tasks.idempotency_key, and the front end allows 255 bytes of printable ASCII.
    "CREATE TABLE IF NOT EXISTS request_keys ("
    " idempotency_key VARBINARY(255) NOT NULL PRIMARY KEY,"
    " request_hash VARCHAR(64) NOT NULL,"
    " task_id BIGINT NOT NULL,"
    " created_ms BIGINT NOT NULL,"
    " CONSTRAINT request_keys_task_fk FOREIGN KEY (task_id) REFERENCES tasks (id)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
  },
  // 3 (the execution issue): a task's controls and a waiting retry's due time, as in the
  // SQLite schema_v3; old tasks get task_controls' defaults. The env is MEDIUMTEXT: the API
  // allows 64 KiB of names and values, which JSON's quotes and escapes make longer. cwd and
  // run_as are VARBINARY, kept byte for byte (cwd up to the API's 4096 bytes, run_as up
  // to a system's longest user name).
  {
    "ALTER TABLE tasks"
    " ADD COLUMN IF NOT EXISTS timeout_ms BIGINT NULL,"
    " ADD COLUMN IF NOT EXISTS kill_grace_ms BIGINT NOT NULL DEFAULT 10000,"
    " ADD COLUMN IF NOT EXISTS retry_max_attempts INT NOT NULL DEFAULT 1,"
    " ADD COLUMN IF NOT EXISTS retry_delay_ms BIGINT NOT NULL DEFAULT 10000,"
    " ADD COLUMN IF NOT EXISTS retry_multiplier DOUBLE NOT NULL DEFAULT 2,"
    " ADD COLUMN IF NOT EXISTS retry_max_delay_ms BIGINT NOT NULL DEFAULT 3600000,"
    " ADD COLUMN IF NOT EXISTS retry_jitter VARCHAR(16) NOT NULL DEFAULT 'full',"
    " ADD COLUMN IF NOT EXISTS retry_on_interrupted BOOLEAN NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS env MEDIUMTEXT NOT NULL DEFAULT '[]',"
    " ADD COLUMN IF NOT EXISTS cwd VARBINARY(4096) NULL,"
    " ADD COLUMN IF NOT EXISTS run_as VARBINARY(255) NULL",
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS next_attempt_ms BIGINT NULL",
  },
  // 4 (issue 13: recurring tasks), as in the SQLite schema_v4: a task's schedule and
  // policies, where its recurrence stands, skipped runs, a stop's reason, and one run per
  // (task, occurrence, attempt). The de-duplication moves a run whose key repeats an older
  // one's on by as many ms as there are older ones; once the key holds it changes nothing,
  // so a step cut short runs again alike. The derived table is materialized (GROUP BY), so
  // MariaDB lets the UPDATE read the table it writes.
  {
    "ALTER TABLE tasks"
    " ADD COLUMN IF NOT EXISTS cron TEXT NULL,"
    " ADD COLUMN IF NOT EXISTS every_s BIGINT NULL,"
    " ADD COLUMN IF NOT EXISTS anchor_ms BIGINT NULL,"
    " ADD COLUMN IF NOT EXISTS start_ms BIGINT NULL,"
    " ADD COLUMN IF NOT EXISTS end_ms BIGINT NULL,"
    " ADD COLUMN IF NOT EXISTS max_runs BIGINT NULL,"
    " ADD COLUMN IF NOT EXISTS misfire VARCHAR(16) NOT NULL DEFAULT 'run_once',"
    " ADD COLUMN IF NOT EXISTS misfire_grace_ms BIGINT NOT NULL DEFAULT 60000,"
    " ADD COLUMN IF NOT EXISTS overlap VARCHAR(16) NOT NULL DEFAULT 'skip',"
    " ADD COLUMN IF NOT EXISTS history_keep INT NOT NULL DEFAULT 100,"
    " ADD COLUMN IF NOT EXISTS paused_ms BIGINT NULL,"
    " ADD COLUMN IF NOT EXISTS next_occurrence_ms BIGINT NULL,"
    " ADD COLUMN IF NOT EXISTS queued_ms BIGINT NULL,"
    " ADD COLUMN IF NOT EXISTS scheduled_runs BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS open_skip BIGINT NULL,"
    " ADD COLUMN IF NOT EXISTS open_skip_for BIGINT NULL",
    "ALTER TABLE runs"
    " ADD COLUMN IF NOT EXISTS skip_reason VARCHAR(16) NULL,"
    " ADD COLUMN IF NOT EXISTS skip_count BIGINT NULL,"
    " ADD COLUMN IF NOT EXISTS stop_reason VARCHAR(16) NULL",
    "UPDATE runs r JOIN (SELECT a.id, COUNT(*) AS older FROM runs a JOIN runs b"
    " ON b.task_id = a.task_id AND b.scheduled_ms = a.scheduled_ms AND b.attempt = a.attempt"
    " AND b.id < a.id GROUP BY a.id) d ON d.id = r.id"
    " SET r.scheduled_ms = r.scheduled_ms + d.older",
    "CREATE UNIQUE INDEX IF NOT EXISTS runs_occurrence ON runs (task_id, scheduled_ms, attempt)",
  },
  // 5 (issue 13: edits), as in the SQLite schema_v5: the copy of what each run, and an
  // occurrence queued behind a run, starts with (storage/edit.hpp).
  {
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS settings MEDIUMTEXT NULL",
    "ALTER TABLE tasks ADD COLUMN IF NOT EXISTS queued_settings MEDIUMTEXT NULL",
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
  insert_label,
  select_task_by_key,
  claim_task,
  insert_run,
  claim_waiting,
  set_latest_run,
  select_claimed,
  select_task_status,
  select_run,
  end_unclaimed_cancelled,
  task_unclaimed_cancelled,
  delete_run,
  delete_run_output,
  wait_again,
  reset_task,
  record_start,
  finish_run,
  finished_run,
  finish_task,
  insert_retry,
  set_task_retrying,
  set_output_bytes,
  get_task,
  load_pending,
  select_running,
  interrupt_run,
  interrupt_task,
  output_state,
  append_chunk,
  drop_chunks,
  read_chunks,
  task_for_change,
  cancel_task,
  request_stop,
  end_waiting_run,
  trigger_task,
  find_request_key,
  insert_request_key,
  task_labels,
  get_task_info,
  get_run,
  // recurring tasks (version 4)
  set_recurrence,
  insert_occurrence_run,
  insert_skipped_run,
  count_skip,
  replace_run,
  end_replaced_waiting,
  set_recurring_claim,
  restore_occurrence,
  finish_recurring,
  history_cutoff,
  history_batch_end,
  trim_output,
  trim_runs,
  pause_task,
  resume_task,
  // edits (version 5)
  edit_task,
  delete_labels,
  count_,
};

// The columns of storage/row_mapping.hpp's run_cells, controls_cells, recurrence_cells and
// task_cells. A tail of the output by bytes: RIGHT of a binary string counts bytes (of a
// text, characters).
#define TS_MYSQL_RUN_COLUMNS                                                                  \
  "r.id, r.task_id, r.attempt, r.run_trigger, r.scheduled_ms, r.status, r.reason,"           \
  " r.started_ms, r.finished_ms, r.exit_code, r.signal_no, r.message,"                      \
  " RIGHT(CAST(r.output AS BINARY), ?), r.output_truncated, LENGTH(r.output),"               \
  " r.output_bytes, r.lateness_ms, r.stop_requested_ms, r.next_attempt_ms, r.skip_reason,"   \
  " r.skip_count"
#define TS_MYSQL_CONTROLS_COLUMNS                                                             \
  "t.timeout_ms, t.kill_grace_ms, t.retry_max_attempts, t.retry_delay_ms,"                   \
  " t.retry_multiplier, t.retry_max_delay_ms, t.retry_jitter, t.retry_on_interrupted, t.env," \
  " t.cwd, t.run_as"
#define TS_MYSQL_RECURRENCE_COLUMNS                                                           \
  "t.cron, t.every_s, t.anchor_ms, t.start_ms, t.end_ms, t.max_runs, t.misfire,"              \
  " t.misfire_grace_ms, t.overlap, t.history_keep"
#define TS_MYSQL_TASK_COLUMNS                                                                 \
  "SELECT t.id, t.command, t.name, t.due_ms, t.time_zone, t.output_limit_bytes, t.state,"    \
  " t.version, t.next_run_ms, t.created_ms, t.updated_ms, " TS_MYSQL_CONTROLS_COLUMNS ", "   \
  TS_MYSQL_RUN_COLUMNS ", " TS_MYSQL_RECURRENCE_COLUMNS ", t.paused_ms, t.scheduled_runs"     \
  " FROM tasks t"
#define TS_MYSQL_TASK_SELECT TS_MYSQL_TASK_COLUMNS " LEFT JOIN runs r ON r.id = t.latest_run"
#define TS_MYSQL_RUN_SELECT "SELECT " TS_MYSQL_RUN_COLUMNS " FROM runs r"

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
   "INSERT INTO tasks (command, due_ms, created_ms, status, idempotency_key, request_hash,"
   " name, time_zone, output_limit_bytes, state, version, next_run_ms, updated_ms,"
   " timeout_ms, kill_grace_ms, retry_max_attempts, retry_delay_ms, retry_multiplier,"
   " retry_max_delay_ms, retry_jitter, retry_on_interrupted, env, cwd, run_as)"
   " VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, 'active', 1, ?, ?,"
   " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
  {q::insert_label, "insert label",
   "INSERT INTO task_labels (task_id, label_key, label_value) VALUES (?, ?, ?)"},
  {q::select_task_by_key, "select task by key",
   "SELECT id, command, due_ms, created_ms, status, request_hash FROM tasks"
   " WHERE idempotency_key = ?"},
  // Atomic against concurrent claimers: the row lock serializes them and only one finds
  // the task still pending.
  {q::claim_task, "claim task",
   "UPDATE tasks SET status = 'running', reason = NULL WHERE id = ? AND status = 'pending'"},
  {q::insert_run, "insert run",
   "INSERT INTO runs (task_id, status, claimed_ms, scheduled_ms, run_trigger, settings)"
   " VALUES (?, 'starting', ?, ?, ?, ?)"},
  {q::claim_waiting, "claim waiting retry",
   "UPDATE runs SET status = 'starting', claimed_ms = ? WHERE id = ?"},
  {q::set_latest_run, "set latest run",
   "UPDATE tasks SET latest_run = ?, next_run_ms = NULL, version = version + 1,"
   " updated_ms = ? WHERE id = ?"},
  // The latest run tells a waiting retry (claimed in place) from a new run; the controls
  // at 9, the recurrence at 20, then where a recurring task stands at 30 and the copies and
  // what an edit checks at 38, in the order of storage/recurring.hpp read_recurring_row.
  // The row locks serialize concurrent claimers.
  {q::select_claimed, "select task for claim",
   "SELECT t.status, t.command, t.next_run_ms, t.next_trigger, t.output_limit_bytes, r.id,"
   " r.status, r.attempt, r.scheduled_ms, " TS_MYSQL_CONTROLS_COLUMNS ", "
   TS_MYSQL_RECURRENCE_COLUMNS ", t.time_zone, t.state, t.next_occurrence_ms, t.queued_ms,"
   " t.scheduled_runs, r.next_attempt_ms, t.open_skip, t.open_skip_for, r.settings,"
   " t.queued_settings, t.version, t.due_ms"
   " FROM tasks t LEFT JOIN runs r ON r.id = t.latest_run WHERE t.id = ? FOR UPDATE"},
  {q::select_task_status, "select task status", "SELECT status FROM tasks WHERE id = ?"},
  {q::select_run, "select run",
   "SELECT task_id, status, started_ms, scheduled_ms, run_trigger, next_attempt_ms,"
   " stop_requested_ms, reason FROM runs WHERE id = ?"},
  // An unclaim after a cancel of the same run: see the SQLite dialect.
  {q::end_unclaimed_cancelled, "end unclaimed cancelled",
   "UPDATE runs SET status = 'failure', reason = 'cancelled', finished_ms = stop_requested_ms"
   " WHERE id = ?"},
  {q::task_unclaimed_cancelled, "task unclaimed cancelled",
   "UPDATE tasks SET status = 'failure', reason = 'cancelled', version = version + 1"
   " WHERE id = ?"},
  {q::delete_run, "delete run", "DELETE FROM runs WHERE id = ?"},
  {q::delete_run_output, "delete run output", "DELETE FROM run_output WHERE run_id = ?"},
  {q::wait_again, "wait again",
   "UPDATE runs SET status = 'waiting', reason = NULL, finished_ms = NULL WHERE id = ?"},
  {q::reset_task, "reset task",
   "UPDATE tasks SET status = 'pending', reason = NULL, state = 'active', next_run_ms = ?,"
   " next_trigger = ?, version = version + 1,"
   " latest_run = (SELECT MAX(id) FROM runs WHERE task_id = ?) WHERE id = ?"},
  // Lateness counts from the attempt's due time: a retry's is its next_attempt_ms.
  {q::record_start, "record start",
   "UPDATE runs SET pid = ?, pgid = ?, start_ticks = ?, started_ms = ?,"
   " lateness_ms = started_ms - COALESCE(next_attempt_ms, scheduled_ms),"
   " status = CASE WHEN status = 'starting' THEN 'running' ELSE status END WHERE id = ?"},
  // A run a cancel asked to stop ends cancelled (overlap replace: replaced, its
  // stop_reason), unless it succeeded all the same. MySQL assigns left to right:
  // lateness_ms sees the new started_ms.
  {q::finish_run, "finish run",
   "UPDATE runs SET"
   " reason = CASE WHEN stop_requested_ms IS NOT NULL AND ? <> 'success'"
   " THEN COALESCE(stop_reason, 'cancelled') ELSE ? END,"
   " status = CASE WHEN stop_requested_ms IS NOT NULL AND ? <> 'success' THEN 'failure'"
   " ELSE ? END,"
   " exit_code = ?, signal_no = ?, output = ?,"
   " output_truncated = ?, started_ms = COALESCE(?, started_ms), finished_ms = ?,"
   " lateness_ms = COALESCE(lateness_ms, started_ms - COALESCE(next_attempt_ms, scheduled_ms)),"
   " message = ? WHERE id = ?"},
  // What the run ended as, and what a retry needs of it and its task; the task's row is
  // locked, so that a cancel on another connection cannot slip in before the retry.
  {q::finished_run, "finished run",
   "SELECT r.task_id, r.status, r.reason, r.output_bytes, t.state, t.latest_run = r.id,"
   " r.finished_ms, t.cron IS NOT NULL OR t.every_s IS NOT NULL, t.next_occurrence_ms,"
   " t.queued_ms, t.history_keep"
   " FROM runs r JOIN tasks t ON t.id = r.task_id WHERE r.id = ? FOR UPDATE"},
  // The legacy copy of the reason counts only for a failure (SCHEMA.md).
  {q::finish_task, "finish task",
   "UPDATE tasks SET reason = CASE WHEN ? = 'failure' THEN ? END, status = ?,"
   " state = CASE WHEN state = 'cancelled' THEN 'cancelled' ELSE 'completed' END,"
   " version = version + 1, updated_ms = ? WHERE id = ?"},
  // The next attempt of the occurrence (the first attempt's scheduled time), with the
  // settings the first attempt started with.
  {q::insert_retry, "insert retry",
   "INSERT INTO runs (task_id, status, claimed_ms, scheduled_ms, run_trigger, attempt,"
   " next_attempt_ms, settings)"
   " SELECT task_id, 'waiting', ?, scheduled_ms, 'retry', attempt + 1, ?, settings FROM runs"
   " WHERE id = ?"},
  // A recurring task wakes for its next occurrence if that comes before the retry; a
  // paused one stays paused (resume arms the retry). Parameters: the retry, its due time
  // twice, now, the task.
  {q::set_task_retrying, "set task retrying",
   "UPDATE tasks SET status = 'pending', reason = NULL,"
   " state = CASE WHEN state = 'paused' THEN 'paused' ELSE 'active' END, latest_run = ?,"
   " next_run_ms = CASE WHEN state = 'paused' THEN NULL"
   " WHEN next_occurrence_ms IS NOT NULL AND next_occurrence_ms < ? THEN next_occurrence_ms"
   " ELSE ? END, next_trigger = 'retry', version = version + 1, updated_ms = ?"
   " WHERE id = ?"},
  {q::set_output_bytes, "set output bytes", "UPDATE runs SET output_bytes = ? WHERE id = ?"},
  {q::get_task, "get task",
   "SELECT t.id, t.command, t.due_ms, t.created_ms, t.status, t.reason, t.latest_run,"
   " r.reason, r.exit_code, r.signal_no, r.output, r.output_truncated, r.started_ms,"
   " r.finished_ms, r.status, t.next_run_ms, r.scheduled_ms"
   " FROM tasks t LEFT JOIN runs r ON r.id = t.latest_run WHERE t.id = ?"},
  {q::load_pending, "load pending",
   "SELECT id, next_run_ms FROM tasks WHERE status = 'pending' AND next_run_ms IS NOT NULL"},
  // A crash leaves runs starting (claimed) or running; a waiting retry has no process and
  // stays waiting (load_pending arms its task).
  {q::select_running, "select running runs",
   "SELECT id, task_id, pid, pgid, start_ticks, started_ms FROM runs"
   " WHERE status IN ('starting', 'running') FOR UPDATE"},
  {q::interrupt_run, "interrupt run",
   "UPDATE runs SET status = 'failure', reason = 'interrupted', finished_ms = ?"
   " WHERE id = ? AND status IN ('starting', 'running')"},
  // A recurring task with occurrences to come goes on with them (the next start's claim
  // applies the misfire policy): a queued one first. `state` is assigned last: the others
  // read the old one.
  {q::interrupt_task, "interrupt task",
   "UPDATE tasks SET"
   " status = CASE WHEN state = 'active' AND (queued_ms IS NOT NULL"
   " OR next_occurrence_ms IS NOT NULL) THEN 'pending' ELSE 'failure' END,"
   " reason = 'interrupted',"
   " next_run_ms = CASE WHEN state = 'active' THEN COALESCE(queued_ms, next_occurrence_ms) END,"
   " state = CASE WHEN state IN ('cancelled', 'paused') THEN state"
   " WHEN queued_ms IS NOT NULL OR next_occurrence_ms IS NOT NULL THEN 'active'"
   " ELSE 'completed' END,"
   " version = version + 1, updated_ms = ? WHERE id = ? AND status = 'running'"},
  // -- v1 operations
  // The run's own limit (its settings copy) wins over the task's, which an edit may change.
  {q::output_state, "output state",
   "SELECT r.output_bytes, COALESCE(CAST(JSON_VALUE(r.settings, '$.output_limit_bytes')"
   " AS SIGNED), t.output_limit_bytes), r.status FROM runs r"
   " JOIN tasks t ON t.id = r.task_id WHERE r.id = ?"},
  {q::append_chunk, "append output",
   "INSERT INTO run_output (run_id, end_off, data) VALUES (?, ?, ?)"},
  {q::drop_chunks, "drop old output", "DELETE FROM run_output WHERE run_id = ? AND end_off <= ?"},
  {q::read_chunks, "read output",
   "SELECT end_off, data FROM run_output WHERE run_id = ? AND end_off > ? ORDER BY end_off"},
  {q::task_for_change, "read task for a change",
   "SELECT t.status, t.state, t.latest_run, r.status FROM tasks t"
   " LEFT JOIN runs r ON r.id = t.latest_run WHERE t.id = ? FOR UPDATE"},
  // The first two: a waiting retry ends cancelled, and the task shows that run's end.
  {q::cancel_task, "cancel task",
   "UPDATE tasks SET status = CASE WHEN ? THEN 'failure' WHEN status = 'pending'"
   " THEN 'cancelled' ELSE status END, reason = CASE WHEN ? THEN 'cancelled' ELSE reason END,"
   " state = 'cancelled', next_run_ms = NULL, next_occurrence_ms = NULL, queued_ms = NULL,"
   " queued_settings = NULL, version = version + 1, updated_ms = ? WHERE id = ?"},
  {q::request_stop, "request stop", "UPDATE runs SET stop_requested_ms = ? WHERE id = ?"},
  {q::end_waiting_run, "end waiting retry",
   "UPDATE runs SET status = 'failure', reason = 'cancelled', finished_ms = ? WHERE id = ?"},
  {q::trigger_task, "trigger task",
   "UPDATE tasks SET status = 'pending', state = 'active', next_run_ms = ?,"
   " next_trigger = 'manual', version = version + 1, updated_ms = ? WHERE id = ?"},
  {q::find_request_key, "find request key",
   "SELECT request_hash, task_id FROM request_keys WHERE idempotency_key = ?"},
  {q::insert_request_key, "remember request key",
   "INSERT INTO request_keys (idempotency_key, request_hash, task_id, created_ms)"
   " VALUES (?, ?, ?, ?)"},
  {q::task_labels, "task labels",
   "SELECT label_key, label_value FROM task_labels WHERE task_id = ? ORDER BY label_key"},
  {q::get_task_info, "get task info", TS_MYSQL_TASK_SELECT " WHERE t.id = ?"},
  {q::get_run, "get run", TS_MYSQL_RUN_SELECT " WHERE r.id = ?"},
  // -- recurring tasks (storage/SCHEMA.md, version 4). MySQL assigns an UPDATE's columns
  // left to right, each seeing the ones before: every statement below assigns a column
  // only after those that read its old value.
  // A task with a schedule or policies other than the defaults writes them after its insert.
  {q::set_recurrence, "insert task: schedule",
   "UPDATE tasks SET cron = ?, every_s = ?, anchor_ms = ?, start_ms = ?, end_ms = ?,"
   " max_runs = ?, misfire = ?, misfire_grace_ms = ?, overlap = ?, history_keep = ?,"
   " next_occurrence_ms = ? WHERE id = ?"},
  // A conflict on runs_occurrence is an occurrence that has had its run, which must never
  // run again: no row (affected 0) refuses the claim.
  {q::insert_occurrence_run, "insert occurrence run",
   "INSERT IGNORE INTO runs (task_id, status, claimed_ms, scheduled_ms, run_trigger,"
   " settings) VALUES (?, 'starting', ?, ?, ?, ?)"},
  {q::insert_skipped_run, "record skipped occurrences",
   "INSERT IGNORE INTO runs (task_id, status, claimed_ms, finished_ms, scheduled_ms,"
   " run_trigger, skip_reason, skip_count) VALUES (?, 'skipped', ?, ?, ?, 'schedule', ?, ?)"},
  {q::count_skip, "count a skipped occurrence",
   "UPDATE runs SET skip_count = LEAST(skip_count + 1, 10000), finished_ms = ? WHERE id = ?"},
  // Overlap replace: a started run is stopped (it ends failure/replaced), a waiting retry
  // ends so at once.
  {q::replace_run, "replace the active run",
   "UPDATE runs SET stop_requested_ms = ?, stop_reason = 'replaced' WHERE id = ?"},
  {q::end_replaced_waiting, "end the replaced retry",
   "UPDATE runs SET status = 'failure', reason = 'replaced', finished_ms = ? WHERE id = ?"},
  // Parameters: the run that starts (NULL: none) three times, next_run_ms,
  // next_occurrence_ms, queued_ms, the task's settings (copied when an occurrence is queued
  // now; one already queued keeps its copy), queued_ms, scheduled_runs, completed,
  // open_skip, open_skip_for, now, the task.
  {q::set_recurring_claim, "claim: update recurring task",
   "UPDATE tasks SET status = CASE WHEN ? IS NOT NULL THEN 'running' ELSE status END,"
   " reason = CASE WHEN ? IS NOT NULL THEN NULL ELSE reason END,"
   " latest_run = COALESCE(?, latest_run), next_run_ms = ?, next_trigger = 'schedule',"
   " next_occurrence_ms = ?, queued_settings = CASE WHEN ? IS NULL THEN NULL"
   " WHEN queued_ms IS NULL THEN ? ELSE queued_settings END, queued_ms = ?,"
   " scheduled_runs = ?, state = CASE WHEN ? THEN 'completed' ELSE state END,"
   " open_skip = COALESCE(?, open_skip), open_skip_for = COALESCE(?, open_skip_for),"
   " version = version + 1, updated_ms = ? WHERE id = ?"},
  // An undone claim of an occurrence gives the occurrence back: the next claim decides
  // again. Parameters: the occurrence twice, the task.
  {q::restore_occurrence, "unclaim: restore the occurrence",
   "UPDATE tasks SET next_occurrence_ms = CASE WHEN next_occurrence_ms IS NULL"
   " OR ? < next_occurrence_ms THEN ? ELSE next_occurrence_ms END,"
   " scheduled_runs = GREATEST(scheduled_runs - 1, 0)"
   " WHERE id = ? AND (cron IS NOT NULL OR every_s IS NOT NULL)"},
  // A recurring task after a run that is not retried: pending for its next wake-up
  // (storage/recurring.hpp next_wake), completed when there is none. A paused one waits for
  // resume; an older run ending beside a newer one (overlap allow) leaves the status alone.
  // Parameters: latest, wake, status, latest, status, reason, latest, wake, wake, latest,
  // now, the task (`state` last: the others read the old one).
  {q::finish_recurring, "finish run: update recurring task",
   "UPDATE tasks SET"
   " status = CASE WHEN NOT ? THEN status WHEN ? IS NOT NULL AND state = 'active'"
   " THEN 'pending' ELSE ? END,"
   " reason = CASE WHEN NOT ? THEN reason WHEN ? = 'failure' THEN ? END,"
   " next_run_ms = CASE WHEN NOT ? THEN next_run_ms WHEN state = 'active' THEN ? END,"
   " state = CASE WHEN state = 'active' AND ? IS NULL AND ? THEN 'completed' ELSE state END,"
   " version = version + 1, updated_ms = ? WHERE id = ?"},
  // history_keep: the oldest run a recurring task keeps (none while it has no more; MySQL
  // takes no subquery in LIMIT, so the offset is history_keep - 1 from finished_run), the
  // end of the next batch of ended runs before it, and their deletion with their output.
  {q::history_cutoff, "trim history: find the oldest kept run",
   "SELECT id FROM runs WHERE task_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?"},
  {q::history_batch_end, "trim history: find the batch",
   "SELECT MAX(id) FROM (SELECT id FROM runs WHERE task_id = ? AND id < ?"
   " AND status IN ('success', 'failure', 'skipped') ORDER BY id LIMIT ?) b"},
  {q::trim_output, "trim history: delete old output",
   "DELETE FROM run_output WHERE run_id IN (SELECT id FROM runs WHERE task_id = ?"
   " AND id <= ? AND status IN ('success', 'failure', 'skipped'))"},
  {q::trim_runs, "trim history: delete old runs",
   "DELETE FROM runs WHERE task_id = ? AND id <= ?"
   " AND status IN ('success', 'failure', 'skipped')"},
  // Pause keeps where the task stands; its wake-up goes, so nothing is claimed until
  // resume. A one-shot task keeps its time in next_occurrence_ms meanwhile (assigned before
  // next_run_ms is cleared). Parameters: now twice, the task.
  {q::pause_task, "pause task",
   "UPDATE tasks SET state = 'paused', paused_ms = ?,"
   " next_occurrence_ms = CASE WHEN cron IS NULL AND every_s IS NULL THEN next_run_ms"
   " ELSE next_occurrence_ms END, next_run_ms = NULL, version = version + 1, updated_ms = ?"
   " WHERE id = ?"},
  // From storage/recurring.hpp decide_resume. Parameters: completes, next_run_ms,
  // next_occurrence_ms, next_run_ms, now, the task.
  {q::resume_task, "resume task",
   "UPDATE tasks SET state = CASE WHEN ? THEN 'completed' ELSE 'active' END, paused_ms = NULL,"
   " next_run_ms = ?, next_occurrence_ms = ?,"
   " status = CASE WHEN ? IS NOT NULL AND status <> 'running' THEN 'pending' ELSE status END,"
   " version = version + 1, updated_ms = ? WHERE id = ?"},
  // An edit (storage/edit.hpp decide_edit); the schedule and policies follow with
  // set_recurrence, the labels with delete_labels and insert_label. Parameters: command,
  // name, time_zone, output limit, the controls (11), due_ms, next_run_ms, state, pending
  // twice, now, the task.
  {q::edit_task, "edit task",
   "UPDATE tasks SET command = ?, name = ?, time_zone = ?, output_limit_bytes = ?,"
   " timeout_ms = ?, kill_grace_ms = ?, retry_max_attempts = ?, retry_delay_ms = ?,"
   " retry_multiplier = ?, retry_max_delay_ms = ?, retry_jitter = ?,"
   " retry_on_interrupted = ?, env = ?, cwd = ?, run_as = ?, due_ms = ?, next_run_ms = ?,"
   " state = ?, status = CASE WHEN ? THEN 'pending' ELSE status END,"
   " reason = CASE WHEN ? THEN NULL ELSE reason END, version = version + 1,"
   " updated_ms = ? WHERE id = ?"},
  {q::delete_labels, "edit: delete labels", "DELETE FROM task_labels WHERE task_id = ?"},
};

inline constexpr const char* task_select = TS_MYSQL_TASK_SELECT;
// Left to itself, MariaDB 10.11 takes `ref` on the state alone and filters the ids (EXPLAIN:
// key_len of state only, r_rows 10,001 for the hundredth page); with the index named it
// takes the range (state, id) from the cursor, 101 rows at any depth.
inline constexpr const char* task_select_by_state =
  TS_MYSQL_TASK_COLUMNS " FORCE INDEX (tasks_state) LEFT JOIN runs r ON r.id = t.latest_run";
inline constexpr const char* run_select = TS_MYSQL_RUN_SELECT;
#undef TS_MYSQL_RUN_COLUMNS
#undef TS_MYSQL_CONTROLS_COLUMNS
#undef TS_MYSQL_RECURRENCE_COLUMNS
#undef TS_MYSQL_TASK_SELECT
#undef TS_MYSQL_TASK_COLUMNS
#undef TS_MYSQL_RUN_SELECT
// On VARBINARY, LEFT and LENGTH count bytes: a byte-exact prefix test.
inline constexpr const char* name_prefix = "LEFT(t.name, LENGTH(?)) = ?";

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
