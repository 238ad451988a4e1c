#include "cli/commands.hpp"

#include <ostream>

#include "cli/exit_codes.hpp"
#include "cli/views.hpp"
#include "core/text.hpp"

namespace ts::cli {

namespace {

using json = nlohmann::json;

/// Items per page when following a list's cursor (the API takes 1 to 500, default 50): fewer
/// round trips than the default, smaller answers than the bound. Chosen, not measured.
constexpr int page_size = 200;

std::string task_path(int64_t id) {
  return "/v1/tasks/" + std::to_string(id);
}

/// Every page of a list, newest first, following next_cursor to its end.
call_result list_all(session& s, const std::string& path, const std::string& query) {
  json items = json::array();
  std::string cursor;
  for (;;) {
    std::string target = path + "?limit=" + std::to_string(page_size) + query;
    if (!cursor.empty())
      target += "&cursor=" + percent_encode(cursor);
    auto page = call_api(s, http_call::get(target));
    if (!page.ok)
      return page;
    const json& b = page.body;
    if (!b.is_object() || !b.contains("items") || !b["items"].is_array()) {
      s.err << "tsctl: the server's list has no items array\n";
      page.ok = false;
      page.exit_status = exit_refused;
      return page;
    }
    for (auto& item : b["items"])
      items.push_back(item);
    auto next = b.find("next_cursor");
    if (next == b.end() || !next->is_string() || next->get<std::string>().empty())
      break;
    cursor = next->get<std::string>();
  }
  call_result all;
  all.ok = true;
  all.body = std::move(items);
  return all;
}

using view_fn = std::string (*)(const json&, const time_zone&, bool coloured);

/// A call's answer in the form asked for: a refusal's exit status, else the API's JSON or
/// the view of it (exit 0).
int print_answer(session& s, const call_result& r, bool json_out, view_fn view) {
  if (!r.ok)
    return r.exit_status;
  if (json_out)
    print_json(s, r.body);
  else
    s.out << view(r.body, s.zone, s.coloured);
  return exit_ok;
}

int create(const invocation& inv, session& s) {
  auto body = create_body(inv, s.context);
  if (!body) {
    s.err << "tsctl " << verb_name(inv.what) << ": " << body.error() << "\n";
    return exit_usage;
  }
  auto r = call_api(s, http_call::post("/v1/tasks", body->dump()));
  return print_answer(s, r, inv.json, task_summary);
}

int edit(const invocation& inv, session& s) {
  auto patch = edit_patch(inv, s.context);
  if (!patch) {
    s.err << "tsctl edit: " << patch.error() << "\n";
    return exit_usage;
  }
  // If-Match with the version just read: an edit never lands on a task that changed
  // between what the user saw and what they sent (412, and nothing changes).
  auto current = call_api(s, http_call::get(task_path(inv.task)));
  if (!current.ok)
    return current.exit_status;
  const std::string etag = current.answer.header("ETag");
  http_call call;
  call.method = "PATCH";
  call.target = task_path(inv.task);
  call.body = patch->dump();
  call.content_type = "application/merge-patch+json";
  if (!etag.empty())
    call.headers.emplace_back("If-Match", etag);
  auto r = call_api(s, call);
  return print_answer(s, r, inv.json, task_summary);
}

int control(const invocation& inv, session& s) {
  auto r = call_api(s, http_call::post(task_path(inv.task) + "/" + verb_name(inv.what), "{}"));
  return print_answer(s, r, inv.json, task_summary);
}

int show(const invocation& inv, session& s) {
  auto r = call_api(s, http_call::get(task_path(inv.task)));
  return print_answer(s, r, inv.json, task_details);
}

int ls(const invocation& inv, session& s) {
  std::string query;
  if (inv.state)
    query += "&state=" + percent_encode(*inv.state);
  for (auto& [k, v] : inv.fields.labels)
    query += "&label=" + percent_encode(k + ":" + v.value_or(""));
  auto r = list_all(s, "/v1/tasks", query);
  return print_answer(s, r, inv.json, tasks_table);
}

int runs(const invocation& inv, session& s) {
  auto r = list_all(s, task_path(inv.task) + "/runs", "");
  return print_answer(s, r, inv.json, runs_table);
}

int preview(const invocation& inv, session& s) {
  const std::string body = preview_body(inv, s.context).dump();
  auto r = call_api(s, http_call::post("/v1/schedules/preview", body));
  return print_answer(s, r, inv.json, occurrences_table);
}

} // namespace

call_result call_api(session& s, const http_call& call, bool json_answer) {
  call_result r;
  r.answer = s.net.perform(call);
  const http_answer& a = r.answer;
  if (!a.transport_error.empty()) {
    s.err << "tsctl: cannot reach the service: " << a.transport_error << "\n";
    r.exit_status = exit_no_connection;
    return r;
  }
  json body = json_answer || a.status >= 300 ? json::parse(a.body, nullptr, false) : json{};
  if (a.status < 200 || a.status >= 300) {
    // {"error": {"code", "message", "field"}}; anything else is shown as it came.
    const json* e = body.is_object() && body.contains("error") ? &body["error"] : nullptr;
    auto text = [&](const char* key) -> std::string {
      return e && e->is_object() && e->contains(key) && (*e)[key].is_string()
               ? (*e)[key].get<std::string>()
               : "";
    };
    std::string message = e ? text("message") : a.body;
    if (message.empty())
      message = "the server refused";
    const std::string code = text("code");
    s.err << "tsctl: " << message << " (HTTP " << a.status << (code.empty() ? "" : " " + code)
          << ")\n";
    r.exit_status = exit_refused;
    return r;
  }
  if (!json_answer) {
    r.ok = true;
    return r;
  }
  if (body.is_discarded()) {
    s.err << "tsctl: the server's answer is not JSON (HTTP " << a.status << ")\n";
    r.exit_status = exit_refused;
    return r;
  }
  r.ok = true;
  r.body = std::move(body);
  return r;
}

void print_json(session& s, const json& j) {
  s.out << j.dump() << "\n";
}

int run_verb(const invocation& inv, session& s) {
  switch (inv.what) {
    case verb::at:
    case verb::cron:
    case verb::every: return create(inv, s);
    case verb::edit: return edit(inv, s);
    case verb::cancel:
    case verb::trigger:
    case verb::pause:
    case verb::resume: return control(inv, s);
    case verb::show: return show(inv, s);
    case verb::ls: return ls(inv, s);
    case verb::runs: return runs(inv, s);
    case verb::preview: return preview(inv, s);
    case verb::logs: return logs_verb(inv, s);
    case verb::wait: return wait_verb(inv, s);
    case verb::nodes:
      s.err << "tsctl nodes: this service runs every task itself; it has no worker nodes "
               "yet, so there is nothing to list\n";
      return exit_usage;
    case verb::help: break;
  }
  return exit_usage;
}

} // namespace ts::cli
