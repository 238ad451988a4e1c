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

#include "core/ids.hpp"
#include "core/optional_field.hpp"

namespace ts {

// An absent value is std::optional here (SQL NULL in the stores, JSON null in responses);
// each `inspect` writes such a member through ts::opt, as a presence flag and the value.

enum class task_status : uint8_t { pending, running, success, failure };

/// Why a run failed; `none` while pending, running, or after success.
enum class run_reason : uint8_t { none, exit, signal, start_failed, interrupted };

const char* to_string(task_status);
const char* to_string(run_reason);

/// The inverses of to_string (stored and sent as these names); nullopt for any other text.
std::optional<task_status> parse_task_status(std::string_view);
std::optional<run_reason> parse_run_reason(std::string_view);

/// A schedule request, validated by the front end.
struct new_task {
  std::string command;
  millis due = 0;
  millis created_at = 0;
  /// Absent when the client sent no Idempotency-Key.
  std::optional<std::string> idempotency_key;
  /// Digest of the request body, to tell a retry from a different request under one key.
  std::string request_hash;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, new_task& x) {
  return f(caf::meta::type_name("ts.new_task"), x.command, x.due, x.created_at,
           opt(x.idempotency_key), x.request_hash);
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
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, claim& x) {
  return f(caf::meta::type_name("ts.claim"), x.run, x.task, x.command, x.due);
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
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_outcome& x) {
  return f(caf::meta::type_name("ts.run_outcome"), x.run, x.task, x.status, x.reason,
           opt(x.exit_code), opt(x.signal), x.output, x.output_truncated, opt(x.started_at),
           x.finished_at);
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

} // namespace ts
