// Sets TZ for one test and puts the previous value (or its absence) back afterwards: the
// glibc oracle of the time tests reads the process's zone.
#pragma once

#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

class tz_guard {
public:
  explicit tz_guard(const char* zone) {
    if (const char* old = std::getenv("TZ"))
      old_ = old;
    setenv("TZ", zone, 1);
    tzset();
  }

  ~tz_guard() {
    if (old_)
      setenv("TZ", old_->c_str(), 1);
    else
      unsetenv("TZ");
    tzset();
  }

  tz_guard(const tz_guard&) = delete;
  tz_guard& operator=(const tz_guard&) = delete;

private:
  std::optional<std::string> old_;
};
