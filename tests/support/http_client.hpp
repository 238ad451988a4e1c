// The one HTTP/1.1 client of the tests and the bench: blocking, with a deadline on every
// exchange so that a hung service fails a test instead of blocking it forever.
//
// A `connection` is one kept-alive socket: keep-alive tests, raw bytes for hostile input,
// a request left in flight while others pass it, and the bench's load generator (one
// connection a thread, so it stays cheap: blocking calls, no poll). A `client` opens a new
// connection for every request, for tests that want no state between requests.
//
// Either speaks TLS when given a tls_context (OpenSSL's client, set up as a test asks:
// whom to trust, which versions and ciphers to offer); without one, plain HTTP.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/text.hpp"

struct ssl_st;  // OpenSSL's SSL, kept out of the header

namespace ts::test_http {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct request {
  std::string method = "GET";
  std::string target = "/";
  header_list headers;
  std::string body;
};

struct response {
  /// Empty when a response was read; otherwise what went wrong (refused, timeout, closed).
  std::string error;
  int status = 0;  // 0 when no response came
  header_list headers;
  std::string body;

  bool ok() const {
    return error.empty();
  }
  /// The first header of that name (case-insensitive), or "" when absent.
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  /// The body as JSON; a discarded value when it is not JSON.
  nlohmann::json json() const;
  /// `error.code` of a JSON error body, or "" when the body is not one.
  std::string error_code() const;
  /// Status, headers and body, for test diagnostics.
  std::string describe() const;
};

/// What a TLS client offers and trusts. Versions are OpenSSL's (TLS1_2_VERSION...), 0 for
/// its default.
struct tls_setup {
  /// The CA file (PEM) that the server's certificate must chain to; "": no verification.
  std::string ca_file;
  int min_version = 0;
  int max_version = 0;
  /// The TLS 1.2 (and older) cipher list; "": OpenSSL's default.
  std::string ciphers;
};

/// A client SSL_CTX (http_client.cpp), shared by the connections that use it.
struct tls_context;

/// Makes one; on failure null, with `error` set.
std::shared_ptr<tls_context> make_tls_context(const tls_setup& setup, std::string& error);

/// Case-insensitive ASCII comparison, for header names (core's, so tests can say
/// test_http::iequals as before).
using ts::iequals;

/// Parses a status line and header lines (CRLF-separated, without the blank line that ends
/// them) into `out`; "" or why not.
std::string parse_head(std::string_view head, response& out);

/// One connection to host:port, opened on first use and again after the server closed it.
class connection {
public:
  /// With `tls`, every exchange is over TLS (the handshake when the connection opens,
  /// checking the certificate for `host`, an IP address).
  explicit connection(uint16_t port, std::string host = "127.0.0.1",
                      std::chrono::milliseconds timeout = std::chrono::seconds(15),
                      std::shared_ptr<tls_context> tls = nullptr);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Sends the request with Host and Content-Length added (unless the caller set them) and
  /// reads its response. A GET on a reused connection that the server closed meanwhile is
  /// sent again once on a new one; nothing else is (a POST could create twice).
  response send(const request& req);
  response get(const std::string& target, header_list headers = {});
  /// POST with `Content-Type: application/json` unless headers name another content type.
  response post(const std::string& target, std::string body, header_list headers = {});

  /// Writes the bytes as they are, connecting first when needed; "" or why not.
  std::string send_bytes(std::string_view bytes);
  /// Reads one response (interim 1xx ones skipped); `head`: it answers a HEAD request, so
  /// it has no body whatever its headers say.
  response read_response(bool head = false);
  /// send_bytes, then read_response (for a HEAD when the bytes start with one). A server
  /// that answers and closes before it read everything (a 413) still has its answer read.
  response exchange(std::string_view bytes);

  /// From now on read_response returns an interim (1xx) response too, instead of skipping
  /// it (for tests of Expect: 100-continue).
  void keep_interim(bool on) {
    keep_interim_ = on;
  }

  /// True when the server has closed the connection (EOF or reset) with nothing left to
  /// read, waiting up to the timeout for it to do so.
  bool closed_by_peer();

private:
  using clock_type = std::chrono::steady_clock;

  std::string open(clock_type::time_point deadline);
  void close();
  std::string write_all(std::string_view bytes, clock_type::time_point deadline);
  /// Receives what is there into buf_ (sets eof_ at the end); "" or why not.
  std::string fill(clock_type::time_point deadline);
  response read(bool head, clock_type::time_point deadline);
  response exchange(std::string_view bytes, bool head, clock_type::time_point deadline);
  /// Bounds the next blocking call by the deadline; "" or "timeout".
  std::string arm(clock_type::time_point deadline);
  /// The TLS handshake on the open socket; "" or why it failed ("tls handshake: ...").
  std::string handshake(clock_type::time_point deadline);
  /// One send or receive, through TLS when it is on: as ::send / ::recv, -1 with errno
  /// (EAGAIN on a timeout, ECONNRESET for any TLS failure), 0 at the end.
  long send_some(const char* data, size_t n);
  long recv_some(char* data, size_t n);

  uint16_t port_;
  std::string host_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
  std::string buf_;       // received, not yet consumed
  bool eof_ = false;      // the server closed this connection (kept until the next open)
  bool got_bytes_ = false;  // the latest read received anything
  bool keep_interim_ = false;
  std::chrono::microseconds armed_{0};  // the socket's current send/receive timeout
  std::shared_ptr<tls_context> tls_;
  ::ssl_st* ssl_ = nullptr;  // the open connection's TLS session
};

/// A new connection for every request, each with `Connection: close`.
class client {
public:
  explicit client(uint16_t port, std::string host = "127.0.0.1",
                  std::chrono::milliseconds timeout = std::chrono::seconds(15),
                  std::shared_ptr<tls_context> tls = nullptr);

  /// As connection::send, plus `Connection: close` unless the caller set a Connection.
  response send(const request& req) const;
  /// Sends the bytes as they are (for malformed requests) and reads what comes back.
  response send_raw(std::string_view bytes) const;
  response get(const std::string& target, header_list headers = {}) const;
  /// POST with `Content-Type: application/json` unless headers name another content type.
  response post(const std::string& target, std::string body, header_list headers = {}) const;

  uint16_t port() const {
    return port_;
  }

private:
  uint16_t port_;
  std::string host_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<tls_context> tls_;
};

} // namespace ts::test_http
