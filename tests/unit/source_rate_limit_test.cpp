// SourceRateLimit: datagrams per source address per second, with a bounded table.

#include "spore/wire/source_rate_limit.h"

#include <gtest/gtest.h>

namespace spore {
namespace {

TEST(SourceRateLimit, AllowsTheLimitPerSecondThenRefusesUntilTheNextWindow) {
  SourceRateLimit limit(5);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limit.allow(0x0A000002, 1000)) << i;
  EXPECT_FALSE(limit.allow(0x0A000002, 1000));
  EXPECT_FALSE(limit.allow(0x0A000002, 1999));
  EXPECT_TRUE(limit.allow(0x0A000003, 1999));  // another source has its own budget
  EXPECT_TRUE(limit.allow(0x0A000002, 2000));  // a new second
}

TEST(SourceRateLimit, ZeroMeansUnlimited) {
  SourceRateLimit limit(0);
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(limit.allow(1, 0));
}

TEST(SourceRateLimit, WindowsSurviveTheClockWrap) {
  SourceRateLimit limit(2);
  EXPECT_TRUE(limit.allow(7, 0xFFFFFF00u));
  EXPECT_TRUE(limit.allow(7, 0xFFFFFF10u));
  EXPECT_FALSE(limit.allow(7, 0x00000010u));  // 272 ms later, across the wrap
  EXPECT_TRUE(limit.allow(7, 0x00000300u));   // 1 s after the window started
}

TEST(SourceRateLimit, AFullTableNeverRefusesANewSourceAndKeepsTheBusyOnes) {
  SourceRateLimit limit(3);
  // A flooding source, limited.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(limit.allow(1, 100));
  EXPECT_FALSE(limit.allow(1, 100));
  // More quiet sources than the table holds, each seen once, later than the flood's window.
  for (uint32_t ip = 1000; ip < 1000 + SPORE_RATE_LIMIT_SOURCES * 2; ++ip) EXPECT_TRUE(limit.allow(ip, 500));
  // The flood's entry was the oldest and was reused: its count started again (looser, never
  // stricter than the limit).
  EXPECT_TRUE(limit.allow(1, 600));
}

}  // namespace
}  // namespace spore
