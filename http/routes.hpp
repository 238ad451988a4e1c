// Routing: what a request asks for, decided without a socket. The server (server.cpp)
// answers an http_response at once and hands every other action to the gateway.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "core/defaults.hpp"
#include "core/time_zone.hpp"
#include "core/tokens.hpp"
#include "core/types.hpp"
#include "http/api.hpp"
#include "http/message_scanner.hpp"
#include "http/v1_edit.hpp"
#include "http/v1_requests.hpp"

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
  std::optional<std::string_view> if_match;
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

// -- v1: what to ask the actors, validated --------------------------------------------------

struct create_task_action {
  new_task task;
};
struct get_task_action {
  task_id id = 0;
};
/// The gateway reads the task, makes the edit of it (make_edit) and sends that. `limits`
/// point into the server's options, which the request's responder keeps alive until it is
/// answered: the gateway reads them only before it answers.
struct edit_task_action {
  task_id id = 0;
  edit_request request;
  millis now = 0;
  v1_limits limits;
};
struct list_tasks_action {
  task_list_request list;
};
struct cancel_task_action {
  task_id id = 0;
  request_key key;
};
struct trigger_task_action {
  task_id id = 0;
  request_key key;
};
struct pause_task_action {
  task_id id = 0;
  request_key key;
};
struct resume_task_action {
  task_id id = 0;
  request_key key;
};
struct list_runs_action {
  run_list_request list;
};
struct get_run_action {
  run_id id = 0;
};
struct read_output_action {
  run_id id = 0;
  int64_t offset = 0;
};
struct task_occurrences_action {
  task_id id = 0;
  size_t count = 0;
  /// --default-time-zone (null: the process's), for tasks stored without a zone; the
  /// server's options own it and outlive every request.
  const time_zone* zone = nullptr;
  /// When the request came: a recurring task lists its occurrences from then on.
  millis now = 0;
};

using v1_action =
  std::variant<create_task_action, get_task_action, edit_task_action, list_tasks_action,
               cancel_task_action, trigger_task_action, pause_task_action, resume_task_action,
               list_runs_action, get_run_action, read_output_action, task_occurrences_action>;

/// An immediate answer, or what to ask the actors.
using action = std::variant<http_response, schedule_action, status_action, metrics_action,
                            ready_action, v1_action>;

/// Decides what to do with a request: /healthz and /readyz first (open, and /healthz
/// answers even while stopping; only their method and body size are checked), then
/// authentication (when `tokens` is not null: 401 unless the request carries one of them),
/// then 503 while `stopping`, then path and method, then the token's scope (403 `forbidden`
/// for a `read` token on anything but GET and HEAD), body size, content type and validation.
/// A non-null `tokens` that holds no token lets nobody in.
/// `metrics` is false under --metrics=off: /metrics is then 404. Naive times are read in
/// `zone` (--default-time-zone), or in the process's zone when it is null. v1 requests are
/// also checked against `limits` (--max-output-bytes, --allowed-run-as; its zone is `zone`).
/// HEAD is answered as GET wherever GET is (load balancers and monitors use it; the server
/// sends the head without the body).
action route(const request_view& req, const token_set* tokens, bool stopping, millis now,
             bool metrics = false, const time_zone* zone = nullptr, v1_limits limits = {});

/// The same with at most one token, `token` (empty: none): the `write` token of a file that
/// holds one bare token.
action route(const request_view& req, std::string_view token, bool stopping, millis now,
             bool metrics = false, const time_zone* zone = nullptr, v1_limits limits = {});

/// The answer route() gives from the head alone, for the requests whose body is not worth
/// reading: 401 for a missing or unknown token, 403 for a token whose scope does not allow
/// the request; for a declared body over max_body_bytes, whatever route() answers before
/// its size check, else 413; 415 for a content type the route refuses before it reads the
/// body. nullopt: read the body and ask route(). `req.body` is not looked at;
/// `declared_body` is the Content-Length (0 for chunked, whose size the guarded socket
/// follows). The guarded socket asks it at the end of every request head.
std::optional<http_response> judge_head(const request_view& req, uint64_t declared_body,
                                        const token_set* tokens, bool stopping,
                                        bool metrics = false);
std::optional<http_response> judge_head(const request_view& req, uint64_t declared_body,
                                        std::string_view token, bool stopping,
                                        bool metrics = false);

/// The token a request's Authorization header carries, from `tokens`; null without one
/// (and when `tokens` is null). For the audit log's token name.
const api_token* request_token(const request_view& req, const token_set* tokens);

/// Whether a request is one the audit log records: every method but GET and HEAD, on any
/// path (a refused or unknown one too), since only they may change anything.
bool audited(std::string_view method);

/// The task a request's path names (/v1/tasks/{id} and below), or nullopt.
std::optional<task_id> path_task_id(std::string_view path);
/// The request_view of a head (no body), for judge_head: the path and query of its target
/// (an absolute-form target loses its scheme and authority, as in RESTinio's parser). Here,
/// beside judge_head, rather than in the socket, so that it is pure (tests/fuzz/fuzz_api).
request_view head_view(const request_head& head);

/// The routes. A request's metric label is its route pattern, never its raw path, so that
/// clients cannot create series at will (unknown paths share `other`).
enum class route_id : uint8_t {
  schedule,
  status,
  metrics,
  healthz,
  readyz,
  v1_tasks,
  v1_task,
  v1_task_cancel,
  v1_task_trigger,
  v1_task_pause,
  v1_task_resume,
  v1_task_runs,
  v1_task_occurrences,
  v1_schedules_preview,
  v1_runs,
  v1_run,
  v1_run_output,
  v1_openapi,
  other,
};
constexpr size_t route_count = 19;

/// One route of the router's own table: a path pattern ("{id}" matches one non-empty
/// segment, as in OpenAPI) and the methods it answers (others get 405 with Allow).
struct route_entry {
  const char* pattern;
  std::vector<const char*> methods;
  route_id id;
};

/// The table route() dispatches from (the OpenAPI check compares the document with it).
const std::vector<route_entry>& route_table();

route_id classify(std::string_view path);
const char* route_label(route_id id);

} // namespace ts::api
