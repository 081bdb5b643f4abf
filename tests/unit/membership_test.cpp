// Membership against fake ports: one node, datagrams crafted with the real codec.

#include "spore/cluster/membership.h"
#include "spore/base/incarnation.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "fakes.h"

namespace spore {
namespace {

using testing::FakeClock;
using testing::FakeRandom;
using testing::FakeSystemInfo;
using testing::FakeUdp;
using testing::Sent;

class MembershipTest : public ::testing::Test {
 protected:
  static Config cfg() { return testing::fast_config_without_jitter(); }
  MembershipTest() : ctx(cfg(), clock, rnd, sys, nullptr), mem(ctx, udp, rnd) {}
  void SetUp() override {
    ASSERT_TRUE(ctx.begin({kSelf, 5, 0x0A000001, "self"}));
    mem.begin();
  }
  // Encodes `msg` as peer `id` (incarnation `inc`) would and hands it to the node.
  void receive(wire::Message msg, uint32_t id, uint32_t inc = 1, uint32_t ip = 0x0A000002,
               const HmacKey& key = HmacKey{}) {
    msg.header.sender_id = id;
    msg.header.incarnation = inc;
    msg.header.seq = ++seq_;
    uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
    const wire::EncodeResult r = wire::encode(msg, key, buf, sizeof buf);
    ASSERT_TRUE(r.ok());
    mem.on_datagram(ip, 4210, buf, r.size_bytes);
  }
  void announce(uint32_t id, uint32_t inc = 1, bool reply = false, uint32_t image_digest = 0) {
    wire::Message m;
    m.header.type = wire::MessageType::kAnnounce;
    m.announce.image_digest = image_digest;
    m.announce.udp_port = 4210;
    m.announce.http_port = 8080;
    m.announce.hostname = "peer";
    m.announce.reply_requested = reply;
    receive(m, id, inc);
  }
  std::vector<wire::Message> sent_of(wire::MessageType type) {
    std::vector<wire::Message> out;
    for (const Sent& s : udp.sent) {
      wire::Message m;
      if (wire::decode(s.bytes.data(), s.bytes.size(), HmacKey{}, nullptr, m) == wire::DecodeError::kOk &&
          m.header.type == type)
        out.push_back(m);
    }
    return out;
  }
  void run(uint32_t ms) {
    for (uint32_t t = 0; t < ms; t += 10) {
      ctx.loop();
      clock.advance(10);
    }
  }

  static constexpr uint32_t kSelf = 0xAA;
  FakeClock clock{1000};
  FakeRandom rnd;
  FakeSystemInfo sys;
  FakeUdp udp;
  NodeContext ctx;
  Membership mem;
  uint32_t seq_ = 0;
};

TEST_F(MembershipTest, JoinsWithAnnouncesAskingForRepliesThenHeartbeats) {
  run(cfg().discovery_interval_ms * Membership::kJoinAnnounces);
  const auto announces = sent_of(wire::MessageType::kAnnounce);
  ASSERT_EQ(announces.size(), Membership::kJoinAnnounces);
  EXPECT_TRUE(announces[0].announce.reply_requested);
  EXPECT_EQ(announces[0].announce.hostname, "self");
  EXPECT_EQ(announces[0].announce.api_digest, ctx.api().digest());
  udp.sent.clear();
  run(cfg().heartbeat_interval_ms * 2);
  EXPECT_EQ(sent_of(wire::MessageType::kAnnounce).size(), 0u);
  EXPECT_EQ(sent_of(wire::MessageType::kGossip).size(), 2u);
  // A changed API list is announced at the next heartbeat.
  ctx.api().add("/x", HttpMethod::kGet);
  run(cfg().heartbeat_interval_ms);
  ASSERT_EQ(sent_of(wire::MessageType::kAnnounce).size(), 1u);
  EXPECT_EQ(sent_of(wire::MessageType::kAnnounce)[0].announce.api_digest, ctx.api().digest());
}

TEST_F(MembershipTest, IgnoresItsOwnEchoAndCountsRejectsByReason) {
  announce(kSelf);
  EXPECT_EQ(ctx.members().size(), 0u);
  EXPECT_EQ(mem.stats().datagrams_received, 0u);
  const uint8_t junk[] = {'X', 'Y', 1, 2, 3};
  mem.on_datagram(0x0A000002, 4210, junk, sizeof junk);
  EXPECT_EQ(mem.stats().rejected[static_cast<size_t>(wire::DecodeError::kBadMagic)], 1u);
  EXPECT_EQ(mem.stats().rejected_total, 1u);
  EXPECT_EQ(ctx.members().size(), 0u);
}

TEST_F(MembershipTest, AnnounceAdmitsAndAReplyIsSentWithJitter) {
  announce(0xB1, 1, true);
  ASSERT_NE(ctx.members().find(0xB1), nullptr);
  EXPECT_EQ(ctx.members().find(0xB1)->http_port, 8080);
  udp.sent.clear();
  run(cfg().discovery_interval_ms);
  bool replied = false;
  for (const Sent& s : udp.sent) {
    wire::Message m;
    if (s.ip == 0x0A000002 && wire::decode(s.bytes.data(), s.bytes.size(), HmacKey{}, nullptr, m) == wire::DecodeError::kOk &&
        m.header.type == wire::MessageType::kAnnounce)
      replied = true;
  }
  EXPECT_TRUE(replied);
}

TEST_F(MembershipTest, ANewFirmwareDigestFiresNodeUpdated) {
  std::vector<uint32_t> updated;
  struct Recorder {
    std::vector<uint32_t>* ids;
    void on(const Event& e) { ids->push_back(e.get<Member>()->node_id); }
  } recorder{&updated};
  ctx.on(topics::kNodeUpdated, EventHandler::bind<Recorder, &Recorder::on>(&recorder));
  announce(0xB1, 1, true, 0x11111111);  // first sight: discovered, not updated
  announce(0xB1, 1, false, 0x11111111);
  EXPECT_TRUE(updated.empty());
  announce(0xB1, 2, true, 0x22222222);  // restarted on a new image
  ASSERT_EQ(updated.size(), 1u);
  EXPECT_EQ(updated[0], 0xB1u);
  EXPECT_EQ(ctx.members().find(0xB1)->image_digest, 0x22222222u);
  announce(0xB1, 3, true, 0x22222222);  // restarted on the same image
  EXPECT_EQ(updated.size(), 1u);
}

HmacKey key_of(char fill) {
  HmacKey k;
  uint8_t bytes[32];
  std::memset(bytes, fill, sizeof bytes);
  EXPECT_TRUE(k.set(bytes, sizeof bytes));
  return k;
}

TEST_F(MembershipTest, AnAcceptKeyLetsARotationRollWithoutAPartition) {
  const HmacKey old_key = key_of('o'), new_key = key_of('n'), other = key_of('x');
  wire::Message gossip;
  gossip.header.type = wire::MessageType::kGossip;
  // Phase 2 of a rotation: this node sends with the new key and still accepts the old one.
  mem.set_cluster_key(new_key);
  mem.set_accept_key(old_key);
  receive(gossip, 0xB1, 1, 0x0A000002, new_key);
  receive(gossip, 0xB2, 1, 0x0A000003, old_key);
  receive(gossip, 0xB3, 1, 0x0A000004, other);
  receive(gossip, 0xB4, 1, 0x0A000005);  // untagged
  EXPECT_EQ(mem.stats().accepted_with_accept_key, 1u);
  EXPECT_EQ(mem.stats().rejected[static_cast<size_t>(wire::DecodeError::kBadTag)], 1u);
  EXPECT_EQ(mem.stats().rejected[static_cast<size_t>(wire::DecodeError::kAuthRequired)], 1u);
  EXPECT_EQ(mem.stats().rejected_total, 2u);
  // The datagram refused under the first key is still fresh for the second: the replay window
  // moved only for accepted datagrams, so the same sequence number is not a replay.
  EXPECT_EQ(mem.stats().rejected[static_cast<size_t>(wire::DecodeError::kReplayed)], 0u);
  // What this node sends carries the new key's tag.
  udp.sent.clear();
  run(cfg().heartbeat_interval_ms);
  ASSERT_FALSE(udp.sent.empty());
  wire::Message m;
  EXPECT_EQ(wire::decode(udp.sent[0].bytes.data(), udp.sent[0].bytes.size(), new_key, nullptr, m), wire::DecodeError::kOk);
  EXPECT_EQ(wire::decode(udp.sent[0].bytes.data(), udp.sent[0].bytes.size(), old_key, nullptr, m), wire::DecodeError::kBadTag);
}

TEST_F(MembershipTest, AKeylessNodeWithAnAcceptKeyTakesTaggedAndUntagged) {
  const HmacKey new_key = key_of('n');
  wire::Message gossip;
  gossip.header.type = wire::MessageType::kGossip;
  mem.set_accept_key(new_key);  // phase 1 of turning authentication on
  receive(gossip, 0xB1, 1, 0x0A000002);
  receive(gossip, 0xB2, 1, 0x0A000003, new_key);
  receive(gossip, 0xB3, 1, 0x0A000004, key_of('x'));
  EXPECT_EQ(mem.stats().accepted_with_accept_key, 1u);
  EXPECT_EQ(mem.stats().rejected_total, 1u);
}

TEST_F(MembershipTest, AFloodingMemberIsCutToItsLimitAndOthersAreNotAffected) {
  announce(0xB1);
  announce(0xB2, 1, false);
  wire::Message gossip;
  gossip.header.type = wire::MessageType::kGossip;
  const uint32_t before = mem.stats().received_by_type[static_cast<size_t>(wire::MessageType::kGossip)];
  const uint32_t limit = SPORE_MAX_DATAGRAMS_PER_MEMBER_PER_S;
  // Both ANNOUNCEs were first contacts (the shared budget), so the member's own budget is whole.
  for (uint32_t i = 0; i < limit + 50; ++i) receive(gossip, 0xB1, 1, 0x0A000002);
  EXPECT_EQ(mem.stats().rate_limited_member, 50u);
  EXPECT_EQ(mem.stats().rejected_total, 50u);
  EXPECT_EQ(mem.stats().received_by_type[static_cast<size_t>(wire::MessageType::kGossip)], before + limit);
  // Another member, even from the same address, has its own budget; the flooder is heard again a
  // second later.
  receive(gossip, 0xB2, 1, 0x0A000002);
  EXPECT_EQ(mem.stats().rate_limited_member, 50u);
  clock.advance(1000);
  receive(gossip, 0xB1, 1, 0x0A000002);
  EXPECT_EQ(mem.stats().rate_limited_member, 50u);
  EXPECT_EQ(mem.stats().received_by_type[static_cast<size_t>(wire::MessageType::kGossip)], before + limit + 2);
}

// Issue 20 finding 4: the per-source limit ran before the tag check, so junk "from" a member's
// address (~28 k/s) made its own datagrams be dropped and the member look INACTIVE.
TEST_F(MembershipTest, AFloodWithAMembersSourceAddressDoesNotSilenceTheMember) {
  const HmacKey key = key_of('k');
  mem.set_cluster_key(key);
  wire::Message hello;
  hello.header.type = wire::MessageType::kAnnounce;
  hello.announce.udp_port = 4210;
  hello.announce.hostname = "peer";
  receive(hello, 0xB1, 1, 0x0A000002, key);
  ASSERT_NE(ctx.members().find(0xB1), nullptr);
  wire::Message gossip;
  gossip.header.type = wire::MessageType::kGossip;
  const uint8_t junk[24] = {'S', 'P'};
  for (int i = 0; i < 2500; ++i) {                      // all within one second, well past any one-source limit
    receive(gossip, 0xB1, 1, 0x0A000002, key_of('w'));  // the member's id, no key
    mem.on_datagram(0x0A000002, 4210, junk, sizeof junk);
  }
  const size_t kGossip = static_cast<size_t>(wire::MessageType::kGossip);
  ASSERT_EQ(mem.stats().received_by_type[kGossip], 0u);
  receive(gossip, 0xB1, 1, 0x0A000002, key);
  EXPECT_EQ(mem.stats().received_by_type[kGossip], 1u);
}

TEST_F(MembershipTest, AnswersPingsMeantForItOnly) {
  announce(0xB1);
  udp.sent.clear();
  wire::Message ping;
  ping.header.type = wire::MessageType::kPing;
  ping.ping.target_id = 0xDEAD;  // someone else had this address
  ping.ping.probe_id = 7;
  receive(ping, 0xB1);
  EXPECT_TRUE(sent_of(wire::MessageType::kAck).empty());
  ping.ping.target_id = kSelf;
  ping.ping.timestamp_ms = 1234;
  receive(ping, 0xB1);
  const auto acks = sent_of(wire::MessageType::kAck);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].ack.probe_id, 7u);
  EXPECT_EQ(acks[0].ack.timestamp_ms, 1234u);
}

TEST_F(MembershipTest, HearingItselfSuspectedRaisesTheIncarnationAndSaysSo) {
  announce(0xB1);
  udp.sent.clear();
  wire::GossipEntry suspect;
  suspect.node_id = kSelf;
  suspect.incarnation = 5;
  suspect.ip = 0x0A000001;
  suspect.udp_port = 4210;
  suspect.state = wire::MemberState::kSuspect;
  wire::Message g;
  g.header.type = wire::MessageType::kGossip;
  g.gossip.updates = wire::GossipList::from_array(&suspect, 1);
  receive(g, 0xB1);
  EXPECT_EQ(ctx.self().incarnation, 6u);
  EXPECT_EQ(mem.stats().refutations, 1u);
  const auto out = sent_of(wire::MessageType::kGossip);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back().header.incarnation, 6u);
  bool says_alive = false;
  for (const wire::GossipEntry e : out.back().gossip.updates)
    says_alive |= e.node_id == kSelf && e.state == wire::MemberState::kAlive && e.incarnation == 6;
  EXPECT_TRUE(says_alive);
  // The same (old) suspicion again changes nothing.
  receive(g, 0xB1);
  EXPECT_EQ(ctx.self().incarnation, 6u);
}

// Issue 18 (state-fix, finding 1): forged SUSPECT gossip, 28 entries per datagram, each one
// refuted, pushed a node's incarnation into the next boot's range in seconds.
wire::Message suspicions_of_self(uint32_t incarnation, wire::GossipEntry (&entries)[28]) {
  for (wire::GossipEntry& e : entries) {
    e = wire::GossipEntry{};
    e.node_id = 0xAA;
    e.incarnation = incarnation;
    e.ip = 0x0A000001;
    e.udp_port = 4210;
    e.state = wire::MemberState::kSuspect;
  }
  wire::Message g;
  g.header.type = wire::MessageType::kGossip;
  g.gossip.updates = wire::GossipList::from_array(entries, 28);
  return g;
}

TEST_F(MembershipTest, AClaimAboutAFutureIncarnationIsForgedAndIgnored) {
  announce(0xB1);
  wire::GossipEntry entries[28];
  for (int i = 0; i < 10; ++i) receive(suspicions_of_self(5 + 0x40000000u, entries), 0xB1);
  EXPECT_EQ(ctx.self().incarnation, 5u);
  EXPECT_EQ(mem.stats().refutations, 0u);
  EXPECT_EQ(mem.stats().forged_incarnation, 10u);
}

TEST_F(MembershipTest, RefutationsAreOnePerHeartbeatInterval) {
  announce(0xB1);
  wire::GossipEntry entries[28];
  // Each datagram suspects the incarnation the node has now, as an attacker reading its
  // heartbeats would: one refutation at once, the rest wait for the next heartbeat.
  for (int i = 0; i < 50; ++i) receive(suspicions_of_self(ctx.self().incarnation, entries), 0xB1);
  EXPECT_EQ(ctx.self().incarnation, 6u);
  EXPECT_EQ(mem.stats().refutations, 1u);
  udp.sent.clear();
  run(cfg().discovery_interval_ms * 2);  // the next heartbeat carries the deferred refutation
  EXPECT_EQ(ctx.self().incarnation, 7u);
  EXPECT_EQ(mem.stats().refutations, 2u);
  const auto out = sent_of(wire::MessageType::kGossip);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back().header.incarnation, 7u);
  // Nothing more without a new suspicion.
  run(cfg().heartbeat_interval_ms * 4);
  EXPECT_EQ(ctx.self().incarnation, 7u);
}

TEST_F(MembershipTest, ARunNeverRefutesIntoTheNextBootsIncarnation) {
  announce(0xB1);
  // Boot incarnation 5 (boot 0): the last value this run may take is 0xFFFF.
  ctx.set_incarnation(kIncarnationRunSteps);
  wire::GossipEntry entries[28];
  receive(suspicions_of_self(kIncarnationRunSteps, entries), 0xB1);
  run(cfg().discovery_interval_ms * 2);
  receive(suspicions_of_self(kIncarnationRunSteps, entries), 0xB1);
  EXPECT_EQ(ctx.self().incarnation, kIncarnationRunSteps);
  EXPECT_TRUE(incarnation_newer(incarnation_for_boot(1), ctx.self().incarnation));
  EXPECT_EQ(mem.stats().refutations, 0u);
  EXPECT_EQ(mem.stats().refutations_refused, 2u);
}

TEST_F(MembershipTest, ASilentMemberIsProbedDirectlyThenIndirectly) {
  for (uint32_t id = 0xB1; id <= 0xB4; ++id) announce(id);
  run(cfg().discovery_interval_ms * 4);  // past the join phase
  for (uint32_t id = 0xB1; id <= 0xB4; ++id) announce(id);
  // 0xB2..0xB4 stay chatty; 0xB1 falls silent.
  udp.sent.clear();
  for (uint32_t t = 0; t < cfg().suspect_after_ms + 3 * cfg().probe_timeout_ms; t += 50) {
    for (uint32_t id = 0xB2; id <= 0xB4; ++id) {
      wire::Message hb;
      hb.header.type = wire::MessageType::kGossip;
      receive(hb, id);
    }
    run(50);
  }
  bool pinged = false;
  uint32_t current_probe = 0;
  for (const wire::Message& m : sent_of(wire::MessageType::kPing)) {
    if (m.ping.target_id != 0xB1) continue;
    pinged = true;
    current_probe = m.ping.probe_id;
  }
  EXPECT_TRUE(pinged);
  const auto reqs = sent_of(wire::MessageType::kPingReq);
  ASSERT_GE(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].ping_req.target_id, 0xB1u);
  EXPECT_GE(mem.stats().probes_indirect, 1u);
  EXPECT_TRUE(ctx.members().find(0xB1)->suspected);
  // A relayed ACK (from a helper, with the current round's probe id) is evidence it lives.
  wire::Message ack;
  ack.header.type = wire::MessageType::kAck;
  ack.ack.probe_id = current_probe;
  receive(ack, 0xB2);
  EXPECT_FALSE(ctx.members().find(0xB1)->suspected);
}

TEST_F(MembershipTest, LeaveIsBroadcastAndThenTheNodeIsQuiet) {
  ASSERT_TRUE(mem.add_join_address(0x0A000063, 4210));
  mem.leave();
  const auto leaves = sent_of(wire::MessageType::kLeave);
  EXPECT_EQ(leaves.size(), 3u);  // twice broadcast, once to the join address
  EXPECT_TRUE(mem.has_left());
  udp.sent.clear();
  run(5000);
  announce(0xB1);
  EXPECT_TRUE(udp.sent.empty());
  EXPECT_EQ(ctx.members().size(), 0u);
}

TEST_F(MembershipTest, JoinListIsBounded) {
  for (uint32_t i = 0; i < SPORE_MAX_JOIN_ADDRESSES; ++i) EXPECT_TRUE(mem.add_join_address(0x0A000010 + i, 4210));
  EXPECT_TRUE(mem.add_join_address(0x0A000010, 4210));  // already there
  EXPECT_FALSE(mem.add_join_address(0x0A0000FF, 4210));
  EXPECT_FALSE(mem.add_join_address(0, 4210));
}

TEST_F(MembershipTest, SendFailuresAreCounted) {
  udp.ok = false;
  run(cfg().discovery_interval_ms);
  EXPECT_GT(mem.stats().send_failures, 0u);
  EXPECT_EQ(mem.stats().datagrams_sent, 0u);
}

// Issue 20 finding 6: PING_REQ made a node PING any address and port the requester named. Now
// the target must be a member, and its PING goes to the member's table address.
TEST_F(MembershipTest, APingReqPingsOnlyAMemberAndOnlyAtItsTableAddress) {
  announce(0xB1);            // the requester, at 10.0.0.2
  announce(0xB2, 1, false);  // a member, announced from 10.0.0.2 too
  run(10);
  udp.sent.clear();
  wire::Message req;
  req.header.type = wire::MessageType::kPingReq;
  req.ping_req.probe_id = 9;
  req.ping_req.target_id = 0xC3;  // not a member
  req.ping_req.target_ip = 0x0A0000C3;
  req.ping_req.target_udp_port = 4999;
  receive(req, 0xB1);
  for (const Sent& s : udp.sent) EXPECT_NE(s.ip, 0x0A0000C3u);
  EXPECT_TRUE(sent_of(wire::MessageType::kPing).empty());
  udp.sent.clear();
  req.ping_req.target_id = 0xB2;  // a member, but the request names another address
  receive(req, 0xB1);
  const auto pings = sent_of(wire::MessageType::kPing);
  ASSERT_EQ(pings.size(), 1u);
  EXPECT_EQ(pings[0].ping.target_id, 0xB2u);
  for (const Sent& s : udp.sent) {
    EXPECT_NE(s.ip, 0x0A0000C3u);
    if (s.ip != 0) {
      EXPECT_EQ(s.port, 4210);
    }
  }
}

// Issue 20 finding 6: requests from a sender that is not a member (INFO_REQ, EVENT_REQ, PING,
// GOSSIP naming unknown ids) were answered with several times their size, plus a greeting.
TEST_F(MembershipTest, AStrangerGetsBackAtMostTheBytesItSent) {
  run(10);
  udp.sent.clear();
  const uint32_t kStranger = 0x0B000007;
  size_t received_bytes = 0;
  auto send_as_stranger = [&](wire::Message m) {
    m.header.sender_id = 0xC7;
    m.header.incarnation = 1;
    m.header.seq = ++seq_;
    uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
    const wire::EncodeResult r = wire::encode(m, HmacKey{}, buf, sizeof buf);
    ASSERT_TRUE(r.ok());
    received_bytes += r.size_bytes;
    mem.on_datagram(kStranger, 4210, buf, r.size_bytes);
  };
  wire::Message m;
  m.header.type = wire::MessageType::kInfoReq;
  send_as_stranger(m);
  m = wire::Message{};
  m.header.type = wire::MessageType::kEventReq;
  m.event_req = {1, 1, 0};
  send_as_stranger(m);
  m = wire::Message{};
  m.header.type = wire::MessageType::kPing;
  m.ping.target_id = kSelf;
  m.ping.probe_id = 3;
  send_as_stranger(m);
  size_t sent_bytes = 0;
  for (const Sent& s : udp.sent) sent_bytes += s.ip == kStranger ? s.bytes.size() : 0;
  EXPECT_LE(sent_bytes, received_bytes);
  EXPECT_GT(mem.stats().amplification_refused, 0u);
}

}  // namespace
}  // namespace spore
