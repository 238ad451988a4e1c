#include "cli/http.hpp"

#include "core/text.hpp"

namespace ts::cli {

http_call http_call::get(std::string target) {
  http_call c;
  c.target = std::move(target);
  return c;
}

http_call http_call::post(std::string target, std::string body) {
  http_call c;
  c.method = "POST";
  c.target = std::move(target);
  c.body = std::move(body);
  return c;
}

std::string http_answer::header(const std::string& name) const {
  for (auto& [k, v] : headers)
    if (iequals(k, name))
      return v;
  return "";
}

std::string query_escape(const std::string& value) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                      || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

} // namespace ts::cli
