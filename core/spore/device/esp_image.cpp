#include "spore/device/esp_image.h"

#include <cstring>

#include "spore/base/bytes.h"
#include "spore/base/limits.h"

namespace spore {

namespace {

constexpr uint8_t kMagic = 0xE9;      // ESPLoader.ESP_IMAGE_MAGIC
constexpr uint8_t kChecksumSeed = 0xEF;  // ESPLoader.ESP_CHECKSUM_MAGIC

// Load regions (esptool targets/esp8266.py MEMORY_MAP, eboot.c load_app_from_flash_raw()).
constexpr uint32_t kDramStart = 0x3FFE8000;
constexpr uint32_t kDramEnd = 0x40000000;
constexpr uint32_t kIramStart = 0x40100000;
// The app's IRAM: 32 KB, or 48 KB with the core's MMU option; eboot loads app segments only below
// this (it skips others silently, so the code would be missing at run time).
constexpr uint32_t kAppIramEnd = 0x4010C000;
// The bootloader is loaded by the ROM before the cache is on, into the whole 64 KB (eboot.ld puts
// its code at 0x4010F000).
constexpr uint32_t kBootIramEnd = 0x40110000;
constexpr uint32_t kFlashMapEnd = kEspFlashMapBase + 0x100000;

constexpr size_t kErrorCount = static_cast<size_t>(EspImageError::kTrailingBytes) + 1;

constexpr char kMessages[] SPORE_FLASH =
    "a complete ESP8266 Arduino image\0"
    "ends inside a header or segment, or before a checksum or the app image\0"
    "an image header does not start with 0xE9 (gzip images cannot be checked)\0"
    "an image header has 0 or over 16 segments, or unknown flash settings\0"
    "a segment lies outside the chip's RAM or past the recorded image end\0"
    "the app does not start with one flash-mapped segment at 0x40201010\0"
    "an entry point is not inside an IRAM segment\0"
    "an image checksum does not match its segments\0"
    "the bootloader image reaches past 0x1000\0"
    "the recorded length (__crc_len) is missing or not the app image's end\0"
    "the CRC-32 (__crc_val, ESP.checkFlashCRC()) does not match\0"
    "bytes after the image's end that are not a signature trailer\0"
    "unknown image error\0";
static_assert(flash_list_count(kMessages, sizeof kMessages) == kErrorCount + 1,
              "kMessages must have one sentence per EspImageError, then the unknown one");

struct CrcTable {
  uint32_t v[16];
};

/// CRC of each nibble value shifted to the top, for the MSB-first CRC four bits at a time: 64 B,
/// against 8 shifts per byte for the bitwise form (or a 1 KB byte table).
constexpr CrcTable make_crc_table() {
  CrcTable t{};
  for (uint32_t i = 0; i < 16; ++i) {
    uint32_t c = i << 28;
    for (int k = 0; k < 4; ++k) c = (c & 0x80000000u) != 0 ? (c << 1) ^ 0x04C11DB7u : c << 1;
    t.v[i] = c;
  }
  return t;
}
// In flash on the ESP8266 (read with aligned 32-bit loads only, which flash allows).
constexpr CrcTable kCrcTable SPORE_FLASH = make_crc_table();

inline uint32_t crc_byte(uint32_t crc, uint8_t b) {
  crc = (crc << 4) ^ kCrcTable.v[(crc >> 28) ^ (b >> 4)];
  return (crc << 4) ^ kCrcTable.v[(crc >> 28) ^ (b & 0x0Fu)];
}

/// [addr, addr + size) lies in [lo, hi) (an empty segment may sit right at `hi`, as an empty
/// section after a full region does).
bool inside(uint32_t addr, uint32_t size, uint32_t lo, uint32_t hi) {
  return addr >= lo && addr <= hi && size <= hi - addr;
}

/// Flash mode, speed and size values the ROM knows (esptool FLASH_MODES, ESP8266ROM
/// FLASH_FREQUENCY and FLASH_SIZES; elf2bin's fmodeb, ffreqb, fsizeb).
bool flash_settings_ok(uint8_t mode, uint8_t size_speed) {
  const uint8_t speed = size_speed & 0x0F;
  const uint8_t size = size_speed >> 4;
  return mode <= 3 && (speed <= 2 || speed == 0x0F) && (size <= 6 || size == 8 || size == 9);
}

/// Offset of `at` inside the __crc_len/__crc_val field, or >= 8 when outside it.
inline uint32_t crc_field_index(uint32_t at) { return at - kEspCrcFieldOffset; }

}  // namespace

FlashStr esp_image_error_message(EspImageError e) {
  const auto i = static_cast<size_t>(e);
  return flash_nth(kMessages, kErrorCount + 1, i < kErrorCount ? i : kErrorCount);
}

uint32_t esp_crc32(uint32_t crc, const uint8_t* data, size_t size_bytes) {
  for (size_t i = 0; i < size_bytes; ++i) crc = crc_byte(crc, data[i]);
  return crc;
}

void EspImageWalker::begin(bool allow_signature_trailer) {
  *this = EspImageWalker();
  allow_trailer_ = allow_signature_trailer;
}

bool EspImageWalker::fail(EspImageError e) { return fail_at(e, offset_); }

bool EspImageWalker::fail_at(EspImageError e, uint32_t bytes_read) {
  if (error_ == EspImageError::kOk) {
    error_ = e;
    error_offset_ = bytes_read;
  }
  return false;
}

bool EspImageWalker::feed(const uint8_t* data, size_t size_bytes) {
  while (error_ == EspImageError::kOk && size_bytes > 0) {
    const size_t used = step(data, size_bytes);
    data += used;
    size_bytes -= used;
  }
  return error_ == EspImageError::kOk;
}

void EspImageWalker::crc_update(const uint8_t* data, size_t size_bytes) {
  for (size_t i = 0; i < size_bytes; ++i) {
    const uint32_t at = offset_ + static_cast<uint32_t>(i);
    if (crc_known_ && at >= crc_len_) return;  // a signature trailer is not covered
    uint8_t b = data[i];
    const uint32_t k = crc_field_index(at);
    if (k < sizeof crc_field_) {
      crc_field_[k] = b;
      b = 0;  // elf2bin computed the CRC with the field zeroed
    }
    crc_ = crc_byte(crc_, b);
    if (k == sizeof crc_field_ - 1) on_crc_field(at + 1);
  }
}

size_t EspImageWalker::step(const uint8_t* data, size_t size_bytes) {
  // if/else rather than a switch: GCC's jump table for it would sit in DRAM on the ESP8266.
  size_t n = size_bytes;
  if (phase_ == Phase::kHeader || phase_ == Phase::kSegmentHeader) {
    const size_t want = sizeof header_ - header_len_;
    if (n > want) n = want;
    std::memcpy(header_ + header_len_, data, n);
    header_len_ = static_cast<uint8_t>(header_len_ + n);
    crc_update(data, n);
    offset_ += static_cast<uint32_t>(n);
    if (header_len_ == sizeof header_ && error_ == EspImageError::kOk) {
      header_len_ = 0;
      if (phase_ == Phase::kHeader) {
        on_header();
      } else {
        on_segment_header();
      }
    }
  } else if (phase_ == Phase::kSegmentData) {
    if (n > segment_end_ - offset_) n = segment_end_ - offset_;
    uint8_t x = checksum_;
    for (size_t i = 0; i < n; ++i) {
      // The app's checksum was computed before elf2bin wrote __crc_len/__crc_val (zeros then).
      if (crc_field_index(offset_ + static_cast<uint32_t>(i)) >= sizeof crc_field_) x ^= data[i];
    }
    checksum_ = x;
    crc_update(data, n);
    offset_ += static_cast<uint32_t>(n);
    if (offset_ == segment_end_ && error_ == EspImageError::kOk) next_segment();
  } else if (phase_ == Phase::kChecksum) {
    const uint32_t to_checksum = 15 - (offset_ & 15);  // zero padding to 16-byte alignment
    if (to_checksum > 0) {
      if (n > to_checksum) n = to_checksum;
      crc_update(data, n);
      offset_ += static_cast<uint32_t>(n);
    } else {
      n = 1;
      crc_update(data, 1);
      offset_ += 1;
      on_checksum(data[0]);
    }
  } else if (phase_ == Phase::kBootPad) {
    // elf2bin fills with 0xAA; the CRC covers these bytes, nothing else reads them.
    if (n > kEspAppImageOffset - offset_) n = kEspAppImageOffset - offset_;
    crc_update(data, n);
    offset_ += static_cast<uint32_t>(n);
    if (offset_ == kEspAppImageOffset) {
      image_index_ = 1;
      phase_ = Phase::kHeader;
    }
  } else {  // kTrailer
    const uint32_t max_trailer = allow_trailer_ ? 4 + SPORE_OTA_MAX_SIGNATURE_BYTES : 0;
    if (n > max_trailer - trailer_bytes_ + 1) n = max_trailer - trailer_bytes_ + 1;
    for (size_t i = 0; i < n; ++i) {
      std::memmove(last4_, last4_ + 1, 3);
      last4_[3] = data[i];
    }
    trailer_bytes_ += static_cast<uint32_t>(n);
    offset_ += static_cast<uint32_t>(n);
    if (trailer_bytes_ > max_trailer) fail(EspImageError::kTrailingBytes);
  }
  return n;
}

void EspImageWalker::on_header() {
  if (header_[0] != kMagic) {
    fail(EspImageError::kBadMagic);
    return;
  }
  if (header_[1] == 0 || header_[1] > kEspImageMaxSegments || !flash_settings_ok(header_[2], header_[3])) {
    fail(EspImageError::kBadHeader);
    return;
  }
  segments_left_ = header_[1];
  segment_index_ = 0;
  entry_ = load_le32(header_ + 4);
  entry_ok_ = false;
  checksum_ = kChecksumSeed;
  phase_ = Phase::kSegmentHeader;
}

void EspImageWalker::on_segment_header() {
  const uint32_t addr = load_le32(header_);
  const uint32_t size = load_le32(header_ + 4);
  const uint32_t start = offset_;  // of the segment's data
  if (image_index_ == 0) {
    if (!inside(addr, size, kDramStart, kDramEnd) && !inside(addr, size, kIramStart, kBootIramEnd)) {
      fail(EspImageError::kBadSegment);
      return;
    }
    // The data and at least the checksum byte must end before the app image.
    if (start >= kEspAppImageOffset || size > kEspAppImageOffset - 1 - start) {
      fail(EspImageError::kBootloaderTooLarge);
      return;
    }
  } else {
    const bool flash_mapped = addr >= kEspFlashMapBase && addr < kFlashMapEnd;
    if (segment_index_ == 0) {
      // Mapped where it sits in flash, and long enough to hold __crc_len and __crc_val.
      if (addr != kEspFlashMapBase + start || size < sizeof crc_field_ || !inside(addr, size, addr, kFlashMapEnd)) {
        fail(EspImageError::kBadFlashSegment);
        return;
      }
    } else if (flash_mapped) {
      fail(EspImageError::kBadFlashSegment);
      return;
    } else if (!inside(addr, size, kDramStart, kDramEnd) && !inside(addr, size, kIramStart, kAppIramEnd)) {
      fail(EspImageError::kBadSegment);
      return;
    }
    // The data and the checksum byte must end by __crc_len (known after the first segment's
    // first 8 bytes; on_crc_field() checks that first segment).
    if (crc_known_ && (start >= crc_len_ || size > crc_len_ - 1 - start)) {
      fail(EspImageError::kBadSegment);
      return;
    }
  }
  if (addr >= kIramStart && addr < kBootIramEnd && entry_ - addr < size) entry_ok_ = true;
  segment_end_ = start + size;
  phase_ = Phase::kSegmentData;
  if (size == 0) next_segment();
}

void EspImageWalker::next_segment() {
  ++segment_index_;
  phase_ = --segments_left_ == 0 ? Phase::kChecksum : Phase::kSegmentHeader;
}

void EspImageWalker::on_crc_field(uint32_t bytes_read) {
  crc_len_ = load_le32(crc_field_);
  crc_val_ = load_le32(crc_field_ + 4);
  crc_known_ = true;
  // The app ends on its 16-byte-aligned checksum, after its first segment's data.
  if (crc_len_ % 16 != 0 || crc_len_ <= segment_end_) fail_at(EspImageError::kBadLength, bytes_read);
}

void EspImageWalker::on_checksum(uint8_t stored) {
  if (stored != checksum_) {
    fail(EspImageError::kBadChecksum);
    return;
  }
  if (!entry_ok_) {
    fail(EspImageError::kBadEntry);
    return;
  }
  if (image_index_ == 0) {
    // on_segment_header() keeps the checksum before 0x1000.
    phase_ = offset_ == kEspAppImageOffset ? Phase::kHeader : Phase::kBootPad;
    if (phase_ == Phase::kHeader) image_index_ = 1;
    return;
  }
  // offset_ is now the app image's end.
  if (!crc_known_ || offset_ != crc_len_) {
    fail(EspImageError::kBadLength);
    return;
  }
  phase_ = Phase::kTrailer;
}

EspImageError EspImageWalker::finish() {
  if (error_ != EspImageError::kOk) return error_;
  if (phase_ != Phase::kTrailer) {
    fail(EspImageError::kTruncated);
    return error_;
  }
  // sig || uint32 LE sig_len: the length must account for exactly the bytes before it. And a
  // whole number of 32-bit words: Update.end() reads the installed file back in 128-byte pieces
  // with ESP.flashRead(uint32_t*), which refuses a size that is not a multiple of 4 (core 3.1.2
  // Esp.cpp:928-931) without Updater.cpp:285 checking, so such a file (the image itself ends
  // 16-aligned) would always fail its read-back as if the flash were bad. RSA signatures are.
  if (trailer_bytes_ != 0 &&
      (trailer_bytes_ < 5 || trailer_bytes_ % 4 != 0 || load_le32(last4_) != trailer_bytes_ - 4)) {
    fail(EspImageError::kTrailingBytes);
    return error_;
  }
  if (crc_ != crc_val_) fail(EspImageError::kBadCrc);
  return error_;
}

}  // namespace spore
