#include "tests/e2e/tsctl_driver.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#ifndef TS_TSCTL
#error "TS_TSCTL (path of the tsctl binary) must be defined by the build"
#endif

namespace ts::e2e {

std::string tsctl_path() {
  return TS_TSCTL;
}

nlohmann::json tsctl_result::json() const {
  auto j = nlohmann::json::parse(out, nullptr, false);
  INFO(describe());
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

std::string tsctl_result::describe() const {
  return "exit " + std::to_string(exit_code) + "\nstdout: " + out + "\nstderr: " + err;
}

tsctl_result run_tsctl(const std::vector<std::string>& args, env_list env,
                       std::chrono::milliseconds timeout) {
  // stderr to a file of its own: run_command gives stdout and stderr together.
  temp_dir dir;
  const std::string err_file = dir.file("stderr");
  std::vector<std::string> argv{"sh", "-c", "exec \"$0\" \"$@\" 2>\"$TSCTL_STDERR\"",
                                tsctl_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  env.insert(env.begin(), {"TZ", "Europe/Berlin"});
  env.emplace_back("TSCTL_STDERR", err_file);
  auto r = run_command(argv, env, timeout);
  return {r.exit_code, r.output, read_file(err_file)};
}

env_list tsctl_env(const service& svc) {
  return {{"TS_URL", "http://127.0.0.1:" + std::to_string(svc.port())}};
}

// --- tmux -------------------------------------------------------------------------------

std::vector<std::string> tmux_session::tmux(std::vector<std::string> args) const {
  args.insert(args.begin(), {"tmux", "-S", socket_});
  return args;
}

tmux_session::tmux_session(const temp_dir& dir, const env_list& env) : socket_(dir.file("tmux")) {
  // env -i: the window sees only what the test gives it (no NO_COLOR, no TS_* of the
  // caller), plus PATH with tsctl first, as a user's shell would have it.
  std::string dir_of_tsctl = tsctl_path().substr(0, tsctl_path().rfind('/'));
  std::string shell = "env -i HOME=" + sh_quote(dir.path()) + " TERM=screen TZ=Europe/Berlin"
                      " PATH=" + sh_quote(dir_of_tsctl + ":/usr/bin:/bin") + " PS1='$ '";
  for (auto& [k, v] : env)
    shell += " " + sh_quote(k + "=" + v);
  shell += " bash --norc --noprofile";
  auto r = run_command(tmux({"-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "220",
                             "-y", "50", shell}),
                       {}, 15s);
  if (r.exit_code != 0)
    error_ = "tmux new-session: " + r.output;
  else if (!wait_for("$", 10s))
    error_ = "no shell prompt in tmux: " + screen();
}

tmux_session::~tmux_session() {
  run_command(tmux({"kill-server"}), {}, 10s);
}

void tmux_session::type(const std::string& line) {
  run_command(tmux({"send-keys", "-t", "t", "-l", line}), {}, 10s);
  run_command(tmux({"send-keys", "-t", "t", "Enter"}), {}, 10s);
}

std::string tmux_session::screen(bool escapes) {
  std::vector<std::string> args{"capture-pane", "-p", "-t", "t"};
  if (escapes)
    args.push_back("-e");
  return run_command(tmux(args), {}, 10s).output;
}

bool tmux_session::wait_for(const std::string& text, std::chrono::milliseconds within) {
  return wait_until([&] { return screen().find(text) != std::string::npos; }, within, 50ms);
}

} // namespace ts::e2e
