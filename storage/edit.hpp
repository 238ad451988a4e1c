// What an edit (PATCH) writes, decided once for both stores, and the copies that keep an
// edit from reaching runs already recorded: a run's claim records the command and settings
// it starts with (runs.settings), an occurrence queued behind a run records the ones of its
// time (tasks.queued_settings), and a waiting retry or the queued occurrence is started
// with its copy, not with the task's columns (storage/SCHEMA.md, version 5).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/types.hpp"
#include "storage/recurring.hpp"

namespace ts::storage {

/// The task's columns that an edit may move, beside what it rewrites outright.
struct edit_writes {
  millis due = 0;
  std::optional<millis> next_run;
  std::optional<millis> next_occurrence;
  std::string state;
  /// The task becomes pending (it has a wake-up again and no run in progress).
  bool pending = false;
};

/// An edit at `now` of the task read as `r` (the claim query). Errors:
/// ec::version_mismatch, ec::invalid_state (storage/store.hpp update_task).
caf::expected<edit_writes> decide_edit(const recurring_row& r, const task_edit& e, millis now,
                                       const char* backend);

/// What a claim starts with: the task's columns already in `out`, replaced by the copy of
/// the waiting retry or of the queued occurrence when it starts one of those (`w`; null for
/// a one-shot task, whose only copy is its waiting retry's).
caf::error apply_copies(const recurring_row& r, const claim_writes* w, claim& out,
                        const char* backend);

/// The copy of what a run starts with: its command, output limit and controls.
/// ec::invalid_argument for an env that JSON cannot carry.
caf::expected<std::string> settings_of(const claim& c);

/// Applies a stored copy (settings_of) to the claim; ec::storage_failure when it does not
/// read back. `task` names the task in the error.
caf::error apply_settings(std::string_view json, claim& c, task_id task, const char* backend);

} // namespace ts::storage
