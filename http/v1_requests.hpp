// Validation of the v1 requests: bodies, query strings and path ids, before any actor is
// asked. Unlike the legacy endpoint, v1 refuses what it does not know (unknown_field), so
// that a typo is an error instead of a silently different task. Failures are http_ec
// errors naming the field at fault, for error_response (responses.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json_fwd.hpp>

#include "core/defaults.hpp"
#include "core/time_zone.hpp"
#include "core/types.hpp"
#include "http/api.hpp"

namespace ts::api {

/// What a v1 request is checked against, from the service's options.
struct v1_limits {
  /// --max-output-bytes: the largest output_limit_bytes a task may ask for.
  int64_t max_output_bytes = defaults::max_output_bytes;
  /// --default-time-zone, for naive times; null: the process's zone.
  const time_zone* zone = nullptr;
  /// --allowed-run-as: the users a task may name in run_as (else 403 forbidden); null or
  /// empty: none.
  const std::vector<std::string>* allowed_run_as = nullptr;
};

/// POST /v1/tasks. A recurring schedule (cron, every_s) fills `recur` (milliseconds) and
/// sets `due` to its first occurrence; misfire, overlap and history_keep fill `policy`.
caf::expected<new_task> parse_create_request(std::string_view body,
                                             std::optional<std::string_view> content_type,
                                             std::optional<std::string_view> idempotency_key,
                                             millis now, const v1_limits& limits);

/// The fields a create takes, as a task shows them; any other is unknown_field. A PATCH
/// edits exactly these.
inline constexpr std::array<std::string_view, 14> create_fields = {
  "command", "name", "labels", "schedule", "output_limit_bytes", "timeout_s", "kill_grace_s",
  "retry", "env", "cwd", "run_as", "misfire", "overlap", "history_keep"};

/// The body of a create, parsed, read into a new task created at `now` (without an
/// Idempotency-Key or a request hash). A PATCH reads the task it makes with it too
/// (v1_edit.hpp), so that an edit is refused exactly as a create would be.
caf::expected<new_task> read_create_body(const nlohmann::json& body, millis now,
                                         const v1_limits& limits);

/// POST /v1/tasks/{id}/cancel, /trigger, /pause and /resume: no body, or an empty JSON object (they take no
/// fields yet; later issues add some). `what` names the request (method and path) for the
/// Idempotency-Key's digest.
caf::expected<request_key> parse_action_request(std::string_view body,
                                                std::optional<std::string_view> content_type,
                                                std::optional<std::string_view> idempotency_key,
                                                std::string_view what);

/// A list request: its filter, and the canonical text of that filter that a cursor is
/// bound to (cursor.hpp).
struct task_list_request {
  task_filter filter;
  std::string filter_key;
};

struct run_list_request {
  run_filter filter;
  std::string filter_key;
};

/// GET /v1/tasks: state, label (repeatable), name_prefix, limit, cursor.
caf::expected<task_list_request> parse_task_list_query(std::string_view query);

/// GET /v1/runs and /v1/tasks/{id}/runs (`task`): status, since, until, limit, cursor.
caf::expected<run_list_request> parse_run_list_query(std::string_view query,
                                                     std::optional<task_id> task,
                                                     const time_zone* zone);

/// GET /v1/runs/{id}/output: offset (bytes, default 0).
caf::expected<int64_t> parse_output_query(std::string_view query);

/// GET /v1/tasks/{id}/occurrences: count (1 to 100, default 10).
caf::expected<size_t> parse_occurrences_query(std::string_view query);

/// GET /v1/tasks/{id}: a path segment as an id (`what`: "task" or "run", for the message).
caf::expected<int64_t> parse_path_id(std::string_view segment, const char* what);

/// GET /v1/tasks/{id} and the others without parameters: any query parameter is unknown.
caf::error refuse_query(std::string_view query);

/// The largest page a list may ask for, and the default.
constexpr int32_t max_page = 500;
constexpr int32_t default_page = 50;
/// Name and label limits, in bytes of UTF-8.
constexpr size_t max_name_bytes = 200;
constexpr size_t max_labels = 32;
constexpr size_t max_label_value_bytes = 200;
/// Execution limits (issue: timeouts, retries, env, cwd, run-as).
constexpr double max_timeout_s = 365.0 * 24 * 3600;
constexpr double max_kill_grace_s = 600;
constexpr int32_t max_attempts = 100;
constexpr double max_retry_delay_s = 365.0 * 24 * 3600;
constexpr size_t max_env_vars = 128;
constexpr size_t max_env_bytes = 64 * 1024;
constexpr size_t max_cwd_bytes = 4096;
/// Recurring tasks (misfire.grace_s; history_keep's bounds are in core/defaults.hpp).
constexpr int64_t max_misfire_grace_s = 86400;

} // namespace ts::api
