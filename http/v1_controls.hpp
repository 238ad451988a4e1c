// The execution fields of a v1 create (timeout_s, kill_grace_s, retry, env, cwd, run_as) and
// the recurrence policies (misfire, overlap, history_keep), validated apart from the rest of the body (http/v1_requests.cpp), and the helpers that
// every v1 body reader uses.
#pragma once

#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <nlohmann/json.hpp>

#include "core/types.hpp"
#include "http/api.hpp"
#include "http/v1_requests.hpp"

namespace ts::api {

/// invalid_field naming `field`.
inline caf::error field_error(std::string field, std::string message) {
  return make_field_error(http_ec::invalid_field, std::move(field), std::move(message));
}

/// unknown_field naming `field`.
inline caf::error unknown(std::string field) {
  auto message = "unknown field " + field;
  return make_field_error(http_ec::unknown_field, std::move(field), std::move(message));
}

/// A request body as a JSON object, or invalid_json.
caf::expected<nlohmann::json> parse_object(std::string_view body);

/// An integer in [min, max], else invalid_field with `message` (booleans, fractions and
/// integers beyond int64 are not).
caf::expected<int64_t> read_integer(const nlohmann::json& j, const std::string& field,
                                    int64_t min, int64_t max, const std::string& message);

/// Reads misfire, overlap and history_keep of `body` into `p` (absent ones keep defaults).
caf::error read_policy(const nlohmann::json& body, recurrence_policy& p);

/// Reads the execution fields of `body` into `c` (absent fields keep their defaults).
caf::error read_controls(const nlohmann::json& body, task_controls& c, const v1_limits& limits);

} // namespace ts::api
