// DatagramChannel on its own (fake UDP): header stamping, counters, self-echo, the accept-only
// key and the replay window, as Membership and ClusterEvents rely on them.

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
  static std::vector<uint8_t> datagram(uint32_t id, uint32_t seq, const HmacKey& key) {
    wire::Message m;
    m.header.type = wire::MessageType::kGossip;
    m.header.sender_id = id;
    m.header.incarnation = 1;
    m.header.seq = seq;
    uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
    const wire::EncodeResult r = wire::encode(m, key, buf, sizeof buf);
    EXPECT_TRUE(r.ok());
    return std::vector<uint8_t>(buf, buf + r.size_bytes);
  }
  bool receive(const std::vector<uint8_t>& d) { return ch.receive(0x0A000002, d.data(), d.size(), out); }

  static constexpr uint32_t kSelf = 0xAA;
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
  for (int i = 0; i < 2; ++i) {
    wire::Message m;
    m.header.type = wire::MessageType::kGossip;
    ASSERT_TRUE(ch.send(i == 0 ? 0 : 0x0A000009, 4210, m));
  }
  ASSERT_EQ(udp.sent.size(), 2u);
  EXPECT_EQ(udp.sent[0].ip, 0u);  // broadcast
  EXPECT_EQ(udp.sent[1].ip, 0x0A000009u);
  for (uint32_t i = 0; i < 2; ++i) {
    wire::Message m;
    ASSERT_EQ(wire::decode(udp.sent[i].bytes.data(), udp.sent[i].bytes.size(), HmacKey{}, nullptr, m),
              wire::DecodeError::kOk);
    EXPECT_EQ(m.header.sender_id, kSelf);
    EXPECT_EQ(m.header.incarnation, 7u);
    EXPECT_EQ(m.header.seq, i);
  }
  EXPECT_EQ(stats.datagrams_sent, 2u);
  EXPECT_EQ(stats.bytes_sent, udp.sent[0].bytes.size() + udp.sent[1].bytes.size());
  EXPECT_EQ(stats.sent_by_type[static_cast<size_t>(wire::MessageType::kGossip)], 2u);
  udp.ok = false;
  wire::Message m;
  m.header.type = wire::MessageType::kGossip;
  EXPECT_FALSE(ch.send(0, 4210, m));
  EXPECT_EQ(stats.send_failures, 1u);
  EXPECT_EQ(stats.datagrams_sent, 2u);
}

TEST_F(DatagramChannelTest, OwnEchoIsDroppedUncountedAndAReplayIsRefusedByReason) {
  EXPECT_FALSE(receive(datagram(kSelf, 0, HmacKey{})));
  EXPECT_EQ(stats.datagrams_received, 0u);
  const std::vector<uint8_t> d = datagram(0xB1, 5, HmacKey{});
  ASSERT_TRUE(receive(d));
  EXPECT_EQ(out.header.sender_id, 0xB1u);
  EXPECT_EQ(stats.received_by_type[static_cast<size_t>(wire::MessageType::kGossip)], 1u);
  EXPECT_FALSE(receive(d));
  EXPECT_EQ(stats.rejected[static_cast<size_t>(wire::DecodeError::kReplayed)], 1u);
  EXPECT_EQ(stats.rejected_total, 1u);
  EXPECT_EQ(stats.datagrams_received, 2u);
  EXPECT_EQ(stats.bytes_received, 2 * d.size());
  ch.forget(0xB1);  // a forgotten sender starts afresh
  EXPECT_TRUE(receive(d));
}

TEST_F(DatagramChannelTest, TheAcceptKeyGetsASecondLookAtARefusedTagAndIsCounted) {
  ch.set_cluster_key(key_of(kKeyA));
  EXPECT_TRUE(ch.authenticated());
  EXPECT_FALSE(receive(datagram(0xB1, 1, key_of(kKeyB))));
  EXPECT_EQ(stats.rejected[static_cast<size_t>(wire::DecodeError::kBadTag)], 1u);
  ch.set_accept_key(key_of(kKeyB));
  EXPECT_TRUE(receive(datagram(0xB1, 1, key_of(kKeyB))));  // the refusal left the window alone
  EXPECT_TRUE(receive(datagram(0xB1, 2, key_of(kKeyA))));
  EXPECT_EQ(stats.accepted_with_accept_key, 1u);
}

}  // namespace
}  // namespace spore
