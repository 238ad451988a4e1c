// The vocabulary every component shares: tasks, runs and what travels between actors.
// Every type has a CAF 0.17 `inspect` and is registered by name (see register_types), so
// that the same messages can later cross a process boundary to executors on other nodes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "core/defaults.hpp"
#include "core/ids.hpp"
#include "core/optional_field.hpp"

namespace ts {

// An absent value is std::optional here (SQL NULL in the stores, JSON null in responses);
// each `inspect` writes such a member through ts::opt, as a presence flag and the value.

/// The legacy status /status shows (`cancelled`: cancelled before any run).
enum class task_status : uint8_t { pending, running, success, failure, cancelled };

/// Why a run failed; `none` while pending, running, or after success.
enum class run_reason : uint8_t {
  none,
  exit,
  signal,
  start_failed,
  interrupted,
  cancelled,
  timeout,
  /// Stopped by the next occurrence under overlap `replace`.
  replaced,
};

/// A task as the v1 API shows it: `active` while a run is due or running, `completed` when
/// nothing more is to run, `cancelled` for no further runs, `paused` while its occurrences
/// are recorded as skipped instead of run (resume continues with the next one).
enum class task_state : uint8_t { active, completed, cancelled, paused };

/// One run's progress: `waiting` (due, no slot yet), `starting` (claimed, the process not
/// yet started), `running`, then `success` or `failure` (with a run_reason); `skipped`
/// records occurrences that did not run (with a skip_reason and a count), never a process.
enum class run_status : uint8_t { waiting, starting, running, success, failure, skipped };

/// Why occurrences were skipped: `missed` (they could not start within the misfire grace),
/// `overlap` (a run of the task was still active), `paused`. (A run the overlap policy
/// `replace` stopped is a failure with run_reason `replaced`, not a skipped run.)
enum class skip_reason : uint8_t { missed, overlap, paused };

/// What a recurring task does with occurrences it missed (see core/recurrence.hpp).
enum class misfire_policy : uint8_t { run_once, run_all, skip };

/// What an occurrence does while a run of its task is still active.
enum class overlap_policy : uint8_t { skip, queue, allow, replace };

/// What made a run: its schedule, a client's trigger, or the retry of a failed attempt.
enum class run_trigger : uint8_t { schedule, manual, retry };

/// How a retry delay is randomised (AWS's "full" and "equal" jitter): full draws from
/// [0, d], equal from [d/2, d], none waits d.
enum class retry_jitter : uint8_t { full, equal, none };

const char* to_string(task_status);
const char* to_string(run_reason);
const char* to_string(task_state);
const char* to_string(run_status);
const char* to_string(run_trigger);
const char* to_string(retry_jitter);
const char* to_string(skip_reason);
const char* to_string(misfire_policy);
const char* to_string(overlap_policy);

/// The inverses of to_string (stored and sent as these names); nullopt for any other text.
std::optional<task_status> parse_task_status(std::string_view);
std::optional<run_reason> parse_run_reason(std::string_view);
std::optional<task_state> parse_task_state(std::string_view);
std::optional<run_status> parse_run_status(std::string_view);
std::optional<run_trigger> parse_run_trigger(std::string_view);
std::optional<retry_jitter> parse_retry_jitter(std::string_view);
std::optional<skip_reason> parse_skip_reason(std::string_view);
std::optional<misfire_policy> parse_misfire_policy(std::string_view);
std::optional<overlap_policy> parse_overlap_policy(std::string_view);

/// One label of a task (key and value are validated by the front end).
struct label {
  std::string key;
  std::string value;
};

inline bool operator==(const label& a, const label& b) {
  return a.key == b.key && a.value == b.value;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, label& x) {
  return f(caf::meta::type_name("ts.label"), x.key, x.value);
}

/// When a failed attempt is tried again: attempt n+1 waits
/// min(max_delay, delay * multiplier^(n-1)), randomised by the jitter. `cancelled` is never
/// retried; `interrupted` only with on_interrupted. max_attempts 1: no retry.
struct retry_policy {
  int32_t max_attempts = 1;
  int64_t delay_ms = 10000;
  double multiplier = 2;
  int64_t max_delay_ms = 3600000;
  retry_jitter jitter = retry_jitter::full;
  bool on_interrupted = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, retry_policy& x) {
  return f(caf::meta::type_name("ts.retry_policy"), x.max_attempts, x.delay_ms, x.multiplier,
           x.max_delay_ms, x.jitter, x.on_interrupted);
}

/// How a task's runs are run (the v1 execution fields), validated by the front end.
struct task_controls {
  /// Per attempt; absent: none. The run then ends failure/timeout.
  std::optional<int64_t> timeout_ms;
  /// Between SIGTERM and SIGKILL on timeout or cancel (at shutdown capped by
  /// --shutdown-kill-grace).
  int64_t kill_grace_ms = defaults::kill_grace_ms;
  retry_policy retry;
  /// Set over the service's environment, in the order given (names are unique).
  std::vector<label> env;
  std::optional<std::string> cwd;
  std::optional<std::string> run_as;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_controls& x) {
  return f(caf::meta::type_name("ts.task_controls"), opt(x.timeout_ms), x.kill_grace_ms,
           x.retry, x.env, opt(x.cwd), opt(x.run_as));
}

/// A recurring schedule as stored (storage/SCHEMA.md) and sent between actors: the text and
/// numbers the client gave, which core/recurrence.hpp turns back into a ts::schedule.
/// Neither cron nor every_s: a one-shot task (new_task::due is its time).
struct schedule_spec {
  std::optional<std::string> cron;  // with the task's time_zone
  std::optional<int64_t> every_s;
  std::optional<millis> anchor;     // every_s: the first instant
  std::optional<millis> start_at;
  std::optional<millis> end_at;
  std::optional<int64_t> max_runs;

  bool recurring() const {
    return cron.has_value() || every_s.has_value();
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, schedule_spec& x) {
  return f(caf::meta::type_name("ts.schedule_spec"), opt(x.cron), opt(x.every_s),
           opt(x.anchor), opt(x.start_at), opt(x.end_at), opt(x.max_runs));
}

/// How a recurring task treats missed and overlapping occurrences, and how many runs it keeps.
struct recurrence_policy {
  misfire_policy misfire = misfire_policy::run_once;
  int64_t misfire_grace_ms = defaults::misfire_grace_ms;
  overlap_policy overlap = overlap_policy::skip;
  int32_t history_keep = defaults::history_keep;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, recurrence_policy& x) {
  return f(caf::meta::type_name("ts.recurrence_policy"), x.misfire, x.misfire_grace_ms,
           x.overlap, x.history_keep);
}

/// A schedule request, validated by the front end.
struct new_task {
  std::string command;
  millis due = 0;
  millis created_at = 0;
  /// Absent when the client sent no Idempotency-Key.
  std::optional<std::string> idempotency_key;
  /// Digest of the request body, to tell a retry from a different request under one key.
  std::string request_hash;
  /// v1 fields; a legacy request leaves them at these defaults.
  std::optional<std::string> name;
  std::vector<label> labels;
  /// The zone a naive `at` was read in, kept to show the schedule as it was given.
  std::optional<std::string> time_zone;
  int64_t output_limit_bytes = defaults::output_limit_bytes;
  task_controls controls;
  /// Recurring: `due` is its first occurrence.
  schedule_spec recur;
  recurrence_policy policy;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, new_task& x) {
  return f(caf::meta::type_name("ts.new_task"), x.command, x.due, x.created_at,
           opt(x.idempotency_key), x.request_hash, opt(x.name), x.labels, opt(x.time_zone),
           x.output_limit_bytes, x.controls, x.recur, x.policy);
}

/// A stored task as the store returns it after an insert.
struct task_record {
  task_id id = 0;
  std::string command;
  millis due = 0;
  millis created_at = 0;
  task_status status = task_status::pending;
  /// True when an Idempotency-Key matched an earlier task with the same body.
  bool replayed = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_record& x) {
  return f(caf::meta::type_name("ts.task_record"), x.id, x.command, x.due, x.created_at,
           x.status, x.replayed);
}

/// A task with its latest run, as /status shows it.
struct task_view {
  task_id id = 0;
  std::string command;
  millis due = 0;
  millis created_at = 0;
  task_status status = task_status::pending;
  std::optional<run_id> run;           // absent: no run yet
  run_reason reason = run_reason::none;
  std::optional<int32_t> exit_code;    // set when the process exited
  std::optional<int32_t> signal;       // set when a signal killed it
  std::string output;
  bool output_truncated = false;
  std::optional<millis> started_at;    // absent until the process started
  std::optional<millis> finished_at;   // absent until the run ended
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_view& x) {
  return f(caf::meta::type_name("ts.task_view"), x.id, x.command, x.due, x.created_at,
           x.status, opt(x.run), x.reason, opt(x.exit_code), opt(x.signal), x.output,
           x.output_truncated, opt(x.started_at), opt(x.finished_at));
}

/// A run recorded as started (committed) before its process starts: the at-most-once token.
struct claim {
  run_id run = 0;
  task_id task = 0;
  std::string command;
  millis due = 0;
  /// The tail of output the run keeps (the task's output_limit_bytes).
  int64_t output_limit_bytes = defaults::output_limit_bytes;
  /// 1 for the first attempt; a retry's claim carries its number.
  int32_t attempt = 1;
  /// The first attempt's due time (TS_SCHEDULED_FOR); `due` is this attempt's.
  millis scheduled_for = 0;
  task_controls controls;
  /// What a recurring task's claim decided besides (or instead of) a run:
  /// - `skipped`: nothing runs now (the occurrence was skipped or queued); `run` is 0;
  /// - `rearm_at`: the task's next wake-up (its next occurrence, or a waiting retry);
  /// - `after_run`: an occurrence waits for this run to end: claim the task again then;
  /// - `stop_run`: overlap `replace`: stop this run (it ends failure/replaced).
  bool skipped = false;
  std::optional<millis> rearm_at;
  std::optional<run_id> after_run;
  std::optional<run_id> stop_run;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, claim& x) {
  return f(caf::meta::type_name("ts.claim"), x.run, x.task, x.command, x.due,
           x.output_limit_bytes, x.attempt, x.scheduled_for, x.controls, x.skipped,
           opt(x.rearm_at), opt(x.after_run), opt(x.stop_run));
}

/// Identifies a started process well enough to kill it safely after a crash:
/// PIDs are reused, so the kernel's start time (clock ticks since boot) must match too.
struct process_start {
  run_id run = 0;
  int32_t pid = 0;
  int32_t pgid = 0;
  uint64_t start_ticks = 0;
  millis started_at = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, process_start& x) {
  return f(caf::meta::type_name("ts.process_start"), x.run, x.pid, x.pgid, x.start_ticks,
           x.started_at);
}

/// How a run ended.
struct run_outcome {
  run_id run = 0;
  task_id task = 0;
  task_status status = task_status::failure;  // success or failure
  run_reason reason = run_reason::none;
  std::optional<int32_t> exit_code;   // set when the process exited
  std::optional<int32_t> signal;      // set when a signal killed it
  std::string output;
  bool output_truncated = false;
  std::optional<millis> started_at;   // absent when the process never started
  millis finished_at = 0;
  /// A failed attempt the task's retry policy tries again: the next attempt is due then
  /// (the store records it as a waiting run).
  std::optional<millis> retry_at;
  std::optional<std::string> message;  // why, for the client (a start failure, a timeout)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_outcome& x) {
  return f(caf::meta::type_name("ts.run_outcome"), x.run, x.task, x.status, x.reason,
           opt(x.exit_code), opt(x.signal), x.output, x.output_truncated, opt(x.started_at),
           x.finished_at, opt(x.retry_at), opt(x.message));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pending_entry& x) {
  return f(caf::meta::type_name("ts.pending_entry"), x.id, x.due);
}

/// A run left `running` by a crash: now failed as interrupted; its process may still live.
struct orphan_run {
  run_id run = 0;
  task_id task = 0;
  std::optional<process_start> process;  // absent when never recorded as started
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, orphan_run& x) {
  return f(caf::meta::type_name("ts.orphan_run"), x.run, x.task, opt(x.process));
}

// -- the v1 resources --------------------------------------------------------------------------

/// One run as the v1 API shows it. `output` is a tail of the stored output (its length is
/// the reader's choice); `output_truncated` says that more was written than is kept or shown.
struct run_info {
  run_id id = 0;
  task_id task = 0;
  int32_t attempt = 1;
  run_trigger trigger = run_trigger::schedule;
  millis scheduled_for = 0;
  run_status status = run_status::starting;
  run_reason reason = run_reason::none;
  std::optional<millis> started_at;
  std::optional<millis> finished_at;
  std::optional<int32_t> exit_code;
  std::optional<int32_t> signal;
  std::optional<std::string> message;
  std::string output;
  bool output_truncated = false;
  /// started_at minus this attempt's due time (a retry's is next_attempt_at); absent until
  /// the process started.
  std::optional<int64_t> lateness_ms;
  /// A cancel asked for this run to be stopped.
  bool stop_requested = false;
  /// Bytes the run has written so far, kept or dropped: where a follower's next read starts.
  int64_t output_size = 0;
  /// A waiting retry: when this attempt is due.
  std::optional<millis> next_attempt_at;
  /// A skipped run: why, and how many occurrences it stands for (from scheduled_for on;
  /// counted up to defaults::max_counted_skips).
  std::optional<skip_reason> skip;
  std::optional<int64_t> missed_count;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_info& x) {
  return f(caf::meta::type_name("ts.run_info"), x.id, x.task, x.attempt, x.trigger,
           x.scheduled_for, x.status, x.reason, opt(x.started_at), opt(x.finished_at),
           opt(x.exit_code), opt(x.signal), opt(x.message), x.output, x.output_truncated,
           opt(x.lateness_ms), x.stop_requested, x.output_size, opt(x.next_attempt_at),
           opt(x.skip), opt(x.missed_count));
}

/// One task as the v1 API shows it, with its latest run.
struct task_info {
  task_id id = 0;
  std::string command;
  std::optional<std::string> name;
  std::vector<label> labels;  // sorted by key
  millis due = 0;             // schedule.at
  std::optional<std::string> time_zone;
  int64_t output_limit_bytes = defaults::output_limit_bytes;
  task_state state = task_state::active;
  /// Grows by one with every change of the task (cancel, trigger, a run's end).
  int64_t version = 1;
  std::optional<millis> next_run_at;
  millis created_at = 0;
  millis updated_at = 0;
  std::optional<run_info> latest_run;
  task_controls controls;
  schedule_spec recur;
  recurrence_policy policy;
  std::optional<millis> paused_at;
  /// Occurrences that ran on schedule (max_runs counts these).
  int64_t scheduled_runs = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_info& x) {
  return f(caf::meta::type_name("ts.task_info"), x.id, x.command, opt(x.name), x.labels,
           x.due, opt(x.time_zone), x.output_limit_bytes, x.state, x.version,
           opt(x.next_run_at), x.created_at, x.updated_at, opt(x.latest_run), x.controls,
           x.recur, x.policy, opt(x.paused_at), x.scheduled_runs);
}

/// Which tasks a list shows, newest first: those with an id below `after` (the keyset
/// cursor), at most `limit`. Every label must match.
struct task_filter {
  std::optional<task_state> state;
  std::vector<label> labels;
  std::optional<std::string> name_prefix;
  std::optional<task_id> after;
  int32_t limit = 50;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_filter& x) {
  return f(caf::meta::type_name("ts.task_filter"), opt(x.state), x.labels,
           opt(x.name_prefix), opt(x.after), x.limit);
}

/// One page of tasks; `next` is the cursor of the following page, absent on the last.
struct task_page {
  std::vector<task_info> items;
  std::optional<task_id> next;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_page& x) {
  return f(caf::meta::type_name("ts.task_page"), x.items, opt(x.next));
}

/// Which runs a list shows, newest first: of one task or of all, with scheduled_for in
/// [since, until), below the cursor `after`; each with the last `output_tail` bytes.
struct run_filter {
  std::optional<task_id> task;
  std::optional<run_status> status;
  std::optional<millis> since;
  std::optional<millis> until;
  std::optional<run_id> after;
  int32_t limit = 50;
  int64_t output_tail = 4096;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_filter& x) {
  return f(caf::meta::type_name("ts.run_filter"), opt(x.task), opt(x.status), opt(x.since),
           opt(x.until), opt(x.after), x.limit, x.output_tail);
}

struct run_page {
  std::vector<run_info> items;
  std::optional<run_id> next;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_page& x) {
  return f(caf::meta::type_name("ts.run_page"), x.items, opt(x.next));
}

/// A piece of a run's output read from byte `offset` of everything the run wrote.
/// `offset` is moved up to the oldest byte still kept when the asked one was dropped (the
/// output limit keeps a tail); `next_offset` is where the next read goes on; `complete` says
/// that the run has ended, so nothing will follow.
struct output_slice {
  run_id run = 0;
  int64_t offset = 0;
  std::string data;
  int64_t next_offset = 0;
  bool complete = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, output_slice& x) {
  return f(caf::meta::type_name("ts.output_slice"), x.run, x.offset, x.data, x.next_offset,
           x.complete);
}

/// The Idempotency-Key of a cancel or trigger with the digest of what it asked (method,
/// path), so that a retry is answered with the first result instead of acting twice.
struct request_key {
  std::optional<std::string> idempotency_key;  // absent: no key, nothing is remembered
  std::string request_hash;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, request_key& x) {
  return f(caf::meta::type_name("ts.request_key"), opt(x.idempotency_key), x.request_hash);
}

/// PATCH /v1/tasks/{id}, validated by the front end: the task as it is to be from now on
/// (its command, name, labels, time_zone, output limit, controls, schedule and policies in
/// `task`; `task.due` is a one-shot task's time). Later occurrences only: a run already
/// waiting, queued or retrying keeps the copy it was created with. `expected_version` is the
/// version the edit was made from (If-Match, else the one the front end read): any other is
/// ec::version_mismatch. `schedule_changed`: the next occurrence is found anew, from the edit.
struct task_edit {
  task_id id = 0;
  int64_t expected_version = 0;
  new_task task;
  bool schedule_changed = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_edit& x) {
  return f(caf::meta::type_name("ts.task_edit"), x.id, x.expected_version, x.task,
           x.schedule_changed);
}

/// A task after a cancel or trigger. `stop_run`: the run a cancel must stop (it ends
/// `cancelled`); after a trigger the coordinator arms the task at its next_run_at; `replayed`: an Idempotency-Key matched an earlier identical request, and
/// nothing was changed this time.
struct task_change {
  task_info task;
  std::optional<run_id> stop_run;
  bool replayed = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_change& x) {
  return f(caf::meta::type_name("ts.task_change"), x.task, opt(x.stop_run), x.replayed);
}

} // namespace ts
