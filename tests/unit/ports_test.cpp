// The inline helpers of ports.h every platform relies on: the wrap-safe elapsed time and deadline,
// and the log level filter.

#include "spore/base/ports.h"

#include <gtest/gtest.h>

namespace spore {
namespace {

TEST(PortsTest, ElapsedAcrossTheWrap) {
  EXPECT_EQ(elapsed_ms(1500, 1000), 500u);
  EXPECT_EQ(elapsed_ms(0x10, 0xFFFFFFF0u), 0x20u);
  EXPECT_EQ(elapsed_ms(7, 7), 0u);
}

TEST(PortsTest, DeadlineReachedAcrossTheWrap) {
  EXPECT_TRUE(deadline_reached(1000, 1000));
  EXPECT_TRUE(deadline_reached(1001, 1000));
  EXPECT_FALSE(deadline_reached(999, 1000));
  EXPECT_TRUE(deadline_reached(0x10, 0xFFFFFFF0u));   // after the wrap: 0x20 ms past
  EXPECT_FALSE(deadline_reached(0xFFFFFFF0u, 0x10));  // before it: 0x20 ms to go
}

TEST(PortsTest, LogLevelFilter) {
  EXPECT_TRUE(log_level_enabled(LogLevel::kError, LogLevel::kError));
  EXPECT_FALSE(log_level_enabled(LogLevel::kWarn, LogLevel::kError));
  EXPECT_TRUE(log_level_enabled(LogLevel::kInfo, LogLevel::kInfo));
  EXPECT_FALSE(log_level_enabled(LogLevel::kDebug, LogLevel::kInfo));
  EXPECT_TRUE(log_level_enabled(LogLevel::kError, LogLevel::kDebug));
}

}  // namespace
}  // namespace spore
