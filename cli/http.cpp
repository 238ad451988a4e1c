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

} // namespace ts::cli
