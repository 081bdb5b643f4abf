// libFuzzer target for the ESP8266 image walker (core/spore/device/esp_image.h), which decides before
// Update.end() whether an uploaded firmware file is a complete, intact ESP8266 Arduino image.
//
// Input layout: byte 0 = flags (bit 0: allow a signature trailer), byte 1 = chunking seed, then the
// body. Each input is used twice: as a firmware file of its own, and as the parameters (segment
// counts, sizes, addresses, contents, trailer) of a firmware file built the way the ESP8266
// Arduino core 3.1.2's elf2bin.py builds one (tests/unit/esp_image_builder.h).
//
// Properties checked on every input, abort() on violation:
// - the body's verdict and the offset at which it was reached are the same fed whole and fed in
//   pseudo-random chunks of 1..700 bytes;
// - a body the walker accepts is refused after any single-byte change before its recorded end
//   (the byte is picked from the input);
// - the built file is accepted, whole and chunked;
// - the built file with one bit of one segment's data flipped is refused: as kBadChecksum when
//   its CRC is recomputed (the checksum alone must catch it), refused either way when not.
//
// SPORE_ESP_IMAGE_FUZZ_WRITE_SEEDS=<dir> writes the seed corpus (tests/fuzz/corpus/esp_image/)
// and exits; the committed corpus was made that way.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "../unit/esp_image_builder.h"
#include "fuzz_chunker.h"
#include "spore/device/esp_image.h"
#include "spore/base/limits.h"

namespace {

using spore::EspImageError;
using spore::EspImageWalker;
namespace t = spore::test;

struct Verdict {
  EspImageError error;
  uint32_t offset;
};

Verdict walk(const uint8_t* data, size_t size, bool allow_trailer, uint32_t seed) {
  EspImageWalker w;
  w.begin(allow_trailer);
  spore::fuzz::Chunker chunks(seed, 700);
  for (size_t off = 0; off < size;) {
    const size_t n = chunks.next(size - off);
    if (w.feed(data + off, n) != (w.error() == EspImageError::kOk)) std::abort();
    off += n;
  }
  const EspImageError e = w.finish();
  if (w.finish() != e || w.error() != e) std::abort();
  if (e == EspImageError::kOk ? w.error_offset() != 0 : w.error_offset() > size) std::abort();
  return {e, w.error_offset()};
}

Verdict walk_both(const std::vector<uint8_t>& bytes, bool allow_trailer, uint32_t seed) {
  const Verdict whole = walk(bytes.data(), bytes.size(), allow_trailer, 0);
  const Verdict chunked = walk(bytes.data(), bytes.size(), allow_trailer, seed | 1u);
  if (whole.error != chunked.error || whole.offset != chunked.offset) std::abort();
  return whole;
}

/// Reads parameters from the fuzz input, cycling (never runs dry).
class Params {
 public:
  Params(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint32_t next(uint32_t below) {
    if (below == 0) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 3; ++i) v = v << 8 | byte();
    return v % below;
  }
  uint8_t byte() { return size_ == 0 ? 0x5A : data_[at_++ % size_]; }
  std::vector<uint8_t> bytes(size_t n) {
    std::vector<uint8_t> v(n);
    for (uint8_t& b : v) b = byte();
    return v;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

/// A RAM segment somewhere in DRAM or (for `iram`) IRAM below `iram_end`, of min_size..max_size bytes.
t::EspSegmentSpec ram_segment(Params& p, bool iram, uint32_t iram_end, uint32_t min_size, uint32_t max_size) {
  const uint32_t size = min_size + p.next(max_size - min_size + 1);
  const uint32_t lo = iram ? 0x40100000 : 0x3FFE8000;
  const uint32_t hi = iram ? iram_end : 0x40000000;
  return {lo + p.next(hi - lo - size + 1), p.bytes(size)};
}

t::EspImageSpec image_spec(Params& p, bool app) {
  t::EspImageSpec s;
  s.flash_mode = static_cast<uint8_t>(p.next(4));
  static constexpr uint8_t kSpeeds[] = {0, 1, 2, 15};
  static constexpr uint8_t kSizes[] = {0, 1, 2, 3, 4, 5, 6, 8, 9};
  s.size_speed = static_cast<uint8_t>(kSizes[p.next(9)] << 4 | kSpeeds[p.next(4)]);
  const uint32_t iram_end = app ? 0x4010C000 : 0x40110000;
  if (app) s.segments.push_back({spore::kEspFlashMapBase + spore::kEspCrcFieldOffset, p.bytes(8 + p.next(600))});
  // One IRAM segment that holds the entry point, then up to 13 more of any RAM kind.
  const t::EspSegmentSpec code = ram_segment(p, true, iram_end, 1, app ? 400 : 120);
  s.entry = code.addr + p.next(static_cast<uint32_t>(code.data.size()));
  s.segments.push_back(code);
  for (uint32_t extra = p.next(app ? 14 : 3); extra > 0; --extra) {
    s.segments.push_back(ram_segment(p, p.next(2) == 1, iram_end, 0, app ? 300 : 100));
  }
  return s;
}

/// Flips one bit of one segment data byte (not the CRC words) of `f`; false if it has none.
bool flip_segment_byte(t::EspFirmware& f, Params& p) {
  std::vector<size_t> positions;
  for (const t::EspImageLayout* l : {&f.boot, &f.app}) {
    for (size_t i = 0; i < l->segment_data.size(); ++i) {
      for (size_t at = l->segment_data[i]; at < l->segment_data[i] + l->segment_sizes[i]; ++at) {
        if (at - spore::kEspCrcFieldOffset >= 8) positions.push_back(at);
      }
    }
  }
  if (positions.empty()) return false;
  f.bytes[positions[p.next(static_cast<uint32_t>(positions.size()))]] ^= static_cast<uint8_t>(1u << p.next(8));
  return true;
}

void check_built(const uint8_t* data, size_t size, bool allow_trailer, uint32_t seed) {
  Params p(data, size);
  const t::EspImageSpec boot = image_spec(p, false);  // in this order: the specs share `p`
  const t::EspImageSpec app = image_spec(p, true);
  t::EspFirmware f = t::build_esp_firmware(boot, app);
  // elf2bin refuses a bootloader over 4 KB; the specs above stay far below.
  if (f.boot.end > spore::kEspAppImageOffset) std::abort();
  if (allow_trailer && p.next(2) == 1) {
    t::append_signature_trailer(f.bytes, 4 * (1 + p.next(SPORE_OTA_MAX_SIGNATURE_BYTES / 4)));
  }
  if (walk_both(f.bytes, allow_trailer, seed).error != EspImageError::kOk) std::abort();
  if (!flip_segment_byte(f, p)) std::abort();
  if (walk_both(f.bytes, allow_trailer, seed).error == EspImageError::kOk) std::abort();
  const size_t image_end = f.app.end;
  std::vector<uint8_t> resealed(f.bytes.begin(), f.bytes.begin() + static_cast<std::ptrdiff_t>(image_end));
  t::esp_add_crc(resealed);
  if (walk_both(resealed, allow_trailer, seed).error != EspImageError::kBadChecksum) std::abort();
}

void check_raw(const uint8_t* data, size_t size, bool allow_trailer, uint32_t seed) {
  std::vector<uint8_t> bytes(data, data + size);
  if (walk_both(bytes, allow_trailer, seed).error != EspImageError::kOk) return;
  // Accepted: __crc_len says where the image ends; every byte before it is covered.
  const uint8_t* len = bytes.data() + spore::kEspCrcFieldOffset;
  const uint32_t end = uint32_t{len[0]} | uint32_t{len[1]} << 8 | uint32_t{len[2]} << 16 | uint32_t{len[3]} << 24;
  if (end > size) std::abort();
  const size_t at = (seed * 2654435761u + size) % end;
  bytes[at] ^= static_cast<uint8_t>(1u + seed % 255);
  if (walk_both(bytes, allow_trailer, seed).error == EspImageError::kOk) std::abort();
}

void write_seeds(const char* dir) {
  auto put = [dir](const char* name, uint8_t flags, const std::vector<uint8_t>& body) {
    char path[512];
    std::snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE* f = std::fopen(path, "wb");
    if (f == nullptr) std::abort();
    std::fputc(flags, f);
    std::fputc(5, f);
    std::fwrite(body.data(), 1, body.size(), f);
    std::fclose(f);
  };
  const t::EspFirmware small = t::build_esp_firmware(t::esp_bootloader_spec(), t::esp_app_spec(64, 40, 3));
  put("valid", 0, small.bytes);
  std::vector<uint8_t> signed_bytes = small.bytes;
  t::append_signature_trailer(signed_bytes, 256);
  put("signed", 1, signed_bytes);
  put("signed-no-trailer-allowed", 0, signed_bytes);
  put("truncated", 0, std::vector<uint8_t>(small.bytes.begin(), small.bytes.begin() + 0x1100));
  std::vector<uint8_t> bad_checksum = small.bytes;
  bad_checksum[small.app.checksum] ^= 1;
  put("bad-checksum", 0, bad_checksum);
  put("gzip", 0, {0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x01, 0x02});
  put("params", 1, t::esp_pattern(96, 11));
  std::exit(0);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("SPORE_ESP_IMAGE_FUZZ_WRITE_SEEDS")) write_seeds(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2 || size > 64 * 1024) return 0;
  const bool allow_trailer = (data[0] & 1) != 0;
  const uint32_t seed = data[1];
  check_raw(data + 2, size - 2, allow_trailer, seed);
  check_built(data + 2, size - 2, allow_trailer, seed);
  return 0;
}
