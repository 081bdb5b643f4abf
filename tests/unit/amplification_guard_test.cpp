// AmplificationGuard: QUIC's anti-amplification rule (factor 1) per unverified address, with a
// bounded table, expiry, a cap and trusted join addresses.

#include "spore/cluster/amplification_guard.h"

#include <gtest/gtest.h>

namespace spore {
namespace {

constexpr uint32_t kIp = 0x0A000002;

TEST(AmplificationGuard, SendsAtMostTheBytesReceivedFromTheAddress) {
  AmplificationGuard g;
  EXPECT_FALSE(g.may_send(kIp, 4210, 1, 0));  // never heard from: no credit at all
  g.on_received(kIp, 4210, 100, 0);
  EXPECT_FALSE(g.may_send(kIp, 4210, 101, 1));  // more than it sent, nothing taken
  EXPECT_TRUE(g.may_send(kIp, 4210, 60, 1));
  EXPECT_TRUE(g.may_send(kIp, 4210, 40, 2));
  EXPECT_FALSE(g.may_send(kIp, 4210, 1, 3));  // used up
  g.on_received(kIp, 4210, 20, 4);
  EXPECT_TRUE(g.may_send(kIp, 4210, 20, 5));
  // Credit is per address and port: another port of the same host has none.
  g.on_received(kIp, 4210, 500, 6);
  EXPECT_FALSE(g.may_send(kIp, 4211, 1, 7));
  EXPECT_FALSE(g.may_send(kIp + 1, 4210, 1, 7));
}

TEST(AmplificationGuard, CreditIsCappedSoItCannotBeHoardedForABurst) {
  AmplificationGuard g;
  for (int i = 0; i < 100; ++i) g.on_received(kIp, 4210, 500, static_cast<uint32_t>(i));
  size_t granted_bytes = 0;
  while (g.may_send(kIp, 4210, 100, 200)) granted_bytes += 100;
  EXPECT_EQ(granted_bytes, AmplificationGuard::kMaxCreditBytes / 100 * 100);
}

TEST(AmplificationGuard, CreditExpiresAndSurvivesTheClockWrap) {
  AmplificationGuard g;
  const uint32_t t0 = UINT32_MAX - 100;
  g.on_received(kIp, 4210, 100, t0);
  EXPECT_TRUE(g.may_send(kIp, 4210, 50, t0 + 200));  // wrapped, 200 ms later
  EXPECT_FALSE(g.may_send(kIp, 4210, 50, t0 + AmplificationGuard::kCreditLifetimeMs));
  g.on_received(kIp, 4210, 10, t0 + AmplificationGuard::kCreditLifetimeMs + 1);  // the old credit is void
  EXPECT_FALSE(g.may_send(kIp, 4210, 11, t0 + AmplificationGuard::kCreditLifetimeMs + 2));
}

TEST(AmplificationGuard, AFloodOfSourcesOnlyForgetsTheOldestCreditNeverGrantsMore) {
  AmplificationGuard g;
  g.on_received(kIp, 4210, 100, 0);
  // As many other sources as the table holds, each later than the first: the first is forgotten.
  for (uint32_t i = 1; i <= SPORE_MAX_UNVERIFIED_SOURCES; ++i) g.on_received(0x0B000000 + i, 4210, 10, i);
  EXPECT_FALSE(g.may_send(kIp, 4210, 1, 1000));
  size_t granted_bytes = 0;
  for (uint32_t i = 1; i <= SPORE_MAX_UNVERIFIED_SOURCES; ++i) {
    for (int k = 0; k < 3; ++k) granted_bytes += g.may_send(0x0B000000 + i, 4210, 5, 1000) ? 5 : 0;
  }
  EXPECT_LE(granted_bytes, 10u * (SPORE_MAX_UNVERIFIED_SOURCES));
  EXPECT_GT(granted_bytes, 0u);
}

TEST(AmplificationGuard, TrustedJoinAddressesNeedNoCreditAndAreNeverEvicted) {
  AmplificationGuard g;
  for (uint32_t i = 0; i < SPORE_MAX_JOIN_ADDRESSES; ++i) EXPECT_TRUE(g.trust(0x0C000000 + i, 4210));
  EXPECT_TRUE(g.trust(0x0C000000, 4210));   // again: still one
  EXPECT_FALSE(g.trust(0x0D000000, 4210));  // full
  for (uint32_t i = 0; i < 4 * SPORE_MAX_UNVERIFIED_SOURCES; ++i) g.on_received(0x0B000000 + i, 4210, 10, i);
  for (uint32_t i = 0; i < SPORE_MAX_JOIN_ADDRESSES; ++i) {
    EXPECT_TRUE(g.may_send(0x0C000000 + i, 4210, 508, 100000));
    g.on_received(0x0C000000 + i, 4210, 10, 100000);  // stays trusted
    EXPECT_TRUE(g.may_send(0x0C000000 + i, 4210, 508, 100001));
  }
  // The untrusted entries still work beside them.
  g.on_received(kIp, 4210, 30, 100002);
  EXPECT_TRUE(g.may_send(kIp, 4210, 30, 100003));
  EXPECT_FALSE(g.may_send(kIp, 4210, 1, 100003));
}

}  // namespace
}  // namespace spore
