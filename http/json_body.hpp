// The one way a JSON body is written, shared by the legacy and the v1 renderers.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "http/api.hpp"

namespace ts::api {

using ordered_json = nlohmann::ordered_json;

inline std::string dump(const ordered_json& j) {
  // `replace` rather than throw if a stored string were ever not valid UTF-8.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

inline http_response json_response(int status, const ordered_json& body) {
  http_response res;
  res.status = status;
  res.body = dump(body);
  res.headers.emplace_back("Content-Type", "application/json");
  return res;
}

} // namespace ts::api
