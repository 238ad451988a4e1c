// libFuzzer target for the HTTP API without a socket (scripts/fuzz api): routing, validation
// and rendering, as the server runs them, with no actor and no RESTinio.
//
// Input: the bytes of one HTTP/1.1 request as a client sends them:
//
//   METHOD TARGET HTTP/1.1\r\n
//   Name: value\r\n            (any headers; Content-Type, Authorization, Idempotency-Key
//   ...                         and If-Match are the ones the API reads)
//   \r\n
//   BODY                       (every byte after the head; Content-Length is not needed)
//
// The head goes through the guarded socket's own framing (api::message_scanner) and view
// (head_view), then the judge (judge_head) and route(), as in http/server.cpp. One header
// is the harness's, not the API's: `Fuzz-Config:` with any of the letters t (the service
// has the token "fuzz-token"), s (it is stopping), m (metrics on), z (--default-time-zone
// America/New_York), r (--allowed-run-as nobody). LF alone ends lines as well as CRLF.
//
// Where route() asks the actors, the answer the gateway would render is rendered from what
// the request carried (a created task is shown as stored, a listed or read one from a
// fixed task), since the gateway itself needs an actor.
//
// Invariants: route() and the renderers never throw; every answer has a status the API
// uses for bad input (2xx, 4xx; 503 only while stopping), a known reason phrase, a
// Content-Type, header values without CR, LF or NUL, and a JSON body wherever the type says
// JSON (an error body with error.code and error.message); when judge_head refuses a head,
// route() gives the same status for the whole request; a created task reads back through
// PATCH's merge (an empty patch, and its own schedule) as the same task.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/text.hpp"
#include "core/time_zone.hpp"
#include "http/message_scanner.hpp"
#include "http/responses.hpp"
#include "http/routes.hpp"
#include "http/v1_edit.hpp"
#include "http/v1_schedule.hpp"

namespace {

using namespace ts;

/// 2024-06-01T12:00:00Z: every request arrives then.
constexpr millis now = 1717243200000;

void check(bool ok) {
  if (!ok)
    std::abort();
}

struct config {
  bool token = false;
  bool stopping = false;
  bool metrics = false;
  bool zone = false;
  bool run_as = false;
};

void check_response(const http_response& res, const config& cfg) {
  bool client_error = res.status >= 400 && res.status < 500;
  check(res.status == 200 || res.status == 201 || client_error
        || (res.status == 503 && cfg.stopping));
  check(std::string_view{api::reason_phrase(res.status)} != "Unknown");
  for (auto& [name, value] : res.headers) {
    check(!name.empty() && name.find_first_of("\r\n\0: ", 0, 5) == std::string::npos);
    check(value.find_first_of(std::string_view{"\r\n\0", 3}) == std::string::npos);
  }
  auto type = res.header("Content-Type");
  check(type != nullptr);
  if (type->rfind("application/json", 0) == 0) {
    auto j = nlohmann::json::parse(res.body, nullptr, false);
    check(!j.is_discarded());
    if (res.status >= 400) {
      check(j.is_object() && j.contains("error") && j["error"].is_object());
      check(j["error"].contains("code") && j["error"]["code"].is_string());
      check(j["error"].contains("message") && j["error"]["message"].is_string());
    }
  }
}

/// The task as a store keeps it right after the create.
task_info stored(const new_task& t, task_id id) {
  task_info i;
  i.id = id;
  i.command = t.command;
  i.name = t.name;
  i.labels = t.labels;
  std::stable_sort(i.labels.begin(), i.labels.end(),
                   [](const label& a, const label& b) { return a.key < b.key; });
  i.due = t.due;
  i.time_zone = t.time_zone;
  i.output_limit_bytes = t.output_limit_bytes;
  i.next_run_at = t.due;
  i.created_at = i.updated_at = t.created_at;
  i.controls = t.controls;
  i.recur = t.recur;
  i.policy = t.policy;
  return i;
}

/// What the renderers are shown when a request names an existing task or run.
task_info fixed_task(task_id id) {
  task_info t;
  t.id = id;
  t.command = "echo hi";
  t.name = std::string{"fixed"};
  t.labels = {{"team", "ops"}};
  t.due = now + 60000;
  t.next_run_at = t.due;
  t.created_at = t.updated_at = now - 1000;
  t.version = 3;
  return t;
}

run_info fixed_run(run_id id, task_id task) {
  run_info r;
  r.id = id;
  r.task = task;
  r.scheduled_for = now - 500;
  r.status = run_status::success;
  r.started_at = now - 500;
  r.finished_at = now - 400;
  r.exit_code = 0;
  r.output = "hi\n";
  r.output_size = 3;
  return r;
}

bool same_create_fields(const new_task& a, const new_task& b) {
  // Compared as the API shows them, which is what a client would see change.
  auto show = [](const new_task& t) { return api::task_json(stored(t, 1)); };
  return show(a) == show(b);
}

/// PATCH's merge reads a stored task back through the create's own reader: a task the
/// create accepted must read back unchanged, with its schedule as shown.
void check_edit_round_trip(const task_info& info, const api::v1_limits& limits) {
  api::edit_request keep;
  keep.patch = nlohmann::json::object();
  auto kept = api::make_edit(info, keep, now, limits);
  check(static_cast<bool>(kept));
  api::edit_request again;
  again.patch = nlohmann::json::object();
  again.patch["schedule"] = api::create_document(info)["schedule"];
  auto redone = api::make_edit(info, again, now, limits);
  check(static_cast<bool>(redone));
  check(same_create_fields(redone->task, kept->task));
}

void render(const api::v1_action& a, const config& cfg, const api::v1_limits& limits,
            const time_zone* zone) {
  auto show = [&](const http_response& r) { check_response(r, cfg); };
  if (auto c = std::get_if<api::create_task_action>(&a)) {
    auto info = stored(c->task, 7);
    show(api::task_created(info, false));
    show(api::task_with_etag(info));
    show(api::occurrence_list(api::task_occurrences(info, 10, now),
                              *api::task_zone(info, zone)));
    check_edit_round_trip(info, limits);
  } else if (auto g = std::get_if<api::get_task_action>(&a)) {
    show(api::task_with_etag(fixed_task(g->id)));
  } else if (auto e = std::get_if<api::edit_task_action>(&a)) {
    auto edit = api::make_edit(fixed_task(e->id), e->request, e->now, e->limits);
    if (edit)
      show(api::task_with_etag(stored(edit->task, e->id)));
    else
      show(api::error_response(edit.error()));
  } else if (auto l = std::get_if<api::list_tasks_action>(&a)) {
    task_page page;
    page.items.push_back(fixed_task(2));
    page.next = 2;
    show(api::task_list(page, l->list.filter_key));
  } else if (auto k = std::get_if<api::cancel_task_action>(&a)) {
    show(api::task_resource(fixed_task(k->id), k->key.idempotency_key.has_value()));
  } else if (auto t = std::get_if<api::trigger_task_action>(&a)) {
    show(api::task_resource(fixed_task(t->id), t->key.idempotency_key.has_value()));
  } else if (auto p = std::get_if<api::pause_task_action>(&a)) {
    show(api::task_resource(fixed_task(p->id), p->key.idempotency_key.has_value()));
  } else if (auto r = std::get_if<api::resume_task_action>(&a)) {
    show(api::task_resource(fixed_task(r->id), r->key.idempotency_key.has_value()));
  } else if (auto lr = std::get_if<api::list_runs_action>(&a)) {
    run_page page;
    page.items.push_back(fixed_run(11, lr->list.filter.task.value_or(1)));
    page.next = 11;
    show(api::run_list(page, lr->list.filter_key));
  } else if (auto gr = std::get_if<api::get_run_action>(&a)) {
    show(api::run_resource(fixed_run(gr->id, 1)));
  } else if (auto o = std::get_if<api::read_output_action>(&a)) {
    check(o->offset >= 0);
    output_slice s;
    s.run = o->id;
    s.offset = o->offset;
    s.next_offset = o->offset;
    s.complete = true;
    show(api::output_text(s));
  } else if (auto occ = std::get_if<api::task_occurrences_action>(&a)) {
    check(occ->count >= 1 && occ->count <= 100);
    auto info = fixed_task(occ->id);
    show(api::occurrence_list(api::task_occurrences(info, occ->count, occ->now),
                              *api::task_zone(info, occ->zone)));
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input{reinterpret_cast<const char*>(data), size};
  api::message_scanner scanner;
  auto step = scanner.feed(input);
  if (step.event != api::scan_event::head)
    return 0;
  const auto& head = scanner.head();
  // The server refuses a request line without a version before it judges (server.cpp).
  if (head.version.rfind("HTTP/1.", 0) != 0)
    return 0;
  config cfg;
  if (auto flags = head.field("Fuzz-Config")) {
    cfg.token = flags->find('t') != std::string_view::npos;
    cfg.stopping = flags->find('s') != std::string_view::npos;
    cfg.metrics = flags->find('m') != std::string_view::npos;
    cfg.zone = flags->find('z') != std::string_view::npos;
    cfg.run_as = flags->find('r') != std::string_view::npos;
  }
  static const zone_ptr new_york = *find_time_zone("America/New_York");
  static const std::vector<std::string> allowed{"nobody"};
  const time_zone* zone = cfg.zone ? new_york.get() : utc_time_zone().get();
  std::string_view token = cfg.token ? "fuzz-token" : "";

  auto req = api::head_view(head);
  req.body = input.substr(step.used);
  req.idempotency_key = head.field("Idempotency-Key");
  req.if_match = head.field("If-Match");

  auto judged = api::judge_head(req, req.body.size(), token, cfg.stopping, cfg.metrics);
  if (judged)
    check_response(*judged, cfg);
  api::v1_limits limits{defaults::max_output_bytes, nullptr, cfg.run_as ? &allowed : nullptr};
  auto act = api::route(req, token, cfg.stopping, now, cfg.metrics, zone, limits);
  limits.zone = zone;
  if (auto res = std::get_if<http_response>(&act)) {
    check_response(*res, cfg);
    // The judge and the route share their checks: a head the judge refused is refused
    // with the same status whatever its body says.
    if (judged)
      check(res->status == judged->status);
    return 0;
  }
  // The judge let through everything that reaches the actors, and nothing does while
  // stopping.
  check(!judged);
  check(!cfg.stopping);
  if (auto s = std::get_if<api::schedule_action>(&act)) {
    task_record rec;
    rec.id = 5;
    rec.command = s->task.command;
    rec.due = s->task.due;
    rec.created_at = s->task.created_at;
    check_response(api::created(rec), cfg);
    task_view v;
    v.id = 5;
    v.command = s->task.command;
    v.due = s->task.due;
    v.created_at = s->task.created_at;
    check_response(api::status(v), cfg);
  } else if (auto q = std::get_if<api::status_action>(&act)) {
    check(q->id > 0);
  } else if (auto a = std::get_if<api::v1_action>(&act)) {
    render(*a, cfg, limits, zone);
  }
  return 0;
}
