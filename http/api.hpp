// The HTTP API without a socket: routing, validation, and turning records and errors into
// responses. The one place that knows URLs, status codes and the JSON shapes; pure, so that
// every row of the error table is tested without a server (tests/test_api.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/types.hpp"

namespace ts {

/// A finished response; `headers` include Content-Type.
struct http_response {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  /// The first header of that name (case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const;
};

namespace api {

constexpr const char* schedule_path = "/taskschedulizer";
constexpr const char* status_path = "/status";
/// Prometheus metrics; behind the bearer token when one is configured.
constexpr const char* metrics_path = "/metrics";
/// Liveness and readiness; open to every client (probes seldom carry tokens, and the
/// answers tell nothing but up or not).
constexpr const char* healthz_path = "/healthz";
constexpr const char* readyz_path = "/readyz";
/// The Prometheus text exposition format.
constexpr const char* metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";
/// Larger bodies get 413 (the server's own cap, above this, drops the connection).
constexpr size_t max_body_bytes = 1024 * 1024;
constexpr size_t max_task_bytes = 64 * 1024;
constexpr size_t max_idempotency_key_bytes = 255;

/// Errors found by the front end itself, before any actor is asked. They travel as
/// caf::error like the actors' ts::ec, to the same error_response.
enum class http_ec : uint8_t {
  none = 0,
  invalid_json,
  invalid_field,
  invalid_time,
  invalid_task,
  invalid_id,
  unauthorized,
  unknown_path,
  method_not_allowed,
  payload_too_large,
  unsupported_media_type,
};

constexpr caf::atom_value http_ec_category = caf::atom("http");

/// `message` is shown to the client: never put internals or secrets in it.
caf::error make_http_error(http_ec code, std::string message);

// -- the one mapping from errors to responses ---------------------------------------------

/// http_ec and ts::ec errors, and CAF's request timeout, become their status and JSON body;
/// anything else is a 500 with a generic message (internals are never shown).
http_response error_response(const caf::error& err);

/// 405 with an Allow header.
http_response method_not_allowed(std::string_view allow);
/// 401 with WWW-Authenticate: Bearer.
http_response unauthorized();
/// 503 for requests that arrive while the service stops.
http_response shutting_down();

// -- validation ---------------------------------------------------------------------------

/// Validates a schedule request. `content_type` and `idempotency_key` are the header values,
/// absent when the header is missing. `now` becomes the task's created_at.
caf::expected<new_task> parse_schedule_request(std::string_view body,
                                               std::optional<std::string_view> content_type,
                                               std::optional<std::string_view> idempotency_key,
                                               millis now);

/// Parses a task id: decimal 1 .. 2^63-1, digits only.
caf::expected<task_id> parse_id(std::optional<std::string_view> text);

/// The value of `id` in a raw query string (percent-decoded), then parse_id.
caf::expected<task_id> parse_id_query(std::string_view query);

/// SHA-256 (hex) of the canonical JSON of the fields that define a request, so that a retry
/// with the same task and time is told from a different request under one key.
std::string request_digest(std::string_view task, std::string_view time);

/// True when `authorization` is `Bearer TOKEN` with exactly `token`; compares in constant
/// time whatever the lengths. An empty token means no authentication is configured.
bool authorized(std::optional<std::string_view> authorization, std::string_view token);

// -- routing ------------------------------------------------------------------------------

/// What the server needs of a request.
struct request_view {
  std::string_view method;
  std::string_view path;  // without the query
  std::string_view query; // without the '?'
  std::string_view body;
  std::optional<std::string_view> content_type;
  std::optional<std::string_view> authorization;
  std::optional<std::string_view> idempotency_key;
};

/// Ask the coordinator to schedule a task.
struct schedule_action {
  new_task task;
};

/// Ask persistence for a task.
struct status_action {
  task_id id = 0;
};

/// Render the metrics (after asking the coordinator for its gauges).
struct metrics_action {};

/// Ask persistence and the coordinator whether the service is ready.
struct ready_action {};

/// An immediate answer, or what to ask the actors.
using action =
  std::variant<http_response, schedule_action, status_action, metrics_action, ready_action>;

/// Decides what to do with a request: /healthz and /readyz first (open, and /healthz
/// answers even while stopping), then authentication (when `token` is not empty), then
/// 503 while `stopping`, then path and method, body size, content type and validation.
/// `metrics` is false under --metrics=off: /metrics is then 404.
action route(const request_view& req, std::string_view token, bool stopping, millis now,
             bool metrics = false);

/// The routes, as metric labels: a request's label is its route pattern, never its raw
/// path, so that clients cannot create series at will (unknown paths share `other`).
enum class route_id : uint8_t { schedule, status, metrics, healthz, readyz, other };
constexpr size_t route_count = 6;
route_id classify(std::string_view path);
const char* route_label(route_id id);

// -- rendering ----------------------------------------------------------------------------

/// 201 with Location; a replayed idempotent request also carries Idempotent-Replayed: true.
http_response created(const task_record& rec);

/// 200 with the task and its latest run.
http_response status(const task_view& view);

/// 200 with the metrics text.
http_response metrics_text(std::string text);

/// 404 under --metrics=off.
http_response metrics_disabled();

/// /healthz: 200 {"status":"ok"}.
http_response healthy();

/// /readyz: 200 {"status":"ready"}, or 503 {"status":"not_ready","reason":...} with a
/// fixed reason text (never an internal error message).
http_response ready();
http_response not_ready(std::string_view reason);

/// "SIGKILL" for 9; "SIGRTMIN+n" for real-time signals; "SIG<n>" when unknown.
std::string signal_name(int32_t sig);

/// The reason phrase of a status code this API uses.
const char* reason_phrase(int status);

} // namespace api
} // namespace ts
