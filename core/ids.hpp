// The identifiers, the instant type and the timer entry every component shares. Free of CAF, so that the pure
// cores (timer wheel, parsers) compile and can be fuzzed without it.
#pragma once

#include <cstdint>

namespace ts {

using task_id = int64_t;
using run_id = int64_t;
/// A wall-clock instant: milliseconds since the Unix epoch, UTC.
using millis = int64_t;

/// What the timer needs of a pending task; the command is loaded when it is due. (Its CAF
/// `inspect` is in core/types.hpp, so that this header stays free of CAF.)
struct pending_entry {
  task_id id = 0;
  millis due = 0;
};

} // namespace ts
