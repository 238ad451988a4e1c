// The HTTP API without a socket: what its parts share. The API is pure, so that every row
// of the error table is tested without a server (tests/http/test_api.cpp), and split by job:
// routes.hpp decides what a request asks for, requests.hpp validates and authenticates,
// responses.hpp renders records and holds the one mapping from errors to responses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/atom.hpp>
#include <caf/error.hpp>

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
  /// v1: a body field or query parameter the server does not know.
  unknown_field,
  /// v1: a list cursor that this server did not give out for this list.
  invalid_cursor,
  /// v1: no task or run with that id (the message says which).
  no_such_resource,
  /// The token is valid but may not do this (reserved for scoped tokens and run-as).
  forbidden,
  /// v1 schedules: a time_zone that is not an IANA zone of the system's database.
  invalid_time_zone,
  /// A cron expression that does not parse (the message names the field and the text).
  invalid_cron,
  /// A valid schedule without a single occurrence (an impossible date, or an empty window).
  schedule_never_fires,
  /// PATCH without If-Match: the task changed between the read and the write of every one
  /// of the edit's tries (the gateway's verdict, after asking the coordinator).
  edit_conflict,
  /// A request line without an HTTP version, or a header name with white space: answered
  /// 400 and closed, since a proxy may read such a request otherwise (smuggling).
  malformed_request,
  /// More than 100 header fields or 16 KiB of request head (the guarded socket's 431).
  header_too_large,
  /// A request head not complete within --header-timeout (408).
  request_timeout,
  /// Beyond --max-connections or --max-in-flight: 503 with Retry-After.
  overloaded,
};

constexpr caf::atom_value http_ec_category = caf::atom("http");

/// `message` is shown to the client: never put internals or secrets in it.
caf::error make_http_error(http_ec code, std::string message);

/// The same, naming the one field at fault: a dotted body path ("schedule.at") or a query
/// parameter; responses carry it as error.field.
caf::error make_field_error(http_ec code, std::string field, std::string message);

} // namespace api
} // namespace ts
