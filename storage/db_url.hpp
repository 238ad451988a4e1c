// Parses --db URLs. Kept apart from the stores so that errors about a URL never quote the
// password.
#pragma once

#include <string>

#include <caf/expected.hpp>

namespace ts::storage {

struct db_url {
  std::string scheme;    // "sqlite" or "mysql"
  std::string path;      // sqlite: file path as given (relative or absolute)
  std::string user;      // mysql parts, percent-decoded
  std::string password;
  bool has_password = false;
  std::string host;
  unsigned port = 0;     // 0: the client library's default (3306)
  std::string database;
  std::string socket;    // from ?socket=
};

/// Fails with ec::invalid_argument; the message never contains the password.
caf::expected<db_url> parse_db_url(const std::string& url);

/// The URL with the password replaced by `***`, for logs.
std::string redact_db_url(const std::string& url);

} // namespace ts::storage
