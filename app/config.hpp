// The binary's options: the CAF config class that parses them (command line and INI), and
// their validation into `options`, with the secrets read from their files or the
// environment. Every default comes from core/defaults.hpp, and so does the --help text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>
#include <caf/settings.hpp>

#include "core/defaults.hpp"
#include "core/tokens.hpp"
#include "process/run_env.hpp"
#include "process/run_scope.hpp"
#include "core/time_zone.hpp"

namespace ts::app {

/// Where the database password comes from when there is no --db-password-file.
constexpr const char* password_env = "TASKSCHEDULIZER_DB_PASSWORD";

/// The options as CAF parses them. CAF 0.17 cannot hold an optional, so an absent file
/// option is the empty string here; `options` says absent with std::optional.
class config : public caf::actor_system_config {
public:
  uint16_t port = defaults::port;
  std::string bind = defaults::bind;
  std::string db = defaults::db;
  size_t max_running = defaults::max_running;
  size_t shutdown_grace = defaults::shutdown_grace_s;
  std::string api_token_file;
  std::string audit_log;
  std::string db_password_file;
  size_t db_wait = defaults::db_wait_s;
  std::string log_level = defaults::log_level;
  std::string log_format = defaults::log_format;
  size_t http_threads = defaults::http_threads;
  size_t http_nice = defaults::http_nice;
  size_t max_connections = defaults::max_connections;
  size_t max_in_flight = defaults::max_in_flight;
  size_t header_timeout = defaults::header_timeout_s;
  size_t idle_timeout = defaults::idle_timeout_s;
  std::string metrics = defaults::metrics;
  std::string default_time_zone = defaults::default_time_zone;
  size_t max_output_bytes = static_cast<size_t>(defaults::max_output_bytes);
  size_t shutdown_kill_grace = defaults::shutdown_kill_grace_s;
  std::string allowed_run_as;
  std::string run_as;
  std::string kill_mode = defaults::kill_mode;
  std::string tls_cert_file;
  std::string tls_key_file;
  bool insecure_http = defaults::insecure_http;

  config();

  /// CAF prints options verbatim; the database URL may carry a password.
  caf::settings dump_content() const override;
};

/// The options checked, with the secrets read.
struct options {
  uint16_t port{};
  std::string bind;
  std::string db;
  size_t max_running{};
  size_t shutdown_grace_s{};
  size_t db_wait_s{};
  size_t http_threads{};
  size_t http_nice{};
  size_t max_connections{};
  size_t max_in_flight{};
  size_t header_timeout_s{};
  size_t idle_timeout_s{};
  bool metrics{};
  /// Absent: no token, and only loopback addresses may be bound. Else never empty.
  std::shared_ptr<const token_set> tokens;
  /// --api-token-file, which SIGHUP reads again; empty without tokens.
  std::string api_token_file;
  /// --audit-log; empty: audit lines go to the main log.
  std::string audit_log;
  /// Absent: none in the file nor the environment (the URL may still carry one).
  std::optional<std::string> db_password;
  /// Where naive times are read; null: the process's zone ("local").
  zone_ptr default_time_zone;
  /// The largest output_limit_bytes a task may ask for.
  int64_t max_output_bytes{};
  /// At shutdown, the most a run's kill grace may be.
  int64_t shutdown_kill_grace_ms{};
  /// The users a task may name in run_as: --allowed-run-as and the default user's name.
  std::vector<std::string> allowed_run_as;
  /// Who runs a command that names no run_as: as root, the --run-as user (root only when
  /// asked for); not as root, nobody (the service's own user, with its environment).
  std::optional<run_user> run_as;
  /// How the processes of a run are found and killed.
  ts::kill_mode kill_mode = ts::kill_mode::auto_detect;
  /// Both set or both absent: the API's TLS certificate chain and private key (PEM), the
  /// key file's permissions checked (owner only).
  std::optional<std::string> tls_cert_file;
  std::optional<std::string> tls_key_file;
};

/// Checks --log-level and --log-format and applies them, so that the errors of every later
/// step are logged as asked. Fails with ec::invalid_argument; see reason().
caf::error apply_log_options(const config& cfg);

/// Checks the other options and reads the secrets; takes the password out of the
/// environment, so that commands do not inherit it. Fails with ec::invalid_argument.
caf::expected<options> read_options(const config& cfg);

/// Reads and parses a token file (core/tokens.hpp); at start-up and on SIGHUP. The error
/// names the file and the line, never a token.
caf::expected<token_set> read_token_file(const std::string& path);

/// The operator's text of an error from apply_log_options or read_options.
std::string reason(const caf::error& err);

} // namespace ts::app
