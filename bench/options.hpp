// Command-line options of the bench programs: `--name=value` pairs, nothing else. Bench tools
// are driven by bench/run, so a wrong option is a bug there: it is reported and the program
// exits non-zero.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace ts::bench {

class options {
public:
  /// Reads argv[first..]; any argument that is not `--name=value` makes ok() false.
  options(int argc, char** argv, int first = 1);

  bool ok() const {
    return error_.empty();
  }
  const std::string& error() const {
    return error_;
  }

  std::string str(const std::string& name, const std::string& fallback) const;
  /// An integer or a number; a malformed value records an error.
  int64_t num(const std::string& name, int64_t fallback);
  double real(const std::string& name, double fallback);
  /// A required option; records an error (ok() turns false) when it is missing.
  std::string required(const std::string& name);

  /// Names given but never read: a misspelt option, reported by `check`.
  std::string unread() const;

  /// Prints the first problem to stderr and returns false, else true.
  bool check(const char* program);

private:
  std::map<std::string, std::string> values_;
  mutable std::map<std::string, bool> read_;
  std::string error_;
};

} // namespace ts::bench
