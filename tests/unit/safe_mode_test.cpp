// SafeMode: the boot-loop decision (core/spore/device/safe_mode.h) against a fake RTC store that keeps
// its words across simulated boots. Each "boot" is a fresh SafeMode on the same store, as a reset
// makes one.

#include "spore/device/safe_mode.h"

#include <gtest/gtest.h>

namespace spore {
namespace {

class FakeRtc : public SafeModeStore {
 public:
  bool load(uint32_t (&words)[kWords]) override {
    ++loads;
    if (!readable) return false;
    for (size_t i = 0; i < kWords; ++i) words[i] = mem[i];
    return true;
  }
  bool save(const uint32_t (&words)[kWords]) override {
    ++saves;
    for (size_t i = 0; i < kWords; ++i) mem[i] = words[i];
    return true;
  }
  uint32_t mem[kWords] = {0xDEADBEEF, 0x12345678, 0x0BADF00D};  // what RTC memory holds at power-up
  bool readable = true;
  int loads = 0;
  int saves = 0;
};

SafeModeConfig config() {
  SafeModeConfig c;
  c.boot_attempts = 3;
  c.stable_after_ms = 60000;
  c.timeout_ms = 300000;
  return c;
}

/// One boot that dies after `up_ms` (before any poll that would see it stable when up_ms is
/// short). Returns whether it was safe mode.
bool boot_and_die(FakeRtc& rtc, uint32_t up_ms = 5000, bool power_on = false) {
  SafeMode m(rtc, config());
  const bool safe = m.begin(1000, power_on);
  EXPECT_EQ(m.poll(1000 + up_ms, false), up_ms >= 60000 && !safe ? SafeModeEvent::kBootStable : SafeModeEvent::kNone);
  return safe;
}

TEST(SafeModeTest, BlankOrGarbageStoreIsZeroFailedBoots) {
  FakeRtc rtc;
  SafeMode m(rtc, config());
  EXPECT_FALSE(m.begin(0, false));
  EXPECT_EQ(m.failed_boots(), 0);
  rtc.readable = false;
  SafeMode m2(rtc, config());
  EXPECT_FALSE(m2.begin(0, false));
  EXPECT_EQ(m2.failed_boots(), 0);
}

TEST(SafeModeTest, ConsecutiveEarlyDeathsEnterSafeModeOnTheNextBoot) {
  FakeRtc rtc;
  EXPECT_FALSE(boot_and_die(rtc));  // counted: 1
  EXPECT_FALSE(boot_and_die(rtc));  // 2
  EXPECT_FALSE(boot_and_die(rtc));  // 3 = boot_attempts
  SafeMode m(rtc, config());
  EXPECT_TRUE(m.begin(0, false));
  EXPECT_TRUE(m.active());
  EXPECT_EQ(m.failed_boots(), 3);
}

TEST(SafeModeTest, SafeModeStartsTheCountOverSoANormalBootFollowsItsTimeout) {
  FakeRtc rtc;
  for (int i = 0; i < 3; ++i) boot_and_die(rtc);
  EXPECT_TRUE(boot_and_die(rtc));  // safe mode, dies (or restarts) early too
  // The next boot is normal again: the normal image gets boot_attempts more tries.
  EXPECT_FALSE(boot_and_die(rtc));
  EXPECT_FALSE(boot_and_die(rtc));
  EXPECT_FALSE(boot_and_die(rtc));
  EXPECT_TRUE(boot_and_die(rtc));
}

TEST(SafeModeTest, AStableBootClearsTheCount) {
  FakeRtc rtc;
  boot_and_die(rtc);
  boot_and_die(rtc);
  {
    SafeMode m(rtc, config());
    EXPECT_FALSE(m.begin(1000, false));
    EXPECT_EQ(m.failed_boots(), 2);
    EXPECT_EQ(m.poll(1000 + 59999, false), SafeModeEvent::kNone);
    EXPECT_EQ(m.poll(1000 + 60000, false), SafeModeEvent::kBootStable);
    EXPECT_EQ(m.poll(1000 + 90000, false), SafeModeEvent::kNone) << "once per boot";
  }  // then dies late: not an early death
  EXPECT_FALSE(boot_and_die(rtc));
  EXPECT_FALSE(boot_and_die(rtc));
  SafeMode m(rtc, config());
  EXPECT_FALSE(m.begin(0, false));
  EXPECT_EQ(m.failed_boots(), 2);
}

TEST(SafeModeTest, AnIntentionalRestartIsNotADeath) {
  FakeRtc rtc;
  for (int i = 0; i < 10; ++i) {
    SafeMode m(rtc, config());
    EXPECT_FALSE(m.begin(0, false)) << i;
    m.clear();  // REST restart, or restart into a new image after a successful OTA
  }
}

TEST(SafeModeTest, PowerOnStartsTheCountOver) {
  FakeRtc rtc;
  boot_and_die(rtc);
  boot_and_die(rtc);
  boot_and_die(rtc);
  // A power cut: RTC memory is undefined, even if it still looks valid.
  SafeMode m(rtc, config());
  EXPECT_FALSE(m.begin(0, true));
  EXPECT_EQ(m.failed_boots(), 0);
  EXPECT_EQ(rtc.loads, 3) << "a power-on boot does not trust the store";
}

TEST(SafeModeTest, TornOrForeignRecordCountsAsZero) {
  FakeRtc rtc;
  for (int i = 0; i < 3; ++i) boot_and_die(rtc);
  rtc.mem[2] ^= 1;  // check word no longer matches
  EXPECT_FALSE(boot_and_die(rtc));
  for (int i = 0; i < 2; ++i) boot_and_die(rtc);
  rtc.mem[0] = 0x5AFE5AFE;  // someone else's magic (ESPHome's) in the same words
  EXPECT_FALSE(boot_and_die(rtc));
}

TEST(SafeModeTest, TimeoutOnlyInSafeModeAndNeverDuringAnUpdate) {
  FakeRtc rtc;
  for (int i = 0; i < 3; ++i) boot_and_die(rtc);
  SafeMode m(rtc, config());
  ASSERT_TRUE(m.begin(0xFFFF0000u, false));  // the clock wraps during safe mode
  EXPECT_EQ(m.poll(0xFFFF0000u + 60000, false), SafeModeEvent::kNone) << "safe mode never reports stable";
  EXPECT_EQ(m.poll(0xFFFF0000u + 299999, false), SafeModeEvent::kNone);
  EXPECT_EQ(m.poll(0xFFFF0000u + 300000, true), SafeModeEvent::kNone) << "an upload is running";
  EXPECT_EQ(m.poll(0xFFFF0000u + 340000, false), SafeModeEvent::kTimeout);
  EXPECT_EQ(m.poll(0xFFFF0000u + 350000, false), SafeModeEvent::kNone) << "once";

  SafeMode normal(rtc, config());
  ASSERT_FALSE(normal.begin(0, false));
  EXPECT_EQ(normal.poll(300000, false), SafeModeEvent::kBootStable);
  EXPECT_EQ(normal.poll(400000, false), SafeModeEvent::kNone) << "a normal boot never times out";
}

TEST(SafeModeTest, ZeroAttemptsTurnsSafeModeOff) {
  FakeRtc rtc;
  SafeModeConfig c = config();
  c.boot_attempts = 0;
  for (int i = 0; i < 20; ++i) {
    SafeMode m(rtc, c);
    EXPECT_FALSE(m.begin(0, false));
  }
}

TEST(SafeModeTest, NothingBeforeBegin) {
  FakeRtc rtc;
  SafeMode m(rtc, config());
  EXPECT_EQ(m.poll(1000000, false), SafeModeEvent::kNone);
  m.clear();
  EXPECT_EQ(rtc.saves, 0);
  EXPECT_FALSE(m.active());
}

}  // namespace
}  // namespace spore
