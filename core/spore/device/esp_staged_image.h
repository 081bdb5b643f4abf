#pragma once
/// @file esp_staged_image.h
/// The read-back of a staged ESP8266 image before eboot is told to copy it (docs/ota.md §9).
///
/// UpdaterFlashTarget hands the core's Updater a hash and a verifier of its own
/// (Update.installSignature()). The Updater's end(true) then writes the last buffered bytes,
/// reads the whole staged image back from flash in 128-byte pieces into the hash, and asks the
/// verifier, all before it writes eboot's command (core 3.1.2 cores/esp8266/Updater.cpp 212-330:
/// flush 234-239, read-back 280-289, verify 317-321, eboot command 343-354). This class is that
/// hash and verdict: the bytes read back must be the image's bytes as streamed, whose SHA-256
/// OtaSession computed, with one exception the Updater makes on purpose.
///
/// The flash-mode byte: when it writes the first sector, the Updater replaces byte 2 of the image
/// (the SPI flash mode, 0 QIO, 1 QOUT, 2 DIO, 3 DOUT) with the running chip's mode whenever the
/// two differ (Updater.cpp 385-420: `_buffer[2] = ESP.getFlashChipMode()`, which is byte 2 of
/// the running image, Esp.cpp 320-330, or 0xFF when that is not 0..3, Esp.cpp 370-376), and
/// restores it only in its RAM buffer. So the staged image, and the image eboot installs, can
/// differ from the uploaded .bin in that one byte, as esptool's --flash_mode does at a serial
/// flash. The check accepts exactly the uploaded byte or `chip_mode` there, and hashes the
/// uploaded byte in its place.
///
/// No buffer, no allocation: a SHA-256 context and a few counters.

#include <bearssl/bearssl_hash.h>

#include <cstddef>
#include <cstdint>

namespace spore {

class EspStagedImageCheck {
 public:
  /// Offset of the flash-mode byte in an ESP8266 image header.
  static constexpr size_t kFlashModeOffset = 2;

  /// Starts a check of an image of `image_bytes` bytes whose SHA-256 as uploaded is
  /// `expected_sha256`; `uploaded_mode_byte` is its byte 2 as uploaded, `chip_mode` what the
  /// Updater may have written there instead (ESP.getFlashChipMode()).
  void begin(const uint8_t (&expected_sha256)[32], size_t image_bytes, uint8_t uploaded_mode_byte,
             uint8_t chip_mode);
  /// The next staged bytes, read back in order from offset 0.
  void update(const uint8_t* data, size_t size_bytes);
  /// After the last update(): true only when exactly `image_bytes` bytes came, byte 2 was the
  /// uploaded byte or `chip_mode`, and the bytes (byte 2 as uploaded) hash to `expected_sha256`.
  bool matches() const;
  /// SHA-256 of the bytes read back so far, byte 2 as uploaded (what matches() compares).
  void digest(uint8_t (&out)[32]) const;
  /// Bytes given to update() since begin().
  size_t bytes_read() const { return read_; }
  /// Byte 2 as read back (valid once bytes_read() > 2): what eboot will install there.
  uint8_t staged_mode_byte() const { return staged_mode_; }

 private:
  br_sha256_context sha_{};
  uint8_t expected_[32] = {};
  size_t image_bytes_ = 0;
  size_t read_ = 0;
  uint8_t uploaded_mode_ = 0;
  uint8_t chip_mode_ = 0;
  uint8_t staged_mode_ = 0;
  bool mode_ok_ = false;
};

}  // namespace spore
