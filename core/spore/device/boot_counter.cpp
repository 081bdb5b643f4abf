#include "spore/device/boot_counter.h"

#include "spore/base/bytes.h"

namespace spore {

namespace {

// "SPB1" read as a little-endian word: what the first firmware stored with EEPROM.put.
constexpr uint32_t kLegacyMagic = 0x53504231;
// "SPBL" as a little-endian word: the log's sector header.
constexpr uint32_t kLogMagic = 0x4C425053;
// Bytes read from flash at a time (a multiple of the entry size, small enough for the loop stack).
constexpr uint32_t kScanChunkBytes = 64;
static_assert(kBootLogSectorBytes % kScanChunkBytes == 0 && kScanChunkBytes % kBootLogEntryBytes == 0, "");

bool pair_valid(const uint8_t* p, uint32_t* value) {
  const uint32_t v = load_le32(p);
  if (load_le32(p + 4) != ~v) return false;
  *value = v;
  return true;
}

bool all_erased(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != 0xFF) return false;
  }
  return true;
}

// The sector classified one chunk at a time, in order.
class SectorScan {
 public:
  void feed(uint32_t offset, const uint8_t* bytes, size_t n) {
    for (size_t i = 0; i < n; i += kBootLogEntryBytes, offset += kBootLogEntryBytes) {
      const uint8_t* slot = bytes + i;
      const bool erased = all_erased(slot, kBootLogEntryBytes);
      if (offset == 0) {
        uint32_t magic = 0;
        header_ok_ = pair_valid(slot, &magic) && magic == kLogMagic;
        blank_ = erased;
        continue;
      }
      blank_ = blank_ && erased;
      if (erased) continue;
      last_used_end_ = offset + kBootLogEntryBytes;
      uint32_t count = 0;
      // 0 and 0xFFFFFFFF are no counts: 1..kBootCountMax only.
      if (pair_valid(slot, &count) && count != 0 && count <= kBootCountMax && count > max_) max_ = count;
    }
  }

  BootLogSector result() const {
    BootLogSector s;
    if (blank_) {
      s.state = BootLogSector::State::kBlank;
      s.next_offset = kBootLogEntryBytes;
    } else if (header_ok_) {
      s.state = BootLogSector::State::kLog;
      s.max_count = max_;
      s.next_offset = last_used_end_;
    }
    return s;
  }

 private:
  bool header_ok_ = false;
  bool blank_ = true;
  uint32_t max_ = 0;
  uint32_t last_used_end_ = kBootLogEntryBytes;
};

void encode_pair(uint32_t value, uint8_t (&out)[kBootLogEntryBytes]) {
  store_le32(value, out);
  store_le32(~value, out + 4);
}

bool has_room(const BootLogSector& s) {
  return s.state != BootLogSector::State::kForeign && s.state != BootLogSector::State::kReadFailed &&
         s.next_offset < kBootLogSectorBytes;
}

}  // namespace

uint32_t legacy_boot_count(const uint8_t (&record)[kBootCounterBytes]) {
  if (load_le32(record) != kLegacyMagic) return 0;
  const uint32_t count = load_le32(record + 4);
  return count <= kBootCountMax ? count : 0;
}

BootLogSector scan_boot_log_bytes(const uint8_t* bytes, size_t size_bytes) {
  if (bytes == nullptr || size_bytes != kBootLogSectorBytes) return BootLogSector();
  SectorScan scan;
  scan.feed(0, bytes, size_bytes);
  return scan.result();
}

BootLogSector scan_boot_log_sector(BootLogFlash& flash, uint8_t sector) {
  SectorScan scan;
  alignas(4) uint8_t chunk[kScanChunkBytes];
  for (uint32_t offset = 0; offset < kBootLogSectorBytes; offset += kScanChunkBytes) {
    if (!flash.read(sector, offset, chunk, sizeof chunk)) {
      BootLogSector failed;
      failed.state = BootLogSector::State::kReadFailed;
      return failed;
    }
    scan.feed(offset, chunk, sizeof chunk);
  }
  return scan.result();
}

uint32_t read_boot_count(BootLogFlash& flash) {
  const BootLogSector a = scan_boot_log_sector(flash, 0);
  const BootLogSector b = scan_boot_log_sector(flash, 1);
  return a.max_count > b.max_count ? a.max_count : b.max_count;
}

BootCount next_boot_count(BootLogFlash& flash, uint32_t legacy_count) {
  BootLogSector s[2] = {scan_boot_log_sector(flash, 0), scan_boot_log_sector(flash, 1)};
  BootCount out;
  uint32_t last = s[0].max_count > s[1].max_count ? s[0].max_count : s[1].max_count;
  if (last == 0 && legacy_count != 0) {
    last = legacy_count;
    out.migrated = true;
  }
  uint8_t target = 0;
  const bool failed[2] = {s[0].state == BootLogSector::State::kReadFailed,
                          s[1].state == BootLogSector::State::kReadFailed};
  if (failed[0] || failed[1]) {
    // The unread sector may be the newer one, up to a full sector of counts ahead: count above
    // anything it can hold, and never erase (boot_counter.h). The count is saved only where it
    // needs no erase: the readable sector, when it has room.
    out.migrated = false;
    out.count = last < kBootCountMax - kBootLogEntriesPerSector ? last + kBootLogEntriesPerSector : kBootCountMax;
    target = failed[0] ? 1 : 0;
    if (failed[target] || !has_room(s[target])) return out;
  } else {
    out.count = last < kBootCountMax ? last + 1 : kBootCountMax;
    // The sector to append to: the one that holds the last count while it has room, else the other.
    target = s[1].max_count > s[0].max_count ? 1 : 0;
    if (s[target].max_count == 0 && !has_room(s[target]) && has_room(s[1 - target])) target = 1 - target;
    if (s[target].max_count != 0 && !has_room(s[target])) target = 1 - target;
  }
  BootLogSector& t = s[target];

  bool ok = true;
  if (t.state == BootLogSector::State::kForeign || !has_room(t)) {
    // Never the sector holding the last count: that one is full, the target is the other.
    ok = flash.erase(target);
    out.erased = true;
    t.state = BootLogSector::State::kBlank;
    t.next_offset = kBootLogEntryBytes;
  }
  alignas(4) uint8_t entry[kBootLogEntryBytes];
  if (ok && t.state == BootLogSector::State::kBlank) {
    encode_pair(kLogMagic, entry);
    ok = flash.program(target, 0, entry, sizeof entry);
  }
  if (ok) {
    encode_pair(out.count, entry);
    ok = flash.program(target, t.next_offset, entry, sizeof entry);
  }
  out.saved = ok;
  return out;
}

}  // namespace spore
