// The HTTP server: binds, serves the API on its own threads, and hands validated requests
// to the gateway actor. RESTinio stays inside server.cpp (it is costly to compile).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>

#include "core/defaults.hpp"
#include "core/time_zone.hpp"
#include "core/tokens.hpp"
#include "http/audit.hpp"
#include "http/gateway.hpp"
#include "http/routes.hpp"
#include "metrics/metrics.hpp"

namespace ts {

/// A certificate chain and its key, checked and ready to serve TLS (server.cpp).
struct tls_credentials;

/// Loads PEM files: a certificate (a chain: the server's first, then its intermediates) and
/// its unencrypted private key. Fails (ec::invalid_argument, with a reason for the operator)
/// when a file cannot be read or parsed, or the key does not match the certificate.
caf::expected<std::shared_ptr<tls_credentials>>
load_tls_credentials(const std::string& cert_file, const std::string& key_file);

struct server_options {
  /// An IPv4 or IPv6 address, or "localhost".
  std::string bind = defaults::bind;
  /// 0 picks a free port; port() tells which.
  uint16_t port = defaults::port;
  /// When set, every request but the probes must carry `Authorization: Bearer TOKEN` with
  /// one of its tokens, and a `read` token may only GET; the set may be swapped while the
  /// server runs (a reload), never to an empty one (start_http_server refuses that).
  std::shared_ptr<token_holder> tokens;
  /// When set, every request but GET and HEAD is recorded in it (http/audit.hpp), and one
  /// that cannot be is refused with 503 before it acts.
  std::shared_ptr<api::audit_log> audit;
  /// Threads serving HTTP.
  size_t threads = defaults::http_threads;
  /// How much nicer than the rest of the process they run (Linux: per thread, at most
  /// 19); 0 leaves them as the rest.
  int nice = 0;
  /// Beyond these, 503 overloaded: open connections, and requests being served.
  size_t max_connections = defaults::max_connections;
  size_t max_in_flight = defaults::max_in_flight;
  /// A request head not complete this long after it began (or after the connection
  /// opened) gets 408.
  std::chrono::milliseconds header_timeout = std::chrono::seconds(defaults::header_timeout_s);
  /// An idle keep-alive connection is closed after this long (RESTinio's limit on reading
  /// the next request, body included).
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(defaults::idle_timeout_s);
  /// How long stop() waits for requests in flight; above the gateway's timeout, so that
  /// every accepted request gets its answer.
  std::chrono::milliseconds drain_timeout = defaults::drain_timeout;
  /// An accepted request left unanswered this long is dropped by RESTinio (a safety net
  /// only: the gateway answers within its own, shorter timeout).
  std::chrono::milliseconds handle_request_timeout = defaults::handle_request_timeout;
  /// Counts requests by route and status, and enables /metrics; null under --metrics=off.
  std::shared_ptr<ts::metrics> metrics = nullptr;
  /// The zone naive times are read in; null: the process's zone.
  zone_ptr default_time_zone = nullptr;
  /// The largest output_limit_bytes a task may ask for.
  int64_t max_output_bytes = defaults::max_output_bytes;
  /// The users a task may name in run_as (--allowed-run-as).
  std::vector<std::string> allowed_run_as;
  /// Set: every connection is TLS (from load_tls_credentials); null: plain HTTP.
  std::shared_ptr<tls_credentials> tls;
};

class http_server {
public:
  struct impl;

  explicit http_server(std::unique_ptr<impl> p);
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;
  /// Calls stop().
  ~http_server();

  /// The bound port (the real one when the options asked for 0).
  uint16_t port() const;

  /// From now on every new request gets 503 `unavailable` (with Connection: close);
  /// requests already handed to the gateway still get their answer. Thread-safe.
  void reject_new_requests();

  /// Rejects new requests, waits (up to drain_timeout) until every answered response is
  /// written, then closes the listening socket and all connections and joins the threads.
  /// Idempotent; call from one thread.
  void stop();

private:
  std::unique_ptr<impl> impl_;
};

/// Binds and starts serving; fails (ec::invalid_argument, with the reason) when the
/// address is invalid or cannot be bound. `gateway` is from spawn_gateway.
caf::expected<std::unique_ptr<http_server>> start_http_server(const server_options& opts,
                                                              caf::actor gateway);

/// Where the server hands each request that route() sends to the actors, with the callback
/// that answers it (from any thread, once; dropped unanswered, it answers 503). Called on
/// the server's threads, several at once.
using request_sink = std::function<void(api::action, reply_fn)>;

/// The same with any sink: the caf::actor overload sends each action to the gateway as its
/// message; a test may answer on threads of its own, without actors (ThreadSanitizer sees
/// nothing of Debian's uninstrumented CAF, so a pass over the server alone is clean of it).
caf::expected<std::unique_ptr<http_server>> start_http_server(const server_options& opts,
                                                              request_sink sink);

} // namespace ts
