// The one source of scheduling time. Production reads the system's wall clock; tests
// substitute a clock they move by hand.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "core/ids.hpp"

namespace ts {

class wall_clock {
public:
  virtual ~wall_clock() = default;
  /// Microseconds since the Unix epoch (UTC). May step (NTP): callers must not assume
  /// it is monotonic.
  virtual int64_t now_us() const = 0;
  millis now_ms() const {
    return now_us() / 1000;
  }
};

/// The system's wall clock, for what is not scheduling time (log stamps, a process's start
/// and end, a request's arrival): the one place that reads it.
inline int64_t system_now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}
inline millis system_now_ms() {
  return system_now_us() / 1000;
}

class system_wall_clock final : public wall_clock {
public:
  int64_t now_us() const override {
    return system_now_us();
  }
};

/// A clock the test sets.
class manual_wall_clock final : public wall_clock {
public:
  explicit manual_wall_clock(int64_t start_us = 0) : now_(start_us) {
  }
  int64_t now_us() const override {
    return now_.load();
  }
  void set_us(int64_t us) {
    now_ = us;
  }
  void advance_ms(int64_t ms) {
    now_ += ms * 1000;
  }

private:
  std::atomic<int64_t> now_;
};

} // namespace ts
