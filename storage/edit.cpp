#include "storage/edit.hpp"

#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/recurrence.hpp"
#include "storage/row_mapping.hpp"

namespace ts::storage {

namespace {

// A one-shot task moves to its new time only while that time is still to come for it: its
// run has not been claimed, no retry of it waits and no trigger stands in for it.
caf::expected<edit_writes> edit_one_shot(const recurring_row& r, const task_edit& e) {
  edit_writes w{r.due, r.next_run, r.next_occurrence, r.state, false};
  if (!e.schedule_changed)
    return w;
  if (r.status != to_string(task_status::pending)
      || r.latest_status == to_string(run_status::waiting)
      || r.next_trigger != to_string(run_trigger::schedule))
    return invalid_state(r.task, "the time of a one-shot task can change only before its run");
  w.due = e.task.due;
  if (r.state == to_string(task_state::paused)) {
    w.next_occurrence = e.task.due;  // resume arms it (pause keeps a one-shot's time there)
  } else {
    w.next_run = e.task.due;
  }
  return w;
}

caf::expected<edit_writes> edit_recurring(const recurring_row& r, const task_edit& e,
                                          millis now, const char* backend) {
  edit_writes w{r.due, r.next_run, r.next_occurrence, r.state, false};
  if (!e.schedule_changed)
    return w;
  auto s = to_schedule(e.task.recur, e.task.time_zone);
  if (!s)
    return make_error(ec::invalid_argument, std::string(backend) + ": task "
                                              + std::to_string(r.task)
                                              + ": the new schedule does not read: " + s.error());
  std::optional<int64_t> remaining;
  if (e.task.recur.max_runs)
    remaining = std::max<int64_t>(0, *e.task.recur.max_runs - r.scheduled_runs);
  w.next_occurrence = occurrence_after(*s, now - 1, remaining);
  if (w.next_occurrence)
    w.due = *w.next_occurrence;
  bool active = run_active(r.latest_status);
  bool waiting = r.latest_status == to_string(run_status::waiting);
  if (r.state == to_string(task_state::paused))
    return w;  // resume arms the next occurrence
  // A pending trigger runs as asked, and a queued occurrence is woken by the run it waits
  // for (or is about to be claimed): their wake-up stays. Otherwise the task wakes for the
  // new next occurrence, or for its waiting retry when that comes first.
  if (r.next_trigger != to_string(run_trigger::manual) && !r.queued)
    w.next_run = earliest(w.next_occurrence, waiting ? r.latest_next_attempt : std::nullopt);
  bool anything = w.next_run || w.next_occurrence || active || r.queued;
  w.state = to_string(anything ? task_state::active : task_state::completed);
  w.pending = w.next_run && r.status != to_string(task_status::running);
  return w;
}

} // namespace

caf::expected<edit_writes> decide_edit(const recurring_row& r, const task_edit& e, millis now,
                                       const char* backend) {
  if (r.version != e.expected_version)
    return make_error(ec::version_mismatch, "task " + std::to_string(r.task) + " is at version "
                                              + std::to_string(r.version) + ", not "
                                              + std::to_string(e.expected_version));
  if (r.state == to_string(task_state::cancelled))
    return invalid_state(r.task, "a cancelled task cannot be edited");
  if (r.recur.recurring() != e.task.recur.recurring())
    return invalid_state(r.task, "a task cannot change between one-shot and recurring");
  if (!e.task.recur.recurring())
    return edit_one_shot(r, e);
  return edit_recurring(r, e, now, backend);
}

caf::error apply_copies(const recurring_row& r, const claim_writes* w, claim& out,
                        const char* backend) {
  bool retry = w ? w->what == claim_writes::start::retry
                 : r.latest_status == to_string(run_status::waiting);
  if (retry && r.latest_settings)
    return apply_settings(*r.latest_settings, out, r.task, backend);
  if (w && w->from_queue && r.queued_settings)
    return apply_settings(*r.queued_settings, out, r.task, backend);
  return caf::none;
}

caf::expected<std::string> settings_of(const claim& c) {
  auto cols = columns_of(c.controls);
  if (!cols)
    return cols.error();
  nlohmann::json j;
  j["command"] = c.command;
  j["output_limit_bytes"] = c.output_limit_bytes;
  if (c.controls.timeout_ms)
    j["timeout_ms"] = *c.controls.timeout_ms;
  j["kill_grace_ms"] = c.controls.kill_grace_ms;
  auto& p = c.controls.retry;
  j["retry"] = {{"max_attempts", p.max_attempts}, {"delay_ms", p.delay_ms},
                {"multiplier", p.multiplier},     {"max_delay_ms", p.max_delay_ms},
                {"jitter", to_string(p.jitter)},  {"on_interrupted", p.on_interrupted}};
  j["env"] = nlohmann::json::parse(cols->env);
  if (c.controls.cwd)
    j["cwd"] = *c.controls.cwd;
  if (c.controls.run_as)
    j["run_as"] = *c.controls.run_as;
  try {
    return j.dump();
  } catch (const nlohmann::json::exception&) {
    return make_error(ec::invalid_argument, "the command is not valid UTF-8");
  }
}

caf::error apply_settings(std::string_view json, claim& c, task_id task, const char* backend) {
  auto bad = [&] {
    return make_error(ec::storage_failure, std::string(backend) + ": the settings copied for a"
                                             " run of task " + std::to_string(task)
                                             + " do not read back");
  };
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (!j.is_object())
    return bad();
  try {
    claim out = c;
    out.command = j.at("command").get<std::string>();
    out.output_limit_bytes = j.at("output_limit_bytes").get<int64_t>();
    auto& k = out.controls;
    k = task_controls{};
    if (j.contains("timeout_ms"))
      k.timeout_ms = j.at("timeout_ms").get<int64_t>();
    k.kill_grace_ms = j.at("kill_grace_ms").get<int64_t>();
    auto& r = j.at("retry");
    k.retry.max_attempts = r.at("max_attempts").get<int32_t>();
    k.retry.delay_ms = r.at("delay_ms").get<int64_t>();
    k.retry.multiplier = r.at("multiplier").get<double>();
    k.retry.max_delay_ms = r.at("max_delay_ms").get<int64_t>();
    auto jitter = parse_retry_jitter(r.at("jitter").get<std::string>());
    if (!jitter)
      return bad();
    k.retry.jitter = *jitter;
    k.retry.on_interrupted = r.at("on_interrupted").get<bool>();
    for (auto& v : j.at("env"))
      k.env.push_back(label{v.at(0).get<std::string>(), v.at(1).get<std::string>()});
    if (j.contains("cwd"))
      k.cwd = j.at("cwd").get<std::string>();
    if (j.contains("run_as"))
      k.run_as = j.at("run_as").get<std::string>();
    c = std::move(out);
  } catch (const nlohmann::json::exception&) {
    return bad();
  }
  return caf::none;
}

} // namespace ts::storage
