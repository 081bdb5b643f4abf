#include "spore/boot_counter.h"

namespace spore {

namespace {

// "SPB1" read as a little-endian word: what the first firmware stored with EEPROM.put, so its
// counters carry over.
constexpr uint32_t kBootMagic = 0x53504231;

uint32_t get_u32le(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

void put_u32le(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

uint32_t next_boot_count(uint8_t (&storage)[kBootCounterBytes]) {
  uint32_t counter = get_u32le(storage) == kBootMagic ? get_u32le(storage + 4) : 0;
  ++counter;
  if (counter == 0) counter = 1;
  put_u32le(storage, kBootMagic);
  put_u32le(storage + 4, counter);
  return counter;
}

}  // namespace spore
