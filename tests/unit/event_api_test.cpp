// EventApi: POST /api/cluster/events (through RestApi, as an adapter calls it), the stream's
// admission (topic filter, slot limit) and the SSE messages it makes of cluster and membership
// events.

#include "spore/integrations/event_api.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fakes.h"
#include "spore/events/cluster_events.h"
#include "spore/cluster/membership.h"
#include "spore/node/node_context.h"

namespace spore {
namespace {

using testing::FakeClock;
using testing::FakeRandom;
using testing::FakeSystemInfo;
using testing::FakeUdp;

class StringOutput : public JsonOutput {
 public:
  void write(const char* data, size_t size_bytes) override { text.append(data, size_bytes); }
  std::string text;
};

struct Captured {
  std::string id, event, data;
};

class EventApiTest : public ::testing::Test {
 protected:
  static Config cfg() { return testing::fast_config_without_jitter(); }
  EventApiTest() : ctx(cfg(), clock, rnd, sys, nullptr), api(ctx), mem(ctx, udp, rnd), events(ctx, api) {}
  void SetUp() override {
    ASSERT_TRUE(ctx.begin({0x0A1B2C3D, 7, 0x0A000001, "self"}));
    ASSERT_TRUE(api.begin());
    ASSERT_TRUE(api.set_api_token("secret"));
    mem.begin();
    ASSERT_TRUE(events.begin(EventApi::Sink::bind<EventApiTest, &EventApiTest::capture>(this)));
    // A client is watching, as an adapter admits one: without an open stream nothing is formatted.
    SseFilter filter;
    std::string answer;
    ASSERT_EQ(open("/api/cluster/events/stream", &filter, &answer), 200);
  }
  static void collect(std::vector<Captured>* into, const SseMessage& m) {
    into->push_back({std::string(m.id), std::string(m.topic), std::string(m.data)});
  }
  void capture(const SseMessage& m) {
    got.push_back({std::string(m.id), std::string(m.topic), std::string(m.data)});
  }
  int post(std::string_view target, std::string_view body, std::string* answer,
           std::string_view authorization = "Bearer secret") {
    StringOutput out;
    const int status = api.handle(HttpRequest{HttpMethod::kPost, target, authorization, body, {}, {}}, out, nullptr);
    *answer = out.text;
    return status;
  }
  int open(std::string_view target, SseFilter* filter, std::string* answer) {
    StringOutput out;
    JsonWriter w(out);
    const int status = events.open_stream(HttpRequest{HttpMethod::kGet, target, {}, {}, {}, {}}, filter, w);
    *answer = out.text;
    return status;
  }
  void add_member(uint32_t id, const char* name, uint32_t ip) {
    MemberHello h;
    h.node_id = id;
    h.incarnation = 1;
    h.ip = ip;
    h.http_port = 80;
    h.hostname = name;
    ASSERT_NE(ctx.members().observe(h, clock.now_ms()), nullptr);
  }

  FakeClock clock{1000};
  FakeRandom rnd;
  FakeSystemInfo sys;
  FakeUdp udp;
  NodeContext ctx;
  RestApi api;
  Membership mem;
  EventApi events;
  std::vector<Captured> got;
};

TEST_F(EventApiTest, BothRoutesAreListedInTheNodesApi) {
  StringOutput out;
  JsonWriter w(out);
  ctx.write_status_json(w);
  EXPECT_NE(out.text.find("\"/api/cluster/events\""), std::string::npos);
  EXPECT_NE(out.text.find("\"/api/cluster/events/stream\""), std::string::npos);
}

TEST_F(EventApiTest, PublishAnswers202WithTheStreamPositionAndStreamsTheEvent) {
  std::string answer;
  ASSERT_EQ(post("/api/cluster/events?topic=light", "on", &answer), 202);
  EXPECT_EQ(answer,
            "{\"status\":\"published\",\"topic\":\"light\",\"nodeId\":169552957,\"hostname\":\"self\",\"epoch\":7,"
            "\"seq\":1,\"sizeBytes\":2}");
  ASSERT_EQ(got.size(), 1u);  // the publisher's own subscribers get it at once
  EXPECT_EQ(got[0].id, "7-1");  // this node's stream position: its epoch, the first message
  EXPECT_EQ(got[0].event, "light");
  EXPECT_EQ(got[0].data,
            "{\"topic\":\"light\",\"nodeId\":169552957,\"hostname\":\"self\",\"epoch\":7,\"seq\":1,\"data\":\"on\"}");
  ASSERT_EQ(post("/api/cluster/events?topic=light", "", &answer), 202);  // an empty payload is an event too
  EXPECT_NE(answer.find("\"seq\":2"), std::string::npos);
  EXPECT_EQ(ctx.cluster_events()->stats().published, 2u);
}

TEST_F(EventApiTest, PublishNeedsTheToken) {
  std::string answer;
  EXPECT_EQ(post("/api/cluster/events?topic=light", "on", &answer, ""), 401);
  EXPECT_NE(answer.find("auth_required"), std::string::npos);
  EXPECT_EQ(post("/api/cluster/events?topic=light", "on", &answer, "Bearer wrong"), 401);
  EXPECT_NE(answer.find("auth_invalid"), std::string::npos);
  EXPECT_EQ(ctx.cluster_events()->stats().published, 0u);
  EXPECT_TRUE(got.empty());
}

TEST_F(EventApiTest, BadTopicsAndPayloadsChangeNothing) {
  struct Case {
    const char* target;
    size_t body_bytes;
    int status;
    const char* code;
  } cases[] = {
      {"/api/cluster/events", 1, 400, "bad_topic"},
      {"/api/cluster/events?topic=", 1, 400, "bad_topic"},
      {"/api/cluster/events?other=x", 1, 400, "bad_topic"},
      {"/api/cluster/events?topic=a%20b", 1, 400, "bad_topic"},
      {"/api/cluster/events?topic=%2", 1, 400, "bad_topic"},
      {"/api/cluster/events?topic=%00x", 1, 400, "bad_topic"},
      {"/api/cluster/events?topic=*", 1, 400, "bad_topic"},
      {"/api/cluster/events?topic=0123456789012345678901234567890123", 1, 400, "bad_topic"},
      {"/api/cluster/events?topic=node_dead", 1, 400, "reserved_topic"},
      {"/api/cluster/events?topic=ota_finished", 1, 400, "reserved_topic"},
      {"/api/cluster/events?topic=big", SPORE_EVENT_PAYLOAD_MAX + 1, 413, "too_large"},
  };
  for (const Case& c : cases) {
    std::string answer;
    const std::string body(c.body_bytes, 'x');
    EXPECT_EQ(post(c.target, body, &answer), c.status) << c.target;
    EXPECT_NE(answer.find(std::string("\"code\":\"") + c.code + "\""), std::string::npos) << c.target << " " << answer;
  }
  EXPECT_EQ(ctx.cluster_events()->stats().published, 0u);
  EXPECT_TRUE(got.empty());
  std::string answer;
  post("/api/cluster/events?topic=big", std::string(SPORE_EVENT_PAYLOAD_MAX + 1, 'x'), &answer);
  EXPECT_NE(answer.find("\"maxBytes\":" + std::to_string(SPORE_EVENT_PAYLOAD_MAX)), std::string::npos) << answer;
  EXPECT_EQ(post("/api/cluster/events?topic=big", std::string(SPORE_EVENT_PAYLOAD_MAX, 'x'), &answer), 202);
}

TEST_F(EventApiTest, PercentEncodedTopicsAreDecoded) {
  std::string answer;
  ASSERT_EQ(post("/api/cluster/events?x=1&topic=room%2Fkitchen&topic=ignored", "", &answer), 202);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].event, "room/kitchen");
}

TEST_F(EventApiTest, AfterLeavingPublishIs503) {
  mem.leave();
  std::string answer;
  EXPECT_EQ(post("/api/cluster/events?topic=light", "on", &answer), 503);
  EXPECT_NE(answer.find("not_running"), std::string::npos);
}

TEST_F(EventApiTest, StreamRequestsAreRecognisedByMethodAndPath) {
  EXPECT_TRUE(EventApi::is_stream_request(HttpRequest{HttpMethod::kGet, "/api/cluster/events/stream", {}, {}, {}, {}}));
  EXPECT_TRUE(
      EventApi::is_stream_request(HttpRequest{HttpMethod::kGet, "/api/cluster/events/stream?topic=a", {}, {}, {}, {}}));
  EXPECT_FALSE(EventApi::is_stream_request(HttpRequest{HttpMethod::kPost, "/api/cluster/events/stream", {}, {}, {}, {}}));
  EXPECT_FALSE(EventApi::is_stream_request(HttpRequest{HttpMethod::kGet, "/api/cluster/events", {}, {}, {}, {}}));
  EXPECT_FALSE(EventApi::is_stream_request(HttpRequest{HttpMethod::kGet, "/api/cluster/events/streams", {}, {}, {}, {}}));
}

TEST_F(EventApiTest, WithoutAStreamingAdapterTheStreamRouteIs501) {
  StringOutput out;
  EXPECT_EQ(api.handle(HttpRequest{HttpMethod::kGet, "/api/cluster/events/stream", {}, {}, {}, {}}, out, nullptr), 501);
  EXPECT_NE(out.text.find("not_supported"), std::string::npos);
}

TEST_F(EventApiTest, WithoutAnOpenStreamMessagesStillEnterTheReplayRing) {
  // A client that reconnects finds what was streamed while no stream was open (the ESP8266,
  // which keeps no ring, formats nothing then).
  events.close_stream();
  std::string answer;
  ASSERT_EQ(post("/api/cluster/events?topic=light", "on", &answer), 202);
  add_member(0x11223344, "node-3", 0x7F000003);
  EXPECT_EQ(events.streamed(), 2u);
  EXPECT_EQ(events.ring().last(), 2u);
  std::vector<Captured> replayed;
  auto sink = EventApi::Sink::with_context<std::vector<Captured>, &EventApiTest::collect>(&replayed);
  EXPECT_EQ(events.replay("7-0", SseFilter{}, sink, nullptr), 2u);
  ASSERT_EQ(replayed.size(), 2u);
  EXPECT_EQ(replayed[0].id, "7-1");
  EXPECT_EQ(replayed[0].data, got[0].data);
  EXPECT_EQ(replayed[1].id, "7-2");
  EXPECT_EQ(replayed[1].event, "node_discovered");
}

TEST_F(EventApiTest, ReplayFollowsTheLastEventIdAndTheTopicFilter) {
  std::string answer;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(post("/api/cluster/events?topic=light", "on", &answer), 202);
  ASSERT_EQ(post("/api/cluster/events?topic=door", "open", &answer), 202);
  std::vector<Captured> replayed;
  auto sink = EventApi::Sink::with_context<std::vector<Captured>, &EventApiTest::collect>(&replayed);
  EXPECT_EQ(events.replay("7-2", SseFilter{}, sink, nullptr), 2u);  // after 7-2: 7-3 and 7-4
  EXPECT_EQ(replayed.front().id, "7-3");
  replayed.clear();
  SseFilter doors;
  ASSERT_EQ(open("/api/cluster/events/stream?topic=door", &doors, &answer), 200);
  EXPECT_EQ(events.replay("6-9", doors, sink, nullptr), 1u);  // another boot's id: the whole ring, filtered
  ASSERT_EQ(replayed.size(), 1u);
  EXPECT_EQ(replayed[0].id, "7-4");
  replayed.clear();
  EXPECT_EQ(events.replay("", SseFilter{}, sink, nullptr), 0u);  // no Last-Event-ID: the present only
  EXPECT_EQ(events.replay("7-4", SseFilter{}, sink, nullptr), 0u);
  EXPECT_EQ(events.replay("garbage", SseFilter{}, sink, nullptr), 0u);
  EXPECT_TRUE(replayed.empty());
}

TEST_F(EventApiTest, StreamsAreLimitedAndFiltered) {
  SseFilter f;
  std::string answer;
  events.close_stream();  // the fixture's
  for (int i = 0; i < SPORE_MAX_EVENT_STREAMS; ++i) {
    ASSERT_EQ(open("/api/cluster/events/stream", &f, &answer), 200);
    EXPECT_EQ(f.topic_len, 0);
  }
  EXPECT_EQ(events.open_streams(), static_cast<size_t>(SPORE_MAX_EVENT_STREAMS));
  EXPECT_EQ(open("/api/cluster/events/stream", &f, &answer), 503);
  EXPECT_NE(answer.find("too_many_streams"), std::string::npos);
  EXPECT_NE(answer.find("\"maxStreams\":"), std::string::npos) << answer;  // camelCase, as every field
  events.close_stream();
  ASSERT_EQ(open("/api/cluster/events/stream?topic=node_dead", &f, &answer), 200);  // reserved topics filter fine
  EXPECT_TRUE(EventApi::filter_matches(f, "node_dead"));
  EXPECT_FALSE(EventApi::filter_matches(f, "node_deadx"));
  EXPECT_FALSE(EventApi::filter_matches(f, "light"));
  EXPECT_TRUE(EventApi::filter_matches(SseFilter{}, "light"));
  for (int i = 0; i < SPORE_MAX_EVENT_STREAMS + 3; ++i) events.close_stream();  // extra closes are harmless
  EXPECT_EQ(events.open_streams(), 0u);
  EXPECT_EQ(open("/api/cluster/events/stream?topic=a%20b", &f, &answer), 400);
  EXPECT_EQ(open("/api/cluster/events/stream?topic=", &f, &answer), 400);
  EXPECT_EQ(events.open_streams(), 0u);  // refused requests take no slot
}

TEST_F(EventApiTest, PreambleNamesTheNodeAndTheRetry) {
  char buf[96];
  const size_t n = events.write_preamble(buf, sizeof buf);
  EXPECT_EQ(std::string(buf, n), ": spore events 169552957\nretry: 2000\n\n");
  EXPECT_EQ(events.write_preamble(buf, 10), 0u);
}

TEST_F(EventApiTest, FormatWritesTheSseWireForm) {
  char buf[128];
  size_t n = EventApi::format(SseMessage{"1-2-3", "light", "{}"}, buf, sizeof buf);
  // No event: line: an EventSource's onmessage gets every message (the topic is in the data).
  EXPECT_EQ(std::string(buf, n), "id: 1-2-3\ndata: {}\n\n");
  EXPECT_EQ(EventApi::format(SseMessage{"1-2-3", "node_dead", "{}"}, buf, 20), 0u);
}

TEST_F(EventApiTest, MembershipEventsAreStreamedWithAnIdToo) {
  add_member(0x11223344, "node-3", 0x7F000003);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, "7-1");
  EXPECT_EQ(got[0].event, "node_discovered");
  EXPECT_EQ(got[0].data,
            "{\"topic\":\"node_discovered\",\"nodeId\":287454020,\"hostname\":\"node-3\",\"ip\":\"127.0.0.3\","
            "\"status\":\"ACTIVE\"}");
}

TEST_F(EventApiTest, RemoteEventsNameTheSenderAndEscapeThePayload) {
  add_member(0x11223344, "node-3", 0x7F000003);
  got.clear();
  const uint8_t payload[] = {'a', 0x01, '"', 0xFF};
  ClusterEvent ev;
  ev.sender_id = 0x11223344;
  ev.epoch = 9;
  ev.seq = 4;
  ev.topic = "light";
  ev.payload = payload;
  ev.payload_size_bytes = sizeof payload;
  ctx.fire("light", ev);
  ev.sender_id = 0x55555555;  // not (or no longer) a member: no hostname
  ctx.fire("light", ev);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, "7-2");  // the receiving node's position, not the publisher's
  EXPECT_EQ(got[0].data,
            "{\"topic\":\"light\",\"nodeId\":287454020,\"hostname\":\"node-3\",\"epoch\":9,\"seq\":4,"
            "\"data\":\"a\\u0001\\\"\xEF\xBF\xBD\"}");  // invalid UTF-8 becomes U+FFFD
  EXPECT_EQ(got[1].data.find("hostname"), std::string::npos);
  EXPECT_EQ(events.streamed(), 3u);  // node_discovered too
}

TEST_F(EventApiTest, ApplicationEventsAndLocalOtaCopiesAreNotStreamed) {
  ctx.fire("my_local_thing", 42);
  ctx.fire("ota_started");
  EXPECT_TRUE(got.empty());
}

}  // namespace
}  // namespace spore
