// POSIX TZ rules ("CET-1CEST,M3.5.0,M10.5.0/3"): the footer of a TZif v2+ file, which says
// how a zone changes after the last transition the file lists, and the form TZ may take
// without any file. Pure code, no CAF, no system calls.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/parsed.hpp"

namespace ts {

/// What a zone shows between two transitions.
struct zone_type {
  /// Seconds east of UTC.
  int32_t utc_offset = 0;
  bool dst = false;
  std::string abbreviation;
};

class posix_tz {
public:
  /// A change of type: from `at` on (seconds since the epoch), DST is on or off.
  struct change {
    int64_t at;
    bool dst;
  };

  /// Parses the POSIX form with the TZif v3 extensions (rule times from -167 to 167 hours,
  /// DST all year). A rule with DST but no dates takes glibc's default, M3.2.0,M11.1.0.
  static parsed<posix_tz> parse(std::string_view text);

  const zone_type& standard() const {
    return std_;
  }
  /// Absent for a zone without DST ("IST-5:30").
  const std::optional<zone_type>& daylight() const {
    return dst_;
  }

  /// The type in effect at `t`.
  const zone_type& at(int64_t t) const;

  /// The changes with `from < at <= to`, in order; empty without DST. Two changes at one
  /// instant (DST all year) count as the later one.
  std::vector<change> changes(int64_t from, int64_t to) const;

  /// How a rule names its day within a year.
  struct day_rule {
    enum class form { julian_no_leap, zero_based, month_week_day };
    form kind = form::month_week_day;
    int a = 0; // Jn: n; n: n; Mm.w.d: m
    int b = 0; // Mm.w.d: w (5 = last)
    int c = 0; // Mm.w.d: d (0 = Sunday)
    /// Local time of the change, seconds after midnight (may be negative or past a day).
    int32_t time = 2 * 3600;
  };

private:
  /// Seconds since the epoch of `rule` in `year`, read in the offset in effect before it.
  static int64_t instant(const day_rule& rule, int64_t year, int32_t offset_before);

  zone_type std_;
  std::optional<zone_type> dst_;
  day_rule start_;
  day_rule end_;
};

} // namespace ts
