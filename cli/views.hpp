// How tsctl shows the API's objects to people: the task and run tables, one task in full,
// a preview's occurrences. Pure: the objects, the zone and whether to colour are arguments.
// Keys a newer server adds are ignored, and a missing or odd one shows as "-".
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace ts {
class time_zone;
}

namespace ts::cli {

/// The task list (ls): ID, STATE, SCHEDULE, NEXT RUN, LAST, NAME, COMMAND.
std::string tasks_table(const nlohmann::json& tasks, const time_zone& zone, bool coloured);

/// A task's runs (runs): RUN, ATTEMPT, TRIGGER, STATUS, EXIT, SCHEDULED, STARTED, TOOK.
std::string runs_table(const nlohmann::json& runs, const time_zone& zone, bool coloured);

/// One task (show): a field a line, then its latest run.
std::string task_details(const nlohmann::json& task, const time_zone& zone, bool coloured);

/// A preview's occurrences: LOCAL (the schedule's zone, as the server gives it), YOURS
/// (`zone`), DST (what the change did to it).
std::string occurrences_table(const nlohmann::json& answer, const time_zone& zone,
                              bool coloured);

/// One line that says what a create or a control did: "task 7: active, next run ...".
std::string task_summary(const nlohmann::json& task, const time_zone& zone, bool coloured);

/// The schedule as one short text: "at 2026-12-24 18:00:00", "cron 0 30 2 * * * Europe/Berlin",
/// "every 15m".
std::string schedule_text(const nlohmann::json& schedule, const time_zone& zone);

/// A run's outcome as one short text: "success", "exit 3", "SIGKILL", "running".
std::string run_outcome(const nlohmann::json& run);

} // namespace ts::cli
