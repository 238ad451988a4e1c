// Retry delays: when attempt n+1 of a failed run is due. Pure code (in ts_core only for the
// types it shares with the actors), with the randomness passed in, so that tests check each
// jitter's exact range.
#pragma once

#include <cstdint>
#include <optional>

#include "core/types.hpp"

namespace ts {

/// The delay before attempt `failed_attempt + 1`: d = min(max_delay, delay *
/// multiplier^(failed_attempt - 1)), then full jitter draws from [0, d], equal from
/// [d/2, d], none is d. `uniform` is a draw from [0, 1). Never negative, never above
/// max_delay_ms, and exact for huge exponents (no overflow).
int64_t retry_delay_ms(const retry_policy& p, int32_t failed_attempt, double uniform);

/// When attempt `failed_attempt + 1` of a run that ended at `ended_at` is due: retry_delay_ms
/// with a fresh draw (the jitter's randomness, per thread).
millis retry_time(const retry_policy& p, int32_t failed_attempt, millis ended_at);

/// Whether a run that ended this way is tried again under `p` (attempts remain; cancelled
/// never; interrupted only with on_interrupted; success never).
bool retryable(const retry_policy& p, int32_t attempt, task_status status, run_reason reason);

} // namespace ts
