// Review of ROSTER_DIGEST (docs/protocol.md §4.16; core/spore/cluster/liveness.cpp): a LAN peer
// without the key forges ROSTER_DIGESTs, and a table that differs meets one. Each test asserts the
// behaviour a finding violated, so it fails on the code the finding was made on.

#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "keyed_cluster.h"
#include "sim/sim_adversary.h"
#include "sim/simulation.h"
#include "spore/wire/wire_codec.h"

namespace spore::sim {
namespace {

using testing::KeyedCluster;
using testing::failure_events;

constexpr uint32_t kEveIp = 0x0A00F001;  // 10.0.240.1: the attacker's own address

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

void start_settled(Cluster& c, uint64_t settle_ms) {
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 10000));
  c.run_for(settle_ms);
}

// A ROSTER_DIGEST in `sender_id`'s name whose roster matches nobody's (size 1, any hash): every
// receiver counts it mismatched. 44 bytes on the wire in open mode.
std::vector<uint8_t> forged_roster(uint32_t sender_id, uint32_t incarnation, uint32_t seq, uint32_t round) {
  static const uint8_t kAges[1] = {0x00};
  wire::Message m;
  m.header.type = wire::MessageType::kRosterDigest;
  m.header.sender_id = sender_id;
  m.header.incarnation = incarnation;
  m.header.seq = seq;
  m.digest.round = round;
  m.digest.age_unit_ms = 1;
  m.digest.roster_size = 1;
  m.digest.roster_hash = 0x12345678;
  m.digest.roster_ages = kAges;
  return SimAdversary::encode(m);
}

// What eve reads off the medium: the newest DIGEST round, and the next sequence number `sender_id`
// will use (so the forgeries neither look late nor move its replay window past its own datagrams).
struct OnTheWire {
  uint32_t round = 0;
  uint32_t seq = 0;
};
OnTheWire read_wire(const SimAdversary& eve, uint32_t sender_id) {
  OnTheWire w;
  for (const Captured& d : eve.captured()) {
    if (d.bytes.size() <= wire::kHeaderBytes) continue;
    if (d.is(wire::MessageType::kDigest) || d.is(wire::MessageType::kRosterDigest))
      w.round = be32(d.bytes.data() + wire::kHeaderBytes);
    if (d.sender() == sender_id) w.seq = be32(d.bytes.data() + 13);
  }
  return w;
}

// Finding A2 (open mode). A node whose table differs from the others' (here it alone holds a
// member the others never heard of) matches no roster and relies on asking the roster's sender at
// once, one request a period. Eve spends that one request first: two forged ROSTER_DIGESTs a
// period, in the name of a member that will not answer (the extra member: gone, or never there).
// The honest roster of the period then draws no request, and the node is left with DIGEST_REQ
// pulls and probes (N=20: 126 PINGs in 20 periods instead of 13; no false INACTIVE).
TEST(RosterDigestAttackSim, ForgedRostersDoNotStarveANodeWhoseTableDiffers) {
  Config cfg = Config::fast().with_digest_liveness();
  cfg.roster_digest_min_members = 2;
  const auto run = [&](bool attack, uint32_t& pings, size_t& inactive, uint32_t& mismatched) {
    Cluster c(20, cfg, 14);  // open mode: no key
    SimAdversary eve(c.net(), c.clock(), kEveIp, cfg.udp_port);
    eve.tap_all();
    start_settled(c, 5000);
    const size_t odd = 3;
    const MembershipStats& stats = c.node(odd).membership().stats();
    MemberHello ghost;
    ghost.node_id = 0x0FFFFFFF;
    ghost.incarnation = 1;
    ghost.ip = 0x0A00FFFE;
    ghost.hostname = "ghost";
    ASSERT_NE(c.node(odd).ctx().members().observe(ghost, static_cast<uint32_t>(c.now())), nullptr);
    const uint32_t pings0 = stats.sent_by_type[static_cast<size_t>(wire::MessageType::kPing)];
    const uint32_t mismatched0 = stats.rosters_mismatched;
    uint32_t seq = 0x40000000u;
    for (uint32_t t = 0; t < 20 * cfg.heartbeat_interval_ms; t += cfg.heartbeat_interval_ms / 2) {
      if (attack) {
        const std::vector<uint8_t> b = forged_roster(ghost.node_id, ghost.incarnation, ++seq, read_wire(eve, 0).round);
        eve.send(c.node(odd).ip(), cfg.udp_port, b);
      }
      c.run_for(cfg.heartbeat_interval_ms / 2);
    }
    pings = stats.sent_by_type[static_cast<size_t>(wire::MessageType::kPing)] - pings0;
    mismatched = stats.rosters_mismatched - mismatched0;
    inactive = 0;
    for (size_t j = 0; j < c.size(); ++j)
      if (j != odd) inactive += c.node(odd).count_events("node_inactive", c.node(j).node_id());
  };
  uint32_t pings_honest = 0, pings_attacked = 0, mm_honest = 0, mm_attacked = 0;
  size_t inactive_honest = 0, inactive_attacked = 0;
  ASSERT_NO_FATAL_FAILURE(run(false, pings_honest, inactive_honest, mm_honest));
  ASSERT_NO_FATAL_FAILURE(run(true, pings_attacked, inactive_attacked, mm_attacked));
  std::printf("[figure] a node whose table holds an extra member, 20 periods: %u PINGs, %zu false INACTIVE; "
              "with 2 forged rosters a period in that member's name: %u PINGs, %zu false INACTIVE "
              "(%u / %u rosters mismatched)\n",
              pings_honest, inactive_honest, pings_attacked, inactive_attacked, mm_honest, mm_attacked);
  EXPECT_EQ(inactive_attacked, 0u);
  EXPECT_LT(pings_attacked, 40u);
}


// Finding A3 (honest). A kBroadcast member of a digest cluster (Config::liveness kBroadcast, or an
// ESP8266 build) has only the DIGESTs' evidence of the kDigest members, which do not broadcast
// their heartbeats while a chain runs. With explicit DIGESTs it takes every id it knows; with
// ROSTER_DIGESTs only while its table is exactly the sender's, and when it differs it asks for
// nothing (N=20: 312 entries vouched in 20 periods with DIGESTs, 0 with ROSTER_DIGESTs; its
// probes find the members alive: 475 PINGs instead of 405, no false INACTIVE).
TEST(RosterDigestAttackSim, ABroadcastNodeWhoseTableDiffersStillTakesTheEvidence) {
  const auto run = [](uint16_t roster_min, uint32_t& pings, size_t& inactive, uint32_t& vouched) {
    Config digest = Config::fast().with_digest_liveness();
    digest.roster_digest_min_members = roster_min;
    KeyedCluster c(19, digest, 15);
    const size_t odd = c.add_node(Config::fast());  // kBroadcast
    c.set_key_hex(testing::kKey);
    start_settled(c, 5000);
    MemberHello ghost;
    ghost.node_id = 0x0FFFFFFF;
    ghost.incarnation = 1;
    ghost.ip = 0x0A00FFFE;
    ghost.hostname = "ghost";
    ASSERT_NE(c.node(odd).ctx().members().observe(ghost, static_cast<uint32_t>(c.now())), nullptr);
    const MembershipStats& stats = c.node(odd).membership().stats();
    const uint32_t pings0 = stats.sent_by_type[static_cast<size_t>(wire::MessageType::kPing)];
    const uint32_t vouched0 = stats.vouched;
    c.run_for(20 * digest.heartbeat_interval_ms);
    vouched = stats.vouched - vouched0;
    pings = stats.sent_by_type[static_cast<size_t>(wire::MessageType::kPing)] - pings0;
    inactive = 0;  // about the real nodes (the extra member goes INACTIVE at `odd`, rightly)
    for (size_t i = 0; i < c.size(); ++i)
      for (size_t j = 0; j < c.size(); ++j)
        if (i != j) inactive += c.node(i).count_events("node_inactive", c.node(j).node_id());
  };
  uint32_t pings_ids = 0, pings_roster = 0, vouched_ids = 0, vouched_roster = 0;
  size_t inactive_ids = 0, inactive_roster = 0;
  ASSERT_NO_FATAL_FAILURE(run(0, pings_ids, inactive_ids, vouched_ids));
  ASSERT_NO_FATAL_FAILURE(run(2, pings_roster, inactive_roster, vouched_roster));
  std::printf("[figure] a kBroadcast node whose table holds an extra member among 19 kDigest nodes, 20 periods: "
              "%u PINGs and %u entries vouched with DIGESTs, %u and %u with ROSTER_DIGESTs (false INACTIVE %zu, %zu)\n",
              pings_ids, vouched_ids, pings_roster, vouched_roster, inactive_ids, inactive_roster);
  EXPECT_EQ(inactive_roster, 0u);
  EXPECT_GE(vouched_roster, vouched_ids / 2) << "the DIGESTs' evidence reaches it";
}


}  // namespace
}  // namespace spore::sim
