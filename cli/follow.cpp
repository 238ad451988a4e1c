// logs and wait: the verbs that poll. Both read the task, pick the run they are about, and
// ask again at a steady pace until it has ended. Each poll is one short request, so that a
// wait rides out a service restart: once the service has answered, a refused connection is
// tried again for up to 30 s (or until --timeout) before wait gives up with 125.
#include <cstdlib>
#include <ostream>

#include "cli/commands.hpp"
#include "cli/exit_codes.hpp"
#include "cli/wait_rule.hpp"

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
    if (!inv.follow || task.body.value("state", "") == "cancelled") {
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
  // Which run counts is judge_wait's decision (cli/wait_rule.hpp).
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
      auto step = judge_wait(task.body, baseline);
      if (step.what == wait_step::kind::never_ran) {
        s.err << "tsctl wait: task " << inv.task << " ended without a run\n";
        return exit_wait_failure;
      }
      if (step.what == wait_step::kind::ended) {
        if (inv.json)
          print_json(s, step.run);
        std::string why;
        int status = run_exit_status(step.run, why);
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
