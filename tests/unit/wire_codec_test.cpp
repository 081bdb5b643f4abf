// Wire codec v1: round trips, canonical encoding, every rejection path, auth and anti-replay.
//
// Hidden mode: with SPORE_WRITE_CORPUS=<dir> set, the test CorpusWriter.WriteSeedCorpus writes one
// valid datagram per message type, with and without a tag, into <dir> (the libFuzzer seed corpus
// tests/fuzz/corpus/wire_decoder/). The key matches tests/fuzz/wire_decoder_fuzz.cpp.

#include "spore/wire/wire_codec.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "spore/base/heap_size.h"
#include "spore/wire/wire_format.h"

namespace spore {
namespace wire {
namespace {

using Bytes = std::vector<uint8_t>;

// Same key as the fuzz target, so seed-corpus datagrams authenticate there.
constexpr const char* kClusterKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr const char* kOtherKeyHex = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

HmacKey cluster_key() {
  HmacKey k;
  EXPECT_TRUE(k.set_hex(kClusterKeyHex));
  return k;
}
HmacKey other_key() {
  HmacKey k;
  EXPECT_TRUE(k.set_hex(kOtherKeyHex));
  return k;
}
const HmacKey kNoKey{};

const GossipEntry kEntries[] = {
    {0x00A1B2C3, 7, 0xC0A80102, 4210, 80, MemberState::kAlive},
    {0x00D4E5F6, 1, 0xC0A80103, 4210, 8080, MemberState::kSuspect},
    {0x12345678, 0xFFFFFFFF, 0x7F000005, 4211, 0, MemberState::kDead},
    {0xFFFFFFFF, 0, 0, 1, 65535, MemberState::kLeft},
};
const ApiEntry kApis[] = {
    {HttpMethod::kGet, "/api/node/status"},
    {HttpMethod::kPost, "/api/node/update"},
    {HttpMethod::kPost, "/api/node/restart"},
    {HttpMethod::kGet, "/api/cluster/members"},
    {HttpMethod::kPatch, "/x"},
};

// Odd count: the last age byte's low nibble is the spare one (0).
const DigestEntry kDigestEntries[] = {{0x00A1B2C3, 0}, {0x00D4E5F6, 15}, {0xFFFFFFFF, 7}};
const uint8_t kRosterAges[] = {0x0F, 0x70};

const uint8_t kEventPayload[] = {'{', '"', 'o', 'n', '"', ':', '1', '}', 0x00, 0xFF};  // binary is fine

Message base(MessageType type) {
  Message m;
  m.header.type = type;
  m.header.sender_id = 0x00C0FFEE;
  m.header.incarnation = 3;
  m.header.seq = 41;
  return m;
}

// One representative, field-rich message per type.
std::vector<Message> samples() {
  std::vector<Message> out;
  Message m = base(MessageType::kAnnounce);
  m.announce.max_version = 2;
  m.announce.reply_requested = true;
  m.announce.padded = true;
  m.announce.echo = 0x0102030405060708u;
  m.announce.cookie = 0xF1F2F3F4F5F6F7F8u;
  m.announce.ip = 0xC0A80164;
  m.announce.udp_port = 4210;
  m.announce.http_port = 80;
  m.announce.free_heap_code = 31337;
  m.announce.api_digest = 0xDEADBEEF;
  m.announce.resources_digest = 0x01020304;
  m.announce.image_digest = 0xA5A5A5A5;
  m.announce.hostname = "esp_00c0ffee";
  out.push_back(m);

  m = base(MessageType::kPing);
  m.ping.target_id = 0x00A1B2C3;
  m.ping.probe_id = 99;
  m.ping.timestamp_ms = 123456789;
  m.ping.updates = GossipList::from_array(kEntries, 2);
  out.push_back(m);

  m = base(MessageType::kAck);
  m.ack.probe_id = 99;
  m.ack.timestamp_ms = 123456789;
  m.ack.updates = GossipList::from_array(kEntries, 1);
  out.push_back(m);

  m = base(MessageType::kPingReq);
  m.ping_req.probe_id = 100;
  m.ping_req.timestamp_ms = 5;
  m.ping_req.target_id = 0x00D4E5F6;
  m.ping_req.target_ip = 0xC0A80103;
  m.ping_req.target_udp_port = 4210;
  out.push_back(m);  // no piggyback: the empty section is exercised too

  m = base(MessageType::kGossip);
  m.gossip.updates = GossipList::from_array(kEntries, 4);
  out.push_back(m);

  out.push_back(base(MessageType::kLeave));

  m = base(MessageType::kInfoReq);
  m.info_req.api_page = 2;
  out.push_back(m);

  m = base(MessageType::kInfo);
  m.info.resources_digest = 0x01020304;
  m.info.api_digest = 0xDEADBEEF;
  m.info.free_heap_code = heap_code_from_bytes(25125558682ULL);  // a KiB code (bit 31): 23.4 GiB
  m.info.chip_id = 0x00C0FFEE;
  m.info.flash_chip_size_bytes = 1048576;
  m.info.cpu_freq_mhz = 80;
  m.info.sdk_version = "2.2.2-dev(38a443e)";
  m.info.api_page = 0;
  m.info.api_page_count = 1;
  m.info.api = ApiList::from_array(kApis, 5);
  out.push_back(m);

  m = base(MessageType::kEvent);  // samples()[8]
  m.event.pos = {7, 42, 30};
  m.event.topic = "led/state";
  m.event.payload = kEventPayload;
  m.event.payload_size_bytes = sizeof kEventPayload;
  out.push_back(m);

  m = base(MessageType::kEventReq);
  m.event_req = {7, 31, 0};
  out.push_back(m);

  m = base(MessageType::kEventDigest);
  m.event_digest = {7, 42, 30};
  out.push_back(m);

  m = base(MessageType::kAnnounce);  // samples()[11]: the unpadded form (a heartbeat, an echo)
  m.header.dest_id = 0x00A1B2C3;
  m.announce.ip = 0x0A000002;
  m.announce.echo = 0xF1F2F3F4F5F6F7F8u;
  m.announce.hostname = "n";
  out.push_back(m);

  m = base(MessageType::kDiscover);  // samples()[12]: "who is there?", the asker's address and zeros
  m.discover.ip = 0x0A000009;
  m.discover.udp_port = 40001;
  out.push_back(m);

  m = base(MessageType::kDigest);  // samples()[13]: three members vouched for, the chain's next two
  m.digest.round = 0x01020304;
  m.digest.next_id = 0x00A1B2C3;
  m.digest.backup_id = 0x00D4E5F6;
  m.digest.age_unit_ms = 250;
  m.digest.entries = DigestList::from_array(kDigestEntries, 3);
  out.push_back(m);

  m = base(MessageType::kDigestReq);  // samples()[14]: no body, to the expected sender
  m.header.dest_id = 0x00A1B2C3;
  out.push_back(m);

  m = base(MessageType::kRosterDigest);  // samples()[15]: a roster of three, ages 0, none, 7
  m.digest.round = 0x01020304;
  m.digest.next_id = 0x00A1B2C3;
  m.digest.backup_id = 0x00D4E5F6;
  m.digest.age_unit_ms = 250;
  m.digest.roster_size = 3;
  m.digest.roster_hash = 0xCAFEF00D;
  m.digest.roster_ages = kRosterAges;
  out.push_back(m);
  return out;
}

Bytes encode_vec(const Message& m, const HmacKey& key) {
  Bytes buf(SPORE_MAX_DATAGRAM_BYTES);
  const EncodeResult r = encode(m, key, buf.data(), buf.size());
  EXPECT_TRUE(r.ok()) << encode_error_name(r.error) << " for " << message_type_name(m.header.type);
  buf.resize(r.size_bytes);
  return buf;
}

DecodeError decode_vec(const Bytes& d, const HmacKey& key) {
  Message out;
  return decode(d.data(), d.size(), key, out);
}

// Recomputes the tag after a test edited an authenticated datagram, to reach body checks.
void resign(Bytes& d, const HmacKey& key) {
  ASSERT_GE(d.size(), kHeaderBytes + kTagBytes);
  hmac_sha256(key, d.data(), d.size() - kTagBytes, d.data() + d.size() - kTagBytes, kTagBytes);
}

void expect_same_gossip(const GossipList& a, const GossipList& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].node_id, b[i].node_id);
    EXPECT_EQ(a[i].incarnation, b[i].incarnation);
    EXPECT_EQ(a[i].ip, b[i].ip);
    EXPECT_EQ(a[i].udp_port, b[i].udp_port);
    EXPECT_EQ(a[i].http_port, b[i].http_port);
    EXPECT_EQ(a[i].state, b[i].state);
  }
}

void expect_same(const Message& a, const Message& b) {
  EXPECT_EQ(a.header.type, b.header.type);
  EXPECT_EQ(a.header.sender_id, b.header.sender_id);
  EXPECT_EQ(a.header.incarnation, b.header.incarnation);
  EXPECT_EQ(a.header.seq, b.header.seq);
  switch (a.header.type) {
    case MessageType::kAnnounce:
      EXPECT_EQ(a.announce.max_version, b.announce.max_version);
      EXPECT_EQ(a.announce.reply_requested, b.announce.reply_requested);
      EXPECT_EQ(a.announce.ip, b.announce.ip);
      EXPECT_EQ(a.announce.udp_port, b.announce.udp_port);
      EXPECT_EQ(a.announce.http_port, b.announce.http_port);
      EXPECT_EQ(a.announce.free_heap_code, b.announce.free_heap_code);
      EXPECT_EQ(a.announce.api_digest, b.announce.api_digest);
      EXPECT_EQ(a.announce.resources_digest, b.announce.resources_digest);
      EXPECT_EQ(a.announce.image_digest, b.announce.image_digest);
      EXPECT_EQ(a.announce.hostname, b.announce.hostname);
      EXPECT_EQ(a.announce.padded, b.announce.padded);
      EXPECT_EQ(a.announce.echo, b.announce.echo);
      EXPECT_EQ(a.announce.cookie, b.announce.cookie);
      break;
    case MessageType::kPing:
      EXPECT_EQ(a.ping.target_id, b.ping.target_id);
      EXPECT_EQ(a.ping.probe_id, b.ping.probe_id);
      EXPECT_EQ(a.ping.timestamp_ms, b.ping.timestamp_ms);
      expect_same_gossip(a.ping.updates, b.ping.updates);
      break;
    case MessageType::kAck:
      EXPECT_EQ(a.ack.probe_id, b.ack.probe_id);
      EXPECT_EQ(a.ack.timestamp_ms, b.ack.timestamp_ms);
      expect_same_gossip(a.ack.updates, b.ack.updates);
      break;
    case MessageType::kPingReq:
      EXPECT_EQ(a.ping_req.probe_id, b.ping_req.probe_id);
      EXPECT_EQ(a.ping_req.timestamp_ms, b.ping_req.timestamp_ms);
      EXPECT_EQ(a.ping_req.target_id, b.ping_req.target_id);
      EXPECT_EQ(a.ping_req.target_ip, b.ping_req.target_ip);
      EXPECT_EQ(a.ping_req.target_udp_port, b.ping_req.target_udp_port);
      expect_same_gossip(a.ping_req.updates, b.ping_req.updates);
      break;
    case MessageType::kGossip:
      expect_same_gossip(a.gossip.updates, b.gossip.updates);
      break;
    case MessageType::kLeave:
    case MessageType::kDigestReq:
      break;
    case MessageType::kInfoReq:
      EXPECT_EQ(a.info_req.api_page, b.info_req.api_page);
      break;
    case MessageType::kInfo: {
      EXPECT_EQ(a.info.resources_digest, b.info.resources_digest);
      EXPECT_EQ(a.info.api_digest, b.info.api_digest);
      EXPECT_EQ(a.info.free_heap_code, b.info.free_heap_code);
      EXPECT_EQ(a.info.chip_id, b.info.chip_id);
      EXPECT_EQ(a.info.flash_chip_size_bytes, b.info.flash_chip_size_bytes);
      EXPECT_EQ(a.info.cpu_freq_mhz, b.info.cpu_freq_mhz);
      EXPECT_EQ(a.info.sdk_version, b.info.sdk_version);
      EXPECT_EQ(a.info.api_page, b.info.api_page);
      EXPECT_EQ(a.info.api_page_count, b.info.api_page_count);
      ASSERT_EQ(a.info.api.size(), b.info.api.size());
      auto ib = b.info.api.begin();
      for (const ApiEntry ea : a.info.api) {
        const ApiEntry eb = *ib;
        EXPECT_EQ(ea.method, eb.method);
        EXPECT_EQ(ea.uri, eb.uri);
        ++ib;
      }
      break;
    }
    case MessageType::kEvent:
      EXPECT_EQ(a.event.pos.epoch, b.event.pos.epoch);
      EXPECT_EQ(a.event.pos.seq, b.event.pos.seq);
      EXPECT_EQ(a.event.pos.oldest_seq, b.event.pos.oldest_seq);
      EXPECT_EQ(a.event.topic, b.event.topic);
      ASSERT_EQ(a.event.payload_size_bytes, b.event.payload_size_bytes);
      EXPECT_EQ(std::memcmp(a.event.payload, b.event.payload, a.event.payload_size_bytes), 0);
      break;
    case MessageType::kEventReq:
      EXPECT_EQ(a.event_req.epoch, b.event_req.epoch);
      EXPECT_EQ(a.event_req.seq, b.event_req.seq);
      EXPECT_EQ(b.event_req.oldest_seq, 0u);
      break;
    case MessageType::kEventDigest:
      EXPECT_EQ(a.event_digest.epoch, b.event_digest.epoch);
      EXPECT_EQ(a.event_digest.seq, b.event_digest.seq);
      EXPECT_EQ(a.event_digest.oldest_seq, b.event_digest.oldest_seq);
      break;
    case MessageType::kDiscover:
      EXPECT_EQ(a.discover.ip, b.discover.ip);
      EXPECT_EQ(a.discover.udp_port, b.discover.udp_port);
      break;
    case MessageType::kDigest:
      EXPECT_EQ(a.digest.round, b.digest.round);
      EXPECT_EQ(a.digest.next_id, b.digest.next_id);
      EXPECT_EQ(a.digest.backup_id, b.digest.backup_id);
      EXPECT_EQ(a.digest.age_unit_ms, b.digest.age_unit_ms);
      ASSERT_EQ(a.digest.entries.size(), b.digest.entries.size());
      for (size_t i = 0; i < a.digest.entries.size(); ++i) {
        EXPECT_EQ(a.digest.entries[i].node_id, b.digest.entries[i].node_id);
        EXPECT_EQ(a.digest.entries[i].age, b.digest.entries[i].age);
      }
      break;
    case MessageType::kRosterDigest:
      EXPECT_EQ(a.digest.round, b.digest.round);
      EXPECT_EQ(a.digest.next_id, b.digest.next_id);
      EXPECT_EQ(a.digest.backup_id, b.digest.backup_id);
      EXPECT_EQ(a.digest.age_unit_ms, b.digest.age_unit_ms);
      EXPECT_EQ(a.digest.roster_hash, b.digest.roster_hash);
      ASSERT_EQ(a.digest.roster_size, b.digest.roster_size);
      for (size_t i = 0; i < a.digest.roster_size; ++i) EXPECT_EQ(a.digest.roster_age(i), b.digest.roster_age(i)) << i;
      break;
  }
}

// ---- round trips ----------------------------------------------------------------------------------

TEST(WireCodec, RoundTripEveryTypeWithAndWithoutKey) {
  const HmacKey key = cluster_key();
  for (const HmacKey* k : {&kNoKey, &key}) {
    for (const Message& m : samples()) {
      SCOPED_TRACE(message_type_name(m.header.type));
      const Bytes d = encode_vec(m, *k);
      EXPECT_EQ(d.size(), datagram_size_bytes(m, !k->empty()));
      Message out;
      ASSERT_EQ(decode(d.data(), d.size(), *k, out), DecodeError::kOk);
      EXPECT_EQ(out.header.authenticated, !k->empty());
      expect_same(m, out);
      // Canonical: the decoded form (views into `d`) encodes to the very same bytes.
      EXPECT_EQ(encode_vec(out, *k), d);
    }
  }
}

TEST(WireCodec, DecodedViewsPointIntoTheDatagram) {
  const Message m = samples()[0];
  const Bytes d = encode_vec(m, kNoKey);
  Message out;
  ASSERT_EQ(decode(d.data(), d.size(), kNoKey, out), DecodeError::kOk);
  const char* p = out.announce.hostname.data();
  EXPECT_GE(reinterpret_cast<const uint8_t*>(p), d.data());
  EXPECT_LE(reinterpret_cast<const uint8_t*>(p) + out.announce.hostname.size(), d.data() + d.size());
}

// Pins the byte order and header layout documented in docs/protocol.md.
TEST(WireCodec, GoldenPingBytes) {
  Message m = base(MessageType::kPing);
  m.header.sender_id = 0x01020304;
  m.header.incarnation = 0x05060708;
  m.header.seq = 0x090A0B0C;
  m.ping.target_id = 0x11121314;
  m.ping.probe_id = 0x21222324;
  m.ping.timestamp_ms = 0x31323334;
  m.header.dest_id = 0x41424344;
  const Bytes expected = {'S',  'P',  2,    2,    0,                          // magic, version, type, flags
                          0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,     // sender, incarnation
                          0x09, 0x0A, 0x0B, 0x0C, 0x41, 0x42, 0x43, 0x44,     // seq, dest
                          0x00, 0x0D,                                         // body length 13
                          0x11, 0x12, 0x13, 0x14, 0x21, 0x22, 0x23, 0x24,     // target, probe
                          0x31, 0x32, 0x33, 0x34, 0x00};                      // timestamp, 0 updates
  EXPECT_EQ(encode_vec(m, kNoKey), expected);
  const Bytes authed = encode_vec(m, cluster_key());
  ASSERT_EQ(authed.size(), expected.size() + kTagBytes);
  EXPECT_EQ(authed[4], kFlagAuthenticated);
  uint8_t full[kHmacSha256Bytes];
  HmacKey k = cluster_key();
  hmac_sha256(k, authed.data(), expected.size(), full, sizeof full);
  EXPECT_EQ(0, std::memcmp(full, authed.data() + expected.size(), kTagBytes));  // leftmost 16 bytes
}

// DISCOVER (docs/protocol.md §4.13): 58 bytes of body, exactly: the asker's IPv4 and port, then
// zeros; the answer (an ANNOUNCE without handshake fields) is never larger than the request.
TEST(WireCodec, DiscoverNamesItsAskerAndIsAsLargeAsItsLargestAnswer) {
  Message m = samples()[12];
  const Bytes d = encode_vec(m, kNoKey);
  ASSERT_EQ(d.size(), kHeaderBytes + 58);
  EXPECT_EQ(d[3], 12);
  EXPECT_EQ(d[21], 0);
  EXPECT_EQ(d[22], 58);
  const Bytes address = {0x0A, 0x00, 0x00, 0x09, 0x9C, 0x41};  // 10.0.0.9:40001
  EXPECT_EQ(Bytes(d.begin() + kHeaderBytes, d.begin() + kHeaderBytes + 6), address);
  for (size_t i = kHeaderBytes + 6; i < d.size(); ++i) EXPECT_EQ(d[i], 0) << i;
  uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
  Message no_address = base(MessageType::kDiscover);
  EXPECT_EQ(encode(no_address, kNoKey, buf, sizeof buf).error, EncodeError::kBadField);

  Message answer = samples()[11];  // an unpadded ANNOUNCE, made as large as it gets
  answer.announce.echo = 0;
  const std::string longest(SPORE_MAX_HOSTNAME_LEN, 'h');
  answer.announce.hostname = longest;
  for (bool authenticated : {false, true}) {
    EXPECT_EQ(datagram_size_bytes(answer, authenticated), datagram_size_bytes(m, authenticated));
  }

  Message out;
  Bytes bad = d;
  bad.back() = 1;  // padding must be zeros
  EXPECT_EQ(decode(bad.data(), bad.size(), kNoKey, out), DecodeError::kBadField);
  bad = d;
  bad[kHeaderBytes + 4] = bad[kHeaderBytes + 5] = 0;  // port 0
  EXPECT_EQ(decode(bad.data(), bad.size(), kNoKey, out), DecodeError::kBadField);
  bad = d;
  bad.push_back(0);  // one byte more, and the header says so: still not the one length
  bad[22] = 59;
  EXPECT_EQ(decode(bad.data(), bad.size(), kNoKey, out), DecodeError::kBadLength);
  bad = d;
  bad.pop_back();
  bad[22] = 57;
  EXPECT_EQ(decode(bad.data(), bad.size(), kNoKey, out), DecodeError::kBadLength);
}

// ---- DIGEST (docs/protocol.md §4.14) --------------------------------------------------------------

// `n` entries with ids 0x10000.. (never 0) and ages cycling 0..15.
std::vector<DigestEntry> digest_entries(size_t n) {
  std::vector<DigestEntry> e(n);
  for (size_t i = 0; i < n; ++i) e[i] = {static_cast<uint32_t>(0x10000 + i), static_cast<uint8_t>(i % 16)};
  return e;
}

// samples()[13] with `n` of `entries`.
Message digest_with(const std::vector<DigestEntry>& entries, size_t n) {
  Message m = samples()[13];
  m.digest.entries = DigestList::from_array(entries.data(), n);
  return m;
}

// An unauthenticated datagram `d` with its body replaced by `body` (and the header's length).
Bytes with_body(Bytes d, const Bytes& body) {
  d.resize(kHeaderBytes);
  d[21] = static_cast<uint8_t>(body.size() >> 8);
  d[22] = static_cast<uint8_t>(body.size());
  d.insert(d.end(), body.begin(), body.end());
  return d;
}

// Pins the layout: round, next, backup, unit, count, the ids, then the ages two to a byte, entry 0
// in the high nibble; an odd count's spare low nibble is 0. tests/integration/spore_wire.py pins
// the same datagram.
TEST(WireCodec, DigestLayoutIsAsDocumented) {
  const Bytes d = encode_vec(samples()[13], kNoKey);
  const Bytes body = {0x01, 0x02, 0x03, 0x04, 0x00, 0xA1, 0xB2, 0xC3, 0x00, 0xD4, 0xE5, 0xF6,  // round, next, backup
                      0x00, 0xFA, 3,                                                        // unit 250 ms, count
                      0x00, 0xA1, 0xB2, 0xC3, 0x00, 0xD4, 0xE5, 0xF6, 0xFF, 0xFF, 0xFF, 0xFF,  // ids
                      0x0F, 0x70};                                                          // ages 0 15 | 7 -
  ASSERT_EQ(d.size(), kHeaderBytes + body.size());
  EXPECT_EQ(d[3], 13);
  EXPECT_EQ(d[22], body.size());
  EXPECT_EQ(Bytes(d.begin() + kHeaderBytes, d.end()), body);
  EXPECT_EQ(format::digest_body_bytes(3), body.size());
  EXPECT_EQ(datagram_size_bytes(samples()[13], true), kHeaderBytes + body.size() + kTagBytes);
}

TEST(WireCodec, DigestRoundTripsEveryCountFromNoneToTheMost) {
  const HmacKey key = cluster_key();
  const std::vector<DigestEntry> all = digest_entries(kMaxDigestEntries);
  for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{98}, size_t{99}, kMaxDigestEntries}) {
    for (const HmacKey* k : {&kNoKey, &key}) {
      SCOPED_TRACE(n);
      const Message m = digest_with(all, n);
      const Bytes d = encode_vec(m, *k);
      EXPECT_EQ(d.size(), kHeaderBytes + format::digest_body_bytes(n) + (k->empty() ? 0 : kTagBytes));
      Message out;
      ASSERT_EQ(decode(d.data(), d.size(), *k, out), DecodeError::kOk);
      expect_same(m, out);
      EXPECT_EQ(encode_vec(out, *k), d);
    }
  }
  // 100 entries: 465 body bytes, 504 with header and tag, within the 508-byte datagram.
  EXPECT_EQ(format::digest_body_bytes(kMaxDigestEntries), 465u);
  EXPECT_EQ(datagram_size_bytes(digest_with(all, kMaxDigestEntries), true), 504u);
}

TEST(WireCodec, DigestRefusalsNameTheirReason) {
  const Bytes good = encode_vec(samples()[13], kNoKey);  // 3 entries
  const Bytes body(good.begin() + kHeaderBytes, good.end());
  constexpr size_t kIds = 15, kAges = 15 + 3 * 4;
  ASSERT_EQ(decode_vec(with_body(good, body), kNoKey), DecodeError::kOk);
  Bytes b = body;
  b[12] = b[13] = 0;  // age unit 0
  EXPECT_EQ(decode_vec(with_body(good, b), kNoKey), DecodeError::kBadField);
  b = body;
  std::memset(&b[kIds + 4], 0, 4);  // the second id 0
  EXPECT_EQ(decode_vec(with_body(good, b), kNoKey), DecodeError::kBadField);
  b = body;
  b[kAges + 1] = 0x71;  // the spare nibble of an odd count
  EXPECT_EQ(decode_vec(with_body(good, b), kNoKey), DecodeError::kBadField);
  b.assign(body.begin(), body.begin() + kAges + 1);  // one age byte short
  EXPECT_EQ(decode_vec(with_body(good, b), kNoKey), DecodeError::kBadLength);
  b.assign(body.begin(), body.begin() + kIds + 8);  // two of three ids, no ages
  EXPECT_EQ(decode_vec(with_body(good, b), kNoKey), DecodeError::kBadLength);
  b = body;
  b.push_back(0);  // a byte after the ages
  EXPECT_EQ(decode_vec(with_body(good, b), kNoKey), DecodeError::kBadLength);
  // 101 entries with all their bytes (470 fit a plain datagram's 485): the count is refused.
  const std::vector<DigestEntry> all = digest_entries(kMaxDigestEntries + 1);
  const Bytes most = encode_vec(digest_with(all, kMaxDigestEntries), kNoKey);
  b.assign(most.begin() + kHeaderBytes, most.end());
  b[14] = kMaxDigestEntries + 1;
  b.insert(b.begin() + kIds + 4 * kMaxDigestEntries, {0x00, 0x01, 0x00, 0x64});
  b.push_back(0x00);
  ASSERT_EQ(b.size(), format::digest_body_bytes(kMaxDigestEntries + 1));
  EXPECT_EQ(decode_vec(with_body(most, b), kNoKey), DecodeError::kBadField);

  // The encoder refuses the same.
  uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
  EXPECT_EQ(encode(digest_with(all, kMaxDigestEntries + 1), kNoKey, buf, sizeof buf).error, EncodeError::kBadField);
  Message m = samples()[13];
  m.digest.age_unit_ms = 0;
  EXPECT_EQ(encode(m, kNoKey, buf, sizeof buf).error, EncodeError::kBadField);
  for (const DigestEntry bad : {DigestEntry{0, 1}, DigestEntry{7, kMaxDigestAge + 1}}) {
    std::vector<DigestEntry> e = digest_entries(3);
    e[1] = bad;
    EXPECT_EQ(encode(digest_with(e, 3), kNoKey, buf, sizeof buf).error, EncodeError::kBadField)
        << bad.node_id << "/" << int(bad.age);
  }
}

// The self-echo check reads the sender from the header without decoding; anything shorter than a
// header or without the magic has no sender (0).
TEST(WireCodec, PeekSenderReadsTheHeaderOnly) {
  Message m = base(MessageType::kGossip);
  m.header.sender_id = 0xA1B2C3D4;
  Bytes d = encode_vec(m, cluster_key());
  EXPECT_EQ(peek_sender(d.data(), d.size()), 0xA1B2C3D4u);
  EXPECT_EQ(peek_sender(d.data(), kHeaderBytes), 0xA1B2C3D4u);  // body and tag are not looked at
  EXPECT_EQ(peek_sender(d.data(), kHeaderBytes - 1), 0u);
  EXPECT_EQ(peek_sender(nullptr, d.size()), 0u);
  d[1] = 'Q';
  EXPECT_EQ(peek_sender(d.data(), d.size()), 0u);
}

TEST(WireCodec, GossipAndApiListsIterate) {
  Message m = base(MessageType::kGossip);
  m.gossip.updates = GossipList::from_array(kEntries, 4);
  const Bytes d = encode_vec(m, kNoKey);
  Message out;
  ASSERT_EQ(decode(d.data(), d.size(), kNoKey, out), DecodeError::kOk);
  size_t i = 0;
  for (const GossipEntry e : out.gossip.updates) EXPECT_EQ(e.node_id, kEntries[i++].node_id);
  EXPECT_EQ(i, 4u);
}

// ---- truncation, flips, sizes ------------------------------------------------------------------------

TEST(WireCodec, EveryPrefixOfEveryDatagramIsRejected) {
  const HmacKey key = cluster_key();
  for (const HmacKey* k : {&kNoKey, &key}) {
    for (const Message& m : samples()) {
      const Bytes d = encode_vec(m, *k);
      for (size_t n = 0; n < d.size(); ++n) {
        Message out;
        const DecodeError e = decode(d.data(), n, *k, out);
        EXPECT_NE(e, DecodeError::kOk) << message_type_name(m.header.type) << " prefix " << n;
        if (n < 3) {
          EXPECT_EQ(e, DecodeError::kTooShort);
        } else if (n >= kHeaderBytes) {
          EXPECT_EQ(e, DecodeError::kTruncatedBody);
        }
      }
    }
  }
}

TEST(WireCodec, EverySingleBitFlipOfAnAuthenticatedDatagramIsRejected) {
  const HmacKey key = cluster_key();
  std::set<DecodeError> seen;
  for (const Message& m : samples()) {
    Bytes d = encode_vec(m, key);
    for (size_t byte = 0; byte < d.size(); ++byte) {
      for (int bit = 0; bit < 8; ++bit) {
        d[byte] = static_cast<uint8_t>(d[byte] ^ (1u << bit));
        const DecodeError e = decode_vec(d, key);
        EXPECT_NE(e, DecodeError::kOk) << message_type_name(m.header.type) << " byte " << byte << " bit " << bit;
        seen.insert(e);
        d[byte] = static_cast<uint8_t>(d[byte] ^ (1u << bit));
      }
    }
    EXPECT_EQ(decode_vec(d, key), DecodeError::kOk);  // restored
  }
  EXPECT_TRUE(seen.count(DecodeError::kBadTag));
  EXPECT_TRUE(seen.count(DecodeError::kBadMagic));
  EXPECT_TRUE(seen.count(DecodeError::kBadVersion));
}

TEST(WireCodec, OversizedIsRejectedBeforeAnythingElse) {
  Bytes d(SPORE_MAX_DATAGRAM_BYTES + 1, 0);
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kTooLong);
  Bytes valid = encode_vec(samples()[0], kNoKey);
  valid.resize(SPORE_MAX_DATAGRAM_BYTES + 1, 0);
  EXPECT_EQ(decode_vec(valid, kNoKey), DecodeError::kTooLong);
}

TEST(WireCodec, LargestDatagramIsAccepted) {
  std::vector<GossipEntry> many(max_gossip_entries(MessageType::kGossip, false), kEntries[0]);
  Message m = base(MessageType::kGossip);
  m.gossip.updates = GossipList::from_array(many.data(), many.size());
  const Bytes d = encode_vec(m, kNoKey);
  EXPECT_LE(d.size(), static_cast<size_t>(SPORE_MAX_DATAGRAM_BYTES));
  EXPECT_GT(d.size() + GossipList::kEntryBytes, static_cast<size_t>(SPORE_MAX_DATAGRAM_BYTES));
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kOk);
}

TEST(WireCodec, BadMagicVersionTypeFlagsSender) {
  const Bytes good = encode_vec(samples()[1], kNoKey);
  Bytes d = good;
  d[0] = 'X';
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadMagic);
  d = good;
  d[1] = 'p';
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadMagic);
  d = good;
  d[2] = 1;  // v1: refused, no compatibility mode
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadVersion);
  d[2] = 3;
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadVersion);
  d = good;
  d[2] = 0;
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadVersion);
  // A future version with a shorter header is still reported as a version problem.
  EXPECT_EQ(decode_vec(Bytes{'S', 'P', 3, 0}, kNoKey), DecodeError::kBadVersion);
  d = good;
  d[3] = 0;
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kUnknownType);
  d[3] = 16;  // one past the last type (kRosterDigest = 15)
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kUnknownType);
  d = good;
  d[4] = 0x02;
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadFlags);
  d = good;
  d[5] = d[6] = d[7] = d[8] = 0;
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadSender);
}

TEST(WireCodec, TrailingBytesAreRejected) {
  const HmacKey key = cluster_key();
  for (const HmacKey* k : {&kNoKey, &key}) {
    for (const Message& m : samples()) {
      Bytes d = encode_vec(m, *k);
      d.push_back(0);
      EXPECT_EQ(decode_vec(d, *k), DecodeError::kTrailingBytes) << message_type_name(m.header.type);
    }
  }
}

TEST(WireCodec, BodyLengthMustMatchContents) {
  const HmacKey key = cluster_key();
  // Body length says one byte more than the message uses: the extra byte is inside the body.
  for (const Message& m : samples()) {
    Bytes d = encode_vec(m, key);
    const uint16_t body = static_cast<uint16_t>((d[21] << 8) | d[22]);
    d.insert(d.end() - kTagBytes, 0);
    d[21] = static_cast<uint8_t>((body + 1) >> 8);
    d[22] = static_cast<uint8_t>(body + 1);
    resign(d, key);
    EXPECT_EQ(decode_vec(d, key), DecodeError::kBadLength) << message_type_name(m.header.type);
  }
  // Body shorter than the fixed fields: a PING with a 4-byte body.
  Bytes d = encode_vec(samples()[1], kNoKey);
  d.resize(kHeaderBytes + 4);
  d[21] = 0;
  d[22] = 4;
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadLength);
  // Gossip count promising more entries than the body holds.
  Message g = base(MessageType::kGossip);
  g.gossip.updates = GossipList::from_array(kEntries, 2);
  d = encode_vec(g, kNoKey);
  d[kHeaderBytes] = 3;
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadLength);
  // Declared body longer than what fits in a datagram: truncated.
  d = encode_vec(g, kNoKey);
  d[21] = 0xFF;
  d[22] = 0xFF;
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kTruncatedBody);
}

// ---- strings and fields ----------------------------------------------------------------------------

TEST(WireCodec, BadStringsAreRejectedBothWays) {
  const std::string too_long_host(SPORE_MAX_HOSTNAME_LEN + 1, 'a');
  const std::string max_host(SPORE_MAX_HOSTNAME_LEN, 'a');
  const char* bad_hosts[] = {"", "has space", "tab\there", "nul\0x", "\x7f", "caf\xc3\xa9"};
  Message m = samples()[11];
  m.announce.hostname = max_host;
  EXPECT_EQ(decode_vec(encode_vec(m, kNoKey), kNoKey), DecodeError::kOk);

  uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
  m.announce.hostname = too_long_host;
  EXPECT_EQ(encode(m, kNoKey, buf, sizeof buf).error, EncodeError::kBadString);
  for (const char* h : bad_hosts) {
    m.announce.hostname = std::string_view(h, std::strcmp(h, "nul") == 0 ? 5 : std::strlen(h));
    EXPECT_EQ(encode(m, kNoKey, buf, sizeof buf).error, EncodeError::kBadString) << h;
  }

  // Same rules on the decode side: patch the hostname bytes of a valid datagram.
  m.announce.hostname = "abcdefgh";
  const Bytes good = encode_vec(m, kNoKey);
  const size_t host_at = good.size() - 8;
  const uint8_t bad_bytes[] = {0x00, 0x1f, 0x20, 0x7f, 0x80, 0xff};
  for (uint8_t b : bad_bytes) {
    Bytes d = good;
    d[host_at + 3] = b;
    EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadString) << int(b);
  }
  Bytes d = good;  // zero-length hostname, body shortened to match
  d[host_at - 1] = 0;
  d.resize(host_at);
  d[22] = static_cast<uint8_t>(d[22] - 8);
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadString);
  // Too long: length prefix above the limit with enough bytes behind it.
  Message big = m;
  big.announce.hostname = max_host;
  d = encode_vec(big, kNoKey);
  d.insert(d.end(), 'z');
  d[d.size() - SPORE_MAX_HOSTNAME_LEN - 2] = SPORE_MAX_HOSTNAME_LEN + 1;
  d[22] = static_cast<uint8_t>(d[22] + 1);
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadString);
}

TEST(WireCodec, UriAndSdkVersionRules) {
  uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
  Message m = samples()[7];
  const std::string max_uri = "/" + std::string(SPORE_MAX_URI_LEN - 1, 'u');
  const std::string long_uri = "/" + std::string(SPORE_MAX_URI_LEN, 'u');
  ApiEntry api[1] = {{HttpMethod::kGet, max_uri}};
  m.info.api = ApiList::from_array(api, 1);
  EXPECT_EQ(decode_vec(encode_vec(m, kNoKey), kNoKey), DecodeError::kOk);
  for (std::string_view uri : {std::string_view(long_uri), std::string_view("no/slash"), std::string_view(""),
                               std::string_view("/a b")}) {
    api[0].uri = uri;
    EXPECT_EQ(encode(m, kNoKey, buf, sizeof buf).error, EncodeError::kBadString) << uri;
  }
  api[0].uri = "/ok";
  m.info.sdk_version = "";  // allowed: unknown SDK
  EXPECT_EQ(decode_vec(encode_vec(m, kNoKey), kNoKey), DecodeError::kOk);
  m.info.sdk_version = "Linux 6.1";  // spaces allowed in free text
  EXPECT_EQ(decode_vec(encode_vec(m, kNoKey), kNoKey), DecodeError::kOk);
  m.info.sdk_version = "bad\nline";
  EXPECT_EQ(encode(m, kNoKey, buf, sizeof buf).error, EncodeError::kBadString);
  const std::string long_sdk(SPORE_MAX_VERSION_LEN + 1, 'v');
  m.info.sdk_version = long_sdk;
  EXPECT_EQ(encode(m, kNoKey, buf, sizeof buf).error, EncodeError::kBadString);

  // Decode side: turn the uri's leading '/' into 'x'.
  m.info.sdk_version = "v";
  const Bytes good = encode_vec(m, kNoKey);
  Bytes d = good;
  d[d.size() - 3] = 'x';
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadString);
  d = good;
  d[d.size() - 1] = 0x01;
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadString);
}

TEST(WireCodec, OutOfRangeFieldsAreRejectedBothWays) {
  uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
  // Gossip state 0 and 5.
  GossipEntry e = kEntries[0];
  Message g = base(MessageType::kGossip);
  g.gossip.updates = GossipList::from_array(&e, 1);
  const Bytes good = encode_vec(g, kNoKey);
  for (uint8_t state : {uint8_t{0}, uint8_t{5}, uint8_t{255}}) {
    Bytes d = good;
    d[d.size() - 1] = state;
    EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField) << int(state);
    e.state = static_cast<MemberState>(state);
    EXPECT_EQ(encode(g, kNoKey, buf, sizeof buf).error, EncodeError::kBadField);
  }
  e = kEntries[0];
  e.node_id = 0;
  EXPECT_EQ(encode(g, kNoKey, buf, sizeof buf).error, EncodeError::kBadField);
  Bytes d = good;
  std::memset(&d[kHeaderBytes + 1], 0, 4);
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField);

  // HTTP method 0 and 6.
  Message info = samples()[7];
  ApiEntry api[1] = {{HttpMethod::kGet, "/a"}};
  info.info.api = ApiList::from_array(api, 1);
  const Bytes info_good = encode_vec(info, kNoKey);
  for (uint8_t method : {uint8_t{0}, uint8_t{6}}) {
    d = info_good;
    d[d.size() - 4] = method;
    EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField) << int(method);
    api[0].method = static_cast<HttpMethod>(method);
    EXPECT_EQ(encode(info, kNoKey, buf, sizeof buf).error, EncodeError::kBadField);
  }
  api[0].method = HttpMethod::kGet;

  // Page index must be below page count; page count at least 1.
  info.info.api_page = 1;
  info.info.api_page_count = 1;
  EXPECT_EQ(encode(info, kNoKey, buf, sizeof buf).error, EncodeError::kBadField);
  info.info.api_page = 0;
  info.info.api_page_count = 0;
  EXPECT_EQ(encode(info, kNoKey, buf, sizeof buf).error, EncodeError::kBadField);
  d = info_good;
  const size_t page_at = d.size() - 4 - 3;  // page, page count, entry count, then the entry
  d[page_at] = 1;
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField);
  d = info_good;
  d[page_at + 1] = 0;
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField);

  // ANNOUNCE: reserved flag bits, max_version 0.
  Message a = samples()[0];
  const Bytes a_good = encode_vec(a, kNoKey);
  d = a_good;
  d[kHeaderBytes + 1] = 0x0F;
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField);
  d = a_good;
  d[kHeaderBytes] = 1;  // a v1 speaker
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField);
  d = a_good;
  std::memset(&d[kHeaderBytes + 2], 0, 4);  // ip 0: it would become the member's address
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField);
  d = a_good;
  d.back() = 1;  // padding must be zeros
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField);
  d = a_good;  // padded flag, but one padding byte short
  d.pop_back();
  d[22] = static_cast<uint8_t>(d[22] - 1);
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadLength);
  d = a_good;  // padding without the padded flag
  d[kHeaderBytes + 1] = 0x05;
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadLength);
  d = a_good;  // the handshake fields present but both 0: not canonical
  std::memset(&d[kHeaderBytes + 26], 0, 16);
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField);
  // Without echo and cookie (a heartbeat's ANNOUNCE) the fields are not sent at all.
  Message plain = samples()[11];
  plain.announce.echo = 0;
  EXPECT_EQ(encode_vec(plain, kNoKey).size(), kHeaderBytes + 27 + 1);
  EXPECT_EQ(a_good.size(), kHeaderBytes + 74);  // padded: always the largest body
  Message ip0 = a;
  ip0.announce.ip = 0;
  EXPECT_EQ(encode(ip0, kNoKey, buf, sizeof buf).error, EncodeError::kBadField);
  a.announce.max_version = 1;
  EXPECT_EQ(encode(a, kNoKey, buf, sizeof buf).error, EncodeError::kBadField);

  // PING and PING_REQ target 0; sender 0.
  Message p = samples()[1];
  p.ping.target_id = 0;
  EXPECT_EQ(encode(p, kNoKey, buf, sizeof buf).error, EncodeError::kBadField);
  d = encode_vec(samples()[1], kNoKey);
  std::memset(&d[kHeaderBytes], 0, 4);
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField);
  Message pr = samples()[3];
  pr.ping_req.target_id = 0;
  EXPECT_EQ(encode(pr, kNoKey, buf, sizeof buf).error, EncodeError::kBadField);
  p = samples()[1];
  p.header.sender_id = 0;
  EXPECT_EQ(encode(p, kNoKey, buf, sizeof buf).error, EncodeError::kBadField);
  p.header = samples()[1].header;
  p.header.type = static_cast<MessageType>(42);
  EXPECT_EQ(encode(p, kNoKey, buf, sizeof buf).error, EncodeError::kUnknownType);
}

// ---- encoder capacity -------------------------------------------------------------------------------

// ---- cluster events (EVENT, EVENT_REQ, EVENT_DIGEST) ------------------------------------------------

TEST(WireCodec, EventLayoutIsAsDocumented) {
  const Bytes d = encode_vec(samples()[8], kNoKey);
  // header, then epoch, seq, oldest, str8 topic, u16 payload length, payload (docs/protocol.md §4)
  ASSERT_EQ(d.size(), kHeaderBytes + 12 + 1 + 9 + 2 + sizeof kEventPayload);
  EXPECT_EQ(d[3], 9);
  const Bytes body(d.begin() + kHeaderBytes, d.begin() + kHeaderBytes + 13);
  EXPECT_EQ(body, (Bytes{0, 0, 0, 7, 0, 0, 0, 42, 0, 0, 0, 30, 9}));
  EXPECT_EQ(d[kHeaderBytes + 22], 0);
  EXPECT_EQ(d[kHeaderBytes + 23], sizeof kEventPayload);
  EXPECT_EQ(encode_vec(samples()[9], kNoKey).size(), kHeaderBytes + 8);
  EXPECT_EQ(encode_vec(samples()[10], kNoKey).size(), kHeaderBytes + 12);
  EXPECT_STREQ(message_type_name(MessageType::kEvent), "event");
  EXPECT_STREQ(message_type_name(MessageType::kEventReq), "event_req");
  EXPECT_STREQ(message_type_name(MessageType::kEventDigest), "event_digest");
}

TEST(WireCodec, LargestEventFitsAnAuthenticatedDatagram) {
  const HmacKey key = cluster_key();
  const std::string topic(kMaxEventTopicLen, 't');
  const std::vector<uint8_t> payload(kMaxEventPayloadBytes, 0xAB);
  Message m = samples()[8];
  m.event.topic = topic;
  m.event.payload = payload.data();
  m.event.payload_size_bytes = static_cast<uint16_t>(payload.size());
  const Bytes d = encode_vec(m, key);
  EXPECT_LE(d.size(), size_t{SPORE_MAX_DATAGRAM_BYTES});
  Message out;
  ASSERT_EQ(decode(d.data(), d.size(), key, out), DecodeError::kOk);
  EXPECT_EQ(out.event.payload_size_bytes, kMaxEventPayloadBytes);
  EXPECT_EQ(out.event.topic.size(), kMaxEventTopicLen);
}

// DIGEST (issue 22): the encoder refuses what the decoder refuses, and the decoder names each
// refusal: a count over kMaxDigestEntries, an age unit of 0, a node id of 0, a spare nibble that is
// not 0 (one encoding), and lengths that do not match the count.
TEST(WireCodec, DigestRejectsAreClear) {
  uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
  DigestEntry many[kMaxDigestEntries + 1];
  for (size_t i = 0; i < kMaxDigestEntries + 1; ++i) many[i] = {static_cast<uint32_t>(i + 1), 1};
  Message m = samples()[13];
  m.digest.entries = DigestList::from_array(many, kMaxDigestEntries);
  EXPECT_TRUE(encode(m, cluster_key(), buf, sizeof buf).ok()) << "the largest DIGEST fits a tagged datagram";
  m.digest.entries = DigestList::from_array(many, kMaxDigestEntries + 1);
  EXPECT_EQ(encode(m, kNoKey, buf, sizeof buf).error, EncodeError::kBadField) << "too many entries";
  m = samples()[13];
  m.digest.age_unit_ms = 0;
  EXPECT_EQ(encode(m, kNoKey, buf, sizeof buf).error, EncodeError::kBadField) << "unit 0";
  const DigestEntry bad_id[] = {{0, 1}}, bad_age[] = {{5, kMaxDigestAge + 1}};
  m.digest.age_unit_ms = 1;
  m.digest.entries = DigestList::from_array(bad_id, 1);
  EXPECT_EQ(encode(m, kNoKey, buf, sizeof buf).error, EncodeError::kBadField) << "id 0";
  m.digest.entries = DigestList::from_array(bad_age, 1);
  EXPECT_EQ(encode(m, kNoKey, buf, sizeof buf).error, EncodeError::kBadField) << "age over 4 bits";

  // Decoder side: patch a valid DIGEST (unauthenticated, so no re-signing is needed). Body: round
  // 4, next 4, backup 4, unit 2, count 1, then 3 ids and 2 age bytes.
  const Bytes good = encode_vec(samples()[13], kNoKey);
  constexpr size_t kUnit = kHeaderBytes + 12, kCount = kUnit + 2, kIds = kCount + 1, kAges = kIds + 12;
  ASSERT_EQ(good.size(), kAges + 2);
  ASSERT_EQ(decode_vec(good, kNoKey), DecodeError::kOk);
  Bytes d = good;
  d[kUnit] = d[kUnit + 1] = 0;
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField) << "unit 0";
  d = good;
  std::memset(&d[kIds + 4], 0, 4);
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField) << "id 0";
  d = good;
  d[kAges + 1] |= 0x01;
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField) << "spare nibble";
  d = good;
  d[kCount] = 4;  // one id more than the body holds
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadLength);
  d[kCount] = 2;  // one id fewer: bytes left over
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadLength);
  // 101 entries, every length consistent: refused by count, not by length.
  m = samples()[13];
  m.digest.entries = DigestList::from_array(many, kMaxDigestEntries);
  d = encode_vec(m, kNoKey);
  ASSERT_FALSE(d.empty());
  d[kCount] = static_cast<uint8_t>(kMaxDigestEntries + 1);
  const size_t ages_at = kIds + 4 * kMaxDigestEntries;
  d.insert(d.begin() + static_cast<std::ptrdiff_t>(ages_at), {0, 0, 0, 0x65});  // id 101
  d.push_back(0x10);  // the 101st age, and a 0 spare nibble
  const uint16_t body = static_cast<uint16_t>(d.size() - kHeaderBytes);
  d[21] = static_cast<uint8_t>(body >> 8);
  d[22] = static_cast<uint8_t>(body);
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField) << "count over kMaxDigestEntries";
  // DIGEST_REQ has no body.
  d = encode_vec(samples()[14], kNoKey);
  EXPECT_EQ(d.size(), kHeaderBytes);
}

// ROSTER_DIGEST (docs/protocol.md §4.16): round, next, backup, unit, roster size, roster hash, then
// the ages two to a byte, member 0 in the high nibble; an odd size's spare low nibble is 0.
TEST(WireCodec, RosterDigestLayoutIsAsDocumented) {
  const Bytes d = encode_vec(samples()[15], kNoKey);
  const Bytes body = {0x01, 0x02, 0x03, 0x04, 0x00, 0xA1, 0xB2, 0xC3, 0x00, 0xD4, 0xE5, 0xF6,  // round, next, backup
                      0x00, 0xFA, 0x00, 0x03, 0xCA, 0xFE, 0xF0, 0x0D,                          // unit, size, hash
                      0x0F, 0x70};                                                          // ages 0 15 | 7 -
  ASSERT_EQ(d.size(), kHeaderBytes + body.size());
  EXPECT_EQ(d[3], 15);
  EXPECT_EQ(Bytes(d.begin() + kHeaderBytes, d.end()), body);
  EXPECT_EQ(format::roster_digest_body_bytes(3), body.size());
  EXPECT_STREQ(message_type_name(MessageType::kRosterDigest), "roster_digest");
  // The hash of a roster: FNV-1a over the ids' bytes, MSB first (0x00000001 then 0x00000002).
  const uint8_t ids[] = {0, 0, 0, 1, 0, 0, 0, 2};
  EXPECT_EQ(roster_hash_step(roster_hash_step(kFnv1aOffset, 1), 2), fnv1a(kFnv1aOffset, ids, sizeof ids));
}

TEST(WireCodec, RosterDigestRoundTripsFromOneMemberToTheMost) {
  const HmacKey key = cluster_key();
  std::vector<uint8_t> ages((kMaxRosterSize + 1) / 2);
  for (size_t i = 0; i < ages.size(); ++i) ages[i] = static_cast<uint8_t>(i * 37);
  for (size_t n : {size_t{1}, size_t{2}, size_t{255}, size_t{256}, kMaxRosterSize}) {
    for (const HmacKey* k : {&kNoKey, &key}) {
      SCOPED_TRACE(n);
      Message m = samples()[15];
      m.digest.roster_size = static_cast<uint16_t>(n);
      m.digest.roster_ages = ages.data();
      const Bytes d = encode_vec(m, *k);
      ASSERT_EQ(d.size(), kHeaderBytes + format::roster_digest_body_bytes(n) + (k->empty() ? 0 : kTagBytes));
      Message out;
      ASSERT_EQ(decode(d.data(), d.size(), *k, out), DecodeError::kOk);
      // An odd size's spare nibble goes out as 0, whatever the caller's byte held.
      for (size_t i = 0; i < n; ++i) EXPECT_EQ(out.digest.roster_age(i), m.digest.roster_age(i)) << i;
      EXPECT_EQ(encode_vec(out, *k), d);
    }
  }
  // 898 members in the 508-byte authenticated datagram; a whole table and its node always fit.
  EXPECT_EQ(kMaxRosterSize, 898u);
  EXPECT_LE(size_t{SPORE_MAX_MEMBERS} + 1, kMaxRosterSize);
}

TEST(WireCodec, RosterDigestRejectsAreClear) {
  uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
  Message m = samples()[15];
  m.digest.roster_size = 0;
  EXPECT_EQ(encode(m, kNoKey, buf, sizeof buf).error, EncodeError::kBadField) << "empty roster";
  m = samples()[15];
  m.digest.roster_size = static_cast<uint16_t>(kMaxRosterSize + 1);
  EXPECT_EQ(encode(m, kNoKey, buf, sizeof buf).error, EncodeError::kBadField) << "too many";
  m = samples()[15];
  m.digest.age_unit_ms = 0;
  EXPECT_EQ(encode(m, kNoKey, buf, sizeof buf).error, EncodeError::kBadField) << "unit 0";
  m = samples()[15];
  m.digest.roster_ages = nullptr;
  EXPECT_EQ(encode(m, kNoKey, buf, sizeof buf).error, EncodeError::kBadField) << "no ages";

  const Bytes good = encode_vec(samples()[15], kNoKey);
  constexpr size_t kUnit = kHeaderBytes + 12, kSize = kUnit + 2, kAges = kSize + 6;
  ASSERT_EQ(good.size(), kAges + 2);
  const Bytes body(good.begin() + kHeaderBytes, good.end());
  ASSERT_EQ(decode_vec(good, kNoKey), DecodeError::kOk);
  Bytes d = good;
  d[kUnit] = d[kUnit + 1] = 0;
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField) << "unit 0";
  d = good;
  d[kAges + 1] |= 0x01;
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField) << "spare nibble";
  Bytes b = body;
  b[14] = b[15] = 0;  // size 0, no ages
  b.resize(20);
  EXPECT_EQ(decode_vec(with_body(good, b), kNoKey), DecodeError::kBadField) << "empty roster";
  b = body;
  b[15] = 5;  // five members in two bytes
  EXPECT_EQ(decode_vec(with_body(good, b), kNoKey), DecodeError::kBadLength);
  b = body;
  b[15] = 2;  // two members: one byte left over
  EXPECT_EQ(decode_vec(with_body(good, b), kNoKey), DecodeError::kBadLength);
  b.assign(body.begin(), body.begin() + 18);  // cut inside the hash
  EXPECT_EQ(decode_vec(with_body(good, b), kNoKey), DecodeError::kBadLength);
  // 899 members with all their bytes: refused by size (it fits only an unauthenticated datagram).
  b = body;
  const uint16_t over = static_cast<uint16_t>(kMaxRosterSize + 1);
  b[14] = static_cast<uint8_t>(over >> 8);
  b[15] = static_cast<uint8_t>(over);
  b.resize(20 + (kMaxRosterSize + 2) / 2, 0);
  EXPECT_EQ(decode_vec(with_body(good, b), kNoKey), DecodeError::kBadField) << "size over kMaxRosterSize";
}

TEST(WireCodec, EventRejectsAreClear) {
  uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
  const std::vector<uint8_t> big(kMaxEventPayloadBytes + 1, 1);
  // Encoder side.
  Message m = samples()[8];
  m.event.payload = big.data();
  m.event.payload_size_bytes = static_cast<uint16_t>(big.size());
  EXPECT_EQ(encode(m, kNoKey, buf, sizeof buf).error, EncodeError::kBadField) << "oversize payload";
  m = samples()[8];
  m.event.payload = nullptr;
  EXPECT_EQ(encode(m, kNoKey, buf, sizeof buf).error, EncodeError::kBadField) << "payload length without bytes";
  for (const EventStreamPos pos : {EventStreamPos{7, 0, 0}, EventStreamPos{7, 5, 0}, EventStreamPos{7, 5, 6}}) {
    m = samples()[8];
    m.event.pos = pos;
    EXPECT_EQ(encode(m, kNoKey, buf, sizeof buf).error, EncodeError::kBadField) << pos.seq << "/" << pos.oldest_seq;
    m = samples()[10];
    m.event_digest = pos;
    EXPECT_EQ(encode(m, kNoKey, buf, sizeof buf).error, EncodeError::kBadField);
  }
  m = samples()[9];
  m.event_req.seq = 0;
  EXPECT_EQ(encode(m, kNoKey, buf, sizeof buf).error, EncodeError::kBadField);
  const std::string long_topic(kMaxEventTopicLen + 1, 't');
  for (std::string_view topic : {std::string_view(""), std::string_view("a b"), std::string_view("\x7f"),
                                 std::string_view(long_topic)}) {
    m = samples()[8];
    m.event.topic = topic;
    EXPECT_EQ(encode(m, kNoKey, buf, sizeof buf).error, EncodeError::kBadString) << topic;
  }

  // Decoder side: patch a valid EVENT (unauthenticated, so no re-signing is needed).
  const Bytes good = encode_vec(samples()[8], kNoKey);
  const size_t body = kHeaderBytes;
  Bytes d = good;
  d[body + 7] = 0;  // seq 0
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField);
  d = good;
  d[body + 11] = 43;  // oldest 43 > seq 42
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField);
  d = good;
  d[body + 11] = 0;  // oldest 0
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField);
  d = good;
  d[body + 13] = ' ';  // space in the topic
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadString);
  d = good;
  d[body + 12] = 0;  // empty topic; the rest then does not add up
  EXPECT_NE(decode_vec(d, kNoKey), DecodeError::kOk);
  d = good;
  d[body + 22] = 0x01;  // payload length 256 + 10: more than the protocol allows
  d[body + 23] = 0x0A;
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField);
  d = good;
  d[body + 23] = sizeof kEventPayload + 1;  // promises a byte more than the body has
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadLength);
  d = good;
  d[body + 23] = sizeof kEventPayload - 1;  // one payload byte left over
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadLength);
  // A 257-byte payload that is really there is refused as bad_field too, not read.
  Message big_msg = samples()[8];
  big_msg.event.payload = big.data();
  big_msg.event.payload_size_bytes = kMaxEventPayloadBytes;
  d = encode_vec(big_msg, kNoKey);
  d.push_back(1);
  d[body + 22] = 0x01;
  d[body + 23] = 0x01;
  d[21] = static_cast<uint8_t>((d.size() - kHeaderBytes) >> 8);
  d[22] = static_cast<uint8_t>(d.size() - kHeaderBytes);
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField);
  // EVENT_REQ: from seq 0; EVENT_DIGEST: oldest > newest.
  d = encode_vec(samples()[9], kNoKey);
  d[body + 7] = 0;
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField);
  d = encode_vec(samples()[10], kNoKey);
  d[body + 11] = 50;
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadField);
  d = encode_vec(samples()[10], kNoKey);
  d.push_back(0);
  d[22] = static_cast<uint8_t>(d[22] + 1);
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kBadLength);
  // A type beyond the last one is still unknown_type (what v1 nodes without events answer).
  d = good;
  d[3] = static_cast<uint8_t>(MessageType::kLastType) + 1;
  EXPECT_EQ(decode_vec(d, kNoKey), DecodeError::kUnknownType);
}

TEST(WireCodec, EncoderNeverWritesPastCapacity) {
  const HmacKey key = cluster_key();
  for (const HmacKey* k : {&kNoKey, &key}) {
    for (const Message& m : samples()) {
      const size_t need = datagram_size_bytes(m, !k->empty());
      ASSERT_GT(need, 0u);
      for (size_t cap = 0; cap < need; ++cap) {
        Bytes buf(cap + 8, 0xAB);
        const EncodeResult r = encode(m, *k, buf.data(), cap);
        EXPECT_EQ(r.error, EncodeError::kNoSpace);
        EXPECT_EQ(r.size_bytes, 0u);
        for (size_t i = cap; i < buf.size(); ++i) ASSERT_EQ(buf[i], 0xAB) << "wrote past capacity " << cap;
      }
    }
  }
}

TEST(WireCodec, MaxGossipEntriesIsExact) {
  std::vector<GossipEntry> many(300, kEntries[1]);
  const HmacKey key = cluster_key();
  for (MessageType t : {MessageType::kPing, MessageType::kAck, MessageType::kPingReq, MessageType::kGossip}) {
    for (const HmacKey* k : {&kNoKey, &key}) {
      Message m = samples()[static_cast<size_t>(t) - 1];
      const size_t n = max_gossip_entries(t, !k->empty());
      ASSERT_GT(n, 20u);
      GossipList* list = t == MessageType::kPing  ? &m.ping.updates
                         : t == MessageType::kAck ? &m.ack.updates
                         : t == MessageType::kPingReq ? &m.ping_req.updates
                                                      : &m.gossip.updates;
      *list = GossipList::from_array(many.data(), n);
      const Bytes d = encode_vec(m, *k);
      EXPECT_EQ(decode_vec(d, *k), DecodeError::kOk);
      *list = GossipList::from_array(many.data(), n + 1);
      uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
      EXPECT_EQ(encode(m, *k, buf, sizeof buf).error, EncodeError::kNoSpace) << message_type_name(t);
      *list = GossipList::from_array(many.data(), 256);
      EXPECT_EQ(encode(m, *k, buf, sizeof buf).error, EncodeError::kBadField);
    }
  }
  EXPECT_EQ(max_gossip_entries(MessageType::kAnnounce, false), 0u);
}

TEST(WireCodec, ApiPagesCoverTheListAndEachPageFits) {
  // 60 long endpoints need several pages.
  std::vector<std::string> uris;
  for (int i = 0; i < 60; ++i) uris.push_back("/api/some/rather/long/endpoint/number/" + std::to_string(i));
  std::vector<ApiEntry> entries;
  for (const auto& u : uris) entries.push_back({HttpMethod::kGet, u});
  const HmacKey key = cluster_key();
  const std::string sdk = "2.2.2-dev(38a443e)";
  const size_t pages = api_pages(entries.data(), entries.size(), sdk.size(), true);
  ASSERT_GE(pages, 2u);
  size_t next = 0;
  for (size_t p = 0; p < pages; ++p) {
    size_t first = 99, count = 99;
    EXPECT_EQ(api_pages(entries.data(), entries.size(), sdk.size(), true, p, &first, &count), pages);
    EXPECT_EQ(first, next);
    EXPECT_GT(count, 0u);
    next = first + count;
    Message m = samples()[7];
    m.info.sdk_version = sdk;
    m.info.api_page = static_cast<uint8_t>(p);
    m.info.api_page_count = static_cast<uint8_t>(pages);
    m.info.api = ApiList::from_array(entries.data() + first, count);
    const Bytes d = encode_vec(m, key);
    EXPECT_EQ(decode_vec(d, key), DecodeError::kOk);
    if (p + 1 < pages) {  // greedy: the next entry would not have fit
      m.info.api = ApiList::from_array(entries.data() + first, count + 1);
      uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
      EXPECT_EQ(encode(m, key, buf, sizeof buf).error, EncodeError::kNoSpace);
    }
  }
  EXPECT_EQ(next, entries.size());
  EXPECT_EQ(api_pages(nullptr, 0, sdk.size(), true), 1u);  // empty list: one empty page
  EXPECT_EQ(api_pages(entries.data(), 1, 1000, true), 0u);  // fixed part alone does not fit
}

// ---- authentication ----------------------------------------------------------------------------------

TEST(WireCodec, WrongKeyMissingTagUnexpectedTag) {
  const HmacKey key = cluster_key();
  const HmacKey other = other_key();
  for (const Message& m : samples()) {
    const Bytes authed = encode_vec(m, key);
    const Bytes plain = encode_vec(m, kNoKey);
    EXPECT_EQ(decode_vec(authed, other), DecodeError::kBadTag);
    EXPECT_EQ(decode_vec(plain, key), DecodeError::kAuthRequired);
    EXPECT_EQ(decode_vec(authed, kNoKey), DecodeError::kUnexpectedAuth);
    // Stripping the tag and clearing the flag does not get past a keyed node.
    Bytes stripped(authed.begin(), authed.end() - kTagBytes);
    stripped[4] = 0;
    EXPECT_EQ(decode_vec(stripped, key), DecodeError::kAuthRequired);
  }
}

// ---- names -----------------------------------------------------------------------------------------

TEST(WireCodec, EveryReasonHasADistinctName) {
  std::set<std::string> names;
  // decode_error_name() is a flash string (GET /metrics reads it); on hosts a plain pointer.
  for (size_t i = 0; i < kDecodeErrorCount; ++i) {
    const FlashStr n = decode_error_name(static_cast<DecodeError>(i));
    ASSERT_FALSE(n.is_null());
    EXPECT_FALSE(n.equals("?"));
    names.insert(n.address());
  }
  EXPECT_EQ(names.size(), kDecodeErrorCount);
  EXPECT_TRUE(decode_error_name(DecodeError::kBadTag).equals("bad_tag"));
  EXPECT_TRUE(decode_error_name(DecodeError::kReplayed).equals("replayed"));
  EXPECT_TRUE(decode_error_name(static_cast<DecodeError>(kDecodeErrorCount)).equals("?"));
  EXPECT_STREQ(encode_error_name(EncodeError::kNoSpace), "no_space");
  EXPECT_STREQ(encode_error_name(EncodeError::kUnknownType), "unknown_type");
  EXPECT_STREQ(encode_error_name(static_cast<EncodeError>(99)), "?");
  for (uint8_t t = 1; t <= 15; ++t) EXPECT_STRNE(message_type_name(static_cast<MessageType>(t)), "?");
  EXPECT_STREQ(message_type_name(MessageType::kAnnounce), "announce");
  EXPECT_STREQ(message_type_name(static_cast<MessageType>(0)), "?");
  EXPECT_STREQ(message_type_name(static_cast<MessageType>(16)), "?");
  EXPECT_STREQ(message_type_name(MessageType::kDiscover), "discover");
  EXPECT_STREQ(message_type_name(MessageType::kDigest), "digest");
  EXPECT_STREQ(member_state_name(static_cast<MemberState>(0)), "?");
  EXPECT_STREQ(member_state_name(MemberState::kLeft), "left");
}

// ---- seed corpus generator (hidden mode) ------------------------------------------------------------

TEST(CorpusWriter, WriteSeedCorpus) {
  const char* dir = std::getenv("SPORE_WRITE_CORPUS");
  if (dir == nullptr || *dir == '\0') GTEST_SKIP() << "set SPORE_WRITE_CORPUS=<dir> to write the seed corpus";
  const HmacKey key = cluster_key();
  const std::vector<DigestEntry> most = digest_entries(kMaxDigestEntries);
  std::vector<Message> messages = samples();
  messages.push_back(digest_with(most, kMaxDigestEntries));  // the largest DIGEST (an odd count is in samples())
  for (const HmacKey* k : {&kNoKey, &key}) {
    std::set<std::string> names;
    for (const Message& m : messages) {
      const Bytes d = encode_vec(m, *k);
      std::string name = message_type_name(m.header.type);
      // A second form of the type: the unpadded ANNOUNCE, the largest DIGEST.
      if (!names.insert(name).second) name += "_2";
      const std::string path = std::string(dir) + "/" + name + (k->empty() ? "_plain" : "_auth") + ".bin";
      std::FILE* f = std::fopen(path.c_str(), "wb");
      ASSERT_NE(f, nullptr) << path;
      ASSERT_EQ(std::fwrite(d.data(), 1, d.size(), f), d.size());
      std::fclose(f);
    }
  }
}

}  // namespace
}  // namespace wire
}  // namespace spore
