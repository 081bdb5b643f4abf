#include "posix/clock.h"

#include <time.h>

namespace spore::posix {

int64_t monotonic_ms64() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

uint32_t MonotonicClock::now_ms() const { return static_cast<uint32_t>(monotonic_ms64()); }

}  // namespace spore::posix
