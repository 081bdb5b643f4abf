// ROSTER_DIGEST (docs/protocol.md §4.16; core/spore/cluster/liveness.cpp): the DIGEST chain's
// evidence as one age per member by position in the sorted table, with the table's hash. By
// default only a table larger than one DIGEST uses it (more than 100 members, a build with
// SPORE_MAX_MEMBERS raised: bench/liveness_sim.sh at N=200); Config::roster_digest_min_members
// brings it down to the 20 nodes these tests run, on the simulated network with fixed seeds.

#include <gtest/gtest.h>

#include <cstdio>

#include "keyed_cluster.h"
#include "sim/simulation.h"

namespace spore::sim {
namespace {

using testing::KeyedCluster;
using testing::failure_events;

Config roster_config(uint16_t min_members) {
  Config cfg = Config::fast().with_digest_liveness();
  cfg.roster_digest_min_members = min_members;
  return cfg;
}

uint64_t sum(Cluster& c, uint32_t MembershipStats::*field) {
  uint64_t n = 0;
  for (size_t i = 0; i < c.size(); ++i) n += c.node(i).membership().stats().*field;
  return n;
}

uint64_t rosters_received(Cluster& c) {
  uint64_t n = 0;
  for (size_t i = 0; i < c.size(); ++i)
    n += c.node(i).membership().stats().received_by_type[static_cast<size_t>(wire::MessageType::kRosterDigest)];
  return n;
}

// Received IP bytes per node per second over a quiet minute after convergence.
double received_bytes_per_node_per_s(KeyedCluster& c) {
  c.net().reset_counters();
  constexpr uint64_t kQuietMs = 60000;
  c.run_for(kQuietMs);
  uint64_t bytes = 0;
  for (size_t i = 0; i < c.size(); ++i) bytes += c.net().counters(i).bytes_received;
  return static_cast<double>(bytes) / static_cast<double>(c.size()) / (kQuietMs / 1000.0);
}

TEST(RosterDigestSim, AgesByPositionKeepEveryoneActiveForFewerBytesAndACrashIsStillSeen) {
  const Config roster = roster_config(2);
  KeyedCluster c(20, roster, 11);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 10000));
  c.run_for(20000);
  const uint64_t mismatched = sum(c, &MembershipStats::rosters_mismatched);
  const uint64_t vouched = sum(c, &MembershipStats::vouched);
  const double roster_bps = received_bytes_per_node_per_s(c);
  EXPECT_EQ(failure_events(c), 0u);
  EXPECT_TRUE(c.converged());
  EXPECT_GT(rosters_received(c), 19u * 100) << "one ROSTER_DIGEST a period reaches the other 19";
  EXPECT_EQ(sum(c, &MembershipStats::rosters_mismatched), mismatched) << "steady tables agree";
  EXPECT_GT(sum(c, &MembershipStats::vouched), vouched + 19u * 18 * 100) << "its ages are taken";

  // The same cluster with the ids: more bytes for the same evidence.
  KeyedCluster ids(20, Config::fast().with_digest_liveness(), 11);
  ids.start_all();
  ASSERT_TRUE(ids.run_until([&] { return ids.converged(); }, 10000));
  ids.run_for(20000);
  const double ids_bps = received_bytes_per_node_per_s(ids);
  EXPECT_EQ(rosters_received(ids), 0u) << "20 members fit one DIGEST: no roster by default";
  std::printf("[figure] N=20 fast digest: %.0f B/s received per node with ROSTER_DIGEST, %.0f with DIGEST\n",
              roster_bps, ids_bps);
  EXPECT_LT(roster_bps, ids_bps);

  const size_t victim = 7;
  c.crash(victim);
  const uint64_t t_crash = c.now();
  ASSERT_TRUE(c.run_until([&] { return c.all_see(victim, MemberStatus::kInactive); },
                          roster.inactive_after_ms + roster.status_interval_ms));
  EXPECT_GE(c.now() - t_crash + roster.heartbeat_interval_ms, roster.inactive_after_ms)
      << "no observer believed the victim dead before its evidence could have aged out";
}

TEST(RosterDigestSim, AJoinerWhoseTableDiffersAsksForTheIdsAndNobodyIsFalselyInactive) {
  const Config roster = roster_config(2);
  KeyedCluster c(20, roster, 12);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 10000));
  c.run_for(10000);
  const uint64_t mismatched = sum(c, &MembershipStats::rosters_mismatched);
  // Joins under 20 % loss: a handshake that loses a datagram leaves the joiner unknown to some
  // members for a while (and them to it), so tables differ across several periods.
  LinkProfile lossy;
  lossy.loss = 0.20;
  lossy.delay_ms = 2;
  lossy.jitter_ms = 3;
  c.net().set_profile(lossy);
  for (int joiner = 0; joiner < 4; ++joiner) {
    const size_t i = c.add_node(roster);
    c.set_key_hex(testing::kKey);
    c.start(i);
    ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 30000)) << "joiner " << joiner;
    c.run_for(3000);
  }
  c.run_for(30000);
  // While a joiner's table (or the others', about it) differed, rosters did not match: the ids
  // were asked for instead (DIGEST_REQ, answered with a DIGEST), and nobody lost evidence long
  // enough to be called INACTIVE.
  const uint64_t mismatches = sum(c, &MembershipStats::rosters_mismatched) - mismatched;
  std::printf("[figure] 4 joins into 20 at 20%% loss: %llu ROSTER_DIGESTs of another roster\n",
              static_cast<unsigned long long>(mismatches));
  EXPECT_GT(mismatches, 0u);
  EXPECT_EQ(failure_events(c), 0u);
  EXPECT_TRUE(c.converged());
  EXPECT_GT(rosters_received(c), 0u);
}

TEST(RosterDigestSim, ANodeWhoseTableHoldsAnExtraMemberAsksEveryRoundAndLosesNoEvidence) {
  // Node 3 alone holds a member the others never heard of (as after gossip that reached only it):
  // no roster matches there until that member is forgotten. Each round it asks the sender for the
  // DIGEST with ids; without that answer it would have no evidence of anyone and call all INACTIVE.
  const Config roster = roster_config(2);
  KeyedCluster c(20, roster, 14);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 10000));
  c.run_for(5000);
  const size_t odd = 3;
  const MembershipStats& stats = c.node(odd).membership().stats();
  const uint32_t mismatched = stats.rosters_mismatched;
  const uint32_t pings = stats.sent_by_type[static_cast<size_t>(wire::MessageType::kPing)];
  ASSERT_TRUE(testing::add_ghost(c, odd));
  c.run_for(20 * roster.heartbeat_interval_ms);
  EXPECT_GE(stats.rosters_mismatched, mismatched + 15u);
  // Its PINGs: the latency probe (one per 4 periods) and the ghost's probes. Without the DIGEST it
  // asks for, every member would age past suspect_after_ms each round and be probed (245 PINGs).
  const uint32_t sent_pings = stats.sent_by_type[static_cast<size_t>(wire::MessageType::kPing)] - pings;
  std::printf("[figure] a table with an extra member: %u PINGs in 20 periods\n", sent_pings);
  EXPECT_LT(sent_pings, 40u);
  for (size_t j = 0; j < c.size(); ++j) {
    if (j == odd) continue;
    EXPECT_EQ(c.node(odd).count_events("node_inactive", c.node(j).node_id()), 0u) << "about " << j;
  }
  EXPECT_TRUE(c.converged());
}

TEST(RosterDigestSim, TenPercentLossRaisesNoFalseAlarm) {
  KeyedCluster c(20, roster_config(2), 13);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 10000));
  LinkProfile lossy;
  lossy.loss = 0.10;
  lossy.delay_ms = 2;
  lossy.jitter_ms = 3;
  c.net().set_profile(lossy);
  c.run_for(3 * 60 * 1000);
  EXPECT_EQ(failure_events(c), 0u);
  EXPECT_TRUE(c.converged());
  EXPECT_GT(rosters_received(c), 0u);
}

}  // namespace
}  // namespace spore::sim
