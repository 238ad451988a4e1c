#include "cli/views.hpp"

#include <cstdio>
#include <vector>

#include "cli/table.hpp"
#include "cli/when.hpp"
#include "core/time_format.hpp"

namespace ts::cli {

namespace {

using json = nlohmann::json;

const std::string* text_of(const json& j, const char* key) {
  if (!j.is_object())
    return nullptr;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
}

std::string text_or_dash(const json& j, const char* key) {
  const std::string* s = text_of(j, key);
  return s ? *s : "-";
}

std::string number_or_dash(const json& j, const char* key) {
  if (!j.is_object())
    return "-";
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->dump() : "-";
}

std::string time_of(const json& j, const char* key, const time_zone& zone) {
  return human_time_text(text_of(j, key), zone);
}

/// Seconds between two service times as "1.2s", "3m4s"; "-" when either is missing.
std::string took(const json& run, const time_zone& zone) {
  const std::string* a = text_of(run, "started_at");
  const std::string* b = text_of(run, "finished_at");
  if (!a || !b)
    return "-";
  auto from = parse_time(*a, zone);
  auto to = parse_time(*b, zone);
  if (!from || !to || *to < *from)
    return "-";
  const long long ms = *to - *from;
  if (ms < 60000) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1fs", static_cast<double>(ms) / 1000);
    return buf;
  }
  return format_seconds(ms / 1000);
}

} // namespace

std::string schedule_text(const json& s, const time_zone& zone) {
  if (!s.is_object())
    return "-";
  std::string zone_part = text_of(s, "time_zone") ? " " + *text_of(s, "time_zone") : "";
  if (const std::string* cron = text_of(s, "cron"))
    return "cron " + *cron + zone_part;
  auto every = s.find("every_s");
  if (every != s.end() && every->is_number_integer())
    return "every " + format_seconds(every->get<int64_t>());
  if (text_of(s, "at"))
    return "at " + time_of(s, "at", zone);
  return "-";
}

std::string run_outcome(const json& run) {
  if (!run.is_object())
    return "-";
  const std::string status = text_or_dash(run, "status");
  if (const std::string* sig = text_of(run, "signal"))
    return *sig;
  auto code = run.find("exit_code");
  if (status == "failure" && code != run.end() && code->is_number_integer())
    return "exit " + code->dump();
  if (const std::string* reason = text_of(run, "reason"))
    return status + " (" + *reason + ")";
  return status;
}

std::string tasks_table(const json& tasks, const time_zone& zone, bool coloured) {
  std::vector<row> rows;
  for (auto& t : tasks) {
    const std::string state = text_or_dash(t, "state");
    const json& latest = t.is_object() && t.contains("latest_run") ? t["latest_run"] : json{};
    const std::string last = latest.is_object() ? run_outcome(latest) : "-";
    rows.push_back({number_or_dash(t, "id"),
                    {state, status_colour(state)},
                    schedule_text(t.value("schedule", json{}), zone),
                    time_of(t, "next_run_at", zone),
                    {last, latest.is_object() ? status_colour(text_or_dash(latest, "status"))
                                              : colour::none},
                    text_or_dash(t, "name"),
                    text_or_dash(t, "command")});
  }
  return render_table({"ID", "STATE", "SCHEDULE", "NEXT RUN", "LAST", "NAME", "COMMAND"}, rows,
                      coloured);
}

std::string runs_table(const json& runs, const time_zone& zone, bool coloured) {
  std::vector<row> rows;
  for (auto& r : runs) {
    const std::string status = text_or_dash(r, "status");
    rows.push_back({number_or_dash(r, "id"), number_or_dash(r, "attempt"),
                    text_or_dash(r, "trigger"), {status, status_colour(status)},
                    {run_outcome(r), status_colour(status)}, time_of(r, "scheduled_for", zone),
                    time_of(r, "started_at", zone), took(r, zone)});
  }
  return render_table(
    {"RUN", "ATTEMPT", "TRIGGER", "STATUS", "OUTCOME", "SCHEDULED", "STARTED", "TOOK"}, rows,
    coloured);
}

std::string task_details(const json& t, const time_zone& zone, bool coloured) {
  std::vector<row> rows;
  auto line = [&](const char* key, cell value) {
    rows.push_back({std::string{key} + ":", std::move(value)});
  };
  const std::string state = text_or_dash(t, "state");
  line("id", number_or_dash(t, "id"));
  line("name", text_or_dash(t, "name"));
  line("command", text_or_dash(t, "command"));
  line("state", {state, status_colour(state)});
  line("schedule", schedule_text(t.value("schedule", json{}), zone));
  line("next run", time_of(t, "next_run_at", zone));
  if (t.contains("labels") && t["labels"].is_object() && !t["labels"].empty()) {
    std::string labels;
    for (auto& [k, v] : t["labels"].items())
      labels += (labels.empty() ? "" : ", ") + k + "="
                + (v.is_string() ? v.get<std::string>() : v.dump());
    line("labels", labels);
  }
  if (const std::string* cwd = text_of(t, "cwd"))
    line("cwd", *cwd);
  if (t.contains("timeout_s") && t["timeout_s"].is_number())
    line("timeout", t["timeout_s"].dump() + "s");
  line("version", number_or_dash(t, "version"));
  line("created", time_of(t, "created_at", zone));
  line("updated", time_of(t, "updated_at", zone));
  const json& run = t.contains("latest_run") ? t["latest_run"] : json{};
  if (run.is_object()) {
    const std::string status = text_or_dash(run, "status");
    line("latest run", {number_or_dash(run, "id") + " " + run_outcome(run), status_colour(status)});
    line("  started", time_of(run, "started_at", zone));
    line("  finished", time_of(run, "finished_at", zone));
  } else {
    line("latest run", "-");
  }
  // Two columns, no header: the table's alignment without its title line.
  std::string text = render_table({"", ""}, rows, coloured);
  return text.substr(text.find('\n') + 1);
}

std::string occurrences_table(const json& answer, const time_zone& zone, bool coloured) {
  std::vector<row> rows;
  if (answer.is_object() && answer.contains("occurrences") && answer["occurrences"].is_array()) {
    for (auto& o : answer["occurrences"]) {
      const std::string* dst = text_of(o, "dst");
      std::string local = text_or_dash(o, "local");
      rows.push_back({local, time_of(o, "utc", zone),
                      {dst ? *dst : "", dst ? colour::yellow : colour::none}});
    }
  }
  return render_table({"LOCAL (SCHEDULE'S ZONE)", "YOURS", "DST"}, rows, coloured);
}

std::string task_summary(const json& t, const time_zone& zone, bool coloured) {
  const std::string state = text_or_dash(t, "state");
  std::string out = "task " + number_or_dash(t, "id") + ": "
                    + paint(state, status_colour(state), coloured);
  if (text_of(t, "next_run_at"))
    out += ", next run " + time_of(t, "next_run_at", zone);
  return out + "\n";
}

} // namespace ts::cli
