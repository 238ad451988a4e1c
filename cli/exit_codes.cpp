#include "cli/exit_codes.hpp"

#include <csignal>
#include <cstring>
#include <string.h>

namespace ts::cli {

namespace {

const std::string* text_field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
}

} // namespace

std::optional<int> signal_number(const std::string& name) {
  if (name.rfind("SIG", 0) != 0)
    return std::nullopt;
  const std::string bare = name.substr(3);
  // glibc's own table (sigabbrev_np, 2.32+): the same names the service's runner writes.
  for (int n = 1; n < NSIG; ++n) {
    const char* abbrev = ::sigabbrev_np(n);
    if (abbrev != nullptr && bare == abbrev)
      return n;
  }
  return std::nullopt;
}

bool run_ended(const nlohmann::json& run) {
  const std::string* status = text_field(run, "status");
  if (status == nullptr)
    return false;
  if (*status == "success" || *status == "failure" || *status == "skipped")
    return true;
  if (*status == "waiting" || *status == "starting" || *status == "running")
    return false;
  return text_field(run, "finished_at") != nullptr;
}

int run_exit_status(const nlohmann::json& run, std::string& why) {
  if (const std::string* sig = text_field(run, "signal")) {
    if (auto n = signal_number(*sig))
      return 128 + *n;
    why = "the run ended by " + *sig + ", a signal this system does not know";
    return exit_wait_failure;
  }
  auto code = run.find("exit_code");
  if (code != run.end() && code->is_number_integer())
    return code->get<int>();
  const std::string* status = text_field(run, "status");
  const std::string* reason = text_field(run, "reason");
  const std::string* message = text_field(run, "message");
  why = "run " + (run.contains("id") ? run["id"].dump() : std::string{"?"}) + " ended "
        + (status ? *status : "?") + (reason ? " (" + *reason + ")" : "")
        + (message ? ": " + *message : "") + " without an exit code";
  return exit_wait_failure;
}

} // namespace ts::cli
