#include "cli/task_body.hpp"

#include <filesystem>

#include "cli/when.hpp"
#include "core/text.hpp"

namespace ts::cli {

namespace {

using json = nlohmann::json;

std::string absolute_dir(const std::string& dir, const std::string& base) {
  std::filesystem::path p{dir};
  if (p.is_relative())
    p = std::filesystem::path{base} / p;
  auto text = p.lexically_normal().string();
  // "/tmp/x/." normalizes to "/tmp/x/": the service takes either, people read the first.
  if (text.size() > 1 && text.back() == '/')
    text.pop_back();
  return text;
}

/// The fields every create and edit share; `patch` writes removals as null.
void add_fields(json& body, const task_fields& f, const client_context& ctx, bool patch) {
  if (f.cwd)
    body["cwd"] = absolute_dir(*f.cwd, ctx.cwd);
  for (auto& [k, v] : f.env)
    body["env"][k] = v;
  if (f.timeout_s)
    body["timeout_s"] = *f.timeout_s;
  if (f.retries)
    body["retry"]["max_attempts"] = *f.retries + 1;
  if (f.name)
    body["name"] = *f.name;
  for (auto& [k, v] : f.labels) {
    if (v)
      body["labels"][k] = *v;
    else if (patch)
      body["labels"][k] = nullptr;
  }
}

/// A one-shot schedule at the typed time; "now" leaves `at` out, which the API reads as now.
parsed<json> at_schedule(const std::string& text, const client_context& ctx) {
  auto when = parse_at(text, ctx.now, *ctx.zone);
  if (!when)
    return parsed<json>::failure(when.error());
  json s = json::object();
  if (*when)
    s["at"] = rfc3339_in_zone(**when, *ctx.zone);
  return s;
}

json cron_schedule(const std::string& expr, const client_context& ctx) {
  json s{{"cron", expr}};
  if (ctx.zone_name)
    s["time_zone"] = *ctx.zone_name;
  return s;
}

} // namespace

std::string command_line(const std::vector<std::string>& words) {
  std::string out;
  for (auto& w : words) {
    if (!out.empty())
      out += ' ';
    out += shell_quote(w);
  }
  return out;
}

parsed<json> create_body(const invocation& inv, const client_context& ctx) {
  json body{{"command", command_line(inv.command)}};
  switch (inv.what) {
    case verb::at: {
      auto s = at_schedule(inv.when, ctx);
      if (!s)
        return s;
      json schedule = *s;
      if (inv.tz)
        schedule["time_zone"] = *inv.tz;
      if (!schedule.empty())
        body["schedule"] = schedule;
      break;
    }
    case verb::cron: body["schedule"] = cron_schedule(inv.when, ctx); break;
    case verb::every: body["schedule"] = {{"every_s", inv.every_s}}; break;
    default: return parsed<json>::failure("not a verb that creates a task");
  }
  add_fields(body, inv.fields, ctx, false);
  return body;
}

parsed<json> edit_patch(const invocation& inv, const client_context& ctx) {
  json patch = json::object();
  if (inv.edit_command)
    patch["command"] = *inv.edit_command;
  json schedule;
  if (inv.edit_cron) {
    schedule = cron_schedule(*inv.edit_cron, ctx);
    schedule["every_s"] = nullptr;
    schedule["anchor"] = nullptr;
  } else if (inv.edit_every_s) {
    schedule = {{"every_s", *inv.edit_every_s}, {"cron", nullptr}, {"time_zone", nullptr}};
  } else if (inv.edit_at) {
    auto s = at_schedule(*inv.edit_at, ctx);
    if (!s)
      return s;
    schedule = *s;
    // "now" in an edit: a time is needed, or the stored one would stay.
    if (!schedule.contains("at"))
      schedule["at"] = rfc3339_in_zone(ctx.now, *ctx.zone);
    if (inv.tz)
      schedule["time_zone"] = *inv.tz;
  }
  if (!schedule.is_null())
    patch["schedule"] = schedule;
  add_fields(patch, inv.fields, ctx, true);
  return patch;
}

json preview_body(const invocation& inv, const client_context& ctx) {
  return {{"schedule", cron_schedule(inv.when, ctx)}, {"count", inv.count}};
}

} // namespace ts::cli
