#include "process/output_buffer.hpp"

#include <algorithm>
#include <cstring>

#include "core/text.hpp"

namespace ts {

namespace {

constexpr char replacement[] = "\xEF\xBF\xBD";  // U+FFFD

bool is_continuation(unsigned char b) {
  return (b & 0xC0) == 0x80;
}

// How many bytes at the end of `s` begin a valid sequence that the end cuts short (0 to 3).
// A lead byte is never a continuation byte, so repair_utf8 starts a step at it whatever
// came before: holding it back changes nothing of what precedes it.
size_t incomplete_tail(std::string_view s) {
  for (size_t k = 1; k <= 3 && k <= s.size(); ++k) {
    auto b = static_cast<unsigned char>(s[s.size() - k]);
    if (is_continuation(b))
      continue;
    if (b < 0xC2 || b > 0xF4)
      return 0;  // ASCII, or a byte that never starts a character: nothing to wait for
    auto step = decode_utf8(s.substr(s.size() - k));
    return !step.valid && step.length == k ? k : 0;
  }
  return 0;
}

} // namespace

std::string utf8_stream_repair::feed(std::string_view data) {
  std::string joined;
  if (!held_.empty()) {
    joined.swap(held_);
    joined.append(data);
    data = joined;
  }
  auto hold = incomplete_tail(data);
  held_.assign(data.substr(data.size() - hold));
  return repair_utf8(data.substr(0, data.size() - hold));
}

std::string utf8_stream_repair::finish() {
  std::string rest;
  rest.swap(held_);
  return repair_utf8(rest);
}

output_buffer::output_buffer(size_t limit) : limit_(limit) {
}

std::string output_buffer::append(const char* data, size_t size) {
  auto piece = repair_.feed(std::string_view{data, size});
  keep(piece);
  return piece;
}

std::string output_buffer::finish() {
  auto piece = repair_.finish();
  keep(piece);
  return piece;
}

void output_buffer::keep(const std::string& repaired) {
  const char* data = repaired.data();
  size_t size = repaired.size();
  total_ += size;
  if (limit_ == 0 || size == 0)
    return;
  if (size >= limit_) {
    data_.assign(data + (size - limit_), limit_);
    start_ = 0;
    return;
  }
  if (data_.size() < limit_) {
    auto take = std::min(limit_ - data_.size(), size);
    data_.append(data, take);
    data += take;
    size -= take;
  }
  // Full: overwrite the oldest bytes. size < limit_, so this wraps at most once.
  while (size > 0) {
    auto chunk = std::min(size, limit_ - start_);
    std::memcpy(&data_[start_], data, chunk);
    start_ = (start_ + chunk) % limit_;
    data += chunk;
    size -= chunk;
  }
}

bool output_buffer::truncated() const {
  return total_ > limit_;
}

std::string output_buffer::str() const {
  std::string linear;
  linear.reserve(data_.size());
  linear.append(data_, start_, std::string::npos);
  linear.append(data_, 0, start_);
  if (truncated()) {
    // The stream is valid UTF-8: at most three continuation bytes of a cut character.
    size_t skip = 0;
    while (skip < 3 && skip < linear.size() && is_continuation(linear[skip]))
      ++skip;
    linear.erase(0, skip);
  }
  return linear;
}

std::string repair_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    if (s[i] < 0x80) {
      auto j = i + 1;
      while (j < n && s[j] < 0x80)
        ++j;
      out.append(bytes.data() + i, j - i);
      i = j;
      continue;
    }
    auto step = decode_utf8(bytes.substr(i));
    if (step.valid)
      out.append(bytes.data() + i, step.length);
    else
      out.append(replacement, 3); // one for the whole maximal invalid subpart
    i += step.length;
  }
  return out;
}

} // namespace ts
