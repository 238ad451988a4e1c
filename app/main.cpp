// taskschedulizer: reads options, opens the store, starts the actors and the HTTP front
// end, and shuts them down in order on SIGINT/SIGTERM.
#include <arpa/inet.h>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/config_option_adder.hpp>
#include <caf/settings.hpp>

#include "core/defaults.hpp"
#include "core/error.hpp"
#include "actors/interfaces.hpp"
#include "core/log.hpp"
#include "metrics/metrics.hpp"
#include "actors/system.hpp"
#include "http/gateway.hpp"
#include "http/server.hpp"
#include "storage/db_url.hpp"
#include "storage/store.hpp"

namespace {

constexpr const char* password_env = "TASKSCHEDULIZER_DB_PASSWORD";

class config : public caf::actor_system_config {
public:
  uint16_t port = ts::defaults::port;
  std::string bind = ts::defaults::bind;
  std::string db = ts::defaults::db;
  size_t max_running = ts::defaults::max_running;
  size_t shutdown_grace = ts::defaults::shutdown_grace_s;
  std::string api_token_file;
  std::string db_password_file;
  size_t db_wait = 0;
  std::string log_level = "info";
  std::string log_format = "text";
  size_t http_threads = 2;
  std::string metrics = "on";

  config() {
    opt_group{custom_options_, "global"}
      .add(port, "port", "TCP port to listen on; 0 picks a free port (default 8081)")
      .add(bind, "bind", "address to listen on (default 127.0.0.1); any other than "
                         "loopback requires --api-token-file")
      .add(db, "db", "database URL: sqlite:PATH (default sqlite:data/taskschedulizer.db) "
                     "or mysql://USER:PASSWORD@HOST:PORT/DATABASE[?socket=PATH]")
      .add(db_password_file, "db-password-file",
           "file holding the database password (else TASKSCHEDULIZER_DB_PASSWORD)")
      .add(db_wait, "db-wait",
           "seconds to keep retrying an unreachable database at start-up (default 0: "
           "fail at once)")
      .add(max_running, "max-running", "commands running at once (default 64)")
      .add(shutdown_grace, "shutdown-grace",
           "seconds running commands get to finish at shutdown (default 30)")
      .add(api_token_file, "api-token-file",
           "file holding the bearer token every request must carry")
      .add(http_threads, "http-threads", "threads serving HTTP (default 2)")
      .add(log_level, "log-level", "debug, info, warn, error or off (default info)")
      .add(log_format, "log-format", "text (key=value) or json (default text)")
      .add(metrics, "metrics",
           "on or off (default on): instrumentation and GET /metrics (docs/metrics.md)");
    ts::register_types(*this);
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

  // CAF prints options verbatim; the database URL may carry a password.
  caf::settings dump_content() const override {
    auto result = actor_system_config::dump_content();
    // CAF lists global options both at the top level and under "global".
    auto redacted = ts::storage::redact_db_url(db);
    result["db"] = redacted;
    result["global"].as_dictionary()["db"] = redacted;
    return result;
  }
};

int fail(const std::string& message) {
  ts::log::error("startup_failed", {{"error", message}});
  std::cerr << "taskschedulizer: " << message << std::endl;
  return EXIT_FAILURE;
}

// Reads a one-line secret, without its trailing newline.
caf::expected<std::string> read_secret(const std::string& path, const char* what) {
  std::ifstream in{path};
  if (!in)
    return ts::make_error(ts::ec::invalid_argument,
                          std::string{"cannot read the "} + what + " file " + path);
  std::stringstream buf;
  buf << in.rdbuf();
  auto s = buf.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
    s.pop_back();
  if (s.empty())
    return ts::make_error(ts::ec::invalid_argument,
                          std::string{"the "} + what + " file " + path + " is empty");
  return s;
}

// Opens the store. With --db-wait, an unreachable database is tried again with backoff until
// it answers or the time is up; other errors (a wrong password, a newer schema) fail at once,
// since waiting would not fix them. SIGINT/SIGTERM (blocked, so taken here) end the wait.
caf::expected<std::unique_ptr<ts::storage::store>>
open_store_waiting(const std::string& url, const ts::storage::store_options& opts,
                   size_t wait_s, const sigset_t& stop_signals) {
  using namespace std::chrono;
  constexpr size_t max_wait_s = 365 * 24 * 3600;  // keeps the deadline far from overflow
  auto deadline = steady_clock::now() + seconds(std::min(wait_s, max_wait_s));
  milliseconds backoff = ts::defaults::reconnect_min;
  for (int attempt = 1;; ++attempt) {
    auto store = ts::storage::open_store(url, opts);
    if (store || store.error() != ts::ec::unavailable)
      return store;
    auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left <= milliseconds::zero()) {
      if (wait_s == 0)
        return store;
      return ts::make_error(ts::ec::unavailable,
                            "no answer within --db-wait=" + std::to_string(wait_s)
                              + " s; last: " + ts::render(store.error()));
    }
    auto delay = std::min(backoff, left);
    // The store's errors name the server, never the password.
    ts::log::warn("database_unreachable", {{"attempt", attempt},
                                           {"retry_in_ms", delay.count()},
                                           {"error", ts::render(store.error())}});
    timespec pause{static_cast<time_t>(delay.count() / 1000),
                   static_cast<long>(delay.count() % 1000) * 1000000};
    if (sigtimedwait(&stop_signals, nullptr, &pause) > 0)
      return ts::make_error(ts::ec::unavailable,
                            "stopped by a signal while waiting for the database");
    backoff = std::min(backoff * 2, duration_cast<milliseconds>(ts::defaults::reconnect_max));
  }
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

} // namespace

int main(int argc, char** argv) {
  // Signals are taken by sigwait below; every thread inherits this mask (children get a
  // clean one from the process runner).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  config cfg;
  if (auto err = cfg.parse(argc, argv))
    return fail("invalid options: " + caf::to_string(err));
  if (cfg.cli_helptext_printed)
    return EXIT_SUCCESS;
  if (!cfg.remainder.empty())
    return fail("unknown argument: " + cfg.remainder.front() + " (see --help)");
  ts::log::level lvl;
  if (!ts::log::parse_level(cfg.log_level, lvl))
    return fail("--log-level must be debug, info, warn, error or off");
  ts::log::set_level(lvl);
  if (cfg.log_format != "text" && cfg.log_format != "json")
    return fail("--log-format must be text or json");
  ts::log::set_json(cfg.log_format == "json");
  if (cfg.max_running == 0)
    return fail("--max-running must be at least 1");
  if (cfg.metrics != "on" && cfg.metrics != "off")
    return fail("--metrics must be on or off");
  // Null under --metrics=off: every instrumented place then skips its counting.
  std::shared_ptr<ts::metrics> meters;
  if (cfg.metrics == "on") {
    auto m = ts::metrics::make();
    if (!m)
      return fail(ts::render(m.error()));
    meters = std::move(*m);
  }

  std::string token;
  if (!cfg.api_token_file.empty()) {
    auto t = read_secret(cfg.api_token_file, "API token");
    if (!t)
      return fail(ts::render(t.error()));
    token = std::move(*t);
  }
  if (token.empty() && !is_loopback(cfg.bind))
    return fail("refusing to listen on " + cfg.bind
                + " without --api-token-file: the service runs shell commands, and "
                  "anyone who can reach it could run them");

  ts::storage::store_options store_opts;
  if (!cfg.db_password_file.empty()) {
    auto pw = read_secret(cfg.db_password_file, "database password");
    if (!pw)
      return fail(ts::render(pw.error()));
    store_opts.password = std::move(*pw);
  } else if (auto env = getenv(password_env)) {
    store_opts.password = env;
  }
  // Commands must not inherit the password.
  unsetenv(password_env);

  auto store = open_store_waiting(cfg.db, store_opts, cfg.db_wait, stop_signals);
  if (!store)
    return fail("cannot open database " + ts::storage::redact_db_url(cfg.db) + ": "
                + ts::render(store.error()));
  std::shared_ptr<ts::storage::store> db{std::move(*store)};

  caf::actor_system sys{cfg};
  auto clock = std::make_shared<ts::system_wall_clock>();
  ts::service_options opts;
  opts.coordinator.max_running = cfg.max_running;
  opts.metrics = meters;
  auto actors = ts::start_service(sys, db, ts::make_posix_process_runner(), clock, opts);
  if (!actors)
    return fail("cannot start: " + ts::render(actors.error()));

  auto gateway = ts::spawn_gateway(sys, actors->coordinator, actors->persistence,
                                   ts::defaults::request_timeout, meters);
  ts::server_options srv_opts;
  srv_opts.bind = cfg.bind;
  srv_opts.port = cfg.port;
  srv_opts.api_token = token;
  srv_opts.threads = cfg.http_threads;
  srv_opts.metrics = meters;
  auto server = ts::start_http_server(srv_opts, gateway);
  if (!server) {
    ts::stop_service(sys, *actors, 0);
    caf::anon_send_exit(gateway, caf::exit_reason::user_shutdown);
    return fail("cannot listen on " + cfg.bind + ":" + std::to_string(cfg.port) + ": "
                + ts::render(server.error()));
  }
  ts::log::info("started", {{"bind", cfg.bind}, {"port", (*server)->port()},
                            {"db", ts::storage::redact_db_url(cfg.db)},
                            {"max_running", cfg.max_running}, {"metrics", cfg.metrics}});
  std::cout << "listening on " << cfg.bind << ":" << (*server)->port() << std::endl;

  int sig = 0;
  sigwait(&stop_signals, &sig);
  ts::log::info("stopping", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
  // New requests get 503 from here on; those in flight still get their answer.
  (*server)->reject_new_requests();
  ts::stop_service(sys, *actors, static_cast<int64_t>(cfg.shutdown_grace) * 1000);
  (*server)->stop();
  caf::anon_send_exit(gateway, caf::exit_reason::user_shutdown);
  ts::log::info("stopped");
  return EXIT_SUCCESS;
}
