#pragma once
/// @file esp_flash.h
/// The ESP8266 OTA flash rules as pure functions, so the Updater adapter
/// (esp8266/updater_flash_target.cpp) only calls the core's Update / ESP APIs and the rules are
/// host-tested (tests/unit/esp_flash_test.cpp).

#include <cstddef>
#include <cstdint>

namespace spore {

/// The ESP8266 flash erase unit (FLASH_SECTOR_SIZE).
constexpr uint32_t kEspFlashSectorBytes = 0x1000;

/// Largest image that may be written to the free sketch space: one sector less than
/// ESP.getFreeSketchSpace() (the slack esp_updater_begin_bytes() needs), rounded down to a
/// sector, like the core's ArduinoOTA. 0 when there is no room at all.
size_t esp_ota_capacity_bytes(uint32_t free_sketch_space_bytes);

/// A raw ESP8266 image (first byte 0xE9). Not a gzip stream (1F 8B), although eboot would
/// inflate one: its segments and checksums cannot be checked before it is installed (a DEFLATE
/// window is 32 KB, more than an ESP-01 has free), and eboot erases the running image before it
/// finds a broken stream (spore/device/esp_image.h).
bool esp_image_magic_ok(const uint8_t* head, size_t size);

/// The size to pass to Update.begin() for an upload of at most `max_image_bytes` (0 = unknown)
/// into `capacity_bytes` (esp_ota_capacity_bytes()): the bound clamped to the capacity, plus one.
/// One byte more than OtaSession will ever write means the Updater never considers the image
/// complete by itself, so an abort's Update.end(false) can only discard it (an end(false) after
/// exactly the begun size would install the image); the capacity's sector of slack makes room
/// for that byte. 0 = refuse (no capacity).
size_t esp_updater_begin_bytes(size_t max_image_bytes, size_t capacity_bytes);

}  // namespace spore
