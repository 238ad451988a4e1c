#include "core/schedule.hpp"

#include <algorithm>
#include <limits>

namespace ts {

namespace {

// The first k * every_s + anchor strictly after `after` (k >= 0), or absent past the
// range of int64 (an anchor near the end of time with a huge period).
std::optional<int64_t> next_interval(const schedule& s, int64_t after) {
  if (after < s.anchor)
    return s.anchor;
  // after >= anchor: k = (after - anchor) / every_s + 1, computed without overflow.
  auto since = static_cast<uint64_t>(after) - static_cast<uint64_t>(s.anchor);
  auto k = since / static_cast<uint64_t>(s.every_s) + 1;
  auto max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (k > (max - static_cast<uint64_t>(std::max<int64_t>(s.anchor, 0)))
            / static_cast<uint64_t>(s.every_s))
    return std::nullopt;
  return s.anchor + static_cast<int64_t>(k * static_cast<uint64_t>(s.every_s));
}

std::optional<occurrence> next_unbounded(const schedule& s, int64_t after) {
  switch (s.what) {
    case schedule::kind::at:
      if (s.at > after)
        return occurrence{s.at, dst_note::none};
      return std::nullopt;
    case schedule::kind::every:
      if (auto t = next_interval(s, after))
        return occurrence{*t, dst_note::none};
      return std::nullopt;
    case schedule::kind::cron:
      if (!s.zone)
        return std::nullopt;
      return next_occurrence(s.cron, *s.zone, after);
  }
  return std::nullopt;
}

} // namespace

int64_t listing_start(const schedule& s, int64_t now) {
  if (s.start_at && *s.start_at > std::numeric_limits<int64_t>::min())
    return *s.start_at - 1;
  return now;
}

std::vector<occurrence> schedule_occurrences(const schedule& s, int64_t after, size_t count,
                                             std::optional<int64_t> remaining_runs) {
  std::vector<occurrence> out;
  if (remaining_runs)
    count = std::min<size_t>(count, static_cast<size_t>(std::max<int64_t>(*remaining_runs, 0)));
  after = std::max(after, listing_start(s, after));
  while (out.size() < count) {
    auto o = next_unbounded(s, after);
    if (!o || (s.end_at && o->utc > *s.end_at))
      break;
    out.push_back(*o);
    after = o->utc;
  }
  return out;
}

std::optional<occurrence> first_occurrence(const schedule& s, int64_t now) {
  // A one-shot time in the past still runs (at once): it is not "never".
  if (s.what == schedule::kind::at) {
    if (s.start_at && s.at < *s.start_at)
      return std::nullopt;
    if (s.end_at && s.at > *s.end_at)
      return std::nullopt;
    if (s.max_runs && *s.max_runs < 1)
      return std::nullopt;
    return occurrence{s.at, dst_note::none};
  }
  // An occurrence at `now` itself counts: an interval's default anchor is the creation time.
  auto after = now > std::numeric_limits<int64_t>::min() ? now - 1 : now;
  auto found = schedule_occurrences(s, after, 1, s.max_runs);
  if (found.empty())
    return std::nullopt;
  return found.front();
}

} // namespace ts
