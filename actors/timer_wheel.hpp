// A hierarchical timing wheel with millisecond resolution: O(1) insert and cancel, and an
// advance that skips empty stretches, so a large clock step costs little.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "actors/types.hpp"

namespace ts {

class timer_wheel {
public:
  /// `now` is the wheel's starting time (wall-clock ms).
  explicit timer_wheel(millis now);

  /// Arms a timer for `id` at `due`. An id that is already armed is moved. A `due` at or
  /// before the wheel's time fires on the next advance.
  void insert(task_id id, millis due);

  /// Disarms `id`; false when it was not armed.
  bool cancel(task_id id);

  bool contains(task_id id) const;

  /// Moves the wheel's time to `now` and appends every timer due at or before it to `out`,
  /// earliest first. A `now` before the wheel's time (the wall clock stepped back) moves
  /// nothing back: timers always fire by the wall clock, never early.
  void advance(millis now, std::vector<pending_entry>& out);

  /// A lower bound for the next expiry (never later than it), or null_value when empty.
  /// Waking up at this time and calling advance is always safe.
  millis next_event() const;

  size_t size() const;
  millis now() const;
  /// Bytes held by the wheel's own structures (for memory accounting in benchmarks).
  size_t memory_usage() const;

  // ... implementation-defined private members
};

} // namespace ts
