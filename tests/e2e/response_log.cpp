#include "tests/e2e/response_log.hpp"

#include <cstdlib>

#include <catch2/catch.hpp>

namespace ts::e2e {

namespace {

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string{ci} == "true";
}

std::string document_path() {
  return source_dir() + "/http/openapi.json";
}

/// The validator's exit status when the jsonschema module is missing.
constexpr int missing_module = 3;

} // namespace

const nlohmann::json& openapi_document() {
  static const nlohmann::json doc = nlohmann::json::parse(read_file(document_path()));
  return doc;
}

void response_log::add(const std::string& method, const std::string& target,
                       const http_response& res) {
  nlohmann::json headers = nlohmann::json::array();
  for (auto& [name, value] : res.headers)
    headers.push_back({name, value});
  lines_.push_back({{"method", method},
                    {"target", target},
                    {"status", res.status},
                    {"content_type", res.header("Content-Type")},
                    {"headers", std::move(headers)},
                    {"body", res.body}});
}

http_response response_log::send(const http_client& client, const http_request& req) {
  auto res = client.send(req);
  if (res.ok())
    add(req.method, req.target, res);
  return res;
}

http_response response_log::get(const http_client& client, const std::string& target,
                                header_list headers) {
  auto res = client.get(target, std::move(headers));
  if (res.ok())
    add("GET", target, res);
  return res;
}

http_response response_log::post(const http_client& client, const std::string& target,
                                 std::string body, header_list headers) {
  auto res = client.post(target, std::move(body), std::move(headers));
  if (res.ok())
    add("POST", target, res);
  return res;
}

void response_log::validate(const temp_dir& dir) const {
  auto file = dir.file("responses.jsonl");
  std::string text;
  // Output bodies are raw bytes: invalid UTF-8 becomes U+FFFD rather than an exception.
  for (auto& line : lines_)
    text += line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  REQUIRE(write_file(file, text));
  auto script = source_dir() + "/tests/e2e/validate_responses.py";
  // The first python3 on PATH (a pyenv, say) may lack jsonschema where Debian's has it.
  command_result r;
  bool ran = false;
  for (const char* python : {"python3", "/usr/bin/python3"}) {
    r = run_command({python, script, document_path(), file}, {}, 120s);
    // 127: no such interpreter; -1: it could not be started.
    if (r.exit_code != missing_module && r.exit_code != 127 && r.exit_code != -1) {
      ran = true;
      break;
    }
  }
  if (!ran) {
    INFO(r.output);
    if (in_ci())
      FAIL("python3-jsonschema is missing under CI=true (scripts/deps installs it): "
           << lines_.size() << " responses not validated against http/openapi.json");
    WARN("python3 with jsonschema not found (apt-get install python3-jsonschema): "
         << lines_.size() << " responses NOT validated against http/openapi.json");
    return;
  }
  INFO(lines_.size() << " responses against http/openapi.json:\n" << r.output);
  CHECK(r.exit_code == 0);
}

} // namespace ts::e2e
