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

/// Version 2 (issue 10): tasks as v1 resources (name, labels, output limit, state, version,
/// next run), runs with attempt, trigger, scheduled time, message, lateness and a stop
/// request, output stored in chunks while the run runs, and the Idempotency-Keys of cancels
/// and triggers. Old rows get the values they
/// would have had: a pending task's next run is its due time, a finished one is completed,
/// a run's scheduled time is its task's due time, a run claimed but never started is
/// `starting`, and an old run's output becomes its one chunk.
inline constexpr const char* schema_v2 = R"sql(
ALTER TABLE tasks ADD COLUMN name TEXT;
ALTER TABLE tasks ADD COLUMN time_zone TEXT;
ALTER TABLE tasks ADD COLUMN output_limit_bytes INTEGER NOT NULL DEFAULT 65536;
ALTER TABLE tasks ADD COLUMN state TEXT NOT NULL DEFAULT 'active';
ALTER TABLE tasks ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tasks ADD COLUMN next_run_ms INTEGER;
ALTER TABLE tasks ADD COLUMN next_trigger TEXT NOT NULL DEFAULT 'schedule';
ALTER TABLE tasks ADD COLUMN updated_ms INTEGER NOT NULL DEFAULT 0;
UPDATE tasks SET
  state = CASE WHEN status IN ('pending', 'running') THEN 'active' ELSE 'completed' END,
  next_run_ms = CASE WHEN status = 'pending' THEN due_ms END,
  updated_ms = created_ms;
-- The keyset of `state=` lists: (state, id) walked backwards from the cursor.
CREATE INDEX tasks_state ON tasks(state, id);
-- load_pending reads the next run's time now; due_ms stays the time the task was given.
DROP INDEX tasks_pending;
CREATE INDEX tasks_next_run ON tasks(status, next_run_ms) WHERE status = 'pending';
-- One row per label; the primary key answers "has this task this label" for the AND filter,
-- the pair index finds the tasks of one label.
CREATE TABLE task_labels(
  task_id     INTEGER NOT NULL REFERENCES tasks(id),
  label_key   TEXT NOT NULL,
  label_value TEXT NOT NULL,
  PRIMARY KEY(task_id, label_key)
) STRICT, WITHOUT ROWID;
CREATE INDEX task_labels_pair ON task_labels(label_key, label_value, task_id);
ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE runs ADD COLUMN run_trigger TEXT NOT NULL DEFAULT 'schedule';
ALTER TABLE runs ADD COLUMN scheduled_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN message TEXT;
ALTER TABLE runs ADD COLUMN lateness_ms INTEGER;
ALTER TABLE runs ADD COLUMN stop_requested_ms INTEGER;
ALTER TABLE runs ADD COLUMN output_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE runs SET scheduled_ms = (SELECT due_ms FROM tasks WHERE tasks.id = runs.task_id),
  status = CASE WHEN status = 'running' AND started_ms IS NULL THEN 'starting' ELSE status END,
  output_bytes = coalesce(length(CAST(output AS BLOB)), 0);
UPDATE runs SET lateness_ms = started_ms - scheduled_ms WHERE started_ms IS NOT NULL;
-- Chunks keyed by the byte offset where each ends in the run's stream: a read from offset N
-- seeks to the first chunk that ends after N; the output limit drops the oldest chunks.
CREATE TABLE run_output(
  run_id  INTEGER NOT NULL REFERENCES runs(id),
  end_off INTEGER NOT NULL,
  data    BLOB NOT NULL,
  PRIMARY KEY(run_id, end_off)
) STRICT, WITHOUT ROWID;
INSERT INTO run_output(run_id, end_off, data)
  SELECT id, output_bytes, CAST(output AS BLOB) FROM runs WHERE output_bytes > 0;
-- The Idempotency-Keys of cancels and triggers (a create's stays in tasks.idempotency_key):
-- a retry finds its key and is answered without acting twice.
CREATE TABLE request_keys(
  idempotency_key TEXT PRIMARY KEY,
  request_hash    TEXT NOT NULL,
  task_id         INTEGER NOT NULL REFERENCES tasks(id),
  created_ms      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
)sql";

/// Version 3 (the execution issue): a task's controls (timeout, kill grace, retry policy,
/// env, cwd, run_as) and a waiting retry's due time. Old tasks get the defaults of
/// task_controls, which every insert writes out in full.
inline constexpr const char* schema_v3 = R"sql(
ALTER TABLE tasks ADD COLUMN timeout_ms INTEGER;
ALTER TABLE tasks ADD COLUMN kill_grace_ms INTEGER NOT NULL DEFAULT 10000;
ALTER TABLE tasks ADD COLUMN retry_max_attempts INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tasks ADD COLUMN retry_delay_ms INTEGER NOT NULL DEFAULT 10000;
ALTER TABLE tasks ADD COLUMN retry_multiplier REAL NOT NULL DEFAULT 2.0;
ALTER TABLE tasks ADD COLUMN retry_max_delay_ms INTEGER NOT NULL DEFAULT 3600000;
ALTER TABLE tasks ADD COLUMN retry_jitter TEXT NOT NULL DEFAULT 'full';
ALTER TABLE tasks ADD COLUMN retry_on_interrupted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN env TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tasks ADD COLUMN cwd TEXT;
ALTER TABLE tasks ADD COLUMN run_as TEXT;
ALTER TABLE runs ADD COLUMN next_attempt_ms INTEGER;
)sql";

/// Version 4 (issue 13: recurring tasks): a task's schedule (cron or every_s with its
/// window) and policies, where its recurrence stands (next occurrence, a queued one, the
/// occurrences run, a pause, the overlap record still open), skipped runs, the reason a
/// stop was asked for, and one run per (task, occurrence, attempt). Two runs of one task
/// that an older binary recorded for the same millisecond (two triggers) are moved apart by
/// a millisecond each, so that the key can hold.
inline constexpr const char* schema_v4 = R"sql(
ALTER TABLE tasks ADD COLUMN cron TEXT;
ALTER TABLE tasks ADD COLUMN every_s INTEGER;
ALTER TABLE tasks ADD COLUMN anchor_ms INTEGER;
ALTER TABLE tasks ADD COLUMN start_ms INTEGER;
ALTER TABLE tasks ADD COLUMN end_ms INTEGER;
ALTER TABLE tasks ADD COLUMN max_runs INTEGER;
ALTER TABLE tasks ADD COLUMN misfire TEXT NOT NULL DEFAULT 'run_once';
ALTER TABLE tasks ADD COLUMN misfire_grace_ms INTEGER NOT NULL DEFAULT 60000;
ALTER TABLE tasks ADD COLUMN overlap TEXT NOT NULL DEFAULT 'skip';
ALTER TABLE tasks ADD COLUMN history_keep INTEGER NOT NULL DEFAULT 100;
ALTER TABLE tasks ADD COLUMN paused_ms INTEGER;
ALTER TABLE tasks ADD COLUMN next_occurrence_ms INTEGER;
ALTER TABLE tasks ADD COLUMN queued_ms INTEGER;
ALTER TABLE tasks ADD COLUMN scheduled_runs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN open_skip INTEGER;
ALTER TABLE tasks ADD COLUMN open_skip_for INTEGER;
ALTER TABLE runs ADD COLUMN skip_reason TEXT;
ALTER TABLE runs ADD COLUMN skip_count INTEGER;
ALTER TABLE runs ADD COLUMN stop_reason TEXT;
UPDATE runs SET scheduled_ms = scheduled_ms + (SELECT count(*) FROM runs o
  WHERE o.task_id = runs.task_id AND o.scheduled_ms = runs.scheduled_ms
  AND o.attempt = runs.attempt AND o.id < runs.id);
CREATE UNIQUE INDEX runs_occurrence ON runs(task_id, scheduled_ms, attempt);
)sql";

/// Version 5: the copy of what each run starts with, and of what an occurrence queued behind
/// a run will start with (storage/edit.hpp): an edit changes later runs only. NULL in rows
/// an older binary wrote, which then start with the task's columns as before.
inline constexpr const char* schema_v5 = R"sql(
ALTER TABLE runs ADD COLUMN settings TEXT;
ALTER TABLE tasks ADD COLUMN queued_settings TEXT;
)sql";

/// migrations[i] brings a database from version i + 1 to i + 2 inside the open schema
/// transaction. A schema change appends one entry here and bumps storage::schema_version.
inline constexpr std::array<const char*, 4> migrations{schema_v2, schema_v3, schema_v4,
                                                       schema_v5};

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

// A task's controls, in the order of storage/row_mapping.hpp's controls_cells.
#define TS_SQLITE_CONTROLS_COLUMNS                                                            \
  "t.timeout_ms, t.kill_grace_ms, t.retry_max_attempts, t.retry_delay_ms,"                   \
  " t.retry_multiplier, t.retry_max_delay_ms, t.retry_jitter, t.retry_on_interrupted, t.env," \
  " t.cwd, t.run_as"

// A task's schedule and policies, in the order of row_mapping.hpp's recurrence_cells.
#define TS_SQLITE_RECURRENCE_COLUMNS                                                          \
  "t.cron, t.every_s, t.anchor_ms, t.start_ms, t.end_ms, t.max_runs, t.misfire,"              \
  " t.misfire_grace_ms, t.overlap, t.history_keep"

inline constexpr const char* begin = "BEGIN IMMEDIATE";
inline constexpr const char* commit = "COMMIT";
inline constexpr const char* rollback = "ROLLBACK";
inline constexpr const char* savepoint = "SAVEPOINT op";
inline constexpr const char* release = "RELEASE op";
inline constexpr const char* rollback_to = "ROLLBACK TO op";

// A reused idempotency key does nothing here instead of failing, so the surrounding
// transaction is never disturbed; insert_task then reads the earlier row.
inline constexpr const char* insert_task =
  "INSERT INTO tasks(command, due_ms, created_ms, status, idempotency_key, request_hash,"
  " name, time_zone, output_limit_bytes, state, version, next_run_ms, updated_ms,"
  " timeout_ms, kill_grace_ms, retry_max_attempts, retry_delay_ms, retry_multiplier,"
  " retry_max_delay_ms, retry_jitter, retry_on_interrupted, env, cwd, run_as)"
  " VALUES(?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7, ?8, 'active', 1, ?2, ?3,"
  " ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
  " ON CONFLICT(idempotency_key) DO NOTHING";
// A task with a schedule or policies other than the defaults writes them after its insert.
inline constexpr const char* set_recurrence =
  "UPDATE tasks SET cron = ?2, every_s = ?3, anchor_ms = ?4, start_ms = ?5, end_ms = ?6,"
  " max_runs = ?7, misfire = ?8, misfire_grace_ms = ?9, overlap = ?10, history_keep = ?11,"
  " next_occurrence_ms = ?12 WHERE id = ?1";
inline constexpr const char* insert_label =
  "INSERT INTO task_labels(task_id, label_key, label_value) VALUES(?1, ?2, ?3)";
inline constexpr const char* find_by_key =
  "SELECT id, command, due_ms, created_ms, status, request_hash"
  " FROM tasks WHERE idempotency_key = ?1";

// The latest run tells a waiting retry (claimed in place) from a new run; the controls at 9,
// the recurrence at 20, then where a recurring task stands (storage/recurring.hpp) at 30,
// the copies a waiting retry and a queued occurrence start with at 38, and what an edit
// checks at 40.
inline constexpr const char* task_for_claim =
  "SELECT t.status, t.command, t.next_run_ms, t.next_trigger, t.output_limit_bytes, r.id,"
  " r.status, r.attempt, r.scheduled_ms, " TS_SQLITE_CONTROLS_COLUMNS ", "
  TS_SQLITE_RECURRENCE_COLUMNS ", t.time_zone, t.state, t.next_occurrence_ms, t.queued_ms,"
  " t.scheduled_runs, r.next_attempt_ms, t.open_skip, t.open_skip_for, r.settings,"
  " t.queued_settings, t.version, t.due_ms"
  " FROM tasks t LEFT JOIN runs r ON r.id = t.latest_run WHERE t.id = ?1";
// A run of a recurring task: a conflict on (task, occurrence, attempt) is an occurrence that
// has had its run, which must never run again.
inline constexpr const char* insert_occurrence_run =
  "INSERT INTO runs(task_id, status, claimed_ms, scheduled_ms, run_trigger, settings)"
  " VALUES(?1, 'starting', ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING";
inline constexpr const char* insert_skipped_run =
  "INSERT INTO runs(task_id, status, claimed_ms, finished_ms, scheduled_ms, run_trigger,"
  " skip_reason, skip_count) VALUES(?1, 'skipped', ?2, ?2, ?3, 'schedule', ?4, ?5)"
  " ON CONFLICT DO NOTHING";
inline constexpr const char* count_skip =
  "UPDATE runs SET skip_count = min(skip_count + 1, 10000), finished_ms = ?2 WHERE id = ?1";
// Overlap replace: a started run is stopped (it ends failure/replaced), a waiting retry
// ends so at once.
inline constexpr const char* replace_run =
  "UPDATE runs SET stop_requested_ms = ?2, stop_reason = 'replaced' WHERE id = ?1";
inline constexpr const char* end_replaced_waiting =
  "UPDATE runs SET status = 'failure', reason = 'replaced', finished_ms = ?2 WHERE id = ?1";
// ?2: the run that starts (NULL: none); ?9: nothing is left (completed); ?12: what an
// occurrence queued now will start with (an occurrence already queued keeps its copy). The
// next run is always a scheduled one: a manual trigger sets next_trigger itself.
inline constexpr const char* set_recurring_claim =
  "UPDATE tasks SET status = CASE WHEN ?2 IS NOT NULL THEN 'running' ELSE status END,"
  " reason = CASE WHEN ?2 IS NOT NULL THEN NULL ELSE reason END,"
  " latest_run = coalesce(?2, latest_run), next_run_ms = ?3, next_trigger = 'schedule',"
  " next_occurrence_ms = ?5, queued_ms = ?6, scheduled_runs = ?7,"
  " state = CASE WHEN ?9 THEN 'completed' ELSE state END,"
  " open_skip = coalesce(?10, open_skip), open_skip_for = coalesce(?11, open_skip_for),"
  " queued_settings = CASE WHEN ?6 IS NULL THEN NULL WHEN queued_ms IS NULL THEN ?12"
  " ELSE queued_settings END,"
  " version = version + 1, updated_ms = ?8 WHERE id = ?1";
inline constexpr const char* insert_run =
  "INSERT INTO runs(task_id, status, claimed_ms, scheduled_ms, run_trigger, settings)"
  " VALUES(?1, 'starting', ?2, ?3, ?4, ?5)";
inline constexpr const char* claim_waiting =
  "UPDATE runs SET status = 'starting', claimed_ms = ?2 WHERE id = ?1";
inline constexpr const char* set_task_running =
  "UPDATE tasks SET status = 'running', reason = NULL, latest_run = ?2, next_run_ms = NULL,"
  " version = version + 1, updated_ms = ?3 WHERE id = ?1";

inline constexpr const char* run_for_unclaim =
  "SELECT task_id, status, started_ms, scheduled_ms, run_trigger, next_attempt_ms,"
  " stop_requested_ms, reason FROM runs WHERE id = ?1";
// An unclaim that comes after a cancel of the same run (the cancel committed first): the run
// ends cancelled where it stands, and the task stays cancelled; it never goes back to
// pending, where the next start would run it.
inline constexpr const char* end_unclaimed_cancelled =
  "UPDATE runs SET status = 'failure', reason = 'cancelled', finished_ms = stop_requested_ms"
  " WHERE id = ?1";
inline constexpr const char* task_unclaimed_cancelled =
  "UPDATE tasks SET status = 'failure', reason = 'cancelled', version = version + 1"
  " WHERE id = ?1";
inline constexpr const char* previous_run =
  "SELECT max(id) FROM runs WHERE task_id = ?1 AND id <> ?2";
// An undone claim of an occurrence gives the occurrence back: the next claim decides again.
inline constexpr const char* restore_occurrence =
  "UPDATE tasks SET next_occurrence_ms = CASE WHEN next_occurrence_ms IS NULL"
  " OR ?2 < next_occurrence_ms THEN ?2 ELSE next_occurrence_ms END,"
  " scheduled_runs = max(scheduled_runs - 1, 0)"
  " WHERE id = ?1 AND (cron IS NOT NULL OR every_s IS NOT NULL)";
inline constexpr const char* set_task_pending =
  "UPDATE tasks SET status = 'pending', reason = NULL, state = 'active', latest_run = ?2,"
  " next_run_ms = ?3, next_trigger = ?4, version = version + 1 WHERE id = ?1";
inline constexpr const char* delete_run = "DELETE FROM runs WHERE id = ?1";
// (After a crash the run reads failure/interrupted: waiting again, it is not finished.)
inline constexpr const char* wait_again =
  "UPDATE runs SET status = 'waiting', reason = NULL, finished_ms = NULL WHERE id = ?1";
inline constexpr const char* delete_run_output = "DELETE FROM run_output WHERE run_id = ?1";

// Lateness counts from the attempt's due time: a retry's is its next_attempt_ms.
inline constexpr const char* record_start =
  "UPDATE runs SET pid = ?2, pgid = ?3, start_ticks = ?4, started_ms = ?5,"
  " lateness_ms = ?5 - coalesce(next_attempt_ms, scheduled_ms),"
  " status = CASE WHEN status = 'starting' THEN 'running' ELSE status END WHERE id = ?1";
// A run a cancel asked to stop ends cancelled, unless it succeeded all the same.
inline constexpr const char* finish_run =
  "UPDATE runs SET"
  " status = CASE WHEN stop_requested_ms IS NOT NULL AND ?2 <> 'success' THEN 'failure'"
  " ELSE ?2 END,"
  " reason = CASE WHEN stop_requested_ms IS NOT NULL AND ?2 <> 'success'"
  " THEN coalesce(stop_reason, 'cancelled') ELSE ?3 END,"
  " exit_code = ?4, signal_no = ?5, output = ?6,"
  " output_truncated = ?7, finished_ms = ?8, started_ms = coalesce(?9, started_ms),"
  " lateness_ms = coalesce(lateness_ms,"
  " coalesce(?9, started_ms) - coalesce(next_attempt_ms, scheduled_ms)), message = ?10"
  " WHERE id = ?1";
// What the run ended as, and what a retry needs of it and its task.
inline constexpr const char* finished_run =
  "SELECT r.task_id, r.status, r.reason, r.output_bytes, t.state, t.latest_run = r.id,"
  " r.finished_ms, t.cron IS NOT NULL OR t.every_s IS NOT NULL, t.next_occurrence_ms,"
  " t.queued_ms FROM runs r JOIN tasks t ON t.id = r.task_id WHERE r.id = ?1";
// The next attempt of the occurrence (the first attempt's scheduled time), due at ?2, with
// the settings the first attempt started with.
inline constexpr const char* insert_retry =
  "INSERT INTO runs(task_id, status, claimed_ms, scheduled_ms, run_trigger, attempt,"
  " next_attempt_ms, settings)"
  " SELECT task_id, 'waiting', ?3, scheduled_ms, 'retry', attempt + 1, ?2, settings FROM runs"
  " WHERE id = ?1";
// A recurring task wakes for its next occurrence if that comes before the retry; a paused
// one stays paused (resume arms the retry).
inline constexpr const char* set_task_retrying =
  "UPDATE tasks SET status = 'pending', reason = NULL,"
  " state = CASE WHEN state = 'paused' THEN 'paused' ELSE 'active' END, latest_run = ?2,"
  " next_run_ms = CASE WHEN state = 'paused' THEN NULL"
  " WHEN next_occurrence_ms IS NOT NULL AND next_occurrence_ms < ?3 THEN next_occurrence_ms"
  " ELSE ?3 END, next_trigger = 'retry', version = version + 1, updated_ms = ?4"
  " WHERE id = ?1";
// The legacy copy of the reason counts only for a failure (SCHEMA.md).
inline constexpr const char* finish_task =
  "UPDATE tasks SET status = ?2, reason = CASE WHEN ?2 = 'failure' THEN ?3 END,"
  " state = CASE WHEN state = 'cancelled' THEN 'cancelled' ELSE 'completed' END,"
  " version = version + 1, updated_ms = ?4 WHERE id = ?1";
// A recurring task after a run that is not retried: pending for its next wake-up (?5,
// storage/recurring.hpp next_wake), completed when there is none. A paused one waits for
// resume; an older run ending beside a newer one (overlap allow) leaves the status alone.
inline constexpr const char* finish_recurring =
  "UPDATE tasks SET"
  " status = CASE WHEN NOT ?6 THEN status WHEN ?5 IS NOT NULL AND state = 'active'"
  " THEN 'pending' ELSE ?2 END,"
  " reason = CASE WHEN NOT ?6 THEN reason WHEN ?2 = 'failure' THEN ?3 END,"
  " state = CASE WHEN state = 'active' AND ?5 IS NULL AND ?6 THEN 'completed' ELSE state END,"
  " next_run_ms = CASE WHEN NOT ?6 THEN next_run_ms WHEN state = 'active' THEN ?5 END,"
  " version = version + 1, updated_ms = ?4 WHERE id = ?1";
// history_keep: the oldest run a recurring task keeps (NULL while it has no more), the end of
// the next batch of ended runs before it, and their deletion with their output.
inline constexpr const char* history_cutoff =
  "SELECT id FROM runs WHERE task_id = ?1"
  " ORDER BY id DESC LIMIT 1 OFFSET (SELECT history_keep - 1 FROM tasks WHERE id = ?1)";
inline constexpr const char* history_batch_end =
  "SELECT max(id) FROM (SELECT id FROM runs WHERE task_id = ?1 AND id < ?2"
  " AND status IN ('success', 'failure', 'skipped') ORDER BY id LIMIT ?3)";
inline constexpr const char* trim_output =
  "DELETE FROM run_output WHERE run_id IN (SELECT id FROM runs WHERE task_id = ?1"
  " AND id <= ?2 AND status IN ('success', 'failure', 'skipped'))";
inline constexpr const char* trim_runs =
  "DELETE FROM runs WHERE task_id = ?1 AND id <= ?2"
  " AND status IN ('success', 'failure', 'skipped')";
// A run whose writer appended nothing keeps its final output as its one chunk, so that
// reading by offset works for every run.
inline constexpr const char* final_output_chunk =
  "INSERT INTO run_output(run_id, end_off, data) VALUES(?1, ?2, CAST(?3 AS BLOB))";
inline constexpr const char* set_output_bytes =
  "UPDATE runs SET output_bytes = ?2 WHERE id = ?1";

inline constexpr const char* get_task =
  "SELECT t.id, t.command, t.due_ms, t.created_ms, t.status, t.reason, t.latest_run,"
  " r.reason, r.exit_code, r.signal_no, r.output, r.output_truncated, r.started_ms,"
  " r.finished_ms, r.status, t.next_run_ms, r.scheduled_ms"
  " FROM tasks t LEFT JOIN runs r ON r.id = t.latest_run WHERE t.id = ?1";
// The literal (not a parameter) lets the planner use the partial index tasks_next_run.
inline constexpr const char* load_pending =
  "SELECT id, next_run_ms FROM tasks WHERE status = 'pending' AND next_run_ms IS NOT NULL";

// A crash leaves runs starting (claimed) or running; a waiting retry has no process and
// stays waiting (load_pending arms its task).
inline constexpr const char* running_runs =
  "SELECT id, task_id, pid, pgid, start_ticks, started_ms FROM runs"
  " WHERE status IN ('starting', 'running')";
inline constexpr const char* interrupt_run =
  "UPDATE runs SET status = 'failure', reason = 'interrupted', finished_ms = ?2 WHERE id = ?1";
// A recurring task with occurrences to come goes on with them (the next start's claim
// applies the misfire policy): a queued one first.
inline constexpr const char* interrupt_task =
  "UPDATE tasks SET"
  " status = CASE WHEN state = 'active' AND (queued_ms IS NOT NULL"
  " OR next_occurrence_ms IS NOT NULL) THEN 'pending' ELSE 'failure' END,"
  " reason = 'interrupted',"
  " next_run_ms = CASE WHEN state = 'active' THEN coalesce(queued_ms, next_occurrence_ms) END,"
  " state = CASE WHEN state IN ('cancelled', 'paused') THEN state"
  " WHEN queued_ms IS NOT NULL OR next_occurrence_ms IS NOT NULL THEN 'active'"
  " ELSE 'completed' END,"
  " version = version + 1, updated_ms = ?2 WHERE id = ?1";

// -- v1 operations ------------------------------------------------------------------------------

// The run's own limit (its settings copy) wins over the task's, which an edit may change.
inline constexpr const char* output_state =
  "SELECT r.output_bytes, coalesce(json_extract(r.settings, '$.output_limit_bytes'),"
  " t.output_limit_bytes), r.status FROM runs r JOIN tasks t ON t.id = r.task_id"
  " WHERE r.id = ?1";
inline constexpr const char* append_chunk =
  "INSERT INTO run_output(run_id, end_off, data) VALUES(?1, ?2, ?3)";
inline constexpr const char* drop_chunks =
  "DELETE FROM run_output WHERE run_id = ?1 AND end_off <= ?2";
inline constexpr const char* read_chunks =
  "SELECT end_off, data FROM run_output WHERE run_id = ?1 AND end_off > ?2 ORDER BY end_off";

inline constexpr const char* task_for_change =
  "SELECT t.status, t.state, t.latest_run, r.status FROM tasks t"
  " LEFT JOIN runs r ON r.id = t.latest_run WHERE t.id = ?1";
// ?3: a waiting retry ends cancelled, and the task shows that run's end (SCHEMA.md).
inline constexpr const char* cancel_task =
  "UPDATE tasks SET state = 'cancelled', next_run_ms = NULL, next_occurrence_ms = NULL,"
  " queued_ms = NULL, queued_settings = NULL, version = version + 1,"
  " updated_ms = ?2, status = CASE WHEN ?3 THEN 'failure' WHEN status = 'pending'"
  " THEN 'cancelled' ELSE status END, reason = CASE WHEN ?3 THEN 'cancelled' ELSE reason END"
  " WHERE id = ?1";
inline constexpr const char* request_stop =
  "UPDATE runs SET stop_requested_ms = ?2 WHERE id = ?1";
inline constexpr const char* end_waiting_run =
  "UPDATE runs SET status = 'failure', reason = 'cancelled', finished_ms = ?2 WHERE id = ?1";
inline constexpr const char* trigger_task =
  "UPDATE tasks SET status = 'pending', state = 'active', next_run_ms = ?2,"
  " next_trigger = 'manual', version = version + 1, updated_ms = ?2 WHERE id = ?1";
// Pause keeps where the task stands; its wake-up goes, so nothing is claimed until resume. A
// one-shot task keeps its time in next_occurrence_ms meanwhile.
inline constexpr const char* pause_task =
  "UPDATE tasks SET state = 'paused', paused_ms = ?2,"
  " next_occurrence_ms = CASE WHEN cron IS NULL AND every_s IS NULL THEN next_run_ms"
  " ELSE next_occurrence_ms END, next_run_ms = NULL, version = version + 1, updated_ms = ?2"
  " WHERE id = ?1";
// ?3..?6 from storage/recurring.hpp decide_resume; ?7 completes it.
inline constexpr const char* resume_task =
  "UPDATE tasks SET state = CASE WHEN ?7 THEN 'completed' ELSE 'active' END, paused_ms = NULL,"
  " next_run_ms = ?3, next_occurrence_ms = ?4,"
  " status = CASE WHEN ?3 IS NOT NULL AND status <> 'running' THEN 'pending' ELSE status END,"
  " version = version + 1, updated_ms = ?2 WHERE id = ?1";
// An edit (storage/edit.hpp decide_edit gives ?17..?21); the schedule and policies follow
// with set_recurrence, the labels with delete_labels and insert_label.
inline constexpr const char* edit_task =
  "UPDATE tasks SET command = ?2, name = ?3, time_zone = ?4, output_limit_bytes = ?5,"
  " timeout_ms = ?6, kill_grace_ms = ?7, retry_max_attempts = ?8, retry_delay_ms = ?9,"
  " retry_multiplier = ?10, retry_max_delay_ms = ?11, retry_jitter = ?12,"
  " retry_on_interrupted = ?13, env = ?14, cwd = ?15, run_as = ?16, due_ms = ?17,"
  " next_run_ms = ?18, state = ?19, status = CASE WHEN ?20 THEN 'pending' ELSE status END,"
  " reason = CASE WHEN ?20 THEN NULL ELSE reason END, version = version + 1,"
  " updated_ms = ?21 WHERE id = ?1";
inline constexpr const char* delete_labels = "DELETE FROM task_labels WHERE task_id = ?1";
inline constexpr const char* find_request_key =
  "SELECT request_hash, task_id FROM request_keys WHERE idempotency_key = ?1";
inline constexpr const char* insert_request_key =
  "INSERT INTO request_keys(idempotency_key, request_hash, task_id, created_ms)"
  " VALUES(?1, ?2, ?3, ?4)";

inline constexpr const char* task_labels =
  "SELECT label_key, label_value FROM task_labels WHERE task_id = ?1 ORDER BY label_key";

// The columns of storage/row_mapping.hpp's run_cells and task_cells. A tail of the output
// by bytes: substr of a BLOB counts bytes (of TEXT, characters).
#define TS_SQLITE_RUN_COLUMNS                                                                 \
  "r.id, r.task_id, r.attempt, r.run_trigger, r.scheduled_ms, r.status, r.reason,"           \
  " r.started_ms, r.finished_ms, r.exit_code, r.signal_no, r.message,"                      \
  " substr(CAST(r.output AS BLOB), -?), r.output_truncated, length(CAST(r.output AS BLOB)),"  \
  " r.output_bytes, r.lateness_ms, r.stop_requested_ms, r.next_attempt_ms, r.skip_reason,"   \
  " r.skip_count"
inline constexpr const char* task_select =
  "SELECT t.id, t.command, t.name, t.due_ms, t.time_zone, t.output_limit_bytes, t.state,"
  " t.version, t.next_run_ms, t.created_ms, t.updated_ms, " TS_SQLITE_CONTROLS_COLUMNS ", "
  TS_SQLITE_RUN_COLUMNS ", " TS_SQLITE_RECURRENCE_COLUMNS ", t.paused_ms, t.scheduled_runs"
  " FROM tasks t LEFT JOIN runs r ON r.id = t.latest_run";
// SQLite's planner walks tasks_state from the cursor by itself.
inline constexpr const char* task_select_by_state = task_select;
inline constexpr const char* run_select = "SELECT " TS_SQLITE_RUN_COLUMNS " FROM runs r";
#undef TS_SQLITE_RUN_COLUMNS
#undef TS_SQLITE_CONTROLS_COLUMNS
#undef TS_SQLITE_RECURRENCE_COLUMNS
// substr and length of TEXT both count characters: a byte-exact prefix test.
inline constexpr const char* name_prefix = "substr(t.name, 1, length(?)) = ?";

inline constexpr const char* ping = "SELECT 1";

} // namespace ts::storage::sqlite::sql
