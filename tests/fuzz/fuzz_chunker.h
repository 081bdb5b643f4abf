#pragma once
// Splits a fuzz input into pseudo-random chunks so streaming parsers see every kind of boundary.
// Deterministic from the seed (xorshift32), so a crash input replays exactly.

#include <cstddef>
#include <cstdint>

namespace spore::fuzz {

class Chunker {
 public:
  /// seed 0 = one chunk with everything; otherwise chunks of 1..max_chunk bytes.
  Chunker(uint32_t seed, size_t max_chunk) : whole_(seed == 0), x_(seed | 1u), max_chunk_(max_chunk) {}

  /// Size of the next chunk, given `remaining` bytes left (> 0).
  size_t next(size_t remaining) {
    if (whole_) return remaining;
    x_ ^= x_ << 13;
    x_ ^= x_ >> 17;
    x_ ^= x_ << 5;
    const size_t n = 1 + x_ % max_chunk_;
    return n < remaining ? n : remaining;
  }

 private:
  bool whole_;
  uint32_t x_;
  size_t max_chunk_;
};

}  // namespace spore::fuzz
