#include "core/timer_wheel.hpp"

#include <algorithm>

// Layout: an entry due at d (> cur_) sits at level L = (highest bit of d ^ cur_) / 6, in slot
// (d >> 6L) & 63. Its level-L slot therefore lies after cur_'s, within cur_'s level-(L+1)
// block, so the lowest occupied slot of the lowest non-empty level holds the earliest entry
// and its start is a lower bound of every due. Entries due at or before cur_ wait in
// `expired_`. Where an entry lives follows from (due, cur_) alone, so nodes store no slot.

namespace ts {

namespace {

int highest_bit(uint64_t x) {
  return 63 - __builtin_clzll(x);
}

int lowest_bit(uint64_t x) {
  return __builtin_ctzll(x);
}

} // namespace

timer_wheel::timer_wheel(millis now) : cur_(std::max<millis>(now, 0)) {
  // Negative times are below every representable slot; they only ever land in `expired_`.
  for (auto& level : heads_)
    std::fill(std::begin(level), std::end(level), nil);
}

void timer_wheel::insert(task_id id, millis due) {
  auto i = find(id);
  if (i != nil) {
    unlink(i);
    at(i).due = due;
    link(i);
    return;
  }
  i = allocate_node();
  at(i) = node{due, id, nil, nil};
  index_insert(i);
  ++size_;
  link(i);
}

bool timer_wheel::cancel(task_id id) {
  auto i = find(id);
  if (i == nil)
    return false;
  unlink(i);
  index_erase(id);
  free_node(i);
  --size_;
  return true;
}

bool timer_wheel::contains(task_id id) const {
  return find(id) != nil;
}

std::optional<millis> timer_wheel::due_of(task_id id) const {
  auto i = find(id);
  if (i == nil)
    return std::nullopt;
  return at(i).due;
}

void timer_wheel::advance(millis now, std::vector<pending_entry>& out) {
  auto first = out.size();
  auto by_due = [](const pending_entry& a, const pending_entry& b) { return a.due < b.due; };
  if (now < cur_) {
    // The wall clock stepped back: the wheel stays put, only expired entries that the wall
    // clock has reached again fire. Every wheel entry is due after cur_ > now.
    if (expired_ == nil)
      return;
    auto head = expired_;
    auto last = at(head).prev;
    expired_ = nil;
    for (auto i = head;;) {
      auto next = at(i).next;
      auto done = i == last;
      if (at(i).due <= now)
        fire(i, out);
      else
        link(i);  // back into `expired_`, in the same order; recomputes expired_min_
      if (done)
        break;
      i = next;
    }
    std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(), by_due);
    return;
  }
  if (expired_ != nil) {
    auto head = expired_;
    auto last = at(head).prev;
    expired_ = nil;
    for (auto i = head;;) {
      auto next = at(i).next;
      auto done = i == last;
      fire(i, out);
      if (done)
        break;
      i = next;
    }
    // Stable: entries with one due keep their insertion order, as the wheel's slots do.
    std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(), by_due);
  }
  // Each pass either ends or empties one slot; every entry passes through at most `levels`
  // slots, so the loop ends after at most size_ * levels + 1 passes.
  for (;;) {
    int level = 0;
    while (level < levels && occupied_[level] == 0)
      ++level;
    auto event = wheel_next_event();
    if (event == no_event) {
      cur_ = now;
      return;
    }
    if (event > now) {
      // No cascade needed: `event` is at or before the start of every occupied slot, so
      // `now` < `event` enters none of them and every entry keeps its level and slot.
      cur_ = now;
      return;
    }
    // Jump to the event: cur_ stays in the same block at every higher level, so only this
    // slot needs to come down; its entries due at `event` fire, in insertion order.
    cur_ = event;
    redistribute(level, lowest_bit(occupied_[level]), out);
  }
}

millis timer_wheel::next_event() const {
  if (expired_ != nil)
    return std::max<millis>(expired_min_, 0);  // 0 keeps it apart from no_event
  return wheel_next_event();
}

size_t timer_wheel::size() const {
  return size_;
}

millis timer_wheel::now() const {
  return cur_;
}

size_t timer_wheel::memory_usage() const {
  return sizeof(*this) + chunks_.capacity() * sizeof(chunks_[0])
         + chunks_.size() * (size_t{1} << chunk_bits) * sizeof(node)
         + index_.capacity() * sizeof(index_[0]);
}

// --- node pool --------------------------------------------------------------------------

uint32_t timer_wheel::allocate_node() {
  if (free_ != nil) {
    auto i = free_;
    free_ = at(i).next;
    return i;
  }
  if ((next_unused_ >> chunk_bits) == chunks_.size())
    chunks_.push_back(std::make_unique<node[]>(size_t{1} << chunk_bits));
  return next_unused_++;
}

void timer_wheel::free_node(uint32_t i) {
  at(i).next = free_;
  free_ = i;
}

// --- slot lists -------------------------------------------------------------------------

void timer_wheel::push_back(uint32_t& head, uint32_t i) {
  auto& n = at(i);
  if (head == nil) {
    n.prev = n.next = i;
    head = i;
    return;
  }
  auto tail = at(head).prev;
  n.prev = tail;
  n.next = head;
  at(tail).next = i;
  at(head).prev = i;
}

void timer_wheel::remove(uint32_t& head, uint32_t i) {
  auto& n = at(i);
  if (n.next == i) {
    head = nil;
    return;
  }
  at(n.prev).next = n.next;
  at(n.next).prev = n.prev;
  if (head == i)
    head = n.next;
}

void timer_wheel::link(uint32_t i) {
  auto due = at(i).due;
  if (due <= cur_) {
    expired_min_ = expired_ == nil ? due : std::min(expired_min_, due);
    push_back(expired_, i);
    return;
  }
  auto d = static_cast<uint64_t>(due);
  auto level = highest_bit(d ^ static_cast<uint64_t>(cur_)) / level_bits;
  auto slot = static_cast<int>((d >> (level_bits * level)) & (slots - 1));
  push_back(heads_[level][slot], i);
  occupied_[level] |= uint64_t{1} << slot;
}

void timer_wheel::unlink(uint32_t i) {
  auto due = at(i).due;
  if (due <= cur_) {
    remove(expired_, i);  // expired_min_ stays a (lower) bound
    return;
  }
  auto d = static_cast<uint64_t>(due);
  auto level = highest_bit(d ^ static_cast<uint64_t>(cur_)) / level_bits;
  auto slot = static_cast<int>((d >> (level_bits * level)) & (slots - 1));
  remove(heads_[level][slot], i);
  if (heads_[level][slot] == nil)
    occupied_[level] &= ~(uint64_t{1} << slot);
}

void timer_wheel::redistribute(int level, int slot, std::vector<pending_entry>& out) {
  auto head = heads_[level][slot];
  heads_[level][slot] = nil;
  occupied_[level] &= ~(uint64_t{1} << slot);
  auto last = at(head).prev;
  for (auto i = head;;) {
    auto next = at(i).next;
    auto done = i == last;
    if (at(i).due <= cur_)
      fire(i, out);
    else
      link(i);  // lands at a lower level, never in a slot of cur_'s own block
    if (done)
      break;
    i = next;
  }
}

void timer_wheel::fire(uint32_t i, std::vector<pending_entry>& out) {
  auto& n = at(i);
  out.push_back(pending_entry{n.id, n.due});
  index_erase(n.id);
  free_node(i);
  --size_;
}

millis timer_wheel::wheel_next_event() const {
  for (int level = 0; level < levels; ++level) {
    if (occupied_[level] == 0)
      continue;
    auto block_bits = level_bits * (level + 1);
    auto cur = static_cast<uint64_t>(cur_);
    auto base = block_bits >= 64 ? 0 : cur & ~((uint64_t{1} << block_bits) - 1);
    auto slot = static_cast<uint64_t>(lowest_bit(occupied_[level]));
    return static_cast<millis>(base | (slot << (level_bits * level)));
  }
  return no_event;
}

// --- id index ---------------------------------------------------------------------------

size_t timer_wheel::home(task_id id) const {
  // Fibonacci hashing: spreads sequential ids over the whole table.
  return static_cast<size_t>((static_cast<uint64_t>(id) * 0x9E3779B97F4A7C15ull) >> index_shift_);
}

uint32_t timer_wheel::find(task_id id) const {
  if (index_.empty())
    return nil;
  auto mask = index_.size() - 1;
  // The load stays at or below 1/2, so an empty cell ends the probe.
  for (auto h = home(id);; h = (h + 1) & mask) {
    auto c = index_[h];
    if (c == nil || at(c).id == id)
      return c;
  }
}

void timer_wheel::index_insert(uint32_t i) {
  if ((size_ + 1) * 2 > index_.size())
    index_grow();
  auto mask = index_.size() - 1;
  auto h = home(at(i).id);
  while (index_[h] != nil)
    h = (h + 1) & mask;
  index_[h] = i;
}

void timer_wheel::index_erase(task_id id) {
  auto mask = index_.size() - 1;
  auto h = home(id);
  while (at(index_[h]).id != id)
    h = (h + 1) & mask;
  // Backward shift: pull later entries of the probe run into the hole, so no tombstones.
  for (auto j = (h + 1) & mask; index_[j] != nil; j = (j + 1) & mask) {
    auto k = home(at(index_[j]).id);
    if (((h - k) & mask) < ((j - k) & mask)) {
      index_[h] = index_[j];
      h = j;
    }
  }
  index_[h] = nil;
}

void timer_wheel::index_grow() {
  auto cells = std::max<size_t>(16, index_.size() * 2);
  std::vector<uint32_t> old(cells, nil);
  old.swap(index_);
  index_shift_ = 64 - highest_bit(cells);
  auto mask = cells - 1;
  for (auto c : old) {
    if (c == nil)
      continue;
    auto h = home(at(c).id);
    while (index_[h] != nil)
      h = (h + 1) & mask;
    index_[h] = c;
  }
}

} // namespace ts
