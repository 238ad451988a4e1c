// Crash truth for start-up recovery: what a dead service's runs may have done, and the end
// of every process they left. A run's start mark (start_marks.hpp: its slot in <state
// dir>/started.slots) is written by its helper just before exec, so "no mark, and no helper
// left that could still write it" proves the command never started.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/ids.hpp"
#include "process/run_scope.hpp"

namespace ts {

enum class run_fate : uint8_t {
  never_started,     // run it again
  may_have_started,  // record it interrupted
};

const char* to_string(run_fate);

/// The fate of `run`, left `running` by a crash. `pid` and `start_ticks` are the helper's as
/// recorded with the claim (0 when none was): a helper still held, or caught between its
/// release and its marker, is killed first, so that the answer cannot change afterwards.
/// Without markers (no state directory) nothing is provable: may_have_started.
run_fate classify_leftover(const run_scope& scope, run_id run, int32_t pid,
                           uint64_t start_ticks,
                           std::chrono::milliseconds bound = std::chrono::seconds(5));

/// SIGKILLs every process of `run` (cgroup.kill where it has a cgroup, and always a scan of
/// /proc for its TS_RUN_ID in this scope), repeats until none is left or `bound` passed,
/// then removes its cgroup. True when none is left.
bool kill_run_leftovers(const run_scope& scope, run_id run,
                        std::chrono::milliseconds bound = std::chrono::seconds(5));

/// Once recovery is done: clears every start mark but those in `keep` (marks of runs whose
/// outcome was recorded but whose mark a crash left) and removes every empty run cgroup of
/// the scope. Returns how many marks it cleared.
size_t prune_finished_runs(const run_scope& scope, const std::vector<run_id>& keep);

} // namespace ts
