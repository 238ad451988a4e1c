// glibc as the time tests' independent oracle: timegm for UTC fields, and a guard that sets
// TZ for one test (localtime_r and mktime read the process's zone) and puts the previous
// value, or its absence, back afterwards.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

/// Seconds since the epoch of date and time fields read as UTC.
inline int64_t utc_seconds(int y, int mo, int d, int h, int mi, int s) {
  tm in{};
  in.tm_year = y - 1900;
  in.tm_mon = mo - 1;
  in.tm_mday = d;
  in.tm_hour = h;
  in.tm_min = mi;
  in.tm_sec = s;
  return static_cast<int64_t>(timegm(&in));
}

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
