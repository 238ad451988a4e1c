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

} // namespace

output_buffer::output_buffer(size_t limit) : limit_(limit) {
}

void output_buffer::append(const char* data, size_t size) {
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
  std::string_view view{linear};
  if (truncated()) {
    // A UTF-8 character has at most three continuation bytes; more were never valid.
    size_t skip = 0;
    while (skip < 3 && skip < view.size() && is_continuation(view[skip]))
      ++skip;
    view.remove_prefix(skip);
  }
  return repair_utf8(view);
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
