// Anti-amplification on the simulated network (docs/protocol.md §11.11, issue 20 finding 6): an
// address that is not a node's sends the requests that were answered with many times their size
// (INFO_REQ, EVENT_REQ, PING, and GOSSIP naming unknown nodes at a third address); the nodes
// together send each address at most the bytes they received from it. The ratio is what
// Cluster::max_amplification() reports, for the adversary scenarios too.

#include <gtest/gtest.h>

#include <cstdio>
#include <limits>
#include <vector>

#include "sim/simulation.h"

namespace spore::sim {
namespace {

constexpr uint32_t kStrangerIp = 0x0A0009FE;  // 10.0.9.254: no node's address
constexpr uint32_t kNamedIp = 0x0A0009FD;     // 10.0.9.253: only ever named in gossip

std::vector<uint8_t> encode(wire::Message m, uint32_t sender_id, uint32_t seq) {
  m.header.sender_id = sender_id;
  m.header.incarnation = 1;
  m.header.seq = seq;
  uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
  const wire::EncodeResult r = wire::encode(m, HmacKey{}, buf, sizeof buf);
  EXPECT_TRUE(r.ok());
  return std::vector<uint8_t>(buf, buf + r.size_bytes);
}

// The requests of one round from stranger `sender_id` to node `target`.
std::vector<std::vector<uint8_t>> requests(Cluster& c, size_t target, uint32_t sender_id, uint32_t seq) {
  std::vector<std::vector<uint8_t>> out;
  wire::Message m;
  m.header.type = wire::MessageType::kInfoReq;
  out.push_back(encode(m, sender_id, seq));
  m = wire::Message{};
  m.header.type = wire::MessageType::kEventReq;
  m.event_req = {c.node(target).membership().events().epoch(), 1, 0};
  out.push_back(encode(m, sender_id, seq + 1));
  m = wire::Message{};
  m.header.type = wire::MessageType::kPing;
  m.ping.target_id = c.node(target).node_id();
  m.ping.probe_id = seq;
  out.push_back(encode(m, sender_id, seq + 2));
  wire::GossipEntry named[4];
  for (uint32_t i = 0; i < 4; ++i) {
    named[i].node_id = 0x7000 + seq + i;
    named[i].incarnation = 1;
    named[i].ip = kNamedIp;
    named[i].udp_port = 4210;
  }
  m = wire::Message{};
  m.header.type = wire::MessageType::kGossip;
  m.gossip.updates = wire::GossipList::from_array(named, 4);
  out.push_back(encode(m, sender_id, seq + 3));
  return out;
}

TEST(AmplificationSim, AddressesThatAreNoNodesGetBackAtMostWhatTheySent) {
  Cluster c(5, Config::fast(), 20);  // open mode: a stranger's requests are decoded and handled
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 3000));
  for (size_t i = 0; i < c.size(); ++i) {
    for (int k = 0; k < 8; ++k) ASSERT_TRUE(c.node(i).ctx().publish("t", "some payload to re-send"));
  }
  c.run_for(500);
  SimNetwork& net = c.net();
  const size_t stranger = net.add_endpoint(kStrangerIp, 4210);
  uint32_t seq = 1;
  for (int round = 0; round < 20; ++round) {
    for (size_t i = 0; i < c.size(); ++i) {
      for (const auto& d : requests(c, i, 0x9000 + static_cast<uint32_t>(round), seq))
        net.send(stranger, c.node(i).ip(), 4210, d.data(), d.size());
      seq += 4;
    }
    c.run_for(100);
  }
  c.run_for(2000);
  const AddressTraffic s = net.address_traffic(kStrangerIp, 4210);
  const AddressTraffic worst = c.max_amplification();
  std::printf("[figure] stranger sent %llu B, got %llu B back; worst ratio %.3f (%llu B to, %llu B from)\n",
              static_cast<unsigned long long>(s.bytes_from), static_cast<unsigned long long>(s.bytes_to), worst.ratio(),
              static_cast<unsigned long long>(worst.bytes_to), static_cast<unsigned long long>(worst.bytes_from));
  EXPECT_GT(s.bytes_from, 0u);
  EXPECT_GT(s.bytes_to, 0u);  // some answers fit the credit: the rule limits, it does not mute
  EXPECT_LE(s.ratio(), 1.0);
  EXPECT_EQ(net.address_traffic(kNamedIp, 4210).bytes_to, 0u);  // named, never heard from
  EXPECT_LE(worst.ratio(), 1.0);
  EXPECT_TRUE(c.converged());
}

// A node that asks before it is admitted (INFO_REQ after hearing an ANNOUNCE, before its own
// ANNOUNCE arrived) gets no answer larger than its request; it asks again once admitted. A few
// refusals per join, and convergence within the usual bound (docs/protocol.md §11.11).
TEST(AmplificationSim, StaggeredJoinsConvergeDespiteTheRefusalsBeforeAdmission) {
  Cluster c(3, Config::fast(), 5);
  c.start(0);
  c.run_for(230);
  c.start(1);
  c.run_for(245);
  c.start(2);
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 2000));
  c.run_for(3000);
  uint32_t refused = 0;
  for (size_t i = 0; i < c.size(); ++i) refused += c.node(i).membership().stats().amplification_refused;
  std::printf("[figure] 3 nodes started 230/245 ms apart (fast profile): %u datagrams refused for credit\n", refused);
  EXPECT_LE(refused, 3u * 4u);
  EXPECT_TRUE(c.converged());
}

TEST(AmplificationSim, TheMeterCountsUnicastBothWaysAndSkipsTheNodesOwnAddresses) {
  Cluster c(3, Config::fast(), 21);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 3000));
  EXPECT_EQ(c.max_amplification().ratio(), 0.0);  // only nodes talked: nothing counted
  SimNetwork& net = c.net();
  const size_t a = net.add_endpoint(kStrangerIp, 4210);
  const uint8_t junk[10] = {};
  net.send(a, c.node(0).ip(), 4210, junk, sizeof junk);
  net.send(a, c.node(0).ip(), 4210, junk, sizeof junk);
  c.run_for(10);
  AddressTraffic t = net.address_traffic(kStrangerIp, 4210);
  EXPECT_EQ(t.bytes_from, 20u);
  EXPECT_EQ(t.bytes_to, 0u);
  net.send(c.node(0).endpoint(), kNamedIp, 4210, junk, 5);  // from node 0 to an address nobody has
  t = c.max_amplification();
  EXPECT_EQ(t.ip, kNamedIp);
  EXPECT_EQ(t.ratio(), std::numeric_limits<double>::infinity());
  net.reset_counters();
  EXPECT_EQ(net.address_traffic(kNamedIp, 4210).bytes_to, 0u);
}

}  // namespace
}  // namespace spore::sim
