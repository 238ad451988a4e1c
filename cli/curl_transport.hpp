// The transport over Debian's libcurl: one easy handle per tsctl run, so that a follow loop
// reuses its connection. The only file that includes curl (scripts/check-layout).
#pragma once

#include <memory>
#include <string>

#include "cli/http.hpp"

namespace ts::cli {

struct connection_settings {
  /// "http://127.0.0.1:8081" or "https://...", without the API's paths.
  std::string base_url;
  /// Sent as `Authorization: Bearer TOKEN` when not empty.
  std::string token;
  /// A CA bundle for TLS with a private CA; empty: the system's.
  std::string cacert;
};

/// nullptr with `error` set when libcurl cannot be set up.
std::unique_ptr<transport> make_curl_transport(const connection_settings& settings,
                                               std::string& error);

} // namespace ts::cli
