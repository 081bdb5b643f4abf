#pragma once
// Builds ESP8266 firmware files the way the ESP8266 Arduino core 3.1.2's tools/elf2bin.py does
// (write_bin() for eboot padded to 0x1000 with 0xAA, then the app; add_crc()), for the walker's
// unit tests and fuzz target (core/spore/device/esp_image.h). Offsets of the parts are exposed so tests
// can cut or corrupt an image at each structure boundary.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "spore/device/esp_image.h"

namespace spore::test {

struct EspSegmentSpec {
  uint32_t addr = 0;
  std::vector<uint8_t> data;
};

struct EspImageSpec {
  uint8_t flash_mode = 3;     // dout (elf2bin fmodeb)
  uint8_t size_speed = 0x20;  // 1M, 40 MHz (fsizeb << 4 | ffreqb)
  uint32_t entry = 0;
  std::vector<EspSegmentSpec> segments;
};

/// Where the parts of one image start in the file.
struct EspImageLayout {
  size_t header = 0;
  std::vector<size_t> segment_headers;
  std::vector<size_t> segment_data;
  std::vector<size_t> segment_sizes;
  size_t checksum = 0;  // offset of the checksum byte
  size_t end = 0;       // offset after it
};

inline void put_le32(std::vector<uint8_t>& out, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

inline void append_le32(std::vector<uint8_t>& out, uint32_t v) {
  out.resize(out.size() + 4);
  put_le32(out, out.size() - 4, v);
}

/// elf2bin's write_bin(): header, segments, zero padding to 15 mod 16, XOR checksum seeded 0xEF;
/// then 0xAA up to `to_addr` when it is not 0.
inline EspImageLayout append_esp_image(std::vector<uint8_t>& out, const EspImageSpec& spec, size_t to_addr = 0) {
  EspImageLayout l;
  l.header = out.size();
  out.push_back(0xE9);
  out.push_back(static_cast<uint8_t>(spec.segments.size()));
  out.push_back(spec.flash_mode);
  out.push_back(spec.size_speed);
  append_le32(out, spec.entry);
  uint8_t checksum = 0xEF;
  for (const EspSegmentSpec& s : spec.segments) {
    l.segment_headers.push_back(out.size());
    append_le32(out, s.addr);
    append_le32(out, static_cast<uint32_t>(s.data.size()));
    l.segment_data.push_back(out.size());
    l.segment_sizes.push_back(s.data.size());
    out.insert(out.end(), s.data.begin(), s.data.end());
    for (uint8_t b : s.data) checksum ^= b;
  }
  while ((out.size() + 1) % 16 != 0) out.push_back(0);
  l.checksum = out.size();
  out.push_back(checksum);
  l.end = out.size();
  while (to_addr != 0 && out.size() < to_addr) out.push_back(0xAA);
  return l;
}

/// Deterministic filler so segments are not all zero (a flipped bit then changes the checksum).
inline std::vector<uint8_t> esp_pattern(size_t size, uint32_t seed) {
  std::vector<uint8_t> v(size);
  uint32_t x = seed * 2654435761u + 1;
  for (uint8_t& b : v) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<uint8_t>(x);
  }
  return v;
}

/// eboot.elf of core 3.1.2 as elf2bin sees it: .text (0xD60 bytes at 0x4010F000, entry 0x4010F480)
/// and .rodata (0x28 bytes at 0x3FFF20B8), with made-up contents.
inline EspImageSpec esp_bootloader_spec() {
  EspImageSpec s;
  s.entry = 0x4010F480;
  s.segments = {{0x4010F000, esp_pattern(0xD60, 1)}, {0x3FFF20B8, esp_pattern(0x28, 2)}};
  return s;
}

/// A sketch as elf2bin lays it out: .irom0.text (flash-mapped at 0x40201010; build_esp_firmware()
/// zeroes its first 8 bytes, the __crc_len/__crc_val words), .text (IRAM, holds the entry point),
/// .text1, .data, .rodata.
inline EspImageSpec esp_app_spec(size_t irom_bytes = 3000, size_t iram_bytes = 700, uint32_t seed = 7) {
  EspImageSpec s;
  s.entry = 0x40100004;
  s.segments = {{kEspFlashMapBase + kEspCrcFieldOffset, esp_pattern(irom_bytes, seed)},
                {0x40100000, esp_pattern(iram_bytes, seed + 1)},
                {0x40100000 + static_cast<uint32_t>((iram_bytes + 3) & ~size_t{3}), esp_pattern(60, seed + 2)},
                {0x3FFE8000, esp_pattern(33, seed + 3)},
                {0x3FFE8030, esp_pattern(129, seed + 4)}};
  return s;
}

/// A whole firmware file: bootloader at 0, app at 0x1000, then add_crc() (the CRC-32 of the file
/// with the two words zeroed, then the file length and the CRC stored in them).
struct EspFirmware {
  std::vector<uint8_t> bytes;
  EspImageLayout boot;
  EspImageLayout app;
};

/// The ESP8266 core's crc32(), bit by bit as eboot and elf2bin's crc8266() write it: the reference
/// the walker's nibble-table CRC is tested against.
inline uint32_t esp_crc32_bitwise(const uint8_t* data, size_t size, uint32_t crc = 0xFFFFFFFFu) {
  for (size_t n = 0; n < size; ++n) {
    for (uint32_t i = 0x80; i > 0; i >>= 1) {
      bool bit = (crc & 0x80000000u) != 0;
      if ((data[n] & i) != 0) bit = !bit;
      crc <<= 1;
      if (bit) crc ^= 0x04C11DB7u;
    }
  }
  return crc;
}

/// add_crc(): zero the two words, CRC the whole file, store its length and the CRC.
inline void esp_add_crc(std::vector<uint8_t>& bytes) {
  put_le32(bytes, kEspCrcFieldOffset, 0);
  put_le32(bytes, kEspCrcFieldOffset + 4, 0);
  const uint32_t crc = esp_crc32_bitwise(bytes.data(), bytes.size());
  put_le32(bytes, kEspCrcFieldOffset, static_cast<uint32_t>(bytes.size()));
  put_le32(bytes, kEspCrcFieldOffset + 4, crc);
}

/// `app`'s first segment starts with __crc_len and __crc_val, which the ELF holds as zeros
/// (the core's linker script: LONG(0) twice) when elf2bin computes the checksum; they are zeroed
/// here the same way whatever the spec says.
inline EspFirmware build_esp_firmware(const EspImageSpec& boot = esp_bootloader_spec(),
                                      const EspImageSpec& app = esp_app_spec()) {
  EspFirmware f;
  f.boot = append_esp_image(f.bytes, boot, kEspAppImageOffset);
  EspImageSpec zeroed = app;
  if (!zeroed.segments.empty()) {
    std::vector<uint8_t>& irom = zeroed.segments[0].data;
    for (size_t i = 0; i < 8 && i < irom.size(); ++i) irom[i] = 0;
  }
  f.app = append_esp_image(f.bytes, zeroed);
  esp_add_crc(f.bytes);
  return f;
}

/// The ESP8266 core's signed-update trailer: `sig_bytes` of signature, then their count (LE).
inline void append_signature_trailer(std::vector<uint8_t>& bytes, size_t sig_bytes) {
  const std::vector<uint8_t> sig = esp_pattern(sig_bytes, 99);
  bytes.insert(bytes.end(), sig.begin(), sig.end());
  append_le32(bytes, static_cast<uint32_t>(sig_bytes));
}

}  // namespace spore::test
