// Rendering: records and errors become responses. Holds the one mapping from errors to
// responses (every status code and error body of the API) and the JSON shapes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <caf/error.hpp>

#include "core/types.hpp"
#include "http/api.hpp"

namespace ts::api {

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

} // namespace ts::api
