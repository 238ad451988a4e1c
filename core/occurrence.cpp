// The occurrence search. It walks local calendar days, skipping to the next matching day
// with cron_expression::matching_days, and in each day to the next matching time with bit
// scans, so that neither "*/5 * * * * *" (a match every few seconds) nor "0 0 0 29 2 *"
// (one every four years) costs more than a few zone look-ups and month steps.
//
// Most days are "simple": one offset from the first local second to the last, so every
// local time names exactly one instant and the instants keep the order of the times; the
// first match past `after` is found by one bit scan. The few days with a transition are
// scanned match by match with to_utc, applying the DST rules of occurrence.hpp.
#include "core/occurrence.hpp"

#include <algorithm>
#include <initializer_list>
#include <limits>
#include <utility>

#include "core/civil.hpp"

namespace ts {

namespace {

using civil::seconds_per_day;

/// `after` plus the default span, without overflowing near the end of int64_t.
int64_t default_limit(int64_t after) {
  constexpr int64_t max = std::numeric_limits<int64_t>::max();
  return after > max - default_search_span ? max : after + default_search_span;
}

/// Real offsets stay well within this (tz database: -12 h .. +14 h, LMT about +-15.5 h).
constexpr int64_t max_offset = 26 * 3600;

/// The lowest set bit at or above `from`, or -1.
int next_bit(uint64_t mask, int from) {
  if (from >= 64)
    return -1;
  const uint64_t rest = mask & (~uint64_t{0} << from);
  return rest == 0 ? -1 : __builtin_ctzll(rest);
}

/// The first matching time of day (seconds since midnight) at or after `from`, or -1.
int next_time_of_day(const cron_expression& e, int64_t from) {
  if (from < 0)
    from = 0;
  if (from >= seconds_per_day)
    return -1;
  const int h0 = static_cast<int>(from / 3600);
  const int m0 = static_cast<int>(from / 60 % 60);
  const int s0 = static_cast<int>(from % 60);
  for (int h = next_bit(e.hours, h0); h >= 0 && h < 24; h = next_bit(e.hours, h + 1)) {
    const int m_from = h == h0 ? m0 : 0;
    for (int m = next_bit(e.minutes, m_from); m >= 0 && m < 60; m = next_bit(e.minutes, m + 1)) {
      // Only the first minute can come up empty: later ones start at second 0.
      const int s = next_bit(e.seconds, h == h0 && m == m0 ? s0 : 0);
      if (s >= 0 && s < 60)
        return h * 3600 + m * 60 + s;
    }
  }
  return -1;
}

/// The first day (days since the epoch) at or after `day` whose date matches, if any up to
/// `last_day`; a month that matches nowhere costs one matching_days call.
std::optional<int64_t> next_matching_day(const cron_expression& e, int64_t day,
                                         int64_t last_day) {
  const civil::date start = civil::civil_from_days(day);
  int64_t year = start.year;
  int month = start.month;
  int from = start.day;
  for (;;) {
    const int64_t first_of_month = civil::days_from_civil(year, month, 1);
    if (first_of_month + from - 1 > last_day)
      return std::nullopt;
    const uint32_t days = e.matching_days(year, month) & (~uint32_t{0} << from);
    if (days != 0)
      return first_of_month + __builtin_ctz(days) - 1;
    from = 1;
    if (++month > 12) {
      month = 1;
      ++year;
    }
  }
}

/// The search for one next_occurrence call.
class search {
public:
  search(const cron_expression& e, const time_zone& z, int64_t after)
      : e_(e), z_(z), after_(after) {
  }

  const std::optional<occurrence>& best() const {
    return best_;
  }

  /// Offers the matches of local day `day`; says whether it was simple.
  bool scan_day(int64_t day) {
    const int64_t base = day * seconds_per_day;
    const local_instants r0 = z_.to_utc(base);
    const local_instants r1 = z_.to_utc(base + seconds_per_day - 1);
    using kind = local_instants::kind;
    if (r0.what == kind::unique && r1.what == kind::unique &&
        base - r0.first == base + seconds_per_day - 1 - r1.first) {
      // One offset all day: the first match whose instant is past `after` is the answer
      // for this day, and all of the day's instants precede the next day's.
      const int64_t offset = base - r0.first;
      const int s = next_time_of_day(e_, after_ + offset + 1 - base);
      if (s >= 0)
        offer({base + s - offset, dst_note::none});
      return true;
    }
    // A transition day. With at most one change in it, its local times take (at most) the
    // two offsets seen at its ends: a local time L names instants in [L - high, L - low],
    // and a gap's shifted instant lies in that range too. So the scan may start where
    // L - low passes `after`, and stop once L - high reaches the best found.
    int64_t low = INT64_MAX;
    int64_t high = INT64_MIN;
    const int64_t last = base + seconds_per_day - 1;
    for (const auto& [r, local] : {std::pair{r0, base}, std::pair{r1, last}}) {
      for (const int64_t o : offsets_of(r, local)) {
        low = std::min(low, o);
        high = std::max(high, o);
      }
    }
    for (int s = next_time_of_day(e_, after_ + low + 1 - base); s >= 0;
         s = next_time_of_day(e_, s + 1)) {
      const int64_t local = base + s;
      if (best_ && local - high >= best_->utc)
        break;
      offer_instants(z_.to_utc(local));
    }
    return false;
  }

  /// A shifted instant that is also a real match is one occurrence, the real one.
  void merge_with_real_match() {
    if (!best_ || best_->note != dst_note::shifted_from_gap)
      return;
    if (e_.matches_local(best_->utc + z_.at(best_->utc).utc_offset))
      best_->note = dst_note::none;
  }

private:
  std::vector<int64_t> offsets_of(const local_instants& r, int64_t local) const {
    switch (r.what) {
    case local_instants::kind::unique:
      return {local - r.first};
    case local_instants::kind::fold:
      return {local - r.first, local - r.second};
    case local_instants::kind::gap:
      break;
    }
    return {z_.at(r.first - 1).utc_offset, z_.at(r.first).utc_offset};
  }

  /// The DST rules for one matching local time.
  void offer_instants(const local_instants& r) {
    switch (r.what) {
    case local_instants::kind::unique:
      offer({r.first, dst_note::none});
      break;
    case local_instants::kind::gap:
      // An "every hour" job has no instants in a gap; others run once, right after it.
      if (!e_.hour_is_star)
        offer({r.first, dst_note::shifted_from_gap});
      break;
    case local_instants::kind::fold:
      if (e_.hour_is_star) {
        offer({r.first, dst_note::none});
        offer({r.second, dst_note::none});
      } else {
        offer({r.first, dst_note::first_of_fold});
      }
      break;
    }
  }

  void offer(occurrence c) {
    if (c.utc <= after_)
      return;
    // On a tie a real match wins over a shifted one (the merge rule).
    if (!best_ || c.utc < best_->utc ||
        (c.utc == best_->utc && best_->note == dst_note::shifted_from_gap))
      best_ = c;
  }

  const cron_expression& e_;
  const time_zone& z_;
  int64_t after_;
  std::optional<occurrence> best_;
};

} // namespace

std::optional<occurrence> next_occurrence(const cron_expression& e, const time_zone& z,
                                          int64_t after, int64_t limit) {
  // Far from the calendar's and the zone's clamps, so that no sum below overflows.
  constexpr int64_t bound = time_zone::max_seconds / 2;
  if (after >= limit || after >= bound || limit < -bound)
    return std::nullopt;
  after = std::max(after, -bound);
  limit = std::min(limit, bound);
  if (e.seconds == 0 || e.minutes == 0 || e.hours == 0)
    return std::nullopt;
  // The day before that of `after`'s local time: in a fold, local times of that day may
  // name instants past `after` (their second instants). Earlier ones cannot.
  const int64_t local_after = after + z.at(after).utc_offset;
  int64_t day = civil::floor_div(local_after, seconds_per_day) - 1;
  const int64_t last_day = civil::floor_div(limit + max_offset, seconds_per_day) + 1;
  search s(e, z, after);
  std::optional<int64_t> previous;
  for (;;) {
    const auto next = next_matching_day(e, day, last_day);
    if (!next)
      break;
    // A transition day's instants may interleave with the next day's (a fold across
    // midnight), so after one the next day is looked at too; after a simple day, no later
    // day can do better.
    if (s.best() && *next != *previous + 1)
      break;
    const bool simple = s.scan_day(*next);
    if (s.best() && simple)
      break;
    previous = *next;
    day = *next + 1;
  }
  s.merge_with_real_match();
  auto result = s.best();
  if (result && result->utc > limit)
    return std::nullopt;
  return result;
}

std::optional<occurrence> next_occurrence(const cron_expression& e, const time_zone& z,
                                          int64_t after) {
  return next_occurrence(e, z, after, default_limit(after));
}

std::vector<occurrence> next_occurrences(const cron_expression& e, const time_zone& z,
                                         int64_t after, size_t count, int64_t limit) {
  std::vector<occurrence> result;
  while (result.size() < count) {
    const auto next = next_occurrence(e, z, after, limit);
    if (!next)
      break;
    result.push_back(*next);
    after = next->utc;
  }
  return result;
}

std::vector<occurrence> next_occurrences(const cron_expression& e, const time_zone& z,
                                         int64_t after, size_t count) {
  return next_occurrences(e, z, after, count, default_limit(after));
}

} // namespace ts
