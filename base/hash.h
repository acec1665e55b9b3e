// recd::base — FNV-1a 64, the project's one non-cryptographic checksum: stable
// across builds and machines, so it may be written to disk.
#pragma once

#include <cstdint>
#include <string_view>

namespace recd {

inline constexpr uint64_t kFnvOffset = 1469598103934665603ULL;

// FNV-1a 64 of `bytes`, continuing from `hash` (chain calls to hash several pieces).
inline uint64_t Fnv1a64(std::string_view bytes, uint64_t hash = kFnvOffset) {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

}  // namespace recd
