// libFuzzer target for the database URL parser (scripts/fuzz db_url): the input is the --db
// URL, as an operator (or a config file, or the environment) gives it.
// Invariants: a refusal is invalid_argument with one of the parser's fixed messages (never a
// piece of the URL, which could be a password); an accepted URL has every part its scheme
// needs; its parts, percent-encoded again, parse back to the same parts; redact_db_url never
// shows the password as it was written.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/text.hpp"
#include "storage/db_url.hpp"

namespace {

void check(bool ok) {
  if (!ok)
    std::abort();
}

std::string rebuild(const ts::storage::db_url& u) {
  if (u.scheme == "sqlite")
    return "sqlite:" + u.path;
  std::string out = "mysql://" + ts::percent_encode(u.user);
  if (u.has_password)
    out += ":" + ts::percent_encode(u.password);
  out += "@";
  out += u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  if (u.port != 0)
    out += ":" + std::to_string(u.port);
  out += "/" + ts::percent_encode(u.database);
  if (!u.socket.empty())
    out += "?socket=" + ts::percent_encode(u.socket);
  return out;
}

bool same(const ts::storage::db_url& a, const ts::storage::db_url& b) {
  return a.scheme == b.scheme && a.path == b.path && a.user == b.user
         && a.password == b.password && a.has_password == b.has_password && a.host == b.host
         && a.port == b.port && a.database == b.database && a.socket == b.socket;
}

// The password as written in a mysql:// URL: after the user's ':' up to the authority's
// last '@' (how the parser reads it), or empty.
std::string_view raw_password(std::string_view url) {
  constexpr std::string_view prefix = "mysql://";
  if (url.substr(0, prefix.size()) != prefix)
    return {};
  auto rest = url.substr(prefix.size());
  auto authority = rest.substr(0, rest.find_first_of("/?"));
  auto at = authority.rfind('@');
  if (at == std::string_view::npos)
    return {};
  auto userinfo = authority.substr(0, at);
  auto colon = userinfo.find(':');
  return colon == std::string_view::npos ? std::string_view{} : userinfo.substr(colon + 1);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string url{reinterpret_cast<const char*>(data), size};
  auto redacted = ts::storage::redact_db_url(url);
  auto u = ts::storage::parse_db_url(url);
  if (!u) {
    check(u.error() == ts::ec::invalid_argument);
    // Fixed text only: the message is the same whatever the bytes of the URL were, so it
    // cannot quote them. (Each fixed message is shorter than this.)
    auto why = ts::render(u.error());
    check(why.find("invalid database URL: ") != std::string::npos);
    check(why.size() < 400);
    return 0;
  }
  if (u->scheme == "sqlite") {
    check(!u->path.empty() && u->path.find('\0') == std::string::npos);
  } else {
    check(u->scheme == "mysql");
    check(!u->user.empty() && !u->host.empty() && !u->database.empty());
    check(u->port <= 65535);
  }
  auto back = ts::storage::parse_db_url(rebuild(*u));
  check(back && same(*back, *u));

  // A password of a few characters that is written nowhere else in the URL must be gone
  // from its redacted form (unless it holds the mask's own '*').
  auto pw = raw_password(url);
  if (u->has_password && pw.size() >= 4 && url.find(pw) == url.rfind(pw)
      && pw.find('*') == std::string_view::npos)
    check(redacted.find(pw) == std::string::npos);
  return 0;
}
