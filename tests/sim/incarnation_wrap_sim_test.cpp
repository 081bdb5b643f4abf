// Issue 18, finding 2, end to end on the simulated network: a node restarts past the old 16-bit
// boot limit (boot 65,535 -> 65,536: incarnation 0xFFFF0000 -> 0, core/spore/base/incarnation.h).
// Its peers must take it as a restart (not a stale life), and the events it publishes after the
// restart (a new stream, seq from 1 again) must be delivered, not dropped as duplicates or stale.
// Before serial arithmetic, incarnation 0 was "older" than 0xFFFF0000: every datagram of the new
// life was dropped as stale and the node never came back.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "keyed_cluster.h"
#include "sim/simulation.h"
#include "spore/base/incarnation.h"

namespace spore::sim {
namespace {

using testing::KeyedCluster;

std::vector<uint32_t> seqs_from(const SimNode& r, uint32_t sender, uint32_t epoch) {
  std::vector<uint32_t> out;
  for (const ClusterEventRecord& e : r.cluster_events)
    if (e.sender_id == sender && e.epoch == epoch) out.push_back(e.seq);
  return out;
}

TEST(IncarnationWrapSim, ARestartPastBoot65535IsARestartAndItsEventsAreDelivered) {
  constexpr size_t kN = 4;
  constexpr size_t kVictim = 1;
  const Config cfg = Config::fast();
  KeyedCluster c(kN, cfg, 1218);
  const uint32_t before = incarnation_for_boot(0xFFFF);
  const uint32_t after = incarnation_for_boot(0x10000);
  ASSERT_EQ(after, 0u);
  c.start(kVictim, before);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5000));
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(c.node(kVictim).ctx().publish("test/event", "old life"));
    c.run_for(50);
  }
  c.run_for(1000);
  c.crash(kVictim);
  c.run_for(cfg.inactive_after_ms);
  c.start(kVictim, after);
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5000)) << "peers did not take the wrapped incarnation";
  const uint32_t victim_id = c.node(kVictim).node_id();
  for (size_t r = 0; r < kN; ++r) {
    if (r == kVictim) continue;
    const Member* m = c.node(r).ctx().members().find(victim_id);
    ASSERT_NE(m, nullptr) << r;
    EXPECT_EQ(m->incarnation, after) << r;
  }
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(c.node(kVictim).ctx().publish("test/event", "new life"));
    c.run_for(50);
  }
  c.run_for(2000);
  for (size_t r = 0; r < kN; ++r) {
    if (r == kVictim) continue;
    SCOPED_TRACE("receiver " + std::to_string(r));
    EXPECT_EQ(seqs_from(c.node(r), victim_id, before), (std::vector<uint32_t>{1, 2, 3}));
    EXPECT_EQ(seqs_from(c.node(r), victim_id, after), (std::vector<uint32_t>{1, 2, 3}));
    EXPECT_EQ(c.node(r).membership().events().stats().lost, 0u);
  }
}

}  // namespace
}  // namespace spore::sim
