// logs and wait: the verbs that poll. Both read the task, pick the run they are about, and
// ask again at a steady pace until it has ended; each poll is one short request, so a wait
// survives a service restart in between (a refused connection mid-wait is retried until
// the deadline, not fatal).
#include <cstdlib>
#include <ostream>

#include "cli/commands.hpp"
#include "cli/exit_codes.hpp"

namespace ts::cli {

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr auto poll_period = 200ms;
/// How long wait rides out a service that stopped answering (a restart takes seconds).
constexpr int64_t unreachable_limit_ms = 30000;

std::string task_path(int64_t id) {
  return "/v1/tasks/" + std::to_string(id);
}

int64_t id_of(const json& j) {
  auto it = j.is_object() ? j.find("id") : j.end();
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

const json* latest_run(const json& task) {
  auto it = task.find("latest_run");
  return it != task.end() && it->is_object() ? &*it : nullptr;
}

bool recurring(const json& task) {
  auto s = task.find("schedule");
  // The API shows every form's keys, the unused ones null.
  auto set = [&](const char* key) { return s->contains(key) && !(*s)[key].is_null(); };
  return s != task.end() && s->is_object() && (set("cron") || set("every_s"));
}

std::string state_of(const json& task) {
  auto it = task.find("state");
  return it != task.end() && it->is_string() ? it->get<std::string>() : "";
}

/// Prints the run's output from `offset` on; with `follow`, until the run is complete.
int print_output(const invocation& inv, session& s, int64_t run) {
  int64_t offset = 0;
  for (;;) {
    auto r = call_api(s,
                      http_call::get("/v1/runs/" + std::to_string(run)
                                     + "/output?offset=" + std::to_string(offset)),
                      false);
    if (!r.ok)
      return r.exit_status;
    s.out << r.answer.body << std::flush;
    if (!inv.follow || r.answer.header("X-Output-Complete") == "true")
      return exit_ok;
    const std::string next = r.answer.header("X-Output-Next-Offset");
    offset = next.empty() ? offset + static_cast<int64_t>(r.answer.body.size())
                          : std::strtoll(next.c_str(), nullptr, 10);
    if (r.answer.body.empty())
      s.sleep(poll_period);
  }
}

} // namespace

int logs_verb(const invocation& inv, session& s) {
  if (inv.run)
    return print_output(inv, s, *inv.run);
  for (;;) {
    auto task = call_api(s, http_call::get(task_path(inv.task)));
    if (!task.ok)
      return task.exit_status;
    if (const json* run = latest_run(task.body))
      return print_output(inv, s, id_of(*run));
    // No run yet: -f waits for the first one, a plain logs says so.
    if (!inv.follow || state_of(task.body) == "cancelled") {
      s.err << "tsctl logs: task " << inv.task << " has no run yet\n";
      return exit_ok;
    }
    s.sleep(poll_period);
  }
}

int wait_verb(const invocation& inv, session& s) {
  const int64_t deadline = inv.wait_timeout_s
                             ? s.monotonic_ms() + static_cast<int64_t>(*inv.wait_timeout_s * 1000)
                             : 0;
  auto timed_out = [&] { return deadline != 0 && s.monotonic_ms() >= deadline; };
  // A recurring task: the run going on now, else the next one to end. A one-shot task:
  // until nothing more is to run, so that retries are waited for too.
  std::optional<int64_t> baseline;
  int64_t last_answer = s.monotonic_ms();
  bool answered = false;
  for (;;) {
    auto task = call_api(s, http_call::get(task_path(inv.task)));
    if (!task.ok) {
      // Refused (an unknown task), or never reached, or gone too long: timeout(1)'s 125.
      if (task.exit_status != exit_no_connection || !answered
          || s.monotonic_ms() - last_answer > unreachable_limit_ms)
        return exit_wait_failure;
    } else {
      answered = true;
      last_answer = s.monotonic_ms();
    }
    if (task.ok) {
      const json& t = task.body;
      const json* run = latest_run(t);
      const std::string state = state_of(t);
      const bool over = state == "completed" || state == "cancelled";
      json ended;
      if (!recurring(t) || over) {
        // A cancel answers before its run has stopped: wait for the run's end too.
        if (over && run != nullptr && run_ended(*run))
          ended = *run;
        else if (over && run == nullptr) {
          s.err << "tsctl wait: task " << inv.task << " is " << state << " without a run\n";
          return exit_wait_failure;
        }
      } else {
        if (!baseline)
          baseline = run != nullptr && !run_ended(*run) ? id_of(*run) - 1 : (run ? id_of(*run) : 0);
        if (run != nullptr && id_of(*run) > *baseline && run_ended(*run)
            && run->value("status", "") != "skipped")
          ended = *run;
      }
      if (!ended.is_null()) {
        if (inv.json)
          print_json(s, ended);
        std::string why;
        int status = run_exit_status(ended, why);
        if (!why.empty())
          s.err << "tsctl wait: " << why << "\n";
        return status;
      }
    }
    if (timed_out()) {
      s.err << "tsctl wait: task " << inv.task << " still running after the timeout\n";
      return exit_wait_timeout;
    }
    s.sleep(poll_period);
  }
}

} // namespace ts::cli
