// The boot counter's append-only flash log (core/spore/device/boot_counter.h) against a fake NOR flash
// that can lose power in the middle of any program or erase.

#include "spore/device/boot_counter.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "spore/base/incarnation.h"

namespace spore {
namespace {

// Two sectors of NOR flash: program() only clears bits, erase() sets a sector to 0xFF. After
// cut_at(k) the k-th program or erase (0-based, counted from then) is done only partly (a random
// subset of its bit changes, as a power cut leaves it) and every later call fails: the board is off.
class FakeNorFlash final : public BootLogFlash {
 public:
  FakeNorFlash() { std::memset(bytes_, 0xFF, sizeof bytes_); }

  bool read(uint8_t sector, uint32_t offset, uint8_t* out, size_t size_bytes) override {
    if (!valid(sector, offset, size_bytes) || off_ || sector == unreadable_) return false;
    ++reads_;
    std::memcpy(out, bytes_[sector] + offset, size_bytes);
    return true;
  }
  bool program(uint8_t sector, uint32_t offset, const uint8_t* data, size_t size_bytes) override {
    if (!valid(sector, offset, size_bytes) || off_) return false;
    const bool cut = power_fails_now();
    for (size_t i = 0; i < size_bytes; ++i) {
      uint8_t clear = static_cast<uint8_t>(~data[i]);  // the bits this program clears
      if (cut) clear &= static_cast<uint8_t>(rng_());
      bytes_[sector][offset + i] &= static_cast<uint8_t>(~clear);
    }
    ++programs_;
    return !cut;
  }
  bool erase(uint8_t sector) override {
    if (sector > 1 || off_) return false;
    const bool cut = power_fails_now();
    for (uint8_t& b : bytes_[sector]) b = static_cast<uint8_t>(b | (cut ? rng_() : 0xFFu));
    ++erases_;
    return !cut;
  }

  void cut_at(int k, uint32_t seed) {
    cut_countdown_ = k;
    rng_.seed(seed);
  }
  void power_on() {
    off_ = false;
    cut_countdown_ = -1;
  }
  /// Every read of `s` fails from now on (2: none).
  void fail_reads_of(uint8_t s) { unreadable_ = s; }
  uint8_t* sector(uint8_t s) { return bytes_[s]; }
  int programs() const { return programs_; }
  int erases() const { return erases_; }
  int reads() const { return reads_; }

 private:
  static bool valid(uint8_t sector, uint32_t offset, size_t n) {
    return sector <= 1 && offset % 4 == 0 && n % 4 == 0 && offset + n <= kBootLogSectorBytes;
  }
  bool power_fails_now() {
    if (cut_countdown_ < 0) return false;
    if (cut_countdown_-- > 0) return false;
    off_ = true;
    return true;
  }

  uint8_t bytes_[2][kBootLogSectorBytes];
  int cut_countdown_ = -1;
  uint8_t unreadable_ = 2;
  bool off_ = false;
  std::mt19937 rng_;
  int programs_ = 0;
  int erases_ = 0;
  int reads_ = 0;
};

// Flash operations (programs + erases) the next clean boot would make, counted on a copy.
int ops_of_next_boot(const FakeNorFlash& flash) {
  FakeNorFlash copy = flash;
  const int before = copy.programs() + copy.erases();
  next_boot_count(copy, 0);
  return copy.programs() + copy.erases() - before;
}

TEST(BootCounter, ErasedFlashStartsAtOneAndCounts) {
  FakeNorFlash flash;
  EXPECT_EQ(read_boot_count(flash), 0u);
  for (uint32_t i = 1; i <= 3; ++i) {
    const BootCount c = next_boot_count(flash, 0);
    EXPECT_EQ(c.count, i);
    EXPECT_TRUE(c.saved);
    EXPECT_FALSE(c.erased);  // blank sectors are started without an erase
  }
  EXPECT_EQ(read_boot_count(flash), 3u);
  EXPECT_EQ(flash.erases(), 0);
}

TEST(BootCounter, ABootProgramsOneEntryAndErasesNothing) {
  FakeNorFlash flash;
  next_boot_count(flash, 0);  // header + entry
  const int programs = flash.programs();
  next_boot_count(flash, 0);
  EXPECT_EQ(flash.programs(), programs + 1);
  EXPECT_EQ(flash.erases(), 0);
}

TEST(BootCounter, ContinuesFromTheEepromFirmwaresCounterOnce) {
  // EEPROM.put(0, 0x53504231u); EEPROM.put(4, 41u) on the little-endian ESP8266.
  const uint8_t record[kBootCounterBytes] = {0x31, 0x42, 0x50, 0x53, 41, 0, 0, 0};
  EXPECT_EQ(legacy_boot_count(record), 41u);
  FakeNorFlash flash;
  const BootCount first = next_boot_count(flash, legacy_boot_count(record));
  EXPECT_EQ(first.count, 42u);
  EXPECT_TRUE(first.migrated);
  // Later boots read the log only: a legacy value (say, 1000 from a stale EEPROM) is ignored.
  const BootCount second = next_boot_count(flash, 1000);
  EXPECT_EQ(second.count, 43u);
  EXPECT_FALSE(second.migrated);
}

TEST(BootCounter, ForeignOrErasedEepromBytesAreNoCounter) {
  const uint8_t foreign[kBootCounterBytes] = {0x31, 0x42, 0x50, 0x54, 41, 0, 0, 0};
  uint8_t erased[kBootCounterBytes];
  std::memset(erased, 0xFF, sizeof erased);
  EXPECT_EQ(legacy_boot_count(foreign), 0u);
  EXPECT_EQ(legacy_boot_count(erased), 0u);
}

TEST(BootCounter, StopsAtTheLargestCountInsteadOfWrapping) {
  FakeNorFlash flash;
  EXPECT_EQ(next_boot_count(flash, kBootCountMax - 1).count, kBootCountMax);
  EXPECT_EQ(next_boot_count(flash, 0).count, kBootCountMax);
  EXPECT_EQ(read_boot_count(flash), kBootCountMax);
}

// Issue 18, finding 2, on the ESP8266's path (Node::next_incarnation): the log counts on past
// 65,535, and the incarnation made from it (incarnation.h) stays newer than the boot before,
// refutations included, across the 16-bit wrap.
TEST(BootCounter, BootsPastTheOld16BitLimitGiveNewerIncarnations) {
  FakeNorFlash flash;
  uint32_t before = incarnation_for_boot(next_boot_count(flash, 0xFFFE).count);
  EXPECT_EQ(before, 0xFFFF0000u);
  for (uint32_t boot = 0x10000; boot < 0x10003; ++boot) {
    const BootCount c = next_boot_count(flash, 0);
    EXPECT_EQ(c.count, boot);
    const uint32_t now = incarnation_for_boot(c.count);
    EXPECT_TRUE(incarnation_newer(now, before + 0xFFFF)) << boot;
    before = now;
  }
}

TEST(BootCounter, AForeignSectorIsErasedBeforeUse) {
  FakeNorFlash flash;
  std::memset(flash.sector(0), 0x5A, kBootLogSectorBytes);  // say, an old LittleFS block
  std::memset(flash.sector(1), 0x00, kBootLogSectorBytes);
  const BootCount c = next_boot_count(flash, 0);
  EXPECT_EQ(c.count, 1u);
  EXPECT_TRUE(c.erased);
  EXPECT_TRUE(c.saved);
  EXPECT_EQ(next_boot_count(flash, 0).count, 2u);
  EXPECT_EQ(flash.erases(), 1);
}

TEST(BootCounter, OneEraseEverySectorFullOfBoots) {
  FakeNorFlash flash;
  const uint32_t boots = 10 * kBootLogEntriesPerSector + 7;
  for (uint32_t i = 1; i <= boots; ++i) ASSERT_EQ(next_boot_count(flash, 0).count, i);
  // The first two sectors start blank; every later sector change erases once.
  EXPECT_EQ(flash.erases(), static_cast<int>(boots / kBootLogEntriesPerSector) - 1);
  EXPECT_EQ(read_boot_count(flash), boots);
}

// The old EEPROM counter's defect: a power cut between the sector erase and the write restarted
// the count at 1. Here the erase only ever hits the sector without the last count.
TEST(BootCounter, APowerCutRightAfterAnEraseKeepsTheCount) {
  FakeNorFlash flash;
  for (uint32_t i = 0; i < 2 * kBootLogEntriesPerSector; ++i) next_boot_count(flash, 0);
  const uint32_t last = read_boot_count(flash);
  ASSERT_EQ(ops_of_next_boot(flash), 3);  // erase, header, entry
  flash.cut_at(1, 7);                     // the erase completes, the header program is cut
  next_boot_count(flash, 0);
  flash.power_on();
  EXPECT_EQ(flash.erases(), 1);
  EXPECT_EQ(read_boot_count(flash), last);
  EXPECT_EQ(next_boot_count(flash, 0).count, last + 1);
}

// Every boot of a long run loses power once at one of its steps (each step in turn, random bits of
// the cut program or erase done), then boots cleanly. The count a completed boot returns always
// exceeds the previous completed boot's: never backwards, never 1 again.
TEST(BootCounter, APowerCutAtAnyStepNeverLowersTheCount) {
  FakeNorFlash flash;
  uint32_t last = 0;
  int cuts = 0;
  const uint32_t boots = 3 * kBootLogEntriesPerSector + 20;
  for (uint32_t boot = 0; boot < boots; ++boot) {
    const int ops = ops_of_next_boot(flash);
    for (int k = 0; k < ops; ++k) {
      // Every step of this boot, each on a copy; then one of them for real.
      FakeNorFlash copy = flash;
      copy.cut_at(k, boot * 31 + static_cast<uint32_t>(k));
      next_boot_count(copy, 0);
      copy.power_on();
      const uint32_t after_cut = next_boot_count(copy, 0).count;
      ASSERT_GT(after_cut, last) << "boot " << boot << " cut at step " << k;
      ++cuts;
    }
    flash.cut_at(static_cast<int>(boot % static_cast<uint32_t>(ops)), boot);
    next_boot_count(flash, 0);
    flash.power_on();
    const BootCount c = next_boot_count(flash, 0);
    ASSERT_TRUE(c.saved);
    ASSERT_GT(c.count, last) << "boot " << boot;
    ASSERT_EQ(read_boot_count(flash), c.count);
    last = c.count;
  }
  EXPECT_GT(cuts, static_cast<int>(boots));        // the boots that change sector have 3 steps
  EXPECT_GE(last, boots);                           // a cut entry is retried, never counted twice lower
}

TEST(BootCounter, AFlashThatRefusesStillGivesACount) {
  FakeNorFlash flash;
  next_boot_count(flash, 0);
  flash.cut_at(0, 1);  // the next program fails (and the flash stays off)
  const BootCount c = next_boot_count(flash, 0);
  EXPECT_EQ(c.count, 2u);
  EXPECT_FALSE(c.saved);
}

// Review finding 4: a read error made the sector "foreign"; when it held the last count and the
// other sector was full, the boot erased it and the count went back a whole sector.
TEST(BootCounter, ASectorThatFailsToReadIsNeverErasedAndTheCountDoesNotGoBack) {
  FakeNorFlash flash;
  const uint32_t last = kBootLogEntriesPerSector + 9;  // sector 0 full, sector 1 holds the last 9
  for (uint32_t i = 0; i < last; ++i) next_boot_count(flash, 0);
  ASSERT_EQ(read_boot_count(flash), last);
  uint8_t before[kBootLogSectorBytes];
  std::memcpy(before, flash.sector(1), sizeof before);
  flash.fail_reads_of(1);
  EXPECT_EQ(scan_boot_log_sector(flash, 1).state, BootLogSector::State::kReadFailed);
  const BootCount c = next_boot_count(flash, 0);
  EXPECT_GT(c.count, last);
  EXPECT_FALSE(c.saved);  // sector 0 is full: saving would need an erase
  EXPECT_FALSE(c.erased);
  EXPECT_EQ(flash.erases(), 0);
  EXPECT_EQ(std::memcmp(before, flash.sector(1), sizeof before), 0);
  // The read works again: the log is as it was.
  flash.fail_reads_of(2);
  EXPECT_EQ(next_boot_count(flash, 0).count, last + 1);
}

// With room in the readable sector the raised count is saved there, so later boots keep above it.
TEST(BootCounter, ARaisedCountIsSavedWhereNoEraseIsNeeded) {
  FakeNorFlash flash;
  for (int i = 0; i < 5; ++i) next_boot_count(flash, 0);  // sector 0: 1..5, sector 1 blank
  flash.fail_reads_of(1);
  const BootCount c = next_boot_count(flash, 0);
  EXPECT_EQ(c.count, 5 + kBootLogEntriesPerSector);
  EXPECT_TRUE(c.saved);
  EXPECT_FALSE(c.erased);
  flash.fail_reads_of(2);
  EXPECT_EQ(next_boot_count(flash, 0).count, c.count + 1);
  EXPECT_EQ(flash.erases(), 0);
}

TEST(BootCounter, ScanSkipsTornEntriesAndAppendsAfterThem) {
  FakeNorFlash flash;
  next_boot_count(flash, 0);
  next_boot_count(flash, 0);
  // A torn third entry: some of its zero bits never made it.
  uint8_t* slot = flash.sector(0) + 3 * kBootLogEntryBytes;
  slot[0] = 0xF3;  // 3 with bits 4..7 still set
  const BootLogSector s = scan_boot_log_bytes(flash.sector(0), kBootLogSectorBytes);
  EXPECT_EQ(s.state, BootLogSector::State::kLog);
  EXPECT_EQ(s.max_count, 2u);
  EXPECT_EQ(s.next_offset, 4 * kBootLogEntryBytes);
  EXPECT_EQ(next_boot_count(flash, 0).count, 3u);
  EXPECT_EQ(read_boot_count(flash), 3u);
}

TEST(BootCounter, ReadsInSmallPieces) {
  FakeNorFlash flash;
  read_boot_count(flash);
  EXPECT_GE(flash.reads(), 2 * 64);  // 4 KB per sector in pieces of at most 64 bytes
}

}  // namespace
}  // namespace spore
