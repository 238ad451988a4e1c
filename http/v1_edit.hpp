// PATCH /v1/tasks/{id}: a JSON Merge Patch (RFC 7386) of the fields a create takes, under an
// optional If-Match. Pure, like the other readers: the route checks the request
// (parse_edit_request), the gateway reads the task and turns the patch into the edit it
// sends (make_edit).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "core/types.hpp"
#include "http/v1_requests.hpp"

namespace ts::api {

/// An If-Match header (RFC 9110, 13.1.1): "*", or a list of entity tags.
struct if_match {
  bool any = false;
  /// The strong tags listed, quotes included (`"3"`). Weak ones (W/"3") are left out:
  /// If-Match compares strongly, so a weak tag never matches.
  std::vector<std::string> tags;

  /// True for a task at `version`: "*" (the task exists), or one tag is its ETag.
  bool matches(int64_t version) const;
};

/// invalid_field (field If-Match) unless the value is "*" or a list of entity tags; an empty
/// list is valid and matches nothing.
caf::expected<if_match> parse_if_match(std::string_view value);

/// A PATCH as the route checked it.
struct edit_request {
  /// A JSON object: the merge patch.
  nlohmann::json patch;
  /// Absent without If-Match.
  std::optional<if_match> condition;

  /// An edit that loses a race to another change is made again from a fresh read without
  /// If-Match and with "*"; a list of tags named the version the client saw.
  bool may_retry() const {
    return !condition || condition->any;
  }
};

/// The Content-Type (merge patch or JSON, else 415), If-Match and the body (a JSON object,
/// else invalid_json).
caf::expected<edit_request> parse_edit_request(std::string_view body,
                                               std::optional<std::string_view> content_type,
                                               std::optional<std::string_view> if_match_value);

/// The create request a stored task would be made from: the create fields of its JSON
/// (task_json), nulls dropped at every depth.
nlohmann::json create_document(const task_info& task);

/// The edit of `current` by the request, made at `now`: ec::version_mismatch when If-Match
/// names another version; else the patch merged into create_document(current), read by the
/// create's own reader (so that every refusal is a create's), expected at current.version.
/// A patch without a "schedule" member keeps the stored schedule as it is, unread: it was
/// valid when it was given, and a time that has passed since (an `at`, an `end_at`) must not
/// refuse an edit of the command.
caf::expected<task_edit> make_edit(const task_info& current, const edit_request& req,
                                   millis now, const v1_limits& limits);

} // namespace ts::api
