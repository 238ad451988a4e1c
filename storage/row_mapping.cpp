#include "storage/row_mapping.hpp"

#include <utility>

#include "core/error.hpp"
#include "storage/store.hpp"

namespace ts::storage {

namespace {

/// The columns are INT (SCHEMA.md); both APIs read every integer as 64 bits.
std::optional<int32_t> to_int32(const std::optional<int64_t>& x) {
  if (!x)
    return std::nullopt;
  return static_cast<int32_t>(*x);
}

} // namespace

caf::expected<task_view> to_task_view(task_row&& r, const char* backend) {
  auto status = parse_task_status(r.status);
  // The run's row records what happened; tasks.reason is a copy kept for the task alone.
  auto reason_text = r.run_reason ? r.run_reason : r.task_reason;
  auto reason = reason_text ? parse_run_reason(*reason_text) : run_reason::none;
  if (!status || !reason)
    return make_error(ec::storage_failure, std::string{backend}
                                             + ": unknown status or reason of task "
                                             + std::to_string(r.id));
  task_view v;
  v.id = r.id;
  v.command = std::move(r.command);
  v.due = r.due;
  v.created_at = r.created_at;
  v.status = *status;
  v.run = r.latest_run;
  v.reason = *reason;
  v.exit_code = to_int32(r.exit_code);
  v.signal = to_int32(r.signal);
  v.output = std::move(r.output);
  v.output_truncated = r.output_truncated.value_or(0) != 0;
  v.started_at = r.started_at;
  v.finished_at = r.finished_at;
  return v;
}

task_record inserted_task(const new_task& t, task_id id) {
  task_record out;
  out.id = id;
  out.command = t.command;
  out.due = t.due;
  out.created_at = t.created_at;
  out.status = task_status::pending;
  return out;
}

caf::expected<task_record> replayed_task(keyed_row&& r, const new_task& t,
                                         const char* backend) {
  if (r.request_hash != t.request_hash)
    return make_error(ec::idempotency_conflict,
                      "the idempotency key was used with a different request");
  auto status = parse_task_status(r.status);
  if (!status)
    return make_error(ec::storage_failure, std::string{backend} + ": unknown status of task "
                                             + std::to_string(r.id));
  task_record out;
  out.id = r.id;
  out.command = std::move(r.command);
  out.due = r.due;
  out.created_at = r.created_at;
  out.status = *status;
  out.replayed = true;
  return out;
}

orphan_run to_orphan(const running_row& r) {
  orphan_run o;
  o.run = r.run;
  o.task = r.task;
  // record_start writes the four columns in one statement: without all of them the process
  // cannot be told from another one that reuses its pid, so it counts as never recorded.
  if (r.pid && r.pgid && r.start_ticks && r.started_at)
    o.process = process_start{r.run, static_cast<int32_t>(*r.pid),
                              static_cast<int32_t>(*r.pgid),
                              static_cast<uint64_t>(*r.start_ticks), *r.started_at};
  return o;
}

caf::expected<outcome_columns> columns_of(const run_outcome& o) {
  if (o.status != task_status::success && o.status != task_status::failure)
    return make_error(ec::invalid_argument, "a run ends as success or failure");
  outcome_columns c;
  c.status = to_string(o.status);
  if (o.reason != run_reason::none)
    c.run_reason = to_string(o.reason);
  if (o.status == task_status::failure)
    c.task_reason = c.run_reason;
  c.exit_code = o.exit_code;
  c.signal = o.signal;
  c.output_truncated = o.output_truncated ? 1 : 0;
  c.started_at = o.started_at;
  return c;
}

caf::error check_schema_version(int64_t version) {
  if (version <= schema_version)
    return caf::none;
  return make_error(ec::schema_too_new, "database schema version " + std::to_string(version)
                                          + " is newer than this binary supports ("
                                          + std::to_string(schema_version) + ")");
}

caf::error not_pending(task_id task, std::string_view status) {
  return make_error(ec::not_pending, "task " + std::to_string(task) + " is "
                                       + std::string{status} + ", not pending");
}

caf::error check_unclaimable(run_id run, std::string_view run_status, bool started) {
  if (run_status == to_string(task_status::running) && !started)
    return caf::none;
  return make_error(ec::not_pending, "run " + std::to_string(run) + " has started or ended");
}

} // namespace ts::storage
