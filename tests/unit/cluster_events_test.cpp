// Cluster events (docs/events.md) against fake ports: one node, peers' datagrams crafted with the
// real codec. Covers the outbound log, in-order once-only delivery, gap repair, loss accounting,
// epochs (restarts) and the OTA bridge; tests/sim/cluster_events_sim_test.cpp runs it end to end.

#include "spore/events/cluster_events.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fakes.h"
#include "spore/base/incarnation.h"
#include "spore/cluster/membership.h"
#include "spore/ota/ota_upload.h"

namespace spore {
namespace {

using testing::FakeClock;
using testing::FakeRandom;
using testing::FakeSystemInfo;
using testing::FakeUdp;
using testing::Sent;

struct Got {
  uint32_t sender;
  uint32_t epoch;
  uint32_t seq;
  std::string topic;
  std::string payload;
};

class ClusterEventsTest : public ::testing::Test {
 protected:
  static Config cfg() { return testing::fast_config_without_jitter(); }
  ClusterEventsTest() : ctx(cfg(), clock, rnd, sys, nullptr), mem(ctx, udp, rnd) {}
  void SetUp() override {
    ASSERT_TRUE(ctx.begin({kSelf, 5, 0x0A000001, "self"}));
    mem.begin();
    ctx.on("*", EventHandler::bind<ClusterEventsTest, &ClusterEventsTest::on_event>(this));
    announce(kPeer);  // an ACTIVE member, so repair requests have somewhere to go
    udp.sent.clear();
  }
  void on_event(const Event& e) {
    if (const ClusterEvent* c = e.get<ClusterEvent>())
      got.push_back({c->sender_id, c->epoch, c->seq, std::string(c->topic), std::string(c->payload_text())});
  }
  void receive(wire::Message msg, uint32_t id, uint32_t ip = kPeerIp) {
    msg.header.sender_id = id;
    msg.header.incarnation = 1;
    msg.header.seq = ++seq_;
    uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
    const wire::EncodeResult r = wire::encode(msg, HmacKey{}, buf, sizeof buf);
    ASSERT_TRUE(r.ok()) << wire::encode_error_name(r.error);
    mem.on_datagram(ip, 4210, buf, r.size_bytes);
  }
  void announce(uint32_t id) {
    wire::Message m;
    m.header.type = wire::MessageType::kAnnounce;
    m.announce.udp_port = 4210;
    m.announce.hostname = "peer";
    receive(m, id);
  }
  // EVENT `seq` of the peer's stream `epoch`; the peer's log still holds from `oldest`.
  void event(uint32_t seq, uint32_t oldest = 1, uint32_t epoch = 3, const char* topic = "t", uint32_t id = kPeer) {
    wire::Message m;
    m.header.type = wire::MessageType::kEvent;
    m.event.pos = {epoch, seq, oldest};
    m.event.topic = topic;
    const std::string payload = "p" + std::to_string(seq);
    m.event.payload = reinterpret_cast<const uint8_t*>(payload.data());
    m.event.payload_size_bytes = static_cast<uint16_t>(payload.size());
    receive(m, id);
  }
  void digest(uint32_t newest, uint32_t oldest = 1, uint32_t epoch = 3) {
    wire::Message m;
    m.header.type = wire::MessageType::kEventDigest;
    m.event_digest = {epoch, newest, oldest};
    receive(m, kPeer);
  }
  std::vector<Sent> sent_of(wire::MessageType type, std::vector<wire::Message>* msgs = nullptr) {
    std::vector<Sent> out;
    for (const Sent& s : udp.sent) {
      wire::Message m;
      if (wire::decode(s.bytes.data(), s.bytes.size(), HmacKey{}, nullptr, m) == wire::DecodeError::kOk &&
          m.header.type == type) {
        out.push_back(s);
        if (msgs != nullptr) msgs->push_back(m);
      }
    }
    return out;
  }
  std::vector<uint32_t> seqs() const {
    std::vector<uint32_t> out;
    for (const Got& g : got) out.push_back(g.seq);
    return out;
  }
  void run(uint32_t ms) {
    for (uint32_t t = 0; t < ms; t += 10) {
      ctx.loop();
      clock.advance(10);
    }
  }
  const ClusterEventStats& stats() const { return mem.events().stats(); }

  static constexpr uint32_t kSelf = 0xAA;
  static constexpr uint32_t kPeer = 0xBB;
  static constexpr uint32_t kPeerIp = 0x0A000002;
  FakeClock clock{1000};
  FakeRandom rnd;
  FakeSystemInfo sys;
  FakeUdp udp;
  NodeContext ctx;
  Membership mem;
  uint32_t seq_ = 0;
  std::vector<Got> got;
};

TEST_F(ClusterEventsTest, PublishDeliversLocallyBroadcastsAndRepeatsADigest) {
  ASSERT_TRUE(ctx.publish("led", "on"));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].sender, kSelf);
  EXPECT_EQ(got[0].epoch, 5u);  // the incarnation at begin()
  EXPECT_EQ(got[0].seq, 1u);
  EXPECT_EQ(got[0].topic, "led");
  EXPECT_EQ(got[0].payload, "on");
  std::vector<wire::Message> events;
  const auto sent = sent_of(wire::MessageType::kEvent, &events);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].ip, 0u);  // broadcast
  EXPECT_EQ(events[0].event.pos.seq, 1u);
  EXPECT_EQ(events[0].event.pos.oldest_seq, 1u);
  // The next kDigestRepeats heartbeats each carry a digest, then no more.
  run(cfg().heartbeat_interval_ms * (ClusterEvents::kDigestRepeats + 3));
  std::vector<wire::Message> digests;
  sent_of(wire::MessageType::kEventDigest, &digests);
  ASSERT_EQ(digests.size(), ClusterEvents::kDigestRepeats);
  EXPECT_EQ(digests[0].event_digest.seq, 1u);
  EXPECT_EQ(digests[0].event_digest.epoch, 5u);
  EXPECT_EQ(stats().published, 1u);
}

TEST_F(ClusterEventsTest, PublishRefusesBadInputWithAReason) {
  ClusterEvents& ev = mem.events();
  const uint8_t big[SPORE_EVENT_PAYLOAD_MAX + 1] = {};
  EXPECT_EQ(ev.publish("", nullptr, 0), PublishError::kBadTopic);
  EXPECT_EQ(ev.publish("*", nullptr, 0), PublishError::kBadTopic);
  EXPECT_EQ(ev.publish("a b", nullptr, 0), PublishError::kBadTopic);
  EXPECT_EQ(ev.publish(std::string(32, 'x'), nullptr, 0), PublishError::kBadTopic);
  EXPECT_EQ(ev.publish("node_dead", nullptr, 0), PublishError::kReservedTopic);
  EXPECT_EQ(ev.publish("ota_started", nullptr, 0), PublishError::kReservedTopic);
  EXPECT_EQ(ev.publish("big", big, sizeof big), PublishError::kTooLarge);
  EXPECT_EQ(ev.publish("max", big, SPORE_EVENT_PAYLOAD_MAX), PublishError::kOk);
  EXPECT_EQ(ev.publish(std::string(31, 'x'), nullptr, 0), PublishError::kOk);
  EXPECT_STREQ(publish_error_name(PublishError::kTooLarge), "too_large");
  EXPECT_STREQ(publish_error_name(PublishError::kReservedTopic), "reserved_topic");
  EXPECT_EQ(ev.last_seq(), 2u);  // refusals take no seq
  mem.leave();
  EXPECT_EQ(ev.publish("late", nullptr, 0), PublishError::kNotRunning);
  EXPECT_FALSE(ctx.publish("late", "x"));
}

TEST_F(ClusterEventsTest, DeliversInOrderOnceAndRepairsAGap) {
  event(1);
  event(1);  // duplicate
  event(3);  // 2 is missing: dropped, and 2 asked for at once
  EXPECT_EQ(seqs(), (std::vector<uint32_t>{1}));
  std::vector<wire::Message> reqs;
  const auto sent = sent_of(wire::MessageType::kEventReq, &reqs);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].ip, kPeerIp);  // unicast to the publisher
  EXPECT_EQ(reqs[0].event_req.epoch, 3u);
  EXPECT_EQ(reqs[0].event_req.seq, 2u);
  event(2);
  event(3);  // the re-sent one
  event(2);  // late duplicate
  EXPECT_EQ(seqs(), (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(got[1].payload, "p2");
  EXPECT_EQ(got[1].sender, kPeer);
  EXPECT_EQ(stats().delivered, 3u);
  EXPECT_EQ(stats().duplicates, 2u);
  EXPECT_EQ(stats().out_of_order, 1u);
  EXPECT_EQ(stats().lost, 0u);
  EXPECT_EQ(mem.events().delivered_seq(kPeer), 3u);
}

TEST_F(ClusterEventsTest, ADigestRevealsALostTailAndRequestsAreRetriedThenGivenUp) {
  event(1);
  digest(3);  // 2 and 3 exist
  ASSERT_EQ(sent_of(wire::MessageType::kEventReq).size(), 1u);
  // No answer: re-asked every 2 x probe_timeout_ms until kRequestTries, then counted lost.
  for (int i = 0; i < ClusterEvents::kRequestTries + 2; ++i) {
    run(2 * cfg().probe_timeout_ms);
    announce(kPeer);  // alive (only an ACTIVE member is asked), just not answering
  }
  EXPECT_EQ(sent_of(wire::MessageType::kEventReq).size(), ClusterEvents::kRequestTries);
  EXPECT_EQ(stats().lost, 2u);
  EXPECT_EQ(mem.events().delivered_seq(kPeer), 3u);
  event(4);  // the stream goes on
  EXPECT_EQ(seqs(), (std::vector<uint32_t>{1, 4}));
}

TEST_F(ClusterEventsTest, EventsGoneFromTheSendersLogAreSkippedAndCounted) {
  event(1);
  event(10, 8);  // the sender holds 8..10 only: 2..7 are lost, 8 and 9 requested
  EXPECT_EQ(stats().lost, 6u);
  std::vector<wire::Message> reqs;
  sent_of(wire::MessageType::kEventReq, &reqs);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].event_req.seq, 8u);
  event(8, 8);
  event(9, 8);
  event(10, 8);
  EXPECT_EQ(seqs(), (std::vector<uint32_t>{1, 8, 9, 10}));
  // A stream first heard mid-way starts at the oldest held event; the earlier ones are history.
  announce(0xCC);
  event(20, 17, 9, "t", 0xCC);
  EXPECT_EQ(stats().lost, 6u);
  EXPECT_EQ(mem.events().delivered_seq(0xCC), 16u);
}

// Issue 18 (state-fix 5): `untracked` counted datagrams, so the digests a publisher beyond the
// stream table repeats on every heartbeat showed as events lost. It counts EVENTs now.
TEST_F(ClusterEventsTest, UntrackedCountsEventsNotTheDigestsOfAPublisherBeyondTheTable) {
  auto send = [&](uint32_t id, wire::Message m) { receive(m, id, 0x0A000000 + id); };
  // kPeer and kStreams - 1 more fill the member table and, with an event each, the stream table.
  constexpr uint32_t kFirst = 0x100, kStreams = SPORE_MAX_MEMBERS;  // a stream per member slot
  for (uint32_t id = kFirst; id < kFirst + kStreams - 1; ++id) {
    wire::Message a;
    a.header.type = wire::MessageType::kAnnounce;
    a.announce.udp_port = 4210;
    a.announce.hostname = "peer";
    send(id, a);
  }
  wire::Message ev;
  ev.header.type = wire::MessageType::kEvent;
  ev.event.pos = {7, 1, 1};
  ev.event.topic = "t";
  event(1);
  for (uint32_t id = kFirst; id < kFirst + kStreams - 1; ++id) send(id, ev);  // full of ACTIVE ones
  ASSERT_EQ(stats().untracked, 0u);
  const uint32_t extra = kFirst + kStreams;  // beyond both tables
  send(extra, ev);  // its one event
  wire::Message dg;
  dg.header.type = wire::MessageType::kEventDigest;
  dg.event_digest = {7, 1, 1};
  for (int i = 0; i < 3; ++i) send(extra, dg);  // the digests it repeats on heartbeats
  EXPECT_EQ(stats().untracked, 1u);
}

TEST_F(ClusterEventsTest, ANewEpochIsANewStreamAndAnOlderOneIsStale) {
  event(1);
  event(2);
  event(1, 1, 4);  // the peer restarted: seq starts again at 1, delivered
  EXPECT_EQ(seqs(), (std::vector<uint32_t>{1, 2, 1}));
  EXPECT_EQ(got[2].epoch, 4u);
  event(3, 1, 3);  // a late datagram of the previous life
  EXPECT_EQ(stats().stale, 1u);
  EXPECT_EQ(got.size(), 3u);
}

// Issue 19: a stream position lives at its publisher's MemberTable slot and goes when the member
// is forgotten (NodeContext tells ClusterEvents directly), so a member in the reused slot never
// continues the old one's stream, and a forgotten publisher that returns starts a new stream.
TEST_F(ClusterEventsTest, AForgottenMembersStreamGoesWithItsSlot) {
  event(1);
  event(2);
  ASSERT_EQ(mem.events().delivered_seq(kPeer), 2u);
  const MemberTable& table = ctx.members();
  const size_t slot = table.slot_of(*table.find(kPeer));
  // Silent past dead_after_ms, then DEAD past dead_retention_ms: forgotten.
  const uint32_t dead_ms = clock.now_ms() + cfg().dead_after_ms + 1;
  ctx.members().update(dead_ms);
  ctx.members().update(dead_ms + cfg().dead_retention_ms + 1);
  ASSERT_EQ(table.find(kPeer), nullptr);
  announce(0xCC);  // takes the free slot
  ASSERT_EQ(table.slot_of(*table.find(0xCC)), slot);
  event(3, 1, 3, "t", 0xCC);  // same epoch and next seq as the old stream: not its continuation
  EXPECT_EQ(seqs(), (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(mem.events().delivered_seq(0xCC), 0u);
  announce(kPeer);  // back, in another slot: a new stream
  EXPECT_EQ(mem.events().delivered_seq(kPeer), 0u);
}

// Issue 18, finding 2: a publisher restarted past boot 65,535 has epoch 0 (incarnation.h); with
// plain `<` its stream was "older" than 0xFFFF0000 and every event was dropped as stale.
TEST_F(ClusterEventsTest, AStreamAfterTheBootCountWrapIsDeliveredNotDroppedAsStale) {
  const uint32_t before = incarnation_for_boot(0xFFFF);
  const uint32_t after = incarnation_for_boot(0x10000);
  event(1, 1, before);
  event(2, 1, before);
  event(1, 1, after);  // restarted: seq 1 of a new stream
  event(2, 1, after);
  EXPECT_EQ(seqs(), (std::vector<uint32_t>{1, 2, 1, 2}));
  EXPECT_EQ(got[2].epoch, after);
  EXPECT_EQ(stats().stale, 0u);
  EXPECT_EQ(stats().duplicates, 0u);
  event(3, 1, before);  // a late datagram of the previous life
  EXPECT_EQ(stats().stale, 1u);
  EXPECT_EQ(got.size(), 4u);
}

TEST_F(ClusterEventsTest, AnswersARequestFromItsLogInBatches) {
  for (int i = 0; i < SPORE_EVENT_LOG_SIZE + 4; ++i) ASSERT_TRUE(ctx.publish("t", std::to_string(i + 1)));
  ClusterEvents& ev = mem.events();
  EXPECT_EQ(ev.oldest_seq(), 5u);
  udp.sent.clear();
  wire::Message req;
  req.header.type = wire::MessageType::kEventReq;
  req.event_req = {ev.epoch(), 2, 0};  // 2..4 are gone: it re-sends from the oldest it holds
  // From the member's own address: an address that has not proved membership is answered only
  // within its anti-amplification credit (DatagramChannel, docs/protocol.md §11.11).
  receive(req, kPeer);
  std::vector<wire::Message> resent;
  const auto sent = sent_of(wire::MessageType::kEvent, &resent);
  ASSERT_EQ(resent.size(), ClusterEvents::kResendBatch);
  EXPECT_EQ(sent[0].ip, kPeerIp);
  EXPECT_EQ(resent[0].event.pos.seq, 5u);
  EXPECT_EQ(resent[0].event.pos.oldest_seq, 5u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(resent[0].event.payload), resent[0].event.payload_size_bytes),
            "5");
  EXPECT_EQ(resent.back().event.pos.seq, 4u + ClusterEvents::kResendBatch);
  udp.sent.clear();
  req.event_req = {ev.epoch() - 1, 6, 0};  // about a previous life: nothing to send
  receive(req, kPeer);
  EXPECT_EQ(sent_of(wire::MessageType::kEvent).size(), 0u);
}

TEST_F(ClusterEventsTest, RemoteNodeTopicsAreNotDeliveredButOtaOnesAre) {
  event(1, 1, 3, "node_dead");  // membership topics stay local: counted, not handed out
  event(2, 1, 3, "ota_started");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, "ota_started");
  EXPECT_EQ(mem.events().delivered_seq(kPeer), 2u);
}

TEST_F(ClusterEventsTest, LocalOtaEventsArePublishedToTheCluster) {
  OtaEvent ota;
  ota.size_bytes = 1234;
  ctx.fire(topics::kOtaStarted, ota);
  ota.error = OtaError::kBadMagic;
  ctx.fire(topics::kOtaFailed, ota);
  EXPECT_TRUE(got.empty());  // local subscribers had the OtaEvent itself
  std::vector<wire::Message> events;
  sent_of(wire::MessageType::kEvent, &events);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event.topic, "ota_started");
  auto text = [](const wire::Message& m) {
    return std::string(reinterpret_cast<const char*>(m.event.payload), m.event.payload_size_bytes);
  };
  EXPECT_EQ(text(events[0]), "{\"sizeBytes\":1234}");
  EXPECT_EQ(events[1].event.topic, "ota_failed");
  EXPECT_EQ(text(events[1]), std::string("{\"sizeBytes\":1234,\"error\":\"") + ota_error_name(OtaError::kBadMagic) + "\"}");
}

}  // namespace
}  // namespace spore
