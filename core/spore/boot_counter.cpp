#include "spore/boot_counter.h"

#include "spore/bytes.h"

namespace spore {

namespace {

// "SPB1" read as a little-endian word: what the first firmware stored with EEPROM.put, so its
// counters carry over.
constexpr uint32_t kBootMagic = 0x53504231;

}  // namespace

uint32_t next_boot_count(uint8_t (&storage)[kBootCounterBytes]) {
  uint32_t counter = load_le32(storage) == kBootMagic ? load_le32(storage + 4) : 0;
  ++counter;
  if (counter == 0) counter = 1;
  store_le32(kBootMagic, storage);
  store_le32(counter, storage + 4);
  return counter;
}

}  // namespace spore
