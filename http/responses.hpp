// Rendering: records and errors become responses. Holds the one mapping from errors to
// responses (every status code and error body of the API) and the JSON shapes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <nlohmann/json.hpp>

#include "core/types.hpp"
#include "http/api.hpp"
#include "http/v1_schedule.hpp"

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
/// 503 for a request that is not carried out because its audit line cannot be written.
http_response audit_unavailable();
/// 413 for a body over max_body_bytes.
http_response payload_too_large();
/// The guarded socket's refusals: 431 header_too_large, 408 request_timeout, and 503
/// overloaded with Retry-After.
http_response header_too_large(std::string message);
http_response request_timeout(std::string message);
http_response overloaded(std::string message);

// -- rendering ----------------------------------------------------------------------------

/// 201 with Location; a replayed idempotent request also carries Idempotent-Replayed: true.
http_response created(const task_record& rec);

/// 200 with the task and its latest run.
http_response status(const task_view& view);

// -- the v1 resources

/// POST /v1/tasks: 201 with the task and Location; a replay also carries
/// Idempotent-Replayed: true.
http_response task_created(const task_info& task, bool replayed);

/// 200 with the task (cancel, trigger, pause, resume); `replayed` as above.
http_response task_resource(const task_info& task, bool replayed = false);

/// GET and PATCH /v1/tasks/{id}: 200 with the task and its ETag (task_etag), which a
/// later PATCH names in If-Match.
http_response task_with_etag(const task_info& task);

/// A task's version as a strong entity tag: `"3"`.
std::string task_etag(int64_t version);

/// The task as every v1 response shows it (every key present, null when absent); PATCH
/// builds the task's create request from it (v1_edit.hpp).
nlohmann::ordered_json task_json(const task_info& task);

/// 200 with {"items", "next_cursor"}; the cursor is bound to `filter_key` (cursor.hpp).
http_response task_list(const task_page& page, const std::string& filter_key);
http_response run_list(const run_page& page, const std::string& filter_key);

/// 200 with {"occurrences": [{"utc", "local", "dst"}]}: "local" is the wall clock in
/// `zone` with its offset, "dst" null or how a DST change moved the occurrence.
http_response occurrence_list(const std::vector<listed_occurrence>& list, const time_zone& zone);

/// 200 with one run.
http_response run_resource(const run_info& run);

/// 200 text/plain with the piece of output, X-Output-Complete, X-Output-Offset (where the
/// body starts) and X-Output-Next-Offset (where the next read goes on).
http_response output_text(const output_slice& slice);

/// 200 application/json with the OpenAPI document.
http_response openapi_document(std::string_view json);

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
