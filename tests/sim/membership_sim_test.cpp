// Membership protocol on the simulated network (platform/sim): fixed seeds, virtual time,
// behaviour asserted, never wall-clock speed. Figures worth keeping are printed (virtual ms,
// bytes per node per second) for docs/protocol.md §11.

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "keyed_cluster.h"
#include "sim/simulation.h"

namespace spore::sim {
namespace {

using testing::KeyedCluster;
using testing::failure_events;

// Events of `topic` about node `subject` seen by every up node except the subject.
size_t events_about(Cluster& c, size_t subject, const std::string& topic) {
  size_t n = 0;
  for (size_t i = 0; i < c.size(); ++i)
    if (i != subject) n += c.node(i).count_events(topic, c.node(subject).node_id());
  return n;
}


uint64_t info_datagrams(Cluster& c) {
  uint64_t n = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    const MembershipStats& s = c.node(i).membership().stats();
    n += s.sent_by_type[static_cast<size_t>(wire::MessageType::kInfo)] +
         s.sent_by_type[static_cast<size_t>(wire::MessageType::kInfoReq)];
  }
  return n;
}

// Bound: each node's first (join) ANNOUNCE leaves within the scheduler's start jitter,
// min(discovery_interval_ms, start_jitter_max_ms) = 1 s, and reaches everybody one network delay
// later (1 ms here); the replies it asked for come within discovery_interval_ms / 2. So every
// node knows every other within ~1.5 s; 2 s is the DESIGN.md budget.
// Both liveness modes of the lan profile: digest (the hosts' default) and broadcast (the traffic
// formula of docs/protocol.md §11.8, and the ESP8266's design).
void fifty_nodes_within_the_traffic_budget(const Config& cfg) {
  const char* mode = cfg.liveness == Liveness::kDigest ? "digest" : "broadcast";
  KeyedCluster c(50, cfg, 1);
  c.start_all();
  const uint64_t t0 = c.now();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 2000));
  std::printf("[figure] 50 nodes (lan profile, %s) converged in %llu ms virtual\n", mode,
              static_cast<unsigned long long>(c.now() - t0));
  // Every node also gets every peer's API list and resources (INFO) soon after.
  ASSERT_TRUE(c.run_until(
      [&] {
        for (size_t i = 0; i < c.size(); ++i) {
          bool ok = true;
          c.node(i).ctx().members().for_each([&](const Member& m) {
            ok = ok && c.node(i).ctx().members().api_count(m) == 1 && m.resources.chip_id == m.node_id;
          });
          if (!ok) return false;
        }
        return true;
      },
      10000));
  // Steady state: one quiet minute, measured.
  c.run_for(20000);
  c.net().reset_counters();
  const uint64_t info_before = info_datagrams(c);
  constexpr uint64_t kQuietMs = 60000;
  c.run_for(kQuietMs);
  EXPECT_EQ(info_datagrams(c), info_before) << "INFO traffic must stop once details are in sync";
  double max_rx = 0, max_tx = 0, sum_rx = 0, sum_tx = 0, dgrams_tx = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    const TrafficCounters& t = c.net().counters(i);
    max_rx = std::max(max_rx, static_cast<double>(t.bytes_received));
    max_tx = std::max(max_tx, static_cast<double>(t.bytes_sent));
    sum_rx += static_cast<double>(t.bytes_received);
    sum_tx += static_cast<double>(t.bytes_sent);
    dgrams_tx += static_cast<double>(t.datagrams_sent);
  }
  const double secs = static_cast<double>(kQuietMs) / 1000.0;
  std::printf("[figure] N=50 lan %s, keyed, steady state per node: rx %.0f B/s (max %.0f), tx %.0f B/s (max %.0f), "
              "%.2f datagrams/s sent\n",
              mode, sum_rx / secs / 50, max_rx / secs, sum_tx / secs / 50, max_tx / secs, dgrams_tx / secs / 50);
  EXPECT_LE(max_rx / secs, 1000.0);
  EXPECT_LE(max_tx / secs, 200.0);
  EXPECT_TRUE(c.converged());
  EXPECT_EQ(failure_events(c), 0u);
}

TEST(MembershipSim, FiftyNodesConvergeAndStayWithinTheTrafficBudget) {
  fifty_nodes_within_the_traffic_budget(Config::default_lan());
  fifty_nodes_within_the_traffic_budget(Config::derive(Profile::kLan, Liveness::kBroadcast));
}

void crash_is_detected(const Config& cfg, uint64_t seed, size_t n) {
  KeyedCluster c(n, cfg, seed);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5000));
  c.run_for(3000);
  const size_t victim = 3;
  const uint32_t id = c.node(victim).node_id();
  c.crash(victim);
  const uint64_t t_crash = c.now();
  ASSERT_TRUE(c.run_until([&] { return c.all_see(victim, MemberStatus::kInactive); },
                          cfg.inactive_after_ms + cfg.status_interval_ms));
  const uint64_t t_inactive = c.now() - t_crash;
  ASSERT_TRUE(c.run_until([&] { return c.all_see(victim, MemberStatus::kDead); },
                          cfg.dead_after_ms + cfg.status_interval_ms - t_inactive));
  const uint64_t t_dead = c.now() - t_crash;
  std::printf("[figure] crash detected at all %zu peers: INACTIVE after %llu ms, DEAD after %llu ms (thresholds %u / %u)\n",
              n - 1, static_cast<unsigned long long>(t_inactive), static_cast<unsigned long long>(t_dead),
              cfg.inactive_after_ms, cfg.dead_after_ms);
  for (size_t i = 0; i < n; ++i) {
    if (i == victim) continue;
    const SimNode& o = c.node(i);
    EXPECT_EQ(o.count_events("node_inactive", id), 1u) << i;
    EXPECT_EQ(o.count_events("node_dead", id), 1u) << i;
    for (const EventRecord& e : o.events) {
      if (e.node_id != id || e.topic != "node_inactive") continue;
      // Never before the silence threshold could have passed.
      EXPECT_GE(e.at_ms + cfg.heartbeat_interval_ms, t_crash + cfg.inactive_after_ms) << i;
    }
  }
  // Nobody else was disturbed.
  for (size_t i = 0; i < n; ++i) {
    if (i == victim) continue;
    EXPECT_EQ(events_about(c, i, "node_inactive"), 0u) << i;
  }
}

TEST(MembershipSim, CrashIsInactiveThenDeadWithinTheFastThresholds) { crash_is_detected(Config::fast(), 2, 20); }
TEST(MembershipSim, CrashIsInactiveThenDeadWithinTheSeedThresholds) { crash_is_detected(Config::default_lan(), 3, 10); }

TEST(MembershipSim, RestartIsOneEntryWithTheNewIncarnation) {
  const Config cfg = Config::fast();
  KeyedCluster c(8, cfg, 4);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 3000));
  c.crash(2);
  c.run_for(cfg.inactive_after_ms + 500);  // seen INACTIVE, then back
  ASSERT_TRUE(c.all_see(2, MemberStatus::kInactive));
  c.restart(2);
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 2000));
  const uint32_t id = c.node(2).node_id();
  for (size_t i = 0; i < c.size(); ++i) {
    if (i == 2) continue;
    const MemberTable& t = c.node(i).ctx().members();
    EXPECT_EQ(t.size(), c.size() - 1) << i;
    ASSERT_NE(t.find(id), nullptr);
    EXPECT_EQ(t.find(id)->incarnation, 2u) << i;
    EXPECT_EQ(c.node(i).count_events("node_restarted", id), 1u) << i;
    EXPECT_EQ(c.node(i).count_events("node_discovered", id), 1u) << i;
  }
  // The restarted node knows everybody again, and its peers fetch its details anew.
  EXPECT_EQ(c.node(2).ctx().members().size(), c.size() - 1);
  ASSERT_TRUE(c.run_until(
      [&] {
        for (size_t i = 0; i < c.size(); ++i) {
          const Member* m = c.node(i).ctx().members().find(id);
          if (i != 2 && (m == nullptr || c.node(i).ctx().members().api_count(*m) != 1)) return false;
        }
        return true;
      },
      2000));
}

TEST(MembershipSim, GracefulLeaveIsDeadWithLeftEverywhereAtOnce) {
  KeyedCluster c(10, Config::default_lan(), 5);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 3000));
  c.run_for(5000);
  const uint32_t id = c.node(4).node_id();
  c.leave(4);
  ASSERT_TRUE(c.run_until([&] { return c.all_see(4, MemberStatus::kDead); }, 50, 1));
  for (size_t i = 0; i < c.size(); ++i) {
    if (i == 4) continue;
    EXPECT_TRUE(c.node(i).ctx().members().find(id)->left) << i;
    EXPECT_EQ(c.node(i).count_events("node_left", id), 1u) << i;
    EXPECT_EQ(c.node(i).count_events("node_inactive", id), 0u) << i;
  }
  // A LEAVE lost on the way is made up for by gossip: drop every LEAVE to node 0 and 1.
  KeyedCluster d(10, Config::fast(), 6);
  d.net().filter = [](size_t, size_t to, const uint8_t* data, size_t) {
    return !(to <= 1 && data[3] == static_cast<uint8_t>(wire::MessageType::kLeave));
  };
  d.start_all();
  ASSERT_TRUE(d.run_until([&] { return d.converged(); }, 3000));
  d.leave(5);
  ASSERT_TRUE(d.run_until([&] { return d.all_see(5, MemberStatus::kDead); }, Config::fast().heartbeat_interval_ms + 50));
  EXPECT_TRUE(d.node(0).ctx().members().find(d.node(5).node_id())->left);
}

void no_false_inactive(const Config& cfg, uint64_t seed, size_t n, uint64_t run_ms) {
  KeyedCluster c(n, cfg, seed);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5000));
  LinkProfile lossy;
  lossy.loss = 0.10;
  lossy.delay_ms = 2;
  lossy.jitter_ms = 3;
  c.net().set_profile(lossy);
  c.run_for(run_ms);
  uint32_t suspicions = 0, refutations = 0, indirect = 0;
  for (size_t i = 0; i < n; ++i) {
    suspicions += c.node(i).membership().stats().suspicions;
    refutations += c.node(i).membership().stats().refutations;
    indirect += c.node(i).membership().stats().probes_indirect;
  }
  std::printf("[figure] N=%zu, 10%% loss, %llu s: %u indirect probe rounds, %u unanswered rounds, %u refutations\n", n,
              static_cast<unsigned long long>(run_ms / 1000), indirect, suspicions, refutations);
  EXPECT_EQ(failure_events(c), 0u);
  EXPECT_TRUE(c.converged());
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(c.node(i).count_events("node_restarted"), 0u) << i;
}

TEST(MembershipSim, TenPercentLossNeverShowsAHealthyNodeInactiveFast) {
  no_false_inactive(Config::fast(), 7, 20, 10 * 60 * 1000);
}
TEST(MembershipSim, TenPercentLossNeverShowsAHealthyNodeInactiveDefault) {
  no_false_inactive(Config::default_lan(), 8, 30, 10 * 60 * 1000);
}

// Both liveness modes. A side that forgot the other is readmitted by the handshake, which starts
// when a stranger's datagram is heard; in digest mode heartbeats go by unicast to the chain's
// sender, so fewer of them cross: 2,810 ms against 740 ms with broadcast heartbeats (seed 9),
// within the same 3 s.
void partitioned_halves(const Config& cfg) {
  const char* mode = cfg.liveness == Liveness::kDigest ? "digest" : "broadcast";
  KeyedCluster c(10, cfg, 9);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 3000));
  c.net().partition({{0, 1, 2, 3, 4}, {5, 6, 7, 8, 9}});
  auto other_side = [&](MemberStatus s) {
    for (size_t i = 0; i < 10; ++i)
      for (size_t j = 0; j < 10; ++j)
        if ((i < 5) != (j < 5) && c.status_of(i, j) != static_cast<int>(s)) return false;
    return true;
  };
  auto same_side_active = [&] {
    for (size_t i = 0; i < 10; ++i)
      for (size_t j = 0; j < 10; ++j)
        if (i != j && (i < 5) == (j < 5) && c.status_of(i, j) != static_cast<int>(MemberStatus::kActive)) return false;
    return true;
  };
  ASSERT_TRUE(c.run_until([&] { return other_side(MemberStatus::kInactive); }, cfg.inactive_after_ms + 200));
  EXPECT_TRUE(same_side_active());
  ASSERT_TRUE(c.run_until([&] { return other_side(MemberStatus::kDead); }, cfg.dead_after_ms));
  EXPECT_TRUE(same_side_active());
  c.net().heal();
  const uint64_t t_heal = c.now();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 2000));
  std::printf("[figure] %s: partition healed (members still DEAD, not forgotten): all ACTIVE after %llu ms\n",
              mode, static_cast<unsigned long long>(c.now() - t_heal));
  // Partition again, long enough that the other side is forgotten, then heal: rediscovered.
  c.net().partition({{0, 1, 2, 3, 4}, {5, 6, 7, 8, 9}});
  c.run_for(cfg.dead_after_ms + cfg.dead_retention_ms + 1000);
  EXPECT_EQ(c.node(0).ctx().members().size(), 4u);
  c.net().heal();
  const uint64_t t_heal2 = c.now();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 3000));
  std::printf("[figure] %s: partition healed (members forgotten): all ACTIVE after %llu ms\n", mode,
              static_cast<unsigned long long>(c.now() - t_heal2));
}

TEST(MembershipSim, PartitionedHalvesSeeEachOtherGoAndComeBack) {
  partitioned_halves(Config::fast());
  partitioned_halves(Config::derive(Profile::kFast, Liveness::kBroadcast));
}

TEST(MembershipSim, DuplicatedAndReorderedDatagramsChangeNothing) {
  const Config cfg = Config::fast();
  KeyedCluster c(10, cfg, 10);
  LinkProfile p;
  p.delay_ms = 2;
  p.jitter_ms = 10;
  p.duplicate = 0.3;
  p.reorder = 0.3;
  p.reorder_ms = 30;
  c.net().set_profile(p);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 3000));
  c.run_for(60000);
  EXPECT_TRUE(c.converged());
  EXPECT_EQ(failure_events(c), 0u);
  uint32_t replayed = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    replayed += c.node(i).membership().stats().rejected[static_cast<size_t>(wire::DecodeError::kReplayed)];
    for (size_t j = 0; j < c.size(); ++j) {
      if (i == j) continue;
      EXPECT_EQ(c.node(i).count_events("node_discovered", c.node(j).node_id()), 1u);
      EXPECT_EQ(c.node(i).count_events("node_recovered", c.node(j).node_id()), 0u);
    }
  }
  EXPECT_GT(replayed, 100u) << "duplicates are refused by the replay window";
}

TEST(MembershipSim, NodesWithoutTheKeyAreNeverAdmitted) {
  KeyedCluster c(6, Config::fast(), 11);
  const size_t other_key = c.add_node(Config::fast());
  c.node(other_key).set_key_hex("ffeeddccbbaa99887766554433221100");
  const size_t no_key = c.add_node(Config::fast());
  c.start_all();
  c.run_for(20000);
  for (size_t i = 0; i < 6; ++i) {
    const MemberTable& t = c.node(i).ctx().members();
    EXPECT_EQ(t.size(), 5u) << i;
    EXPECT_EQ(t.find(c.node(other_key).node_id()), nullptr);
    EXPECT_EQ(t.find(c.node(no_key).node_id()), nullptr);
    const MembershipStats& s = c.node(i).membership().stats();
    EXPECT_GT(s.rejected[static_cast<size_t>(wire::DecodeError::kBadTag)], 0u);
    EXPECT_GT(s.rejected[static_cast<size_t>(wire::DecodeError::kAuthRequired)], 0u);
    EXPECT_GT(s.rejected_total, 0u);
  }
  // The outsiders do not admit the cluster either (nor each other: different keys).
  EXPECT_EQ(c.node(other_key).ctx().members().size(), 0u);
  EXPECT_EQ(c.node(no_key).ctx().members().size(), 0u);
  EXPECT_GT(c.node(no_key).membership().stats().rejected[static_cast<size_t>(wire::DecodeError::kUnexpectedAuth)], 0u);
}

// Every member's round trip, measured by latency PINGs over links of 20 ms each way.
void latency_is_the_round_trip(const Config& cfg, uint64_t run_ms) {
  KeyedCluster c(5, cfg, 12);
  LinkProfile p;
  p.delay_ms = 20;
  c.net().set_profile(p);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 10000));
  c.run_for(run_ms);
  for (size_t i = 0; i < c.size(); ++i) {
    c.node(i).ctx().members().for_each([&](const Member& m) {
      EXPECT_GE(m.latency_ms, 40) << i;
      EXPECT_LE(m.latency_ms, 40 + 2 * cfg.listen_interval_ms) << i;
    });
  }
}

// Broadcast liveness sends a latency PING every period (fast: 250 ms), so 5 s reach every member.
TEST(MembershipSim, LatencyIsTheMeasuredRoundTrip) {
  latency_is_the_round_trip(Config::derive(Profile::kFast, Liveness::kBroadcast), 5000);
}
// Digest mode (the hosts' default) sends a latency PING every 4 periods instead of every one
// (fast: every 2 s, round robin over 4 members): still every member's round trip.
TEST(MembershipSim, DigestModeStillMeasuresLatency) {
  latency_is_the_round_trip(Config::fast(), 20000);
}

TEST(MembershipSim, ApiChangesReachEveryPeerOnceAndThenTrafficStops) {
  const Config cfg = Config::fast();
  KeyedCluster c(10, cfg, 13);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 3000));
  c.run_for(5000);
  const size_t changer = 3;
  const uint32_t id = c.node(changer).node_id();
  // Enough long URIs that the list needs several INFO pages.
  ApiRegistry& api = c.node(changer).ctx().api();
  for (int i = 0; i < 15; ++i) {
    char uri[48];
    std::snprintf(uri, sizeof uri, "/api/some/rather/long/endpoint/path/number/%03d", i);
    ASSERT_EQ(api.add(uri, HttpMethod::kPost), ApiAddResult::kAdded);
  }
  const uint32_t digest = api.digest();
  const uint64_t t0 = c.now();
  auto synced = [&] {
    for (size_t i = 0; i < c.size(); ++i) {
      if (i == changer) continue;
      const MemberTable& t = c.node(i).ctx().members();
      const Member* m = t.find(id);
      if (m == nullptr || m->api_digest != digest || t.api_count(*m) != 16) return false;
    }
    return true;
  };
  ASSERT_TRUE(c.run_until(synced, cfg.heartbeat_interval_ms + 500, 1));
  std::printf("[figure] API change (16 endpoints, several INFO pages) seen by all 9 peers after %llu ms\n",
              static_cast<unsigned long long>(c.now() - t0));
  HttpMethod method;
  std::string_view uri;
  const MemberTable& t = c.node(0).ctx().members();
  ASSERT_TRUE(t.api_at(*t.find(id), 15, &method, &uri));
  EXPECT_EQ(uri, "/api/some/rather/long/endpoint/path/number/014");
  EXPECT_EQ(method, HttpMethod::kPost);
  // A quiet minute: no INFO at all.
  c.run_for(2000);
  const uint64_t before = info_datagrams(c);
  c.run_for(60000);
  EXPECT_EQ(info_datagrams(c), before);
  // A resources change (new SDK string) travels the same way.
  c.node(changer).system().sdk = "sim-2.0";
  ASSERT_TRUE(c.run_until(
      [&] {
        for (size_t i = 0; i < c.size(); ++i) {
          if (i == changer) continue;
          const Member* m = c.node(i).ctx().members().find(id);
          if (c.node(i).ctx().members().sdk_version(*m) != "sim-2.0") return false;
        }
        return true;
      },
      cfg.heartbeat_interval_ms + 500));
}

TEST(MembershipSim, IndirectProbesKeepAMemberBehindABrokenLinkActive) {
  const Config cfg = Config::fast();
  KeyedCluster c(6, cfg, 14);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 3000));
  // Node 0 and node 1 cannot hear each other at all; everyone else hears both.
  c.net().filter = [](size_t from, size_t to, const uint8_t*, size_t) {
    return !((from == 0 && to == 1) || (from == 1 && to == 0));
  };
  c.run_for(30000);
  EXPECT_EQ(c.status_of(0, 1), static_cast<int>(MemberStatus::kActive));
  EXPECT_EQ(c.status_of(1, 0), static_cast<int>(MemberStatus::kActive));
  EXPECT_EQ(failure_events(c), 0u);
  EXPECT_GT(c.node(0).membership().stats().probes_indirect, 10u);
}

// Both liveness modes: the refutation is SWIM's; what node 0 shows afterwards differs (below).
void suspected_node_refutes(const Config& cfg) {
  KeyedCluster c(6, cfg, 15);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 3000));
  // Node 0 hears no datagram of node 1 and no relayed ACK, but node 1 hears node 0's gossip:
  // node 0's probe rounds fail, it gossips "1 suspect", node 1 refutes.
  const uint32_t id1 = c.node(1).node_id();
  c.net().filter = [&](size_t from, size_t to, const uint8_t* data, size_t) {
    if (to != 0) return true;
    if (from == 1) return false;
    return data[3] != static_cast<uint8_t>(wire::MessageType::kAck);  // no relayed ACKs either
  };
  c.run_for(cfg.inactive_after_ms);
  EXPECT_GT(c.node(1).membership().stats().refutations, 0u);
  EXPECT_GT(c.node(1).ctx().self().incarnation, 1u);
  // Others adopt the new incarnation without treating it as a restart.
  for (size_t i = 2; i < c.size(); ++i) {
    EXPECT_EQ(c.node(i).ctx().members().find(id1)->incarnation, c.node(1).ctx().self().incarnation) << i;
    EXPECT_EQ(c.node(i).count_events("node_restarted", id1), 0u);
    EXPECT_EQ(c.node(i).count_events("node_inactive", id1), 0u);
  }
  c.run_for(cfg.inactive_after_ms);
  if (cfg.liveness == Liveness::kBroadcast) {
    // Node 0 hears nothing of node 1 at all, so by the seed's per-observer rule it shows it INACTIVE.
    EXPECT_EQ(c.status_of(0, 1), static_cast<int>(MemberStatus::kInactive));
  } else {
    // The others' DIGESTs vouch for node 1 (evidence relayed, docs/protocol.md §11.12): node 0
    // keeps it ACTIVE without one datagram of it, as the digest design means to.
    EXPECT_EQ(c.status_of(0, 1), static_cast<int>(MemberStatus::kActive));
  }
  c.net().filter = nullptr;
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 1000));
}

TEST(MembershipSim, ASuspectedNodeRefutesWithAHigherIncarnation) {
  suspected_node_refutes(Config::derive(Profile::kFast, Liveness::kBroadcast));
  suspected_node_refutes(Config::fast());  // digest liveness, the hosts' default
}

}  // namespace
}  // namespace spore::sim
