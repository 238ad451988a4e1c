#include "process/output_buffer.hpp"

#include <algorithm>
#include <cstring>

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
    // Unicode Table 3-7: the length of a well-formed sequence and the range allowed for
    // its second byte (later bytes are always 80..BF).
    const auto lead = s[i];
    size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      len = 2;
    } else if (lead == 0xE0) {
      len = 3;
      lo = 0xA0;  // overlong below
    } else if (lead == 0xED) {
      len = 3;
      hi = 0x9F;  // surrogates above
    } else if (lead >= 0xE1 && lead <= 0xEF) {
      len = 3;
    } else if (lead == 0xF0) {
      len = 4;
      lo = 0x90;  // overlong below
    } else if (lead >= 0xF1 && lead <= 0xF3) {
      len = 4;
    } else if (lead == 0xF4) {
      len = 4;
      hi = 0x8F;  // above U+10FFFF
    } else {
      // 80..C1 and F5..FF never start a character: each is its own maximal subpart.
      out.append(replacement, 3);
      ++i;
      continue;
    }
    auto j = i + 1;
    for (; j < i + len && j < n; ++j) {
      auto min = j == i + 1 ? lo : static_cast<unsigned char>(0x80);
      auto max = j == i + 1 ? hi : static_cast<unsigned char>(0xBF);
      if (s[j] < min || s[j] > max)
        break;
    }
    if (j == i + len)
      out.append(bytes.data() + i, len);
    else
      out.append(replacement, 3);  // one for the whole maximal subpart s[i..j)
    i = j;
  }
  return out;
}

} // namespace ts
