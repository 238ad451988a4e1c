#include "core/retry.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace ts {

millis retry_time(const retry_policy& p, int32_t failed_attempt, millis ended_at) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  auto uniform = std::uniform_real_distribution<double>{0.0, 1.0}(rng);
  return ended_at + retry_delay_ms(p, failed_attempt, uniform);
}

int64_t retry_delay_ms(const retry_policy& p, int32_t failed_attempt, double uniform) {
  auto cap = static_cast<double>(std::max<int64_t>(p.max_delay_ms, 0));
  auto base = static_cast<double>(std::max<int64_t>(p.delay_ms, 0));
  // In doubles, so multiplier^n cannot overflow an integer; min() brings it back in range
  // (pow gives inf for huge n, and min(cap, inf) is cap).
  auto n = std::max(failed_attempt, 1) - 1;
  auto d = std::min(cap, base * std::pow(std::max(p.multiplier, 1.0), n));
  uniform = std::clamp(uniform, 0.0, 1.0);
  double out = d;
  switch (p.jitter) {
    case retry_jitter::full: out = d * uniform; break;
    case retry_jitter::equal: out = d / 2 + (d / 2) * uniform; break;
    case retry_jitter::none: break;
  }
  return std::clamp<int64_t>(static_cast<int64_t>(std::floor(out)), 0,
                             static_cast<int64_t>(cap));
}

bool retryable(const retry_policy& p, int32_t attempt, task_status status, run_reason reason) {
  if (status == task_status::success || attempt >= p.max_attempts)
    return false;
  if (reason == run_reason::cancelled)
    return false;
  if (reason == run_reason::interrupted)
    return p.on_interrupted;
  return true;
}

} // namespace ts
