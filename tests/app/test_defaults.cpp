// The defaults users see (the real binary's --help, configs/taskschedulizer.ini and
// scripts/run) agree with core/defaults.hpp, and the binary and the INI list the same options.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "core/defaults.hpp"

namespace {

// Every option with a default, as its text on the command line.
const std::map<std::string, std::string>& option_defaults() {
  static const std::map<std::string, std::string> table{
    {"port", std::to_string(ts::defaults::port)},
    {"bind", ts::defaults::bind},
    {"db", ts::defaults::db},
    {"db-wait", std::to_string(ts::defaults::db_wait_s)},
    {"max-running", std::to_string(ts::defaults::max_running)},
    {"shutdown-grace", std::to_string(ts::defaults::shutdown_grace_s)},
    {"http-threads", std::to_string(ts::defaults::http_threads)},
    {"http-nice", std::to_string(ts::defaults::http_nice)},
    {"max-connections", std::to_string(ts::defaults::max_connections)},
    {"max-in-flight", std::to_string(ts::defaults::max_in_flight)},
    {"header-timeout", std::to_string(ts::defaults::header_timeout_s)},
    {"idle-timeout", std::to_string(ts::defaults::idle_timeout_s)},
    {"log-level", ts::defaults::log_level},
    {"log-format", ts::defaults::log_format},
    {"metrics", ts::defaults::metrics},
    {"default-time-zone", ts::defaults::default_time_zone},
    {"max-output-bytes", std::to_string(ts::defaults::max_output_bytes)},
    {"shutdown-kill-grace", std::to_string(ts::defaults::shutdown_kill_grace_s)},
    {"kill-mode", ts::defaults::kill_mode},
    {"insecure-http", ts::defaults::insecure_http ? "true" : "false"},
  };
  return table;
}

// Options that may be absent: no default in --help, commented out in the INI.
// run-as has a default that depends on who starts the binary (taskschedulizer as root).
const std::set<std::string> absent_options{"api-token-file", "audit-log", "db-password-file",
                                           "allowed-run-as", "run-as", "tls-cert-file",
                                           "tls-key-file"};

// CAF's own options, which the INI cannot set or need not list.
const std::set<std::string> caf_options{"help", "long-help", "dump-config", "config-file"};

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  REQUIRE(in);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// The binary's --help, run in an empty folder so that no caf-application.ini applies.
std::string help_text() {
  char dir[] = "/tmp/ts-test-defaults-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  std::string command = std::string{"cd '"} + dir + "' && '" + TS_BINARY + "' --help 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;)
    out.append(buf, n);
  int status = pclose(pipe);
  rmdir(dir);
  INFO(out);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  return out;
}

struct help_option {
  std::string description;
  bool has_default = false;
  std::string default_value;
};

// Lines like `  --port=<uint16>   : TCP port ... (default: 8081)` of the global group.
std::map<std::string, help_option> parse_help(const std::string& text) {
  static const std::regex line_re{R"(^\s+\(?(?:-[^|]+\|)*--([a-z][a-z-]*)(?:=<[^>]*>)?\)?\s+: (.*)$)"};
  static const std::regex default_re{R"(\(default: (.*)\)$)"};
  std::map<std::string, help_option> result;
  std::istringstream in{text};
  bool in_global = false;
  for (std::string line; std::getline(in, line);) {
    if (line == "global options:") {
      in_global = true;
      continue;
    }
    if (!in_global)
      continue;
    if (line.empty())
      break;
    std::smatch m;
    INFO(line);
    REQUIRE(std::regex_match(line, m, line_re));
    help_option opt;
    opt.description = m[2];
    std::smatch d;
    if (std::regex_search(opt.description, d, default_re)) {
      opt.has_default = true;
      opt.default_value = d[1];
    }
    CHECK(result.emplace(m[1], opt).second);
  }
  return result;
}

struct ini_option {
  bool commented = false;
  std::string value; // without the quotes of a string
};

// `name=value` and commented-out `;name=value` lines of the [global] section.
std::map<std::string, ini_option> parse_ini(const std::string& text) {
  static const std::regex option_re{R"(^(;?)([a-z][a-z-]*)=(.*)$)"};
  std::map<std::string, ini_option> result;
  std::istringstream in{text};
  std::string section;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.front() == '[') {
      section = line;
      continue;
    }
    std::smatch m;
    if (section != "[global]" || !std::regex_match(line, m, option_re))
      continue;
    ini_option opt;
    opt.commented = m[1] == ";";
    opt.value = m[3];
    if (opt.value.size() >= 2 && opt.value.front() == '"' && opt.value.back() == '"')
      opt.value = opt.value.substr(1, opt.value.size() - 2);
    INFO(line);
    CHECK(result.emplace(m[2], opt).second);
  }
  return result;
}

// The `defaults=(--name=value ...)` array of scripts/run.
std::map<std::string, std::string> parse_run_defaults(const std::string& text) {
  static const std::regex array_re{R"(^defaults=\((.*)\)$)", std::regex::multiline};
  static const std::regex arg_re{R"(^--([a-z][a-z-]*)=(.*)$)"};
  std::smatch m;
  REQUIRE(std::regex_search(text, m, array_re));
  std::map<std::string, std::string> result;
  std::istringstream in{m[1].str()};
  for (std::string arg; in >> arg;) {
    std::smatch a;
    INFO(arg);
    REQUIRE(std::regex_match(arg, a, arg_re));
    CHECK(result.emplace(a[1], a[2]).second);
  }
  return result;
}

std::set<std::string> our_options() {
  std::set<std::string> names = absent_options;
  for (auto& [name, value] : option_defaults())
    names.insert(name);
  return names;
}

} // namespace

TEST_CASE("the help text shows every option and the default of core/defaults.hpp", "[app]") {
  auto text = help_text();
  INFO(text);
  auto help = parse_help(text);
  std::set<std::string> listed;
  for (auto& [name, opt] : help)
    if (caf_options.count(name) == 0)
      listed.insert(name);
  CHECK(listed == our_options());
  for (auto& [name, value] : option_defaults()) {
    INFO("--" << name);
    REQUIRE(help.count(name) == 1);
    CHECK(help[name].has_default);
    CHECK(help[name].default_value == value);
  }
  for (auto& name : absent_options) {
    INFO("--" << name);
    REQUIRE(help.count(name) == 1);
    CHECK_FALSE(help[name].has_default);
  }
}

TEST_CASE("configs/taskschedulizer.ini lists every option with its default", "[app]") {
  auto ini = parse_ini(read_file(std::string{TS_SOURCE_DIR} + "/configs/taskschedulizer.ini"));
  std::set<std::string> listed;
  for (auto& [name, opt] : ini)
    listed.insert(name);
  // The binary's own list, so an option added there and forgotten here fails too.
  std::set<std::string> binary;
  for (auto& [name, opt] : parse_help(help_text()))
    if (caf_options.count(name) == 0)
      binary.insert(name);
  CHECK(listed == binary);
  for (auto& [name, value] : option_defaults()) {
    INFO(name);
    REQUIRE(ini.count(name) == 1);
    CHECK_FALSE(ini[name].commented);
    CHECK(ini[name].value == value);
  }
  for (auto& name : absent_options) {
    INFO(name);
    REQUIRE(ini.count(name) == 1);
    CHECK(ini[name].commented);
  }
}

TEST_CASE("scripts/run passes the defaults of core/defaults.hpp", "[app]") {
  auto run = parse_run_defaults(read_file(std::string{TS_SOURCE_DIR} + "/scripts/run"));
  CHECK_FALSE(run.empty());
  for (auto& [name, value] : run) {
    INFO("--" << name);
    REQUIRE(option_defaults().count(name) == 1);
    CHECK(value == option_defaults().at(name));
  }
}
