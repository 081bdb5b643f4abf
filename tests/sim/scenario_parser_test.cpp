// spore-sim's scenario parser (apps/spore-sim/scenario.h): what it accepts, and that everything
// else is refused with the right line number and a reason a person can act on.

#include "../../apps/spore-sim/scenario.cpp"

#include <gtest/gtest.h>

namespace spore_sim {
namespace {

Scenario parse_ok(const std::string& text) {
  Scenario s;
  ScenarioError err;
  EXPECT_TRUE(parse_scenario(text, &s, &err)) << "line " << err.line << ": " << err.message;
  return s;
}

ScenarioError parse_bad(const std::string& text) {
  Scenario s;
  s.name = "untouched";
  ScenarioError err;
  EXPECT_FALSE(parse_scenario(text, &s, &err)) << text;
  EXPECT_EQ(s.name, "untouched") << "a rejected file leaves the output alone";
  EXPECT_FALSE(err.message.empty());
  return err;
}

TEST(ScenarioParser, AcceptsEveryDocumentedForm) {
  const Scenario s = parse_ok(
      "# comment, with UTF-8 \xc2\xa7 in it\n"
      "name full-example\n"
      "nodes 20\r\n"
      "profile fast\n"
      "liveness digest\n"
      "seed 18446744073709551615\n"
      "key off\n"
      "loss 12.5%\n"
      "delay 5ms\n"
      "jitter 1.5s\n"
      "duplicate 1%\n"
      "reorder 2%\n"
      "reorder-window 40ms\n"
      "duration 2m\n"
      "check-every 50ms\n"
      "idle 18-19\n"
      "\n"
      "at 0s partition 0-4, 6 | 7-9\t| 10\n"
      "at 1.5s heal   # trailing comment\n"
      "at 2s crash 3,4\n"
      "at 2s leave 5\n"
      "at 3s restart 3-4\n"
      "at 4s start 18,19\n"
      "at 5s loss 30%\n"
      "at 5s delay 7ms\n"
      "at 5s jitter 9ms\n"
      "at 5s duplicate 3%\n"
      "at 5s reorder 4%\n"
      "expect converged within 2s\n"
      "expect detect crash within 2500ms\n"
      "expect false-alarms at most 3");
  EXPECT_EQ(s.name, "full-example");
  EXPECT_EQ(s.nodes, 20u);
  EXPECT_EQ(s.profile, "fast");
  EXPECT_EQ(s.liveness, spore::Liveness::kDigest);
  EXPECT_EQ(s.seed, UINT64_MAX);
  EXPECT_FALSE(s.keyed);
  EXPECT_DOUBLE_EQ(s.link.loss, 0.125);
  EXPECT_EQ(s.link.delay_ms, 5u);
  EXPECT_EQ(s.link.jitter_ms, 1500u);
  EXPECT_DOUBLE_EQ(s.link.duplicate, 0.01);
  EXPECT_DOUBLE_EQ(s.link.reorder, 0.02);
  EXPECT_EQ(s.link.reorder_ms, 40u);
  EXPECT_EQ(s.duration_ms, 120000u);
  EXPECT_EQ(s.check_every_ms, 50u);
  EXPECT_EQ(s.idle, (std::vector<uint32_t>{18, 19}));
  ASSERT_EQ(s.actions.size(), 11u);
  EXPECT_EQ(s.actions[0].kind, ActionKind::kPartition);
  EXPECT_EQ(s.actions[0].line, 18u);
  EXPECT_EQ(s.actions[0].groups,
            (std::vector<std::vector<uint32_t>>{{0, 1, 2, 3, 4, 6}, {7, 8, 9}, {10}}));
  EXPECT_EQ(s.actions[1].kind, ActionKind::kHeal);
  EXPECT_EQ(s.actions[1].at_ms, 1500u);
  EXPECT_EQ(s.actions[2].nodes, (std::vector<uint32_t>{3, 4}));
  EXPECT_EQ(s.actions[5].kind, ActionKind::kStart);
  EXPECT_DOUBLE_EQ(s.actions[6].fraction, 0.30);
  EXPECT_EQ(s.actions[7].ms, 7u);
  EXPECT_EQ(s.actions[8].ms, 9u);
  EXPECT_EQ(*s.converge_within_ms, 2000u);
  EXPECT_EQ(*s.detect_within_ms, 2500u);
  EXPECT_EQ(s.max_false_alarms, 3u);
}

TEST(ScenarioParser, DefaultsAreTheDocumentedOnes) {
  const Scenario s = parse_ok("nodes 3\nduration 10s\n");
  EXPECT_EQ(s.profile, "lan");
  EXPECT_EQ(s.protocol, "spore");
  EXPECT_EQ(s.seed, 1u);
  EXPECT_TRUE(s.keyed);
  EXPECT_EQ(s.link.loss, 0.0);
  EXPECT_EQ(s.link.delay_ms, 1u);
  EXPECT_EQ(s.check_every_ms, 100u);
  EXPECT_FALSE(s.converge_within_ms.has_value());
  EXPECT_EQ(s.max_false_alarms, 0u);
  EXPECT_EQ(config_for(s).inactive_after_ms, spore::Config::default_lan().inactive_after_ms);
  // No `liveness` line: the profile's, digest for the hosts' lan (broadcast for esp8266, below).
  EXPECT_FALSE(s.liveness.has_value());
  EXPECT_EQ(config_for(s).liveness, spore::Liveness::kDigest);
  EXPECT_EQ(config_for(s).heartbeat_interval_ms, spore::Config::default_lan().heartbeat_interval_ms);
  EXPECT_EQ(config_for(parse_ok("nodes 3\nprofile esp8266\nduration 10s\n")).liveness, spore::Liveness::kBroadcast);
}

// `liveness` reaches every SPORE node's Config (the runner builds every node from config_for());
// the profile's timers stay.
TEST(ScenarioParser, LivenessSetsTheNodesConfig) {
  const spore::Config digest = config_for(parse_ok("nodes 3\nprofile fast\nliveness digest\nduration 10s\n"));
  EXPECT_EQ(digest.liveness, spore::Liveness::kDigest);
  EXPECT_EQ(digest.heartbeat_interval_ms, spore::Config::fast().with_digest_liveness().heartbeat_interval_ms);
  EXPECT_EQ(digest.inactive_after_ms, spore::Config::fast().inactive_after_ms);
  // `liveness broadcast` gives the broadcast timers back (lan: heartbeat 2.5 s, not the DIGEST's 3.33 s).
  const spore::Config broadcast = config_for(parse_ok("liveness broadcast\nnodes 3\nduration 10s\n"));
  EXPECT_EQ(broadcast.liveness, spore::Liveness::kBroadcast);
  EXPECT_EQ(broadcast.heartbeat_interval_ms, 2500u);
  EXPECT_EQ(broadcast.suspect_after_ms, 4000u);
  EXPECT_EQ(config_for(parse_ok("nodes 3\nprofile esp8266\nliveness digest\nduration 10s\n")).liveness,
            spore::Liveness::kDigest);
  EXPECT_STREQ(liveness_name(spore::Liveness::kDigest), "digest");
  EXPECT_STREQ(liveness_name(spore::Liveness::kBroadcast), "broadcast");
}

TEST(ScenarioParser, ProtocolChoosesSporeOrTheSeedModel) {
  EXPECT_EQ(parse_ok("nodes 3\nprotocol seed\nduration 10s\n").protocol, "seed");
  EXPECT_EQ(parse_ok("protocol spore\nnodes 3\nduration 10s\n").protocol, "spore");
  // profile is still parsed (and ignored by the seed model), so one file can switch protocols.
  const Scenario s = parse_ok("nodes 3\nprotocol seed\nprofile fast\nduration 10s\n");
  EXPECT_EQ(s.protocol, "seed");
  EXPECT_EQ(s.profile, "fast");
}

struct BadCase {
  const char* text;
  uint32_t line;
  const char* says;  // a piece of the message
};

TEST(ScenarioParser, RefusesWithLineAndReason) {
  const BadCase cases[] = {
      {"", 0, "'nodes N' is required"},
      {"nodes 3\n", 0, "'duration T' is required"},
      {"nodes 0\n", 1, "1..1000"},
      {"nodes 1001\n", 1, "1..1000"},
      {"nodes 3\nnodes 4\n", 2, "set twice"},
      {"nodes 3x\n", 1, "whole number"},
      {"nodes -3\n", 1, "whole number"},
      {"seed 18446744073709551616\n", 1, "whole number"},
      {"nodes 3\nprofile slow\n", 2, "esp8266, lan or fast"},
      {"nodes 3\nprotocol gossip\n", 2, "expected spore or seed"},
      {"nodes 3\nprotocol\n", 2, "protocol spore|seed"},
      {"nodes 3\nprotocol seed spore\n", 2, "protocol spore|seed"},
      {"nodes 3\nprotocol seed\nprotocol spore\n", 3, "set twice"},
      {"nodes 3\nprotocol SEED\n", 2, "expected spore or seed"},
      {"nodes 3\nduration 9s\nat 1s crash 0\nprotocol seed\n", 4, "settings come first"},
      {"nodes 3\nliveness gossip\n", 2, "expected broadcast or digest"},
      {"nodes 3\nliveness Digest\n", 2, "expected broadcast or digest"},
      {"nodes 3\nliveness\n", 2, "liveness broadcast|digest"},
      {"nodes 3\nliveness digest broadcast\n", 2, "liveness broadcast|digest"},
      {"nodes 3\nliveness digest\nliveness digest\n", 3, "set twice"},
      {"nodes 3\nprotocol seed\nliveness broadcast\nduration 9s\n", 3, "protocol seed has none"},
      {"nodes 3\nliveness digest\nprotocol seed\nduration 9s\n", 2, "protocol seed has none"},
      {"nodes 3\nduration 9s\nat 1s crash 0\nliveness digest\n", 4, "settings come first"},
      {"nodes 3\nduration 10\n", 2, "like 90s"},
      {"nodes 3\nduration 25h\n", 2, "like 90s"},
      {"nodes 3\nduration 1.5ms\n", 2, "like 90s"},
      {"nodes 3\nduration 0.0001s\n", 2, "like 90s"},
      {"nodes 3\nduration .5s\n", 2, "like 90s"},
      {"nodes 3\nloss 101%\n", 2, "0%..100%"},
      {"nodes 3\nloss 10\n", 2, "0%..100%"},
      {"nodes 3\ndelay 61s\n", 2, "at most 60s"},
      {"nodes 3\nkey maybe\n", 2, "on or off"},
      {"nodes 3\nfrobnicate 1\n", 2, "unknown setting 'frobnicate'"},
      {"nodes 3\nclock-drift node 2 +200ppm\n", 2, "unknown setting 'clock-drift'"},
      {"nodes 3\ndrift 2 200\n", 2, "like +200ppm"},
      {"nodes 3\ndrift 2 +100001ppm\n", 2, "at most 100000ppm"},
      {"nodes 3\ndrift 2 ++5ppm\n", 2, "like +200ppm"},
      {"nodes 3\ndrift 3 +5ppm\n", 2, "node 3 does not exist"},
      {"nodes 3\ndrift +5ppm\n", 2, "expected 'drift NODES PPM'"},
      {"nodes 3\nduration 10s\nat 1s drift +5ppm\n", 3, "at TIME drift NODES PPM"},
      {"nodes 3\nduration 10s\nat 1s drift 1 fast\n", 3, "like +200ppm"},
      {"nodes 3\nduration 10s\nat 1s crash 3\n", 3, "node 3 does not exist"},
      {"nodes 3\nduration 10s\nat 1s crash 2-1\n", 3, "backwards"},
      {"nodes 3\nduration 10s\nat 1s crash 1,1\n", 3, "twice"},
      {"nodes 3\nduration 10s\nat 1s crash\n", 3, "crash NODES"},
      {"nodes 3\nduration 10s\nat 1s crash a\n", 3, "is not N or N-M"},
      {"nodes 3\nduration 10s\nat 1s crash 1\nat 2s crash 1\n", 4, "already down"},
      {"nodes 3\nduration 10s\nat 1s leave 1\nat 2s crash 1\n", 4, "already down"},
      {"nodes 3\nduration 10s\nat 1s start 1\n", 3, "only an idle node"},
      {"nodes 3\nidle 2\nduration 10s\nat 1s crash 2\n", 4, "idle"},
      {"nodes 3\nidle 2\nduration 10s\nat 1s start 2\nat 2s start 2\n", 5, "only an idle node"},
      {"nodes 3\nduration 10s\nat 2s heal\nat 1s heal\n", 4, "time order"},
      {"nodes 3\nduration 10s\nat 11s heal\n", 3, "after the end"},
      {"nodes 3\nduration 10s\nat 1s heal now\n", 3, "at TIME heal"},
      {"nodes 3\nduration 10s\nat 1s partition 0-2\n", 3, "two groups"},
      {"nodes 3\nduration 10s\nat 1s partition 0-1 | 1-2\n", 3, "two groups"},
      {"nodes 3\nduration 10s\nat 1s partition 0 | \n", 3, "expected node numbers"},
      {"nodes 3\nduration 10s\nat 1s explode 1\n", 3, "unknown action 'explode'"},
      {"nodes 3\nduration 10s\nat soon heal\n", 3, "like 30s"},
      {"at 1s heal\n", 1, "'nodes N' must come before"},
      {"idle 1\n", 1, "'nodes N' must come before"},
      {"nodes 3\nduration 10s\nat 1s heal\nseed 4\n", 4, "settings come first"},
      {"nodes 3\nduration 10s\nexpect converged soon\n", 3, "expect converged within TIME"},
      {"nodes 3\nduration 10s\nexpect converged within 0s\n", 3, "like 2s"},
      {"nodes 3\nduration 10s\nexpect converged within 1s\nexpect converged within 2s\n", 4, "set twice"},
      {"nodes 3\nduration 10s\nexpect false-alarms at most lots\n", 3, "whole number"},
      {"nodes 3\nname bad/name\n", 2, "A-Z a-z"},
      {"nodes 3\x01\n", 1, "byte 0x01"},
      {"nodes \xc3\xa9\n", 1, "byte 0xc3"},
      {"nodes 3\nduration 10s\nat 1s loss 5\n", 3, "0%..100%"},
  };
  for (const BadCase& c : cases) {
    const ScenarioError err = parse_bad(c.text);
    EXPECT_EQ(err.line, c.line) << c.text << " -> " << err.message;
    EXPECT_NE(err.message.find(c.says), std::string::npos) << c.text << " -> " << err.message;
  }
}

TEST(ScenarioParser, DriftInTheHeaderAndOverTime) {
  const Scenario s = parse_ok(
      "nodes 5\nduration 10s\ndrift 2 +200ppm\ndrift 0-1, 4 -50ppm\ndrift 2 0ppm\nat 5s drift 3 +100000ppm\n");
  ASSERT_EQ(s.drift.size(), 3u);
  EXPECT_EQ(s.drift[0].nodes, (std::vector<uint32_t>{2}));
  EXPECT_EQ(s.drift[0].ppm, 200);
  EXPECT_EQ(s.drift[1].nodes, (std::vector<uint32_t>{0, 1, 4}));
  EXPECT_EQ(s.drift[1].ppm, -50);
  EXPECT_EQ(s.drift[2].ppm, 0);
  ASSERT_EQ(s.actions.size(), 1u);
  EXPECT_EQ(s.actions[0].kind, ActionKind::kDrift);
  EXPECT_EQ(s.actions[0].nodes, (std::vector<uint32_t>{3}));
  EXPECT_EQ(s.actions[0].ppm, 100000);
}

TEST(ScenarioParser, RefusesOverlongLines) {
  const ScenarioError err = parse_bad("nodes 3\n# " + std::string(kMaxLineBytes, 'x') + "\n");
  EXPECT_EQ(err.line, 2u);
}

TEST(ScenarioParser, MessagesQuoteBadBytesReadably) {
  // Comments may hold anything printable; a bad token is echoed with control bytes escaped.
  const ScenarioError err = parse_bad("nodes 3\nprofile \x7f\n");
  EXPECT_EQ(err.line, 2u);
  EXPECT_EQ(err.message.find('\x7f'), std::string::npos);
}

TEST(ScenarioParser, FormatsTimesForPeople) {
  EXPECT_EQ(format_ms(250), "250 ms");
  EXPECT_EQ(format_ms(1500), "1.5 s");
  EXPECT_EQ(format_ms(600000), "600 s");
}

}  // namespace
}  // namespace spore_sim
