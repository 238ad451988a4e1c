// tsctl: reads the environment and the command line, sets up the transport, and hands the
// verb to run_verb. Everything that decides anything is in the files it calls.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/commands.hpp"
#include "cli/curl_transport.hpp"
#include "cli/exit_codes.hpp"
#include "cli/help.hpp"
#include "cli/table.hpp"
#include "core/clock.hpp"
#include "core/defaults.hpp"
#include "core/text.hpp"
#include "core/time_zone.hpp"
#include "core/tokens.hpp"

namespace {

using namespace ts;
using namespace ts::cli;

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

/// The service's own default address: one source for both (core/defaults.hpp).
std::string default_url() {
  return std::string{"http://"} + defaults::bind + ":" + std::to_string(defaults::port);
}

/// The IANA name of the client's zone, to send with a cron schedule; nullopt when TZ or
/// /etc/localtime do not name one (the server's default zone applies then).
std::optional<std::string> local_zone_name() {
  if (const char* tz = std::getenv("TZ")) {
    std::string_view name{tz};
    if (!name.empty() && name.front() == ':')
      name.remove_prefix(1);
    if (name.empty())
      return std::string{"UTC"};
    if (find_time_zone(name))
      return std::string{name};
    return std::nullopt;
  }
  std::error_code ec;
  auto target = std::filesystem::read_symlink("/etc/localtime", ec).string();
  auto at = target.find("zoneinfo/");
  if (!ec && at != std::string::npos && find_time_zone(target.substr(at + 9)))
    return target.substr(at + 9);
  std::ifstream file("/etc/timezone");
  std::string line;
  if (std::getline(file, line) && find_time_zone(trim(line)))
    return std::string{trim(line)};
  return std::nullopt;
}

/// The token of a token file: one bare token (the service's file format, parsed by its
/// own parser, so that both read a file alike).
parsed<std::string> read_token(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return parsed<std::string>::failure("cannot read the token file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  auto set = parse_token_file(text.str());
  if (!set)
    return parsed<std::string>::failure("token file " + path + ": " + set.error());
  if (set->tokens.size() != 1)
    return parsed<std::string>::failure("token file " + path + " must hold one token");
  return set->tokens.front().secret;
}

/// The verb a failed command line was for, so that wait's usage errors exit 125.
bool names_wait(const std::vector<std::string>& args) {
  for (auto& a : args) {
    if (a == "--")
      break;
    if (!a.empty() && a[0] != '-')
      return a == "wait";
  }
  return false;
}

int run(const std::vector<std::string>& args) {
  auto inv = parse_invocation(args);
  if (!inv) {
    std::cerr << "tsctl: " << inv.error() << "\n";
    return names_wait(args) ? exit_wait_failure : exit_usage;
  }
  if (inv->help) {
    std::cout << (args.empty() || inv->what == verb::help ? overview_help() : verb_help(inv->what));
    return exit_ok;
  }
  const int usage = inv->what == verb::wait ? exit_wait_failure : exit_usage;

  // Times are shown in the client's zone; --tz is the zone a typed time and a cron
  // schedule are read in.
  const zone_ptr local = local_time_zone();
  zone_ptr zone = local;
  std::optional<std::string> zone_name;
  if (inv->tz) {
    auto z = find_time_zone(*inv->tz);
    if (!z) {
      std::cerr << "tsctl: --tz: " << z.error() << "\n";
      return usage;
    }
    zone = *z;
    zone_name = *inv->tz;
  } else {
    zone_name = local_zone_name();
  }

  connection_settings settings;
  settings.base_url = inv->url.value_or(env_or("TS_URL", default_url()));
  settings.cacert = inv->cacert.value_or(env_or("TS_CACERT", ""));
  const std::string token_file = inv->token_file.value_or(env_or("TS_TOKEN_FILE", ""));
  if (!token_file.empty()) {
    auto token = read_token(token_file);
    if (!token) {
      std::cerr << "tsctl: " << token.error() << "\n";
      return usage;
    }
    settings.token = *token;
  }
  std::string error;
  auto net = make_curl_transport(settings, error);
  if (!net) {
    std::cerr << "tsctl: " << error << "\n";
    return inv->what == verb::wait ? exit_wait_failure : exit_no_connection;
  }

  std::error_code ec;
  auto cwd = std::filesystem::current_path(ec).string();
  session s{*net,
            std::cout,
            std::cerr,
            *local,
            client_context{system_now_ms(), zone.get(), zone_name, cwd},
            want_colour(::isatty(STDOUT_FILENO) == 1, std::getenv("NO_COLOR")),
            [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); },
            [] {
              return std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                .count();
            }};
  int status = run_verb(*inv, s);
  std::cout.flush();
  return status;
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return run(args);
}
