#include "http/responses.hpp"

#include <algorithm>
#include <csignal>
#include <cstring>

#include <caf/message.hpp>
#include <caf/sec.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/text.hpp"
#include "core/time_format.hpp"
#include "http/json_body.hpp"

namespace ts {

namespace {

// -- JSON output --------------------------------------------------------------------------

using api::dump;
using api::json_response;
using api::ordered_json;

http_response error_body(int status, const char* code, std::string_view message,
                         std::string_view field = {}) {
  ordered_json body;
  body["error"]["code"] = code;
  body["error"]["message"] = message;
  if (!field.empty())
    body["error"]["field"] = field;
  return json_response(status, body);
}

// Unexpected errors: the details stay in the server; the client learns nothing internal.
http_response internal_error() {
  return error_body(500, "internal_error", "internal error");
}

// Builds a JSON object by appending, for the two responses on the hot path (status and
// created): building an ordered_json tree and dumping it cost ~2.5 us a request, a tenth
// of a status read's CPU (perf, docs/benchmarks.md). Strings that need escaping still go
// through nlohmann, so the output is byte for byte what dump() gives.
class object_writer {
public:
  object_writer() {
    out_.reserve(320);
    out_ += '{';
  }

  object_writer& text(std::string_view key, std::string_view value) {
    name(key);
    quoted(value);
    return *this;
  }

  object_writer& integer(std::string_view key, int64_t value) {
    name(key);
    out_ += std::to_string(value);
    return *this;
  }

  object_writer& boolean(std::string_view key, bool value) {
    name(key);
    out_ += value ? "true" : "false";
    return *this;
  }

  object_writer& null(std::string_view key) {
    name(key);
    out_ += "null";
    return *this;
  }

  object_writer& time_or_null(std::string_view key, const std::optional<millis>& t) {
    return t ? text(key, format_time(*t)) : null(key);
  }

  object_writer& integer_or_null(std::string_view key, const std::optional<int64_t>& value) {
    return value ? integer(key, *value) : null(key);
  }

  std::string finish() {
    out_ += '}';
    return std::move(out_);
  }

private:
  void name(std::string_view key) {
    if (out_.size() > 1)
      out_ += ',';
    quoted(key);
    out_ += ':';
  }

  void quoted(std::string_view value) {
    bool plain = std::all_of(value.begin(), value.end(), [](char c) {
      return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
    });
    if (plain) {
      out_ += '"';
      out_.append(value);
      out_ += '"';
    } else {
      out_ += dump(ordered_json(value));
    }
  }

  std::string out_;
};

http_response json_text_response(int status, std::string body) {
  http_response res;
  res.status = status;
  res.body = std::move(body);
  res.headers.emplace_back("Content-Type", "application/json");
  return res;
}

std::string context_text(const caf::error& err, size_t index) {
  auto& ctx = err.context();
  if (ctx.size() > index && ctx.match_element<std::string>(index))
    return ctx.get_as<std::string>(index);
  return {};
}

} // namespace

const std::string* http_response::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (iequals(k, name))
      return &v;
  return nullptr;
}

namespace api {

caf::error make_http_error(http_ec code, std::string message) {
  return caf::error{static_cast<uint8_t>(code), http_ec_category,
                    caf::make_message(std::move(message))};
}

caf::error make_field_error(http_ec code, std::string field, std::string message) {
  return caf::error{static_cast<uint8_t>(code), http_ec_category,
                    caf::make_message(std::move(message), std::move(field))};
}

http_response error_response(const caf::error& err) {
  // A none error has no category (CAF's precondition); reaching here with one is a bug.
  if (!err)
    return internal_error();
  if (err.category() == http_ec_category) {
    auto message = context_text(err, 0);
    // The field at fault, for every code but 405 (whose second element is Allow).
    auto field = context_text(err, 1);
    switch (static_cast<http_ec>(err.code())) {
      case http_ec::invalid_json: return error_body(400, "invalid_json", message);
      case http_ec::invalid_field: return error_body(400, "invalid_field", message, field);
      case http_ec::invalid_time: return error_body(400, "invalid_time", message, field);
      case http_ec::unknown_field: return error_body(400, "unknown_field", message, field);
      case http_ec::invalid_cursor: return error_body(400, "invalid_cursor", message, field);
      case http_ec::no_such_resource: return error_body(404, "not_found", message);
      case http_ec::forbidden: return error_body(403, "forbidden", message, field);
      case http_ec::invalid_time_zone:
        return error_body(400, "invalid_time_zone", message, field);
      case http_ec::invalid_cron: return error_body(400, "invalid_cron", message, field);
      case http_ec::schedule_never_fires:
        return error_body(400, "schedule_never_fires", message, field);
      case http_ec::invalid_task: return error_body(400, "invalid_task", message);
      case http_ec::invalid_id: return error_body(400, "invalid_id", message);
      case http_ec::unauthorized: {
        auto res = error_body(401, "unauthorized", message);
        res.headers.emplace_back("WWW-Authenticate", "Bearer");
        return res;
      }
      case http_ec::unknown_path: return error_body(404, "not_found", message);
      case http_ec::method_not_allowed: {
        auto res = error_body(405, "method_not_allowed", message);
        res.headers.emplace_back("Allow", context_text(err, 1));
        return res;
      }
      case http_ec::payload_too_large: return error_body(413, "payload_too_large", message);
      case http_ec::unsupported_media_type:
        return error_body(415, "unsupported_media_type", message);
      case http_ec::edit_conflict: return error_body(409, "edit_conflict", message);
      case http_ec::malformed_request: return error_body(400, "malformed_request", message);
      case http_ec::header_too_large: return error_body(431, "header_too_large", message);
      case http_ec::request_timeout: return error_body(408, "request_timeout", message);
      case http_ec::overloaded: {
        auto res = error_body(503, "overloaded", message);
        res.headers.emplace_back("Retry-After", "1");
        return res;
      }
      case http_ec::none: break;
    }
  } else if (err.category() == ec_category) {
    auto unavailable = [](const char* message) {
      auto res = error_body(503, "unavailable", message);
      res.headers.emplace_back("Retry-After", "1");
      return res;
    };
    switch (static_cast<ec>(err.code())) {
      case ec::not_found: return error_body(404, "not_found", "no task with this id");
      case ec::idempotency_conflict:
        return error_body(409, "idempotency_conflict",
                          "this Idempotency-Key was already used with a different request");
      case ec::invalid_state:
        // The store's reason is written for clients ("a run of the task is in progress").
        return error_body(409, "invalid_state", context_text(err, 0));
      case ec::version_mismatch: {
        // An If-Match that names another version than the stored one (the gateway's message
        // says which), or an edit that lost a race after it.
        auto message = context_text(err, 0);
        return error_body(412, "version_mismatch",
                          message.empty() ? "the task is not at the version If-Match names"
                                          : message);
      }
      case ec::unavailable:
        return unavailable("the database cannot be reached; try again later");
      case ec::shutting_down:
        return unavailable("the service is shutting down; try again later");
      default: break;
    }
  } else if (err.category() == caf::atom("system")) {
    auto code = static_cast<caf::sec>(err.code());
    if (code == caf::sec::request_timeout || code == caf::sec::request_receiver_down) {
      auto res = error_body(503, "unavailable", "the service did not answer in time; try "
                                                "again later");
      res.headers.emplace_back("Retry-After", "1");
      return res;
    }
  }
  return internal_error();
}

http_response method_not_allowed(std::string_view allow) {
  auto err = caf::error{static_cast<uint8_t>(http_ec::method_not_allowed), http_ec_category,
                        caf::make_message(std::string{"method not allowed; use "}
                                            + std::string{allow},
                                          std::string{allow})};
  return error_response(err);
}

http_response unauthorized() {
  return error_response(make_http_error(http_ec::unauthorized,
                                        "missing or wrong bearer token"));
}

http_response shutting_down() {
  return error_response(make_error(ec::shutting_down));
}

http_response audit_unavailable() {
  auto res = error_body(503, "unavailable",
                        "the audit log cannot be written, so the request was not carried "
                        "out; try again later");
  res.headers.emplace_back("Retry-After", "1");
  return res;
}

http_response payload_too_large() {
  return error_response(make_http_error(http_ec::payload_too_large,
                                        "the body must be at most 1 MiB"));
}

http_response header_too_large(std::string message) {
  return error_response(make_http_error(http_ec::header_too_large, std::move(message)));
}

http_response request_timeout(std::string message) {
  return error_response(make_http_error(http_ec::request_timeout, std::move(message)));
}

http_response overloaded(std::string message) {
  return error_response(make_http_error(http_ec::overloaded, std::move(message)));
}

http_response metrics_text(std::string text) {
  http_response res;
  res.status = 200;
  res.body = std::move(text);
  res.headers.emplace_back("Content-Type", metrics_content_type);
  // Every scrape must see fresh values.
  res.headers.emplace_back("Cache-Control", "no-store");
  return res;
}

http_response metrics_disabled() {
  return error_body(404, "not_found", "metrics are disabled (--metrics=off)");
}

http_response healthy() {
  ordered_json body;
  body["status"] = "ok";
  auto res = json_response(200, body);
  res.headers.emplace_back("Cache-Control", "no-store");
  return res;
}

http_response ready() {
  ordered_json body;
  body["status"] = "ready";
  auto res = json_response(200, body);
  res.headers.emplace_back("Cache-Control", "no-store");
  return res;
}

http_response not_ready(std::string_view reason) {
  ordered_json body;
  body["status"] = "not_ready";
  body["reason"] = reason;
  auto res = json_response(503, body);
  res.headers.emplace_back("Cache-Control", "no-store");
  res.headers.emplace_back("Retry-After", "1");
  return res;
}

http_response created(const task_record& rec) {
  auto res = json_text_response(201, object_writer{}
                                       .integer("id", rec.id)
                                       .text("task", rec.command)
                                       .text("time", format_time(rec.due))
                                       .text("status", to_string(rec.status))
                                       .text("created_at", format_time(rec.created_at))
                                       .finish());
  res.headers.emplace_back("Location", std::string{status_path} + "?id="
                                         + std::to_string(rec.id));
  if (rec.replayed)
    res.headers.emplace_back("Idempotent-Replayed", "true");
  return res;
}

http_response status(const task_view& v) {
  object_writer w;
  w.integer("id", v.id)
    .text("task", v.command)
    .text("time", format_time(v.due))
    .text("status", to_string(v.status))
    .integer_or_null("exit_code", v.exit_code);
  if (v.signal)
    w.text("signal", signal_name(*v.signal));
  else
    w.null("signal");
  if (v.reason == run_reason::none)
    w.null("reason");
  else
    w.text("reason", to_string(v.reason));
  // A task without a run has no output yet, not an empty one.
  if (v.run)
    w.text("output", v.output);
  else
    w.null("output");
  w.boolean("output_truncated", v.output_truncated)
    .time_or_null("started_at", v.started_at)
    .time_or_null("finished_at", v.finished_at)
    .integer_or_null("run_id", v.run)
    .text("created_at", format_time(v.created_at));
  return json_text_response(200, w.finish());
}

std::string signal_name(int32_t sig) {
  if (auto abbrev = sigabbrev_np(sig))
    return std::string{"SIG"} + abbrev;
  if (sig >= SIGRTMIN && sig <= SIGRTMAX)
    return sig == SIGRTMIN ? "SIGRTMIN" : "SIGRTMIN+" + std::to_string(sig - SIGRTMIN);
  return "SIG" + std::to_string(sig);
}

const char* reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

} // namespace api
} // namespace ts
