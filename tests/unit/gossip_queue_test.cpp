#include "spore/cluster/gossip_queue.h"

#include <gtest/gtest.h>

namespace spore {
namespace {

constexpr uint16_t kClusterPort = 4210;

class GossipQueueTest : public ::testing::Test {
 protected:
  /// Adds member `id` (address 10.0.0.id, no UDP port of its own) and returns its slot.
  size_t add(uint32_t id) {
    MemberHello h{id, 1, 0x0A000000u + id, 8080, "n"};
    const Member* m = table_.observe(h, 0);
    EXPECT_NE(m, nullptr);
    return table_.slot_of(*m);
  }
  size_t take(size_t max = SPORE_GOSSIP_QUEUE_LEN) { return q_.take(table_, self_, out_, max); }

  MemberTable table_;
  GossipQueue q_;
  wire::GossipEntry self_ = self_entry();
  wire::GossipEntry out_[MemberTable::capacity() + 1];

 private:
  static wire::GossipEntry self_entry() {
    wire::GossipEntry e;
    e.node_id = 0xE1;
    e.ip = 0x0A0000FE;
    e.udp_port = kClusterPort;
    e.http_port = 80;
    return e;
  }
};

TEST_F(GossipQueueTest, EachEntryIsSentABoundedNumberOfTimesThenLeaves) {
  q_.push(add(1), 1, wire::MemberState::kSuspect);
  for (uint8_t i = 0; i < GossipQueue::kTransmissions; ++i) {
    ASSERT_EQ(take(), 1u);
    // Node id and address come from the member table; a member without a port gets the cluster's.
    EXPECT_EQ(out_[0].node_id, 1u);
    EXPECT_EQ(out_[0].ip, 0x0A000001u);
    EXPECT_EQ(out_[0].udp_port, kClusterPort);
    EXPECT_EQ(out_[0].http_port, 8080);
    EXPECT_EQ(out_[0].state, wire::MemberState::kSuspect);
  }
  EXPECT_EQ(take(), 0u);
  EXPECT_EQ(q_.size(), 0u);
}

TEST_F(GossipQueueTest, NewerNewsAboutANodeReplacesOlderNeverTheReverse) {
  const size_t slot = add(1);
  q_.push(slot, 3, wire::MemberState::kSuspect);
  q_.push(slot, 3, wire::MemberState::kAlive);  // weaker claim, same incarnation: ignored
  q_.push(slot, 2, wire::MemberState::kLeft);   // older incarnation: ignored
  ASSERT_EQ(take(), 1u);
  EXPECT_EQ(out_[0].state, wire::MemberState::kSuspect);
  EXPECT_EQ(out_[0].incarnation, 3u);
  q_.push(slot, 4, wire::MemberState::kAlive);  // refutation wins
  ASSERT_EQ(take(), 1u);
  EXPECT_EQ(out_[0].incarnation, 4u);
  EXPECT_EQ(out_[0].state, wire::MemberState::kAlive);
  EXPECT_EQ(q_.size(), 1u);
}

// A refutation is the most urgent news: it goes first even behind a burst about others.
TEST_F(GossipQueueTest, ThisNodesOwnEntryGoesFirstWithItsAddress) {
  for (uint32_t id = 1; id <= SPORE_GOSSIP_QUEUE_LEN; ++id) q_.push(add(id), 1, wire::MemberState::kAlive);
  q_.push(GossipQueue::kSelf, 7, wire::MemberState::kAlive);
  ASSERT_EQ(take(1), 1u);
  EXPECT_EQ(out_[0].node_id, self_.node_id);
  EXPECT_EQ(out_[0].ip, self_.ip);
  EXPECT_EQ(out_[0].udp_port, kClusterPort);
  EXPECT_EQ(out_[0].incarnation, 7u);
  q_.push(GossipQueue::capacity(), 7, wire::MemberState::kAlive);  // out of range: ignored
  EXPECT_EQ(q_.size(), static_cast<size_t>(SPORE_GOSSIP_QUEUE_LEN) + 1);
}

// A burst of news (partition heal: every member changed at once) is never dropped: each member
// has its slot, and one datagram carries at most `max` entries, fresh news first.
TEST_F(GossipQueueTest, ABurstSpreadsOverMoreDatagramsFreshNewsFirst) {
  constexpr size_t kMembers = SPORE_GOSSIP_QUEUE_LEN + 2;
  static_assert(kMembers <= MemberTable::capacity(), "the burst must fit the table");
  for (uint32_t id = 1; id <= kMembers; ++id) q_.push(add(id), 1, wire::MemberState::kSuspect);
  ASSERT_EQ(take(), static_cast<size_t>(SPORE_GOSSIP_QUEUE_LEN));
  const size_t fresh = add(99);
  q_.push(fresh, 1, wire::MemberState::kLeft);
  // Never sent yet: member 99 and the two the first datagram had no room for go first.
  ASSERT_EQ(take(3), 3u);
  bool has_99 = false;
  for (size_t i = 0; i < 3; ++i) {
    has_99 |= out_[i].node_id == 99;
    EXPECT_GT(out_[i].node_id, static_cast<uint32_t>(SPORE_GOSSIP_QUEUE_LEN)) << i;
  }
  EXPECT_TRUE(has_99);
  // Every entry is sent kTransmissions times in all, none more, none dropped.
  size_t sent = SPORE_GOSSIP_QUEUE_LEN + 3;
  for (size_t n; (n = take()) != 0;) sent += n;
  EXPECT_EQ(sent, (kMembers + 1) * GossipQueue::kTransmissions);
}

// A copy of "alive" news heard in another member's heartbeat counts as one of this node's sends;
// suspicions and leaves keep their count, and so does newer news than the copy.
TEST_F(GossipQueueTest, HeardAliveNewsCountsAsSentOtherNewsDoesNot) {
  const size_t alive = add(1), newer = add(2), suspect = add(3);
  q_.push(alive, 2, wire::MemberState::kAlive);
  q_.push(newer, 3, wire::MemberState::kAlive);
  q_.push(suspect, 2, wire::MemberState::kSuspect);
  for (uint8_t i = 0; i < GossipQueue::kTransmissions - 1; ++i) {
    q_.heard(alive, 2);
    q_.heard(newer, 2);
    q_.heard(suspect, 2);
  }
  q_.heard(GossipQueue::capacity(), 2);  // out of range: ignored
  // Member 1's news has one send left, the others all of theirs.
  size_t sent[4] = {};
  for (size_t n; (n = take()) != 0;)
    for (size_t i = 0; i < n; ++i) ++sent[out_[i].node_id];
  EXPECT_EQ(sent[1], 1u);
  EXPECT_EQ(sent[2], static_cast<size_t>(GossipQueue::kTransmissions));
  EXPECT_EQ(sent[3], static_cast<size_t>(GossipQueue::kTransmissions));
  q_.push(alive, 4, wire::MemberState::kAlive);
  for (uint8_t i = 0; i < GossipQueue::kTransmissions; ++i) q_.heard(alive, 4);
  EXPECT_EQ(q_.size(), 0u);  // heard as often as it would have been sent: nothing left to send
}

TEST_F(GossipQueueTest, AForgottenMembersNewsGoesWithItsSlot) {
  const size_t slot = add(1);
  q_.push(slot, 1, wire::MemberState::kLeft);
  q_.push(add(2), 1, wire::MemberState::kSuspect);
  q_.remove(slot);
  ASSERT_EQ(take(), 1u);
  EXPECT_EQ(out_[0].node_id, 2u);
  q_.clear();
  EXPECT_EQ(q_.size(), 0u);
}

}  // namespace
}  // namespace spore
