// A late join into a settled cluster (issue 22, "Join"): the newcomer is ACTIVE everywhere, and
// everyone ACTIVE at the newcomer, within the seed's design's time (0.10 s at N=50 in spore-sim),
// while the answers reach it spread out (not all N-1 in one millisecond) and a power-on of the
// whole cluster still spreads its join broadcasts. Virtual time, fixed seeds.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "keyed_cluster.h"
#include "sim/simulation.h"

namespace spore::sim {
namespace {

using testing::KeyedCluster;

struct JoinRun {
  uint64_t join_ms = 0;         // start of the newcomer to "every node shows every node ACTIVE"
  uint64_t max_per_ms = 0;      // most datagrams the newcomer received in one millisecond
  uint64_t received = 0;        // datagrams the newcomer received until then
};

// N - 1 nodes settle (30 s), then node N - 1 starts; measured at 1 ms resolution.
JoinRun late_join(const Config& cfg, size_t n, uint64_t seed) {
  KeyedCluster c(n, cfg, seed);
  for (size_t i = 0; i + 1 < n; ++i) c.start(i);
  c.run_for(30000);
  EXPECT_TRUE(c.converged());
  const size_t joiner = n - 1;
  c.start(joiner);
  const uint64_t t0 = c.now();
  JoinRun r;
  uint64_t last = c.net().counters(joiner).datagrams_received;
  const bool done = c.run_until(
      [&] {
        const uint64_t now = c.net().counters(joiner).datagrams_received;
        r.max_per_ms = std::max(r.max_per_ms, now - last);
        last = now;
        return c.converged();
      },
      5000, 1);
  EXPECT_TRUE(done);
  r.join_ms = c.now() - t0;
  r.received = c.net().counters(joiner).datagrams_received;
  return r;
}

// Seed design in spore-sim: 100 ms at N=50 (docs/benchmarks.md); before issue 22 SPORE took
// 0.6-1.4 s (a 0..1 s start jitter on the first join ANNOUNCE, answers spread over 0..500 ms and
// sent at the 100 ms membership tick).
TEST(JoinSim, LateJoinOfOneIntoFiftyIsAsFastAsTheSeedDesign) {
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    const JoinRun r = late_join(Config::default_lan(), 50, seed);
    std::printf("[figure] lan N=50 seed %llu: late join converged in %llu ms, newcomer took %llu datagrams, at most "
                "%llu in one ms\n",
                static_cast<unsigned long long>(seed), static_cast<unsigned long long>(r.join_ms),
                static_cast<unsigned long long>(r.received), static_cast<unsigned long long>(r.max_per_ms));
    EXPECT_LE(r.join_ms, 100u) << "seed " << seed;
    // The answers are spread (a challenge, and an echo of an earlier one, per 1 ms slot), never
    // the 49 challenges at once; well within what one ESP8266 loop pass takes
    // (SPORE_UDP_DATAGRAMS_PER_PASS = 8).
    EXPECT_LE(r.max_per_ms, 4u) << "seed " << seed;
  }
  // The ESP-01 bed's size with the device profile: answers 2 ms apart.
  const JoinRun esp = late_join(Config::default_esp8266(), 32, 1);
  std::printf("[figure] esp8266 N=32: late join converged in %llu ms, newcomer took %llu datagrams, at most %llu in "
              "one ms\n",
              static_cast<unsigned long long>(esp.join_ms), static_cast<unsigned long long>(esp.received),
              static_cast<unsigned long long>(esp.max_per_ms));
  EXPECT_LE(esp.max_per_ms, 4u);
}

// tests/sim/scenarios/loss30_lan_20.scn's cluster (20 nodes, lan, 30 % loss, 2 + 0..5 ms delay)
// from power-on to full view, over its 24 seeds. Issue 19's gossip suppression left a pair whose
// handshake lost a datagram waiting for each other's heartbeats: 8.5 s mean, 15.0 s worst, 8
// seeds over 10 s (6.9 s / 15.0 s before issue 19). The join phase now goes on while strangers are
// heard (and an echo no longer waits behind a queued answer): 6.5 s mean, 10.5 s worst.
// That is broadcast liveness. With digest liveness (the hosts' default since it was measured better,
// docs/benchmarks.md) the same 24 seeds took 7.3 s mean, 22.4 s worst (seed 11; seed 4 12.1 s,
// every other seed under 10 s): a pair whose handshake lost a datagram no longer hears each
// other's heartbeat broadcasts, and a node whose join phase had used up kMaxJoinAnnounces could
// not re-announce when DIGESTs named members it lacked. Since they re-arm one (liveness.cpp):
// 6.8 s mean, 11.1 s worst (seeds 1-96: 6.6 s / 15.2 s, broadcast 6.8 s / 24.5 s), held to the
// broadcast design's 12 s.
void power_on_under_thirty_percent_loss(const Config& cfg, uint64_t within_ms) {
  uint64_t worst_ms = 0, sum_ms = 0;
  constexpr uint64_t kSeeds = 24;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    KeyedCluster c(20, cfg, seed);
    LinkProfile link;
    link.loss = 0.3;
    link.delay_ms = 2;
    link.jitter_ms = 5;
    c.net().set_profile(link);
    c.start_all();
    const uint64_t t0 = c.now();
    EXPECT_TRUE(c.run_until([&] { return c.converged(); }, within_ms, 100)) << "seed " << seed;
    worst_ms = std::max(worst_ms, c.now() - t0);
    sum_ms += c.now() - t0;
  }
  std::printf("[figure] lan %s N=20 at 30 %% loss, seeds 1-%llu: converged in %.1f s mean, %.1f s worst\n",
              cfg.liveness == Liveness::kDigest ? "digest" : "broadcast", static_cast<unsigned long long>(kSeeds),
              static_cast<double>(sum_ms) / kSeeds / 1000.0, static_cast<double>(worst_ms) / 1000.0);
}

TEST(JoinSim, PowerOnUnderThirtyPercentLossConvergesWithinTwelveSeconds) {
  power_on_under_thirty_percent_loss(Config::derive(Profile::kLan, Liveness::kBroadcast), 12000);
}

TEST(JoinSim, PowerOnUnderThirtyPercentLossWithDigestLivenessConvergesWithinTwelveSeconds) {
  power_on_under_thirty_percent_loss(Config::default_lan(), 12000);
}

// A power-on is not a late join: of 50 nodes started in the same millisecond only the few that
// send before they hear another's join ANNOUNCE go within the short first window; the first join
// heard puts every other node's first ANNOUNCE back over the start jitter (0..1 s), so the
// cluster does not broadcast in lock step (which would hand every node 49 join ANNOUNCEs, and
// then their challenges, within 31 ms), and it still converges within DESIGN.md's 2 s.
TEST(JoinSim, PowerOnOfFiftyDoesNotBroadcastInLockStep) {
  constexpr size_t kNodes = 50;
  constexpr uint64_t kWindowMs = 40;  // past the first window (start_jitter_max_ms / 32 = 31 ms)
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    KeyedCluster c(kNodes, Config::default_lan(), seed);
    c.start_all();
    const uint64_t t0 = c.now();
    c.run_for(kWindowMs);
    uint64_t received = 0;
    for (size_t i = 0; i < kNodes; ++i) received += c.net().counters(i).datagrams_received;
    const bool done = c.run_until([&] { return c.converged(); }, 2000 - kWindowMs);
    std::printf("[figure] lan N=50 seed %llu: power-on, %.1f datagrams per node in the first %llu ms; converged in "
                "%llu ms\n",
                static_cast<unsigned long long>(seed), static_cast<double>(received) / kNodes,
                static_cast<unsigned long long>(kWindowMs), static_cast<unsigned long long>(c.now() - t0));
    EXPECT_LE(received, kNodes * 15) << "seed " << seed << ": the first join ANNOUNCEs went in lock step";
    EXPECT_TRUE(done) << "seed " << seed;
  }
}

}  // namespace
}  // namespace spore::sim
