// Metrics: the Prometheus text a node writes for GET /metrics, exactly, and how it follows the
// counters it reports (traffic, rejections, HTTP statuses, OTA events, uptime across clock wraps).

#include "spore/integrations/metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fakes.h"
#include "peer_handshake.h"
#include "spore/cluster/membership.h"
#include "spore/mqtt/mqtt_bridge.h"
#include "spore/node/node_context.h"
#include "spore/ota/ota_upload.h"
#include "spore/node/udp_intake.h"
#include "spore/wire/wire_codec.h"

namespace spore {
namespace {

using testing::FakeClock;
using testing::FakeRandom;
using testing::FakeSystemInfo;

class StringOutput : public JsonOutput {
 public:
  void write(const char* data, size_t size_bytes) override { text.append(data, size_bytes); }
  std::string text;
};

class MetricsTest : public ::testing::Test {
 protected:
  static Config cfg() { return testing::fast_config_without_jitter(); }
  MetricsTest() : ctx(cfg(), clock, rnd, sys, nullptr), api(ctx), mem(ctx, udp, rnd), metrics(ctx, api) {}
  void SetUp() override {
    ASSERT_TRUE(ctx.begin({0xAA, 5, 0x0A000001, "self"}));
    ASSERT_TRUE(api.begin());
    const uint8_t sha[32] = {};
    ctx.set_firmware("1.2.3", sha);
    ASSERT_TRUE(metrics.begin());
  }
  std::string scrape() {
    StringOutput out;
    metrics.write(out);
    return out.text;
  }
  // Through RestApi, as an adapter calls it.
  int get(std::string_view path, std::string* body, HttpResponseHeaders* headers) {
    StringOutput out;
    const int status = api.handle(HttpRequest{HttpMethod::kGet, path, {}, {}, {}, {}}, out, headers);
    *body = out.text;
    return status;
  }
  // The value of the sample line starting with `series` + " ", or -1 when absent.
  static long long value_of(const std::string& text, const std::string& series) {
    const std::string key = "\n" + series + " ";
    const size_t at = ("\n" + text).find(key);
    if (at == std::string::npos) return -1;
    return std::stoll(text.substr(at + key.size() - 1));
  }

  FakeClock clock{1000};
  FakeRandom rnd;
  FakeSystemInfo sys;
  testing::FakeUdp udp;  // records what is sent: the handshake reads the node's challenge
  NodeContext ctx;
  RestApi api;
  Membership mem;
  Metrics metrics;
};

TEST_F(MetricsTest, ExactTextForAKnownState) {
  MemberHello peer;
  peer.node_id = 0xBB;
  peer.incarnation = 1;
  peer.ip = 0x0A000002;
  peer.hostname = "peer";
  ASSERT_NE(ctx.members().observe(peer, clock.now_ms()), nullptr);
  clock.advance(12345);
  sys.free_heap = 30000;
  std::string body;
  ASSERT_EQ(get("/api/node/status", &body, nullptr), 200);  // one 200 before the scrape
  api.record_response(418);                                  // outside the table: "other"

  EXPECT_EQ(scrape(),
            "# HELP spore_members Members by status, this node included.\n"
            "# TYPE spore_members gauge\n"
            "spore_members{status=\"active\"} 2\n"
            "spore_members{status=\"inactive\"} 0\n"
            "spore_members{status=\"dead\"} 0\n"
            "# HELP spore_members_refused_total Newcomers refused because every member is ACTIVE.\n"
            "# TYPE spore_members_refused_total counter\n"
            "spore_members_refused_total 0\n"
            "# HELP spore_members_evicted_total Members forgotten early to make room for a newcomer.\n"
            "# TYPE spore_members_evicted_total counter\n"
            "spore_members_evicted_total 0\n"
            "# HELP spore_http_requests_total HTTP responses by status code.\n"
            "# TYPE spore_http_requests_total counter\n"
            "spore_http_requests_total{code=\"200\"} 1\n"
            "spore_http_requests_total{code=\"other\"} 1\n"
            "# HELP spore_ota_updates_started_total Firmware uploads accepted.\n"
            "# TYPE spore_ota_updates_started_total counter\n"
            "spore_ota_updates_started_total 0\n"
            "# HELP spore_ota_updates_succeeded_total Firmware images installed.\n"
            "# TYPE spore_ota_updates_succeeded_total counter\n"
            "spore_ota_updates_succeeded_total 0\n"
            "# HELP spore_ota_updates_failed_total Uploads ended without a new image.\n"
            "# TYPE spore_ota_updates_failed_total counter\n"
            "spore_ota_updates_failed_total 0\n"
            "# HELP spore_free_heap_bytes Free heap.\n"
            "# TYPE spore_free_heap_bytes gauge\n"
            "spore_free_heap_bytes 30000\n"
            "# HELP spore_uptime_seconds Time since the node started.\n"
            "# TYPE spore_uptime_seconds gauge\n"
            "spore_uptime_seconds 12\n"
            "# HELP spore_build_info Firmware and SDK version.\n"
            "# TYPE spore_build_info gauge\n"
            "spore_build_info{version=\"1.2.3\",sdk=\"2.2.2-dev(38a443e)\"} 1\n");
}

TEST_F(MetricsTest, ServedAsATextRouteListedInTheApiAndPublic) {
  ASSERT_TRUE(api.set_api_token("secret"));
  std::string body;
  HttpResponseHeaders headers;
  ASSERT_EQ(get("/metrics?x=1", &body, &headers), 200);
  ASSERT_NE(headers.content_type, nullptr);
  EXPECT_STREQ(headers.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_STREQ(headers.allow_origin, "*");
  EXPECT_EQ(body.rfind("# HELP spore_members ", 0), 0u);
  // The scrape is counted once it is answered: the next one shows it.
  ASSERT_EQ(get("/metrics", &body, &headers), 200);
  EXPECT_EQ(value_of(body, "spore_http_requests_total{code=\"200\"}"), 1);

  bool listed = false;
  for (size_t i = 0; i < ctx.api().size(); ++i) {
    const ApiEndpoint& e = ctx.api().at(i);
    listed = listed || (e.uri_view() == "/metrics" && e.method == HttpMethod::kGet);
  }
  EXPECT_TRUE(listed);

  // Other methods get RestApi's JSON 405, without a text content type.
  StringOutput out;
  EXPECT_EQ(api.handle(HttpRequest{HttpMethod::kPost, "/metrics", {}, {}, {}, {}}, out, &headers), 405);
  EXPECT_EQ(headers.content_type, nullptr);
  EXPECT_EQ(out.text.front(), '{');
}

TEST_F(MetricsTest, TrafficAndRejectionsFollowMembershipStats) {
  UdpStats intake;
  metrics.set_membership(&mem);
  metrics.set_udp_stats(&intake);
  mem.begin();
  std::string text = scrape();
  EXPECT_EQ(value_of(text, "spore_datagrams_received_total"), 0);
  EXPECT_EQ(value_of(text, "spore_bytes_received_total"), 0);
  EXPECT_EQ(value_of(text, "spore_datagram_send_failures_total"), 0);
  EXPECT_NE(text.find("# TYPE spore_datagrams_rejected_total counter\n"), std::string::npos);
  EXPECT_EQ(text.find("spore_datagrams_rejected_total{"), std::string::npos);  // none yet

  // Two junk datagrams (not "SP") and one too short for a header.
  const uint8_t junk[20] = {'X', 'Y'};
  const uint8_t stub[3] = {'S', 'P', 2};
  mem.on_datagram(0x0A000002, 4210, junk, sizeof junk);
  mem.on_datagram(0x0A000002, 4210, junk, sizeof junk);
  mem.on_datagram(0x0A000002, 4210, stub, sizeof stub);
  intake.dropped_oversize = 4;
  for (int i = 0; i < 100; ++i) {  // heartbeats and join ANNOUNCEs go out
    ctx.loop();
    clock.advance(50);
  }
  text = scrape();
  EXPECT_EQ(value_of(text, "spore_datagrams_received_total"), 3);
  EXPECT_EQ(value_of(text, "spore_bytes_received_total"), 43);
  EXPECT_EQ(value_of(text, "spore_datagrams_rejected_total{reason=\"bad_magic\"}"), 2);
  EXPECT_EQ(value_of(text, "spore_datagrams_rejected_total{reason=\"too_short\"}"), 1);
  EXPECT_EQ(value_of(text, "spore_datagrams_rejected_total{reason=\"oversize\"}"), 4);
  EXPECT_EQ(value_of(text, "spore_datagrams_rejected_total{reason=\"low_heap\"}"), -1);
  EXPECT_EQ(value_of(text, "spore_datagrams_sent_total"), mem.stats().datagrams_sent);
  EXPECT_GT(mem.stats().datagrams_sent, 0u);
  EXPECT_EQ(value_of(text, "spore_bytes_sent_total"), mem.stats().bytes_sent);
}

TEST_F(MetricsTest, OtaEventsAreCounted) {
  OtaEvent ev;
  ctx.fire(topics::kOtaStarted, ev);
  ctx.fire(topics::kOtaFailed, ev);
  ctx.fire(topics::kOtaStarted, ev);
  ctx.fire(topics::kOtaFinished, ev);
  ctx.fire(topics::kOtaFailed, ev);  // e.g. refused at start (415): no ota_started before it
  const std::string text = scrape();
  EXPECT_EQ(value_of(text, "spore_ota_updates_started_total"), 2);
  EXPECT_EQ(value_of(text, "spore_ota_updates_succeeded_total"), 1);
  EXPECT_EQ(value_of(text, "spore_ota_updates_failed_total"), 2);
  EXPECT_EQ(metrics.ota_failed(), 2u);
}

TEST_F(MetricsTest, MqttRefusalsByReasonOnlyWithTheBridge) {
  EXPECT_EQ(scrape().find("spore_mqtt_commands_refused_total"), std::string::npos);
  MqttBridgeStats stats;
  metrics.set_mqtt_stats(&stats);
  std::string text = scrape();
  EXPECT_NE(text.find("# TYPE spore_mqtt_commands_refused_total counter\n"), std::string::npos);
  EXPECT_EQ(value_of(text, "spore_mqtt_commands_refused_total{reason=\"throttled\"}"), -1);  // zero: left out
  stats.retained_commands = 2;
  stats.rejected_commands = 7;  // stale ones included
  stats.stale_commands = 3;
  stats.throttled = 4989;
  text = scrape();
  EXPECT_EQ(value_of(text, "spore_mqtt_commands_refused_total{reason=\"retained\"}"), 2);
  EXPECT_EQ(value_of(text, "spore_mqtt_commands_refused_total{reason=\"stale\"}"), 3);
  EXPECT_EQ(value_of(text, "spore_mqtt_commands_refused_total{reason=\"auth\"}"), 4);
  EXPECT_EQ(value_of(text, "spore_mqtt_commands_refused_total{reason=\"throttled\"}"), 4989);
}

TEST_F(MetricsTest, HttpStatusesOutsideTheTableShareOneBucket) {
  api.record_response(503);
  api.record_response(503);
  api.record_response(302);
  api.record_response(999);
  api.record_response(-1);
  EXPECT_EQ(api.response_counts().count(503), 2u);
  EXPECT_EQ(api.response_counts().count(302), 3u);  // the "other" bucket
  const std::string text = scrape();
  EXPECT_EQ(value_of(text, "spore_http_requests_total{code=\"503\"}"), 2);
  EXPECT_EQ(value_of(text, "spore_http_requests_total{code=\"other\"}"), 3);
  for (size_t i = 0; i + 1 < HttpStatusCounts::kSlots; ++i) {
    const int status = HttpStatusCounts::status_at(i);
    EXPECT_GE(status, 200);
    EXPECT_EQ(HttpStatusCounts::slot_of(status), i);
  }
  EXPECT_EQ(HttpStatusCounts::status_at(HttpStatusCounts::kSlots - 1), 0);
}

TEST_F(MetricsTest, LabelValuesFromDataAreEscaped) {
  const uint8_t sha[32] = {};
  ctx.set_firmware("a\"b\\c\nd\x01\xC3\xA9", sha);
  sys.sdk = "";
  const std::string text = scrape();
  EXPECT_NE(text.find("spore_build_info{version=\"a\\\"b\\\\c\\nd???\",sdk=\"\"} 1\n"), std::string::npos)
      << text;
}

// Issue 21: a Linux host's MemAvailable above 4 GiB is not capped at 4294967295.
TEST_F(MetricsTest, FreeHeapAbove4GiBIsExact) {
  sys.free_heap = 25125558682ULL;
  EXPECT_EQ(value_of(scrape(), "spore_free_heap_bytes"), 25125558682LL);
}

TEST_F(MetricsTest, UptimeAndByteCountersSurviveA32BitWrap) {
  metrics.set_membership(&mem);
  // The node clock wraps after 49.7 days; the refresh task folds it into 64 bits.
  const uint64_t days_60_ms = 60ull * 24 * 3600 * 1000;
  for (uint64_t t = 0; t < days_60_ms; t += Metrics::kRefreshIntervalMs) {
    clock.advance(Metrics::kRefreshIntervalMs);
    ctx.loop();
  }
  const long long uptime = value_of(scrape(), "spore_uptime_seconds");
  EXPECT_GE(uptime, static_cast<long long>(days_60_ms / 1000));
  EXPECT_LE(uptime, static_cast<long long>(days_60_ms / 1000) + 1);

  WideCounter c;
  c.update(0xFFFFFFF0u);
  c.update(0x10u);  // wrapped
  EXPECT_EQ(c.total, 0x100000000ull + 0x10u);
}

TEST_F(MetricsTest, EveryLineIsACommentOrASample) {
  metrics.set_membership(&mem);
  mem.begin();
  const std::string text = scrape();
  ASSERT_FALSE(text.empty());
  ASSERT_EQ(text.back(), '\n');
  size_t start = 0;
  std::vector<std::string> typed;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.rfind("# TYPE ", 0) == 0) {
      typed.push_back(line.substr(7, line.find(' ', 7) - 7));
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) continue;
    // name{labels} value: the name of the family declared last, a number after the space.
    ASSERT_FALSE(typed.empty()) << line;
    EXPECT_EQ(line.rfind(typed.back(), 0), 0u) << line;
    const size_t space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos) << line;
    EXPECT_EQ(line.substr(space + 1).find_first_not_of("0123456789"), std::string::npos) << line;
  }
  EXPECT_EQ(typed.size(), 23u);  // every family, with membership
}

// Issue 18, finding 10: a publisher floods; the per-member datagram limit drops what is beyond
// SPORE_MAX_DATAGRAMS_PER_MEMBER_PER_S, the publisher's ring moves on, and the events that can
// no longer be repaired are counted in /metrics (before: only in ClusterEventStats).
TEST_F(MetricsTest, EventsTheFloodLimitDroppedAndTheRingOverwroteAreCounted) {
  metrics.set_membership(&mem);
  mem.begin();
  constexpr uint32_t kPeer = 0xBB;
  uint32_t datagram_seq = 0;
  auto receive = [&](wire::Message m) {
    m.header.sender_id = kPeer;
    m.header.incarnation = 1;
    m.header.seq = ++datagram_seq;
    uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
    const wire::EncodeResult r = wire::encode(m, HmacKey{}, buf, sizeof buf);
    ASSERT_TRUE(r.ok());
    mem.on_datagram(0x0A000002, 4210, buf, r.size_bytes);
  };
  ASSERT_TRUE(testing::admit_peer(mem, ctx, udp, kPeer, 0x0A000002, &datagram_seq));
  clock.advance(1000);  // the handshake's datagrams count in an earlier second
  auto event = [&](uint32_t seq) {
    wire::Message m;
    m.header.type = wire::MessageType::kEvent;
    const uint32_t oldest = seq > SPORE_EVENT_LOG_SIZE ? seq - SPORE_EVENT_LOG_SIZE + 1 : 1;
    m.event.pos = {7, seq, oldest};
    m.event.topic = "flood";
    receive(m);
  };
  // All within one second: the limit lets the first ones through and drops the rest.
  constexpr uint32_t kFlood = SPORE_MAX_DATAGRAMS_PER_MEMBER_PER_S + 200;
  for (uint32_t seq = 1; seq <= kFlood; ++seq) event(seq);
  const uint32_t delivered = mem.events().stats().delivered;
  ASSERT_GT(delivered, 0u);
  ASSERT_LT(delivered, kFlood);
  ASSERT_GT(mem.stats().rate_limited_member, 0u);
  clock.advance(1500);
  event(kFlood + 1);  // its oldest held is far beyond what was delivered here: the rest is gone
  const std::string text = scrape();
  const uint32_t gone = kFlood + 1 - SPORE_EVENT_LOG_SIZE + 1 - 1 - delivered;
  EXPECT_EQ(mem.events().stats().lost_overwritten, gone);
  EXPECT_EQ(value_of(text, "spore_cluster_events_lost_total{reason=\"overwritten\"}"), static_cast<long long>(gone))
      << text;
  EXPECT_EQ(value_of(text, "spore_cluster_events_delivered_total"), static_cast<long long>(delivered)) << text;
  EXPECT_EQ(value_of(text, "spore_datagrams_rejected_total{reason=\"rate_limited_member\"}"),
            static_cast<long long>(mem.stats().rate_limited_member))
      << text;
  EXPECT_EQ(value_of(text, "spore_cluster_events_published_total"), 0);
  EXPECT_EQ(value_of(text, "spore_cluster_events_lost_total{reason=\"unanswered\"}"), -1);  // zero: left out
}

// Issue 20, finding 7: refusals of a full table and evictions were counted by MemberTable but not
// shown; so were the new receive limits and the anti-amplification refusals.
TEST_F(MetricsTest, TableRefusalsEvictionsLimitsAndAmplificationRefusalsAreExposed) {
  metrics.set_membership(&mem);
  mem.begin();
  MemberHello hello;
  hello.incarnation = 1;
  for (uint32_t i = 0; i <= MemberTable::capacity(); ++i) {  // one more than fits: refused
    hello.node_id = 0x100 + i;
    hello.ip = 0x0A000100 + i;
    ctx.members().observe(hello, clock.now_ms());
  }
  clock.advance(cfg().inactive_after_ms + 1);
  ctx.members().update(clock.now_ms());
  hello.node_id = 0x900;  // every member is INACTIVE now: one is evicted for it
  ctx.members().observe(hello, clock.now_ms());
  ASSERT_EQ(ctx.members().refused_full(), 1u);
  ASSERT_EQ(ctx.members().evictions(), 1u);
  // An INFO_REQ from a stranger: its greeting and the INFO page are larger than the request.
  wire::Message req;
  req.header.type = wire::MessageType::kInfoReq;
  req.header.sender_id = 0xCC;
  req.header.incarnation = 1;
  uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
  const wire::EncodeResult r = wire::encode(req, HmacKey{}, buf, sizeof buf);
  ASSERT_TRUE(r.ok());
  mem.on_datagram(0x0B000002, 4210, buf, r.size_bytes);
  ASSERT_GT(mem.stats().amplification_refused, 0u);
  // Junk from strangers: with the INFO_REQ, one more than the shared budget.
  const uint8_t junk[3] = {'S', 'P', 1};
  for (uint32_t i = 0; i < SPORE_MAX_UNVERIFIED_DATAGRAMS_PER_S; ++i)
    mem.on_datagram(0x0B000001, 4210, junk, sizeof junk);
  const std::string text = scrape();
  EXPECT_EQ(value_of(text, "spore_members_refused_total"), 1) << text;
  EXPECT_EQ(value_of(text, "spore_members_evicted_total"), 1) << text;
  EXPECT_EQ(value_of(text, "spore_datagrams_rejected_total{reason=\"rate_limited_unverified\"}"), 1) << text;
  EXPECT_EQ(value_of(text, "spore_amplification_refused_datagrams_total"), mem.stats().amplification_refused);
  EXPECT_EQ(value_of(text, "spore_amplification_refused_bytes_total"), mem.stats().amplification_refused_bytes);
}

}  // namespace
}  // namespace spore
