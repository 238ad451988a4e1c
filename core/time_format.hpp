// Parsing the times clients send and formatting the times the service writes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/ids.hpp"
#include "core/parsed.hpp"

namespace ts {

class time_zone;

/// Parses a schedule time:
/// - `YYYY-MM-DD HH:MM:SS[.fff]` or `YYYY-MM-DDTHH:MM:SS[.fff]` in the process's local zone
///   (TZ, else the system zone). A local time that does not exist (DST gap) is an error; one
///   that occurs twice (DST fold) means the earlier instant.
/// - RFC 3339 with `Z`/`z` or a `+HH:MM`/`-HH:MM` offset.
/// Fractions have 1 to 9 digits; digits past milliseconds are truncated. Years 1970-9999.
/// Fails with a message that says what is wrong.
parsed<millis> parse_time(std::string_view text);

/// parse_time with naive times read in `zone` instead of the process's zone; the same rule
/// for gaps (refused) and folds (the earlier instant). An offset in the text wins.
parsed<millis> parse_time(std::string_view text, const time_zone& zone);

/// RFC 3339 UTC with milliseconds: `2024-09-22T17:00:00.000Z`.
std::string format_time(millis t);

/// The wall-clock time at `t` in a zone that is `utc_offset` seconds east of UTC, with that
/// offset: `2024-03-10T03:00:00.000-04:00`. Offsets of whole minutes (all since 1972) are
/// RFC 3339; an old local-mean-time offset keeps its seconds (`+00:53:28`) rather than lie.
std::string format_local_time(millis t, int32_t utc_offset);

} // namespace ts
