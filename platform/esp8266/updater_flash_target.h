#pragma once
/// @file updater_flash_target.h
/// spore::FlashTarget on the ESP8266 core's `Update` (UpdaterClass): the image goes to the free
/// sketch space; on commit the eboot bootloader copies it over the running sketch at the next
/// boot. gzip-compressed images (1F 8B) are accepted besides raw ones (E9): eboot inflates them.
///
/// Runs inside ESPAsyncWebServer's callbacks (lwIP / SYS context, where yield() panics), so
/// begin() sets Update.runAsync(true).
///
/// The core's OtaSession does the streaming, SHA-256, size and signature checks; the Updater adds
/// its own header checks (first byte, flash mode/size of a raw image) and, on end(), the image
/// length and the eboot command. commit() does not re-read the flash to compare `sha256`:
/// Updater's buffered writes are verified by the SPI flash driver; read-back is a follow-up.
///
/// The capacity, magic and Update.begin() sizing rules are core's (spore/esp_flash.h, host-tested
/// in tests/unit/esp_flash_test.cpp); this class only calls Update and ESP.

#include <cstddef>
#include <cstdint>

#include "spore/ota.h"

namespace spore::esp8266 {

class UpdaterFlashTarget final : public FlashTarget {
 public:
  /// esp_ota_capacity_bytes(ESP.getFreeSketchSpace()): (free sketch space - one 4 KB sector of
  /// slack) rounded down to a sector, like the core's ArduinoOTA does. 0 when there is no room.
  size_t capacity_bytes() const override;
  /// esp_image_magic_ok(): E9 (raw image) or 1F 8B (gzip, inflated by eboot).
  bool check_magic(const uint8_t* head, size_t size) const override;
  /// Update.begin(esp_updater_begin_bytes(max_image_bytes, capacity_bytes())): the bound (the
  /// capacity when 0 = unknown or larger) plus one byte. The Updater erases sectors lazily, so a
  /// generous bound costs nothing.
  bool begin(size_t max_image_bytes) override;
  bool write(const uint8_t* data, size_t size_bytes) override;
  /// Update.end(true): accepts an image shorter than the bound given to begin().
  OtaError commit(const uint8_t (&sha256)[32]) override;
  void abort() override;

  /// UpdaterClass::getError() of the last failure (UPDATE_ERROR_*), 0 = none.
  uint8_t last_updater_error() const { return last_error_; }

 private:
  uint8_t last_error_ = 0;
  bool running_ = false;
};

}  // namespace spore::esp8266
