// next_boot_count: the persisted incarnation counter (EEPROM bytes on the ESP8266).

#include "spore/boot_counter.h"

#include <gtest/gtest.h>

#include <cstring>

namespace spore {
namespace {

TEST(BootCounter, ErasedStorageStartsAtOneAndCounts) {
  uint8_t s[kBootCounterBytes];
  std::memset(s, 0xFF, sizeof s);  // erased flash
  EXPECT_EQ(next_boot_count(s), 1u);
  EXPECT_EQ(next_boot_count(s), 2u);
  EXPECT_EQ(next_boot_count(s), 3u);
}

TEST(BootCounter, ReadsWhatTheFirstFirmwareWrote) {
  // EEPROM.put(0, 0x53504231u); EEPROM.put(4, 41u) on the little-endian ESP8266.
  uint8_t s[kBootCounterBytes] = {0x31, 0x42, 0x50, 0x53, 41, 0, 0, 0};
  EXPECT_EQ(next_boot_count(s), 42u);
  EXPECT_EQ(s[4], 42);
  EXPECT_EQ(s[0], 0x31);
}

TEST(BootCounter, ForeignMagicRestarts) {
  uint8_t s[kBootCounterBytes] = {0x31, 0x42, 0x50, 0x54, 41, 0, 0, 0};
  EXPECT_EQ(next_boot_count(s), 1u);
}

TEST(BootCounter, WrapsToOneNotZero) {
  uint8_t s[kBootCounterBytes] = {0x31, 0x42, 0x50, 0x53, 0xFF, 0xFF, 0xFF, 0xFF};
  EXPECT_EQ(next_boot_count(s), 1u);
}

}  // namespace
}  // namespace spore
