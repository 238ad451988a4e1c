// Which run `tsctl wait` is waiting for, and when it has ended: a decision on the task as
// GET /v1/tasks/{id} shows it, one look at a time. Pure, so that each case (one-shot with
// retries, a cancel whose run is still stopping, a recurring task between runs) has a unit
// test; follow.cpp only polls and sleeps.
#pragma once

#include <cstdint>
#include <optional>

#include <nlohmann/json.hpp>

namespace ts::cli {

struct wait_step {
  enum class kind {
    /// Look again later.
    waiting,
    /// `run` ended: wait reports it (run_exit_status).
    ended,
    /// The task is over without ever having run (cancelled before its time).
    never_ran,
  };
  kind what = kind::waiting;
  nlohmann::json run;
};

/// One look at `task`. A one-shot task is waited for until it is completed or cancelled and
/// its latest run has ended (retries included, a stopping run included). A recurring task is
/// waited for until a run newer than `baseline` ends, skipped ones aside; the first look
/// sets `baseline` so that a run going on then counts, and one that had ended does not.
wait_step judge_wait(const nlohmann::json& task, std::optional<int64_t>& baseline);

/// The API shows every schedule form's keys, the unused ones null.
bool is_recurring(const nlohmann::json& task);

} // namespace ts::cli
