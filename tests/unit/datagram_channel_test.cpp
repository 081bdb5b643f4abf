// DatagramChannel on its own (fake UDP): header stamping, counters, self-echo, the accept-only
// key, the destination check and the replay window per member slot, as Membership and
// ClusterEvents rely on them.

#include "spore/cluster/datagram_channel.h"

#include <gtest/gtest.h>

#include <vector>

#include "fakes.h"
#include "spore/node/node_context.h"

namespace spore {
namespace {

using testing::FakeClock;
using testing::FakeRandom;
using testing::FakeSystemInfo;
using testing::FakeUdp;

HmacKey key_of(const char* hex) {
  HmacKey k;
  EXPECT_TRUE(k.set_hex(hex));
  return k;
}
const char* const kKeyA = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const char* const kKeyB = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

class DatagramChannelTest : public ::testing::Test {
 protected:
  DatagramChannelTest() : ctx(testing::fast_config_without_jitter(), clock, rnd, sys, nullptr), ch(ctx, udp, stats) {}
  void SetUp() override { ASSERT_TRUE(ctx.begin({kSelf, 7, 0x0A000001, "self"})); }
  // A GOSSIP datagram as peer `id` would send it (seq `seq`), encoded with `key`.
  static std::vector<uint8_t> datagram(uint32_t id, uint32_t seq, const HmacKey& key, uint32_t dest = kSelf) {
    wire::Message m;
    m.header.type = wire::MessageType::kGossip;
    m.header.sender_id = id;
    m.header.incarnation = 1;
    m.header.seq = seq;
    m.header.dest_id = dest;
    uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
    const wire::EncodeResult r = wire::encode(m, key, buf, sizeof buf);
    EXPECT_TRUE(r.ok());
    return std::vector<uint8_t>(buf, buf + r.size_bytes);
  }
  DatagramChannel::Received receive(const std::vector<uint8_t>& d, uint32_t ip = kPeerIp) {
    return ch.receive(ip, 4210, d.data(), d.size(), out);
  }
  // Puts `id` at ip:4210 into the member table, as an admission would.
  Member& member(uint32_t id, uint32_t ip = kPeerIp) {
    MemberHello hello;
    hello.node_id = id;
    hello.incarnation = 1;
    hello.ip = ip;
    hello.hostname = "peer";
    Member* m = ctx.members().observe(hello, clock.now_ms());
    EXPECT_NE(m, nullptr);
    return *m;
  }
  size_t bytes_sent_to(uint32_t ip) const {
    size_t n = 0;
    for (const testing::Sent& s : udp.sent) n += s.ip == ip ? s.bytes.size() : 0;
    return n;
  }
  static constexpr auto kRefused = DatagramChannel::Received::kRefused;
  static constexpr auto kMember = DatagramChannel::Received::kMember;
  static constexpr auto kStranger = DatagramChannel::Received::kStranger;

  static constexpr uint32_t kSelf = 0xAA;
  static constexpr uint32_t kPeerIp = 0x0A000002;
  FakeClock clock{1000};
  FakeRandom rnd;
  FakeSystemInfo sys;
  FakeUdp udp;
  NodeContext ctx;
  DatagramStats stats;
  DatagramChannel ch;
  wire::Message out;
};

TEST_F(DatagramChannelTest, SendStampsTheHeaderWithConsecutiveSequenceNumbersAndCounts) {
  member(0xB9, 0x0A000009);  // a member's address: sent to without anti-amplification credit
  for (int i = 0; i < 2; ++i) {
    wire::Message m;
    m.header.type = wire::MessageType::kGossip;
    ASSERT_TRUE(ch.send(i == 0 ? 0 : 0x0A000009, 4210, i == 0 ? 0 : 0xB9, m));
  }
  ASSERT_EQ(udp.sent.size(), 2u);
  EXPECT_EQ(udp.sent[0].ip, 0u);  // broadcast
  EXPECT_EQ(udp.sent[1].ip, 0x0A000009u);
  for (uint32_t i = 0; i < 2; ++i) {
    wire::Message m;
    ASSERT_EQ(wire::decode(udp.sent[i].bytes.data(), udp.sent[i].bytes.size(), HmacKey{}, m), wire::DecodeError::kOk);
    EXPECT_EQ(m.header.sender_id, kSelf);
    EXPECT_EQ(m.header.dest_id, i == 0 ? 0u : 0xB9u);
    EXPECT_EQ(m.header.incarnation, 7u);
    EXPECT_EQ(m.header.seq, i);
  }
  EXPECT_EQ(stats.datagrams_sent, 2u);
  EXPECT_EQ(stats.bytes_sent, udp.sent[0].bytes.size() + udp.sent[1].bytes.size());
  EXPECT_EQ(stats.sent_by_type[static_cast<size_t>(wire::MessageType::kGossip)], 2u);
  udp.ok = false;
  wire::Message m;
  m.header.type = wire::MessageType::kGossip;
  EXPECT_FALSE(ch.send(0, 4210, 0, m));
  EXPECT_EQ(stats.send_failures, 1u);
  EXPECT_EQ(stats.datagrams_sent, 2u);
}

TEST_F(DatagramChannelTest, EveryMessageTypeIsCountedByType) {
  // The per-type counters once stopped at type 11, so DISCOVER, DIGEST and DIGEST_REQ went uncounted.
  for (uint8_t t = 1; t <= static_cast<uint8_t>(wire::MessageType::kLastType); ++t) {
    wire::Message m;
    m.header.type = static_cast<wire::MessageType>(t);
    ASSERT_LT(size_t{t}, DatagramStats::kTypeSlots);
    ch.send(0, 4210, 0, m);  // whether each encodes with an empty body is not this test's concern
  }
  for (uint8_t t = 1; t <= static_cast<uint8_t>(wire::MessageType::kLastType); ++t) EXPECT_LE(stats.sent_by_type[t], 1u);
  EXPECT_EQ(stats.sent_by_type[static_cast<size_t>(wire::MessageType::kDigestReq)], 1u);
  EXPECT_EQ(stats.sent_by_type[static_cast<size_t>(wire::MessageType::kDigest)], 1u);
}

TEST_F(DatagramChannelTest, OwnEchoIsDroppedUncountedAndAMemberReplayIsRefusedByReason) {
  EXPECT_EQ(receive(datagram(kSelf, 0, HmacKey{})), kRefused);
  EXPECT_EQ(stats.datagrams_received, 0u);
  const Member& m = member(0xB1);
  const std::vector<uint8_t> d = datagram(0xB1, 5, HmacKey{});
  ASSERT_EQ(receive(d), kMember);
  EXPECT_EQ(out.header.sender_id, 0xB1u);
  EXPECT_EQ(stats.received_by_type[static_cast<size_t>(wire::MessageType::kGossip)], 1u);
  EXPECT_EQ(receive(d), kRefused);
  EXPECT_EQ(stats.rejected[static_cast<size_t>(wire::DecodeError::kReplayed)], 1u);
  EXPECT_EQ(stats.rejected_total, 1u);
  EXPECT_EQ(stats.datagrams_received, 2u);
  EXPECT_EQ(stats.bytes_received, 2 * d.size());
  EXPECT_TRUE(ch.replay_window(m).started());
  ch.forget(m);  // the forget hook clears the slot's window
  EXPECT_FALSE(ch.replay_window(m).started());
}

TEST_F(DatagramChannelTest, AStrangerHasNoWindowUntilAdmittedAndForgottenMeansStrangerAgain) {
  const std::vector<uint8_t> d = datagram(0xB2, 5, HmacKey{});
  EXPECT_EQ(receive(d), kStranger);  // verified, but nothing of it is kept
  EXPECT_EQ(receive(d), kStranger);
  EXPECT_EQ(stats.received_by_type[static_cast<size_t>(wire::MessageType::kGossip)], 0u);
  ch.refuse(wire::DecodeError::kUnknownSender);
  EXPECT_EQ(stats.rejected[static_cast<size_t>(wire::DecodeError::kUnknownSender)], 1u);
  Member& m = member(0xB2);
  ch.admit(m, out.header);  // the admitting datagram starts the window and counts as accepted
  EXPECT_EQ(stats.received_by_type[static_cast<size_t>(wire::MessageType::kGossip)], 1u);
  EXPECT_EQ(receive(d), kRefused);
  EXPECT_EQ(stats.rejected[static_cast<size_t>(wire::DecodeError::kReplayed)], 1u);
  EXPECT_EQ(receive(datagram(0xB2, 6, HmacKey{})), kMember);
}

TEST_F(DatagramChannelTest, ADatagramForAnotherNodeIsRefusedAsWrongDestination) {
  member(0xB3);
  EXPECT_EQ(receive(datagram(0xB3, 1, HmacKey{}, 0xCC)), kRefused);
  EXPECT_EQ(stats.rejected[static_cast<size_t>(wire::DecodeError::kWrongDestination)], 1u);
  EXPECT_EQ(receive(datagram(0xB3, 1, HmacKey{}, 0)), kMember);  // broadcast marker
  EXPECT_EQ(receive(datagram(0xB3, 2, HmacKey{}, kSelf)), kMember);
  EXPECT_EQ(receive(datagram(0xB4, 1, HmacKey{}, 0xCC)), kRefused);  // strangers too
  EXPECT_EQ(stats.rejected[static_cast<size_t>(wire::DecodeError::kWrongDestination)], 2u);
}

TEST_F(DatagramChannelTest, TheAcceptKeyGetsASecondLookAtARefusedTagAndIsCounted) {
  member(0xB1);
  ch.set_cluster_key(key_of(kKeyA));
  EXPECT_TRUE(ch.authenticated());
  EXPECT_EQ(receive(datagram(0xB1, 1, key_of(kKeyB))), kRefused);
  EXPECT_EQ(stats.rejected[static_cast<size_t>(wire::DecodeError::kBadTag)], 1u);
  ch.set_accept_key(key_of(kKeyB));
  EXPECT_EQ(receive(datagram(0xB1, 1, key_of(kKeyB))), kMember);  // the refusal left the window alone
  EXPECT_EQ(receive(datagram(0xB1, 2, key_of(kKeyA))), kMember);
  EXPECT_EQ(stats.accepted_with_accept_key, 1u);
}

TEST_F(DatagramChannelTest, AFloodWithAMembersAddressAndIdButNoKeyDoesNotSilenceTheMember) {
  // Issue 20 finding 4: a per-source limit before the tag check let junk "from" a member's address
  // crowd out the member's own datagrams. Only verified datagrams count against a member now.
  ch.set_cluster_key(key_of(kKeyA));
  member(0xB1, kPeerIp);
  const uint8_t junk[] = {'S', 'P', 1, 5, 0, 0, 0, 0, 0xB1};
  for (uint32_t i = 0; i < 3 * SPORE_MAX_DATAGRAMS_PER_MEMBER_PER_S; ++i) {
    ASSERT_EQ(receive(datagram(0xB1, i + 1, key_of(kKeyB))), kRefused);  // claims the member, wrong key
    ASSERT_EQ(ch.receive(kPeerIp, 4210, junk, sizeof junk, out), kRefused);
    ASSERT_EQ(receive(datagram(0xC0 + (i % 8), i + 1, key_of(kKeyB))), kRefused);  // strangers
  }
  EXPECT_EQ(stats.rate_limited_member, 0u);
  EXPECT_GT(stats.rate_limited_unverified, 0u);  // the strangers' and the junk's shared budget
  EXPECT_EQ(receive(datagram(0xB1, 1, key_of(kKeyA))), kMember);
  EXPECT_EQ(out.header.sender_id, 0xB1u);
}

TEST_F(DatagramChannelTest, AMembersVerifiedDatagramsAreLimitedPerSlotBeforeTheirTag) {
  member(0xB1, kPeerIp);
  member(0xB2, kPeerIp + 1);
  uint32_t seq = 0;
  for (uint32_t i = 0; i < SPORE_MAX_DATAGRAMS_PER_MEMBER_PER_S; ++i)
    ASSERT_EQ(receive(datagram(0xB1, ++seq, HmacKey{})), kMember);
  EXPECT_EQ(receive(datagram(0xB1, ++seq, HmacKey{})), kRefused);
  EXPECT_EQ(stats.rate_limited_member, 1u);
  EXPECT_EQ(stats.rejected_total, 1u);
  EXPECT_EQ(receive(datagram(0xB2, 1, HmacKey{}), kPeerIp + 1), kMember);  // another member: its own budget
  clock.advance(1000);
  EXPECT_EQ(receive(datagram(0xB1, ++seq, HmacKey{})), kMember);
}

TEST_F(DatagramChannelTest, DatagramsClaimingNoMemberShareOneBudgetCheckedBeforeDecoding) {
  const uint8_t junk[] = {'S', 'P', wire::kProtocolVersion};
  for (uint32_t i = 0; i < SPORE_MAX_UNVERIFIED_DATAGRAMS_PER_S; ++i)
    ASSERT_EQ(ch.receive(0x0B000000 + i, 4210, junk, sizeof junk, out), kRefused);
  EXPECT_EQ(stats.rejected[static_cast<size_t>(wire::DecodeError::kTooShort)], SPORE_MAX_UNVERIFIED_DATAGRAMS_PER_S);
  EXPECT_EQ(receive(datagram(0xB1, 1, HmacKey{})), kRefused);  // a good one from a stranger waits too
  EXPECT_EQ(stats.rate_limited_unverified, 1u);
  clock.advance(1000);
  EXPECT_EQ(receive(datagram(0xB1, 1, HmacKey{})), kStranger);
}

TEST_F(DatagramChannelTest, AnUnverifiedAddressGetsAtMostTheBytesItSent) {
  const std::vector<uint8_t> in = datagram(0xB1, 1, HmacKey{});
  wire::Message m;
  m.header.type = wire::MessageType::kGossip;
  EXPECT_FALSE(ch.send(kPeerIp, 4210, 0xB1, m));  // nothing received from it yet
  EXPECT_EQ(stats.amplification_refused, 1u);
  EXPECT_GT(stats.amplification_refused_bytes, 0u);
  EXPECT_EQ(stats.send_failures, 0u);
  ASSERT_EQ(receive(in), kStranger);
  for (int i = 0; i < 5; ++i) ch.send(kPeerIp, 4210, 0xB1, m);
  EXPECT_LE(bytes_sent_to(kPeerIp), in.size());
  EXPECT_EQ(bytes_sent_to(kPeerIp), in.size());  // a GOSSIP answer to a GOSSIP: exactly one fits
  // Broadcasts, members' table addresses and trusted (join) addresses need no credit.
  EXPECT_TRUE(ch.send(0, 4210, 0, m));
  member(0xB9, 0x0A000009);
  EXPECT_TRUE(ch.send(0x0A000009, 4210, 0xB9, m));
  EXPECT_FALSE(ch.send(0x0A000009, 4299, 0xB9, m));  // the member's host, another port: not its address
  EXPECT_TRUE(ch.trust_address(0x0A00000A, 4210));
  EXPECT_TRUE(ch.send(0x0A00000A, 4210, 0, m));
}

}  // namespace
}  // namespace spore
