#pragma once
/// @file clock.h
/// spore::Clock on CLOCK_MONOTONIC: milliseconds since an arbitrary origin (boot), truncated to
/// 32 bits like Arduino's millis(); core compares times only through elapsed_ms(), so the wrap
/// every ~49.7 days is harmless. Never jumps with wall-clock changes (NTP, date -s).

#include <cstdint>

#include "spore/base/ports.h"

namespace spore::posix {

class MonotonicClock : public spore::Clock {
 public:
  uint32_t now_ms() const override;
};

/// CLOCK_MONOTONIC in ms, 64-bit (no wrap), for platform code that measures deadlines.
int64_t monotonic_ms64();

}  // namespace spore::posix
