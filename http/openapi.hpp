// The OpenAPI 3.1 description of the API (http/openapi.json, embedded at build time), served
// at GET /v1/openapi.json.
#pragma once

#include <string_view>

namespace ts::api {

/// The document, as the file holds it.
std::string_view openapi_json();

} // namespace ts::api
