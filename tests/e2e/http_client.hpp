// A small blocking HTTP/1.1 client for the end-to-end tests: one connection per request,
// loopback only, and a deadline on every step so that a hung service fails a test instead
// of blocking it forever.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ts::e2e {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct http_request {
  std::string method = "GET";
  std::string target = "/";
  header_list headers;
  std::string body;
};

struct http_response {
  /// Empty when a response was read; otherwise what went wrong (refused, timeout, closed).
  std::string error;
  int status = 0;
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

class http_client {
public:
  explicit http_client(uint16_t port, std::string host = "127.0.0.1",
                       std::chrono::milliseconds timeout = std::chrono::seconds(15));

  /// Sends the request with Host, Content-Length and `Connection: close` added (unless the
  /// caller set them) and reads the whole response.
  http_response send(const http_request& req) const;

  /// Sends the bytes as they are (for malformed requests) and reads what comes back.
  http_response send_raw(std::string_view bytes) const;

  http_response get(const std::string& target, header_list headers = {}) const;
  /// POST with `Content-Type: application/json` unless headers name another content type.
  http_response post(const std::string& target, std::string body,
                     header_list headers = {}) const;

  uint16_t port() const {
    return port_;
  }

private:
  uint16_t port_;
  std::string host_;
  std::chrono::milliseconds timeout_;
};

/// Case-insensitive ASCII comparison, for header names.
bool iequals(std::string_view a, std::string_view b);

} // namespace ts::e2e
