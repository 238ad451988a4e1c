// Validation and authentication of requests, before any actor is asked. Failures are
// http_ec errors for error_response (responses.hpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

#include "core/time_zone.hpp"
#include "core/tokens.hpp"
#include "core/types.hpp"
#include "http/api.hpp"

namespace ts::api {

/// Validates a schedule request. `content_type` and `idempotency_key` are the header values,
/// absent when the header is missing. `now` becomes the task's created_at. A time without
/// an offset is read in `zone`, or in the process's zone when it is null.
caf::expected<new_task> parse_schedule_request(std::string_view body,
                                               std::optional<std::string_view> content_type,
                                               std::optional<std::string_view> idempotency_key,
                                               millis now, const time_zone* zone = nullptr);

/// A query string's parameters in order, percent-decoded (form rules: '+' is a space);
/// invalid_field for a malformed escape.
using query_params = std::vector<std::pair<std::string, std::string>>;
caf::expected<query_params> parse_query(std::string_view query);

/// Refuses a Content-Type other than JSON (415); an absent one is taken as JSON.
caf::error check_json_content_type(std::optional<std::string_view> content_type);

/// PATCH: refuses a Content-Type other than application/merge-patch+json or application/json
/// (415); an absent one is taken as a merge patch. Unlike a create, curl's default form type
/// is refused: a PATCH is always sent with its type on purpose.
caf::error check_merge_patch_content_type(std::optional<std::string_view> content_type);

/// Refuses an Idempotency-Key that is not 1 to 255 printable ASCII characters.
caf::error check_idempotency_key(std::optional<std::string_view> key);

/// Parses a task id: decimal 1 .. 2^63-1, digits only.
caf::expected<task_id> parse_id(std::optional<std::string_view> text);

/// The value of `id` in a raw query string (percent-decoded), then parse_id.
caf::expected<task_id> parse_id_query(std::string_view query);

/// SHA-256 (hex) of the canonical JSON of the fields that define a request, so that a retry
/// with the same task and time is told from a different request under one key.
std::string request_digest(std::string_view task, std::string_view time);

/// The token of `tokens` that `authorization` (`Bearer TOKEN`, the scheme in any case)
/// carries, or null; compares in constant time (find_token).
const api_token* authenticate(std::optional<std::string_view> authorization,
                              const token_set& tokens);

/// True when `authorization` is `Bearer TOKEN` with exactly `token`; compares in constant
/// time whatever the lengths. An empty token means no authentication is configured.
bool authorized(std::optional<std::string_view> authorization, std::string_view token);

} // namespace ts::api
