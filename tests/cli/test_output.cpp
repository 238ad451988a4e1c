// What people see: tables aligned by code points, colours only when asked for (and never
// as control characters smuggled in by a command's text), the views of the API's objects,
// and the exit statuses wait derives from a run.
#include <catch2/catch.hpp>

#include <csignal>

#include "cli/exit_codes.hpp"
#include "cli/table.hpp"
#include "cli/views.hpp"
#include "cli/wait_rule.hpp"
#include "core/time_zone.hpp"

using namespace ts::cli;
using json = nlohmann::json;

TEST_CASE("cli table: columns align, the last one stays ragged", "[cli][table]") {
  auto t = render_table({"ID", "NAME", "COMMAND"},
                        {{"1", "grüße", "echo a"}, {"123", "x", "a much longer command"}}, false);
  CHECK(t == "ID   NAME   COMMAND\n"
             "1    grüße  echo a\n"
             "123  x      a much longer command\n");
  // An empty last column leaves no trailing spaces; a short row is padded.
  CHECK(render_table({"A", "B"}, {{"x"}}, false) == "A  B\nx\n");
}

TEST_CASE("cli table: colours only when coloured, and control bytes never pass", "[cli][table]") {
  auto plain = render_table({"S"}, {{{"failure", colour::red}}}, false);
  CHECK(plain.find('\x1b') == std::string::npos);
  auto coloured = render_table({"S"}, {{{"failure", colour::red}}}, true);
  CHECK(coloured == "\x1b[1mS\x1b[0m\n\x1b[31mfailure\x1b[0m\n");
  auto evil = render_table({"C"}, {{"echo \x1b[2Jgone\r\n"}}, false);
  CHECK(evil == "C\necho ?[2Jgone??\n");
  CHECK(want_colour(true, nullptr));
  CHECK(want_colour(true, ""));
  CHECK_FALSE(want_colour(true, "1"));
  CHECK_FALSE(want_colour(false, nullptr));
  CHECK(status_colour("success") == colour::green);
  CHECK(status_colour("failure") == colour::red);
  CHECK(status_colour("something new") == colour::none);
}

TEST_CASE("cli views: tasks, runs and previews from the API's objects", "[cli][views]") {
  auto berlin = *ts::find_time_zone("Europe/Berlin");
  json tasks = json::array(
    {{{"id", 2}, {"state", "active"}, {"command", "./backup.sh --full"}, {"name", nullptr},
      {"schedule", {{"at", "2026-12-24T17:00:00.000Z"}, {"time_zone", nullptr}}},
      {"next_run_at", "2026-12-24T17:00:00.000Z"}, {"latest_run", nullptr}, {"new_key", 1}},
     {{"id", 1}, {"state", "completed"}, {"command", "sh -c 'exit 3'"}, {"name", "n"},
      {"schedule", {{"every_s", 900}}}, {"next_run_at", nullptr},
      {"latest_run", {{"id", 1}, {"status", "failure"}, {"reason", "exit"}, {"exit_code", 3}, {"signal", nullptr}}}}});
  CHECK(tasks_table(tasks, *berlin, false)
        == "ID  STATE      SCHEDULE                NEXT RUN             LAST    NAME  COMMAND\n"
           "2   active     at 2026-12-24 18:00:00  2026-12-24 18:00:00  -       -     ./backup.sh --full\n"
           "1   completed  every 15m               -                    exit 3  n     sh -c 'exit 3'\n");
  json runs = json::array({{{"id", 4}, {"attempt", 1}, {"trigger", "manual"}, {"status", "failure"},
                            {"signal", "SIGKILL"}, {"scheduled_for", "2026-12-24T17:00:00.000Z"},
                            {"started_at", "2026-12-24T17:00:00.000Z"},
                            {"finished_at", "2026-12-24T17:00:02.500Z"}}});
  CHECK(runs_table(runs, *berlin, false)
        == "RUN  ATTEMPT  TRIGGER  STATUS   OUTCOME  SCHEDULED            STARTED              TOOK\n"
           "4    1        manual   failure  SIGKILL  2026-12-24 18:00:00  2026-12-24 18:00:00  2.5s\n");
  json preview = {{"occurrences",
                   {{{"utc", "2026-03-08T07:00:00.000Z"}, {"local", "2026-03-08T03:00:00.000-04:00"},
                     {"dst", "shifted_from_gap"}}}}};
  CHECK(occurrences_table(preview, *berlin, false)
        == "LOCAL (SCHEDULE'S ZONE)        YOURS                DST\n"
           "2026-03-08T03:00:00.000-04:00  2026-03-08 08:00:00  shifted_from_gap\n");
  CHECK(schedule_text({{"cron", "0 30 2 * * *"}, {"time_zone", "UTC"}}, *berlin)
        == "cron 0 30 2 * * * UTC");
  auto details = task_details(tasks[1], *berlin, false);
  CHECK(details.find("latest run:  1 exit 3\n") != std::string::npos);
  CHECK(task_summary(tasks[0], *berlin, false) == "task 2: active, next run 2026-12-24 18:00:00\n");
}

TEST_CASE("cli exit codes: wait exits with the run's code or 128+signal", "[cli][exit]") {
  std::string why;
  CHECK(run_exit_status({{"status", "success"}, {"exit_code", 0}, {"signal", nullptr}}, why) == 0);
  CHECK(run_exit_status({{"status", "failure"}, {"exit_code", 3}, {"signal", nullptr}}, why) == 3);
  CHECK(run_exit_status({{"status", "failure"}, {"exit_code", nullptr}, {"signal", "SIGKILL"}}, why)
        == 128 + SIGKILL);
  CHECK(run_exit_status({{"status", "failure"}, {"signal", "SIGTERM"}}, why) == 128 + SIGTERM);
  CHECK(why.empty());
  CHECK(run_exit_status({{"id", 5}, {"status", "failure"}, {"reason", "start_failed"},
                         {"exit_code", nullptr}, {"signal", nullptr}, {"message", "no such dir"}},
                        why)
        == exit_wait_failure);
  CHECK(why.find("start_failed") != std::string::npos);
  CHECK(signal_number("SIGUSR1") == SIGUSR1);
  CHECK(signal_number("SIGNOPE") == std::nullopt);
  CHECK(run_ended({{"status", "skipped"}}));
  CHECK_FALSE(run_ended({{"status", "running"}}));
  CHECK(run_ended({{"status", "a new one"}, {"finished_at", "2026-01-01T00:00:00.000Z"}}));
}

TEST_CASE("cli wait rule: which run wait reports, and when", "[cli][wait]") {
  using kind = wait_step::kind;
  auto task = [](const char* state, json schedule, json run) {
    return json{{"id", 1}, {"state", state}, {"schedule", schedule}, {"latest_run", run}};
  };
  const json once = {{"at", "2026-01-01T00:00:00.000Z"}, {"cron", nullptr}, {"every_s", nullptr}};
  const json every = {{"at", nullptr}, {"cron", nullptr}, {"every_s", 60}};
  const json running = {{"id", 7}, {"status", "running"}};
  const json failed = {{"id", 7}, {"status", "failure"}, {"exit_code", 1}};
  const json retry_waiting = {{"id", 8}, {"status", "waiting"}};

  std::optional<int64_t> baseline;
  CHECK_FALSE(is_recurring(task("active", once, nullptr)));
  CHECK(is_recurring(task("active", every, nullptr)));
  // One-shot: a failed attempt with a retry to come is not the end; completion is.
  CHECK(judge_wait(task("active", once, failed), baseline).what == kind::waiting);
  CHECK(judge_wait(task("active", once, retry_waiting), baseline).what == kind::waiting);
  auto done = judge_wait(task("completed", once, failed), baseline);
  CHECK(done.what == kind::ended);
  CHECK(done.run == failed);
  // A cancel answers while its run still stops.
  CHECK(judge_wait(task("cancelled", once, running), baseline).what == kind::waiting);
  CHECK(judge_wait(task("cancelled", once, nullptr), baseline).what == kind::never_ran);
  CHECK(!baseline);

  // Recurring: a run going on at the first look is the one...
  std::optional<int64_t> b1;
  CHECK(judge_wait(task("active", every, running), b1).what == kind::waiting);
  CHECK(b1 == 6);
  CHECK(judge_wait(task("active", every, failed), b1).what == kind::ended);
  // ...one that had ended is not: the next one is, skipped runs aside.
  std::optional<int64_t> b2;
  CHECK(judge_wait(task("active", every, failed), b2).what == kind::waiting);
  CHECK(b2 == 7);
  CHECK(judge_wait(task("active", every, json{{"id", 8}, {"status", "skipped"}}), b2).what
        == kind::waiting);
  auto next = judge_wait(task("active", every, json{{"id", 9}, {"status", "success"}, {"exit_code", 0}}), b2);
  CHECK(next.what == kind::ended);
  CHECK(next.run["id"] == 9);
  // A recurring task cancelled between runs reports its last run.
  CHECK(judge_wait(task("cancelled", every, failed), b2).what == kind::ended);
}
