#include "app/config.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <caf/config_option_adder.hpp>

#include "actors/interfaces.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "storage/db_url.hpp"

namespace ts::app {

namespace {

// The help text of an option with a default, in the form CAF uses for its own
// (--config-file): tests/app/test_defaults.cpp reads it back.
template <class T>
std::string with_default(const std::string& text, const T& value) {
  std::ostringstream out;
  out << text << " (default: " << value << ")";
  return out.str();
}

caf::error invalid(std::string text) {
  return make_error(ec::invalid_argument, std::move(text));
}

struct run_as_users {
  std::optional<run_user> run_as;
  std::vector<std::string> allowed;
};

// --run-as and --allowed-run-as, checked now rather than at the first run: a missing user is
// the operator's to see at start-up. Only root can switch users, so a service that is not
// root runs everything as itself and may be offered no other name.
caf::expected<run_as_users> read_run_as(const config& cfg) {
  run_as_users out;
  bool root = ::geteuid() == 0;
  std::string self;
  if (!root) {
    if (auto* pw = ::getpwuid(::geteuid()))
      self = pw->pw_name;
  }
  auto others_need_root = [&](const std::string& option, const std::string& name) {
    return invalid(option + name + ": the service runs as " + (self.empty() ? "uid "
                   + std::to_string(::geteuid()) : self)
                   + ", and only a service started as root can run commands as another user");
  };
  if (root) {
    auto name = cfg.run_as.empty() ? std::string{defaults::run_as_user} : cfg.run_as;
    auto user = resolve_user(name);
    if (!user && cfg.run_as.empty())
      return invalid("started as root, the service runs commands as the system user "
                     + name + ", which does not exist: create it (scripts/deps does, with "
                       "useradd --system), name another with --run-as=USER, or keep root "
                       "with --run-as=root");
    if (!user)
      return invalid("--run-as=" + name + ": no such user");
    out.run_as = std::move(*user);
    out.allowed.push_back(name);
  } else if (!cfg.run_as.empty() && cfg.run_as != self) {
    return others_need_root("--run-as=", cfg.run_as);
  } else if (!self.empty()) {
    out.allowed.push_back(self);
  }
  for (std::string_view rest = cfg.allowed_run_as; !rest.empty();) {
    auto comma = rest.find(',');
    std::string name{trim(rest.substr(0, comma))};
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (name.empty()
        || std::find(out.allowed.begin(), out.allowed.end(), name) != out.allowed.end())
      continue;
    if (!root)
      return others_need_root("--allowed-run-as: ", name);
    if (::getpwnam(name.c_str()) == nullptr)
      return invalid("--allowed-run-as: no user " + name);
    out.allowed.push_back(std::move(name));
  }
  return out;
}

// Reads a one-line secret, without its trailing newline.
caf::expected<std::string> read_secret(const std::string& path, const char* what) {
  std::ifstream in{path};
  if (!in)
    return invalid(std::string{"cannot read the "} + what + " file " + path);
  std::stringstream buf;
  buf << in.rdbuf();
  auto s = buf.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
    s.pop_back();
  if (s.empty())
    return invalid(std::string{"the "} + what + " file " + path + " is empty");
  return s;
}

} // namespace

caf::expected<token_set> read_token_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return invalid("cannot read the API token file " + path);
  std::string text(max_token_file_bytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (in.bad())
    return invalid("cannot read the API token file " + path);
  if (text.size() > max_token_file_bytes)
    return invalid("the API token file " + path + " is larger than 1 MiB");
  auto set = parse_token_file(text);
  if (!set)
    return invalid("the API token file " + path + ": " + set.error());
  return *set;
}

namespace {

// A private key file: readable, and by its owner only (as ssh wants of its keys), so that
// no other local user can read the key the API's TLS rests on.
caf::error check_private_file(const std::string& path, const char* option) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0)
    return invalid(std::string{option} + "=" + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    return invalid(std::string{option} + "=" + path + " is not a regular file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return invalid(std::string{option} + "=" + path + " is accessible to other users (mode "
                   + mode + "): chmod 600 it, so that only its owner can read the key");
  }
  return caf::none;
}

bool is_loopback(const std::string& addr) {
  if (addr == "localhost")
    return true;
  in_addr v4;
  if (inet_pton(AF_INET, addr.c_str(), &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, addr.c_str(), &v6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

/// The largest --max-output-bytes.
constexpr size_t max_output_cap = 64 * 1024 * 1024;

} // namespace

config::config() {
  opt_group{custom_options_, "global"}
    .add(port, "port", with_default("TCP port to listen on; 0 picks a free port", defaults::port))
    .add(bind, "bind",
         with_default("address to listen on; any other than loopback requires "
                      "--api-token-file and TLS (or --insecure-http)",
                      defaults::bind))
    .add(db, "db",
         with_default("database URL: sqlite:PATH or "
                      "mysql://USER:PASSWORD@HOST:PORT/DATABASE[?socket=PATH]",
                      defaults::db))
    .add(db_password_file, "db-password-file",
         std::string{"file holding the database password (else "} + password_env + ")")
    .add(db_wait, "db-wait",
         with_default("seconds to keep retrying an unreachable database at start-up; 0 fails "
                      "at once",
                      defaults::db_wait_s))
    .add(max_running, "max-running",
         with_default("commands running at once", defaults::max_running))
    .add(shutdown_grace, "shutdown-grace",
         with_default("seconds running commands get to finish at shutdown",
                      defaults::shutdown_grace_s))
    .add(api_token_file, "api-token-file",
         "file of the bearer tokens requests must carry: one bare token, or lines NAME "
         "read|write TOKEN (read: GET only); read again on SIGHUP")
    .add(audit_log, "audit-log",
         "file the audit log is appended to (one JSON line per event of every request but "
         "GET and HEAD, synced before it acts); unset: the main log")
    .add(tls_cert_file, "tls-cert-file",
         "PEM certificate (chain: the server's first) for HTTPS; with --tls-key-file")
    .add(tls_key_file, "tls-key-file",
         "PEM private key of --tls-cert-file, unencrypted, readable by its owner only")
    .add(insecure_http, "insecure-http",
         with_default("allow plain HTTP on an address other than loopback (a token is still "
                      "required): only behind a proxy that terminates TLS",
                      defaults::insecure_http ? "true" : "false"))
    .add(http_threads, "http-threads", with_default("threads serving HTTP", defaults::http_threads))
    .add(http_nice, "http-nice",
         with_default("how much nicer the HTTP threads run than the rest (0-19), so that "
                      "due tasks start first when the CPU is contended; 0: as the rest",
                      defaults::http_nice))
    .add(max_connections, "max-connections",
         with_default("open HTTP connections; beyond them 503 overloaded",
                      defaults::max_connections))
    .add(max_in_flight, "max-in-flight",
         with_default("HTTP requests being served at once; beyond them 503 overloaded",
                      defaults::max_in_flight))
    .add(header_timeout, "header-timeout",
         with_default("seconds a client has to send a request head; then 408",
                      defaults::header_timeout_s))
    .add(idle_timeout, "idle-timeout",
         with_default("seconds an idle keep-alive connection stays open",
                      defaults::idle_timeout_s))
    .add(log_level, "log-level",
         with_default("debug, info, warn, error or off", defaults::log_level))
    .add(log_format, "log-format", with_default("text (key=value) or json", defaults::log_format))
    .add(metrics, "metrics",
         with_default("on or off: instrumentation and GET /metrics (docs/metrics.md)",
                      defaults::metrics))
    .add(default_time_zone, "default-time-zone",
         with_default("IANA time zone that times without an offset are read in "
                      "(Europe/Berlin); local: the process's zone (TZ, else /etc/localtime)",
                      defaults::default_time_zone))
    .add(max_output_bytes, "max-output-bytes",
         with_default("the largest output_limit_bytes a task may ask for (1024 to 67108864; "
                      "MariaDB: keep max_allowed_packet above it)",
                      defaults::max_output_bytes))
    .add(shutdown_kill_grace, "shutdown-kill-grace",
         with_default("at shutdown, seconds between SIGTERM and SIGKILL of a run still "
                      "running after --shutdown-grace (a task's own kill_grace_s, if shorter, "
                      "wins)",
                      defaults::shutdown_kill_grace_s))
    .add(allowed_run_as, "allowed-run-as",
         "comma-separated users a task may name in run_as (else 403 forbidden)")
    .add(run_as, "run-as",
         "as root, the user commands run as unless a task names its own (default "
         "taskschedulizer; root keeps root); not as root, only the service's own user")
    .add(kill_mode, "kill-mode",
         with_default("how every process of a run is found and killed: cgroup (a cgroup v2 "
                      "per run), scan (its TS_RUN_ID in /proc), or auto (cgroup where the "
                      "service can create one)",
                      defaults::kill_mode));
  register_types(*this);
  // CAF's scheduler defaults suit a machine given over to one actor system: at least 4
  // workers that poll for ~25 ms (sleeping 50 us at a time) before they block. Here they
  // share the cores with HTTP, the database and the commands, and that polling took ~15 %
  // of the CPU per request (perf during bench/run): one worker per core, blocking soon.
  // Still overridable (--scheduler.max-threads=N, [work-stealing] in the INI).
  set("scheduler.max-threads",
      std::max<size_t>(2, static_cast<size_t>(std::thread::hardware_concurrency())));
  set("work-stealing.aggressive-poll-attempts", size_t{10});
  set("work-stealing.moderate-poll-attempts", size_t{0});
}

caf::settings config::dump_content() const {
  auto result = actor_system_config::dump_content();
  // CAF lists global options both at the top level and under "global".
  auto redacted = storage::redact_db_url(db);
  result["db"] = redacted;
  result["global"].as_dictionary()["db"] = redacted;
  return result;
}

caf::error apply_log_options(const config& cfg) {
  log::level lvl;
  if (!log::parse_level(cfg.log_level, lvl))
    return invalid("--log-level must be debug, info, warn, error or off");
  log::set_level(lvl);
  if (cfg.log_format != "text" && cfg.log_format != "json")
    return invalid("--log-format must be text or json");
  log::set_json(cfg.log_format == "json");
  return caf::none;
}

caf::expected<options> read_options(const config& cfg) {
  if (cfg.max_running == 0)
    return invalid("--max-running must be at least 1");
  if (cfg.max_connections == 0)
    return invalid("--max-connections must be at least 1");
  if (cfg.max_in_flight == 0)
    return invalid("--max-in-flight must be at least 1");
  if (cfg.http_nice > 19)
    return invalid("--http-nice must be from 0 to 19");
  if (cfg.header_timeout == 0 || cfg.header_timeout > 3600)
    return invalid("--header-timeout must be from 1 to 3600 seconds");
  if (cfg.idle_timeout == 0 || cfg.idle_timeout > 3600)
    return invalid("--idle-timeout must be from 1 to 3600 seconds");
  if (cfg.metrics != "on" && cfg.metrics != "off")
    return invalid("--metrics must be on or off");
  options opts;
  // "local" stays null: requests then read the process's zone through libc, as before.
  if (cfg.default_time_zone != "local") {
    auto zone = find_time_zone(cfg.default_time_zone);
    if (!zone)
      return invalid("--default-time-zone=" + cfg.default_time_zone + ": " + zone.error()
                     + " (the names are those of /usr/share/zoneinfo; local is the "
                       "process's zone)");
    opts.default_time_zone = *zone;
  }
  // Each run's tail is one value in the database: MariaDB's packet limit (16 MiB by
  // default) must hold it, so the bound stays well within what an operator can raise.
  if (cfg.max_output_bytes < 1024 || cfg.max_output_bytes > max_output_cap)
    return invalid("--max-output-bytes must be from 1024 to 67108864");
  opts.max_output_bytes = static_cast<int64_t>(cfg.max_output_bytes);
  if (cfg.shutdown_kill_grace > 600)
    return invalid("--shutdown-kill-grace must be at most 600 seconds");
  opts.shutdown_kill_grace_ms = static_cast<int64_t>(cfg.shutdown_kill_grace) * 1000;
  auto mode = parse_kill_mode(cfg.kill_mode);
  if (!mode)
    return invalid("--kill-mode must be auto, cgroup or scan");
  opts.kill_mode = *mode;
  auto users = read_run_as(cfg);
  if (!users)
    return users.error();
  opts.run_as = std::move(users->run_as);
  opts.allowed_run_as = std::move(users->allowed);
  opts.port = cfg.port;
  opts.bind = cfg.bind;
  opts.db = cfg.db;
  opts.max_running = cfg.max_running;
  opts.shutdown_grace_s = cfg.shutdown_grace;
  opts.db_wait_s = cfg.db_wait;
  opts.http_threads = cfg.http_threads;
  opts.http_nice = cfg.http_nice;
  opts.max_connections = cfg.max_connections;
  opts.max_in_flight = cfg.max_in_flight;
  opts.header_timeout_s = cfg.header_timeout;
  opts.idle_timeout_s = cfg.idle_timeout;
  opts.metrics = cfg.metrics == "on";
  // A secret file's errors keep their code in the text (invalid_argument: ...).
  if (!cfg.api_token_file.empty()) {
    auto t = read_token_file(cfg.api_token_file);
    if (!t)
      return t.error();
    opts.tokens = std::make_shared<const token_set>(std::move(*t));
    opts.api_token_file = cfg.api_token_file;
  }
  opts.audit_log = cfg.audit_log;
  if (!opts.tokens && !is_loopback(cfg.bind))
    return invalid("refusing to listen on " + cfg.bind
                   + " without --api-token-file: the service runs shell commands, and "
                     "anyone who can reach it could run them");
  if (cfg.tls_cert_file.empty() != cfg.tls_key_file.empty())
    return invalid("--tls-cert-file and --tls-key-file go together: give both, or neither");
  if (!cfg.tls_key_file.empty()) {
    if (auto err = check_private_file(cfg.tls_key_file, "--tls-key-file"))
      return err;
    opts.tls_cert_file = cfg.tls_cert_file;
    opts.tls_key_file = cfg.tls_key_file;
  }
  // A bearer token sent in clear text over a network is a leaked token.
  if (!opts.tls_cert_file && !cfg.insecure_http && !is_loopback(cfg.bind))
    return invalid("refusing to listen on " + cfg.bind
                   + " without TLS (--tls-cert-file, --tls-key-file): the token would cross "
                     "the network in clear text; behind a TLS-terminating proxy, say "
                     "--insecure-http");
  if (!cfg.db_password_file.empty()) {
    auto pw = read_secret(cfg.db_password_file, "database password");
    if (!pw)
      return invalid(render(pw.error()));
    opts.db_password = std::move(*pw);
  } else if (auto env = getenv(password_env)) {
    opts.db_password = env;
  }
  unsetenv(password_env);
  return opts;
}

std::string reason(const caf::error& err) {
  auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  return render(err);
}

} // namespace ts::app
