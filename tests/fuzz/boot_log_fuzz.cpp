// libFuzzer target for the boot counter's flash log reader and writer (core/spore/device/boot_counter.h).
//
// Input layout: byte 0 = flags, then the bytes of the two sectors: the first half of the rest
// from offset 0 of sector 0, the second half from offset 0 of sector 1. What the input does not
// cover is erased flash (0xFF), or, when flag bit 0 (sector 0) / bit 1 (sector 1) is set, a run
// of valid entries counting up from the input's last byte, so full sectors are reached too.
//
// Properties checked on every input, abort() on violation:
// - the reader gives 0 ("empty") or a count that is a valid entry of a sector with a valid header,
//   and never a value lower than any such entry (a reference scan written here, slot by slot);
// - scanning through the flash port in pieces gives what scanning the whole sector gives;
// - next_boot_count() on that flash (NOR: a program can only clear bits) saves a count above the
//   one read (or kBootCountMax when already there), reads it back, and the boot after it counts
//   one more, with at most one erase each.
//
// Seed corpus: tests/fuzz/corpus/boot_log/.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "spore/device/boot_counter.h"

namespace {

using spore::BootLogFlash;
using spore::kBootLogEntryBytes;
using spore::kBootLogSectorBytes;

uint32_t le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

void put_le32(uint32_t v, uint8_t* p) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

class MemoryFlash final : public BootLogFlash {
 public:
  uint8_t bytes[2][kBootLogSectorBytes];
  int erases = 0;

  bool read(uint8_t sector, uint32_t offset, uint8_t* out, size_t n) override {
    check(sector, offset, n);
    std::memcpy(out, bytes[sector] + offset, n);
    return true;
  }
  bool program(uint8_t sector, uint32_t offset, const uint8_t* data, size_t n) override {
    check(sector, offset, n);
    for (size_t i = 0; i < n; ++i) bytes[sector][offset + i] &= data[i];
    return true;
  }
  bool erase(uint8_t sector) override {
    if (sector > 1) std::abort();
    std::memset(bytes[sector], 0xFF, kBootLogSectorBytes);
    ++erases;
    return true;
  }

 private:
  static void check(uint8_t sector, uint32_t offset, size_t n) {
    if (sector > 1 || offset % 4 != 0 || n % 4 != 0 || offset + n > kBootLogSectorBytes) std::abort();
  }
};

// The reader's contract restated slot by slot: the largest valid entry under a valid header.
uint32_t reference_max(const uint8_t* s) {
  if (le32(s) != 0x4C425053 || le32(s + 4) != ~0x4C425053u) return 0;
  uint32_t best = 0;
  for (uint32_t off = kBootLogEntryBytes; off < kBootLogSectorBytes; off += kBootLogEntryBytes) {
    const uint32_t v = le32(s + off);
    if (le32(s + off + 4) == ~v && v >= 1 && v <= spore::kBootCountMax && v > best) best = v;
  }
  return best;
}

bool is_entry_of(const uint8_t* s, uint32_t count) {
  if (reference_max(s) == 0 && count != 0) return false;
  for (uint32_t off = kBootLogEntryBytes; off < kBootLogSectorBytes; off += kBootLogEntryBytes) {
    if (le32(s + off) == count && le32(s + off + 4) == ~count) return true;
  }
  return false;
}

void fill(uint8_t* sector, const uint8_t* data, size_t n, bool entries_after) {
  std::memset(sector, 0xFF, kBootLogSectorBytes);
  if (n > kBootLogSectorBytes) n = kBootLogSectorBytes;
  if (n > 0) std::memcpy(sector, data, n);
  if (!entries_after) return;
  uint32_t count = n > 0 ? data[n - 1] : 1;
  for (size_t off = (n + kBootLogEntryBytes - 1) / kBootLogEntryBytes * kBootLogEntryBytes; off < kBootLogSectorBytes;
       off += kBootLogEntryBytes, ++count) {
    put_le32(count, sector + off);
    put_le32(~count, sector + off + 4);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  ++data;
  --size;
  MemoryFlash flash;
  const size_t half = size / 2;
  fill(flash.bytes[0], data, half, (flags & 1) != 0);
  fill(flash.bytes[1], data + half, size - half, (flags & 2) != 0);

  const uint32_t expected = reference_max(flash.bytes[0]) > reference_max(flash.bytes[1])
                                ? reference_max(flash.bytes[0])
                                : reference_max(flash.bytes[1]);
  const uint32_t read = spore::read_boot_count(flash);
  if (read != expected) std::abort();
  if (read != 0 && !is_entry_of(flash.bytes[0], read) && !is_entry_of(flash.bytes[1], read)) std::abort();
  for (uint8_t s = 0; s < 2; ++s) {
    const spore::BootLogSector whole = spore::scan_boot_log_bytes(flash.bytes[s], kBootLogSectorBytes);
    const spore::BootLogSector pieces = spore::scan_boot_log_sector(flash, s);
    if (whole.state != pieces.state || whole.max_count != pieces.max_count || whole.next_offset != pieces.next_offset) {
      std::abort();
    }
  }

  const uint32_t legacy = (flags & 4) != 0 ? 1000 : 0;
  const uint32_t base = read != 0 ? read : legacy;
  const uint32_t want = base < spore::kBootCountMax ? base + 1 : spore::kBootCountMax;
  for (int boot = 0; boot < 2; ++boot) {
    const int erases_before = flash.erases;
    const spore::BootCount c = spore::next_boot_count(flash, legacy);
    const uint32_t expect = boot == 0 ? want : (want < spore::kBootCountMax ? want + 1 : want);
    if (!c.saved || c.count != expect || spore::read_boot_count(flash) != c.count) std::abort();
    if (flash.erases - erases_before > 1) std::abort();
  }
  return 0;
}
