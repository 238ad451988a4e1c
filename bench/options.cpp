#include "bench/options.hpp"

#include <cstdlib>
#include <iostream>

namespace ts::bench {

options::options(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    auto eq = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos) {
      error_ = "expected --name=value, got: " + arg;
      return;
    }
    values_[arg.substr(2, eq - 2)] = arg.substr(eq + 1);
  }
}

std::string options::str(const std::string& name, const std::string& fallback) const {
  auto i = values_.find(name);
  if (i == values_.end())
    return fallback;
  read_[name] = true;
  return i->second;
}

int64_t options::num(const std::string& name, int64_t fallback) {
  auto s = str(name, "");
  if (s.empty())
    return fallback;
  char* end = nullptr;
  auto v = std::strtoll(s.c_str(), &end, 10);
  if (end == nullptr || *end != '\0') {
    error_ = "--" + name + " must be an integer";
    return fallback;
  }
  return v;
}

double options::real(const std::string& name, double fallback) {
  auto s = str(name, "");
  if (s.empty())
    return fallback;
  char* end = nullptr;
  auto v = std::strtod(s.c_str(), &end);
  if (end == nullptr || *end != '\0') {
    error_ = "--" + name + " must be a number";
    return fallback;
  }
  return v;
}

std::string options::required(const std::string& name) {
  auto s = str(name, "");
  if (s.empty() && error_.empty())
    error_ = "--" + name + " is required";
  return s;
}

std::string options::unread() const {
  for (auto& [name, value] : values_)
    if (!read_.count(name))
      return name;
  return {};
}

bool options::check(const char* program) {
  if (error_.empty()) {
    auto name = unread();
    if (!name.empty())
      error_ = "unknown option --" + name;
  }
  if (error_.empty())
    return true;
  std::cerr << program << ": " << error_ << std::endl;
  return false;
}

} // namespace ts::bench
