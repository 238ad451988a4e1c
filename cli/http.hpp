// One HTTP exchange as values, so that the verbs describe what they send and read what came
// back without knowing how it travels (cli/curl_transport.cpp, the only file with libcurl).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace ts::cli {

struct http_call {
  std::string method = "GET";
  /// Path and query, from the API's root: "/v1/tasks?limit=100".
  std::string target;
  /// Sent when not empty, as `content_type`.
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;

  static http_call get(std::string target);
  static http_call post(std::string target, std::string body);
};

struct http_answer {
  /// Set when no answer came: nothing listening, TLS refused, a broken connection.
  std::string transport_error;
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  /// The first header of that name (any case), or "".
  std::string header(const std::string& name) const;
};

/// Sends calls to one server; an implementation keeps its connection between calls.
class transport {
public:
  virtual ~transport() = default;
  virtual http_answer perform(const http_call& call) = 0;
};

} // namespace ts::cli
