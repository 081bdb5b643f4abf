// spore::Node, the composition root: begin()'s order (the api list), the firmware identity set
// once and announced, and the loop owner (watchdog, blocking-pass warning, the receive path with
// its per-pass limit).

#include "spore/node/node_root.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <string>
#include <vector>

#include "fakes.h"
#include "ota_test_support.h"

namespace spore {
namespace {

using testing::CapturingLog;
using testing::FakeClock;
using testing::FakeFlashTarget;
using testing::FakeRandom;
using testing::FakeSystemInfo;

/// FakeUdp's send side plus a receive queue.
class QueueUdp : public testing::FakeUdp {
 public:
  size_t next_datagram() override {
    if (current_) queue.pop_front();
    current_ = !queue.empty();
    ++taken;
    return current_ ? queue.front().size() : 0;
  }
  size_t read(uint8_t* buffer, size_t size_bytes) override {
    const size_t n = std::min(size_bytes, queue.front().size());
    std::copy(queue.front().begin(), queue.front().begin() + static_cast<std::ptrdiff_t>(n), buffer);
    return n;
  }
  uint32_t remote_ip() override { return 0x0A000009u; }
  uint16_t remote_port() override { return 4210; }

  std::deque<std::vector<uint8_t>> queue;
  int taken = 0;

 private:
  bool current_ = false;
};

class CountingWatchdog : public Watchdog {
 public:
  void feed() override { ++feeds; }
  int feeds = 0;
};

struct NodeFixture {
  FakeClock clock;
  FakeRandom random;
  FakeSystemInfo system;
  CapturingLog log;
  QueueUdp udp;
  FakeFlashTarget flash;
  CountingWatchdog watchdog;
  Node node{testing::fast_config_without_jitter(), NodePorts{clock, random, system, udp, flash, &log, &watchdog, 4}};
  uint8_t sha256[32] = {0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3};

  bool begin() { return node.begin({0x1234, 1, 0x0A000002u, "n1"}, FirmwareIdentity{"1.2.3", &sha256}); }
};

std::vector<std::string> api_uris(const NodeContext& ctx) {
  std::vector<std::string> out;
  for (size_t i = 0; i < ctx.api().size(); ++i) out.emplace_back(ctx.api().at(i).uri_view());
  return out;
}

TEST(NodeTest, BeginThenServicesListTheSeedRoutesFirstInOneOrder) {
  NodeFixture f;
  ASSERT_TRUE(f.begin());
  EXPECT_TRUE(f.node.serves_update());
  static const uint8_t kPage[20] = {0x1F, 0x8B, 0x08};  // a gzip member's head (RestApi checks it)
  NodeServices services;
  services.dashboard_gzip = kPage;
  services.dashboard_bytes = sizeof kPage;
  EXPECT_TRUE(f.node.begin_services(services));
  EXPECT_EQ(api_uris(f.node.context()),
            (std::vector<std::string>{"/api/node/status", "/api/cluster/members", "/api/node/restart",
                                      "/api/node/challenge", "/api/cluster/members/{nodeId}", "/api/node/update", "/",
                                      "/metrics", "/api/cluster/events", "/api/cluster/events/stream"}));
}

TEST(NodeTest, WithoutRestNoRouteIsRegistered) {
  NodeFixture f;
  ASSERT_TRUE(f.node.begin({0x1234, 1, 0x0A000002u, "n1"}, FirmwareIdentity{}, NodeRest::kNone));
  EXPECT_EQ(f.node.context().api().size(), 0u);
  EXPECT_FALSE(f.node.serves_update());
  EXPECT_FALSE(f.node.context().has_firmware());
}

TEST(NodeTest, TheFirmwareIdentityIsSetOnceAndAnnounced) {
  NodeFixture f;
  ASSERT_TRUE(f.begin());
  EXPECT_STREQ(f.node.context().firmware_version(), "1.2.3");
  EXPECT_EQ(f.node.context().image_digest(), 0xDEADBEEFu);
  EXPECT_TRUE(f.node.ota_session().running_version().valid);
  f.node.start_membership();
  f.node.loop();
  ASSERT_FALSE(f.udp.sent.empty());
  // The join ANNOUNCE (open cluster: plain bytes) carries the digest NodeContext holds.
  const std::vector<uint8_t> digest = {0xDE, 0xAD, 0xBE, 0xEF};
  const auto& bytes = f.udp.sent.front().bytes;
  EXPECT_NE(std::search(bytes.begin(), bytes.end(), digest.begin(), digest.end()), bytes.end());
}

TEST(NodeTest, EachPassFeedsTheWatchdogAndABlockingPassIsWarnedAbout) {
  NodeFixture f;
  ASSERT_TRUE(f.begin());
  f.node.loop();
  f.node.loop();
  EXPECT_EQ(f.watchdog.feeds, 2);
  f.clock.advance(LoopPassMonitor::kDefaultWarnMs + 100);  // something in this pass blocked
  f.node.loop();
  EXPECT_EQ(f.node.loop_stats().long_passes, 1u);
  EXPECT_NE(std::find_if(f.log.lines.begin(), f.log.lines.end(),
                         [](const std::string& l) { return l.find("long loop: 600 ms") != std::string::npos; }),
            f.log.lines.end());
}

TEST(NodeTest, APassTakesAtMostItsShareOfDatagramsAndNoneWhenNotReceiving) {
  NodeFixture f;
  ASSERT_TRUE(f.begin());
  f.node.start_membership();
  for (int i = 0; i < 6; ++i) f.udp.queue.push_back(std::vector<uint8_t>(12, static_cast<uint8_t>(i)));
  f.node.loop(false);
  EXPECT_EQ(f.udp.taken, 0);
  f.node.loop();
  EXPECT_EQ(f.node.udp_stats().received, 4u);  // NodePorts::datagrams_per_pass
  EXPECT_EQ(f.node.membership().stats().datagrams_received, 4u) << "handed to Membership";
  f.node.loop();
  EXPECT_EQ(f.node.udp_stats().received, 6u);
  EXPECT_TRUE(f.udp.queue.size() <= 1u);
}

TEST(NodeTest, StartMembershipIsOnce) {
  NodeFixture f;
  ASSERT_TRUE(f.begin());
  f.node.start_membership();
  const size_t sent = f.udp.sent.size();
  f.node.start_membership();
  EXPECT_EQ(f.udp.sent.size(), sent);
  EXPECT_TRUE(f.node.membership().begun());
}

std::string status_json(const NodeContext& ctx) {
  static char buffer[4096];
  BufferJsonOutput out(buffer, sizeof buffer);
  JsonWriter w(out);
  ctx.write_status_json(w);
  return std::string(buffer, out.size());
}

// Issue 20: "clusterAuth" says whether the node's datagrams carry a tag, and follows the key the
// platform gives spore::Node (never a separate flag that could disagree with Membership).
TEST(NodeTest, TheClusterKeyTagsDatagramsAndShowsAsClusterAuth) {
  NodeFixture f;
  ASSERT_TRUE(f.begin());
  EXPECT_NE(status_json(f.node.context()).find(R"("clusterAuth":"open")"), std::string::npos);
  HmacKey key;
  ASSERT_TRUE(key.set_hex("00112233445566778899aabbccddeeff"));
  f.node.set_cluster_key(key);
  EXPECT_TRUE(f.node.context().cluster_keyed());
  EXPECT_NE(status_json(f.node.context()).find(R"("clusterAuth":"keyed")"), std::string::npos);
  f.node.start_membership();
  f.node.loop();
  ASSERT_FALSE(f.udp.sent.empty());
  EXPECT_EQ(f.udp.sent.front().bytes.at(4) & 1u, 1u);  // header flags bit 0: a tag follows the body
  f.node.set_cluster_key(HmacKey{});
  EXPECT_NE(status_json(f.node.context()).find(R"("clusterAuth":"open")"), std::string::npos);
}

}  // namespace
}  // namespace spore
