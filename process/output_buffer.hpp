// A command's output as one stream repaired into valid UTF-8 while it arrives, and the tail of
// that stream within a byte limit. The pieces handed out live and the final tail are the same
// bytes: the service addresses the stored stream by byte offset and serves it as UTF-8 text,
// so a follower must read exactly what the final output ends with.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ts {

/// repair_utf8 for a stream that arrives in pieces: a sequence that a piece's end cuts is
/// held back (at most 3 bytes) and completed by the next piece, not replaced, so that the
/// repaired pieces joined are exactly repair_utf8 of the whole stream.
class utf8_stream_repair {
public:
  /// `data` after what was held back, repaired, without an incomplete sequence at its end.
  std::string feed(std::string_view data);

  /// The end of the stream: what is still held back, repaired (one U+FFFD), or nothing.
  std::string finish();

private:
  std::string held_;
};

class output_buffer {
public:
  explicit output_buffer(size_t limit);

  /// Appends bytes as the command wrote them and returns the repaired piece of the stream
  /// they complete (see utf8_stream_repair; it may be empty). The buffer keeps the last
  /// `limit` bytes of the repaired stream.
  std::string append(const char* data, size_t size);

  /// The end of the stream: returns (and keeps) the repair of a sequence left incomplete.
  std::string finish();

  /// True once any byte was dropped.
  bool truncated() const;

  /// The kept bytes, oldest first: valid UTF-8 once finish() was called. When truncation cut
  /// a multi-byte character at the start, its leftover continuation bytes are dropped rather
  /// than replaced, so the result is a suffix of the stream that starts at a character.
  std::string str() const;

private:
  void keep(const std::string& repaired);

  size_t limit_;
  utf8_stream_repair repair_;
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
