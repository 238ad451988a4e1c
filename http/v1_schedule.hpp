// The `schedule` object of POST /v1/tasks and of POST /v1/schedules/preview, validated into
// the core's schedule value (core/schedule.hpp). One reader for both, so that a preview
// refuses exactly what a create would, with the same error codes:
// invalid_time_zone, invalid_cron, invalid_time, invalid_field, unknown_field and
// schedule_never_fires.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "core/ids.hpp"
#include "core/schedule.hpp"
#include "core/time_zone.hpp"
#include "core/types.hpp"
#include "http/v1_requests.hpp"

namespace ts::api {

/// A schedule as the client gave it.
struct schedule_request {
  schedule value;
  /// kind::at: the instant with its milliseconds (value.at holds whole seconds).
  millis at_ms = 0;
  /// The zone name the client gave, kept to show the schedule as written.
  std::optional<std::string> time_zone;
  /// The zone the schedule's local times are read and shown in: the named one, else
  /// --default-time-zone, else the process's zone. Never null.
  zone_ptr zone;
};

/// Reads `j` (null or absent: run once, now). `now` is the creation time: an interval's
/// default anchor, and the instant from which "never fires" is judged.
caf::expected<schedule_request> parse_schedule(const nlohmann::json& j, millis now,
                                               const v1_limits& limits);

/// An occurrence as the API lists it: milliseconds, since a one-shot time keeps them.
struct listed_occurrence {
  millis utc = 0;
  dst_note note = dst_note::none;
};

/// The next `count` occurrences of a schedule as a preview lists them: from start_at when
/// given, else from `now` (an occurrence at `now` itself included); a one-shot's single
/// instant even when it is past (it then runs at once).
std::vector<listed_occurrence> preview_occurrences(const schedule_request& s, millis now,
                                            size_t count);

/// GET /v1/tasks/{id}/occurrences: a stored one-shot task that has not yet run on schedule
/// lists its time (a past one too: it runs at once); a task that ran or was cancelled, none.
/// An active recurring task lists its next ones, from the occurrence it is armed for when
/// that is due already (else from `now`), within its window and its remaining max_runs; a
/// paused one, none (nothing runs until resume).
std::vector<listed_occurrence> task_occurrences(const task_info& t, size_t count, millis now);

/// The zone a stored task's times are shown in: its own, else `default_zone`
/// (--default-time-zone), else the process's.
zone_ptr task_zone(const task_info& t, const time_zone* default_zone);

/// POST /v1/schedules/preview: {"schedule": {...}, "count": N}.
struct preview_request {
  schedule_request schedule;
  size_t count = 0;
};
caf::expected<preview_request> parse_preview_request(std::string_view body,
                                                     std::optional<std::string_view> content_type,
                                                     millis now, const v1_limits& limits);

/// The most occurrences one preview lists, and the default.
constexpr size_t max_preview_count = 100;
constexpr size_t default_preview_count = 10;
/// The longest interval every_s accepts: a century.
constexpr int64_t max_every_s = int64_t{100} * 366 * 86400;

} // namespace ts::api
