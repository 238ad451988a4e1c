// The verbs: each turns an invocation into API calls through a transport and prints what
// came back. What the calls and the output look like is decided by the pure parts
// (task_body, views, exit_codes); these functions only sequence them.
#pragma once

#include <chrono>
#include <functional>
#include <iosfwd>
#include <optional>

#include <nlohmann/json.hpp>

#include "cli/http.hpp"
#include "cli/invocation.hpp"
#include "cli/task_body.hpp"

namespace ts::cli {

struct session {
  transport& net;
  std::ostream& out;
  std::ostream& err;
  /// The client's zone, in which times are shown (a typed time is read in context.zone).
  const time_zone& zone;
  client_context context;
  bool coloured = false;
  /// Waits between polls (logs -f, wait); a parameter so that the loop's pace is visible.
  std::function<void(std::chrono::milliseconds)> sleep;
  /// Milliseconds on a monotonic clock, for wait's --timeout.
  std::function<int64_t()> monotonic_ms;
};

/// Runs the verb; returns tsctl's exit status (cli/exit_codes.hpp).
int run_verb(const invocation& inv, session& s);

// -- shared by the verbs (commands.cpp) ------------------------------------------------

/// The outcome of one call: the JSON body of a 2xx answer, or the exit status to end with
/// (the reason already printed on s.err).
struct call_result {
  bool ok = false;
  nlohmann::json body;
  http_answer answer;
  int exit_status = 0;
};

/// Performs the call and, when `json_answer`, reads its body as JSON; a refusal prints the
/// server's message.
call_result call_api(session& s, const http_call& call, bool json_answer = true);

/// Prints `j` as the API gave it, one line.
void print_json(session& s, const nlohmann::json& j);

/// logs and wait (follow.cpp).
int logs_verb(const invocation& inv, session& s);
int wait_verb(const invocation& inv, session& s);

} // namespace ts::cli
