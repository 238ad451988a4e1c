// Routing: what a request asks for, decided without a socket. The server (server.cpp)
// answers an http_response at once and hands every other action to the gateway.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>

#include "core/time_zone.hpp"
#include "core/types.hpp"
#include "http/api.hpp"

namespace ts::api {

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
/// `metrics` is false under --metrics=off: /metrics is then 404. Naive times are read in
/// `zone` (--default-time-zone), or in the process's zone when it is null.
action route(const request_view& req, std::string_view token, bool stopping, millis now,
             bool metrics = false, const time_zone* zone = nullptr);

/// The routes, as metric labels: a request's label is its route pattern, never its raw
/// path, so that clients cannot create series at will (unknown paths share `other`).
enum class route_id : uint8_t { schedule, status, metrics, healthz, readyz, other };
constexpr size_t route_count = 6;
route_id classify(std::string_view path);
const char* route_label(route_id id);

} // namespace ts::api
