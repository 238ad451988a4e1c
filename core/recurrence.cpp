#include "core/recurrence.hpp"

#include <algorithm>
#include <deque>
#include <limits>

#include "core/civil.hpp"
#include "core/defaults.hpp"

namespace ts {

namespace {

constexpr millis ms_per_s = 1000;

millis to_ms(int64_t utc) {
  return utc * ms_per_s;
}

// Occurrences are whole seconds: o * 1000 > after_ms exactly when o > floor(after_ms / 1000).
int64_t to_s(millis ms) {
  return civil::floor_div(ms, ms_per_s);
}

std::optional<millis> next_after(const schedule& s, millis after) {
  auto found = schedule_occurrences(s, to_s(after), 1, std::nullopt);
  if (found.empty())
    return std::nullopt;
  return to_ms(found.front().utc);
}

// The due occurrences from `first` (due itself) up to `limit` (inclusive): the newest `keep`
// of them, oldest first, and how many came before those (counted up to max_counted_skips).
struct due_set {
  std::deque<millis> tail;
  int64_t earlier = 0;
};

// Past the count limit the walk jumps ahead: it looks back from `limit` over doubling spans
// until one holds `keep` occurrences, and walks that span only. Bounded either way, so that
// a task down for years with a per-second schedule costs a claim no more than this.
constexpr int64_t max_walk = 100000;

// Walks the occurrences after `from` up to `limit`, at most `max_steps` of them, keeping the
// newest `keep` in d.tail and counting the others; returns the first one not walked.
std::optional<millis> walk(const schedule& s, millis from, millis limit, size_t keep,
                           int64_t max_steps, due_set& d) {
  auto at = next_after(s, from);
  for (int64_t steps = 0; at && *at <= limit && steps < max_steps; ++steps) {
    d.tail.push_back(*at);
    if (d.tail.size() > keep) {
      d.tail.pop_front();
      d.earlier = std::min(d.earlier + 1, defaults::max_counted_skips);
    }
    at = next_after(s, *at);
  }
  return at;
}

due_set collect_due(const schedule& s, millis first, millis limit, size_t keep) {
  due_set d;
  d.tail.push_back(first);
  keep = std::max<size_t>(keep, 1);
  auto count_limit = defaults::max_counted_skips + static_cast<int64_t>(keep);
  auto rest = walk(s, first, limit, keep, count_limit, d);
  if (!rest || *rest > limit)
    return d;
  // More than the count limit: the count stays at its limit, and the newest `keep` come
  // from looking back from `limit`.
  d.earlier = defaults::max_counted_skips;
  auto last_seen = d.tail.back();
  for (millis span = ms_per_s; limit - span > last_seen; span *= 2) {
    auto probe = schedule_occurrences(s, to_s(limit - span), keep, std::nullopt);
    auto in = std::count_if(probe.begin(), probe.end(),
                            [&](const occurrence& o) { return to_ms(o.utc) <= limit; });
    if (static_cast<size_t>(in) >= keep || span > std::numeric_limits<millis>::max() / 4) {
      d.tail.clear();
      walk(s, limit - span, limit, keep, max_walk, d);
      d.earlier = defaults::max_counted_skips;
      return d;
    }
  }
  walk(s, last_seen, limit, keep, max_walk, d);
  d.earlier = defaults::max_counted_skips;
  return d;
}

std::optional<int64_t> minus(std::optional<int64_t> remaining, int64_t ran) {
  if (!remaining)
    return std::nullopt;
  return *remaining - ran;
}

// An occurrence that is not missed: run it, or what the overlap policy says while a run of
// the task is active.
void on_time(const schedule& s, const recurrence_policy& p, const claim_context& c, millis x,
             claim_plan& plan) {
  using action = claim_plan::action;
  auto ran = [&](action a) {
    plan.what = a;
    plan.occurrence = x;
    plan.next = occurrence_after(s, x, minus(c.remaining_runs, 1));
  };
  auto skipped = [&] {
    plan.what = action::none;
    plan.skipped.push_back({skip_reason::overlap, x, 1});
    plan.next = occurrence_after(s, x, c.remaining_runs);
  };
  if (!c.active)
    return ran(action::run);
  switch (p.overlap) {
    case overlap_policy::allow:
      return ran(action::run);
    case overlap_policy::queue:
      return c.queued ? skipped() : ran(action::queue);
    case overlap_policy::replace:
      return c.queued ? skipped() : ran(action::replace);
    case overlap_policy::skip:
      return skipped();
  }
}

void add_skip(claim_plan& plan, skip_reason why, millis first, int64_t count) {
  if (count > 0)
    plan.skipped.push_back({why, first, std::min(count, defaults::max_counted_skips)});
}

} // namespace

parsed<schedule> to_schedule(const schedule_spec& spec, const std::optional<std::string>& zone) {
  schedule s;
  auto secs = [](std::optional<millis> ms) -> std::optional<int64_t> {
    if (!ms)
      return std::nullopt;
    return to_s(*ms);
  };
  s.start_at = secs(spec.start_at);
  s.end_at = secs(spec.end_at);
  s.max_runs = spec.max_runs;
  if (spec.cron) {
    auto e = cron_expression::parse(*spec.cron);
    if (!e)
      return parsed<schedule>::failure("cron: " + e.error());
    s.what = schedule::kind::cron;
    s.cron_text = *spec.cron;
    s.cron = *e;
    if (zone) {
      auto z = find_time_zone(*zone);
      if (!z)
        return parsed<schedule>::failure("time_zone: " + z.error());
      s.zone = *z;
    } else {
      s.zone = local_time_zone();
    }
    return s;
  }
  if (spec.every_s) {
    if (*spec.every_s < 1)
      return parsed<schedule>::failure("every_s must be at least 1");
    s.what = schedule::kind::every;
    s.every_s = *spec.every_s;
    s.anchor = secs(spec.anchor).value_or(0);
    return s;
  }
  return parsed<schedule>::failure("neither cron nor every_s: not a recurring schedule");
}

std::optional<millis> occurrence_after(const schedule& s, millis after,
                                       std::optional<int64_t> remaining_runs) {
  if (remaining_runs && *remaining_runs <= 0)
    return std::nullopt;
  return next_after(s, after);
}

claim_plan plan_claim(const schedule& s, const recurrence_policy& p, const claim_context& c) {
  claim_plan plan;
  auto o = c.occurrence;
  if (c.remaining_runs && *c.remaining_runs <= 0)
    return plan;  // max_runs reached: nothing more, ever
  auto missed_before = c.now - p.misfire_grace_ms;  // missed: o < missed_before
  if (o >= missed_before) {
    on_time(s, p, c, o, plan);
    return plan;
  }
  using action = claim_plan::action;
  switch (p.misfire) {
    case misfire_policy::run_once: {
      // The latest due one stands for all: earlier ones are one record.
      auto d = collect_due(s, o, c.now, 1);
      add_skip(plan, skip_reason::missed, o, d.earlier);
      on_time(s, p, c, d.tail.back(), plan);
      return plan;
    }
    case misfire_policy::run_all: {
      if (c.active && c.queued) {
        // A catch-up run already waits: this one waits its turn (the run's end wakes it).
        plan.next = o;
        return plan;
      }
      auto d = collect_due(s, o, missed_before - 1, static_cast<size_t>(defaults::max_catch_up_runs));
      add_skip(plan, skip_reason::missed, o, d.earlier);
      auto first = d.tail.front();
      plan.what = c.active ? action::queue : action::run;
      plan.occurrence = first;
      plan.next = occurrence_after(s, first, minus(c.remaining_runs, 1));
      return plan;
    }
    case misfire_policy::skip: {
      auto d = collect_due(s, o, missed_before - 1, 1);
      add_skip(plan, skip_reason::missed, o, d.earlier + 1);
      auto after = occurrence_after(s, d.tail.back(), c.remaining_runs);
      plan.next = after;
      if (after && *after <= c.now + defaults::claim_lead_ms)
        on_time(s, p, c, *after, plan);
      return plan;
    }
  }
  return plan;
}

resume_plan plan_resume(const schedule& s, millis occurrence, millis now,
                        std::optional<int64_t> remaining_runs) {
  resume_plan plan;
  if (remaining_runs && *remaining_runs <= 0)
    return plan;
  if (occurrence > now) {
    plan.next = occurrence;
    return plan;
  }
  auto d = collect_due(s, occurrence, now, 1);
  plan.skipped = skipped_span{skip_reason::paused, occurrence,
                              std::min(d.earlier + 1, defaults::max_counted_skips)};
  plan.next = occurrence_after(s, now, remaining_runs);
  return plan;
}

} // namespace ts
