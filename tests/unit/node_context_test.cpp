#include "spore/node/node_context.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fakes.h"

namespace spore {
namespace {

using testing::CapturingLog;
using testing::FakeClock;
using testing::FakeRandom;
using testing::FakeSystemInfo;

class NodeContextTest : public ::testing::Test {
 protected:
  NodeContextTest() : ctx(cfg(), clock, rnd, sys, &log) {}
  static Config cfg() {
    Config c = Config::default_lan();
    c.start_jitter_max_ms = 0;
    return c;
  }
  nlohmann::json render(bool members) {
    BufferJsonOutput out(buf, sizeof buf);
    JsonWriter w(out);
    if (members) {
      ctx.write_members_json(w);
    } else {
      ctx.write_status_json(w);
    }
    EXPECT_TRUE(w.complete());
    EXPECT_FALSE(out.overflowed());
    return nlohmann::json::parse(out.c_str());
  }
  void tick_for(uint32_t ms) {
    for (uint32_t i = 0; i < ms; i += 10) {
      ctx.loop();
      clock.advance(10);
    }
  }

  FakeClock clock{0};
  FakeRandom rnd;
  FakeSystemInfo sys;
  CapturingLog log;
  NodeContext ctx;
  char buf[8192];
};

TEST_F(NodeContextTest, RefusesToBeginWithBadConfigOrIdentity) {
  Config bad = Config::default_lan();
  bad.dead_after_ms = 1;
  NodeContext c1(bad, clock, rnd, sys, &log);
  EXPECT_FALSE(c1.begin({1, 1, 0, "n"}));
  EXPECT_EQ(log.lines.back(), "invalid config: dead_after_ms must be greater than inactive_after_ms");
  NodeContext c2(cfg(), clock, rnd, sys, &log);
  EXPECT_FALSE(c2.begin({0, 1, 0, "n"}));
  EXPECT_FALSE(c2.begin({1, 1, 0, ""}));
  EXPECT_FALSE(c2.begin({1, 1, 0, std::string(SPORE_MAX_HOSTNAME_LEN + 1, 'x')}));
}

// A board built with the ESP8266 profile whose settings say liveness=digest (DeviceConfig) runs the
// profile's thresholds with the digest mode's timers, as Config::with_digest_liveness() computes,
// and begins with them.
TEST_F(NodeContextTest, DigestLivenessChosenAfterConstructionTakesItsTimers) {
  const Config esp = Config::default_esp8266();
  ASSERT_EQ(esp.liveness, Liveness::kBroadcast);
  NodeContext c(esp, clock, rnd, sys, &log);
  c.use_digest_liveness();
  const Config want = esp.with_digest_liveness();
  EXPECT_EQ(c.config().liveness, Liveness::kDigest);
  EXPECT_EQ(c.config().heartbeat_interval_ms, want.heartbeat_interval_ms);
  EXPECT_EQ(c.config().suspect_after_ms, want.suspect_after_ms);
  EXPECT_EQ(c.config().inactive_after_ms, esp.inactive_after_ms);
  EXPECT_EQ(c.config().dead_after_ms, esp.dead_after_ms);
  EXPECT_TRUE(c.begin({1, 1, 0, "n"}));
}

TEST_F(NodeContextTest, FlashFormatLogLinesAreFormattedLikePrintf) {
  // SPORE_LOG keeps the format in flash (node_context.h); the line must equal printf's.
  SPORE_LOG(ctx, LogLevel::kWarn, "member %s (%08lx) %u%%", "n1", static_cast<unsigned long>(0xABCD), 7u);
  ASSERT_FALSE(log.lines.empty());
  EXPECT_EQ(log.lines.back(), "member n1 (0000abcd) 7%");
  EXPECT_EQ(log.levels.back(), LogLevel::kWarn);
  SPORE_LOG(ctx, LogLevel::kError, "no arguments");
  EXPECT_EQ(log.lines.back(), "no arguments");
  // Lines are still cut at 160 bytes.
  SPORE_LOG(ctx, LogLevel::kInfo, "%s", std::string(300, 'x').c_str());
  EXPECT_EQ(log.lines.back(), std::string(159, 'x'));
  if (false) SPORE_LOG(ctx, LogLevel::kInfo, "dangling else");  // the macro is one statement
  else
    SPORE_LOG(ctx, LogLevel::kInfo, "else branch");
  EXPECT_EQ(log.lines.back(), "else branch");
}

TEST_F(NodeContextTest, StatusDocumentHasTheSeedsFields) {
  ASSERT_TRUE(ctx.begin({0x1234, 7, 0x7F000001, "esp_001234"}));
  ctx.api().add("/api/node/status", HttpMethod::kGet);
  ctx.api().add("/api/node/restart", HttpMethod::kPost);
  nlohmann::json j = render(false);
  EXPECT_EQ(j["freeHeap"], 41000);
  EXPECT_EQ(j["chipId"], 0x00ABCDEF);
  EXPECT_EQ(j["sdkVersion"], "2.2.2-dev(38a443e)");
  EXPECT_EQ(j["cpuFreqMHz"], 80);
  EXPECT_EQ(j["flashChipSize"], 1048576);
  ASSERT_EQ(j["api"].size(), 2u);
  EXPECT_EQ(j["api"][0], (nlohmann::json{{"uri", "/api/node/status"}, {"method", "GET"}}));
  EXPECT_EQ(j["hostname"], "esp_001234");
  EXPECT_EQ(j["incarnation"], 7);
}

TEST_F(NodeContextTest, MembersDocumentHasTheSeedsShapeWithSelfFirst) {
  ASSERT_TRUE(ctx.begin({0x1234, 7, 0x7F000001, "self"}));
  ctx.members().observe({99, 1, 0xC0A80164, 8080, "esp_123456"}, clock.now_ms());
  ctx.members().set_latency(99, 5);
  ctx.members().set_resources(99, MemberResources{12345, 12345678, 1048576, 80}, "2.2.2-dev(38a443e)");
  ApiEndpoint e{};
  e.method = HttpMethod::kGet;
  std::strcpy(e.uri, "/api/node/status");
  ctx.members().set_api(99, 1, &e, 1);
  clock.advance(3000);
  nlohmann::json j = render(true);
  ASSERT_EQ(j["members"].size(), 2u);
  EXPECT_EQ(j["members"][0]["self"], true);
  EXPECT_EQ(j["members"][0]["ip"], "127.0.0.1");
  const nlohmann::json& m = j["members"][1];
  // Exactly the seed's example member, plus extra fields.
  EXPECT_EQ(m["hostname"], "esp_123456");
  EXPECT_EQ(m["ip"], "192.168.1.100");
  EXPECT_TRUE(m["lastSeen"].is_number());
  EXPECT_EQ(m["latency"], 5);
  EXPECT_EQ(m["status"], "ACTIVE");
  EXPECT_EQ(m["resources"], (nlohmann::json{{"freeHeap", 12345},
                                            {"chipId", 12345678},
                                            {"sdkVersion", "2.2.2-dev(38a443e)"},
                                            {"cpuFreqMHz", 80},
                                            {"flashChipSize", 1048576}}));
  EXPECT_EQ(m["api"], nlohmann::json::parse(R"([{"uri":"/api/node/status","method":"GET"}])"));
  EXPECT_EQ(m["lastSeenAgoMs"], 3000);
}

TEST_F(NodeContextTest, SetIpUpdatesTheIdentityAfterBegin) {
  // An ESP8266 node begins before WiFi has given it an address.
  ASSERT_TRUE(ctx.begin({0x1234, 7, 0, "esp_001234"}));
  EXPECT_EQ(render(true)["members"][0]["ip"], "0.0.0.0");
  ctx.set_ip(0xC0A8010A);
  EXPECT_EQ(ctx.self().ip, 0xC0A8010Au);
  EXPECT_EQ(render(true)["members"][0]["ip"], "192.168.1.10");
}

TEST_F(NodeContextTest, FirmwareVersionAndImageHashInStatusAndMembers) {
  ASSERT_TRUE(ctx.begin({1, 1, 0x7F000001, "self"}));
  // Before the platform sets them the fields are there, empty.
  nlohmann::json st = render(false);
  EXPECT_EQ(st["firmwareVersion"], "");
  EXPECT_EQ(st["imageSha256"], "");
  EXPECT_FALSE(ctx.has_firmware());
  EXPECT_EQ(ctx.image_digest(), 0u);
  Member* peer = ctx.members().observe({99, 1, 0xC0A80164, 8080, "peer"}, clock.now_ms());
  ASSERT_NE(peer, nullptr);
  nlohmann::json m = render(true);
  EXPECT_EQ(m["members"][0]["imageDigest"], "00000000");
  EXPECT_EQ(m["members"][1]["imageDigest"], "00000000");

  uint8_t sha[32];
  for (int i = 0; i < 32; ++i) sha[i] = static_cast<uint8_t>(i == 0 ? 0xDE : i);
  ctx.set_firmware("spore 0.2.0-ota+g1234567", sha);
  peer->image_digest = 0x0BADBEEFu;  // what its ANNOUNCE carried
  st = render(false);
  EXPECT_EQ(st["firmwareVersion"], "spore 0.2.0-ota+g1234567");
  EXPECT_EQ(st["imageSha256"], "de0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  EXPECT_EQ(ctx.image_digest(), 0xDE010203u);
  m = render(true);
  EXPECT_EQ(m["members"][0]["imageDigest"], "de010203");
  EXPECT_EQ(m["members"][0]["firmwareVersion"], "spore 0.2.0-ota+g1234567");
  EXPECT_EQ(m["members"][1]["imageDigest"], "0badbeef");
  // The seed's fields are untouched.
  EXPECT_TRUE(st.contains("freeHeap") && st.contains("chipId") && st.contains("api"));

  // Long versions are truncated to SPORE_MAX_VERSION_LEN.
  ctx.set_firmware(std::string(100, 'v'), sha);
  EXPECT_EQ(render(false)["firmwareVersion"], std::string(SPORE_MAX_VERSION_LEN, 'v'));
}

TEST_F(NodeContextTest, SafeModeInStatus) {
  ASSERT_TRUE(ctx.begin({1, 1, 0x7F000001, "self"}));
  EXPECT_EQ(render(false)["safeMode"], false);  // always there: Linux nodes have no safe mode
  ctx.set_safe_mode(true);
  EXPECT_TRUE(ctx.safe_mode());
  EXPECT_EQ(render(false)["safeMode"], true);
}

TEST_F(NodeContextTest, OtaTrialInStatus) {
  ASSERT_TRUE(ctx.begin({1, 1, 0x7F000001, "self"}));
  EXPECT_EQ(render(false)["otaTrial"], false);  // always there: only a Linux image on trial sets it
  ctx.set_ota_trial(true);
  EXPECT_EQ(render(false)["otaTrial"], true);
  ctx.set_ota_trial(false);
  EXPECT_EQ(render(false)["otaTrial"], false);
}

TEST_F(NodeContextTest, SettingsReadOnlyInStatus) {
  ASSERT_TRUE(ctx.begin({1, 1, 0x7F000001, "self"}));
  EXPECT_EQ(render(false)["settingsReadOnly"], false);  // always there: Linux nodes never set it
  ctx.set_settings_read_only(true);
  EXPECT_EQ(render(false)["settingsReadOnly"], true);
}

TEST_F(NodeContextTest, ClusterAuthInStatus) {
  ASSERT_TRUE(ctx.begin({1, 1, 0x7F000001, "self"}));
  EXPECT_EQ(render(false)["clusterAuth"], "open");  // always there: no key until one is set
  ctx.set_cluster_keyed(true);
  EXPECT_EQ(render(false)["clusterAuth"], "keyed");
}

TEST_F(NodeContextTest, HostileHostnamesStillRenderValidJson) {
  ASSERT_TRUE(ctx.begin({1, 1, 0, "self"}));
  const char hostile[] = "\"}\\\n\x01\xff<script>";
  ctx.members().observe({2, 1, 0, 80, std::string_view(hostile, sizeof hostile - 1)}, 0);
  nlohmann::json j = render(true);
  EXPECT_EQ(j["members"].size(), 2u);
}

TEST_F(NodeContextTest, StatusTaskTurnsSilentMembersInactiveAndFiresSeedEvents) {
  ASSERT_TRUE(ctx.begin({1, 1, 0, "self"}));
  static std::vector<std::string> seen;
  seen.clear();
  ctx.on(EventBus::kAnyTopic, EventHandler([](const Event& e) {
           const NodeInfo* n = e.get<NodeInfo>();
           seen.push_back(std::string(e.topic()) + ":" + (n != nullptr ? n->hostname : "?"));
         }));
  ctx.members().observe({2, 1, 0, 80, "peer"}, clock.now_ms());
  tick_for(10500);
  ctx.members().mark_left(2, 1, clock.now_ms());
  EXPECT_EQ(seen, (std::vector<std::string>{"node_discovered:peer", "node_inactive:peer", "node_left:peer"}));
}

TEST_F(NodeContextTest, DebugTaskLogsASummary) {
  ASSERT_TRUE(ctx.begin({1, 1, 0, "self"}));
  tick_for(5100);
  bool found = false;
  for (const std::string& l : log.lines) found = found || l.find("members: 0 active") != std::string::npos;
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace spore
