// Responses of the real binary, checked against the OpenAPI document (http/openapi.json) in
// one run of tests/e2e/validate_responses.py (python3 with jsonschema: Debian's
// python3-jsonschema, which scripts/deps installs): status, content type, headers and body,
// every body against the schema the document gives for its operation and status.
//
//   response_log log;
//   auto r = log.post(client, "/v1/tasks", R"({"command":"true"})");
//   ...
//   log.validate(dir);   // CHECKs that every recorded response matches
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/e2e/service.hpp"

namespace ts::e2e {

class response_log {
public:
  /// Records the response to `method target`; the validator finds the document's path
  /// template from the target (query allowed).
  void add(const std::string& method, const std::string& target, const http_response& res);

  /// Sends the request, records its response and returns it. A request that got no
  /// response at all (refused, timeout) is not recorded: there is nothing to validate, and
  /// the caller's own checks on the status see it.
  http_response send(const http_client& client, const http_request& req);
  http_response get(const http_client& client, const std::string& target,
                    header_list headers = {});
  /// POST with `Content-Type: application/json` unless headers name another content type.
  http_response post(const http_client& client, const std::string& target, std::string body,
                     header_list headers = {});

  size_t size() const {
    return lines_.size();
  }

  /// Writes the log into `dir` and validates it in one python run; CHECKs that it passed,
  /// with the validator's findings as the message. Without a python3 that has jsonschema it
  /// WARNs and returns (FAILs under CI=true: scripts/test installs it, so CI never skips).
  void validate(const temp_dir& dir) const;

private:
  std::vector<nlohmann::json> lines_;
};

/// http/openapi.json as the source tree holds it (what the binary embeds), parsed.
const nlohmann::json& openapi_document();

} // namespace ts::e2e
