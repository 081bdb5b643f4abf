#include "posix/random.h"

#include <errno.h>
#include <sys/random.h>

#include <chrono>
#include <cstring>

namespace spore::posix {

bool random_bytes(void* out, size_t size) {
  auto* p = static_cast<uint8_t*>(out);
  while (size > 0) {
    const ssize_t n = ::getrandom(p, size, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

uint32_t SystemRandom::next_u32() {
  uint32_t v = 0;
  if (!random_bytes(&v, sizeof v)) {
    // Jitter only: a time-seeded fallback is acceptable here (never used for secrets).
    static uint32_t state = static_cast<uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count()) | 1u;
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    v = state;
  }
  return v;
}

std::string random_hex(size_t bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string raw(bytes, '\0');
  if (!random_bytes(raw.data(), raw.size())) return {};
  std::string hex;
  hex.reserve(bytes * 2);
  for (char c : raw) {
    const auto b = static_cast<uint8_t>(c);
    hex.push_back(kHex[b >> 4]);
    hex.push_back(kHex[b & 15]);
  }
  return hex;
}

}  // namespace spore::posix
