#pragma once
/// @file esp_image.h
/// A streaming check of an ESP8266 firmware image as the ESP8266 Arduino core 3.1.x builds it,
/// run on every OTA byte before the Updater is told to install it (esp8266/updater_flash_target.cpp:
/// a refusal means Update.end() is never called, so eboot never copies the image).
///
/// The layout (core 3.1.2 `tools/elf2bin.py`, docs/ota.md "ESP8266 image check"):
///
/// ```
///  0x0000  bootloader image (eboot.elf: .text, .rodata)   header E9 | segments | pad | checksum
///          0xAA padding up to 0x1000
///  0x1000  app image (sketch ELF: .irom0.text, .text, .text1, .data, .rodata), same format;
///          its first segment is the flash-mapped code, loaded at 0x40201010 (= its flash address
///          0x1010 + 0x40200000); its first 8 bytes are __crc_len and __crc_val
///  end     __crc_len = the file's length; [sig || uint32 sig_len] only in a signed image
/// ```
///
/// Each image: 8-byte header (0xE9, segment count, flash mode, flash size/speed, entry point LE),
/// then per segment an 8-byte header (load address LE, size LE) and `size` bytes, then zero
/// padding up to the byte whose offset is 15 mod 16, which holds the XOR of every segment data
/// byte seeded with 0xEF. esptool's image_info makes the same checks (magic, at most 16 segments,
/// each segment inside the file, the checksum after 16-byte alignment). The CRC-32 (polynomial
/// 0x04C11DB7, MSB first, init 0xFFFFFFFF, no final XOR: the core's crc32()) covers the whole
/// file with __crc_len/__crc_val read as zero: what ESP.checkFlashCRC() recomputes. elf2bin writes
/// those two words after it computed the app image's checksum (the ELF holds zeros there), so the
/// checksum is checked with them read as zero too.
///
/// Refused: anything else, including gzip-compressed images (1F 8B): their segments and checksums
/// cannot be checked without inflating them, which needs a 32 KB DEFLATE window the ESP-01 does
/// not have, and eboot erases the old image before it finds a broken stream.
///
/// Fixed state (64 bytes), no buffering of the image, no heap; host-tested in
/// tests/unit/esp_image_test.cpp and fuzzed in tests/fuzz/esp_image_fuzz.cpp.

#include <cstddef>
#include <cstdint>

#include "spore/base/flash_string.h"

namespace spore {

/// Where the app image starts in the file and in flash (elf2bin's to_addr, eboot's APP_START_OFFSET).
constexpr uint32_t kEspAppImageOffset = 0x1000;
/// File offset of __crc_len; __crc_val follows (elf2bin's crcsize_offset, crcval_offset).
constexpr uint32_t kEspCrcFieldOffset = kEspAppImageOffset + 16;
/// Address at which flash offset 0 is mapped for code (the irom0 window, 1 MB).
constexpr uint32_t kEspFlashMapBase = 0x40200000;
/// Most segments an image may have (esptool's BaseFirmwareImage.verify()).
constexpr uint8_t kEspImageMaxSegments = 16;

/// Why an image was refused; values stable (logs), append only.
enum class EspImageError : uint8_t {
  kOk = 0,
  kTruncated,           ///< ended inside a header, a segment, before a checksum, or before the app image
  kBadMagic,            ///< an image header does not start with 0xE9 (gzip included)
  kBadHeader,           ///< 0 or more than 16 segments, or a flash mode/size/speed the ROM does not know
  kBadSegment,          ///< a load address or size outside the chip's RAM, or past the recorded image end
  kBadFlashSegment,     ///< the app does not start with its flash-mapped code at 0x40201010, or has two
  kBadEntry,            ///< the entry point is not inside a segment loaded into IRAM
  kBadChecksum,         ///< an image's checksum byte does not match its segment data
  kBootloaderTooLarge,  ///< the bootloader image reaches past 0x1000, where the app image starts
  kBadLength,           ///< __crc_len is missing, or not where the app image ends
  kBadCrc,              ///< __crc_val does not match the file (ESP.checkFlashCRC() would fail)
  kTrailingBytes,       ///< bytes after the image's end that are not an allowed signature trailer
};

/// A short English explanation of `e` for log lines ("an image checksum does not match its
/// segments"); in flash on the ESP8266: read it with FlashStr's readers, never as a C string.
FlashStr esp_image_error_message(EspImageError e);

/// CRC-32 as the ESP8266 core computes it (crc32() in cores/esp8266/crc32.cpp; eboot and
/// ESP.checkFlashCRC()): polynomial 0x04C11DB7, MSB first, no reflection, no final XOR. Start
/// with `crc` = 0xFFFFFFFF and chain calls.
uint32_t esp_crc32(uint32_t crc, const uint8_t* data, size_t size_bytes);

/// Walks one image, fed in order in chunks of any size, then asked for a verdict.
///
/// Guarantees: the verdict depends only on the bytes, never on how they were split; fixed
/// state, no allocation, O(1) work per byte; a refusal is final (later bytes are ignored) and
/// error_offset() says at which byte the walker knew.
class EspImageWalker {
 public:
  /// Ready for an image without a signature trailer (begin(false)).
  EspImageWalker() = default;

  /// Starts over. `allow_signature_trailer`: accept `sig || uint32 LE sig_len` (1 <= sig_len <=
  /// SPORE_OTA_MAX_SIGNATURE_BYTES, a multiple of 4: the Updater's read-back reads whole 32-bit
  /// words) after the image's exact end, as the ESP8266 core's signing appends it; set when no
  /// OTA key is configured (OtaSession then passes the trailer through; with a key it strips it
  /// and the image must end exactly).
  void begin(bool allow_signature_trailer);
  /// The next `size_bytes` bytes of the file. False once the image is known bad (then and later).
  bool feed(const uint8_t* data, size_t size_bytes);
  /// The verdict after the last byte: kOk, or why the image is refused. May be called again.
  EspImageError finish();

  /// kOk while nothing is wrong so far (before finish()), else the refusal.
  EspImageError error() const { return error_; }
  /// Bytes fed so far.
  uint32_t offset() const { return offset_; }
  /// How many bytes had been read when error() was found (all of them for kTruncated and the
  /// checks finish() makes); 0 while error() is kOk.
  uint32_t error_offset() const { return error_offset_; }

 private:
  enum class Phase : uint8_t { kHeader, kSegmentHeader, kSegmentData, kChecksum, kBootPad, kTrailer };

  bool fail(EspImageError e);
  /// fail() found after `bytes_read` bytes (inside a span being consumed).
  bool fail_at(EspImageError e, uint32_t bytes_read);
  /// Consumes 1..size_bytes bytes of the current phase; returns how many.
  size_t step(const uint8_t* data, size_t size_bytes);
  void on_header();
  void on_segment_header();
  void next_segment();
  void on_checksum(uint8_t stored);
  void on_crc_field(uint32_t bytes_read);
  /// The CRC and the __crc_len/__crc_val capture for bytes at offset_ .. offset_ + size_bytes.
  void crc_update(const uint8_t* data, size_t size_bytes);

  uint32_t offset_ = 0;
  uint32_t error_offset_ = 0;
  uint32_t crc_ = 0xFFFFFFFFu;
  uint32_t crc_len_ = 0;  // __crc_len once crc_known_
  uint32_t crc_val_ = 0;  // __crc_val once crc_known_
  uint32_t entry_ = 0;
  uint32_t segment_end_ = 0;   // offset after the current segment's data
  uint32_t trailer_bytes_ = 0;
  uint8_t header_[8] = {};     // an image or segment header being assembled
  uint8_t crc_field_[8] = {};  // the bytes of __crc_len and __crc_val
  uint8_t last4_[4] = {};      // the last four trailer bytes (sig_len)
  uint8_t header_len_ = 0;
  uint8_t segments_left_ = 0;
  uint8_t segment_index_ = 0;
  uint8_t image_index_ = 0;  // 0 = bootloader, 1 = app
  uint8_t checksum_ = 0;
  Phase phase_ = Phase::kHeader;
  EspImageError error_ = EspImageError::kOk;
  bool entry_ok_ = false;
  bool crc_known_ = false;
  bool allow_trailer_ = false;
};

}  // namespace spore
