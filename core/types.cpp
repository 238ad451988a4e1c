#include "core/types.hpp"

namespace ts {

const char* to_string(task_status x) {
  switch (x) {
    case task_status::pending: return "pending";
    case task_status::running: return "running";
    case task_status::success: return "success";
    case task_status::failure: return "failure";
  }
  return "unknown";
}

const char* to_string(run_reason x) {
  switch (x) {
    case run_reason::none: return "none";
    case run_reason::exit: return "exit";
    case run_reason::signal: return "signal";
    case run_reason::start_failed: return "start_failed";
    case run_reason::interrupted: return "interrupted";
  }
  return "unknown";
}

std::optional<task_status> parse_task_status(std::string_view s) {
  for (auto x : {task_status::pending, task_status::running, task_status::success,
                 task_status::failure})
    if (s == to_string(x))
      return x;
  return std::nullopt;
}

std::optional<run_reason> parse_run_reason(std::string_view s) {
  for (auto x : {run_reason::none, run_reason::exit, run_reason::signal,
                 run_reason::start_failed, run_reason::interrupted})
    if (s == to_string(x))
      return x;
  return std::nullopt;
}

} // namespace ts
