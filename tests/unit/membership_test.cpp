// Membership against fake ports: one node, datagrams crafted with the real codec. Peers are
// admitted the v2 way (docs/protocol.md §11.3): a stranger's ANNOUNCE draws a challenge, whose
// cookie the peer's next ANNOUNCE echoes.

#include "spore/cluster/membership.h"
#include "spore/base/incarnation.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "fakes.h"
#include "peer_handshake.h"

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
  MembershipTest() : MembershipTest(cfg()) {}
  explicit MembershipTest(const Config& config) : ctx(config, clock, rnd, sys, &log), mem(ctx, udp, rnd) {}
  void SetUp() override {
    ASSERT_TRUE(ctx.begin({kSelf, 5, 0x0A000001, "self"}));
    mem.begin();
  }
  // Encodes `msg` as peer `id` (incarnation `inc`) would and hands it to the node.
  // Encodes `msg` as peer `id` (incarnation `inc`) would and hands it to the node; the bytes are
  // kept in `last_` (to replay them).
  void receive(wire::Message msg, uint32_t id, uint32_t inc = 1, uint32_t ip = 0x0A000002,
               const HmacKey& key = HmacKey{}) {
    msg.header.sender_id = id;
    msg.header.incarnation = inc;
    msg.header.seq = ++seq_;
    uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
    const wire::EncodeResult r = wire::encode(msg, key, buf, sizeof buf);
    ASSERT_TRUE(r.ok());
    last_.assign(buf, buf + r.size_bytes);
    mem.on_datagram(ip, 4210, buf, r.size_bytes);
  }
  static wire::Message announce_of(uint32_t ip, uint64_t echo = 0, uint64_t cookie = 0) {
    return testing::peer_announce(kSelf, ip, echo, cookie);
  }
  // The last ANNOUNCE the node sent to `id`, if any.
  bool announce_to(uint32_t id, wire::Message* out) {
    bool found = false;
    for (const Sent& s : udp.sent) {
      wire::Message m;
      if (wire::decode(s.bytes.data(), s.bytes.size(), node_key_, m) == wire::DecodeError::kOk &&
          m.header.type == wire::MessageType::kAnnounce && m.header.dest_id == id) {
        *out = m;
        found = true;
      }
    }
    return found;
  }
  void admit(uint32_t id, uint32_t inc = 1, uint32_t ip = 0x0A000002, const HmacKey& key = HmacKey{}) {
    ASSERT_TRUE(testing::admit_peer(mem, ctx, udp, id, ip, &seq_, key, node_key_, inc));
  }
  // An ANNOUNCE of peer `id`, admitted first by the handshake if it is no member yet.
  void announce(uint32_t id, uint32_t inc = 1, bool reply = false, uint32_t image_digest = 0) {
    if (id != kSelf && !mem.has_left() && ctx.members().find(id) == nullptr) admit(id, inc);
    wire::Message m = announce_of(0x0A000002);
    m.announce.image_digest = image_digest;
    m.announce.reply_requested = reply;
    m.announce.padded = reply;
    receive(m, id, inc);
  }
  // A gossip entry about node `id` at `ip` (cluster port).
  static wire::GossipEntry entry(uint32_t id, uint32_t inc, uint32_t ip, wire::MemberState state) {
    wire::GossipEntry e;
    e.node_id = id;
    e.incarnation = inc;
    e.ip = ip;
    e.udp_port = 4210;
    e.state = state;
    return e;
  }
  uint32_t rejected(wire::DecodeError reason) const { return mem.stats().rejected[static_cast<size_t>(reason)]; }
  std::vector<wire::Message> sent_of(wire::MessageType type) {
    std::vector<wire::Message> out;
    for (const Sent& s : udp.sent) {
      wire::Message m;
      if (wire::decode(s.bytes.data(), s.bytes.size(), HmacKey{}, m) == wire::DecodeError::kOk &&
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
  testing::CapturingLog log;
  NodeContext ctx;
  Membership mem;
  uint32_t seq_ = 0;
  std::vector<uint8_t> last_;
  HmacKey node_key_;  // the key the node sends with
};

// A node with broadcast liveness (an ESP8266's): after the join, one GOSSIP heartbeat broadcast per
// heartbeat_interval_ms. Pinned: in digest mode a node alone broadcasts its heartbeat from the
// liveness tick instead, on the chain's timing (liveness_sim_test.cpp covers that mode).
class BroadcastMembershipTest : public MembershipTest {
 protected:
  static Config cfg() {
    Config c = Config::derive(Profile::kFast, Liveness::kBroadcast);
    c.start_jitter_max_ms = 0;
    return c;
  }
  BroadcastMembershipTest() : MembershipTest(cfg()) {}
};

TEST_F(BroadcastMembershipTest, JoinsWithAnnouncesAskingForRepliesThenHeartbeats) {
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

TEST_F(MembershipTest, AJoinAnnounceIsChallengedWithJitterAndOnlyTheEchoAdmits) {
  wire::Message join = announce_of(0x0A000002, 0, 0xC0FFEE);
  join.header.dest_id = 0;  // broadcast
  join.announce.reply_requested = join.announce.padded = true;
  receive(join, 0xB1);
  EXPECT_EQ(ctx.members().find(0xB1), nullptr);  // a captured join ANNOUNCE admits nothing
  EXPECT_EQ(rejected(wire::DecodeError::kUnknownSender), 1u);
  wire::Message challenge;
  EXPECT_FALSE(announce_to(0xB1, &challenge));  // jittered, like every answer to a join
  run(cfg().discovery_interval_ms);
  ASSERT_TRUE(announce_to(0xB1, &challenge));
  EXPECT_EQ(udp.sent.back().ip, 0x0A000002u);  // to the packet's source: all a stranger has shown
  EXPECT_EQ(challenge.announce.echo, 0xC0FFEEu);
  EXPECT_NE(challenge.announce.cookie, 0u);
  EXPECT_TRUE(challenge.announce.padded);  // as large as the padded join it answers, so its answer fits
  receive(announce_of(0x0A000002, challenge.announce.cookie ^ 1), 0xB1);  // a wrong echo
  EXPECT_EQ(ctx.members().find(0xB1), nullptr);
  receive(announce_of(0x0A000002, challenge.announce.cookie), 0xB1);
  ASSERT_NE(ctx.members().find(0xB1), nullptr);
  EXPECT_EQ(ctx.members().find(0xB1)->http_port, 8080);
}

TEST_F(MembershipTest, TwoNodesAdmitEachOtherByTheHandshake) {
  // The node is the joiner: its join broadcast asks for challenges (reply requested, padded) and
  // carries no cookie, since one that the whole LAN hears could be echoed from any address.
  run(cfg().discovery_interval_ms);
  const auto joins = sent_of(wire::MessageType::kAnnounce);
  ASSERT_FALSE(joins.empty());
  const wire::Announce& join = joins[0].announce;
  EXPECT_TRUE(join.reply_requested && join.padded);
  EXPECT_EQ(joins[0].header.dest_id, 0u);
  EXPECT_EQ(join.cookie, 0u);
  // A member challenges it (its own cookie): a challenge admits nobody; the joiner echoes it and
  // challenges back in one ANNOUNCE, to the address the challenge came from.
  udp.sent.clear();
  receive(announce_of(0x0A000007, 0, 0xBEEF), 0xB7, 1, 0x0A000007);
  EXPECT_EQ(ctx.members().find(0xB7), nullptr);
  wire::Message answer;
  ASSERT_TRUE(announce_to(0xB7, &answer));
  EXPECT_EQ(answer.announce.echo, 0xBEEFu);
  ASSERT_NE(answer.announce.cookie, 0u);
  EXPECT_EQ(udp.sent.back().ip, 0x0A000007u);
  // The cookie is bound to that node and address: echoed by another id, or from another address
  // (naming it, as an ANNOUNCE must), it admits nobody.
  receive(announce_of(0x0A000008, answer.announce.cookie), 0xB8, 1, 0x0A000008);
  EXPECT_EQ(ctx.members().find(0xB8), nullptr);
  // The member, admitting the joiner, echoes the joiner's cookie: admitted at its address.
  receive(announce_of(0x0A000007, answer.announce.cookie), 0xB7, 1, 0x0A000007);
  ASSERT_NE(ctx.members().find(0xB7), nullptr);
  EXPECT_EQ(ctx.members().find(0xB7)->ip, 0x0A000007u);
}

// A member's challenge (an ANNOUNCE with its cookie) is echoed at once even when an answer to
// the same member is already queued for later (the jittered answer to its join ANNOUNCE): the one
// queued answer carries the echo and goes now, and the echo's second copy follows. Under 30 %
// loss this echo waited out the jitter, single, and joins took seconds longer (issue 22).
TEST_F(MembershipTest, AnEchoDueNowDoesNotWaitForAQueuedJoinAnswer) {
  admit(0xB1);
  udp.sent.clear();
  wire::Message join = announce_of(0x0A000002);
  join.header.dest_id = 0;
  join.announce.reply_requested = join.announce.padded = true;
  receive(join, 0xB1);
  wire::Message answer;
  ASSERT_FALSE(announce_to(0xB1, &answer));  // the join's answer waits for its jitter
  receive(announce_of(0x0A000002, 0, 0xBEEF), 0xB1);
  ASSERT_TRUE(announce_to(0xB1, &answer));
  EXPECT_EQ(answer.announce.echo, 0xBEEFu);
  udp.sent.clear();
  run(cfg().discovery_interval_ms);
  ASSERT_TRUE(announce_to(0xB1, &answer));  // the second copy of the echo
  EXPECT_EQ(answer.announce.echo, 0xBEEFu);
}

TEST_F(MembershipTest, AMembersAddressIsItsSignedIpNotThePacketSource) {
  admit(0xB1, 1, 0x0A000002);
  // An ANNOUNCE must come from the address it names: a replay through another address, or one
  // naming an address it does not come from, is refused and moves nothing.
  receive(announce_of(0x0A000002), 0xB1, 1, 0x0A0000EE);
  EXPECT_EQ(ctx.members().find(0xB1)->ip, 0x0A000002u);
  receive(announce_of(0x0A000003), 0xB1, 1, 0x0A0000EE);
  EXPECT_EQ(ctx.members().find(0xB1)->ip, 0x0A000002u);
  EXPECT_EQ(rejected(wire::DecodeError::kAddressMismatch), 2u);
  receive(announce_of(0x0A000003), 0xB1, 1, 0x0A000003);  // a signed move, from the new address
  EXPECT_EQ(ctx.members().find(0xB1)->ip, 0x0A000003u);
}

TEST_F(MembershipTest, NothingCapturedFromAForgottenMemberAdmitsItAgain) {
  receive(announce_of(0x0A000002, 0, 0xC00C1E), 0xB1);
  wire::Message challenge;
  ASSERT_TRUE(announce_to(0xB1, &challenge));
  receive(announce_of(0x0A000002, challenge.announce.cookie), 0xB1);
  ASSERT_NE(ctx.members().find(0xB1), nullptr);
  const std::vector<uint8_t> admitting = last_;
  wire::Message hb;
  hb.header.type = wire::MessageType::kGossip;
  receive(hb, 0xB1);
  const std::vector<uint8_t> heartbeat = last_;
  // Silent past dead_after + retention: forgotten, with its slot's replay window.
  clock.advance(cfg().dead_after_ms + 1000);
  run(2 * cfg().status_interval_ms);
  clock.advance(cfg().dead_retention_ms + 1000);
  run(2 * cfg().status_interval_ms);
  ASSERT_EQ(ctx.members().find(0xB1), nullptr);
  for (const std::vector<uint8_t>* d : {&admitting, &heartbeat}) mem.on_datagram(0x0A000002, 4210, d->data(), d->size());
  EXPECT_EQ(ctx.members().find(0xB1), nullptr);  // the echoed cookie died with its epoch
  EXPECT_EQ(rejected(wire::DecodeError::kUnknownSender), 3u);  // the handshake's first, then both
}

TEST_F(MembershipTest, ADatagramSentToAnotherNodeIsRefused) {
  admit(0xB1);
  wire::Message ping;
  ping.header.type = wire::MessageType::kPing;
  ping.header.dest_id = 0xC3;  // node 0xB1 probing node 0xC3, replayed to this node
  ping.ping.target_id = 0xC3;
  receive(ping, 0xB1);
  EXPECT_EQ(rejected(wire::DecodeError::kWrongDestination), 1u);
  const uint32_t seen_ms = ctx.members().find(0xB1)->last_seen_ms;
  clock.advance(500);
  wire::Message ack;
  ack.header.type = wire::MessageType::kAck;
  ack.header.dest_id = 0xC3;
  receive(ack, 0xB1);
  EXPECT_EQ(rejected(wire::DecodeError::kWrongDestination), 2u);
  EXPECT_EQ(ctx.members().find(0xB1)->last_seen_ms, seen_ms);  // no evidence of life
}

TEST_F(MembershipTest, AVersionOneDatagramIsRefusedAsBadVersion) {
  admit(0xB1);
  receive(announce_of(0x0A000002), 0xB1);
  std::vector<uint8_t> d = last_;
  d[2] = 1;
  mem.on_datagram(0x0A000002, 4210, d.data(), d.size());
  mem.on_datagram(0x0A000002, 4210, d.data(), d.size());
  EXPECT_EQ(rejected(wire::DecodeError::kBadVersion), 2u);
  EXPECT_EQ(ctx.members().find(0xB1)->last_seen_ms, clock.now_ms());  // nothing else changed
  size_t said = 0;
  for (const std::string& line : log.lines) said += line.find("10.0.0.2 speaks protocol v1") != std::string::npos;
  EXPECT_EQ(said, 1u);  // said once per address
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
  node_key_ = new_key;
  mem.set_accept_key(old_key);
  admit(0xB1, 1, 0x0A000002, new_key);
  admit(0xB2, 1, 0x0A000003, old_key);  // the handshake works under the accept key too
  const uint32_t before = mem.stats().rejected_total;  // the two handshakes' unknown_sender
  receive(gossip, 0xB1, 1, 0x0A000002, new_key);
  receive(gossip, 0xB2, 1, 0x0A000003, old_key);
  receive(gossip, 0xB3, 1, 0x0A000004, other);
  receive(gossip, 0xB4, 1, 0x0A000005);  // untagged
  EXPECT_EQ(mem.stats().accepted_with_accept_key, 3u);  // 0xB2: both handshake datagrams, then the gossip
  EXPECT_EQ(mem.stats().rejected[static_cast<size_t>(wire::DecodeError::kBadTag)], 1u);
  EXPECT_EQ(mem.stats().rejected[static_cast<size_t>(wire::DecodeError::kAuthRequired)], 1u);
  EXPECT_EQ(mem.stats().rejected_total, before + 2u);
  EXPECT_EQ(mem.stats().received_by_type[static_cast<size_t>(wire::MessageType::kGossip)], 2u);
  // The datagram refused under the first key is still fresh for the second: the replay window
  // moved only for accepted datagrams, so the same sequence number is not a replay.
  EXPECT_EQ(mem.stats().rejected[static_cast<size_t>(wire::DecodeError::kReplayed)], 0u);
  // What this node sends carries the new key's tag.
  udp.sent.clear();
  run(cfg().heartbeat_interval_ms);
  ASSERT_FALSE(udp.sent.empty());
  wire::Message m;
  EXPECT_EQ(wire::decode(udp.sent[0].bytes.data(), udp.sent[0].bytes.size(), new_key, m), wire::DecodeError::kOk);
  EXPECT_EQ(wire::decode(udp.sent[0].bytes.data(), udp.sent[0].bytes.size(), old_key, m), wire::DecodeError::kBadTag);
}

TEST_F(MembershipTest, AKeylessNodeWithAnAcceptKeyTakesTaggedAndUntagged) {
  const HmacKey new_key = key_of('n');
  wire::Message gossip;
  gossip.header.type = wire::MessageType::kGossip;
  mem.set_accept_key(new_key);  // phase 1 of turning authentication on
  admit(0xB1, 1, 0x0A000002);
  admit(0xB2, 1, 0x0A000003, new_key);
  const uint32_t before = mem.stats().rejected_total;
  receive(gossip, 0xB1, 1, 0x0A000002);
  receive(gossip, 0xB2, 1, 0x0A000003, new_key);
  receive(gossip, 0xB3, 1, 0x0A000004, key_of('x'));
  EXPECT_EQ(mem.stats().accepted_with_accept_key, 3u);
  EXPECT_EQ(mem.stats().rejected_total, before + 1u);
  EXPECT_EQ(mem.stats().received_by_type[static_cast<size_t>(wire::MessageType::kGossip)], 2u);
}

TEST_F(MembershipTest, AFloodingMemberIsCutToItsLimitAndOthersAreNotAffected) {
  wire::Message gossip;
  gossip.header.type = wire::MessageType::kGossip;
  admit(0xB1, 1, 0x0A000002);
  admit(0xB2, 1, 0x0A000003);
  clock.advance(1000);  // the handshakes' datagrams count in an earlier second
  const uint32_t before = mem.stats().received_by_type[static_cast<size_t>(wire::MessageType::kGossip)];
  const uint32_t rejected_before = mem.stats().rejected_total;
  const uint32_t limit = SPORE_MAX_DATAGRAMS_PER_MEMBER_PER_S;
  for (uint32_t i = 0; i < limit + 50; ++i) receive(gossip, 0xB1, 1, 0x0A000002);
  EXPECT_EQ(mem.stats().rate_limited_member, 50u);
  EXPECT_EQ(mem.stats().rejected_total, rejected_before + 50u);
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
  node_key_ = key;
  admit(0xB1, 1, 0x0A000002, key);
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

TEST_F(MembershipTest, AMembersOwnDatagramOverrulesALargerIncarnationFromGossip) {
  // Issue 20 review F3: one GOSSIP from a key holder claiming B1 alive at a huge incarnation must
  // not make B1's own datagrams stale (and B1 look dead until forgotten).
  admit(0xB1, 1, 0x0A000002);
  admit(0xB2, 1, 0x0A000003);
  wire::GossipEntry claim;
  claim.node_id = 0xB1;
  claim.incarnation = 1 + 0x40000000u;
  claim.ip = 0x0A000002;
  claim.udp_port = 4210;
  claim.state = wire::MemberState::kAlive;
  wire::Message g;
  g.header.type = wire::MessageType::kGossip;
  g.gossip.updates = wire::GossipList::from_array(&claim, 1);
  receive(g, 0xB2, 1, 0x0A000003);
  ASSERT_EQ(ctx.members().find(0xB1)->incarnation, 1u + 0x40000000u);  // adopted second hand
  wire::Message hb;
  hb.header.type = wire::MessageType::kGossip;
  const uint32_t seen_ms = ctx.members().find(0xB1)->last_seen_ms;
  run(100);
  receive(hb, 0xB1, 1, 0x0A000002);  // B1 itself, at its real incarnation
  EXPECT_EQ(ctx.members().find(0xB1)->incarnation, 1u);
  EXPECT_GT(ctx.members().find(0xB1)->last_seen_ms, seen_ms);  // first-hand evidence counted
  EXPECT_EQ(mem.stats().incarnations_overruled, 1u);
}

// A joiner's ANNOUNCE is broadcast, so a member's "alive" news about it is redundant once other
// members' heartbeats (broadcasts too) carried it: each copy heard there counts as one of this
// node's sends, a copy in a unicast datagram (an ACK) does not. docs/protocol.md, gossip.
TEST_F(MembershipTest, DiscoveryNewsHeardInOtherMembersHeartbeatsIsNotRepeated) {
  admit(0xB1, 1, 0x0A000002);
  admit(0xB2, 1, 0x0A000003);
  ASSERT_EQ(mem.gossip_queue().size(), 2u);  // both discovered: alive news about each
  const wire::GossipEntry alive = entry(0xB1, 1, 0x0A000002, wire::MemberState::kAlive);
  wire::Message ack;
  ack.header.type = wire::MessageType::kAck;
  ack.ack.updates = wire::GossipList::from_array(&alive, 1);
  for (uint8_t i = 0; i < GossipQueue::kTransmissions; ++i) receive(ack, 0xB2, 1, 0x0A000003);
  EXPECT_EQ(mem.gossip_queue().size(), 2u);
  wire::Message hb;
  hb.header.type = wire::MessageType::kGossip;
  hb.gossip.updates = wire::GossipList::from_array(&alive, 1);
  for (uint8_t i = 0; i < GossipQueue::kTransmissions; ++i) receive(hb, 0xB2, 1, 0x0A000003);
  EXPECT_EQ(mem.gossip_queue().size(), 1u);  // only the news about B2 is left to send
}

TEST_F(MembershipTest, HearingItselfSuspectedRaisesTheIncarnationAndSaysSo) {
  announce(0xB1);
  udp.sent.clear();
  const wire::GossipEntry suspect = entry(kSelf, 5, 0x0A000001, wire::MemberState::kSuspect);
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

TEST_F(MembershipTest, AStrangersSuspicionsAreNotEvenRead) {
  // v2: gossip from a sender that did not complete the handshake is refused before it is applied.
  wire::GossipEntry entries[28];
  receive(suspicions_of_self(5, entries), 0xE1);
  EXPECT_EQ(ctx.self().incarnation, 5u);
  EXPECT_EQ(mem.stats().refutations, 0u);
  EXPECT_EQ(rejected(wire::DecodeError::kUnknownSender), 1u);
}

TEST_F(MembershipTest, AClaimAboutAFutureIncarnationIsForgedAndIgnored) {
  announce(0xB1);
  wire::GossipEntry entries[28];
  for (int i = 0; i < 10; ++i) receive(suspicions_of_self(5 + 0x40000000u, entries), 0xB1);
  EXPECT_EQ(ctx.self().incarnation, 5u);
  EXPECT_EQ(mem.stats().refutations, 0u);
  EXPECT_EQ(mem.stats().forged_incarnation, 10u);
  // Issue 20, finding 5: 28 entries at 0xFFFFFFFF (an older incarnation in serial arithmetic) move nothing.
  for (int i = 0; i < 10; ++i) receive(suspicions_of_self(0xFFFFFFFFu, entries), 0xB1);
  EXPECT_EQ(ctx.self().incarnation, 5u);
  EXPECT_EQ(mem.stats().refutations, 0u);
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


// `spore discover` (docs/protocol.md §4.13): anyone's DISCOVER draws one plain ANNOUNCE to the packet
// source, jittered, addressed to the asker; the asker is neither challenged nor admitted, and the
// answer fits the credit the request gave.
class DiscoverTest : public MembershipTest {
 protected:
  static constexpr uint32_t kAsker = 0xD15C0;
  static constexpr uint32_t kAskerIp = 0x0A000009;
  static constexpr uint16_t kAskerPort = 40001;
  /// Sends a DISCOVER as the asker (tagged with `key` unless empty), from `ip`, naming `named_ip`
  /// (0: `ip`) as its address; its size in bytes.
  size_t ask(const HmacKey& key, uint32_t ip = kAskerIp, uint32_t named_ip = 0) {
    wire::Message m;
    m.header.type = wire::MessageType::kDiscover;
    m.header.sender_id = kAsker;
    m.header.seq = ++seq_;
    m.discover.ip = named_ip != 0 ? named_ip : ip;
    m.discover.udp_port = kAskerPort;
    uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
    const wire::EncodeResult r = wire::encode(m, key, buf, sizeof buf);
    EXPECT_TRUE(r.ok());
    mem.on_datagram(ip, kAskerPort, buf, r.size_bytes);
    return r.size_bytes;
  }
  /// Gives the node a cluster key and clears what it sent; the key.
  HmacKey keyed_node() {
    const HmacKey key = key_of('k');
    mem.set_cluster_key(key);
    node_key_ = key;
    run(10);
    udp.sent.clear();
    return key;
  }
  /// The datagrams sent to the member at 0x0A000002.
  std::vector<Sent> sent_to_member() const {
    std::vector<Sent> out;
    for (const Sent& s : udp.sent)
      if (s.ip == 0x0A000002) out.push_back(s);
    return out;
  }
  /// The datagrams sent to ip:kAskerPort.
  std::vector<Sent> sent_to(uint32_t ip) const {
    std::vector<Sent> out;
    for (const Sent& s : udp.sent)
      if (s.ip == ip && s.port == kAskerPort) out.push_back(s);
    return out;
  }
};

TEST_F(DiscoverTest, AnyoneIsAnsweredWithOneJitteredAnnounceAndAdmitsNothing) {
  run(10);
  admit(0xB1);  // a member, to see that the answer leaves the table alone
  udp.sent.clear();
  const uint32_t rejected_before = mem.stats().rejected_total;
  const size_t request_bytes = ask(HmacKey{});
  ask(HmacKey{});  // a repeat within the jitter: still one answer
  run(cfg().discovery_interval_ms / 2 + 20);
  const std::vector<Sent> answers = sent_to(kAskerIp);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_LE(answers[0].bytes.size(), request_bytes);
  wire::Message a;
  ASSERT_EQ(wire::decode(answers[0].bytes.data(), answers[0].bytes.size(), HmacKey{}, a), wire::DecodeError::kOk);
  EXPECT_EQ(a.header.type, wire::MessageType::kAnnounce);
  EXPECT_EQ(a.header.dest_id, kAsker);
  EXPECT_EQ(a.announce.hostname, "self");
  EXPECT_EQ(a.announce.ip, 0x0A000001u);
  EXPECT_EQ(a.announce.cookie, 0u);  // nothing to echo: the asker cannot become a member
  EXPECT_FALSE(a.announce.reply_requested);
  EXPECT_EQ(ctx.members().find(kAsker), nullptr);
  EXPECT_EQ(ctx.members().size(), 1u);
  EXPECT_EQ(mem.stats().rejected_total, rejected_before);  // taken, not refused as unknown_sender
  EXPECT_EQ(mem.stats().amplification_refused, 0u);
}

TEST_F(DiscoverTest, AKeyedNodeAnswersOnlyATaggedRequestAndTagsItsAnswer) {
  const HmacKey key = keyed_node();
  ask(HmacKey{});  // an outsider without the key: refused like any untagged datagram
  run(cfg().discovery_interval_ms);
  EXPECT_TRUE(sent_to(kAskerIp).empty());
  EXPECT_EQ(rejected(wire::DecodeError::kAuthRequired), 1u);
  ask(key);
  run(cfg().discovery_interval_ms);
  const std::vector<Sent> answers = sent_to(kAskerIp);
  ASSERT_EQ(answers.size(), 1u);
  wire::Message a;
  EXPECT_EQ(wire::decode(answers[0].bytes.data(), answers[0].bytes.size(), key, a), wire::DecodeError::kOk);
  EXPECT_EQ(a.header.dest_id, kAsker);
}

// Issue 21 finding F1: a captured (tagged) request resent from another source names the original
// asker's address under its tag, so it is refused, and only the original asker could be answered.
TEST_F(DiscoverTest, ARequestFromAnotherAddressThanItNamesIsRefused) {
  const HmacKey key = keyed_node();
  ask(key, 0x0A0000F0, kAskerIp);  // replayed from a spoofed source
  run(cfg().discovery_interval_ms);
  EXPECT_TRUE(sent_to(0x0A0000F0).empty());
  EXPECT_TRUE(sent_to(kAskerIp).empty());
  EXPECT_EQ(rejected(wire::DecodeError::kAddressMismatch), 1u);
}

// Issue 21 finding F2: every node answers a broadcast request, so each caps its answers per second.
TEST_F(DiscoverTest, AnswersPerSecondAreCapped) {
  run(10);
  udp.sent.clear();
  uint32_t asked = 0;
  for (uint32_t t = 0; t < 990; t += 10, ++asked) {
    ask(HmacKey{}, 0x0A001000 + asked);  // distinct sources, one second
    run(10);
  }
  run(cfg().discovery_interval_ms);
  size_t answers = 0;
  for (uint32_t i = 0; i < asked; ++i) answers += sent_to(0x0A001000 + i).size();
  EXPECT_GT(answers, 0u);
  EXPECT_LE(answers, size_t{SPORE_MAX_DISCOVER_ANSWERS_PER_S});
  EXPECT_EQ(rejected(wire::DecodeError::kDiscoverLimited), asked - answers);
}

// Issue 21 finding F5: DISCOVER answers never take the last slots of the reply queue, so a join
// reply is still queued with its jitter, not sent at once for want of a slot.
TEST_F(DiscoverTest, AnswersLeaveHalfOfTheReplyQueueToJoins) {
  run(10);
  admit(0xB1);
  run(cfg().discovery_interval_ms);
  udp.sent.clear();
  for (uint32_t i = 0; i < SPORE_MAX_PENDING_REPLIES; ++i) ask(HmacKey{}, 0x0A002000 + i);
  EXPECT_GE(rejected(wire::DecodeError::kDiscoverLimited), SPORE_MAX_PENDING_REPLIES / 2u);
  announce(0xB1, 1, true);  // a join ANNOUNCE: its answer waits for its jitter
  EXPECT_TRUE(sent_to_member().empty());
  run(cfg().discovery_interval_ms);
  EXPECT_FALSE(sent_to_member().empty());
}

// A LAN peer spoofing a victim's address: the victim gets at most the bytes sent in its name,
// however many requests there are, and the unverified budget bounds what the node reads at all.
TEST_F(DiscoverTest, SpoofedRequestsNeverDrawMoreThanTheirBytes) {
  run(10);
  udp.sent.clear();
  size_t asked_bytes = 0;
  for (uint32_t i = 0; i < SPORE_MAX_UNVERIFIED_DATAGRAMS_PER_S + 10; ++i) asked_bytes += ask(HmacKey{}, 0x0A0000F0 + i % 4);
  run(cfg().discovery_interval_ms);
  size_t answered_bytes = 0;
  for (uint32_t ip = 0x0A0000F0; ip < 0x0A0000F4; ++ip) {
    for (const Sent& s : sent_to(ip)) answered_bytes += s.bytes.size();
  }
  EXPECT_GT(answered_bytes, 0u);
  EXPECT_LE(answered_bytes, asked_bytes);
  EXPECT_GT(mem.stats().rate_limited_unverified, 0u);  // the shared budget cut the flood
}

}  // namespace
}  // namespace spore
