// Retry delays: the exponential bound, the cap, each jitter's range, and which outcomes are
// tried again.
#include "core/retry.hpp"

#include <catch2/catch.hpp>

using namespace ts;

namespace {

retry_policy policy(retry_jitter j) {
  retry_policy p;
  p.max_attempts = 5;
  p.delay_ms = 10000;
  p.multiplier = 2;
  p.max_delay_ms = 3600000;
  p.jitter = j;
  return p;
}

} // namespace

TEST_CASE("retry delays grow by the multiplier up to the cap", "[retry]") {
  auto p = policy(retry_jitter::none);
  CHECK(retry_delay_ms(p, 1, 0.5) == 10000);
  CHECK(retry_delay_ms(p, 2, 0.5) == 20000);
  CHECK(retry_delay_ms(p, 3, 0.5) == 40000);
  CHECK(retry_delay_ms(p, 9, 0.5) == 2560000);
  CHECK(retry_delay_ms(p, 10, 0.5) == 3600000);
  // Huge exponents and multipliers stay at the cap, never overflow.
  CHECK(retry_delay_ms(p, 100, 0.5) == 3600000);
  p.multiplier = 10;
  CHECK(retry_delay_ms(p, 100, 0.5) == 3600000);
  p.multiplier = 1;
  CHECK(retry_delay_ms(p, 50, 0.5) == 10000);
  // A fractional multiplier.
  p.multiplier = 1.5;
  CHECK(retry_delay_ms(p, 3, 0.0) == 22500);
}

TEST_CASE("full jitter draws from [0, d], equal from [d/2, d]", "[retry]") {
  auto full = policy(retry_jitter::full);
  auto equal = policy(retry_jitter::equal);
  for (int attempt = 1; attempt <= 12; ++attempt) {
    auto d = retry_delay_ms(policy(retry_jitter::none), attempt, 0);
    INFO("attempt " << attempt << " d " << d);
    CHECK(retry_delay_ms(full, attempt, 0.0) == 0);
    CHECK(retry_delay_ms(full, attempt, 0.999999) <= d);
    CHECK(retry_delay_ms(full, attempt, 0.999999) >= d - 5);
    CHECK(retry_delay_ms(equal, attempt, 0.0) == d / 2);
    CHECK(retry_delay_ms(equal, attempt, 0.999999) <= d);
    for (double u = 0; u < 1; u += 0.0625) {
      auto f = retry_delay_ms(full, attempt, u);
      auto e = retry_delay_ms(equal, attempt, u);
      CHECK((f >= 0 && f <= d));
      CHECK((e >= d / 2 && e <= d));
    }
  }
  // Out-of-range draws are clamped, not trusted.
  CHECK(retry_delay_ms(full, 1, -3) == 0);
  CHECK(retry_delay_ms(full, 1, 7) == 10000);
}

TEST_CASE("which outcomes are retried", "[retry]") {
  auto p = policy(retry_jitter::none);
  p.max_attempts = 3;
  CHECK(retryable(p, 1, task_status::failure, run_reason::exit));
  CHECK(retryable(p, 2, task_status::failure, run_reason::signal));
  CHECK(retryable(p, 1, task_status::failure, run_reason::timeout));
  CHECK(retryable(p, 1, task_status::failure, run_reason::start_failed));
  CHECK_FALSE(retryable(p, 3, task_status::failure, run_reason::exit));
  CHECK_FALSE(retryable(p, 1, task_status::success, run_reason::none));
  CHECK_FALSE(retryable(p, 1, task_status::failure, run_reason::cancelled));
  CHECK_FALSE(retryable(p, 1, task_status::failure, run_reason::interrupted));
  p.on_interrupted = true;
  CHECK(retryable(p, 1, task_status::failure, run_reason::interrupted));
  p.max_attempts = 1;
  CHECK_FALSE(retryable(p, 1, task_status::failure, run_reason::exit));
}
