#include "http/requests.hpp"

#include <algorithm>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/sha256.hpp"
#include "core/text.hpp"
#include "core/time_format.hpp"

namespace ts::api {

namespace {

caf::error invalid(http_ec code, std::string message) {
  return make_http_error(code, std::move(message));
}

// "type/subtype" of a Content-Type, without its parameters (charset=...).
std::string_view media_type(std::string_view content_type) {
  return trim(content_type.substr(0, content_type.find(';')));
}

} // namespace

caf::error check_json_content_type(std::optional<std::string_view> content_type) {
  if (!content_type)
    return caf::none;
  auto media = media_type(*content_type);
  if (iequals(media, "application/json") || iequals(media, "application/x-www-form-urlencoded"))
    return caf::none;
  return invalid(http_ec::unsupported_media_type,
                 "the body must be JSON (Content-Type: application/json)");
}

caf::error check_merge_patch_content_type(std::optional<std::string_view> content_type) {
  if (!content_type)
    return caf::none;
  auto media = media_type(*content_type);
  if (iequals(media, "application/merge-patch+json") || iequals(media, "application/json"))
    return caf::none;
  return invalid(http_ec::unsupported_media_type,
                 "the body must be a JSON merge patch (Content-Type: "
                 "application/merge-patch+json or application/json)");
}

caf::error check_idempotency_key(std::optional<std::string_view> key) {
  if (!key)
    return caf::none;
  bool printable = !key->empty() && key->size() <= max_idempotency_key_bytes;
  for (char c : *key)
    printable = printable && c >= 0x20 && c <= 0x7E;
  if (printable)
    return caf::none;
  return make_field_error(http_ec::invalid_field, "Idempotency-Key",
                          "Idempotency-Key must be 1 to 255 printable ASCII characters");
}

caf::expected<new_task> parse_schedule_request(std::string_view body,
                                               std::optional<std::string_view> content_type,
                                               std::optional<std::string_view> idempotency_key,
                                               millis now, const time_zone* zone) {
  if (auto err = check_json_content_type(content_type))
    return err;
  if (auto err = check_idempotency_key(idempotency_key))
    return err;
  auto j = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded())
    return invalid(http_ec::invalid_json, "the body is not valid JSON");
  if (!j.is_object())
    return invalid(http_ec::invalid_json, "the body must be a JSON object");
  auto string_field = [&](const char* name) -> const std::string* {
    auto i = j.find(name);
    if (i == j.end() || !i->is_string())
      return nullptr;
    return i->get_ptr<const std::string*>();
  };
  auto task = string_field("task");
  if (!task)
    return invalid(http_ec::invalid_field, "task is missing or not a string");
  auto time = string_field("time");
  if (!time)
    return invalid(http_ec::invalid_field, "time is missing or not a string");
  if (trim(*task).empty())
    return invalid(http_ec::invalid_task, "task must not be empty");
  if (task->find('\0') != std::string::npos)
    return invalid(http_ec::invalid_task, "task must not contain a NUL byte");
  if (task->size() > max_task_bytes)
    return invalid(http_ec::invalid_task, "task must be at most 65536 bytes");
  if (!valid_utf8(*task))
    return invalid(http_ec::invalid_task, "task must be valid UTF-8");
  auto due = zone ? parse_time(*time, *zone) : parse_time(*time);
  if (!due)
    return invalid(http_ec::invalid_time, "invalid time: " + due.error());
  new_task t;
  t.command = *task;
  t.due = *due;
  t.created_at = now;
  if (idempotency_key)
    t.idempotency_key = std::string{*idempotency_key};
  t.request_hash = request_digest(*task, *time);
  return t;
}

caf::expected<task_id> parse_id(std::optional<std::string_view> text) {
  if (!text)
    return invalid(http_ec::invalid_id, "id is missing (use /status?id=N)");
  auto bad = [] {
    return invalid(http_ec::invalid_id,
                   "id must be a decimal integer from 1 to 9223372036854775807");
  };
  if (text->empty())
    return bad();
  constexpr auto max = std::numeric_limits<task_id>::max();
  task_id value = 0;
  for (char c : *text) {
    if (c < '0' || c > '9')
      return bad();
    auto digit = c - '0';
    if (value > (max - digit) / 10)
      return bad();
    value = value * 10 + digit;
  }
  if (value < 1)
    return bad();
  return value;
}

caf::expected<query_params> parse_query(std::string_view query) {
  query_params out;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty())
      continue;
    auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), percent_mode::form);
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{}
                                                             : pair.substr(eq + 1),
                                percent_mode::form);
    if (!key || !value)
      return invalid(http_ec::invalid_field, "the query string is malformed");
    out.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

caf::expected<task_id> parse_id_query(std::string_view query) {
  auto params = parse_query(query);
  if (!params)
    return invalid(http_ec::invalid_id, "the query string is malformed");
  std::optional<std::string> id;
  for (auto& [key, value] : *params) {
    if (key != "id")
      continue;
    if (id)
      return invalid(http_ec::invalid_id, "id must be given once");
    id = std::move(value);
  }
  if (!id)
    return parse_id(std::nullopt);
  return parse_id(std::string_view{*id});
}

std::string request_digest(std::string_view task, std::string_view time) {
  // nlohmann::json keeps object keys sorted: the dump is canonical.
  nlohmann::json canonical;
  canonical["task"] = task;
  canonical["time"] = time;
  return sha256_hex(canonical.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

const api_token* authenticate(std::optional<std::string_view> authorization,
                              const token_set& tokens) {
  if (!authorization)
    return nullptr;
  auto value = trim(*authorization);
  constexpr std::string_view scheme = "bearer";
  if (value.size() <= scheme.size() || !iequals(value.substr(0, scheme.size()), scheme)
      || !is_space(value[scheme.size()]))
    return nullptr;
  return find_token(tokens, trim(value.substr(scheme.size())));
}

bool authorized(std::optional<std::string_view> authorization, std::string_view token) {
  if (token.empty())
    return true;
  token_set one{{api_token{"default", token_scope::write, std::string{token}}}};
  return authenticate(authorization, one) != nullptr;
}

} // namespace ts::api
