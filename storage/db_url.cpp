#include "storage/db_url.hpp"

#include "core/error.hpp"
#include "core/text.hpp"

namespace ts::storage {

namespace {

constexpr std::string_view sqlite_prefix = "sqlite:";
constexpr std::string_view mysql_prefix = "mysql://";

// Every message below is fixed text: quoting a part of the URL could quote a piece of a
// password whose reserved characters were not percent-encoded.
caf::error bad_url(const char* why) {
  return make_error(ec::invalid_argument, std::string{"invalid database URL: "} + why);
}

bool all_digits(std::string_view s) {
  if (s.empty())
    return false;
  for (char c : s)
    if (c < '0' || c > '9')
      return false;
  return true;
}

caf::expected<db_url> parse_sqlite(std::string_view rest) {
  if (rest.empty())
    return bad_url("sqlite: needs a file path, e.g. sqlite:data/taskschedulizer.db");
  // `sqlite://x` reads as a host in other tools; refuse rather than guess.
  if (rest.substr(0, 2) == "//")
    return bad_url("write sqlite:relative/path.db or sqlite:/absolute/path.db");
  if (rest.find('\0') != std::string_view::npos)
    return bad_url("the sqlite path contains a NUL byte");
  db_url out;
  out.scheme = "sqlite";
  out.path = std::string{rest};
  return out;
}

caf::expected<db_url> parse_mysql(std::string_view rest) {
  db_url out;
  out.scheme = "mysql";
  // No part may hold a NUL byte, escaped (percent_decode refuses %00) or raw: the C client
  // would cut the string there and use another user, host, database or socket.
  if (rest.find('\0') != std::string_view::npos)
    return bad_url("the URL contains a NUL byte");
  if (rest.find('#') != std::string_view::npos)
    return bad_url("a fragment ('#') is not allowed; percent-encode '#' in a password as %23");
  // Authority ends at the first '/' or '?' (RFC 3986).
  auto authority_end = rest.find_first_of("/?");
  auto authority = rest.substr(0, authority_end);
  auto tail = authority_end == std::string_view::npos ? std::string_view{}
                                                      : rest.substr(authority_end);
  // userinfo ends at the last '@' of the authority.
  auto at = authority.rfind('@');
  std::string_view hostport = authority;
  if (at != std::string_view::npos) {
    auto userinfo = authority.substr(0, at);
    hostport = authority.substr(at + 1);
    auto colon = userinfo.find(':');
    auto user = percent_decode(userinfo.substr(0, colon), percent_mode::strict);
    if (!user)
      return bad_url("malformed percent-encoding in the user name");
    out.user = std::move(*user);
    if (colon != std::string_view::npos) {
      auto password = percent_decode(userinfo.substr(colon + 1), percent_mode::strict);
      if (!password)
        return bad_url("malformed percent-encoding in the password");
      out.password = std::move(*password);
      out.has_password = true;
    }
  }
  if (out.user.empty())
    return bad_url("mysql:// needs a user: mysql://USER:PASSWORD@HOST:PORT/DATABASE "
                   "(percent-encode '@', ':', '/', '?', '#' and '%' in the password)");
  // Host: a bracketed IPv6 literal or a name / IPv4 address, then an optional port.
  std::string_view port_text;
  bool has_port = false;
  if (!hostport.empty() && hostport.front() == '[') {
    auto close = hostport.find(']');
    if (close == std::string_view::npos)
      return bad_url("unterminated '[' in an IPv6 host");
    out.host = std::string{hostport.substr(1, close - 1)};
    auto after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return bad_url("unexpected text after the IPv6 host");
      port_text = after.substr(1);
      has_port = true;
    }
    if (out.host.empty() || out.host.find_first_not_of("0123456789abcdefABCDEF:.")
                              != std::string::npos)
      return bad_url("malformed IPv6 host");
  } else {
    auto colon = hostport.find(':');
    out.host = std::string{hostport.substr(0, colon)};
    if (colon != std::string_view::npos) {
      port_text = hostport.substr(colon + 1);
      has_port = true;
    }
    if (out.host.find_first_of("[]") != std::string::npos)
      return bad_url("malformed host");
  }
  if (out.host.empty())
    return bad_url("mysql:// needs a host (use localhost with ?socket=PATH for a unix socket)");
  if (has_port) {
    if (!all_digits(port_text) || port_text.size() > 5)
      return bad_url("the port must be a number from 1 to 65535");
    unsigned port = 0;
    for (char c : port_text)
      port = port * 10 + static_cast<unsigned>(c - '0');
    if (port < 1 || port > 65535)
      return bad_url("the port must be a number from 1 to 65535");
    out.port = port;
  }
  // Path: exactly one segment, the database.
  if (tail.empty() || tail.front() != '/')
    return bad_url("mysql:// needs a database: mysql://USER:PASSWORD@HOST:PORT/DATABASE");
  auto query_pos = tail.find('?');
  auto path = tail.substr(1, query_pos == std::string_view::npos ? std::string_view::npos
                                                                   : query_pos - 1);
  if (path.find('/') != std::string_view::npos)
    return bad_url("the database name must not contain '/'");
  auto database = percent_decode(path, percent_mode::strict);
  if (!database)
    return bad_url("malformed percent-encoding in the database name");
  if (database->empty())
    return bad_url("mysql:// needs a database: mysql://USER:PASSWORD@HOST:PORT/DATABASE");
  out.database = std::move(*database);
  // Query: only socket=PATH.
  if (query_pos != std::string_view::npos) {
    auto query = tail.substr(query_pos + 1);
    while (!query.empty()) {
      auto amp = query.find('&');
      auto param = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
      if (param.empty())
        continue;
      auto eq = param.find('=');
      if (param.substr(0, eq) != "socket" || eq == std::string_view::npos)
        return bad_url("the only supported parameter is ?socket=PATH");
      auto socket = percent_decode(param.substr(eq + 1), percent_mode::strict);
      if (!socket || socket->empty())
        return bad_url("malformed socket path");
      out.socket = std::move(*socket);
    }
  }
  return out;
}

} // namespace

caf::expected<db_url> parse_db_url(const std::string& url) {
  std::string_view text = url;
  if (text.substr(0, sqlite_prefix.size()) == sqlite_prefix)
    return parse_sqlite(text.substr(sqlite_prefix.size()));
  if (text.substr(0, mysql_prefix.size()) == mysql_prefix)
    return parse_mysql(text.substr(mysql_prefix.size()));
  return bad_url("expected sqlite:PATH or mysql://USER:PASSWORD@HOST:PORT/DATABASE");
}

std::string redact_db_url(const std::string& url) {
  std::string_view text = url;
  if (text.substr(0, mysql_prefix.size()) != mysql_prefix)
    return url;
  // Conservative on purpose: everything from the first ':' after the user to the last '@'
  // goes, so that even a password with unencoded reserved characters stays hidden.
  auto start = mysql_prefix.size();
  auto at = text.rfind('@');
  if (at == std::string_view::npos || at < start)
    return url;
  auto colon = text.find(':', start);
  if (colon == std::string_view::npos || colon > at)
    return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

} // namespace ts::storage
