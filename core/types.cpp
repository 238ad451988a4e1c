#include "core/types.hpp"

#include <initializer_list>

namespace ts {

namespace {

/// The value among `all` whose name is `s`.
template <class T>
std::optional<T> parse_name(std::string_view s, std::initializer_list<T> all) {
  for (auto x : all)
    if (s == to_string(x))
      return x;
  return std::nullopt;
}

} // namespace

const char* to_string(task_status x) {
  switch (x) {
    case task_status::pending: return "pending";
    case task_status::running: return "running";
    case task_status::success: return "success";
    case task_status::failure: return "failure";
    case task_status::cancelled: return "cancelled";
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
    case run_reason::cancelled: return "cancelled";
    case run_reason::timeout: return "timeout";
    case run_reason::replaced: return "replaced";
  }
  return "unknown";
}

const char* to_string(task_state x) {
  switch (x) {
    case task_state::active: return "active";
    case task_state::completed: return "completed";
    case task_state::cancelled: return "cancelled";
    case task_state::paused: return "paused";
  }
  return "unknown";
}

const char* to_string(run_status x) {
  switch (x) {
    case run_status::waiting: return "waiting";
    case run_status::starting: return "starting";
    case run_status::running: return "running";
    case run_status::success: return "success";
    case run_status::failure: return "failure";
    case run_status::skipped: return "skipped";
  }
  return "unknown";
}

const char* to_string(run_trigger x) {
  switch (x) {
    case run_trigger::schedule: return "schedule";
    case run_trigger::manual: return "manual";
    case run_trigger::retry: return "retry";
  }
  return "unknown";
}

std::optional<task_status> parse_task_status(std::string_view s) {
  return parse_name(s, {task_status::pending, task_status::running, task_status::success,
                        task_status::failure, task_status::cancelled});
}

std::optional<run_reason> parse_run_reason(std::string_view s) {
  return parse_name(s, {run_reason::none, run_reason::exit, run_reason::signal,
                        run_reason::start_failed, run_reason::interrupted,
                        run_reason::cancelled, run_reason::timeout, run_reason::replaced});
}

std::optional<task_state> parse_task_state(std::string_view s) {
  return parse_name(s, {task_state::active, task_state::completed, task_state::cancelled,
                        task_state::paused});
}

std::optional<run_status> parse_run_status(std::string_view s) {
  return parse_name(s, {run_status::waiting, run_status::starting, run_status::running,
                        run_status::success, run_status::failure, run_status::skipped});
}

std::optional<run_trigger> parse_run_trigger(std::string_view s) {
  return parse_name(s, {run_trigger::schedule, run_trigger::manual, run_trigger::retry});
}

const char* to_string(retry_jitter x) {
  switch (x) {
    case retry_jitter::full: return "full";
    case retry_jitter::equal: return "equal";
    case retry_jitter::none: return "none";
  }
  return "unknown";
}

std::optional<retry_jitter> parse_retry_jitter(std::string_view s) {
  return parse_name(s, {retry_jitter::full, retry_jitter::equal, retry_jitter::none});
}

const char* to_string(skip_reason x) {
  switch (x) {
    case skip_reason::missed: return "missed";
    case skip_reason::overlap: return "overlap";
    case skip_reason::paused: return "paused";
  }
  return "unknown";
}

std::optional<skip_reason> parse_skip_reason(std::string_view s) {
  return parse_name(s, {skip_reason::missed, skip_reason::overlap, skip_reason::paused});
}

const char* to_string(misfire_policy x) {
  switch (x) {
    case misfire_policy::run_once: return "run_once";
    case misfire_policy::run_all: return "run_all";
    case misfire_policy::skip: return "skip";
  }
  return "unknown";
}

std::optional<misfire_policy> parse_misfire_policy(std::string_view s) {
  return parse_name(s, {misfire_policy::run_once, misfire_policy::run_all,
                        misfire_policy::skip});
}

const char* to_string(overlap_policy x) {
  switch (x) {
    case overlap_policy::skip: return "skip";
    case overlap_policy::queue: return "queue";
    case overlap_policy::allow: return "allow";
    case overlap_policy::replace: return "replace";
  }
  return "unknown";
}

std::optional<overlap_policy> parse_overlap_policy(std::string_view s) {
  return parse_name(s, {overlap_policy::skip, overlap_policy::queue, overlap_policy::allow,
                        overlap_policy::replace});
}

} // namespace ts
