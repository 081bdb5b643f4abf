// EspImageWalker: the ESP8266 image check before Update.end() (core/spore/device/esp_image.h), against
// firmware files built the way the ESP8266 Arduino core 3.1.2's tools/elf2bin.py builds them
// (esp_image_builder.h). Every verdict is also checked fed in pieces of 1, 7 and 1460 bytes.

#include "spore/device/esp_image.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "esp_image_builder.h"
#include "flash_string_util.h"
#include "spore/base/limits.h"

namespace spore {
namespace {

using test::append_esp_image;
using test::append_signature_trailer;
using test::build_esp_firmware;
using test::esp_add_crc;
using test::esp_app_spec;
using test::esp_bootloader_spec;
using test::EspFirmware;
using test::EspImageSpec;
using test::put_le32;

struct Verdict {
  EspImageError error;
  uint32_t offset;
};

Verdict walk(const std::vector<uint8_t>& bytes, bool allow_trailer, size_t chunk) {
  EspImageWalker w;
  w.begin(allow_trailer);
  for (size_t at = 0; at < bytes.size(); at += chunk) {
    const size_t n = bytes.size() - at < chunk ? bytes.size() - at : chunk;
    const bool ok = w.feed(bytes.data() + at, n);
    EXPECT_EQ(ok, w.error() == EspImageError::kOk);
  }
  const EspImageError e = w.finish();
  EXPECT_EQ(w.finish(), e) << "finish() is idempotent";
  return {e, w.error_offset()};
}

/// The verdict, asserted to be the same whatever the chunk size.
EspImageError verdict(const std::vector<uint8_t>& bytes, bool allow_trailer = false) {
  const Verdict whole = walk(bytes, allow_trailer, bytes.empty() ? 1 : bytes.size());
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{1460}}) {
    const Verdict v = walk(bytes, allow_trailer, chunk);
    EXPECT_EQ(v.error, whole.error) << "chunk " << chunk;
    EXPECT_EQ(v.offset, whole.offset) << "chunk " << chunk;
  }
  return whole.error;
}

/// Re-seals a firmware whose bytes a test changed: new __crc_len/__crc_val, as elf2bin would.
std::vector<uint8_t> resealed(std::vector<uint8_t> bytes) {
  esp_add_crc(bytes);
  return bytes;
}

/// A firmware built from specs that the test changed (elf2bin writes whatever it is given).
std::vector<uint8_t> firmware_with(const EspImageSpec& boot, const EspImageSpec& app) {
  return build_esp_firmware(boot, app).bytes;
}

TEST(EspImageTest, CrcIsTheCoresCrc32) {
  const std::vector<uint8_t> data = test::esp_pattern(1000, 3);
  EXPECT_EQ(esp_crc32(0xFFFFFFFFu, data.data(), data.size()), test::esp_crc32_bitwise(data.data(), data.size()));
  // Chained calls equal one call.
  const uint32_t half = esp_crc32(0xFFFFFFFFu, data.data(), 333);
  EXPECT_EQ(esp_crc32(half, data.data() + 333, 667), test::esp_crc32_bitwise(data.data(), data.size()));
  // crc32("123456789") of the MSB-first, non-reflected, no-final-XOR variant (CRC-32/MPEG-2).
  const char* check = "123456789";
  EXPECT_EQ(esp_crc32(0xFFFFFFFFu, reinterpret_cast<const uint8_t*>(check), 9), 0x0376E6E7u);
}

TEST(EspImageTest, AcceptsAnElf2binFirmware) {
  const EspFirmware f = build_esp_firmware();
  EXPECT_EQ(f.app.header, kEspAppImageOffset);
  EXPECT_EQ(f.app.segment_data[0], kEspCrcFieldOffset);
  EXPECT_EQ(verdict(f.bytes), EspImageError::kOk);
  EXPECT_EQ(verdict(f.bytes, true), EspImageError::kOk);
}

TEST(EspImageTest, TheStartOfARealElf2binAppIsWalked) {
  // The first 0x30 bytes of the app image elf2bin.py (core 3.1.2) wrote for a test ELF: header
  // E9 05 03 20, entry 0x40100004, the irom0 segment at 0x40201010 of 0xBB6 bytes, then
  // __crc_len = 0x1F90 (8080, the file's length) and __crc_val = 0xF35B8A25.
  const uint8_t real[] = {0xE9, 0x05, 0x03, 0x20, 0x04, 0x00, 0x10, 0x40, 0x10, 0x10, 0x20, 0x40,
                          0xB6, 0x0B, 0x00, 0x00, 0x90, 0x1F, 0x00, 0x00, 0x25, 0x8A, 0x5B, 0xF3};
  std::vector<uint8_t> bytes = build_esp_firmware().bytes;
  bytes.resize(kEspAppImageOffset);
  bytes.insert(bytes.end(), real, real + sizeof real);
  EspImageWalker w;
  EXPECT_TRUE(w.feed(bytes.data(), bytes.size()));  // a plausible start, cut short
  EXPECT_EQ(w.finish(), EspImageError::kTruncated);
}

TEST(EspImageTest, TheAppChecksumIgnoresTheCrcWords) {
  // elf2bin computes the app's XOR checksum before add_crc() fills __crc_len/__crc_val: esptool
  // image_info calls such a file's app checksum invalid. The walker reads the words as zero.
  const EspFirmware f = build_esp_firmware();
  uint8_t x = 0xEF;
  for (size_t i = 0; i < f.app.segment_data.size(); ++i) {
    for (size_t k = 0; k < f.app.segment_sizes[i]; ++k) x ^= f.bytes[f.app.segment_data[i] + k];
  }
  EXPECT_NE(x, f.bytes[f.app.checksum]) << "the naive checksum is off by the CRC words";
  EXPECT_EQ(verdict(f.bytes), EspImageError::kOk);
}

TEST(EspImageTest, TruncatedAtEveryStructureBoundaryAndInside) {
  const EspFirmware f = build_esp_firmware();
  std::vector<size_t> cuts = {0, 1, f.boot.header + 7, f.boot.checksum, f.boot.end, kEspAppImageOffset - 1,
                              kEspAppImageOffset, kEspCrcFieldOffset + 4, f.app.checksum, f.bytes.size() - 1};
  for (const auto* l : {&f.boot, &f.app}) {
    for (size_t at : l->segment_headers) cuts.insert(cuts.end(), {at, at + 4, at + 8});
    for (size_t at : l->segment_data) cuts.insert(cuts.end(), {at + 1, at + 17});
  }
  for (size_t cut : cuts) {
    ASSERT_LT(cut, f.bytes.size());
    const std::vector<uint8_t> part(f.bytes.begin(), f.bytes.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_EQ(verdict(part), EspImageError::kTruncated) << "cut at " << cut;
    EXPECT_EQ(verdict(part, true), EspImageError::kTruncated) << "cut at " << cut;
  }
}

TEST(EspImageTest, ExtraBytesAfterTheEnd) {
  const EspFirmware f = build_esp_firmware();
  for (size_t extra : {1u, 4u, 15u, 16u, 4096u}) {
    std::vector<uint8_t> bytes = f.bytes;
    bytes.insert(bytes.end(), extra, 0xFF);
    EXPECT_EQ(verdict(bytes), EspImageError::kTrailingBytes) << extra;
    EXPECT_EQ(verdict(bytes, true), EspImageError::kTrailingBytes) << extra;
  }
  // A longer file resealed by add_crc: the recorded length is the new one, the app ends before.
  std::vector<uint8_t> bytes = f.bytes;
  bytes.insert(bytes.end(), 16, 0);
  EXPECT_EQ(verdict(resealed(bytes)), EspImageError::kBadLength);
}

TEST(EspImageTest, SignatureTrailerOnlyWhenAllowed) {
  for (size_t sig : {size_t{4}, size_t{256}, size_t{SPORE_OTA_MAX_SIGNATURE_BYTES}}) {
    std::vector<uint8_t> bytes = build_esp_firmware().bytes;
    append_signature_trailer(bytes, sig);
    EXPECT_EQ(verdict(bytes, true), EspImageError::kOk) << sig;
    EXPECT_EQ(verdict(bytes, false), EspImageError::kTrailingBytes) << sig;
  }
  std::vector<uint8_t> too_long = build_esp_firmware().bytes;
  append_signature_trailer(too_long, SPORE_OTA_MAX_SIGNATURE_BYTES + 1);
  EXPECT_EQ(verdict(too_long, true), EspImageError::kTrailingBytes);
  // A length that does not account for exactly the bytes before it.
  std::vector<uint8_t> wrong = build_esp_firmware().bytes;
  append_signature_trailer(wrong, 256);
  put_le32(wrong, wrong.size() - 4, 255);
  EXPECT_EQ(verdict(wrong, true), EspImageError::kTrailingBytes);
  // Review of issue 16, finding 6: a signature length that is not a multiple of 4 would pass
  // here and then always fail Update.end()'s read-back (ESP.flashRead() refuses such a size).
  for (size_t sig : {size_t{1}, size_t{2}, size_t{3}, size_t{255}, size_t{SPORE_OTA_MAX_SIGNATURE_BYTES - 1}}) {
    std::vector<uint8_t> odd = build_esp_firmware().bytes;
    append_signature_trailer(odd, sig);
    EXPECT_EQ(verdict(odd, true), EspImageError::kTrailingBytes) << sig;
  }
  std::vector<uint8_t> zero = build_esp_firmware().bytes;
  test::append_le32(zero, 0);
  EXPECT_EQ(verdict(zero, true), EspImageError::kTrailingBytes);
}

TEST(EspImageTest, WrongChecksums) {
  const EspFirmware f = build_esp_firmware();
  for (size_t at : {f.boot.checksum, f.app.checksum}) {
    std::vector<uint8_t> bytes = f.bytes;
    bytes[at] ^= 0x01;
    EXPECT_EQ(verdict(resealed(bytes)), EspImageError::kBadChecksum) << at;
  }
  // A data byte of every segment changed (CRC resealed, so only the checksum can tell).
  for (const auto* l : {&f.boot, &f.app}) {
    for (size_t i = 0; i < l->segment_data.size(); ++i) {
      std::vector<uint8_t> bytes = f.bytes;
      const size_t at = l->segment_data[i] + (l == &f.app && i == 0 ? 8 : 0);
      bytes[at] ^= 0x40;
      EXPECT_EQ(verdict(resealed(bytes)), EspImageError::kBadChecksum) << at;
    }
  }
}

TEST(EspImageTest, AnyChangedByteIsRefused) {
  const EspFirmware f = build_esp_firmware();
  // Every 97th byte of the file, and every byte of the headers and the CRC field.
  std::vector<size_t> positions;
  for (size_t at = 0; at < f.bytes.size(); at += 97) positions.push_back(at);
  for (size_t at = 0; at < 8; ++at) {
    positions.insert(positions.end(), {at, kEspAppImageOffset + at, kEspCrcFieldOffset + at});
  }
  for (size_t at : positions) {
    std::vector<uint8_t> bytes = f.bytes;
    bytes[at] ^= 0x10;
    EXPECT_NE(verdict(bytes), EspImageError::kOk) << "byte " << at;
  }
}

TEST(EspImageTest, WrongCrcOrLength) {
  const EspFirmware f = build_esp_firmware();
  std::vector<uint8_t> bytes = f.bytes;
  bytes[kEspCrcFieldOffset + 4] ^= 1;
  EXPECT_EQ(verdict(bytes), EspImageError::kBadCrc);
  // Padding after the bootloader: only the CRC covers it.
  bytes = f.bytes;
  bytes[kEspAppImageOffset - 1] = 0xFF;
  EXPECT_EQ(verdict(bytes), EspImageError::kBadCrc);
  EXPECT_EQ(verdict(resealed(bytes)), EspImageError::kOk);
  // __crc_len: shorter or longer than the file, not 16-aligned, inside the first segment.
  const auto size = static_cast<uint32_t>(f.bytes.size());
  for (uint32_t len : {size + 16, size + 1, size - 1, 0x1010u, 0x1020u}) {
    bytes = f.bytes;
    put_le32(bytes, kEspCrcFieldOffset, len);
    EXPECT_EQ(verdict(bytes), EspImageError::kBadLength) << len;
  }
  // 16 bytes short: the last segment then reaches past the recorded end (found at its header).
  bytes = f.bytes;
  put_le32(bytes, kEspCrcFieldOffset, size - 16);
  EXPECT_EQ(verdict(bytes), EspImageError::kBadSegment);
  // No CRC at all (both words zero, as an image never run through add_crc()).
  bytes = f.bytes;
  put_le32(bytes, kEspCrcFieldOffset, 0);
  put_le32(bytes, kEspCrcFieldOffset + 4, 0);
  EXPECT_EQ(verdict(bytes), EspImageError::kBadLength);
}

TEST(EspImageTest, BadMagicAndGzip) {
  std::vector<uint8_t> bytes = build_esp_firmware().bytes;
  bytes[0] = 0xEA;  // esptool's "v2" image: not what the Arduino core builds
  EXPECT_EQ(verdict(bytes), EspImageError::kBadMagic);
  bytes = build_esp_firmware().bytes;
  bytes[kEspAppImageOffset] = 0xE8;
  EXPECT_EQ(verdict(resealed(bytes)), EspImageError::kBadMagic);
  const uint8_t gz[] = {0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03};
  EXPECT_EQ(verdict(std::vector<uint8_t>(gz, gz + sizeof gz)), EspImageError::kBadMagic);
  EXPECT_EQ(verdict({}), EspImageError::kTruncated);
}

TEST(EspImageTest, BadSegmentCountOrFlashSettings) {
  std::vector<uint8_t> bytes = build_esp_firmware().bytes;
  bytes[1] = 0;
  EXPECT_EQ(verdict(bytes), EspImageError::kBadHeader);
  bytes = build_esp_firmware().bytes;
  bytes[kEspAppImageOffset + 1] = 17;
  EXPECT_EQ(verdict(resealed(bytes)), EspImageError::kBadHeader);
  for (uint8_t mode : {uint8_t{4}, uint8_t{0xFF}}) {
    bytes = build_esp_firmware().bytes;
    bytes[2] = mode;
    EXPECT_EQ(verdict(bytes), EspImageError::kBadHeader) << int{mode};
  }
  for (uint8_t size_speed : {uint8_t{0x23}, uint8_t{0x70}, uint8_t{0xA0}}) {
    bytes = build_esp_firmware().bytes;
    bytes[3] = size_speed;
    EXPECT_EQ(verdict(bytes), EspImageError::kBadHeader) << int{size_speed};
  }
  // Every combination elf2bin can write is accepted: modes qio..dout, 40/26/20/80 MHz, 512K..16M.
  for (uint8_t mode = 0; mode <= 3; ++mode) {
    for (int speed : {0, 1, 2, 15}) {
      for (int size : {0, 1, 2, 3, 4, 8, 9}) {
        EspImageSpec boot = esp_bootloader_spec();
        EspImageSpec app = esp_app_spec();
        boot.flash_mode = app.flash_mode = mode;
        boot.size_speed = app.size_speed = static_cast<uint8_t>(size << 4 | speed);
        EXPECT_EQ(verdict(firmware_with(boot, app)), EspImageError::kOk);
      }
    }
  }
  // One segment and sixteen are both fine (esptool's limit is 16).
  EspImageSpec app = esp_app_spec();
  app.segments.resize(1);
  app.entry = 0x40100000;
  EspImageSpec one = app;
  one.segments.push_back({0x40100000, test::esp_pattern(16, 5)});
  EXPECT_EQ(verdict(firmware_with(esp_bootloader_spec(), one)), EspImageError::kOk);
  EspImageSpec sixteen = one;
  while (sixteen.segments.size() < 16) sixteen.segments.push_back({0x3FFE8000, test::esp_pattern(4, 6)});
  EXPECT_EQ(verdict(firmware_with(esp_bootloader_spec(), sixteen)), EspImageError::kOk);
}

TEST(EspImageTest, SegmentAddressesAndSizes) {
  struct Case {
    uint32_t addr;
    size_t size;
    EspImageError want;
  };
  // App segments after the flash-mapped one.
  const Case app_cases[] = {
      {0x3FFE8000, 16, EspImageError::kOk},             // DRAM start
      {0x3FFFFFF0, 16, EspImageError::kOk},             // DRAM end
      {0x3FFFFFF8, 16, EspImageError::kBadSegment},     // runs past DRAM
      {0x3FFE7FFC, 16, EspImageError::kBadSegment},     // below DRAM
      {0x3FF00000, 16, EspImageError::kBadSegment},     // DPORT: elf2bin never writes one
      {0x4010BFF0, 16, EspImageError::kOk},             // IRAM with the 48 KB MMU option
      {0x4010C000, 16, EspImageError::kBadSegment},     // IRAM eboot does not load for an app
      {0x40000000, 16, EspImageError::kBadSegment},     // ROM
      {0x40240000, 16, EspImageError::kBadFlashSegment},  // a second flash-mapped segment
      {0x60000000, 16, EspImageError::kBadSegment},     // peripherals
      {0x3FFE8000, 0x40000, EspImageError::kBadSegment},  // larger than DRAM
      {0x40000000, 0, EspImageError::kOk},              // empty, right at DRAM's end
      {0x40000000, 1, EspImageError::kBadSegment},
  };
  for (const Case& c : app_cases) {
    EspImageSpec app = esp_app_spec();
    app.segments.push_back({c.addr, test::esp_pattern(c.size, 8)});
    EXPECT_EQ(verdict(firmware_with(esp_bootloader_spec(), app)), c.want) << std::hex << c.addr;
  }
  // The flash-mapped segment: first, at 0x40201010 exactly, at least the two CRC words long.
  EspImageSpec app = esp_app_spec();
  app.segments[0].addr = 0x40201000;
  EXPECT_EQ(verdict(firmware_with(esp_bootloader_spec(), app)), EspImageError::kBadFlashSegment);
  app = esp_app_spec();
  std::swap(app.segments[0], app.segments[1]);
  EXPECT_EQ(verdict(firmware_with(esp_bootloader_spec(), app)), EspImageError::kBadFlashSegment);
  // A segment size beyond the file: the header says more than the file has.
  std::vector<uint8_t> bytes = build_esp_firmware().bytes;
  const EspFirmware f = build_esp_firmware();
  put_le32(bytes, f.app.segment_headers[3] + 4, 0x10000);
  EXPECT_EQ(verdict(bytes), EspImageError::kBadSegment);
  bytes = f.bytes;
  put_le32(bytes, f.app.segment_headers[0] + 4, 0xFFFFFFF0);
  EXPECT_EQ(verdict(bytes), EspImageError::kBadFlashSegment);
  bytes = f.bytes;
  put_le32(bytes, f.app.segment_headers[0] + 4, 0x20000);
  EXPECT_EQ(verdict(bytes), EspImageError::kBadLength);
  // Bootloader segments: RAM only (the ROM loads them before the flash cache is on).
  EspImageSpec boot = esp_bootloader_spec();
  boot.segments[1].addr = 0x40201010;
  EXPECT_EQ(verdict(firmware_with(boot, esp_app_spec())), EspImageError::kBadSegment);
  boot = esp_bootloader_spec();
  boot.segments[1].data.resize(0x1000);
  EXPECT_EQ(verdict(firmware_with(boot, esp_app_spec())), EspImageError::kBootloaderTooLarge);
  // Zero-size segments are legal (elf2bin writes an empty .text1).
  app = esp_app_spec();
  app.segments[2].data.clear();
  EXPECT_EQ(verdict(firmware_with(esp_bootloader_spec(), app)), EspImageError::kOk);
}

TEST(EspImageTest, EntryPointInsideAnIramSegment) {
  EspImageSpec app = esp_app_spec();
  app.entry = 0x40201020;  // flash-mapped code: the cache is off when eboot jumps there
  EXPECT_EQ(verdict(firmware_with(esp_bootloader_spec(), app)), EspImageError::kBadEntry);
  app.entry = 0x3FFE8000;  // DRAM
  EXPECT_EQ(verdict(firmware_with(esp_bootloader_spec(), app)), EspImageError::kBadEntry);
  app.entry = 0x40100000 + 700 + 60 + 4;  // just past .text1
  EXPECT_EQ(verdict(firmware_with(esp_bootloader_spec(), app)), EspImageError::kBadEntry);
  EspImageSpec boot = esp_bootloader_spec();
  boot.entry = 0x4010F000 + 0xD60;
  EXPECT_EQ(verdict(firmware_with(boot, esp_app_spec())), EspImageError::kBadEntry);
}

TEST(EspImageTest, BootloaderEndingExactlyAt0x1000) {
  // Header 8 + segment header 8 + 4071 data bytes + 8 more header... sized so that the
  // checksum is the last byte before the app image: no 0xAA padding at all.
  EspImageSpec boot;
  boot.entry = 0x4010F000;
  boot.segments = {{0x4010F000, test::esp_pattern(0x1000 - 16 - 1, 4)}};
  const EspFirmware f = build_esp_firmware(boot, esp_app_spec());
  EXPECT_EQ(f.boot.end, kEspAppImageOffset);
  EXPECT_EQ(verdict(f.bytes), EspImageError::kOk);
}

TEST(EspImageTest, RefusalIsFinalAndBeginStartsOver) {
  const std::vector<uint8_t> good = build_esp_firmware().bytes;
  std::vector<uint8_t> bad = good;
  bad[0] = 0x00;
  EspImageWalker w;
  EXPECT_FALSE(w.feed(bad.data(), 8));
  EXPECT_EQ(w.error(), EspImageError::kBadMagic);
  EXPECT_EQ(w.error_offset(), 8u);
  EXPECT_FALSE(w.feed(good.data() + 8, good.size() - 8)) << "later bytes change nothing";
  EXPECT_EQ(w.finish(), EspImageError::kBadMagic);
  w.begin(false);
  EXPECT_EQ(w.error(), EspImageError::kOk);
  EXPECT_TRUE(w.feed(good.data(), good.size()));
  EXPECT_EQ(w.finish(), EspImageError::kOk);
  EXPECT_EQ(w.offset(), good.size());
}

TEST(EspImageTest, MessagesForEveryError) {
  for (uint8_t e = 0; e <= static_cast<uint8_t>(EspImageError::kTrailingBytes); ++e) {
    EXPECT_GT(esp_image_error_message(static_cast<EspImageError>(e)).length(), 15u) << int{e};
  }
  EXPECT_EQ(to_std_string(esp_image_error_message(static_cast<EspImageError>(200))), "unknown image error");
}

}  // namespace
}  // namespace spore
