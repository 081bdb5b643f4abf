// Incarnations that never saturate (issue 18, finding 2): the boot count << 16 wraps every
// 65,536 boots and every comparison in core uses RFC 1982 serial arithmetic (incarnation.h).
// Each test below crosses the old limit (boot 65,535 -> 65,536, incarnation 0xFFFF0000 -> 0) and
// fails with the plain `<` / `>` comparisons core used before.

#include "spore/base/incarnation.h"

#include <gtest/gtest.h>

#include "spore/cluster/gossip_queue.h"
#include "spore/cluster/member_table.h"
#include "spore/wire/replay_window.h"

namespace spore {
namespace {

constexpr uint32_t kLastOldBoot = 0xFFFF;  // where the 16-bit boot count used to stop
const uint32_t kBefore = incarnation_for_boot(kLastOldBoot);
const uint32_t kAfter = incarnation_for_boot(kLastOldBoot + 1);

TEST(Incarnation, BootCountPastTheOldLimitIsStillNewer) {
  EXPECT_EQ(kBefore, 0xFFFF0000u);
  EXPECT_EQ(kAfter, 0u);  // wrapped
  EXPECT_TRUE(incarnation_newer(kAfter, kBefore));
  EXPECT_TRUE(incarnation_older(kBefore, kAfter));
  // Newer than anything the previous run could announce (65,535 refutations).
  EXPECT_TRUE(incarnation_newer(kAfter, kBefore + 0xFFFF));
  // And so on for every boot, across the wrap of the 32-bit count too.
  for (uint32_t boot : {1u, 0x7FFFu, 0x8000u, 0xFFFEu, 0xFFFFu, 0x10000u, 0x1FFFFu, 0xFFFFFFFFu}) {
    EXPECT_TRUE(incarnation_newer(incarnation_for_boot(boot + 1), incarnation_for_boot(boot) + 0xFFFF)) << boot;
  }
}

TEST(Incarnation, SerialArithmeticFollowsRfc1982) {
  EXPECT_FALSE(incarnation_newer(5, 5));
  EXPECT_FALSE(incarnation_older(5, 5));
  EXPECT_TRUE(incarnation_at_least(5, 5));
  EXPECT_TRUE(incarnation_newer(6, 5));
  EXPECT_TRUE(incarnation_newer(0x7FFFFFFFu, 0));  // 2^31 - 1 ahead: still newer
  EXPECT_TRUE(incarnation_older(0, 0x7FFFFFFFu));
  EXPECT_TRUE(incarnation_newer(2, 0xFFFFFFFEu));
  // Exactly 2^31 apart is undefined in RFC 1982: each is "older" than the other, so neither is
  // ever accepted as a newer life.
  EXPECT_FALSE(incarnation_newer(0x80000000u, 0));
  EXPECT_FALSE(incarnation_newer(0, 0x80000000u));
  EXPECT_TRUE(incarnation_older(0x80000000u, 0));
  EXPECT_TRUE(incarnation_older(0, 0x80000000u));
}

TEST(Incarnation, ReplayWindowAcceptsTheLifeAfterTheWrapAndRefusesTheOldOne) {
  ReplayWindow w;
  for (uint32_t seq = 0; seq < 10; ++seq) w.commit(kBefore + 3, seq);
  // The restarted node numbers its datagrams from 0 again; the old code saw incarnation 0 as
  // older than 0xFFFF0003 and dropped every one as stale.
  EXPECT_EQ(w.check(kAfter, 0), ReplayVerdict::kFresh);
  w.commit(kAfter, 0);
  EXPECT_EQ(w.check(kAfter, 0), ReplayVerdict::kReplayed);
  EXPECT_EQ(w.check(kAfter, 1), ReplayVerdict::kFresh);
  EXPECT_EQ(w.check(kBefore + 3, 11), ReplayVerdict::kStale);  // a late datagram of the old life
}

TEST(Incarnation, MemberTableTakesTheWrappedIncarnationAsARestart) {
  MemberTable table;
  MemberChange last = MemberChange::kDiscovered;
  struct Sink {
    MemberChange* last;
    void on(const Member&, MemberChange c) { *last = c; }
  } sink{&last};
  table.set_listener(MemberTable::Listener::bind<Sink, &Sink::on>(&sink));
  MemberHello h{9, kBefore + 2, 0x7F000002u, 8080, "n9"};
  ASSERT_NE(table.observe(h, 0), nullptr);
  h.incarnation = kAfter;  // a joining ANNOUNCE of the next boot
  ASSERT_NE(table.observe(h, 100), nullptr) << "the wrapped incarnation was taken for a stale datagram";
  EXPECT_EQ(last, MemberChange::kRestarted);
  EXPECT_EQ(table.find(9)->incarnation, kAfter);
  // The previous life's datagrams are stale now.
  h.incarnation = kBefore + 2;
  EXPECT_EQ(table.observe(h, 200), nullptr);
  EXPECT_EQ(table.touch(9, kBefore + 2, 200), nullptr);
  EXPECT_NE(table.touch(9, kAfter + 1, 300), nullptr);  // a refutation after the wrap
  EXPECT_EQ(table.find(9)->incarnation, kAfter + 1);
  table.mark_left(9, kBefore, 400);  // a stale goodbye changes nothing
  EXPECT_FALSE(table.find(9)->left);
  table.mark_left(9, kAfter + 1, 400);
  EXPECT_TRUE(table.find(9)->left);
}

TEST(Incarnation, GossipAboutTheWrappedLifeOverridesTheOldOne) {
  MemberTable table;
  MemberHello h{9, kBefore, 0x7F000002u, 8080, "n9"};
  const Member* m = table.observe(h, 0);
  ASSERT_NE(m, nullptr);
  GossipQueue q;
  q.push(table.slot_of(*m), kBefore, wire::MemberState::kSuspect);
  q.push(table.slot_of(*m), kAfter, wire::MemberState::kAlive);
  wire::GossipEntry self{};
  wire::GossipEntry out[SPORE_GOSSIP_QUEUE_LEN];
  const size_t n = q.take(table, self, out, SPORE_GOSSIP_QUEUE_LEN);
  ASSERT_EQ(n, 1u);
  EXPECT_EQ(out[0].incarnation, kAfter);
  EXPECT_EQ(out[0].state, wire::MemberState::kAlive);
}

}  // namespace
}  // namespace spore
