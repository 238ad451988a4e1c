// What both stores read from and write to the same columns (storage/SCHEMA.md), in one
// place, so that the SQLite and the MySQL backend cannot come to disagree on it. Each store
// only moves its dialect's values in and out of these plain structs; std::nullopt is NULL.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/types.hpp"

namespace ts::storage {

/// A task joined with its latest run (get_task). Every run column is NULL when the task has
/// no run yet. The views point into the store's row buffers, valid until its next step.
struct task_row {
  int64_t id = 0;
  std::string command;
  int64_t due = 0;
  int64_t created_at = 0;
  std::string_view status;
  std::optional<std::string_view> task_reason;
  std::optional<int64_t> latest_run;
  std::optional<std::string_view> run_reason;
  std::optional<int64_t> exit_code;
  std::optional<int64_t> signal;
  std::string output;  // empty for NULL
  std::optional<int64_t> output_truncated;
  std::optional<int64_t> started_at;
  std::optional<int64_t> finished_at;
};

/// The view /status shows. The latest run's reason wins over the task's copy of it; the
/// task's stands only where the run has none. ec::storage_failure for a status or reason
/// that names nothing known (never read as none). `backend` starts the error message.
caf::expected<task_view> to_task_view(task_row&& r, const char* backend);

/// The task an insert has just created.
task_record inserted_task(const new_task& t, task_id id);

/// The earlier task under a reused idempotency key (insert_task).
struct keyed_row {
  int64_t id = 0;
  std::string command;
  int64_t due = 0;
  int64_t created_at = 0;
  std::string_view status;
  std::string_view request_hash;  // empty for NULL
};

/// The earlier task, replayed, when `t` is the same request; else ec::idempotency_conflict.
caf::expected<task_record> replayed_task(keyed_row&& r, const new_task& t,
                                         const char* backend);

/// A run left `running` (interrupt_running).
struct running_row {
  int64_t run = 0;
  int64_t task = 0;
  std::optional<int64_t> pid;
  std::optional<int64_t> pgid;
  std::optional<int64_t> start_ticks;
  std::optional<int64_t> started_at;
};

/// Without a process when it was never recorded as started.
orphan_run to_orphan(const running_row& r);

/// The columns finish_run writes. The texts are to_string's static names.
struct outcome_columns {
  const char* status = nullptr;
  std::optional<std::string_view> run_reason;   // NULL for none
  std::optional<std::string_view> task_reason;  // NULL unless the run failed (SCHEMA.md)
  std::optional<int64_t> exit_code;
  std::optional<int64_t> signal;
  int64_t output_truncated = 0;
  std::optional<int64_t> started_at;  // NULL keeps the one record_start wrote
};

/// ec::invalid_argument unless the outcome is success or failure.
caf::expected<outcome_columns> columns_of(const run_outcome& o);

/// ec::schema_too_new for a database a newer binary wrote.
caf::error check_schema_version(int64_t version);

/// ec::not_pending for a task that could not be claimed because of its status.
caf::error not_pending(task_id task, std::string_view status);

/// Only a claim whose process never started may be undone: a started process must never run
/// twice. ec::not_pending otherwise.
caf::error check_unclaimable(run_id run, std::string_view run_status, bool started);

} // namespace ts::storage
