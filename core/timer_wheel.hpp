// A hierarchical timing wheel with millisecond resolution: O(1) insert and cancel, and an
// advance that skips empty stretches, so a large clock step costs little.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/ids.hpp"

namespace ts {

class timer_wheel {
public:
  /// What next_event() returns for an empty wheel. A sentinel rather than std::optional:
  /// advance() asks for the next event on every pass, and an event is never negative
  /// (an overdue one is reported as 0).
  static constexpr millis no_event = -1;

  /// `now` is the wheel's starting time (wall-clock ms).
  explicit timer_wheel(millis now);

  /// Arms a timer for `id` at `due`. An id that is already armed is moved. A `due` at or
  /// before the wheel's time fires on the next advance.
  void insert(task_id id, millis due);

  /// Disarms `id`; false when it was not armed.
  bool cancel(task_id id);

  bool contains(task_id id) const;

  /// When `id` is armed for; absent when it is not armed.
  std::optional<millis> due_of(task_id id) const;

  /// Moves the wheel's time to `now` and appends every timer due at or before it to `out`,
  /// earliest first. A `now` before the wheel's time (the wall clock stepped back) moves
  /// nothing back: timers always fire by the wall clock, never early.
  void advance(millis now, std::vector<pending_entry>& out);

  /// A lower bound for the next expiry (never later than it), or no_event when empty.
  /// Waking up at this time and calling advance is always safe.
  millis next_event() const;

  size_t size() const;
  millis now() const;
  /// Bytes held by the wheel's own structures (for memory accounting in benchmarks).
  size_t memory_usage() const;

private:
  static constexpr int level_bits = 6;
  static constexpr int slots = 1 << level_bits;
  // 11 levels of 6 bits cover every non-negative int64 due, not only the years up to 9999.
  static constexpr int levels = 11;
  static constexpr uint32_t nil = UINT32_MAX;
  static constexpr int chunk_bits = 12;  // 4096 nodes (96 KiB) per pool chunk

  // 24 bytes; `prev`/`next` link a circular list, so a slot keeps only its head.
  struct node {
    millis due;
    task_id id;
    uint32_t prev;
    uint32_t next;
  };

  node& at(uint32_t i) { return chunks_[i >> chunk_bits][i & ((1u << chunk_bits) - 1)]; }
  const node& at(uint32_t i) const {
    return chunks_[i >> chunk_bits][i & ((1u << chunk_bits) - 1)];
  }
  uint32_t allocate_node();
  void free_node(uint32_t i);

  // Slot lists. Where a node lives is a function of its due and cur_ alone.
  void link(uint32_t i);
  void unlink(uint32_t i);
  void push_back(uint32_t& head, uint32_t i);
  void remove(uint32_t& head, uint32_t i);
  /// Detaches the slot (level, slot) and places its nodes again for the current cur_;
  /// nodes due at or before cur_ fire into `out`.
  void redistribute(int level, int slot, std::vector<pending_entry>& out);
  void fire(uint32_t i, std::vector<pending_entry>& out);
  millis wheel_next_event() const;

  // id -> node index: open addressing, linear probing, backward-shift deletion.
  size_t home(task_id id) const;
  uint32_t find(task_id id) const;
  void index_insert(uint32_t i);
  void index_erase(task_id id);
  void index_grow();

  millis cur_;
  size_t size_ = 0;
  uint64_t occupied_[levels] = {};
  uint32_t heads_[levels][slots];
  uint32_t expired_ = nil;     // due <= cur_: fires on the next advance that reaches it
  millis expired_min_ = 0;     // lower bound of the expired dues (cancel leaves it low)
  std::vector<std::unique_ptr<node[]>> chunks_;  // chunked: growth never copies nodes
  uint32_t next_unused_ = 0;
  uint32_t free_ = nil;
  std::vector<uint32_t> index_;  // power-of-two size, `nil` marks an empty cell
  int index_shift_ = 0;
};

} // namespace ts
