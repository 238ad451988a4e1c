#include "http/api.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <csignal>
#include <cstring>
#include <limits>

#include <caf/message.hpp>
#include <caf/sec.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/time_format.hpp"

namespace ts {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto x = static_cast<unsigned char>(a[i]);
    auto y = static_cast<unsigned char>(b[i]);
    if (std::tolower(x) != std::tolower(y))
      return false;
  }
  return true;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_space(s.back()))
    s.remove_suffix(1);
  return s;
}

// Rejects overlong forms, surrogates and code points above U+10FFFF.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i - 1 < n)
      return false;
    for (size_t k = 1; k <= n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF))
        || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

// -- SHA-256 (FIPS 180-4); small enough to keep here rather than link a crypto library --

class sha256 {
public:
  void update(std::string_view data) {
    for (char ch : data) {
      block_[fill_++] = static_cast<uint8_t>(ch);
      if (fill_ == 64) {
        compress();
        fill_ = 0;
      }
    }
    bits_ += static_cast<uint64_t>(data.size()) * 8;
  }

  std::string hex() {
    auto bits = bits_;
    block_[fill_++] = 0x80;
    if (fill_ > 56) {
      while (fill_ < 64)
        block_[fill_++] = 0;
      compress();
      fill_ = 0;
    }
    while (fill_ < 56)
      block_[fill_++] = 0;
    for (int i = 7; i >= 0; --i)
      block_[fill_++] = static_cast<uint8_t>(bits >> (i * 8));
    compress();
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(64);
    for (auto word : h_)
      for (int i = 28; i >= 0; i -= 4)
        out += digits[(word >> i) & 0xF];
    return out;
  }

private:
  static uint32_t rotr(uint32_t x, int n) {
    return (x >> n) | (x << (32 - n));
  }

  void compress() {
    static constexpr uint32_t k[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
      0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
      0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
      0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
      0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
      0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
      0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
      0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2};
    uint32_t w[64];
    for (int i = 0; i < 16; ++i)
      w[i] = (uint32_t{block_[i * 4]} << 24) | (uint32_t{block_[i * 4 + 1]} << 16)
             | (uint32_t{block_[i * 4 + 2]} << 8) | uint32_t{block_[i * 4 + 3]};
    for (int i = 16; i < 64; ++i) {
      auto s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      auto s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    auto a = h_[0], b = h_[1], c = h_[2], d = h_[3];
    auto e = h_[4], f = h_[5], g = h_[6], h = h_[7];
    for (int i = 0; i < 64; ++i) {
      auto t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i]
                + w[i];
      auto t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h_[0] += a;
    h_[1] += b;
    h_[2] += c;
    h_[3] += d;
    h_[4] += e;
    h_[5] += f;
    h_[6] += g;
    h_[7] += h;
  }

  std::array<uint32_t, 8> h_{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                             0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::array<uint8_t, 64> block_{};
  size_t fill_ = 0;
  uint64_t bits_ = 0;
};

// -- JSON output --------------------------------------------------------------------------

using ordered_json = nlohmann::ordered_json;

std::string dump(const ordered_json& j) {
  // `replace` rather than throw if a stored string were ever not valid UTF-8.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

http_response json_response(int status, const ordered_json& body) {
  http_response res;
  res.status = status;
  res.body = dump(body);
  res.headers.emplace_back("Content-Type", "application/json");
  return res;
}

http_response error_body(int status, const char* code, std::string_view message) {
  ordered_json body;
  body["error"]["code"] = code;
  body["error"]["message"] = message;
  return json_response(status, body);
}

// Unexpected errors: the details stay in the server; the client learns nothing internal.
http_response internal_error() {
  return error_body(500, "internal_error", "internal error");
}

// Builds a JSON object by appending, for the two responses on the hot path (status and
// created): building an ordered_json tree and dumping it cost ~2.5 us a request, a tenth
// of a status read's CPU (perf, docs/benchmarks.md). Strings that need escaping still go
// through nlohmann, so the output is byte for byte what dump() gives.
class object_writer {
public:
  object_writer() {
    out_.reserve(320);
    out_ += '{';
  }

  object_writer& text(std::string_view key, std::string_view value) {
    name(key);
    quoted(value);
    return *this;
  }

  object_writer& integer(std::string_view key, int64_t value) {
    name(key);
    out_ += std::to_string(value);
    return *this;
  }

  object_writer& boolean(std::string_view key, bool value) {
    name(key);
    out_ += value ? "true" : "false";
    return *this;
  }

  object_writer& null(std::string_view key) {
    name(key);
    out_ += "null";
    return *this;
  }

  object_writer& time_or_null(std::string_view key, millis t) {
    return t == null_value ? null(key) : text(key, format_time(t));
  }

  std::string finish() {
    out_ += '}';
    return std::move(out_);
  }

private:
  void name(std::string_view key) {
    if (out_.size() > 1)
      out_ += ',';
    quoted(key);
    out_ += ':';
  }

  void quoted(std::string_view value) {
    bool plain = std::all_of(value.begin(), value.end(), [](char c) {
      return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
    });
    if (plain) {
      out_ += '"';
      out_.append(value);
      out_ += '"';
    } else {
      out_ += dump(ordered_json(value));
    }
  }

  std::string out_;
};

http_response json_text_response(int status, std::string body) {
  http_response res;
  res.status = status;
  res.body = std::move(body);
  res.headers.emplace_back("Content-Type", "application/json");
  return res;
}

std::string context_text(const caf::error& err, size_t index) {
  auto& ctx = err.context();
  if (ctx.size() > index && ctx.match_element<std::string>(index))
    return ctx.get_as<std::string>(index);
  return {};
}

caf::error invalid(api::http_ec code, std::string message) {
  return api::make_http_error(code, std::move(message));
}

bool json_media_type(std::string_view content_type) {
  auto media = trim(content_type.substr(0, content_type.find(';')));
  return iequals(media, "application/json")
         || iequals(media, "application/x-www-form-urlencoded");
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

// Form-style percent-decoding ('+' is a space); nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size())
        return std::nullopt;
      auto hi = hex_value(s[i + 1]);
      auto lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0)
        return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

} // namespace

const std::string* http_response::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (iequals(k, name))
      return &v;
  return nullptr;
}

namespace api {

caf::error make_http_error(http_ec code, std::string message) {
  return caf::error{static_cast<uint8_t>(code), http_ec_category,
                    caf::make_message(std::move(message))};
}

http_response error_response(const caf::error& err) {
  // A none error has no category (CAF's precondition); reaching here with one is a bug.
  if (!err)
    return internal_error();
  if (err.category() == http_ec_category) {
    auto message = context_text(err, 0);
    switch (static_cast<http_ec>(err.code())) {
      case http_ec::invalid_json: return error_body(400, "invalid_json", message);
      case http_ec::invalid_field: return error_body(400, "invalid_field", message);
      case http_ec::invalid_time: return error_body(400, "invalid_time", message);
      case http_ec::invalid_task: return error_body(400, "invalid_task", message);
      case http_ec::invalid_id: return error_body(400, "invalid_id", message);
      case http_ec::unauthorized: {
        auto res = error_body(401, "unauthorized", message);
        res.headers.emplace_back("WWW-Authenticate", "Bearer");
        return res;
      }
      case http_ec::unknown_path: return error_body(404, "not_found", message);
      case http_ec::method_not_allowed: {
        auto res = error_body(405, "method_not_allowed", message);
        res.headers.emplace_back("Allow", context_text(err, 1));
        return res;
      }
      case http_ec::payload_too_large: return error_body(413, "payload_too_large", message);
      case http_ec::unsupported_media_type:
        return error_body(415, "unsupported_media_type", message);
      case http_ec::none: break;
    }
  } else if (err.category() == ec_category) {
    auto unavailable = [](const char* message) {
      auto res = error_body(503, "unavailable", message);
      res.headers.emplace_back("Retry-After", "1");
      return res;
    };
    switch (static_cast<ec>(err.code())) {
      case ec::not_found: return error_body(404, "not_found", "no task with this id");
      case ec::idempotency_conflict:
        return error_body(409, "idempotency_conflict",
                          "this Idempotency-Key was already used with a different request");
      case ec::unavailable:
        return unavailable("the database cannot be reached; try again later");
      case ec::shutting_down:
        return unavailable("the service is shutting down; try again later");
      default: break;
    }
  } else if (err.category() == caf::atom("system")) {
    auto code = static_cast<caf::sec>(err.code());
    if (code == caf::sec::request_timeout || code == caf::sec::request_receiver_down) {
      auto res = error_body(503, "unavailable", "the service did not answer in time; try "
                                                "again later");
      res.headers.emplace_back("Retry-After", "1");
      return res;
    }
  }
  return internal_error();
}

http_response method_not_allowed(std::string_view allow) {
  auto err = caf::error{static_cast<uint8_t>(http_ec::method_not_allowed), http_ec_category,
                        caf::make_message(std::string{"method not allowed; use "}
                                            + std::string{allow},
                                          std::string{allow})};
  return error_response(err);
}

http_response unauthorized() {
  return error_response(make_http_error(http_ec::unauthorized,
                                        "missing or wrong bearer token"));
}

http_response shutting_down() {
  return error_response(make_error(ec::shutting_down));
}

caf::expected<new_task> parse_schedule_request(std::string_view body,
                                               std::optional<std::string_view> content_type,
                                               std::optional<std::string_view> idempotency_key,
                                               millis now) {
  if (content_type && !json_media_type(*content_type))
    return invalid(http_ec::unsupported_media_type,
                   "the body must be JSON (Content-Type: application/json)");
  if (idempotency_key) {
    auto& key = *idempotency_key;
    bool printable = !key.empty() && key.size() <= max_idempotency_key_bytes;
    for (char c : key)
      printable = printable && c >= 0x20 && c <= 0x7E;
    if (!printable)
      return invalid(http_ec::invalid_field,
                     "Idempotency-Key must be 1 to 255 printable ASCII characters");
  }
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
  auto due = parse_time(*time);
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

caf::expected<task_id> parse_id_query(std::string_view query) {
  std::optional<std::string> id;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq));
    if (!key)
      return invalid(http_ec::invalid_id, "the query string is malformed");
    if (*key != "id")
      continue;
    if (id)
      return invalid(http_ec::invalid_id, "id must be given once");
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{}
                                                             : pair.substr(eq + 1));
    if (!value)
      return invalid(http_ec::invalid_id, "the query string is malformed");
    id = std::move(*value);
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
  sha256 h;
  h.update(canonical.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return h.hex();
}

bool authorized(std::optional<std::string_view> authorization, std::string_view token) {
  if (token.empty())
    return true;
  if (!authorization)
    return false;
  auto value = trim(*authorization);
  constexpr std::string_view scheme = "bearer";
  if (value.size() <= scheme.size() || !iequals(value.substr(0, scheme.size()), scheme)
      || !is_space(value[scheme.size()]))
    return false;
  auto given = trim(value.substr(scheme.size()));
  // Constant time in the content and in the lengths: every byte of the longer string is
  // looked at, and a length mismatch is folded into the same accumulator.
  size_t n = std::max(given.size(), token.size());
  volatile unsigned diff = given.size() == token.size() ? 0u : 1u;
  for (size_t i = 0; i < n; ++i) {
    auto a = i < given.size() ? static_cast<unsigned char>(given[i]) : 0u;
    auto b = i < token.size() ? static_cast<unsigned char>(token[i]) : 0u;
    diff = diff | (a ^ b);
  }
  return diff == 0;
}

action route(const request_view& req, std::string_view token, bool stopping, millis now,
             bool metrics) {
  if (req.path == healthz_path || req.path == readyz_path) {
    if (req.method != "GET")
      return method_not_allowed("GET");
    // Alive while it answers at all; not ready while stopping (take it out of rotation).
    if (req.path == healthz_path)
      return healthy();
    if (stopping)
      return not_ready("the service is shutting down");
    return ready_action{};
  }
  if (!authorized(req.authorization, token))
    return unauthorized();
  if (stopping)
    return shutting_down();
  if (req.path == metrics_path) {
    if (!metrics)
      return metrics_disabled();
    if (req.method != "GET")
      return method_not_allowed("GET");
    return metrics_action{};
  }
  if (req.path == schedule_path) {
    if (req.method != "POST")
      return method_not_allowed("POST");
    if (req.body.size() > max_body_bytes)
      return error_response(make_http_error(http_ec::payload_too_large,
                                            "the body must be at most 1 MiB"));
    auto t = parse_schedule_request(req.body, req.content_type, req.idempotency_key, now);
    if (!t)
      return error_response(t.error());
    return schedule_action{std::move(*t)};
  }
  if (req.path == status_path) {
    if (req.method != "GET")
      return method_not_allowed("GET");
    auto id = parse_id_query(req.query);
    if (!id)
      return error_response(id.error());
    return status_action{*id};
  }
  return error_response(make_http_error(http_ec::unknown_path, "no such path"));
}

route_id classify(std::string_view path) {
  if (path == schedule_path)
    return route_id::schedule;
  if (path == status_path)
    return route_id::status;
  if (path == metrics_path)
    return route_id::metrics;
  if (path == healthz_path)
    return route_id::healthz;
  if (path == readyz_path)
    return route_id::readyz;
  return route_id::other;
}

const char* route_label(route_id id) {
  switch (id) {
    case route_id::schedule: return schedule_path;
    case route_id::status: return status_path;
    case route_id::metrics: return metrics_path;
    case route_id::healthz: return healthz_path;
    case route_id::readyz: return readyz_path;
    case route_id::other: break;
  }
  return "other";
}

http_response metrics_text(std::string text) {
  http_response res;
  res.status = 200;
  res.body = std::move(text);
  res.headers.emplace_back("Content-Type", metrics_content_type);
  // Every scrape must see fresh values.
  res.headers.emplace_back("Cache-Control", "no-store");
  return res;
}

http_response metrics_disabled() {
  return error_body(404, "not_found", "metrics are disabled (--metrics=off)");
}

http_response healthy() {
  ordered_json body;
  body["status"] = "ok";
  auto res = json_response(200, body);
  res.headers.emplace_back("Cache-Control", "no-store");
  return res;
}

http_response ready() {
  ordered_json body;
  body["status"] = "ready";
  auto res = json_response(200, body);
  res.headers.emplace_back("Cache-Control", "no-store");
  return res;
}

http_response not_ready(std::string_view reason) {
  ordered_json body;
  body["status"] = "not_ready";
  body["reason"] = reason;
  auto res = json_response(503, body);
  res.headers.emplace_back("Cache-Control", "no-store");
  res.headers.emplace_back("Retry-After", "1");
  return res;
}

http_response created(const task_record& rec) {
  auto res = json_text_response(201, object_writer{}
                                       .integer("id", rec.id)
                                       .text("task", rec.command)
                                       .text("time", format_time(rec.due))
                                       .text("status", to_string(rec.status))
                                       .text("created_at", format_time(rec.created_at))
                                       .finish());
  res.headers.emplace_back("Location", std::string{status_path} + "?id="
                                         + std::to_string(rec.id));
  if (rec.replayed)
    res.headers.emplace_back("Idempotent-Replayed", "true");
  return res;
}

http_response status(const task_view& v) {
  bool has_run = v.run != 0;
  object_writer w;
  w.integer("id", v.id)
    .text("task", v.command)
    .text("time", format_time(v.due))
    .text("status", to_string(v.status));
  if (v.exit_code == null_value)
    w.null("exit_code");
  else
    w.integer("exit_code", v.exit_code);
  if (v.signal == 0)
    w.null("signal");
  else
    w.text("signal", signal_name(v.signal));
  if (v.reason == run_reason::none)
    w.null("reason");
  else
    w.text("reason", to_string(v.reason));
  if (has_run)
    w.text("output", v.output);
  else
    w.null("output");
  w.boolean("output_truncated", v.output_truncated)
    .time_or_null("started_at", v.started_at)
    .time_or_null("finished_at", v.finished_at);
  if (has_run)
    w.integer("run_id", v.run);
  else
    w.null("run_id");
  w.text("created_at", format_time(v.created_at));
  return json_text_response(200, w.finish());
}

std::string signal_name(int32_t sig) {
  if (auto abbrev = sigabbrev_np(sig))
    return std::string{"SIG"} + abbrev;
  if (sig >= SIGRTMIN && sig <= SIGRTMAX)
    return sig == SIGRTMIN ? "SIGRTMIN" : "SIGRTMIN+" + std::to_string(sig - SIGRTMIN);
  return "SIG" + std::to_string(sig);
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

} // namespace api
} // namespace ts
