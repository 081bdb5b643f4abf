// Every scenario in tests/sim/scenarios/ run by spore-sim's runner (apps/spore-sim): one test per
// file, so ctest -j spreads them over the cores and names the one that broke. A failure prints
// the violations exactly as `spore-sim FILE` would; rerun that to investigate.
//
// Also checks the runner itself: each invariant really fails a scenario built to break it.

// spore-sim is an executable, not a library: its sources are compiled in here, as
// tests/posix/spore_cli_test.cpp does for apps/spore.
#include "../../apps/spore-sim/core_alloc.cpp"
#include "../../apps/spore-sim/runner.cpp"
#include "../../apps/spore-sim/scenario.cpp"
#include "../../apps/spore-sim/seed_model.cpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace spore_sim {
namespace {

namespace fs = std::filesystem;

fs::path scenario_dir() { return fs::path(__FILE__).parent_path() / "scenarios"; }

// A scenario file; printed as its stem so ctest's test names stay short.
struct ScenarioPath {
  std::string path;
};
void PrintTo(const ScenarioPath& p, std::ostream* os) { *os << fs::path(p.path).filename().string(); }

std::vector<std::string> scenario_files() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(scenario_dir(), ec))
    if (e.path().extension() == ".scn") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string describe(const ScenarioResult& r) {
  std::string out;
  for (const Violation& v : r.violations) {
    out += "  at " + format_ms(v.at_ms) + " " + v.invariant;
    if (v.node >= 0) out += " node " + std::to_string(v.node);
    if (v.subject >= 0) out += " about node " + std::to_string(v.subject);
    out += ": " + v.detail + "\n";
  }
  return out;
}

Scenario parse_or_die(const std::string& text) {
  Scenario s;
  ScenarioError err;
  EXPECT_TRUE(parse_scenario(text, &s, &err)) << err.line << ": " << err.message;
  return s;
}

class ScenarioFile : public testing::TestWithParam<ScenarioPath> {};

TEST_P(ScenarioFile, EveryInvariantHolds) {
  const std::string path = GetParam().path;
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::stringstream text;
  text << in.rdbuf();
  Scenario s;
  ScenarioError err;
  ASSERT_TRUE(parse_scenario(text.str(), &s, &err)) << path << ":" << err.line << ": " << err.message;
  if (s.name.empty()) s.name = fs::path(path).stem().string();
  const ScenarioResult r = run_scenario(s);
  std::printf("[figure] %s: N=%u %s, %s virtual in %.1f s wall, converged %s, detection %s..%s, "
              "false %u/%u, per node %.1f B/s sent %.1f B/s received\n",
              r.name.c_str(), r.nodes, profile_label(r).c_str(),
              format_ms(r.virtual_ms).c_str(), r.wall_s,
              r.converge_ms ? format_ms(*r.converge_ms).c_str() : "-",
              r.detect_min_ms ? format_ms(*r.detect_min_ms).c_str() : "-",
              r.detect_max_ms ? format_ms(*r.detect_max_ms).c_str() : "-", r.false_inactive, r.false_dead,
              r.sent_bytes_per_s, r.received_bytes_per_s);
  EXPECT_TRUE(r.passed()) << r.violation_count << " violation(s):\n" << describe(r);
  if (s.protocol == "spore") {
    EXPECT_LE(r.max_table, size_t{SPORE_MAX_MEMBERS});  // the seed's member map is unbounded
    EXPECT_EQ(r.core_allocations, std::optional<uint64_t>(0));
  }
  ASSERT_TRUE(r.converge_ms.has_value()) << "never converged";
}

std::vector<ScenarioPath> scenario_params() {
  std::vector<ScenarioPath> out;
  for (const std::string& f : scenario_files()) out.push_back(ScenarioPath{f});
  return out;
}

std::string test_name(const testing::TestParamInfo<ScenarioPath>& info) {
  std::string name = fs::path(info.param.path).stem().string();
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ScenarioFile, testing::ValuesIn(scenario_params()), test_name);

TEST(SporeSimRunner, AtLeastTwentyScenariosAreChecked) { EXPECT_GE(scenario_files().size(), 20u); }

TEST(SporeSimRunner, SameSeedSameRun) {
  const Scenario s = parse_or_die("nodes 12\nprofile fast\nseed 77\nloss 20%\nduration 20s\nat 5s crash 3\n");
  const ScenarioResult a = run_scenario(s);
  const ScenarioResult b = run_scenario(s);
  EXPECT_EQ(a.converge_ms, b.converge_ms);
  EXPECT_EQ(a.detect_min_ms, b.detect_min_ms);
  EXPECT_EQ(a.detect_max_ms, b.detect_max_ms);
  EXPECT_EQ(a.sent_bytes_per_s, b.sent_bytes_per_s);
  EXPECT_EQ(a.received_bytes_per_s, b.received_bytes_per_s);
}

// Each invariant must be able to fail: a checker that never fires proves nothing.
TEST(SporeSimRunner, ADetectionBoundTooTightFailsNamingTheObserver) {
  const ScenarioResult r = run_scenario(
      parse_or_die("nodes 6\nprofile fast\nduration 10s\nat 3s crash 2\nexpect detect crash within 500ms\n"));
  ASSERT_FALSE(r.passed());
  const Violation& v = r.violations.front();
  EXPECT_EQ(v.invariant, "detection");
  EXPECT_EQ(v.subject, 2);
  EXPECT_GE(v.node, 0);
  EXPECT_NE(v.node, 2);
  EXPECT_GE(v.at_ms, 3500u);
  EXPECT_LE(v.at_ms, 3600u);
}

TEST(SporeSimRunner, TotalLossOfAHealthyNetworkIsAFalseAlarm) {
  // Nobody crashed and nobody is partitioned, so INACTIVE is false, whatever the loss. Not before
  // inactive_after_ms after the newest evidence the loss cut off: with broadcast liveness a
  // heartbeat at most one period old; with digest liveness (the default) evidence relayed by a
  // DIGEST, up to 1.5 periods old (suspect_after_ms, Config::with_digest_liveness()).
  const ScenarioResult b =
      run_scenario(parse_or_die("nodes 5\nprofile fast\nliveness broadcast\nduration 10s\nat 3s loss 100%\n"));
  ASSERT_FALSE(b.passed());
  EXPECT_EQ(b.violations.front().invariant, "false-alarm");
  EXPECT_GT(b.false_inactive, 0u);
  const Config broadcast = Config::derive(spore::Profile::kFast, spore::Liveness::kBroadcast);
  EXPECT_GE(b.violations.front().at_ms, 3000u + broadcast.inactive_after_ms - broadcast.heartbeat_interval_ms);
  const ScenarioResult r = run_scenario(parse_or_die("nodes 5\nprofile fast\nduration 10s\nat 3s loss 100%\n"));
  ASSERT_FALSE(r.passed());
  EXPECT_EQ(r.liveness, "digest");
  EXPECT_EQ(r.violations.front().invariant, "false-alarm");
  EXPECT_GT(r.false_inactive, 0u);
  EXPECT_GE(r.violations.front().at_ms, 3000u + Config::fast().inactive_after_ms - Config::fast().suspect_after_ms);
  // ... unless the scenario says how many it tolerates.
  const ScenarioResult tolerated = run_scenario(
      parse_or_die("nodes 5\nprofile fast\nduration 10s\nat 3s loss 100%\nexpect false-alarms at most 1000\n"));
  EXPECT_TRUE(tolerated.passed()) << describe(tolerated);
}

TEST(SporeSimRunner, PartitionedPeersAreNotFalseAlarmsButNeverConvergingIs) {
  const ScenarioResult ok = run_scenario(
      parse_or_die("nodes 6\nprofile fast\nduration 20s\nat 2s partition 0-2 | 3-5\nat 12s heal\n"));
  EXPECT_TRUE(ok.passed()) << describe(ok);
  EXPECT_EQ(ok.false_inactive, 0u);
  ASSERT_TRUE(ok.reconverge_max_ms.has_value());
  const ScenarioResult slow =
      run_scenario(parse_or_die("nodes 6\nprofile fast\nduration 5s\nexpect converged within 1ms\n"));
  ASSERT_FALSE(slow.passed());
  EXPECT_EQ(slow.violations.front().invariant, "convergence");
  EXPECT_TRUE(slow.converge_ms.has_value()) << "still timed after the bound passed";
}

TEST(SporeSimRunner, ARunEndingBeforeABoundIsNotAPass) {
  const ScenarioResult r = run_scenario(parse_or_die("nodes 4\nprofile lan\nduration 5s\nat 4s crash 1\n"));
  ASSERT_FALSE(r.passed());
  EXPECT_EQ(r.violations.front().invariant, "detection");
  EXPECT_NE(r.violations.front().detail.find("lengthen"), std::string::npos);
}

// Regression: an observer rebooted after a crash starts with an empty table, which once counted
// as "detected" at the reboot (0.2 s after the crash). A reboot now excuses the observer instead.
TEST(SporeSimRunner, ARebootedObserverIsNotADetection) {
  const ScenarioResult r = run_scenario(
      parse_or_die("nodes 6\nprofile fast\nduration 10s\nat 3s crash 1\nat 3200ms restart 2\n"));
  EXPECT_TRUE(r.passed()) << describe(r);
  ASSERT_TRUE(r.detect_min_ms.has_value());
  // Digest liveness (the default): the crashed node's newest evidence may be up to 1.5 periods
  // old when relayed (suspect_after_ms), so detection comes no sooner than I minus that.
  EXPECT_GE(*r.detect_min_ms, Config::fast().inactive_after_ms - Config::fast().suspect_after_ms);
}

TEST(SporeSimRunner, TablesStayBoundedWithMorePeersThanSlots) {
  const ScenarioResult r = run_scenario(parse_or_die("nodes 100\nprofile lan\nduration 5s\n"));
  EXPECT_TRUE(r.passed()) << describe(r);
  EXPECT_EQ(r.max_table, size_t{SPORE_MAX_MEMBERS});
}

TEST(SporeSimRunner, CoreAllocationsAreCountedOnlyInsideCoreCalls) {
  // The counter itself: inside a CoreCallScope yes, inside a nested SimulatorScope or outside no.
  const uint64_t before = core_allocations();
  {
    CoreCallScope core;
    delete new int(1);
    {
      SimulatorScope simulator;
      delete new int(2);
    }
  }
  delete new int(3);
  EXPECT_EQ(core_allocations() - before, 1u);
}

TEST(SporeSimRunner, AnAllocationInsideTheCoreFailsTheScenario) {
  Scenario s = parse_or_die("nodes 4\nprofile fast\nduration 5s\n");
  const ScenarioResult clean = run_scenario(s);
  EXPECT_TRUE(clean.passed()) << describe(clean);
  EXPECT_EQ(clean.core_allocations, std::optional<uint64_t>(0));
  // A handler called from inside the core's dispatch (node_discovered, while a datagram is being
  // received) allocates: exactly what core must never do after begin().
  s.test_allocate_in_core = true;
  const ScenarioResult r = run_scenario(s);
  ASSERT_FALSE(r.passed());
  EXPECT_EQ(r.violations.front().invariant, "core-allocation");
  ASSERT_TRUE(r.core_allocations.has_value());
  EXPECT_EQ(*r.core_allocations, 4u * 3u);  // each node discovers each of its 3 peers once
  EXPECT_NE(r.violations.front().detail.find("after begin()"), std::string::npos);
}

// The result names the liveness the nodes ran with (spore-sim's table and --json report it); the
// seed model has none.
TEST(SporeSimRunner, TheResultNamesTheLiveness) {
  const ScenarioResult digest = run_scenario(parse_or_die("nodes 4\nprofile fast\nliveness digest\nduration 5s\n"));
  EXPECT_TRUE(digest.passed()) << describe(digest);
  EXPECT_EQ(digest.liveness, "digest");
  EXPECT_EQ(profile_label(digest), "fast digest");
  // No `liveness` line: the profile's, digest for the hosts' profiles, broadcast for esp8266.
  const ScenarioResult plain = run_scenario(parse_or_die("nodes 4\nprofile fast\nduration 5s\n"));
  EXPECT_EQ(plain.liveness, "digest");
  EXPECT_EQ(profile_label(plain), "fast digest");
  const ScenarioResult broadcast =
      run_scenario(parse_or_die("nodes 4\nprofile fast\nliveness broadcast\nduration 5s\n"));
  EXPECT_TRUE(broadcast.passed()) << describe(broadcast);
  EXPECT_EQ(broadcast.liveness, "broadcast");
  EXPECT_EQ(profile_label(broadcast), "fast");
  const ScenarioResult esp = run_scenario(parse_or_die("nodes 3\nprofile esp8266\nduration 5s\n"));
  EXPECT_EQ(esp.liveness, "broadcast");
  const ScenarioResult seed = run_scenario(parse_or_die("nodes 3\nprotocol seed\nduration 5s\n"));
  EXPECT_EQ(seed.liveness, "");
  EXPECT_EQ(profile_label(seed), "seed");
}

TEST(SporeSimRunner, TheSeedModelIsNotCheckedForAllocations) {
  const ScenarioResult r = run_scenario(parse_or_die("nodes 3\nprotocol seed\nduration 10s\n"));
  EXPECT_TRUE(r.passed()) << describe(r);
  EXPECT_FALSE(r.core_allocations.has_value());
}

// ---- protocol seed: the model of the seed's design (seed_model.h) ----------------------------

TEST(SeedModel, EveryPollCostsItsPacketsOnTheWire) {
  // Two nodes, no loss: per node per second one discovery broadcast (45 B), one answer to the
  // peer's (55 B), one poll as client (SYN 40 + ACK+request 160 + ACK 40 + FIN 40) and one as
  // server (SYN-ACK 40 + answer 703 + FIN 40): 9 datagrams, 1163 B on the wire, 827 B payload.
  const ScenarioResult r = run_scenario(parse_or_die("nodes 2\nprotocol seed\nduration 100s\n"));
  EXPECT_TRUE(r.passed()) << describe(r);
  EXPECT_EQ(r.protocol, "seed");
  EXPECT_NEAR(r.sent_datagrams_per_s, 9.0, 0.2);
  EXPECT_NEAR(r.sent_wire_bytes_per_s, 45 + 55 + 280 + 783, 20);
  EXPECT_NEAR(r.sent_bytes_per_s, 17 + 27 + 120 + 663, 20);
  EXPECT_NEAR(r.received_wire_bytes_per_s, r.sent_wire_bytes_per_s, 20);
}

TEST(SeedModel, PollsEveryMemberEverySecondSoTrafficGrowsWithN) {
  const ScenarioResult small = run_scenario(parse_or_die("nodes 5\nprotocol seed\nduration 20s\n"));
  const ScenarioResult big = run_scenario(parse_or_die("nodes 20\nprotocol seed\nduration 20s\n"));
  EXPECT_TRUE(small.passed() && big.passed());
  // (N - 1) polls each way per node per second: bytes per node grow ~linearly with N.
  EXPECT_NEAR(big.sent_bytes_per_s / small.sent_bytes_per_s, 19.0 / 4.0, 0.5);
  EXPECT_EQ(big.max_table, 19u);
}

TEST(SeedModel, SameSeedSameRunAndSporeIsNotTheSeed) {
  const std::string text = "nodes 8\nprotocol seed\nseed 5\nloss 20%\nduration 30s\nat 5s crash 3\n";
  const ScenarioResult a = run_scenario(parse_or_die(text));
  const ScenarioResult b = run_scenario(parse_or_die(text));
  EXPECT_TRUE(a.passed()) << describe(a);
  EXPECT_EQ(a.detect_min_ms, b.detect_min_ms);
  EXPECT_EQ(a.detect_max_ms, b.detect_max_ms);
  EXPECT_EQ(a.sent_wire_bytes_per_s, b.sent_wire_bytes_per_s);
  // Crash seen 10 s after the last successful poll (at most a poll interval before the crash),
  // at a status pass: 9..11 s.
  ASSERT_TRUE(a.detect_min_ms && a.detect_max_ms);
  EXPECT_GE(*a.detect_min_ms, 8900u);
  EXPECT_LE(*a.detect_max_ms, 11100u);
}

TEST(SeedModel, InvariantsFailForTheSeedToo) {
  const ScenarioResult tight = run_scenario(
      parse_or_die("nodes 4\nprotocol seed\nduration 20s\nat 3s crash 2\nexpect detect crash within 5s\n"));
  ASSERT_FALSE(tight.passed());
  EXPECT_EQ(tight.violations.front().invariant, "detection");
  EXPECT_EQ(tight.violations.front().subject, 2);
  // Total loss of a healthy network: every poll fails, INACTIVE 10 s later is a false alarm.
  const ScenarioResult cut = run_scenario(parse_or_die("nodes 4\nprotocol seed\nduration 20s\nat 3s loss 100%\n"));
  ASSERT_FALSE(cut.passed());
  EXPECT_EQ(cut.violations.front().invariant, "false-alarm");
  EXPECT_GE(cut.violations.front().at_ms, 3000u + 10000u - 1000u);
}

TEST(SeedModel, APartitionedPeerComesBackActiveAtItsNextPoll) {
  const ScenarioResult r = run_scenario(
      parse_or_die("nodes 6\nprotocol seed\nduration 40s\nat 2s partition 0-2 | 3-5\nat 20s heal\n"));
  EXPECT_TRUE(r.passed()) << describe(r);
  EXPECT_EQ(r.false_inactive, 0u);
  ASSERT_TRUE(r.reconverge_max_ms.has_value());
  EXPECT_LE(*r.reconverge_max_ms, 1200u);  // poll interval + a round trip, at check resolution
}

TEST(SporeSimDrift, DriftClockRunsAtItsRateContinuouslyAndNeverBackwards) {
  spore::sim::SimClock base(1000);
  spore::sim::DriftClock fast(base), slow(base);
  fast.set_drift_ppm(200);
  slow.set_drift_ppm(-200);
  uint64_t last_slow = slow.now();
  for (int i = 0; i < 1000; ++i) {
    base.advance(1000);
    EXPECT_GE(slow.now(), last_slow);
    last_slow = slow.now();
  }
  EXPECT_EQ(fast.now(), 1000u + 1000000u + 200u);
  EXPECT_EQ(slow.now(), 1000u + 1000000u - 200u);
  fast.set_drift_ppm(0);  // no jump when the rate changes
  EXPECT_EQ(fast.now(), 1000u + 1000000u + 200u);
  base.advance(10);
  EXPECT_EQ(fast.now(), 1000u + 1000000u + 210u);
  fast.set_drift_ppm(5000000);
  EXPECT_EQ(fast.drift_ppm(), spore::sim::DriftClock::kMaxDriftPpm);
}

// Pinned to broadcast liveness, where every datagram a node sends is timed by its own clock; in
// digest mode its heartbeats follow the chain's DIGESTs (other nodes' clocks): 245 / 227 / 235
// datagrams (fast / slow / normal), under the 5 % this test asks of the clock.
TEST(SporeSimDrift, ANodeWithAFastClockRunsItsTimersFaster) {
  Cluster c(4, Config::derive(spore::Profile::kFast, spore::Liveness::kBroadcast), 3);
  c.node(0).set_clock_drift_ppm(100000);   // 10 % fast
  c.node(1).set_clock_drift_ppm(-100000);  // 10 % slow
  c.start_all();
  c.run_for(60000);
  const double fast = static_cast<double>(c.net().counters(0).datagrams_sent);
  const double slow = static_cast<double>(c.net().counters(1).datagrams_sent);
  const double normal = static_cast<double>(c.net().counters(2).datagrams_sent);
  EXPECT_GT(fast / normal, 1.05) << fast << " vs " << normal;
  EXPECT_LT(slow / normal, 0.95) << slow << " vs " << normal;
  EXPECT_TRUE(c.converged());
}

}  // namespace
}  // namespace spore_sim
