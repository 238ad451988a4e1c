// SHA-256 (FIPS 180-4), for request digests: small enough to keep here rather than link a
// crypto library. Pure: nothing of CAF (ts_core_pure).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ts {

class sha256 {
public:
  /// Adds bytes to the message.
  void update(std::string_view data);

  /// Pads the message and returns the digest as 64 lowercase hex digits. Call once: the
  /// hash is finished afterwards.
  std::string hex();

private:
  void compress();

  std::array<uint32_t, 8> h_{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                             0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::array<uint8_t, 64> block_{};
  size_t fill_ = 0;
  uint64_t bits_ = 0;
};

/// The SHA-256 of `data`, as 64 lowercase hex digits.
std::string sha256_hex(std::string_view data);

} // namespace ts
