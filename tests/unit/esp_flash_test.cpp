// The ESP8266 OTA flash rules: capacity from the free sketch space, image magic, and the
// Update.begin() size that keeps an abort from installing a half-written image.

#include "spore/device/esp_flash.h"

#include <gtest/gtest.h>

namespace spore {
namespace {

TEST(EspFlashTest, CapacityKeepsOneSectorOfSlackAndRoundsDown) {
  EXPECT_EQ(esp_ota_capacity_bytes(0), 0u);
  EXPECT_EQ(esp_ota_capacity_bytes(4095), 0u);
  EXPECT_EQ(esp_ota_capacity_bytes(4096), 0u);
  EXPECT_EQ(esp_ota_capacity_bytes(8191), 0u);  // 4095 after the slack: less than a sector
  EXPECT_EQ(esp_ota_capacity_bytes(8192), 4096u);
  EXPECT_EQ(esp_ota_capacity_bytes(8193), 4096u);
  // ESP-01 1 MB, no FS, a 350 KB sketch: FS_start - sketch = 0xFB000 - 0x58000.
  EXPECT_EQ(esp_ota_capacity_bytes(0xFB000 - 0x58000), static_cast<size_t>(0xFB000 - 0x58000 - 0x1000));
  EXPECT_EQ(esp_ota_capacity_bytes(0xFFFFFFFFu) % kEspFlashSectorBytes, 0u);
}

TEST(EspFlashTest, Magic) {
  const uint8_t raw[] = {0xE9, 0x03};
  const uint8_t gz[] = {0x1F, 0x8B, 0x08};
  const uint8_t elf[] = {0x7F, 'E', 'L', 'F'};
  const uint8_t half_gz[] = {0x1F};
  const uint8_t wrong_gz[] = {0x1F, 0x8C};
  EXPECT_TRUE(esp_image_magic_ok(raw, 1));
  EXPECT_TRUE(esp_image_magic_ok(raw, sizeof raw));
  // gzip images are refused: they cannot be walked before eboot installs them (esp_image.h).
  EXPECT_FALSE(esp_image_magic_ok(gz, sizeof gz));
  EXPECT_FALSE(esp_image_magic_ok(half_gz, sizeof half_gz));
  EXPECT_FALSE(esp_image_magic_ok(wrong_gz, sizeof wrong_gz));
  EXPECT_FALSE(esp_image_magic_ok(elf, sizeof elf));
  EXPECT_FALSE(esp_image_magic_ok(raw, 0));
  EXPECT_FALSE(esp_image_magic_ok(nullptr, 4));
}

TEST(EspFlashTest, UpdaterBeginSizeIsTheClampedBoundPlusOne) {
  EXPECT_EQ(esp_updater_begin_bytes(1000, 40960), 1001u);
  EXPECT_EQ(esp_updater_begin_bytes(40960, 40960), 40961u);
  EXPECT_EQ(esp_updater_begin_bytes(40961, 40960), 40961u);  // clamped to the capacity
  EXPECT_EQ(esp_updater_begin_bytes(0, 40960), 40961u);      // unknown size: the capacity
  EXPECT_EQ(esp_updater_begin_bytes(1000, 0), 0u);           // no room: refuse
  EXPECT_EQ(esp_updater_begin_bytes(0, 0), 0u);
}

TEST(EspFlashTest, TheExtraByteFitsInTheSlackSector) {
  // The Updater rounds the begun size up to sectors and needs that much free sketch space.
  for (uint32_t free_space : {8192u, 0x50000u, 0x50FFFu, 0xA3000u}) {
    const size_t cap = esp_ota_capacity_bytes(free_space);
    const size_t begun = esp_updater_begin_bytes(0, cap);
    const size_t rounded = (begun + kEspFlashSectorBytes - 1) & ~static_cast<size_t>(kEspFlashSectorBytes - 1);
    EXPECT_LE(rounded, free_space) << free_space;
  }
}

}  // namespace
}  // namespace spore
