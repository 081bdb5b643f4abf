// The DIGEST chain (Config::liveness kDigest, core/spore/cluster/liveness.cpp; docs/protocol.md
// §11.12) on the simulated network: fixed seeds, virtual time. What it must keep from the
// broadcast design (detection at inactive_after_ms everywhere, no false alarms) and what it is for
// (received datagrams per node flat in N).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "keyed_cluster.h"
#include "sim/sim_adversary.h"
#include "sim/simulation.h"

namespace spore::sim {
namespace {

using testing::KeyedCluster;
using testing::failure_events;


uint64_t digests_sent(Cluster& c) {
  uint64_t n = 0;
  for (size_t i = 0; i < c.size(); ++i) n += c.node(i).membership().stats().digests_sent;
  return n;
}

// Received datagrams per node per second over a quiet minute after convergence.
double received_per_node_per_s(const Config& cfg, size_t n, uint64_t seed) {
  KeyedCluster c(n, cfg, seed);
  c.start_all();
  EXPECT_TRUE(c.run_until([&] { return c.converged(); }, 10000));
  c.run_for(30000);  // past the join phase and the first periodic ANNOUNCEs
  c.net().reset_counters();
  constexpr uint64_t kQuietMs = 60000;
  c.run_for(kQuietMs);
  EXPECT_EQ(failure_events(c), 0u);
  uint64_t received = 0;
  for (size_t i = 0; i < n; ++i) received += c.net().counters(i).datagrams_received;
  return static_cast<double>(received) / static_cast<double>(n) / (kQuietMs / 1000.0);
}

TEST(LivenessSim, DigestModeReceivesAboutAsManyDatagramsAtFortyNodesAsAtTen) {
  for (const Config& cfg : {Config::fast(), Config::default_lan()}) {  // digest: the hosts' default
    ASSERT_EQ(cfg.liveness, Liveness::kDigest);
    const double at10 = received_per_node_per_s(cfg, 10, 1);
    const double at40 = received_per_node_per_s(cfg, 40, 1);
    std::printf("[figure] digest mode, heartbeat %u ms: %.2f datagrams/s received per node at N=10, %.2f at N=40\n",
                cfg.heartbeat_interval_ms, at10, at40);
    EXPECT_LT(at40, 1.5 * at10);
  }
  // The broadcast design on the same network grows with N (so the measure can tell them apart).
  const Config broadcast = Config::derive(Profile::kFast, Liveness::kBroadcast);
  const double b10 = received_per_node_per_s(broadcast, 10, 1);
  const double b40 = received_per_node_per_s(broadcast, 40, 1);
  EXPECT_GT(b40, 3 * b10);
}

TEST(LivenessSim, DigestModeCrashIsInactiveEverywhereAtTheThreshold) {
  const Config cfg = Config::fast().with_digest_liveness();
  KeyedCluster c(20, cfg, 2);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 10000));
  c.run_for(10000);
  ASSERT_GT(digests_sent(c), 0u) << "the chain runs";
  const size_t victim = 5;
  c.crash(victim);
  const uint64_t t_crash = c.now();
  ASSERT_TRUE(c.run_until([&] { return c.all_see(victim, MemberStatus::kInactive); },
                          cfg.inactive_after_ms + cfg.status_interval_ms));
  std::printf("[figure] digest mode: crash INACTIVE at all 19 peers after %llu ms (threshold %u)\n",
              static_cast<unsigned long long>(c.now() - t_crash), cfg.inactive_after_ms);
  // Relayed evidence carries its age: nobody calls the victim INACTIVE before its last heartbeat
  // could have aged past the threshold.
  const uint32_t id = c.node(victim).node_id();
  for (size_t i = 0; i < c.size(); ++i) {
    for (const EventRecord& e : c.node(i).events) {
      if (e.node_id == id && e.topic == "node_inactive") {
        EXPECT_GE(e.at_ms + cfg.heartbeat_interval_ms, t_crash + cfg.inactive_after_ms) << i;
      }
    }
  }
  EXPECT_EQ(failure_events(c), c.size() - 1) << "only the victim, once at each peer";
}

TEST(LivenessSim, TheChainOutlivesItsSendersCrashing) {
  // Crashes at random moments hit the chain's next and backup senders too; the survivors must keep
  // each other ACTIVE throughout (the backup, the restart, the broadcast fallback).
  const Config cfg = Config::fast().with_digest_liveness();
  KeyedCluster c(16, cfg, 3);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 10000));
  c.run_for(5000);
  for (size_t victim = 0; victim < 6; ++victim) {
    c.crash(victim);
    c.run_for(cfg.heartbeat_interval_ms * 3 / 2 + 37 * victim);
  }
  const uint64_t chain_before = digests_sent(c);
  c.run_for(cfg.dead_after_ms + 2000);
  for (size_t i = 6; i < c.size(); ++i) {
    for (size_t j = 6; j < c.size(); ++j) {
      if (i == j) continue;
      EXPECT_EQ(c.node(i).count_events("node_inactive", c.node(j).node_id()), 0u) << i << " about " << j;
    }
  }
  EXPECT_TRUE(c.converged());
  EXPECT_GT(digests_sent(c), chain_before + 10) << "a chain runs again among the survivors";
}

TEST(LivenessSim, TenPercentLossRaisesNoFalseAlarm) {
  const Config cfg = Config::fast().with_digest_liveness();
  KeyedCluster c(20, cfg, 7);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 10000));
  LinkProfile lossy;
  lossy.loss = 0.10;
  lossy.delay_ms = 2;
  lossy.jitter_ms = 3;
  c.net().set_profile(lossy);
  c.run_for(5 * 60 * 1000);
  uint32_t pulled = 0;
  for (size_t i = 0; i < c.size(); ++i) pulled += c.node(i).membership().stats().digests_pulled;
  std::printf("[figure] digest mode, N=20, 10%% loss, 5 min: %u DIGESTs sent on request\n", pulled);
  EXPECT_GT(pulled, 0u) << "lost DIGESTs are asked for";
  EXPECT_EQ(failure_events(c), 0u);
  EXPECT_TRUE(c.converged());
}

TEST(LivenessSim, BroadcastAndDigestNodesUnderstandEachOther) {
  // A cluster being switched node by node: some still broadcast, the rest run the chain.
  const Config digest = Config::fast();
  ASSERT_EQ(digest.liveness, Liveness::kDigest);
  KeyedCluster c(10, digest, 4);
  // Pinned: the broadcasting nodes (ESP8266s, or hosts not switched yet) run kBroadcast.
  for (size_t i = 0; i < 4; ++i) c.add_node(Config::derive(Profile::kFast, Liveness::kBroadcast));
  c.set_key_hex(testing::kKey);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 10000));
  c.run_for(20000);
  const auto backup_rounds = [&c] {
    uint32_t n = 0;
    for (size_t i = 0; i < c.size(); ++i) n += c.node(i).membership().stats().digests_as_backup;
    return n;
  };
  const uint32_t backup_before = backup_rounds();
  const uint64_t chain_before = digests_sent(c);
  c.run_for(60000);
  EXPECT_EQ(failure_events(c), 0u);
  EXPECT_TRUE(c.converged());
  // One round per period (120 in 60 s): the broadcasting nodes are never named to send a DIGEST
  // they would not send (the chain would stall at each of them until a backup or a restart).
  EXPECT_GE(digests_sent(c), chain_before + 110) << "the chain runs among the digest nodes";
  EXPECT_EQ(backup_rounds(), backup_before);
  std::printf("[figure] mixed cluster: %llu DIGEST rounds in 60 s, %u by a backup\n",
              static_cast<unsigned long long>(digests_sent(c) - chain_before), backup_rounds() - backup_before);
}

TEST(LivenessSim, AReplayedDigestDoesNotKeepACrashedNodeActive) {
  // Ages count from when a DIGEST was sent. Eve keeps the DIGESTs a partitioned node missed (so
  // its replay window has never seen them) and plays them to it after a member crashed: applied,
  // they would make the crashed member's old evidence look fresh.
  const Config cfg = Config::fast().with_digest_liveness();
  KeyedCluster c(5, cfg, 11);
  SimAdversary eve(c.net(), c.clock(), 0x0A00F001, cfg.udp_port);
  eve.tap_all();
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 10000));
  c.run_for(3000);
  const size_t victim = 0, target = 2;
  c.net().partition({{c.node(0).endpoint(), c.node(1).endpoint(), c.node(3).endpoint(), c.node(4).endpoint(),
                       eve.endpoint()},
                      {c.node(target).endpoint()}});
  const uint64_t cut = c.now();
  c.run_for(1200);
  c.net().heal();
  const auto missed = eve.captured_where([&](const Captured& d) {
    return d.is(wire::MessageType::kDigest) && d.broadcast && d.at_ms >= cut && d.sender() != c.node(victim).node_id();
  });
  ASSERT_GE(missed.size(), 1u);
  c.run_for(300);  // the target hears the chain again
  c.crash(victim);
  const uint64_t t_crash = c.now();
  c.run_for(1000);
  uint32_t sent = 0;
  std::vector<std::vector<uint8_t>> seen;  // one copy of each broadcast
  for (const Captured* d : missed) {
    if (std::find(seen.begin(), seen.end(), d->bytes) != seen.end()) continue;
    seen.push_back(d->bytes);
    eve.replay(*d, c.node(target).ip(), cfg.udp_port);
    ++sent;
    c.run_for(100);
  }
  ASSERT_GE(sent, 1u);
  ASSERT_TRUE(c.run_until([&] { return c.all_see(victim, MemberStatus::kInactive); },
                          cfg.inactive_after_ms + cfg.status_interval_ms));
  EXPECT_LE(c.now() - t_crash, uint64_t{cfg.inactive_after_ms} + cfg.status_interval_ms);
  EXPECT_GE(c.node(target).membership().stats().digests_stale, sent) << "every replay was history";
}

}  // namespace
}  // namespace spore::sim
