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
/// byte also goes through core's EspImageWalker (spore/device/esp_image.h): bootloader and app image,
/// segment headers and load addresses, entry points, checksums, the exact length and the CRC-32
/// elf2bin recorded. commit() asks it for the verdict *before* Update.end(): a refused image is
/// kBadImage, Update.end() is never called, and OtaSession's abort() then resets the Updater
/// without writing eboot's command. Once the walker has refused, write() stops writing to flash
/// (nothing erased for an image that will not be installed) but accepts the rest of the body, so
/// the answer says bad_image rather than flash_write. What Update.end() checks by itself
/// (core 3.1.2 cores/esp8266/Updater.cpp end() and _verifyEnd()): bytes were written, the
/// first byte is E9 (or 1F 8B, then "just assume OK"), the header's flash size is not above the
/// chip's; a signature only with the core's own signing (refused at compile time here, below),
/// an MD5 only when one was set.
///
/// Read-back: commit() installs core's EspStagedImageCheck (spore/device/esp_staged_image.h) as the
/// Updater's hash and verifier (Update.installSignature(), no signature expected), so
/// Update.end(true) writes its last buffered bytes, reads the whole staged image back from flash
/// and writes eboot's command only when it is the uploaded image (SHA-256 as OtaSession streamed
/// it; byte 2, the flash mode, as uploaded or as the Updater rewrote it for this chip). A
/// mismatch is kFlashCommit, logged, and nothing is installed. Cost: one flash read and SHA-256
/// of the image (of the order of hash_running_image()'s ~0.4 s for 370 KB: an estimate, measure
/// on the board, issue 17's bed), spent inside the web server's request callback, i.e. in SYS
/// context with lwIP and the WiFi tasks stopped and no yield possible, under the ~3 s software
/// watchdog. The core's own signed updates spend it in loop context instead (ESP8266WebServer
/// and ArduinoOTA are synchronous), so they are no precedent for this cost.
///
/// Signatures: with set_needs_rsa_stack(true) (an OTA key is set) begin() takes a reference on
/// the core's stack thunk (StackThunk.h: a 6,200-byte stack in the heap, allocated on the first
/// reference), after checking that the heap has a block for it and the Updater's sector buffer;
/// commit() and abort() drop it. rsa_verify(), OtaSession's RSA verifier on the ESP8266, runs
/// BearSSL's verification on that stack, not on the SDK's system stack the web server's
/// callbacks run on (docs/ota.md §2).
///
/// A `public.key` in an Arduino IDE sketch folder turns on the core's own update signing
/// (ARDUINO_SIGNING in the generated Updater_Signing.h); this file then fails to compile with a
/// message saying to pass the key as SPORE_OTA_PUBLIC_KEY_PEM instead.
///
/// The capacity, magic and Update.begin() sizing rules are core's (spore/device/esp_flash.h, host-tested
/// in tests/unit/esp_flash_test.cpp); this class only calls Update and ESP.

#include <cstddef>
#include <cstdint>

#include "spore/device/esp_image.h"
#include "spore/device/esp_staged_image.h"
#include "spore/ota/ota.h"

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
  /// Whether begin() must reserve the core's stack thunk for rsa_verify(): true when an OTA key
  /// is set. Read at begin().
  void set_needs_rsa_stack(bool needed) { needs_rsa_stack_ = needed; }
  /// BearSSL's br_rsa_pkcs1_vrfy_get_default() run on the core's stack thunk; for
  /// OtaSession::set_rsa_verifier(). Uses the stack begin() reserved; without one (a key set
  /// without set_needs_rsa_stack(true)) it allocates the stack for the call when the heap has a
  /// block for it, else returns 0 (not verified: bad_signature).
  static uint32_t rsa_verify(const unsigned char* x, size_t xlen, const unsigned char* hash_oid, size_t hash_len,
                             const br_rsa_public_key* pk, unsigned char* hash_out);
  /// Where commit() logs a refused image; nullptr = nowhere.
  void set_log(NodeContext* ctx) { log_ = ctx; }

  /// UpdaterClass::getError() of the last failure (UPDATE_ERROR_*), 0 = none.
  uint8_t last_updater_error() const { return last_error_; }
  /// The walker's verdict so far on the current (or last) image: kOk until it refuses one.
  EspImageError last_image_error() const { return walker_.error(); }

 private:
  /// A reference on the core's stack thunk; false (nothing taken) when the stack does not exist
  /// yet and the heap has no block for it and the Updater's buffer.
  static bool take_stack();
  void release_stack();

  EspImageWalker walker_;
  EspStagedImageCheck check_;
  NodeContext* log_ = nullptr;
  size_t written_ = 0;  // bytes handed to Update.write() for this image
  uint8_t uploaded_mode_byte_ = 0;
  uint8_t last_error_ = 0;
  bool running_ = false;
  bool trailer_allowed_ = true;
  bool needs_rsa_stack_ = false;
  bool stack_held_ = false;
};

}  // namespace spore::esp8266
