#include "cli/help.hpp"

namespace ts::cli {

namespace {

constexpr const char* task_options = R"(
Task options:
  --name NAME          a name for people (ls shows it)
  -l, --label K=V      a label (repeatable); ls filters on them
  --cwd DIR            the command's working directory (a relative one is taken from here);
                       without it the command runs in the service's working directory
  --env K=V            an environment variable for the command (repeatable)
  --timeout DURATION   per attempt: SIGTERM after it (30, 90s, 5m)
  --retries N          attempts after a failed one (0 to 99)
)";

constexpr const char* command_note = R"(
The words after -- are the command: tsctl quotes them so that the service's /bin/sh -c sees
exactly these words. For a pipeline or redirection, give sh the line yourself:
  -- sh -c 'pg_dump db | gzip > /backups/db.gz'
)";

} // namespace

std::string overview_help() {
  return R"(tsctl: the TaskSchedulizer command line

Usage: tsctl [OPTIONS] VERB [ARGS] [-- COMMAND...]

Create:
  at TIME -- CMD...           once: now, now+10m, "2026-12-24 18:00" (yours or --tz), RFC 3339
  cron EXPR [--tz ZONE] -- CMD...   on a cron schedule ("0 30 2 * * *", 5 or 6 fields)
  every DURATION -- CMD...    every 15m, 1h, 90s
See and change:
  ls [--state S] [-l K=V]     tasks, newest first
  show ID                     one task and its latest run
  runs ID                     its runs, newest first
  logs ID [--run RUN] [-f]    the latest run's output (-f: follow it to its end)
  cancel|trigger|pause|resume ID
  edit ID --cron|--every|--at|--command|--name|... (a PATCH against the version just read)
  preview EXPR [--tz ZONE] [-n N]   when a cron expression fires, with DST notes
  wait ID [--timeout DURATION]      until the run ends; exits with the run's status
  nodes                       worker nodes (none exist yet)

Options for every verb:
  --url URL          the service (env TS_URL; default http://127.0.0.1:8081)
  --token-file FILE  a file of one bare API token, sent as a Bearer token (env TS_TOKEN_FILE)
  --cacert FILE      CA certificates for an https:// URL with a private CA (env TS_CACERT)
  --json             print the API's JSON objects instead of tables
  -h, --help         help; `tsctl VERB --help` for one verb

Exit status: 0 done; 1 the server refused (its message is printed); 2 usage error;
3 the service could not be reached. wait exits as timeout(1) does (see tsctl wait --help).
Colours only on a terminal, never with NO_COLOR set.
)";
}

std::string verb_help(verb v) {
  std::string text;
  switch (v) {
    case verb::at:
      text = R"(Usage: tsctl at TIME [--tz ZONE] [task options] -- COMMAND...

Runs COMMAND once at TIME:
  now, now+10m, now+1h30m
  "2026-12-24 18:00" or "2026-12-24 18:00:00": a wall-clock time in your zone, or in --tz
  2026-12-24T18:00:00+01:00, 2026-12-24T17:00:00Z: RFC 3339
The time is sent with its offset, so the service's own zone does not change its meaning.
Example: tsctl at now+10m --name backup -- ./backup.sh --full
)";
      return text + task_options + command_note;
    case verb::cron:
      text = R"(Usage: tsctl cron EXPR [--tz ZONE] [task options] -- COMMAND...

Runs COMMAND whenever the local time in ZONE (default: yours) matches EXPR: 5 fields
(min hour dom mon dow) or 6 (sec min hour dom mon dow), or @daily, @hourly, ...
Check one first with tsctl preview.
Example: tsctl cron "0 30 2 * * *" --tz Europe/Berlin -- ./nightly.sh
)";
      return text + task_options + command_note;
    case verb::every:
      text = R"(Usage: tsctl every DURATION [task options] -- COMMAND...

Runs COMMAND now and then every DURATION (whole seconds: 90s, 15m, 1h, 1d); DST never
changes the interval.
Example: tsctl every 15m -- ./poll.sh
)";
      return text + task_options + command_note;
    case verb::ls:
      return R"(Usage: tsctl ls [--state STATE] [-l KEY=VALUE]... [--json]

Lists tasks, newest first, every page of them: ID, state, schedule, next run (your local
time), the latest run's outcome, name, command. --state: active, paused, completed,
cancelled. -l: only tasks with that label (repeat: all of them). --json prints one JSON
array of the API's task objects.
)";
    case verb::show:
      return "Usage: tsctl show ID [--json]\n\n"
             "One task with its latest run; --json prints the API's object.\n";
    case verb::runs:
      return "Usage: tsctl runs ID [--json]\n\n"
             "The task's runs, newest first (every page); --json prints one JSON array.\n";
    case verb::logs:
      return R"(Usage: tsctl logs ID [--run RUN_ID] [-f]

Prints the output of the task's latest run (or of RUN_ID). -f follows a run that is still
going until it ends (and waits for a first run when there is none yet).
)";
    case verb::cancel:
      return "Usage: tsctl cancel ID\n\n"
             "No further runs; a run in progress is stopped (SIGTERM, then SIGKILL).\n";
    case verb::trigger:
      return "Usage: tsctl trigger ID\n\nA run now, also of a completed task.\n";
    case verb::pause:
      return "Usage: tsctl pause ID\n\n"
             "Skips the task's occurrences until resume; a run in progress goes on.\n";
    case verb::resume:
      return "Usage: tsctl resume ID\n\nThe task goes on with its next occurrence.\n";
    case verb::edit:
      text = R"(Usage: tsctl edit ID [--cron EXPR [--tz ZONE] | --every DURATION
                     | --at TIME [--tz ZONE]] [--command "CMD LINE"] [task options]

Changes a task with a JSON Merge Patch sent with If-Match: the version tsctl just read, so
an edit never overwrites a change it did not see (the server refuses: exit 1).
--command takes one shell command line as it is (not words after --).
-l KEY- removes a label.
Example: tsctl edit 7 --every 30m --name poll-slower
)";
      return text + task_options;
    case verb::preview:
      return R"(Usage: tsctl preview EXPR [--tz ZONE] [-n COUNT]

Asks the service when EXPR fires next in ZONE (default: yours), COUNT times (1 to 100,
default 10): the local time in that zone, yours, and what a DST change did (shifted_from_gap:
the time does not exist that day, first_of_fold: it occurs twice, this is the first).
Example: tsctl preview "0 30 2 * * *" --tz America/New_York -n 3
)";
    case verb::wait:
      return R"(Usage: tsctl wait ID [--timeout DURATION] [--json]

Waits for the task's run to end and exits as timeout(1) does: the run's exit code, 128+N
when signal N ended it, 124 when --timeout passed first, 125 when tsctl itself failed (an
unknown task, a usage error, no service, a run that never started). A one-shot task is
waited for until nothing more is to run (retries included); a recurring one until the run
going on now, or else the next one, ends. --json prints the run.
)";
    case verb::nodes:
      return "Usage: tsctl nodes\n\n"
             "Worker nodes do not exist yet: the service runs every task itself. This verb\n"
             "says so and exits 2.\n";
    case verb::help: break;
  }
  return overview_help();
}

} // namespace ts::cli
