#pragma once
/// @file sim_clock.h
/// Virtual milliseconds for the simulator: time moves only when the simulation moves it, so a
/// run is deterministic and minutes of cluster life take a fraction of a second.

#include <cstdint>

#include "spore/ports.h"

namespace spore::sim {

class SimClock : public Clock {
 public:
  explicit SimClock(uint64_t start_ms = 0) : now_(start_ms) {}
  /// Core sees the low 32 bits, like Arduino's millis(); a start near 2^32 tests the wrap.
  uint32_t now_ms() const override { return static_cast<uint32_t>(now_); }
  /// Full-width virtual time, for the simulator's own bookkeeping.
  uint64_t now() const { return now_; }
  void advance(uint64_t ms) { now_ += ms; }
  /// Moves to `ms`; never backwards.
  void set(uint64_t ms) {
    if (ms > now_) now_ = ms;
  }

 private:
  uint64_t now_;
};

/// xorshift64*: a small seeded PRNG implementing core's Random port (jitter, probe order).
class SimRandom : public Random {
 public:
  explicit SimRandom(uint64_t seed) : state_(seed != 0 ? seed : 0x9E3779B97F4A7C15ull) {}
  uint32_t next_u32() override {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return static_cast<uint32_t>((state_ * 0x2545F4914F6CDD1Dull) >> 32);
  }

 private:
  uint64_t state_;
};

}  // namespace spore::sim
