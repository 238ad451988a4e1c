// The times and durations people type at tsctl, read with the project's own time parser
// (core/time_format) and zones (core/time_zone). Pure: "now" and the zone are arguments.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/ids.hpp"
#include "core/parsed.hpp"

namespace ts {
class time_zone;
}

namespace ts::cli {

/// A duration: a number of seconds ("90", "1.5"), or numbers with units s, m, h, d one after
/// another ("15m", "1h30m", "2d"). Above 0, at most 100 years.
parsed<double> parse_duration(std::string_view text);

/// An `at` time, in milliseconds since the epoch; nullopt for "now" (the task runs at once).
/// - `now`, `now+DURATION` (`now+10m`);
/// - `YYYY-MM-DD HH:MM`, with `:SS` and `.fff` optional, also with `T`: a wall-clock time in
///   `zone` (a time the clocks skip is refused, one they pass twice is the earlier instant);
/// - RFC 3339 with `Z` or an offset.
parsed<std::optional<millis>> parse_at(std::string_view text, millis now, const time_zone& zone);

/// `t` as RFC 3339 with the offset `zone` has then: what tsctl sends, so that the server
/// reads the instant the user meant whatever its own default zone is.
std::string rfc3339_in_zone(millis t, const time_zone& zone);

/// `t` as people read it in `zone`: `2026-12-24 18:00:00`, with ` +01:00` after it when
/// `with_offset`.
std::string human_time(millis t, const time_zone& zone, bool with_offset = false);

/// A service time (RFC 3339) for people, in `zone`; "-" for a null or absent one, and the
/// text unchanged when it does not parse (clients must take what they do not know).
std::string human_time_text(const std::string* rfc3339, const time_zone& zone);

/// Seconds as the shortest of "45s", "15m", "1h30m", "2d": how `every` intervals are shown.
std::string format_seconds(int64_t seconds);

} // namespace ts::cli
