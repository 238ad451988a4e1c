// Driving the real tsctl binary in the e2e tests: a run with its stdout and stderr apart
// (so that --json output parses), and a tmux session for what only a terminal shows.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/e2e/service.hpp"

namespace ts::e2e {

/// The tsctl binary of this build.
std::string tsctl_path();

struct tsctl_result {
  int exit_code = -1;
  std::string out;
  std::string err;
  /// stdout as JSON; REQUIREs that it parses.
  nlohmann::json json() const;
  /// For INFO().
  std::string describe() const;
};

/// Runs tsctl with `args`, TZ=Europe/Berlin and `env` (TS_URL and the rest), bounded.
tsctl_result run_tsctl(const std::vector<std::string>& args, env_list env = {},
                       std::chrono::milliseconds timeout = 30s);

/// TS_URL for a service on loopback.
env_list tsctl_env(const service& svc);

/// A detached tmux server on its own socket in `dir`, one window of a plain bash with
/// `env` set, 220 columns wide; killed at destruction.
class tmux_session {
public:
  tmux_session(const temp_dir& dir, const env_list& env);
  ~tmux_session();
  tmux_session(const tmux_session&) = delete;
  tmux_session& operator=(const tmux_session&) = delete;

  /// "" when the session started, else why not.
  const std::string& error() const {
    return error_;
  }
  /// Types `line` and Enter.
  void type(const std::string& line);
  /// The visible screen; with `escapes`, with its colours as SGR sequences.
  std::string screen(bool escapes = false);
  /// Waits until the screen holds `text`, for at most `within`.
  bool wait_for(const std::string& text, std::chrono::milliseconds within = 15s);

private:
  std::vector<std::string> tmux(std::vector<std::string> args) const;
  std::string socket_;
  std::string error_;
};

} // namespace ts::e2e
