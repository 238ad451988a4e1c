// A task's controls in the store tests: one with every field away from its default, and a
// field-by-field comparison (task_controls has no operator==, and a CHECK per field names
// the one that differs).
#pragma once

#include <catch2/catch.hpp>

#include "core/types.hpp"

namespace ts::test {

/// Every field set, none to its default; the env is out of name order, with quoting,
/// escapes and multibyte characters, so that an order or an encoding lost shows.
inline task_controls full_controls() {
  task_controls c;
  c.timeout_ms = 90500;
  c.kill_grace_ms = 2500;
  c.retry.max_attempts = 4;
  c.retry.delay_ms = 1500;
  c.retry.multiplier = 1.7320508075688772;  // not a short decimal: the double survives
  c.retry.max_delay_ms = 120000;
  c.retry.jitter = retry_jitter::equal;
  c.retry.on_interrupted = true;
  c.env = {{"ZED", "last \"quoted\" \\ back"},
           {"ALPHA", "h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80\nline\ttab"},
           {"EMPTY", ""},
           {"_M1", "[\"not\", \"json\"]"}};
  c.cwd = "/srv/t\xC3\xA2" "ches/it's here";
  c.run_as = "nobody";
  return c;
}

inline void check_controls(const task_controls& got, const task_controls& want) {
  CHECK(got.timeout_ms == want.timeout_ms);
  CHECK(got.kill_grace_ms == want.kill_grace_ms);
  CHECK(got.retry.max_attempts == want.retry.max_attempts);
  CHECK(got.retry.delay_ms == want.retry.delay_ms);
  CHECK(got.retry.multiplier == want.retry.multiplier);
  CHECK(got.retry.max_delay_ms == want.retry.max_delay_ms);
  CHECK(got.retry.jitter == want.retry.jitter);
  CHECK(got.retry.on_interrupted == want.retry.on_interrupted);
  CHECK(got.env == want.env);
  CHECK(got.cwd == want.cwd);
  CHECK(got.run_as == want.run_as);
}

} // namespace ts::test
