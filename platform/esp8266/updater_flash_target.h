#pragma once
/// @file updater_flash_target.h
/// spore::FlashTarget on the ESP8266 core's `Update` (UpdaterClass): the image goes to the free
/// sketch space; on commit the eboot bootloader copies it over the running sketch at the next
/// boot. Raw images only (first byte E9): a gzip-compressed one cannot be walked (below).
///
/// Runs inside ESPAsyncWebServer's callbacks (lwIP / SYS context, where yield() panics), so
/// begin() sets Update.runAsync(true).
///
/// The core's OtaSession does the streaming, SHA-256, size and signature checks. Every image
/// byte also goes through core's EspImageWalker (spore/esp_image.h): bootloader and app image,
/// segment headers and load addresses, entry points, checksums, the exact length and the CRC-32
/// elf2bin recorded. commit() asks it for the verdict *before* Update.end(): a refused image is
/// kBadImage, Update.end() is never called, and OtaSession's abort() then resets the Updater
/// without writing eboot's command. Once the walker has refused, write() stops writing to flash
/// (nothing erased for an image that will not be installed) but accepts the rest of the body, so
/// the answer says bad_image rather than flash_write. What Update.end() checks by itself
/// (core 3.1.2 cores/esp8266/Updater.cpp end() and _verifyEnd()): bytes were written, the
/// first byte is E9 (or 1F 8B, then "just assume OK"), the header's flash size is not above the
/// chip's; a signature only with the core's own signing, an MD5 only when one was set.
/// commit() does not re-read the flash to compare `sha256`: Updater's buffered writes are
/// verified by the SPI flash driver; read-back is a follow-up.
///
/// The capacity, magic and Update.begin() sizing rules are core's (spore/esp_flash.h, host-tested
/// in tests/unit/esp_flash_test.cpp); this class only calls Update and ESP.

#include <cstddef>
#include <cstdint>

#include "spore/esp_image.h"
#include "spore/ota.h"

namespace spore {
class NodeContext;
}

namespace spore::esp8266 {

class UpdaterFlashTarget final : public FlashTarget {
 public:
  /// esp_ota_capacity_bytes(ESP.getFreeSketchSpace()): (free sketch space - one 4 KB sector of
  /// slack) rounded down to a sector, like the core's ArduinoOTA does. 0 when there is no room.
  size_t capacity_bytes() const override;
  /// esp_image_magic_ok(): E9.
  bool check_magic(const uint8_t* head, size_t size) const override;
  /// Update.begin(esp_updater_begin_bytes(max_image_bytes, capacity_bytes())): the bound (the
  /// capacity when 0 = unknown or larger) plus one byte. The Updater erases sectors lazily, so a
  /// generous bound costs nothing.
  bool begin(size_t max_image_bytes) override;
  /// Feeds the walker, then Update.write() (skipped once the walker refused the image).
  bool write(const uint8_t* data, size_t size_bytes) override;
  /// kBadImage when the walker refuses the image (logged with the reason and the byte offset),
  /// else Update.end(true), which accepts an image shorter than the bound given to begin().
  OtaError commit(const uint8_t (&sha256)[32]) override;
  void abort() override;

  /// Whether an image may end with the ESP8266 core's signature trailer (`sig || uint32 len`):
  /// true when no OTA key is configured, since OtaSession then passes the trailer through (with
  /// a key it strips it). Read at begin().
  void set_signature_trailer_allowed(bool allowed) { trailer_allowed_ = allowed; }
  /// Where commit() logs a refused image; nullptr = nowhere.
  void set_log(NodeContext* ctx) { log_ = ctx; }

  /// UpdaterClass::getError() of the last failure (UPDATE_ERROR_*), 0 = none.
  uint8_t last_updater_error() const { return last_error_; }
  /// The walker's verdict so far on the current (or last) image: kOk until it refuses one.
  EspImageError last_image_error() const { return walker_.error(); }

 private:
  EspImageWalker walker_;
  NodeContext* log_ = nullptr;
  uint8_t last_error_ = 0;
  bool running_ = false;
  bool trailer_allowed_ = true;
};

}  // namespace spore::esp8266
