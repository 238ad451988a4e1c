// The v1 renderers (declared in responses.hpp): tasks, runs, pages and output. Every key is
// always present (null when absent), so that clients and the OpenAPI schemas can rely on it.
#include <string>

#include "core/civil.hpp"
#include "core/time_format.hpp"
#include "http/cursor.hpp"
#include "http/json_body.hpp"
#include "http/responses.hpp"

namespace ts::api {

namespace {

template <class T>
ordered_json or_null(const std::optional<T>& v) {
  return v ? ordered_json(*v) : ordered_json();
}

ordered_json time_or_null(const std::optional<millis>& t) {
  return t ? ordered_json(format_time(*t)) : ordered_json();
}

ordered_json run_json(const run_info& r) {
  ordered_json j;
  j["id"] = r.id;
  j["task_id"] = r.task;
  j["attempt"] = r.attempt;
  j["trigger"] = to_string(r.trigger);
  j["status"] = to_string(r.status);
  j["reason"] = r.reason == run_reason::none ? ordered_json() : ordered_json(to_string(r.reason));
  j["scheduled_for"] = format_time(r.scheduled_for);
  j["started_at"] = time_or_null(r.started_at);
  j["finished_at"] = time_or_null(r.finished_at);
  j["exit_code"] = or_null(r.exit_code);
  j["signal"] = r.signal ? ordered_json(signal_name(*r.signal)) : ordered_json();
  j["message"] = or_null(r.message);
  j["output"] = r.output;
  j["output_truncated"] = r.output_truncated;
  j["output_bytes"] = r.output_size;
  j["lateness_ms"] = or_null(r.lateness_ms);
  j["stop_requested"] = r.stop_requested;
  j["next_attempt_at"] = time_or_null(r.next_attempt_at);
  // A skipped run: why, and how many occurrences it stands for.
  j["skip_reason"] = r.skip ? ordered_json(to_string(*r.skip)) : ordered_json();
  j["missed_count"] = or_null(r.missed_count);
  return j;
}

double seconds(int64_t ms) {
  return static_cast<double>(ms) / 1000.0;
}

void add_controls(ordered_json& j, const task_controls& c) {
  j["timeout_s"] = c.timeout_ms ? ordered_json(seconds(*c.timeout_ms)) : ordered_json();
  j["kill_grace_s"] = seconds(c.kill_grace_ms);
  auto& r = j["retry"];
  r["max_attempts"] = c.retry.max_attempts;
  r["delay_s"] = seconds(c.retry.delay_ms);
  r["multiplier"] = c.retry.multiplier;
  r["max_delay_s"] = seconds(c.retry.max_delay_ms);
  r["jitter"] = to_string(c.retry.jitter);
  r["on_interrupted"] = c.retry.on_interrupted;
  j["env"] = ordered_json::object();
  for (auto& v : c.env)
    j["env"][v.key] = v.value;
  j["cwd"] = or_null(c.cwd);
  j["run_as"] = or_null(c.run_as);
}

// As a request would give it, every key present: the one form in use and its window (a
// one-shot time keeps no window: it was checked to lie inside).
ordered_json schedule_json(const task_info& t) {
  const auto& r = t.recur;
  ordered_json j;
  j["at"] = r.recurring() ? ordered_json() : ordered_json(format_time(t.due));
  j["cron"] = or_null(r.cron);
  j["every_s"] = or_null(r.every_s);
  j["anchor"] = time_or_null(r.anchor);
  j["time_zone"] = or_null(t.time_zone);
  j["start_at"] = time_or_null(r.start_at);
  j["end_at"] = time_or_null(r.end_at);
  j["max_runs"] = or_null(r.max_runs);
  return j;
}

void add_policy(ordered_json& j, const recurrence_policy& p) {
  auto& m = j["misfire"];
  m["policy"] = to_string(p.misfire);
  // Whole seconds as the API takes them (rounded up: a grace is never shown as 0).
  m["grace_s"] = -civil::floor_div(-p.misfire_grace_ms, 1000);
  j["overlap"] = to_string(p.overlap);
  j["history_keep"] = p.history_keep;
}

template <class Page, class Render>
http_response page(const Page& p, cursor_list list, const std::string& filter_key,
                   Render render) {
  ordered_json j;
  j["items"] = ordered_json::array();
  for (auto& item : p.items)
    j["items"].push_back(render(item));
  j["next_cursor"] = p.next ? ordered_json(encode_cursor(list, filter_key, *p.next))
                            : ordered_json();
  return json_response(200, j);
}

void mark_replay(http_response& res, bool replayed) {
  if (replayed)
    res.headers.emplace_back("Idempotent-Replayed", "true");
}

} // namespace

ordered_json task_json(const task_info& t) {
  ordered_json j;
  j["id"] = t.id;
  j["command"] = t.command;
  j["name"] = or_null(t.name);
  j["labels"] = ordered_json::object();
  for (auto& l : t.labels)
    j["labels"][l.key] = l.value;
  j["schedule"] = schedule_json(t);
  j["output_limit_bytes"] = t.output_limit_bytes;
  add_controls(j, t.controls);
  add_policy(j, t.policy);
  j["state"] = to_string(t.state);
  j["paused_at"] = time_or_null(t.paused_at);
  j["scheduled_runs"] = t.scheduled_runs;
  j["version"] = t.version;
  j["next_run_at"] = time_or_null(t.next_run_at);
  j["created_at"] = format_time(t.created_at);
  j["updated_at"] = format_time(t.updated_at);
  j["latest_run"] = t.latest_run ? run_json(*t.latest_run) : ordered_json();
  return j;
}

http_response task_created(const task_info& task, bool replayed) {
  auto res = json_response(201, task_json(task));
  res.headers.emplace_back("Location", "/v1/tasks/" + std::to_string(task.id));
  mark_replay(res, replayed);
  return res;
}

http_response task_resource(const task_info& task, bool replayed) {
  auto res = json_response(200, task_json(task));
  mark_replay(res, replayed);
  return res;
}

http_response task_with_etag(const task_info& task) {
  auto res = task_resource(task);
  res.headers.emplace_back("ETag", task_etag(task.version));
  return res;
}

std::string task_etag(int64_t version) {
  return '"' + std::to_string(version) + '"';
}

http_response task_list(const task_page& p, const std::string& filter_key) {
  return page(p, cursor_list::tasks, filter_key, task_json);
}

http_response run_list(const run_page& p, const std::string& filter_key) {
  return page(p, cursor_list::runs, filter_key, run_json);
}

http_response run_resource(const run_info& run) {
  return json_response(200, run_json(run));
}

http_response output_text(const output_slice& slice) {
  http_response res;
  res.status = 200;
  res.body = slice.data;
  res.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  res.headers.emplace_back("X-Output-Complete", slice.complete ? "true" : "false");
  res.headers.emplace_back("X-Output-Offset", std::to_string(slice.offset));
  res.headers.emplace_back("X-Output-Next-Offset", std::to_string(slice.next_offset));
  // A follower polls: every read must reach the server.
  res.headers.emplace_back("Cache-Control", "no-store");
  return res;
}

http_response occurrence_list(const std::vector<listed_occurrence>& list,
                               const time_zone& zone) {
  ordered_json j;
  j["occurrences"] = ordered_json::array();
  for (auto& o : list) {
    ordered_json item;
    item["utc"] = format_time(o.utc);
    // The offset in force at that instant: the floor to seconds is the instant's own second.
    item["local"] = format_local_time(o.utc, zone.at(civil::floor_div(o.utc, 1000)).utc_offset);
    switch (o.note) {
      case dst_note::none: item["dst"] = nullptr; break;
      case dst_note::shifted_from_gap: item["dst"] = "shifted_from_gap"; break;
      case dst_note::first_of_fold: item["dst"] = "first_of_fold"; break;
    }
    j["occurrences"].push_back(std::move(item));
  }
  return json_response(200, j);
}

http_response openapi_document(std::string_view json) {
  http_response res;
  res.status = 200;
  res.body = std::string{json};
  res.headers.emplace_back("Content-Type", "application/json");
  return res;
}

} // namespace ts::api
