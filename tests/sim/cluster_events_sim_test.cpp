// Cluster events (docs/events.md) end to end on the simulated network: fixed seeds, virtual
// time, 20 % loss (plus duplication and reordering). Asserts the contract: every event
// reaches every live node's subscribers exactly once, in per-sender order, across a restart of a
// publisher (new epoch, seq restarts at 1) without mixing its two streams.

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "keyed_cluster.h"
#include "sim/simulation.h"
#include "spore/events/cluster_events.h"

namespace spore::sim {
namespace {

using testing::KeyedCluster;

LinkProfile lossy() {
  LinkProfile p;
  p.loss = 0.20;
  p.delay_ms = 2;
  p.jitter_ms = 3;
  p.duplicate = 0.05;
  p.reorder = 0.05;
  return p;
}

std::string payload_of(size_t node, uint32_t epoch, uint32_t k) {
  return std::to_string(node) + ":" + std::to_string(epoch) + ":" + std::to_string(k);
}

// Publishes event number `k` (1-based) of node `i`'s current life.
void publish(Cluster& c, size_t i, uint32_t k) {
  ASSERT_TRUE(c.node(i).ctx().publish("test/event", payload_of(i, c.node(i).incarnation(), k))) << i;
}

// What receiver `r` delivered from (sender, epoch), in delivery order, during its life `life`.
std::vector<uint32_t> seqs_from(const SimNode& r, uint32_t sender, uint32_t epoch, uint32_t life) {
  std::vector<uint32_t> out;
  for (const ClusterEventRecord& e : r.cluster_events)
    if (e.sender_id == sender && e.epoch == epoch && e.receiver_incarnation == life) out.push_back(e.seq);
  return out;
}

std::vector<uint32_t> one_to(uint32_t n) {
  std::vector<uint32_t> v;
  for (uint32_t k = 1; k <= n; ++k) v.push_back(k);
  return v;
}

ClusterEventStats total_stats(Cluster& c) {
  ClusterEventStats t;
  for (size_t i = 0; i < c.size(); ++i) {
    const ClusterEventStats& s = c.node(i).membership().events().stats();
    t.delivered += s.delivered;
    t.duplicates += s.duplicates;
    t.out_of_order += s.out_of_order;
    t.lost += s.lost;
    t.requests_sent += s.requests_sent;
    t.resent += s.resent;
    t.digests_sent += s.digests_sent;
    t.stale += s.stale;
  }
  return t;
}

void print_stats(const char* what, Cluster& c) {
  const ClusterEventStats t = total_stats(c);
  std::printf("[figure] %s: %u delivered, %u duplicates dropped, %u out of order dropped, %u EVENT_REQ, %u re-sent, "
              "%u digests, %u lost, %u stale\n",
              what, t.delivered, t.duplicates, t.out_of_order, t.requests_sent, t.resent, t.digests_sent, t.lost,
              t.stale);
}

TEST(ClusterEventsSim, TenNodesAtTwentyPercentLossDeliverEveryEventOnceInOrder) {
  constexpr size_t kN = 10;
  constexpr uint32_t kK = 12;
  const Config cfg = Config::fast();
  KeyedCluster c(kN, cfg, 81);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5000));
  c.net().set_profile(lossy());
  // Interleaved publishing: every node, round after round, a little apart.
  for (uint32_t k = 1; k <= kK; ++k) {
    for (size_t i = 0; i < kN; ++i) {
      publish(c, i, k);
      c.run_for(7);
    }
  }
  // Everything repaired well within a few retry periods (2 x probe_timeout_ms = 200 ms here) and
  // the digest window (kDigestRepeats heartbeats = 1.5 s).
  const uint64_t t0 = c.now();
  auto all_delivered = [&] {
    for (size_t r = 0; r < kN; ++r)
      for (size_t s = 0; s < kN; ++s)
        if (seqs_from(c.node(r), c.node(s).node_id(), 1, 1).size() < kK) return false;
    return true;
  };
  ASSERT_TRUE(c.run_until(all_delivered, 10000, 10));
  std::printf("[figure] N=%zu, 20%% loss, %u events per node: all delivered everywhere %llu ms after the last publish\n",
              kN, kK, static_cast<unsigned long long>(c.now() - t0));
  c.run_for(3000);  // and nothing arrives twice later
  for (size_t r = 0; r < kN; ++r) {
    for (size_t s = 0; s < kN; ++s) {
      SCOPED_TRACE("receiver " + std::to_string(r) + " sender " + std::to_string(s));
      EXPECT_EQ(seqs_from(c.node(r), c.node(s).node_id(), 1, 1), one_to(kK));
    }
    // Payloads are the sender's, in order.
    std::map<uint32_t, uint32_t> next;
    for (const ClusterEventRecord& e : c.node(r).cluster_events) {
      const size_t s = e.sender_id - c.node(0).node_id();
      EXPECT_EQ(e.payload, payload_of(s, 1, ++next[e.sender_id]));
      EXPECT_EQ(e.topic, "test/event");
    }
    EXPECT_EQ(c.node(r).cluster_events.size(), kN * kK);
  }
  EXPECT_EQ(total_stats(c).lost, 0u);
  EXPECT_GT(total_stats(c).requests_sent, 0u);  // the loss really needed repair
  print_stats("N=10, 20% loss", c);
}

TEST(ClusterEventsSim, ARestartedPublisherStartsANewStreamWithoutMixUps) {
  constexpr size_t kN = 6;
  constexpr size_t kVictim = 2;
  const Config cfg = Config::fast();
  KeyedCluster c(kN, cfg, 82);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5000));
  c.net().set_profile(lossy());
  for (uint32_t k = 1; k <= 5; ++k) {
    for (size_t i = 0; i < kN; ++i) publish(c, i, k);
    c.run_for(50);
  }
  c.run_for(2000);
  c.crash(kVictim);
  for (uint32_t k = 6; k <= 8; ++k) {  // published while it is down
    for (size_t i = 0; i < kN; ++i)
      if (i != kVictim) publish(c, i, k);
    c.run_for(50);
  }
  c.run_for(cfg.inactive_after_ms);
  c.restart(kVictim);  // incarnation 2: epoch 2, its seq starts again at 1
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5000));
  for (uint32_t k = 1; k <= 4; ++k) {
    publish(c, kVictim, k);
    c.run_for(30);
  }
  for (uint32_t k = 9; k <= 10; ++k) {
    for (size_t i = 0; i < kN; ++i)
      if (i != kVictim) publish(c, i, k);
    c.run_for(50);
  }
  c.run_for(5000);

  const uint32_t victim_id = c.node(kVictim).node_id();
  for (size_t r = 0; r < kN; ++r) {
    if (r == kVictim) continue;
    SCOPED_TRACE("receiver " + std::to_string(r));
    // Both lives of the victim, each complete, in order, and the first entirely before the second.
    EXPECT_EQ(seqs_from(c.node(r), victim_id, 1, 1), one_to(5));
    EXPECT_EQ(seqs_from(c.node(r), victim_id, 2, 1), one_to(4));
    bool second_life = false;
    for (const ClusterEventRecord& e : c.node(r).cluster_events) {
      if (e.sender_id != victim_id) continue;
      if (e.epoch == 2) second_life = true;
      EXPECT_FALSE(second_life && e.epoch == 1) << "an event of the old stream after the new one began";
      EXPECT_EQ(e.payload, payload_of(kVictim, e.epoch, e.seq));
    }
    for (size_t s = 0; s < kN; ++s) {
      if (s != kVictim) {
        EXPECT_EQ(seqs_from(c.node(r), c.node(s).node_id(), 1, 1), one_to(10)) << "sender " << s;
      }
    }
  }
  // The restarted node: its own new events, and from each other node a gap-free run that ends
  // at the last event (what the senders' logs still held when it met their streams), once each.
  const SimNode& v = c.node(kVictim);
  EXPECT_EQ(seqs_from(v, victim_id, 2, 2), one_to(4));
  for (size_t s = 0; s < kN; ++s) {
    if (s == kVictim) continue;
    const std::vector<uint32_t> got = seqs_from(v, c.node(s).node_id(), 1, 2);
    ASSERT_FALSE(got.empty()) << s;
    EXPECT_EQ(got.back(), 10u) << s;
    for (size_t k = 1; k < got.size(); ++k) EXPECT_EQ(got[k], got[k - 1] + 1) << s;
  }
  EXPECT_EQ(total_stats(c).lost, 0u);
  print_stats("N=6, 20% loss, one publisher restarted", c);
}

}  // namespace
}  // namespace spore::sim
