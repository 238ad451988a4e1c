#include "cli/wait_rule.hpp"

#include "cli/exit_codes.hpp"

namespace ts::cli {

namespace {

using json = nlohmann::json;

int64_t id_of(const json& j) {
  auto it = j.find("id");
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

const json* latest_run(const json& task) {
  auto it = task.find("latest_run");
  return it != task.end() && it->is_object() ? &*it : nullptr;
}

bool has(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && !it->is_null();
}

} // namespace

bool is_recurring(const json& task) {
  auto s = task.find("schedule");
  return s != task.end() && s->is_object() && (has(*s, "cron") || has(*s, "every_s"));
}

wait_step judge_wait(const json& task, std::optional<int64_t>& baseline) {
  wait_step step;
  if (!task.is_object())
    return step;
  const json* run = latest_run(task);
  const std::string state = task.value("state", "");
  const bool over = state == "completed" || state == "cancelled";
  if (over || !is_recurring(task)) {
    if (over && run == nullptr)
      step.what = wait_step::kind::never_ran;
    else if (over && run_ended(*run))
      step = {wait_step::kind::ended, *run};
    return step;
  }
  if (!baseline)
    baseline = run == nullptr ? 0 : run_ended(*run) ? id_of(*run) : id_of(*run) - 1;
  if (run != nullptr && id_of(*run) > *baseline && run_ended(*run)
      && run->value("status", "") != "skipped")
    step = {wait_step::kind::ended, *run};
  return step;
}

} // namespace ts::cli
