#include "http/routes.hpp"

#include <string>
#include <utility>

#include "http/openapi.hpp"
#include "http/requests.hpp"
#include "http/responses.hpp"

namespace ts::api {

namespace {

const std::vector<route_entry> table = {
  {schedule_path, {"POST"}, route_id::schedule},
  {status_path, {"GET"}, route_id::status},
  {metrics_path, {"GET"}, route_id::metrics},
  {healthz_path, {"GET"}, route_id::healthz},
  {readyz_path, {"GET"}, route_id::readyz},
  {"/v1/tasks", {"GET", "POST"}, route_id::v1_tasks},
  {"/v1/tasks/{id}", {"GET", "PATCH"}, route_id::v1_task},
  {"/v1/tasks/{id}/cancel", {"POST"}, route_id::v1_task_cancel},
  {"/v1/tasks/{id}/trigger", {"POST"}, route_id::v1_task_trigger},
  {"/v1/tasks/{id}/pause", {"POST"}, route_id::v1_task_pause},
  {"/v1/tasks/{id}/resume", {"POST"}, route_id::v1_task_resume},
  {"/v1/tasks/{id}/runs", {"GET"}, route_id::v1_task_runs},
  {"/v1/tasks/{id}/occurrences", {"GET"}, route_id::v1_task_occurrences},
  {"/v1/schedules/preview", {"POST"}, route_id::v1_schedules_preview},
  {"/v1/runs", {"GET"}, route_id::v1_runs},
  {"/v1/runs/{id}", {"GET"}, route_id::v1_run},
  {"/v1/runs/{id}/output", {"GET"}, route_id::v1_run_output},
  {"/v1/openapi.json", {"GET"}, route_id::v1_openapi},
};

struct match {
  const route_entry* entry = nullptr;
  /// The segment that matched "{id}", if the pattern has one.
  std::string_view id;
};

// Segment by segment; "{id}" takes any one non-empty segment (its value is checked by the
// route, so that /v1/tasks/abc is a 400 invalid_id, not a 404).
bool matches(std::string_view pattern, std::string_view path, std::string_view& id) {
  while (!pattern.empty() && !path.empty()) {
    if (pattern[0] != '/' || path[0] != '/')
      return false;
    pattern.remove_prefix(1);
    path.remove_prefix(1);
    auto p_end = pattern.find('/');
    auto s_end = path.find('/');
    auto p_seg = pattern.substr(0, p_end);
    auto s_seg = path.substr(0, s_end);
    if (p_seg == "{id}") {
      if (s_seg.empty())
        return false;
      id = s_seg;
    } else if (p_seg != s_seg) {
      return false;
    }
    pattern = p_end == std::string_view::npos ? std::string_view{} : pattern.substr(p_end);
    path = s_end == std::string_view::npos ? std::string_view{} : path.substr(s_end);
  }
  return pattern.empty() && path.empty();
}

match find_route(std::string_view path) {
  for (auto& entry : table) {
    std::string_view id;
    if (matches(entry.pattern, path, id))
      return {&entry, id};
  }
  return {};
}

bool allows(const route_entry& e, std::string_view method) {
  for (auto m : e.methods)
    if (method == m)
      return true;
  return false;
}

std::string allow_header(const route_entry& e) {
  std::string out;
  for (auto m : e.methods) {
    if (!out.empty())
      out += ", ";
    out += m;
  }
  return out;
}

// RFC 5789, 2.2: a 415 to a PATCH names the patch types the resource takes.
void add_accept_patch(http_response& res) {
  res.headers.emplace_back("Accept-Patch", "application/merge-patch+json, application/json");
}

// A token_set of `token` alone (empty: none), for the single-token overloads.
std::optional<token_set> single(std::string_view token) {
  if (token.empty())
    return std::nullopt;
  return token_set{{api_token{"default", token_scope::write, std::string{token}}}};
}

const token_set* or_null(const std::optional<token_set>& set) {
  return set ? &*set : nullptr;
}

// What route() answers before it looks at the body, in its order: a probe's method, then
// the token, stopping, the path, /metrics when off, the method, the token's scope.
// judge_head asks the same.
std::optional<http_response> before_body(const request_view& req, const match& m,
                                         const token_set* tokens, bool stopping,
                                         bool metrics) {
  auto id = m.entry ? m.entry->id : route_id::other;
  if (id == route_id::healthz || id == route_id::readyz) {
    if (!allows(*m.entry, req.method))
      return method_not_allowed(allow_header(*m.entry));
    return std::nullopt;
  }
  const api_token* who = tokens ? authenticate(req.authorization, *tokens) : nullptr;
  if (tokens && !who)
    return unauthorized();
  if (stopping)
    return shutting_down();
  if (!m.entry)
    return error_response(make_http_error(http_ec::unknown_path, "no such path"));
  if (id == route_id::metrics && !metrics)
    return metrics_disabled();
  if (!allows(*m.entry, req.method))
    return method_not_allowed(allow_header(*m.entry));
  // After the path and the method, so that a read token learns nothing it could not GET.
  if (who && who->scope == token_scope::read && req.method != "GET")
    return error_response(make_http_error(
      http_ec::forbidden, "this token's scope is read: it may only GET (and HEAD)"));
  return std::nullopt;
}

template <class T>
action or_error(caf::expected<T> x) {
  if (!x)
    return error_response(x.error());
  return v1_action{std::move(*x)};
}

action v1_route(const request_view& req, const match& m, millis now, const v1_limits& limits) {
  auto id = m.entry->id;
  // Every v1 path with an {id}: its value first, whatever else is wrong.
  int64_t rid = 0;
  if (!m.id.empty()) {
    auto parsed_id = parse_path_id(m.id, id == route_id::v1_run || id == route_id::v1_run_output
                                           ? "run"
                                           : "task");
    if (!parsed_id)
      return error_response(parsed_id.error());
    rid = *parsed_id;
  }
  auto no_query = [&]() -> caf::error { return refuse_query(req.query); };
  switch (id) {
    case route_id::v1_tasks:
      if (req.method == "POST") {
        auto t = parse_create_request(req.body, req.content_type, req.idempotency_key, now,
                                      limits);
        if (!t)
          return error_response(t.error());
        return v1_action{create_task_action{std::move(*t)}};
      } else {
        auto list = parse_task_list_query(req.query);
        if (!list)
          return error_response(list.error());
        return v1_action{list_tasks_action{std::move(*list)}};
      }
    case route_id::v1_task: {
      if (auto err = no_query())
        return error_response(err);
      if (req.method == "GET")
        return v1_action{get_task_action{rid}};
      auto edit = parse_edit_request(req.body, req.content_type, req.if_match);
      if (!edit) {
        auto res = error_response(edit.error());
        if (res.status == 415)
          add_accept_patch(res);
        return res;
      }
      return v1_action{edit_task_action{rid, std::move(*edit), now, limits}};
    }
    case route_id::v1_task_cancel:
    case route_id::v1_task_trigger:
    case route_id::v1_task_pause:
    case route_id::v1_task_resume: {
      if (auto err = no_query())
        return error_response(err);
      // The pattern's last segment names the action ("/v1/tasks/{id}/cancel").
      std::string_view pattern = m.entry->pattern;
      auto verb = pattern.substr(pattern.rfind('/'));
      auto what = std::string{"POST /v1/tasks/"} + std::to_string(rid) + std::string{verb};
      auto key = parse_action_request(req.body, req.content_type, req.idempotency_key, what);
      if (!key)
        return error_response(key.error());
      switch (id) {
        case route_id::v1_task_cancel: return v1_action{cancel_task_action{rid, std::move(*key)}};
        case route_id::v1_task_trigger:
          return v1_action{trigger_task_action{rid, std::move(*key)}};
        case route_id::v1_task_pause: return v1_action{pause_task_action{rid, std::move(*key)}};
        default: return v1_action{resume_task_action{rid, std::move(*key)}};
      }
    }
    case route_id::v1_task_runs:
    case route_id::v1_runs: {
      std::optional<task_id> task;
      if (id == route_id::v1_task_runs)
        task = rid;
      auto list = parse_run_list_query(req.query, task, limits.zone);
      if (!list)
        return error_response(list.error());
      return v1_action{list_runs_action{std::move(*list)}};
    }
    case route_id::v1_task_occurrences: {
      auto count = parse_occurrences_query(req.query);
      if (!count)
        return error_response(count.error());
      return v1_action{task_occurrences_action{rid, *count, limits.zone, now}};
    }
    case route_id::v1_schedules_preview: {
      // Pure: the schedule alone decides, so the front end answers without an actor.
      if (auto err = no_query())
        return error_response(err);
      auto p = parse_preview_request(req.body, req.content_type, now, limits);
      if (!p)
        return error_response(p.error());
      return occurrence_list(preview_occurrences(p->schedule, now, p->count),
                             *p->schedule.zone);
    }
    case route_id::v1_run:
      if (auto err = no_query())
        return error_response(err);
      return v1_action{get_run_action{rid}};
    case route_id::v1_run_output: {
      auto offset = parse_output_query(req.query);
      if (!offset)
        return error_response(offset.error());
      return v1_action{read_output_action{rid, *offset}};
    }
    case route_id::v1_openapi:
      if (auto err = no_query())
        return error_response(err);
      return openapi_document(openapi_json());
    default: break;
  }
  return error_response(make_http_error(http_ec::unknown_path, "no such path"));
}

} // namespace

const std::vector<route_entry>& route_table() {
  return table;
}

action route(const request_view& req, std::string_view token, bool stopping, millis now,
             bool metrics, const time_zone* zone, v1_limits limits) {
  auto set = single(token);
  return route(req, or_null(set), stopping, now, metrics, zone, limits);
}

action route(const request_view& given, const token_set* tokens, bool stopping, millis now,
             bool metrics, const time_zone* zone, v1_limits limits) {
  auto req = given;
  if (req.method == "HEAD")
    req.method = "GET";
  auto m = find_route(req.path);
  auto id = m.entry ? m.entry->id : route_id::other;
  if (auto res = before_body(req, m, tokens, stopping, metrics))
    return std::move(*res);
  if (req.body.size() > max_body_bytes)
    return payload_too_large();
  if (id == route_id::healthz || id == route_id::readyz) {
    // Alive while it answers at all; not ready while stopping (take it out of rotation).
    if (id == route_id::healthz)
      return healthy();
    if (stopping)
      return not_ready("the service is shutting down");
    return ready_action{};
  }
  switch (id) {
    case route_id::metrics: return metrics_action{};
    case route_id::schedule: {
      auto t = parse_schedule_request(req.body, req.content_type, req.idempotency_key, now,
                                      zone);
      if (!t)
        return error_response(t.error());
      return schedule_action{std::move(*t)};
    }
    case route_id::status: {
      auto task = parse_id_query(req.query);
      if (!task)
        return error_response(task.error());
      return status_action{*task};
    }
    default:
      limits.zone = zone;
      return v1_route(req, m, now, limits);
  }
}

std::optional<http_response> judge_head(const request_view& req, uint64_t declared_body,
                                        std::string_view token, bool stopping, bool metrics) {
  auto set = single(token);
  return judge_head(req, declared_body, or_null(set), stopping, metrics);
}

std::optional<http_response> judge_head(const request_view& given, uint64_t declared_body,
                                        const token_set* tokens, bool stopping, bool metrics) {
  auto req = given;
  if (req.method == "HEAD")
    req.method = "GET";
  auto m = find_route(req.path);
  bool over = declared_body > max_body_bytes;
  if (auto res = before_body(req, m, tokens, stopping, metrics)) {
    // A missing, wrong or too weak token is refused at once; the other early answers
    // (404, 405, 503) are small and keep the connection, unless a body too large to hold
    // would be read for them.
    if (res->status == 401 || res->status == 403 || over)
      return res;
    return std::nullopt;
  }
  if (over)
    return payload_too_large();
  // The content type, where route() checks it before anything in the body (and after the
  // path's id and the query it checks first, which only it answers).
  auto id = m.entry->id;
  if (!m.id.empty() && !parse_path_id(m.id, "task"))
    return std::nullopt;
  if ((id == route_id::v1_task || id == route_id::v1_schedules_preview) && refuse_query(req.query))
    return std::nullopt;
  caf::error err;
  if (req.method == "POST"
      && (id == route_id::schedule || id == route_id::v1_tasks
          || id == route_id::v1_schedules_preview))
    err = check_json_content_type(req.content_type);
  else if (req.method == "PATCH" && id == route_id::v1_task)
    err = check_merge_patch_content_type(req.content_type);
  if (!err)
    return std::nullopt;
  auto res = error_response(err);
  if (id == route_id::v1_task)
    add_accept_patch(res);
  return res;
}

const api_token* request_token(const request_view& req, const token_set* tokens) {
  return tokens ? authenticate(req.authorization, *tokens) : nullptr;
}

bool audited(std::string_view method) {
  return method != "GET" && method != "HEAD";
}

std::optional<task_id> path_task_id(std::string_view path) {
  auto m = find_route(path);
  if (!m.entry || m.id.empty() || std::string_view{m.entry->pattern}.rfind("/v1/tasks/", 0) != 0)
    return std::nullopt;
  auto id = parse_path_id(m.id, "task");
  if (!id)
    return std::nullopt;
  return *id;
}

request_view head_view(const request_head& head) {
  std::string_view target = head.target;
  if (!target.empty() && target[0] != '/') {
    auto scheme = target.find("://");
    if (scheme != std::string_view::npos) {
      auto slash = target.find('/', scheme + 3);
      target = slash == std::string_view::npos ? std::string_view{"/"} : target.substr(slash);
    }
  }
  auto q = target.find('?');
  request_view v;
  v.method = head.method;
  v.path = target.substr(0, q);
  v.query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  v.content_type = head.field("Content-Type");
  v.authorization = head.field("Authorization");
  return v;
}

route_id classify(std::string_view path) {
  auto m = find_route(path);
  return m.entry ? m.entry->id : route_id::other;
}

const char* route_label(route_id id) {
  for (auto& entry : table)
    if (entry.id == id)
      return entry.pattern;
  return "other";
}

} // namespace ts::api
