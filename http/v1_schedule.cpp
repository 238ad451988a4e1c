#include "http/v1_schedule.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "core/civil.hpp"
#include "core/recurrence.hpp"
#include "core/time_format.hpp"
#include "http/requests.hpp"
#include "http/v1_controls.hpp"

namespace ts::api {

namespace {

using json = nlohmann::json;

constexpr int64_t ms_per_s = 1000;
/// 9999-12-31T23:59:59Z: the API's times have four-digit years, so nothing fires later.
constexpr int64_t last_second = 253402300799;

int64_t floor_seconds(millis t) {
  return civil::floor_div(t, ms_per_s);
}

int64_t ceil_seconds(millis t) {
  return -floor_seconds(-t);
}

bool given(const json& j, const char* key) {
  auto i = j.find(key);
  return i != j.end() && !i->is_null();
}

caf::expected<millis> read_time(const json& j, const std::string& key, const time_zone& zone) {
  auto field = "schedule." + key;
  const auto& v = j.at(key);
  if (!v.is_string())
    return make_field_error(http_ec::invalid_time, field, key + " must be a time string");
  auto t = parse_time(v.get_ref<const std::string&>(), zone);
  if (!t)
    return make_field_error(http_ec::invalid_time, field, "invalid time: " + t.error());
  return *t;
}

// A positive integer no larger than `max`, or the message's error.
caf::expected<int64_t> read_count(const json& j, const std::string& key, int64_t max,
                                  const std::string& message) {
  const auto& v = j.at(key);
  // Unsigned beyond int64 reads as is_number_unsigned, and then get<int64_t> would wrap.
  if (!v.is_number_integer()
      || (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(max)))
    return field_error("schedule." + key, message);
  auto n = v.get<int64_t>();
  if (n < 1 || n > max)
    return field_error("schedule." + key, message);
  return n;
}

caf::error never_fires(std::string message) {
  return make_field_error(http_ec::schedule_never_fires, "schedule", std::move(message));
}

// Why a valid schedule has no first occurrence: its expression, or its window.
caf::error explain_never(const schedule_request& r, int64_t now_s) {
  auto open = r.value;
  open.start_at.reset();
  open.end_at.reset();
  open.max_runs.reset();
  if (r.value.what == schedule::kind::cron && !first_occurrence(open, now_s))
    return never_fires("the cron expression matches no time that exists (in the next 8 years"
                       " of " + r.zone->name() + ")");
  return never_fires("no occurrence falls between start_at and end_at");
}

} // namespace

caf::expected<schedule_request> parse_schedule(const json& j, millis now,
                                               const v1_limits& limits) {
  schedule_request r;
  r.value.what = schedule::kind::at;
  r.at_ms = now;
  r.value.at = floor_seconds(now);
  if (limits.zone)
    r.zone = zone_ptr{zone_ptr{}, limits.zone}; // not owned: the options outlive requests
  else
    r.zone = local_time_zone();
  if (j.is_null())
    return r;
  if (!j.is_object())
    return field_error("schedule", "schedule must be an object");
  for (auto& [key, value] : j.items())
    if (key != "at" && key != "cron" && key != "every_s" && key != "anchor"
        && key != "time_zone" && key != "start_at" && key != "end_at" && key != "max_runs")
      return unknown("schedule." + key);
  if (given(j, "at") + given(j, "cron") + given(j, "every_s") > 1)
    return field_error("schedule", "a schedule has one of at, cron and every_s");
  if (given(j, "time_zone")) {
    const auto& tz = j.at("time_zone");
    if (!tz.is_string())
      return field_error("schedule.time_zone",
                         "time_zone must be an IANA zone name such as Europe/Berlin");
    auto found = find_time_zone(tz.get_ref<const std::string&>());
    if (!found)
      return make_field_error(http_ec::invalid_time_zone, "schedule.time_zone",
                              found.error());
    r.zone = *found;
    r.time_zone = tz.get<std::string>();
  }
  auto& s = r.value;
  if (given(j, "at")) {
    auto at = read_time(j, "at", *r.zone);
    if (!at)
      return at.error();
    r.at_ms = *at;
    s.at = floor_seconds(*at);
  } else if (given(j, "cron")) {
    const auto& c = j.at("cron");
    if (!c.is_string())
      return make_field_error(http_ec::invalid_cron, "schedule.cron",
                              "cron must be a string such as \"0 30 2 * * *\"");
    auto e = cron_expression::parse(c.get_ref<const std::string&>());
    if (!e)
      return make_field_error(http_ec::invalid_cron, "schedule.cron", e.error());
    s.what = schedule::kind::cron;
    s.cron_text = c.get<std::string>();
    s.cron = std::move(*e);
    s.zone = r.zone;
  } else if (given(j, "every_s")) {
    auto every = read_count(j, "every_s", max_every_s,
                            "every_s must be an integer number of seconds from 1 to "
                              + std::to_string(max_every_s));
    if (!every)
      return every.error();
    s.what = schedule::kind::every;
    s.every_s = *every;
    s.anchor = floor_seconds(now);
  }
  if (given(j, "anchor")) {
    if (s.what != schedule::kind::every)
      return field_error("schedule.anchor", "anchor belongs to an every_s schedule");
    auto anchor = read_time(j, "anchor", *r.zone);
    if (!anchor)
      return anchor.error();
    s.anchor = floor_seconds(*anchor);
  }
  // Occurrences are whole seconds (a one-shot's milliseconds are checked below): the
  // window's edges round inwards, so that "inside" means the same in either unit.
  std::optional<millis> start_ms, end_ms;
  if (given(j, "start_at")) {
    auto t = read_time(j, "start_at", *r.zone);
    if (!t)
      return t.error();
    start_ms = *t;
    s.start_at = ceil_seconds(*t);
  }
  if (given(j, "end_at")) {
    auto t = read_time(j, "end_at", *r.zone);
    if (!t)
      return t.error();
    end_ms = *t;
    s.end_at = floor_seconds(*t);
  }
  if (start_ms && end_ms && *end_ms < *start_ms)
    return field_error("schedule.end_at", "end_at must not be before start_at");
  if (given(j, "max_runs")) {
    auto n = read_count(j, "max_runs", std::numeric_limits<int32_t>::max(),
                        "max_runs must be an integer from 1 to 2147483647");
    if (!n)
      return n.error();
    s.max_runs = *n;
  }
  if (s.what == schedule::kind::at) {
    if ((start_ms && r.at_ms < *start_ms) || (end_ms && r.at_ms > *end_ms))
      return never_fires("at lies outside start_at and end_at");
    return r;
  }
  auto first = first_occurrence(s, floor_seconds(now));
  if (!first || first->utc > last_second)
    return explain_never(r, floor_seconds(now));
  return r;
}

std::vector<listed_occurrence> preview_occurrences(const schedule_request& r, millis now,
                                                   size_t count) {
  const auto& s = r.value;
  if (s.what == schedule::kind::at) {
    if (count == 0)
      return {};
    return {listed_occurrence{r.at_ms, dst_note::none}};
  }
  // An occurrence at `now` itself is listed (an interval's default anchor is the creation
  // time), and a start_at moves the listing to it, in the past too.
  auto now_s = floor_seconds(now);
  auto after = listing_start(s, now_s > std::numeric_limits<int64_t>::min() ? now_s - 1 : now_s);
  std::vector<listed_occurrence> out;
  for (auto& o : schedule_occurrences(s, after, count, s.max_runs))
    if (o.utc <= last_second)
      out.push_back(listed_occurrence{o.utc * ms_per_s, o.note});
  return out;
}

std::vector<listed_occurrence> task_occurrences(const task_info& t, size_t count, millis now) {
  if (count == 0 || t.state != task_state::active)
    return {};
  if (!t.recur.recurring()) {
    // Its scheduled run exists (running, or waiting for a retry): the occurrence is taken.
    if (t.latest_run && t.latest_run->trigger != run_trigger::manual)
      return {};
    return {listed_occurrence{t.due, dst_note::none}};
  }
  auto s = to_schedule(t.recur, t.time_zone);
  if (!s)
    return {};
  std::optional<int64_t> remaining;
  if (s->max_runs) {
    remaining = *s->max_runs - t.scheduled_runs;
    if (*remaining <= 0)
      return {};
  }
  // From the occurrence the task is armed for when it is already due (it waits for a slot),
  // else from now; an occurrence in that very second is listed, as a preview lists it.
  auto from = t.next_run_at ? std::min(*t.next_run_at, now) : now;
  std::vector<listed_occurrence> out;
  for (auto& o : schedule_occurrences(*s, floor_seconds(from) - 1, count, remaining))
    if (o.utc <= last_second)
      out.push_back(listed_occurrence{o.utc * ms_per_s, o.note});
  return out;
}

zone_ptr task_zone(const task_info& t, const time_zone* default_zone) {
  if (t.time_zone)
    if (auto z = find_time_zone(*t.time_zone))
      return *z;
  if (default_zone)
    return zone_ptr{zone_ptr{}, default_zone};
  return local_time_zone();
}

caf::expected<preview_request> parse_preview_request(
  std::string_view body, std::optional<std::string_view> content_type, millis now,
  const v1_limits& limits) {
  if (auto err = check_json_content_type(content_type))
    return err;
  auto j = parse_object(body);
  if (!j)
    return j.error();
  for (auto& [key, value] : j->items())
    if (key != "schedule" && key != "count")
      return unknown(key);
  auto s = j->find("schedule");
  if (s == j->end() || s->is_null())
    return field_error("schedule", "schedule is missing");
  preview_request out;
  out.count = default_preview_count;
  if (auto c = j->find("count"); c != j->end() && !c->is_null()) {
    auto range = "count must be an integer from 1 to " + std::to_string(max_preview_count);
    if (!c->is_number_integer() || (c->is_number_unsigned() && c->get<uint64_t>() > 1000))
      return field_error("count", range);
    auto n = c->get<int64_t>();
    if (n < 1 || n > static_cast<int64_t>(max_preview_count))
      return field_error("count", range);
    out.count = static_cast<size_t>(n);
  }
  auto parsed = parse_schedule(*s, now, limits);
  if (!parsed)
    return parsed.error();
  out.schedule = std::move(*parsed);
  return out;
}

} // namespace ts::api
