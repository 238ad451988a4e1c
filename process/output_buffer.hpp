// Keeps the tail of a command's output within a byte limit, and repairs it into valid UTF-8.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ts {

class output_buffer {
public:
  explicit output_buffer(size_t limit);

  /// Appends bytes; when the total exceeds the limit, the oldest bytes are dropped.
  void append(const char* data, size_t size);

  /// True once any byte was dropped.
  bool truncated() const;

  /// The kept bytes, oldest first, as valid UTF-8 (see repair_utf8). When truncation cut a
  /// multi-byte character at the start, its leftover continuation bytes are dropped rather
  /// than replaced.
  std::string str() const;

private:
  size_t limit_;
  // A ring once full: data_[start_] is the oldest byte. Grows on demand, so a short output
  // never costs the whole limit.
  std::string data_;
  size_t start_ = 0;
  uint64_t total_ = 0;
};

/// Replaces every invalid UTF-8 sequence (stray continuation bytes, overlong forms,
/// surrogates, code points above U+10FFFF, truncated sequences) with U+FFFD, following the
/// "maximal subpart" practice of Unicode (one U+FFFD per maximal invalid subpart).
std::string repair_utf8(std::string_view bytes);

} // namespace ts
