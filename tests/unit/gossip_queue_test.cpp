#include "spore/cluster/gossip_queue.h"

#include <gtest/gtest.h>

namespace spore {
namespace {

wire::GossipEntry entry(uint32_t id, uint32_t inc, wire::MemberState state = wire::MemberState::kAlive) {
  wire::GossipEntry e;
  e.node_id = id;
  e.incarnation = inc;
  e.state = state;
  return e;
}

TEST(GossipQueue, EachEntryIsSentABoundedNumberOfTimesThenLeaves) {
  GossipQueue q;
  q.push(entry(1, 1), 2);
  wire::GossipEntry out[SPORE_GOSSIP_QUEUE_LEN];
  EXPECT_EQ(q.take(out, SPORE_GOSSIP_QUEUE_LEN), 1u);
  EXPECT_EQ(q.take(out, SPORE_GOSSIP_QUEUE_LEN), 1u);
  EXPECT_EQ(q.take(out, SPORE_GOSSIP_QUEUE_LEN), 0u);
  EXPECT_EQ(q.size(), 0u);
}

TEST(GossipQueue, NewerNewsAboutANodeReplacesOlderNeverTheReverse) {
  GossipQueue q;
  q.push(entry(1, 3, wire::MemberState::kSuspect), 3);
  q.push(entry(1, 3, wire::MemberState::kAlive), 3);  // weaker claim, same incarnation: ignored
  q.push(entry(1, 2, wire::MemberState::kLeft), 3);   // older incarnation: ignored
  wire::GossipEntry out[SPORE_GOSSIP_QUEUE_LEN];
  ASSERT_EQ(q.take(out, SPORE_GOSSIP_QUEUE_LEN), 1u);
  EXPECT_EQ(out[0].state, wire::MemberState::kSuspect);
  q.push(entry(1, 4, wire::MemberState::kAlive), 3);  // refutation wins
  ASSERT_EQ(q.take(out, SPORE_GOSSIP_QUEUE_LEN), 1u);
  EXPECT_EQ(out[0].incarnation, 4u);
  EXPECT_EQ(q.size(), 1u);
}

TEST(GossipQueue, WhenFullTheMostSentEntryMakesRoom) {
  GossipQueue q;
  for (uint32_t id = 1; id <= SPORE_GOSSIP_QUEUE_LEN; ++id) q.push(entry(id, 1), 5);
  wire::GossipEntry out[SPORE_GOSSIP_QUEUE_LEN];
  q.take(out, 1);  // entry 1 sent once
  q.push(entry(99, 1), 5);
  EXPECT_EQ(q.overflows(), 1u);
  EXPECT_EQ(q.size(), static_cast<size_t>(SPORE_GOSSIP_QUEUE_LEN));
  const size_t n = q.take(out, SPORE_GOSSIP_QUEUE_LEN);
  bool has_1 = false, has_99 = false;
  for (size_t i = 0; i < n; ++i) {
    has_1 |= out[i].node_id == 1;
    has_99 |= out[i].node_id == 99;
  }
  EXPECT_FALSE(has_1);
  EXPECT_TRUE(has_99);
  q.remove(99);
  q.push(entry(0, 1), 3);  // id 0 is never valid
  EXPECT_EQ(q.size(), static_cast<size_t>(SPORE_GOSSIP_QUEUE_LEN) - 1);
}

}  // namespace
}  // namespace spore
