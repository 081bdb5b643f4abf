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
    ASSERT_TRUE(testing::add_ghost(c, odd));
    const uint32_t pings0 = stats.sent_by_type[static_cast<size_t>(wire::MessageType::kPing)];
    const uint32_t mismatched0 = stats.rosters_mismatched;
    uint32_t seq = 0x40000000u;
    for (uint32_t t = 0; t < 20 * cfg.heartbeat_interval_ms; t += cfg.heartbeat_interval_ms / 2) {
      if (attack) {
        const std::vector<uint8_t> b = forged_roster(testing::kGhostId, 1, ++seq, read_wire(eve, 0).round);
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
    ASSERT_TRUE(testing::add_ghost(c, odd));
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


// Finding A1 (open mode). One forged ROSTER_DIGEST broadcast in member V's name makes every
// node that runs the chain send V a DIGEST_REQ, and V answers each with a DIGEST of every member:
// a single frame on the medium aims the cluster's requests at V and V's answers at the cluster
// (N=30: 286 requests and 286 answers for 10 forgeries, 124.8x eve's bytes, before the expected-
// sender rule; in the name of the member the chain expects, still 126.5x).
// A forged DIGEST_REQ (finding D6) needs one frame per node for the same. It works with the
// default Config (no honest node sends a ROSTER_DIGEST below 101 members), since every kDigest
// node takes one. Eve broadcasts `per_period` forgeries a period for 10 periods, in V's name
// (`name_next`: V is whoever the newest DIGEST on the wire names next, the member the chain
// expects). Returns the bytes drawn (requests to V, V's answers) per byte eve sent.
struct Drawn {
  double ratio = 0;
  uint64_t requests = 0, answers = 0, eve_bytes = 0;
};
Drawn forged_rosters_draw(bool name_next, int per_period) {
  const Config cfg = Config::fast().with_digest_liveness();
  Cluster c(30, cfg, 21);  // open mode: no key
  SimAdversary eve(c.net(), c.clock(), kEveIp, cfg.udp_port);
  eve.tap_all();
  start_settled(c, 3000);
  Drawn r;
  uint64_t drawn_bytes = 0;
  uint32_t victim_id = c.node(0).node_id();
  c.net().filter = [&](size_t from, size_t to, const uint8_t* data, size_t size) {
    if (size < wire::kHeaderBytes) return true;
    const uint32_t dest = be32(data + 17);
    if (to < c.size() && c.node(to).node_id() == victim_id && data[3] == static_cast<uint8_t>(wire::MessageType::kDigestReq)) {
      drawn_bytes += size;
      ++r.requests;
    }
    if (from < c.size() && c.node(from).node_id() == victim_id && dest != 0 &&
        data[3] == static_cast<uint8_t>(wire::MessageType::kDigest)) {
      drawn_bytes += size;
      ++r.answers;
    }
    return true;
  };
  for (int k = 0; k < 10 * per_period; ++k) {
    if (name_next) {
      for (const Captured& d : eve.captured())
        if (d.broadcast && d.src_ip != kEveIp && (d.is(wire::MessageType::kDigest) || d.is(wire::MessageType::kRosterDigest)))
          victim_id = be32(d.bytes.data() + wire::kHeaderBytes + 4);
    }
    size_t v = 0;
    while (v < c.size() && c.node(v).node_id() != victim_id) ++v;
    if (v == c.size()) {
      ADD_FAILURE() << "no member " << victim_id;
      return r;
    }
    const OnTheWire w = read_wire(eve, victim_id);
    const std::vector<uint8_t> b = forged_roster(victim_id, c.node(v).ctx().self().incarnation, w.seq + 1, w.round);
    c.net().broadcast(eve.endpoint(), cfg.udp_port, b.data(), b.size());
    r.eve_bytes += b.size();
    c.run_for(cfg.heartbeat_interval_ms / per_period);
  }
  c.run_for(cfg.heartbeat_interval_ms);
  c.net().filter = nullptr;
  r.ratio = static_cast<double>(drawn_bytes) / static_cast<double>(r.eve_bytes);
  return r;
}

TEST(RosterDigestAttackSim, ForgedRostersDrawAtMostOneAnswerPerNodeAPeriod) {
  const Drawn fixed = forged_rosters_draw(false, 1), next = forged_rosters_draw(true, 1),
              flood = forged_rosters_draw(true, 10);
  std::printf("[figure] forged ROSTER_DIGEST broadcasts, N=30, 10 periods: in a fixed member's name, 1 a period: "
              "%llu DIGEST_REQs, %llu answers, %.1fx eve's bytes; in the expected sender's name: %llu, %llu, %.1fx; "
              "10 a period: %llu, %llu, %.1fx\n",
              (unsigned long long)fixed.requests, (unsigned long long)fixed.answers, fixed.ratio,
              (unsigned long long)next.requests, (unsigned long long)next.answers, next.ratio,
              (unsigned long long)flood.requests, (unsigned long long)flood.answers, flood.ratio);
  EXPECT_LE(fixed.ratio, 1.0) << "a roster in the name of a member the chain does not expect draws nothing";
  // In the expected sender's name it still draws every node's request (residual, docs/security.md),
  // but one answer per node a period however many are forged: 10 periods and the one after.
  EXPECT_LE(next.answers, 29u * 11);
  EXPECT_LE(flood.answers, 29u * 11);
}

// What held (keyed cluster, keyless LAN peer): finding D1 with ROSTER_DIGESTs. Node X loses two
// periods of ROSTER_DIGESTs; eve keeps the copies, waits until a crashed victim is INACTIVE
// everywhere and X is the chain's next sender, and replays them into X. They are fresh to X's
// replay window, but more than a round behind: their ages are ignored (`digests_stale`), and the
// victim comes back nowhere.
TEST(RosterDigestAttackSim, ALostRosterReplayedLateRevivesACrashedNodeNowhere) {
  Config cfg = Config::fast().with_digest_liveness();
  cfg.roster_digest_min_members = 2;
  KeyedCluster c(8, cfg, 11);
  SimAdversary eve(c.net(), c.clock(), kEveIp, cfg.udp_port);
  eve.tap_all();
  ASSERT_NO_FATAL_FAILURE(start_settled(c, 5000));
  const size_t x = 2, victim = 5;
  const uint32_t x_id = c.node(x).node_id(), victim_id = c.node(victim).node_id();
  const uint8_t kRoster = static_cast<uint8_t>(wire::MessageType::kRosterDigest);
  bool lossy = true;
  c.net().filter = [&](size_t, size_t to, const uint8_t* data, size_t size) {
    return !(lossy && to == x && size > 3 && data[3] == kRoster);
  };
  const uint64_t lost_from = c.now();
  c.run_for(2 * cfg.heartbeat_interval_ms);
  lossy = false;
  std::vector<const Captured*> lost;
  for (const Captured& d : eve.captured())
    if (d.at_ms >= lost_from && d.broadcast && d.is(wire::MessageType::kRosterDigest) && d.sender() != x_id &&
        d.dst_ip == c.node(0).ip())
      lost.push_back(&d);
  ASSERT_FALSE(lost.empty());
  c.crash(victim);
  ASSERT_TRUE(c.run_until([&] { return c.all_see(victim, MemberStatus::kInactive); },
                          cfg.inactive_after_ms + cfg.status_interval_ms + 500));
  const auto x_is_next = [&] {
    for (auto it = eve.captured().rbegin(); it != eve.captured().rend(); ++it)
      if (it->broadcast && it->is(wire::MessageType::kRosterDigest))
        return be32(it->bytes.data() + wire::kHeaderBytes + 4) == x_id;
    return false;
  };
  ASSERT_TRUE(c.run_until(x_is_next, 20 * cfg.heartbeat_interval_ms, 1));
  const uint32_t stale0 = c.node(x).membership().stats().digests_stale;
  for (const Captured* d : lost) eve.replay(*d, c.node(x).ip(), cfg.udp_port);
  const uint64_t replayed_at = c.now();
  c.run_for(2 * cfg.inactive_after_ms);
  size_t revived = 0;
  for (size_t i = 0; i < c.size(); ++i)
    for (const EventRecord& e : c.node(i).events)
      if (i != victim && e.node_id == victim_id && e.topic == "node_recovered" && e.at_ms >= replayed_at) ++revived;
  const uint32_t stale = c.node(x).membership().stats().digests_stale - stale0;
  std::printf("[figure] %zu lost ROSTER_DIGESTs replayed into the next sender after a crash was INACTIVE everywhere: "
              "%u taken as late, the crashed node recovered at %zu member(s)\n",
              lost.size(), stale, revived);
  EXPECT_EQ(stale, lost.size());
  EXPECT_EQ(revived, 0u);
}

// What held: a mixed cluster, half the nodes sending ROSTER_DIGESTs (roster_digest_min_members 2),
// half explicit DIGESTs (the default), at 10 % loss for 2 minutes: each takes the other's form, and
// nobody is called INACTIVE.
TEST(RosterDigestAttackSim, AClusterHalfOnRostersHalfOnIdsRaisesNoFalseAlarm) {
  Config roster = Config::fast().with_digest_liveness();
  roster.roster_digest_min_members = 2;
  KeyedCluster c(10, roster, 17);
  for (int i = 0; i < 10; ++i) c.add_node(Config::fast().with_digest_liveness());
  c.set_key_hex(testing::kKey);
  ASSERT_NO_FATAL_FAILURE(start_settled(c, 3000));
  LinkProfile lossy;
  lossy.loss = 0.10;
  lossy.delay_ms = 2;
  lossy.jitter_ms = 3;
  c.net().set_profile(lossy);
  c.run_for(2 * 60 * 1000);
  uint64_t rosters = 0, mismatched = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    rosters += c.node(i).membership().stats().received_by_type[static_cast<size_t>(wire::MessageType::kRosterDigest)];
    mismatched += c.node(i).membership().stats().rosters_mismatched;
  }
  std::printf("[figure] 10 nodes on rosters, 10 on ids, 10%% loss, 2 min: %llu ROSTER_DIGESTs received, %llu of "
              "another roster, %zu failure events\n",
              (unsigned long long)rosters, (unsigned long long)mismatched, failure_events(c));
  EXPECT_GT(rosters, 0u);
  EXPECT_EQ(failure_events(c), 0u);
  EXPECT_TRUE(c.converged());
}

}  // namespace
}  // namespace spore::sim
