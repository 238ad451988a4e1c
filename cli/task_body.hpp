// The JSON bodies tsctl sends: a new task (at, cron, every), an edit's merge patch, and a
// schedule preview, built from the parsed command line and the client's context. Pure: the
// clock, the zone and the working directory are arguments.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/invocation.hpp"
#include "core/ids.hpp"
#include "core/parsed.hpp"

namespace ts {
class time_zone;
}

namespace ts::cli {

struct client_context {
  millis now = 0;
  /// --tz's zone, else the client's own.
  const time_zone* zone = nullptr;
  /// The IANA name sent as schedule.time_zone: --tz, else the client's zone when its name is
  /// known; absent leaves the server's --default-time-zone.
  std::optional<std::string> zone_name;
  /// Where a relative --cwd is resolved (the service wants an absolute path).
  std::string cwd;
};

/// The words after `--` as one /bin/sh command line that sh splits back into exactly them.
std::string command_line(const std::vector<std::string>& words);

/// POST /v1/tasks for at, cron and every.
parsed<nlohmann::json> create_body(const invocation& inv, const client_context& ctx);

/// PATCH /v1/tasks/{id} (a JSON Merge Patch) for edit. A new schedule names every other
/// form's keys as null: the patch merges into the stored schedule, which must not keep the
/// old form beside the new one.
parsed<nlohmann::json> edit_patch(const invocation& inv, const client_context& ctx);

/// POST /v1/schedules/preview for preview.
nlohmann::json preview_body(const invocation& inv, const client_context& ctx);

} // namespace ts::cli
