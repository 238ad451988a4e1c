#include "http/cursor.hpp"

#include <cstdint>

#include "core/sha256.hpp"
#include "core/text.hpp"

namespace ts::api {

namespace {

// Version 1: "1" LIST "." FILTER_DIGEST(16 hex) "." ID "." CHECK(16 hex), then base64url.
// The checksum is not a secret MAC: cursors stay valid across restarts and nodes, and a
// client who forges one only gets the page after an id, which it may list anyway. It stops
// the accidents: edited, cut or pasted-from-another-list cursors.
constexpr std::string_view salt = "taskschedulizer cursor v1|";

std::string digest16(std::string_view text) {
  return sha256_hex(text).substr(0, 16);
}

std::string check_of(std::string_view body) {
  std::string sealed{salt};
  sealed += body;
  return digest16(sealed);
}

} // namespace

std::string encode_cursor(cursor_list list, std::string_view filter, int64_t after) {
  std::string body = "1";
  body += static_cast<char>(list);
  body += '.';
  body += digest16(filter);
  body += '.';
  body += std::to_string(after);
  auto check = check_of(body);
  body += '.';
  body += check;
  return base64url_encode(body);
}

parsed<int64_t> decode_cursor(std::string_view text, cursor_list list, std::string_view filter) {
  using result = parsed<int64_t>;
  auto bad = [] {
    return result::failure("the cursor is not one this server gave out (use next_cursor "
                           "as it came)");
  };
  if (text.empty() || text.size() > 128)
    return bad();
  auto raw = base64url_decode(text);
  if (!raw)
    return bad();
  std::string_view body{*raw};
  auto last_dot = body.rfind('.');
  if (last_dot == std::string_view::npos || check_of(body.substr(0, last_dot))
                                               != body.substr(last_dot + 1))
    return bad();
  body = body.substr(0, last_dot);
  // Sealed by us: the layout holds from here on, but is checked all the same.
  if (body.size() < 3 || body[0] != '1' || body[2] != '.')
    return bad();
  if (body[1] != static_cast<char>(list))
    return result::failure(list == cursor_list::tasks
                             ? "the cursor belongs to a list of runs, not of tasks"
                             : "the cursor belongs to a list of tasks, not of runs");
  body.remove_prefix(3);
  auto dot = body.find('.');
  if (dot == std::string_view::npos)
    return bad();
  if (body.substr(0, dot) != digest16(filter))
    return result::failure("the cursor belongs to a list with other filters; a cursor "
                           "continues the list it came from");
  auto id_text = body.substr(dot + 1);
  if (id_text.empty() || id_text.size() > 19)
    return bad();
  int64_t id = 0;
  for (char c : id_text) {
    if (c < '0' || c > '9' || id > (INT64_MAX - (c - '0')) / 10)
      return bad();
    id = id * 10 + (c - '0');
  }
  if (id < 1)
    return bad();
  return id;
}

} // namespace ts::api
