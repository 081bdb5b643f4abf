// DatagramLimiter: a budget per member slot for verified datagrams and one shared budget for the
// rest, in one-second windows.

#include "spore/cluster/datagram_limiter.h"

#include <gtest/gtest.h>

namespace spore {
namespace {

TEST(DatagramLimiter, TheSharedBudgetRefusesPastItsLimitUntilTheNextSecond) {
  DatagramLimiter l(10, 5);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(l.take_unverified(5000));
  EXPECT_FALSE(l.take_unverified(5000));
  EXPECT_FALSE(l.take_unverified(5999));
  EXPECT_TRUE(l.take_unverified(6000));
}

TEST(DatagramLimiter, UnverifiedTrafficNeverUsesUpAMembersBudget) {
  DatagramLimiter l(3, 2);
  for (int i = 0; i < 100; ++i) l.take_unverified(0);
  EXPECT_FALSE(l.member_exhausted(7, 0));
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(l.member_exhausted(7, 0));
    l.count_member(7);
  }
  EXPECT_TRUE(l.member_exhausted(7, 0));
  EXPECT_FALSE(l.member_exhausted(8, 0));  // each slot its own
  EXPECT_FALSE(l.member_exhausted(7, 1000));
}

TEST(DatagramLimiter, ZeroIsUnlimitedAndWindowsSurviveTheClockWrap) {
  DatagramLimiter open(0, 0);
  for (int i = 0; i < 70000; ++i) {
    ASSERT_TRUE(open.take_unverified(5));
    ASSERT_FALSE(open.member_exhausted(0, 5));
    open.count_member(0);
  }
  open.count_member(SPORE_MAX_MEMBERS);  // out of range: ignored
  EXPECT_FALSE(open.member_exhausted(SPORE_MAX_MEMBERS, 5));
  DatagramLimiter l(1, 1);
  const uint32_t t0 = UINT32_MAX - 10;
  EXPECT_TRUE(l.take_unverified(t0));
  EXPECT_FALSE(l.take_unverified(t0 + 500));  // wrapped, same window
  EXPECT_TRUE(l.take_unverified(t0 + 1000));
}

}  // namespace
}  // namespace spore
