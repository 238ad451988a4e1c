// tsctl's command line as a value: the verb, the options that apply to every verb, and the
// verb's own arguments, checked (a usage error says what is wrong) but not yet turned into
// HTTP. Pure: no I/O, no environment (main reads TS_URL and friends).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/parsed.hpp"

namespace ts::cli {

enum class verb {
  at, cron, every, ls, show, runs, logs, cancel, trigger, pause, resume, edit, preview, wait,
  nodes, help,
};

/// "at", "ls", ...; nullopt for a word that is no verb.
std::optional<verb> verb_from_name(const std::string& name);
const char* verb_name(verb v);

/// The task fields the create verbs and edit share (--cwd, --env, --timeout, --retries,
/// --name, -l). Absent means "not given": a create leaves the server's default, an edit
/// leaves the task's value.
struct task_fields {
  std::optional<std::string> cwd;
  std::vector<std::pair<std::string, std::string>> env;
  std::optional<double> timeout_s;
  /// Retries after the first attempt: max_attempts is one more.
  std::optional<int> retries;
  std::optional<std::string> name;
  /// `-l key=value`; in an edit `-l key-` removes the label (nullopt value), as kubectl does.
  std::vector<std::pair<std::string, std::optional<std::string>>> labels;
};

struct invocation {
  verb what = verb::help;
  /// --help given (or `tsctl help VERB`): print the verb's help and exit 0.
  bool help = false;

  // Every verb.
  std::optional<std::string> url;
  std::optional<std::string> token_file;
  std::optional<std::string> cacert;
  bool json = false;

  /// The task (show, runs, logs, cancel, trigger, pause, resume, edit, wait).
  int64_t task = 0;
  /// at: the time as typed; cron and preview: the expression; every: the interval.
  std::string when;
  /// every: the interval in seconds.
  int64_t every_s = 0;
  /// The words after `--` (at, cron, every).
  std::vector<std::string> command;
  task_fields fields;
  std::optional<std::string> tz;

  // ls
  std::optional<std::string> state;
  // logs
  std::optional<int64_t> run;
  bool follow = false;
  // preview
  int count = 10;
  // wait
  std::optional<double> wait_timeout_s;
  // edit: the schedule and command to set.
  std::optional<std::string> edit_cron;
  std::optional<std::string> edit_command;
  std::optional<int64_t> edit_every_s;
  std::optional<std::string> edit_at;
};

/// Parses the arguments after the program name. Options may come before or after the verb,
/// as `--name=value` or `--name value`; everything after `--` is the command.
parsed<invocation> parse_invocation(const std::vector<std::string>& args);

} // namespace ts::cli
