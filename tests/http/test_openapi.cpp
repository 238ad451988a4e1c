// GET /v1/openapi.json against the router, both ways and without a socket: the embedded
// document is the file and valid JSON whose every $ref resolves; every path and method it
// lists is in the router's own table (api::route_table(), not a list derived from the
// document) and the other way round; every listed operation, sent as a concrete request
// built from the document's examples, is routed (neither an unknown path nor 405); every
// other method of a listed path is 405 with an Allow header naming exactly the listed ones;
// and the token guards every operation the document says it does. The real server's
// dispatch of the same requests is tested in tests/e2e/test_openapi_e2e.cpp.
#include "http/openapi.hpp"
#include "http/routes.hpp"

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using nlohmann::json;
using ts::http_response;
namespace api = ts::api;

namespace {

constexpr ts::millis now = 1700000000000;
const std::vector<std::string> probe_methods{"GET", "POST", "PUT", "PATCH", "DELETE"};
const std::set<std::string> operation_keys{"get",  "put",     "post", "delete",
                                           "options", "head", "patch", "trace"};

const json& document() {
  static const json doc = json::parse(api::openapi_json());
  return doc;
}

std::string upper(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return s;
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

/// A document-local $ref followed to what it names (once: the document has no chains).
const json& deref(const json& node) {
  if (node.is_object() && node.contains("$ref"))
    return document().at(json::json_pointer(node["$ref"].get<std::string>().substr(1)));
  return node;
}

/// Path template -> its methods (upper case), as the document lists them.
std::map<std::string, std::set<std::string>> documented() {
  std::map<std::string, std::set<std::string>> out;
  for (auto& [path, item] : document().at("paths").items())
    for (auto& [key, op] : item.items())
      if (operation_keys.count(key))
        out[path].insert(upper(key));
  return out;
}

/// The same from the router's own table.
std::map<std::string, std::set<std::string>> routed() {
  std::map<std::string, std::set<std::string>> out;
  for (auto& entry : api::route_table()) {
    auto& methods = out[entry.pattern];
    for (const char* m : entry.methods)
      methods.insert(m);
  }
  return out;
}

std::string joined(const std::set<std::string>& words) {
  std::string out;
  for (auto& w : words)
    out += (out.empty() ? "" : ", ") + w;
  return out;
}

std::set<std::string> split_allow(const std::string& allow) {
  std::set<std::string> out;
  std::istringstream in{allow};
  std::string word;
  while (std::getline(in, word, ',')) {
    auto b = word.find_first_not_of(' ');
    auto e = word.find_last_not_of(' ');
    if (b != std::string::npos)
      out.insert(word.substr(b, e - b + 1));
  }
  return out;
}

/// A concrete request for one documented operation: path parameters and required query
/// parameters from their examples, the request body's example (when it has one) as JSON.
/// Owns the text that the request_view points into.
struct concrete_request {
  std::string method;
  std::string path;
  std::string query;
  std::string body;
  bool json_body = false;
  /// The Authorization header; none when empty.
  std::string authorization;

  api::request_view view() const {
    api::request_view v;
    v.method = method;
    v.path = path;
    v.query = query;
    v.body = body;
    if (json_body)
      v.content_type = std::string_view{"application/json"};
    if (!authorization.empty())
      v.authorization = std::string_view{authorization};
    return v;
  }

  std::string describe() const {
    return method + " " + path + (query.empty() ? "" : "?" + query)
           + (body.empty() ? "" : " " + body);
  }
};

std::string example_text(const json& param) {
  REQUIRE(param.contains("example"));
  auto& ex = param["example"];
  return ex.is_string() ? ex.get<std::string>() : ex.dump();
}

concrete_request build(const std::string& path, const std::string& method) {
  const json& item = document().at("paths").at(path);
  const json& op = item.at(lower(method));
  concrete_request r;
  r.method = method;
  r.path = path;
  std::vector<json> params;
  for (auto* list : {&item, &op})
    if (list->contains("parameters"))
      for (auto& p : (*list)["parameters"])
        params.push_back(deref(p));
  for (auto& p : params) {
    INFO(path << " " << method << " parameter " << p.dump());
    auto where = p.at("in").get<std::string>();
    auto name = p.at("name").get<std::string>();
    if (where == "path") {
      auto slot = r.path.find("{" + name + "}");
      REQUIRE(slot != std::string::npos);
      r.path.replace(slot, name.size() + 2, example_text(p));
    } else if (where == "query" && p.value("required", false)) {
      r.query += (r.query.empty() ? "" : "&") + name + "=" + example_text(p);
    }
  }
  CHECK(r.path.find('{') == std::string::npos);
  if (op.contains("requestBody")) {
    auto& media = deref(op["requestBody"]).at("content").at("application/json");
    INFO(path << " " << method << ": a request body needs an example to build a request");
    REQUIRE(media.contains("example"));
    r.body = media["example"].dump();
    r.json_body = true;
  }
  return r;
}

api::action route(const concrete_request& r, std::string_view token = "") {
  return api::route(r.view(), token, false, now, true, nullptr);
}

api::action route(const concrete_request& r, const ts::token_set& tokens) {
  return api::route(r.view(), &tokens, false, now, true, nullptr);
}

} // namespace

TEST_CASE("openapi: the embedded document is http/openapi.json and valid JSON",
          "[http][openapi]") {
  std::ifstream file{std::string{TS_SOURCE_DIR} + "/http/openapi.json", std::ios::binary};
  REQUIRE(file);
  std::ostringstream text;
  text << file.rdbuf();
  CHECK(api::openapi_json() == text.str());
  auto doc = json::parse(api::openapi_json(), nullptr, false);
  REQUIRE_FALSE(doc.is_discarded());
  REQUIRE(doc.is_object());
  CHECK(doc["openapi"] == "3.1.0");
  CHECK(doc["jsonSchemaDialect"] == "https://json-schema.org/draft/2020-12/schema");
  CHECK(doc["info"]["title"].is_string());
  CHECK(doc["info"]["version"].is_string());
  REQUIRE(doc["paths"].is_object());
  CHECK(doc["paths"].size() >= 14);
}

TEST_CASE("openapi: every $ref resolves and every operation is complete", "[http][openapi]") {
  const json& doc = document();
  // Every $ref anywhere points into this document at something that exists.
  std::vector<std::pair<std::string, const json*>> todo{{"", &doc}};
  size_t refs = 0;
  while (!todo.empty()) {
    auto [where, node] = todo.back();
    todo.pop_back();
    if (node->is_object()) {
      if (node->contains("$ref")) {
        auto ref = (*node)["$ref"].get<std::string>();
        INFO(where << ": $ref " << ref);
        REQUIRE(ref.rfind("#/", 0) == 0);
        CHECK(doc.contains(json::json_pointer(ref.substr(1))));
        ++refs;
      }
      for (auto& [key, value] : node->items())
        todo.emplace_back(where + "/" + key, &value);
    } else if (node->is_array()) {
      for (auto& value : *node)
        todo.emplace_back(where + "/[]", &value);
    }
  }
  CHECK(refs > 50);
  // Two conventions the tests rely on: the answers to unknown paths and to other methods.
  CHECK(doc["components"]["responses"].contains("UnknownPath"));
  CHECK(doc["components"]["responses"].contains("MethodNotAllowed"));

  std::set<std::string> ids;
  for (auto& [path, methods] : documented()) {
    for (auto& method : methods) {
      const json& op = doc["paths"][path][lower(method)];
      INFO(method << " " << path);
      REQUIRE(op["operationId"].is_string());
      CHECK(ids.insert(op["operationId"].get<std::string>()).second);
      CHECK(op["summary"].is_string());
      auto& responses = op.at("responses");
      CHECK(responses.contains("500"));
      bool open = op.contains("security") && op["security"].empty();
      // The token guards everything but the probes (and says so).
      CHECK(open == (path == "/healthz" || path == "/readyz"));
      if (!open) {
        CHECK(responses.contains("401"));
        CHECK(responses.contains("503"));
      }
      if (path.find('{') != std::string::npos) {
        CHECK(responses.contains("400"));
        CHECK(responses.contains("404"));
      }
      if (method == "POST") {
        CHECK(responses.contains("413"));
        CHECK(responses.contains("415"));
      }
      // A preview changes nothing: it has no Idempotency-Key to reuse.
      if (method == "POST" && path != "/v1/schedules/preview") {
        CHECK(responses.contains("409"));  // Idempotency-Key reuse
        bool keyed = false;
        for (auto& p : op.value("parameters", json::array()))
          keyed = keyed || deref(p).value("name", "") == "Idempotency-Key";
        CHECK(keyed);
      }
      // Every answer says what it carries.
      for (auto& [status, res] : responses.items()) {
        INFO("status " << status);
        auto& answer = deref(res);
        CHECK((answer.contains("description") && answer["description"].is_string()));
        CHECK((answer.contains("content") && answer["content"].is_object()));
      }
    }
  }
}

TEST_CASE("openapi: the document and the router's table list the same paths and methods",
          "[http][openapi]") {
  auto doc = documented();
  auto table = routed();
  REQUIRE_FALSE(table.empty());
  for (auto& [path, methods] : doc) {
    INFO("documented: " << path << " " << joined(methods));
    CHECK(table.count(path) == 1);
    if (table.count(path) == 1)
      CHECK(joined(table[path]) == joined(methods));
  }
  for (auto& [path, methods] : table) {
    INFO("routed: " << path << " " << joined(methods));
    CHECK(doc.count(path) == 1);
  }
  // One table entry per pattern, so that Allow has one source.
  std::set<std::string> patterns;
  for (auto& entry : api::route_table()) {
    INFO(entry.pattern);
    CHECK(patterns.insert(entry.pattern).second);
  }
}

TEST_CASE("openapi: every documented operation is routed", "[http][openapi]") {
  size_t count = 0;
  for (auto& [path, methods] : documented()) {
    for (auto& method : methods) {
      auto req = build(path, method);
      INFO(req.describe());
      auto act = route(req);
      // An immediate answer is fine only when it is the answer (the probes, this document):
      // an immediate 400 would mean the document's own example is refused, a 404 an unknown
      // path, a 405 a method the router does not take.
      if (auto res = std::get_if<http_response>(&act)) {
        INFO(res->status << " " << res->body);
        CHECK((res->status == 200 || res->status == 201));
      }
      ++count;
    }
  }
  CHECK(count >= 15);
}

TEST_CASE("openapi: GET /v1/openapi.json answers this document as JSON", "[http][openapi]") {
  concrete_request req{"GET", "/v1/openapi.json", "", "", false, ""};
  auto act = route(req);
  auto res = std::get_if<http_response>(&act);
  REQUIRE(res != nullptr);
  CHECK(res->status == 200);
  REQUIRE(res->header("Content-Type") != nullptr);
  CHECK(res->header("Content-Type")->rfind("application/json", 0) == 0);
  CHECK(res->body == api::openapi_json());
}

TEST_CASE("openapi: other methods of a documented path get 405 with the documented Allow",
          "[http][openapi]") {
  for (auto& [path, methods] : documented()) {
    auto any = *methods.begin();
    auto base = build(path, any);
    for (auto& method : probe_methods) {
      if (methods.count(method))
        continue;
      concrete_request req{method, base.path, base.query, "", false, ""};
      INFO(req.describe() << " (documented: " << joined(methods) << ")");
      auto act = route(req);
      auto res = std::get_if<http_response>(&act);
      REQUIRE(res != nullptr);
      CHECK(res->status == 405);
      REQUIRE(res->header("Allow") != nullptr);
      CHECK(joined(split_allow(*res->header("Allow"))) == joined(methods));
      auto body = json::parse(res->body, nullptr, false);
      CHECK((body.is_object() && body["error"]["code"] == "method_not_allowed"));
    }
  }
}

TEST_CASE("openapi: the token guards exactly the operations the document says",
          "[http][openapi]") {
  for (auto& [path, methods] : documented()) {
    for (auto& method : methods) {
      const json& op = document()["paths"][path][lower(method)];
      bool open = op.contains("security") && op["security"].empty();
      auto req = build(path, method);
      INFO(req.describe() << (open ? " (open)" : " (guarded)"));
      auto act = route(req, "s3cret-token");
      auto res = std::get_if<http_response>(&act);
      if (open) {
        CHECK((res == nullptr || res->status != 401));
      } else {
        REQUIRE(res != nullptr);
        CHECK(res->status == 401);
        REQUIRE(res->header("WWW-Authenticate") != nullptr);
        CHECK(*res->header("WWW-Authenticate") == "Bearer");
      }
    }
  }
}

TEST_CASE("openapi: a read token may GET every operation, and gets the documented 403 on the rest",
          "[http][openapi]") {
  ts::token_set tokens{{{"viewer", ts::token_scope::read, "r-token"}}};
  for (auto& [path, methods] : documented()) {
    for (auto& method : methods) {
      const json& op = document()["paths"][path][lower(method)];
      bool open = op.contains("security") && op["security"].empty();
      auto req = build(path, method);
      req.authorization = "Bearer r-token";
      INFO(req.describe());
      auto act = route(req, tokens);
      auto res = std::get_if<http_response>(&act);
      if (method == "GET" || open) {
        CHECK((res == nullptr || (res->status != 401 && res->status != 403)));
      } else {
        REQUIRE(res != nullptr);
        CHECK(res->status == 403);
        CHECK(json::parse(res->body)["error"]["code"] == "forbidden");
        CHECK(op.at("responses").contains("403"));
      }
    }
  }
}
