#pragma once
/// @file sim_clock.h
/// Virtual milliseconds for the simulator: time moves only when the simulation moves it, so a
/// run is deterministic and minutes of cluster life take a fraction of a second.

#include <cstdint>

#include "spore/base/ports.h"

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

/// One node's own clock: the shared SimClock seen through a crystal that runs `ppm` parts per
/// million fast (> 0) or slow (< 0), as real ESP8266 crystals do (tens of ppm; the internal RC
/// when sleeping, percents). Changing the rate keeps the reading continuous and monotonic.
class DriftClock : public Clock {
 public:
  /// Rates beyond +-10 % are not crystals any more; set_drift_ppm clamps to this.
  static constexpr int32_t kMaxDriftPpm = 100000;

  explicit DriftClock(const SimClock& base) : base_(base), anchor_base_(base.now()), anchor_local_(base.now()) {}
  uint32_t now_ms() const override { return static_cast<uint32_t>(now()); }
  uint64_t now() const {
    const uint64_t elapsed = base_.now() - anchor_base_;
    // floor(elapsed * ppm / 1e6) with |ppm| < 1e6 never makes the sum go backwards.
    const int64_t skew = static_cast<int64_t>(elapsed) * ppm_;
    const int64_t skew_ms = skew >= 0 ? skew / 1000000 : -((-skew + 999999) / 1000000);
    return anchor_local_ + elapsed + static_cast<uint64_t>(skew_ms);
  }
  void set_drift_ppm(int32_t ppm) {
    anchor_local_ = now();
    anchor_base_ = base_.now();
    ppm_ = ppm > kMaxDriftPpm ? kMaxDriftPpm : ppm < -kMaxDriftPpm ? -kMaxDriftPpm : ppm;
  }
  int32_t drift_ppm() const { return ppm_; }

 private:
  const SimClock& base_;
  uint64_t anchor_base_;
  uint64_t anchor_local_;
  int32_t ppm_ = 0;
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
