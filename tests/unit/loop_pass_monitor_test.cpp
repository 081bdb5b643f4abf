// LoopPassMonitor: pass timing, long-pass counting and the one-warning-per-interval rule, with
// the caller's clock (including the 32-bit millis() wrap).

#include "spore/node/loop_pass_monitor.h"

#include <gtest/gtest.h>

#include "fakes.h"

namespace spore {
namespace {

using testing::CapturingLog;

TEST(LoopPassMonitorTest, MeasuresPasses) {
  LoopPassMonitor m;
  m.begin(1000);
  EXPECT_EQ(m.tick(1010), 10u);
  EXPECT_EQ(m.tick(1110), 100u);
  EXPECT_EQ(m.tick(1115), 5u);
  EXPECT_EQ(m.stats().passes, 3u);
  EXPECT_EQ(m.stats().max_pass_ms, 100u);
  EXPECT_EQ(m.stats().long_passes, 0u);
}

TEST(LoopPassMonitorTest, FirstTickWithoutBeginOnlyStarts) {
  LoopPassMonitor m;
  EXPECT_EQ(m.tick(5000), 0u);
  EXPECT_EQ(m.stats().passes, 0u);
  EXPECT_EQ(m.tick(5020), 20u);
  EXPECT_EQ(m.stats().passes, 1u);
}

TEST(LoopPassMonitorTest, LongPassIsCountedAndWarnedOnce) {
  CapturingLog log;
  LoopPassMonitor m(&log, 500, 10000);
  m.begin(0);
  m.tick(500);  // exactly warn_ms: not long
  EXPECT_EQ(m.stats().long_passes, 0u);
  EXPECT_TRUE(log.lines.empty());
  m.tick(1201);  // 701 ms
  EXPECT_EQ(m.stats().long_passes, 1u);
  ASSERT_EQ(log.lines.size(), 1u);
  EXPECT_EQ(log.levels[0], LogLevel::kWarn);
  EXPECT_EQ(log.lines[0], "long loop: 701 ms (1 passes over 500 ms since last warning)");
}

TEST(LoopPassMonitorTest, AtMostOneWarningPerIntervalWithWorstAndCountSinceTheLast) {
  CapturingLog log;
  LoopPassMonitor m(&log, 500, 10000);
  m.begin(0);
  m.tick(600);  // warned at 600
  ASSERT_EQ(log.lines.size(), 1u);
  m.tick(1400);   // 800
  m.tick(3400);   // 2000 (worst)
  m.tick(4000);   // 600
  m.tick(4010);   // short
  EXPECT_EQ(log.lines.size(), 1u);
  m.tick(10599);  // 6589 ms long, 9999 ms after the warning: still quiet
  EXPECT_EQ(log.lines.size(), 1u);
  m.tick(11200);  // 601 ms, 10600 ms after the warning
  ASSERT_EQ(log.lines.size(), 2u);
  EXPECT_EQ(log.lines[1], "long loop: 6589 ms (5 passes over 500 ms since last warning)");
  EXPECT_EQ(m.stats().long_passes, 6u);
  EXPECT_EQ(m.stats().max_pass_ms, 6589u);
  // The next warning counts from zero again.
  m.tick(22000);
  ASSERT_EQ(log.lines.size(), 3u);
  EXPECT_EQ(log.lines[2], "long loop: 10800 ms (1 passes over 500 ms since last warning)");
}

TEST(LoopPassMonitorTest, WithoutALogItStillCounts) {
  LoopPassMonitor m(nullptr, 100);
  m.begin(0);
  m.tick(150);
  m.tick(400);
  EXPECT_EQ(m.stats().long_passes, 2u);
}

TEST(LoopPassMonitorTest, AcrossTheMillisWrap) {
  CapturingLog log;
  LoopPassMonitor m(&log, 500, 10000);
  m.begin(0xFFFFFF00u);
  EXPECT_EQ(m.tick(0x00000010u), 0x110u);  // 272 ms across the wrap: short
  EXPECT_EQ(m.stats().long_passes, 0u);
  m.begin(0xFFFFFE00u);
  EXPECT_EQ(m.tick(0x00000300u), 0x500u);  // 1280 ms across the wrap: long
  ASSERT_EQ(log.lines.size(), 1u);
  // The warning interval is measured across the wrap too: 0x300 + 9999 is still quiet.
  m.begin(0x00000300u);
  m.tick(0x00000300u + 9999u);
  EXPECT_EQ(log.lines.size(), 1u);
  LoopPassMonitor w(&log, 500, 10000);
  w.begin(0xFFFFF000u);
  w.tick(0xFFFFF300u);  // warns at 0xFFFFF300
  ASSERT_EQ(log.lines.size(), 2u);
  w.tick(0x00001000u);  // 7424 ms later: quiet
  EXPECT_EQ(log.lines.size(), 2u);
  w.tick(0x00001A10u);  // 10000 ms after the warning: warns
  EXPECT_EQ(log.lines.size(), 3u);
}

}  // namespace
}  // namespace spore
