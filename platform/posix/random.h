#pragma once
/// @file random.h
/// spore::Random from the kernel's CSPRNG (getrandom(2)), plus helpers for secrets the platform
/// generates (API token, chip id). Core uses Random only for jitter and probe order; the helpers
/// here are what make generated tokens unguessable.

#include <cstddef>
#include <cstdint>
#include <string>

#include "spore/base/ports.h"

namespace spore::posix {

class SystemRandom : public spore::Random {
 public:
  uint32_t next_u32() override;
};

/// Fills `out` with `size` bytes from getrandom(2) (blocking only before the kernel's pool is
/// initialised at early boot). Returns false only if the kernel refuses (very old kernel).
bool random_bytes(void* out, size_t size);

/// `bytes` random bytes as lower-case hex (2 x bytes characters).
std::string random_hex(size_t bytes);

}  // namespace spore::posix
