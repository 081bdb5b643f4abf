#include "spore/node/config.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace spore
