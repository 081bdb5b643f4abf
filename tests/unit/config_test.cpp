#include "spore/node/config.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace spore {
namespace {

TEST(Config, Esp8266ProfileHasTheSeedsTimings) {
  const Config c = Config::default_esp8266();
  EXPECT_EQ(c.discovery_interval_ms, 1000u);
  EXPECT_EQ(c.listen_interval_ms, 100u);
  EXPECT_EQ(c.status_interval_ms, 1000u);
  EXPECT_EQ(c.heartbeat_interval_ms, 2500u);  // seed: 2 s; see config.cpp for why not
  EXPECT_EQ(c.member_info_interval_ms, 10000u);
  EXPECT_EQ(c.debug_interval_ms, 5000u);
  EXPECT_EQ(c.inactive_after_ms, 10000u);
  EXPECT_EQ(c.dead_after_ms, 60000u);
  EXPECT_EQ(c.udp_port, 4210);
  EXPECT_EQ(c.http_port, 80);
}

// The tables each profile had before its timers were derived (docs/protocol.md §11.4), with
// broadcast liveness: derive() must reproduce them field by field, so every measured figure of a
// profile still holds. The hosts' profiles run digest liveness by default (docs/protocol.md
// §11.12): the same tables with the two timers with_digest_liveness() sets.
struct Table {
  uint32_t discovery, listen, status, heartbeat, member_info, debug, jitter, long_task, inactive, dead, retention,
      suspect, probe;
  uint8_t indirect;
  uint16_t udp, http;
  uint32_t ota_stall;
};

// The esp8266 table under with_digest_liveness(): I / 3 = 3,333 ms, 1.5 x that.
Table esp8266_digest_table(Table t) {
  t.heartbeat = 3333;
  t.suspect = 4999;
  return t;
}

void expect_table(const Config& c, const Table& t, const char* name) {
  EXPECT_EQ(c.discovery_interval_ms, t.discovery) << name;
  EXPECT_EQ(c.listen_interval_ms, t.listen) << name;
  EXPECT_EQ(c.status_interval_ms, t.status) << name;
  EXPECT_EQ(c.heartbeat_interval_ms, t.heartbeat) << name;
  EXPECT_EQ(c.member_info_interval_ms, t.member_info) << name;
  EXPECT_EQ(c.debug_interval_ms, t.debug) << name;
  EXPECT_EQ(c.start_jitter_max_ms, t.jitter) << name;
  EXPECT_EQ(c.long_task_warn_ms, t.long_task) << name;
  EXPECT_EQ(c.inactive_after_ms, t.inactive) << name;
  EXPECT_EQ(c.dead_after_ms, t.dead) << name;
  EXPECT_EQ(c.dead_retention_ms, t.retention) << name;
  EXPECT_EQ(c.suspect_after_ms, t.suspect) << name;
  EXPECT_EQ(c.probe_timeout_ms, t.probe) << name;
  EXPECT_EQ(c.indirect_probes, t.indirect) << name;
  EXPECT_EQ(c.udp_port, t.udp) << name;
  EXPECT_EQ(c.http_port, t.http) << name;
  EXPECT_EQ(c.ota_stall_timeout_ms, t.ota_stall) << name;
}

TEST(Config, DerivedProfilesEqualTheirTablesFieldByField) {
  const Table esp8266{1000, 100, 1000, 2500, 10000, 5000, 1000, 100, 10000, 60000, 300000, 4000, 500, 3, 4210, 80,
                      30000};
  Table lan = esp8266;
  lan.http = 8080;
  lan.long_task = 50;
  const Table fast{250, 20, 100, 250, 2000, 0, 250, 50, 1500, 6000, 30000, 400, 100, 3, 4210, 8080, 10000};
  expect_table(Config::derive(Profile::kEsp8266), esp8266, "esp8266");
  expect_table(Config::derive(Profile::kEsp8266, Liveness::kBroadcast), esp8266, "esp8266 broadcast");
  expect_table(Config::derive(Profile::kLan, Liveness::kBroadcast), lan, "lan broadcast");
  expect_table(Config::derive(Profile::kFast, Liveness::kBroadcast), fast, "fast broadcast");
  // Naming a profile's own thresholds is the same as leaving them to it.
  expect_table(Config::derive(Profile::kLan, Liveness::kBroadcast, 10000, 60000), lan, "lan broadcast 10 s / 60 s");
  expect_table(Config::derive(Profile::kFast, Liveness::kBroadcast, 1500, 6000), fast, "fast broadcast 1.5 s / 6 s");
  expect_table(Config::default_esp8266(), esp8266, "default_esp8266");
  // Digest: the period max(H, I / 3), the suspicion 1.5 periods (within I - 4 x probe timeout).
  Table lan_digest = lan;
  lan_digest.heartbeat = 3333;
  lan_digest.suspect = 4999;
  Table fast_digest = fast;
  fast_digest.heartbeat = 500;
  fast_digest.suspect = 750;
  expect_table(Config::derive(Profile::kLan), lan_digest, "lan");
  expect_table(Config::derive(Profile::kFast), fast_digest, "fast");
  expect_table(Config::derive(Profile::kLan, 10000, 60000), lan_digest, "lan 10 s / 60 s");
  expect_table(Config::derive(Profile::kFast, 1500, 6000), fast_digest, "fast 1.5 s / 6 s");
  expect_table(Config::derive(Profile::kLan, Liveness::kDigest), lan_digest, "lan digest");
  expect_table(Config::default_lan(), lan_digest, "default_lan");
  expect_table(Config::fast(), fast_digest, "fast()");
  expect_table(Config::derive(Profile::kEsp8266, Liveness::kDigest), esp8266_digest_table(esp8266), "esp8266 digest");
}

TEST(Config, EachProfileHasItsLiveness) {
  // Hosts hear DIGESTs (SPORE_DIGEST_LIVENESS 1); the ESP8266 build carries no chain.
  EXPECT_EQ(Config::default_esp8266().liveness, Liveness::kBroadcast);
  EXPECT_EQ(Config::default_lan().liveness, Liveness::kDigest);
  EXPECT_EQ(Config::fast().liveness, Liveness::kDigest);
  EXPECT_EQ(Config::derive(Profile::kEsp8266).liveness, Liveness::kBroadcast);
  EXPECT_EQ(Config::derive(Profile::kLan, 3000).liveness, Liveness::kDigest);
  EXPECT_EQ(Config::derive(Profile::kFast, 0, 9000).liveness, Liveness::kDigest);
  EXPECT_EQ(Config::derive(Profile::kLan, Liveness::kBroadcast, 3000).liveness, Liveness::kBroadcast);
  EXPECT_EQ(Config::derive(Profile::kEsp8266, Liveness::kDigest).liveness, Liveness::kDigest);
  EXPECT_EQ(Config{}.liveness, Liveness::kBroadcast);
}

TEST(Config, ShorterInactiveThresholdDerivesShorterTimers) {
  // `spored --inactive-after-ms 3000` was refused before the timers were derived. The rules'
  // table (config.h) is the broadcast one; digest's two timers follow from it (below).
  const Config c = Config::derive(Profile::kLan, Liveness::kBroadcast, 3000);
  EXPECT_EQ(c.validate(), nullptr);
  EXPECT_EQ(c.inactive_after_ms, 3000u);
  EXPECT_EQ(c.dead_after_ms, 60000u);  // the profile's: still longer than 2 x 3 s
  EXPECT_EQ(c.heartbeat_interval_ms, 750u);
  EXPECT_EQ(c.suspect_after_ms, 1200u);
  EXPECT_EQ(c.probe_timeout_ms, 200u);
  EXPECT_EQ(c.listen_interval_ms, 40u);
  EXPECT_EQ(c.status_interval_ms, 300u);
  // Traffic stays the profile's: the periods that do not follow the thresholds are unchanged.
  EXPECT_EQ(c.member_info_interval_ms, Config::default_lan().member_info_interval_ms);
  EXPECT_EQ(c.discovery_interval_ms, Config::default_lan().discovery_interval_ms);
  // The default (digest) ends with with_digest_liveness(): period max(750, 3000 / 3), 1.5 x that;
  // every other timer as above.
  const Config d = Config::derive(Profile::kLan, 3000);
  EXPECT_EQ(d.validate(), nullptr);
  EXPECT_EQ(d.liveness, Liveness::kDigest);
  EXPECT_EQ(d.heartbeat_interval_ms, 1000u);
  EXPECT_EQ(d.suspect_after_ms, 1500u);
  EXPECT_EQ(d.probe_timeout_ms, c.probe_timeout_ms);
  EXPECT_EQ(d.listen_interval_ms, c.listen_interval_ms);
  EXPECT_EQ(d.status_interval_ms, c.status_interval_ms);
  EXPECT_EQ(d.dead_after_ms, c.dead_after_ms);
}

TEST(Config, LongerThresholdsKeepTheProfilesTimers) {
  // With broadcast heartbeats the period never grows past the profile's: it sets the traffic.
  const Config c = Config::derive(Profile::kLan, Liveness::kBroadcast, 70000);
  EXPECT_EQ(c.validate(), nullptr);
  EXPECT_EQ(c.dead_after_ms, 140000u);  // 2 x inactive: the profile's 60 s would be shorter
  EXPECT_EQ(c.dead_retention_ms, 300000u);  // the profile's: how long operators see a DEAD member
  EXPECT_EQ(c.heartbeat_interval_ms, 2500u);
  EXPECT_EQ(c.probe_timeout_ms, 500u);
  EXPECT_EQ(c.suspect_after_ms, 4000u);
  // The DIGEST period does grow, to I / 3 (three DIGESTs per window suffice where evidence is
  // relayed, Config::with_digest_liveness()); the other timers are the broadcast ones.
  const Config d = Config::derive(Profile::kLan, 70000);
  EXPECT_EQ(d.validate(), nullptr);
  EXPECT_EQ(d.heartbeat_interval_ms, 23333u);
  EXPECT_EQ(d.suspect_after_ms, 34999u);
  EXPECT_EQ(d.probe_timeout_ms, 500u);
  EXPECT_EQ(d.dead_after_ms, 140000u);
}

TEST(Config, DeadThresholdAloneDerivesTheInactiveOne) {
  EXPECT_EQ(Config::derive(Profile::kLan, 0, 120000).inactive_after_ms, 10000u);  // the profile's fits
  const Config c = Config::derive(Profile::kLan, 0, 5000);
  EXPECT_EQ(c.inactive_after_ms, 2500u);
  EXPECT_EQ(c.dead_after_ms, 5000u);
  EXPECT_EQ(c.validate(), nullptr);
}

TEST(Config, EveryThresholdTheRulesCanSatisfyValidates) {
  for (const Profile p : {Profile::kEsp8266, Profile::kLan, Profile::kFast}) {
    for (const Liveness mode : {Liveness::kBroadcast, Liveness::kDigest}) {
      // Digest mode needs 7 ms: at 6 its suspicion (1.5 x the 2 ms period, capped at 6 - 4 x 1 ms)
      // would equal the period.
      const uint32_t lowest = mode == Liveness::kDigest ? 7 : 6;
      for (uint32_t inactive = lowest; inactive < 4000000000u; inactive += inactive / 7 + 1) {
        const Config c = Config::derive(p, mode, inactive);
        ASSERT_EQ(c.validate(), nullptr) << "inactive " << inactive << ": " << c.validate();
        EXPECT_EQ(c.inactive_after_ms, inactive);
        EXPECT_EQ(c.liveness, mode);
        const Config d = Config::derive(p, mode, inactive, inactive + 1);
        ASSERT_EQ(d.validate(), nullptr) << "inactive " << inactive << " dead " << inactive + 1;
      }
      EXPECT_NE(Config::derive(p, mode, lowest - 1).validate(), nullptr);
    }
  }
  // Below 6 ms the rules cannot fit a heartbeat, a suspicion and two probe rounds: refused.
  EXPECT_NE(Config::derive(Profile::kFast, 5).validate(), nullptr);
}

TEST(Config, LanProfileKeepsSeedThresholdsOnPort8080) {
  const Config c = Config::default_lan();
  EXPECT_EQ(c.inactive_after_ms, 10000u);
  EXPECT_EQ(c.dead_after_ms, 60000u);
  EXPECT_EQ(c.udp_port, 4210);
  EXPECT_EQ(c.http_port, 8080);
}

TEST(Config, FastProfileDetectsSoonerButStaysConsistent) {
  const Config c = Config::fast();
  EXPECT_LT(c.inactive_after_ms, Config::default_lan().inactive_after_ms);
  EXPECT_LT(c.heartbeat_interval_ms, Config::default_lan().heartbeat_interval_ms);
  EXPECT_GE(c.inactive_after_ms, 2 * c.heartbeat_interval_ms);
  EXPECT_LT(c.suspect_after_ms, Config::default_lan().suspect_after_ms);
  EXPECT_LT(c.probe_timeout_ms, Config::default_lan().probe_timeout_ms);
}

TEST(Config, ProbingFitsAtLeastTwoRoundsBeforeInactive) {
  for (const Config& c : {Config::default_esp8266(), Config::default_lan(), Config::fast()}) {
    EXPECT_GT(c.suspect_after_ms, c.heartbeat_interval_ms);
    EXPECT_LE(c.suspect_after_ms + 4 * c.probe_timeout_ms, c.inactive_after_ms);
    EXPECT_GE(c.indirect_probes, 1);
  }
}

TEST(Config, OtaStallTimeoutPerProfile) {
  EXPECT_EQ(Config::default_esp8266().ota_stall_timeout_ms, 30000u);
  EXPECT_EQ(Config::default_lan().ota_stall_timeout_ms, 30000u);
  EXPECT_EQ(Config::fast().ota_stall_timeout_ms, 10000u);
  Config c{};
  EXPECT_EQ(c.ota_stall_timeout_ms, 30000u);  // a value-initialized Config gets the default too
}

TEST(Config, EveryProfileValidates) {
  EXPECT_EQ(Config::default_esp8266().validate(), nullptr);
  EXPECT_EQ(Config::default_lan().validate(), nullptr);
  EXPECT_EQ(Config::fast().validate(), nullptr);
}

TEST(Config, RejectsInconsistentValuesWithAReason) {
  struct Case {
    const char* what;
    void (*mutate)(Config&);
  };
  const Case cases[] = {
      {"dead before inactive", [](Config& c) { c.dead_after_ms = c.inactive_after_ms; }},
      {"zero heartbeat", [](Config& c) { c.heartbeat_interval_ms = 0; }},
      {"zero listen", [](Config& c) { c.listen_interval_ms = 0; }},
      {"zero discovery", [](Config& c) { c.discovery_interval_ms = 0; }},
      {"zero status", [](Config& c) { c.status_interval_ms = 0; }},
      {"zero member info", [](Config& c) { c.member_info_interval_ms = 0; }},
      {"zero inactive", [](Config& c) { c.inactive_after_ms = 0; }},
      {"inactive within one lost heartbeat", [](Config& c) { c.inactive_after_ms = c.heartbeat_interval_ms; }},
      {"status slower than inactive", [](Config& c) { c.status_interval_ms = c.inactive_after_ms + 1; }},
      {"zero probe timeout", [](Config& c) { c.probe_timeout_ms = 0; }},
      {"suspect before a heartbeat is due", [](Config& c) { c.suspect_after_ms = c.heartbeat_interval_ms; }},
      {"no time to probe before inactive", [](Config& c) { c.suspect_after_ms = c.inactive_after_ms - 1; }},
      // 4 x 2^30 wraps to 0 in 32 bits: accepted before `spored --probe-timeout-ms` could set it.
      {"probe timeout whose 4 rounds wrap", [](Config& c) { c.probe_timeout_ms = 0x40000000u; }},
      {"suspect after inactive", [](Config& c) { c.suspect_after_ms = c.inactive_after_ms + 1; }},
      {"too many indirect probes", [](Config& c) { c.indirect_probes = 9; }},
      {"udp port 0", [](Config& c) { c.udp_port = 0; }},
      {"http port 0", [](Config& c) { c.http_port = 0; }},
      {"ota stall timeout below a second", [](Config& c) { c.ota_stall_timeout_ms = 999; }},
  };
  for (const Case& k : cases) {
    Config c = Config::default_lan();
    k.mutate(c);
    const char* err = c.validate();
    ASSERT_NE(err, nullptr) << k.what;
    EXPECT_GT(std::string(err).size(), 10u) << k.what;
    // The flash form (what an ESP8266 node reads) says the same.
    const FlashStr flash = c.validation_error();
    ASSERT_FALSE(flash.is_null()) << k.what;
    EXPECT_TRUE(flash.equals(err)) << k.what;
    EXPECT_LT(flash.length(), 100u) << k.what;  // NodeContext::begin() copies it into 100 bytes
  }
  EXPECT_TRUE(Config::default_esp8266().validation_error().is_null());
}

TEST(Config, DigestLivenessKeepsTheThresholdsAndValidates) {
  // From the broadcast tables: what with_digest_liveness() changes, and what it keeps.
  for (const Config& base : {Config::derive(Profile::kFast, Liveness::kBroadcast),
                             Config::derive(Profile::kLan, Liveness::kBroadcast), Config::default_esp8266()}) {
    const Config c = base.with_digest_liveness();
    EXPECT_EQ(c.liveness, Liveness::kDigest);
    EXPECT_EQ(c.validate(), nullptr);
    EXPECT_EQ(c.inactive_after_ms, base.inactive_after_ms);
    EXPECT_EQ(c.dead_after_ms, base.dead_after_ms);
    EXPECT_EQ(c.heartbeat_interval_ms, std::max(base.heartbeat_interval_ms, base.inactive_after_ms / 3));
    EXPECT_GT(c.suspect_after_ms, c.heartbeat_interval_ms);
    EXPECT_LE(c.suspect_after_ms + 4 * c.probe_timeout_ms, c.inactive_after_ms);
  }
  EXPECT_EQ(Config::fast().with_digest_liveness().heartbeat_interval_ms, 500u);
  // The hosts' profiles are digest already: applying it again changes nothing.
  const Table lan{1000, 100, 1000, 3333, 10000, 5000, 1000, 50, 10000, 60000, 300000, 4999, 500, 3, 4210, 8080, 30000};
  expect_table(Config::default_lan().with_digest_liveness(), lan, "default_lan twice");
  const Table fast{250, 20, 100, 500, 2000, 0, 250, 50, 1500, 6000, 30000, 750, 100, 3, 4210, 8080, 10000};
  expect_table(Config::fast().with_digest_liveness(), fast, "fast twice");
}

}  // namespace
}  // namespace spore
