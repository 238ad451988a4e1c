// taskschedulizer: takes the options (app/config.hpp), opens the store, starts the actors
// and the HTTP front end, reads the token file again on SIGHUP, and shuts them down in
// order on SIGINT/SIGTERM.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include <unistd.h>

#include <caf/actor_system.hpp>

#include "actors/interfaces.hpp"
#include "actors/system.hpp"
#include "app/config.hpp"
#include "core/defaults.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "http/audit.hpp"
#include "http/gateway.hpp"
#include "http/server.hpp"
#include "metrics/metrics.hpp"
#include "storage/db_url.hpp"
#include "storage/store.hpp"

namespace {

int fail(const std::string& message) {
  ts::log::error("startup_failed", {{"error", message}});
  std::cerr << "taskschedulizer: " << message << std::endl;
  return EXIT_FAILURE;
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

// Where a shutdown saves the writes the database refused, for the next start to replay:
// beside an SQLite file, whose folder the service writes anyway; for MySQL, in the working
// directory's data/ (where the default SQLite file lives), named after server and database
// so that two services sharing a folder never replay each other's.
std::string recovery_path_for(const std::string& url) {
  auto u = ts::storage::parse_db_url(url);
  if (!u)
    return "";  // open_store has refused it already
  if (u->scheme == "sqlite")
    return u->path + ".recovery";
  auto where = u->socket.empty() ? u->host + "-" + std::to_string(u->port ? u->port : 3306)
                                 : u->socket;
  auto name = "mysql-" + where + "-" + u->database;
  for (auto& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-')
      c = '_';
  std::error_code ec;
  std::filesystem::create_directories("data", ec);
  return "data/" + name + ".recovery";
}

// SIGHUP: the token file again. A file that does not read or parse keeps the tokens in
// force, and the log says why (by line; the parser never quotes a token). Names only.
void reload_tokens(const std::string& path, ts::token_holder& holder) {
  auto next = ts::app::read_token_file(path);
  if (!next) {
    ts::log::warn("tokens_not_reloaded",
                  {{"error", ts::app::reason(next.error())},
                   {"detail", "the tokens in force stay"},
                   {"tokens", ts::token_names(*holder.get())}});
    return;
  }
  auto names = ts::token_names(*next);
  holder.set(std::make_shared<const ts::token_set>(std::move(*next)));
  ts::log::info("tokens_reloaded", {{"count", static_cast<int64_t>(holder.get()->tokens.size())},
                                    {"tokens", names}});
}

} // namespace

int main(int argc, char** argv) {
  // Signals are taken by sigwait below; every thread inherits this mask (children get a
  // clean one from the process runner). SIGHUP is blocked from the start too: its default
  // would end the process.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigset_t signals = stop_signals;
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ts::app::config cfg;
  if (auto err = cfg.parse(argc, argv))
    return fail("invalid options: " + caf::to_string(err));
  if (cfg.cli_helptext_printed)
    return EXIT_SUCCESS;
  if (!cfg.remainder.empty())
    return fail("unknown argument: " + cfg.remainder.front() + " (see --help)");
  if (auto err = ts::app::apply_log_options(cfg))
    return fail(ts::app::reason(err));
  auto opt = ts::app::read_options(cfg);
  if (!opt)
    return fail(ts::app::reason(opt.error()));
  // Opened before anything acts: a path that cannot be opened stops the start.
  std::string audit_error;
  auto audit = ts::api::audit_log::open(opt->audit_log, audit_error);
  if (!audit)
    return fail(audit_error);
  std::shared_ptr<ts::token_holder> tokens;
  if (opt->tokens)
    tokens = std::make_shared<ts::token_holder>(opt->tokens);
  // Before the database: a bad certificate or key is the operator's to see at once.
  std::shared_ptr<ts::tls_credentials> tls;
  if (opt->tls_cert_file) {
    auto loaded = ts::load_tls_credentials(*opt->tls_cert_file, *opt->tls_key_file);
    if (!loaded)
      return fail(ts::app::reason(loaded.error()));
    tls = std::move(*loaded);
  }
  // Null under --metrics=off: every instrumented place then skips its counting.
  std::shared_ptr<ts::metrics> meters;
  if (opt->metrics) {
    auto m = ts::metrics::make();
    if (!m)
      return fail(ts::render(m.error()));
    meters = std::move(*m);
  }

  ts::storage::store_options store_opts;
  store_opts.password = opt->db_password;
  auto store = open_store_waiting(opt->db, store_opts, opt->db_wait_s, stop_signals);
  if (!store)
    return fail("cannot open database " + ts::storage::redact_db_url(opt->db) + ": "
                + ts::render(store.error()));
  std::shared_ptr<ts::storage::store> db{std::move(*store)};

  caf::actor_system sys{cfg};
  auto clock = std::make_shared<ts::system_wall_clock>();
  ts::service_options service_opts;
  service_opts.coordinator.max_running = opt->max_running;
  service_opts.coordinator.shutdown_kill_grace_ms = opt->shutdown_kill_grace_ms;
  service_opts.metrics = meters;
  service_opts.recovery_path = recovery_path_for(opt->db);
  // The runner's state (start markers) lives beside the recovery file: the same place after
  // a restart, which is how crash recovery finds a dead service's runs.
  ts::runner_options runner_opts;
  runner_opts.kill = opt->kill_mode;
  runner_opts.default_user = opt->run_as;
  if (!opt->run_as)
    ts::log::info("run_as", {{"uid", static_cast<int64_t>(::geteuid())},
                             {"detail", "not root: commands run as the service's own user"}});
  else if (opt->run_as->uid == 0)
    ts::log::warn("run_as", {{"user", opt->run_as->name}, {"uid", 0},
                             {"detail", "commands run as root, as --run-as=root asks"}});
  else
    ts::log::info("run_as", {{"user", opt->run_as->name},
                             {"uid", static_cast<int64_t>(opt->run_as->uid)}});
  if (!service_opts.recovery_path.empty()) {
    auto path = service_opts.recovery_path;
    runner_opts.state_dir = path.substr(0, path.size() - std::string{".recovery"}.size())
                            + ".state";
    std::error_code ec;
    std::filesystem::create_directories(runner_opts.state_dir, ec);
  }
  auto scope = ts::resolve_scope(runner_opts);
  if (opt->kill_mode != ts::kill_mode::auto_detect && scope.mode != opt->kill_mode)
    return fail("--kill-mode=" + std::string{ts::to_string(opt->kill_mode)}
                + " is not available here: " + scope.detail);
  ts::log::info("kill_mode", {{"mode", ts::to_string(scope.mode)}, {"detail", scope.detail}});
  service_opts.scope = scope;
  auto actors = ts::start_service(sys, db, ts::make_posix_process_runner(runner_opts), clock,
                                  service_opts);
  if (!actors)
    return fail("cannot start: " + ts::render(actors.error()));

  auto gateway = ts::spawn_gateway(sys, actors->coordinator, actors->persistence,
                                   ts::defaults::request_timeout, meters);
  ts::server_options srv_opts;
  srv_opts.bind = opt->bind;
  srv_opts.port = opt->port;
  srv_opts.tokens = tokens;
  srv_opts.audit = audit;
  srv_opts.threads = opt->http_threads;
  srv_opts.nice = static_cast<int>(opt->http_nice);
  srv_opts.max_connections = opt->max_connections;
  srv_opts.max_in_flight = opt->max_in_flight;
  srv_opts.header_timeout = std::chrono::seconds(opt->header_timeout_s);
  srv_opts.idle_timeout = std::chrono::seconds(opt->idle_timeout_s);
  srv_opts.metrics = meters;
  srv_opts.default_time_zone = opt->default_time_zone;
  srv_opts.max_output_bytes = opt->max_output_bytes;
  srv_opts.allowed_run_as = opt->allowed_run_as;
  srv_opts.tls = tls;
  auto server = ts::start_http_server(srv_opts, gateway);
  if (!server) {
    ts::stop_service(sys, *actors, 0);
    caf::anon_send_exit(gateway, caf::exit_reason::user_shutdown);
    return fail("cannot listen on " + opt->bind + ":" + std::to_string(opt->port) + ": "
                + ts::render(server.error()));
  }
  ts::log::info("started", {{"bind", opt->bind}, {"port", (*server)->port()},
                            {"db", ts::storage::redact_db_url(opt->db)},
                            {"max_running", opt->max_running},
                            {"metrics", opt->metrics ? "on" : "off"},
                            {"tls", tls ? "on" : "off"},
                            {"tokens", tokens ? ts::token_names(*tokens->get()) : "none"},
                            {"audit_log", audit->path().empty() ? "main log" : audit->path()}});
  std::cout << "listening on " << opt->bind << ":" << (*server)->port() << std::endl;

  int sig = 0;
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGHUP)
      break;
    if (tokens)
      reload_tokens(opt->api_token_file, *tokens);
    else
      ts::log::info("tokens_not_reloaded", {{"detail", "started without --api-token-file"}});
  }
  ts::log::info("stopping", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
  // New requests get 503 from here on; those in flight still get their answer.
  (*server)->reject_new_requests();
  auto incomplete
    = ts::stop_service(sys, *actors, static_cast<int64_t>(opt->shutdown_grace_s) * 1000);
  (*server)->stop();
  caf::anon_send_exit(gateway, caf::exit_reason::user_shutdown);
  // Writes went to the recovery file (or were lost): a supervisor must see that.
  if (incomplete) {
    ts::log::error("stopped", {{"exit_code", EXIT_FAILURE}, {"error", ts::render(incomplete)}});
    return EXIT_FAILURE;
  }
  ts::log::info("stopped");
  return EXIT_SUCCESS;
}
