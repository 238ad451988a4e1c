// What tsctl's exit status says, in one place: the codes of every verb, and wait's, which
// follow timeout(1) so that `tsctl wait ID` can stand where the command itself would.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace ts::cli {

enum exit_code : int {
  exit_ok = 0,
  /// The server answered with an error (its message is printed).
  exit_refused = 1,
  /// The command line is wrong (or names a file that cannot be read).
  exit_usage = 2,
  /// No answer: nothing listens, TLS failed, the connection broke.
  exit_no_connection = 3,
  /// wait: --timeout passed before the run ended (timeout(1)'s 124).
  exit_wait_timeout = 124,
  /// wait: tsctl itself failed (timeout(1)'s 125): usage, connection, refusal, no run.
  exit_wait_failure = 125,
};

/// The number of a signal named as the API names it ("SIGKILL"); nullopt for a name this
/// system does not know.
std::optional<int> signal_number(const std::string& name);

/// How `wait` exits for an ended run: its exit code, 128+N when signal N ended it, else
/// exit_wait_failure (it never started, was skipped...), with `why` saying so.
int run_exit_status(const nlohmann::json& run, std::string& why);

/// A run has ended (success, failure, skipped, or a status this client does not know that
/// carries a finished_at).
bool run_ended(const nlohmann::json& run);

} // namespace ts::cli
