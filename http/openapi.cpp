#include "http/openapi.hpp"

namespace ts::api {

namespace {

// http/openapi.json, the one source of the document, as the build embedded it
// (http/embed_openapi.cmake writes openapi_json.inc into the build tree whenever the file
// changes), followed by a NUL that is not part of it.
constexpr unsigned char document[] = {
#include "openapi_json.inc"
};

} // namespace

std::string_view openapi_json() {
  return {reinterpret_cast<const char*>(document), sizeof(document) - 1};
}

} // namespace ts::api
