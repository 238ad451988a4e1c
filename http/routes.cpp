#include "http/routes.hpp"

#include <utility>

#include "http/requests.hpp"
#include "http/responses.hpp"

namespace ts::api {

action route(const request_view& req, std::string_view token, bool stopping, millis now,
             bool metrics, const time_zone* zone) {
  if (req.path == healthz_path || req.path == readyz_path) {
    if (req.method != "GET")
      return method_not_allowed("GET");
    // Alive while it answers at all; not ready while stopping (take it out of rotation).
    if (req.path == healthz_path)
      return healthy();
    if (stopping)
      return not_ready("the service is shutting down");
    return ready_action{};
  }
  if (!authorized(req.authorization, token))
    return unauthorized();
  if (stopping)
    return shutting_down();
  if (req.path == metrics_path) {
    if (!metrics)
      return metrics_disabled();
    if (req.method != "GET")
      return method_not_allowed("GET");
    return metrics_action{};
  }
  if (req.path == schedule_path) {
    if (req.method != "POST")
      return method_not_allowed("POST");
    if (req.body.size() > max_body_bytes)
      return error_response(make_http_error(http_ec::payload_too_large,
                                            "the body must be at most 1 MiB"));
    auto t = parse_schedule_request(req.body, req.content_type, req.idempotency_key, now, zone);
    if (!t)
      return error_response(t.error());
    return schedule_action{std::move(*t)};
  }
  if (req.path == status_path) {
    if (req.method != "GET")
      return method_not_allowed("GET");
    auto id = parse_id_query(req.query);
    if (!id)
      return error_response(id.error());
    return status_action{*id};
  }
  return error_response(make_http_error(http_ec::unknown_path, "no such path"));
}

route_id classify(std::string_view path) {
  if (path == schedule_path)
    return route_id::schedule;
  if (path == status_path)
    return route_id::status;
  if (path == metrics_path)
    return route_id::metrics;
  if (path == healthz_path)
    return route_id::healthz;
  if (path == readyz_path)
    return route_id::readyz;
  return route_id::other;
}

const char* route_label(route_id id) {
  switch (id) {
    case route_id::schedule: return schedule_path;
    case route_id::status: return status_path;
    case route_id::metrics: return metrics_path;
    case route_id::healthz: return healthz_path;
    case route_id::readyz: return readyz_path;
    case route_id::other: break;
  }
  return "other";
}

} // namespace ts::api
