// IANA time zones read from the system's tz database (/usr/share/zoneinfo, Debian's tzdata),
// with our own TZif reader: Debian's libhowardhinnant-date is built with USE_OS_TZDB=1, and
// that path ignores the POSIX footer of the files (date issue #794), so it stops seeing DST
// after 2037, the last transition Debian's "fat" files list. Pure code, no CAF.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/parsed.hpp"
#include "core/posix_tz.hpp"

namespace ts {

/// What a zone shows at one instant.
struct zone_offset {
  /// Seconds east of UTC.
  int32_t utc_offset = 0;
  bool dst = false;
  /// Points into the zone: valid while the zone lives.
  std::string_view abbreviation;
};

/// The instants that a local (wall clock) time names in a zone.
struct local_instants {
  enum class kind {
    unique, ///< exactly one instant
    gap,    ///< none: the clocks jumped over it (spring forward)
    fold,   ///< two: the clocks went back over it (fall back)
  };
  kind what = kind::unique;
  /// unique: the instant; gap: the first instant after the gap; fold: the earlier instant.
  int64_t first = 0;
  /// fold: the later instant; otherwise the same as `first`.
  int64_t second = 0;
};

class time_zone {
public:
  /// Reads the contents of a TZif file (RFC 8536, versions 1 to 4). Files with leap seconds
  /// (right/...) are refused: their instants are not POSIX seconds.
  static parsed<time_zone> from_tzif(std::string name, std::string_view data);
  /// A zone given by a POSIX rule alone, as TZ may be ("EST5EDT,M3.2.0,M11.1.0").
  static parsed<time_zone> from_rule(std::string name, std::string_view rule);
  static time_zone utc();

  const std::string& name() const {
    return name_;
  }

  /// What the zone shows at `utc` (seconds since the epoch), in the past as in the far
  /// future (after the file's last transition, from its POSIX footer).
  zone_offset at(int64_t utc) const;

  /// The instants of a local time, given as the seconds since the epoch its fields would
  /// mean if they were UTC (2024-03-10 02:30:00 -> 1710037800).
  local_instants to_utc(int64_t local) const;

  /// Both functions clamp their argument to +-max_seconds (about a billion years), so that
  /// no input (a fuzzer's, say) can overflow the calendar arithmetic.
  static constexpr int64_t max_seconds = int64_t{1} << 55;

private:
  struct transition {
    int64_t at;
    size_t type;
  };

  time_zone() = default;
  size_t type_at(int64_t t) const;
  /// The transitions with `from < at <= to`, the footer's after the file's own.
  std::vector<transition> transitions(int64_t from, int64_t to) const;
  void set_rule(posix_tz rule);

  std::string name_;
  std::vector<zone_type> types_;
  /// Ascending, with the type each starts.
  std::vector<transition> times_;
  std::optional<posix_tz> rule_;
  /// The rule's standard and DST types, as indices into types_.
  size_t rule_std_ = 0;
  size_t rule_dst_ = 0;
};

using zone_ptr = std::shared_ptr<const time_zone>;

/// The zone of an IANA name ("Europe/Berlin", "UTC"), loaded once per name however many
/// threads ask. Refuses names that are not zone files of the database, and anything
/// path-like (absolute, `.` or `..` components): the name may come from a client.
parsed<zone_ptr> find_time_zone(std::string_view name);

zone_ptr utc_time_zone();

/// The process's zone as glibc reads it: TZ (a zone name, an absolute path or a POSIX rule,
/// an optional leading ':'; empty means UTC), else /etc/localtime, else UTC. Loaded once
/// per value of TZ.
zone_ptr local_time_zone();

} // namespace ts
