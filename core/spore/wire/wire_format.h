#pragma once
/// @file wire_format.h
/// Internal to the wire codec (wire_decode.cpp, wire_encode.cpp): the field rules and body sizes
/// both directions apply, so decoder and encoder cannot drift apart. Not an API: use wire_codec.h.
/// (The byte cursors stay in the one file that uses each, where the compiler may specialise them.)

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "spore/base/bytes.h"
#include "spore/base/limits.h"
#include "spore/wire/wire_messages.h"

namespace spore {
namespace wire {
namespace format {

// ---- field rules, shared by decoder and encoder so they cannot drift apart --------------------

// Hostnames and URIs end up in JSON, logs and URLs: visible ASCII only, no space.
inline bool all_in_range(std::string_view s, char lo, char hi) {
  for (char c : s)
    if (c < lo || c > hi) return false;
  return true;
}
inline bool valid_hostname(std::string_view s) {
  return !s.empty() && s.size() <= SPORE_MAX_HOSTNAME_LEN && all_in_range(s, '\x21', '\x7e');
}
// Same rule as ApiRegistry::add(), so anything a registry holds can be published.
inline bool valid_uri(std::string_view s) {
  return !s.empty() && s.size() <= SPORE_MAX_URI_LEN && s[0] == '/' && all_in_range(s, '\x21', '\x7e');
}
// SDK strings are free text ("2.2.2-dev(38a443e)", "Linux 6.1"): spaces allowed, may be empty.
inline bool valid_sdk_version(std::string_view s) {
  return s.size() <= SPORE_MAX_VERSION_LEN && all_in_range(s, '\x20', '\x7e');
}
inline bool valid_method(uint8_t m) {
  return m >= static_cast<uint8_t>(HttpMethod::kGet) && m <= static_cast<uint8_t>(HttpMethod::kPatch);
}
inline bool valid_state(uint8_t s) {
  return s >= static_cast<uint8_t>(MemberState::kAlive) && s <= static_cast<uint8_t>(MemberState::kLeft);
}
inline bool valid_type(uint8_t t) {
  return t >= static_cast<uint8_t>(MessageType::kAnnounce) && t <= static_cast<uint8_t>(MessageType::kLastType);
}
inline bool valid_topic(std::string_view s) {
  return !s.empty() && s.size() <= kMaxEventTopicLen && all_in_range(s, '\x21', '\x7e');
}
// seq numbers start at 1; the oldest held event is never newer than the newest one.
inline bool valid_stream_pos(const EventStreamPos& p, bool with_oldest) {
  return p.seq != 0 && (!with_oldest || (p.oldest_seq != 0 && p.oldest_seq <= p.seq));
}
inline bool valid_gossip_entry(const GossipEntry& e) {
  return e.node_id != 0 && valid_state(static_cast<uint8_t>(e.state));
}

constexpr uint8_t kAnnounceReplyRequested = 0x01;
constexpr uint8_t kAnnouncePadded = 0x02;
/// echo and cookie follow image_digest (set iff either is non-zero: heartbeats do without them).
constexpr uint8_t kAnnounceHandshake = 0x04;

// Fixed part of each body, in bytes (see docs/protocol.md tables).
constexpr size_t kAnnounceFixedBytes = 1 + 1 + 4 + 2 + 2 + 4 + 4 + 4 + 4 + 1;  // + hostname
constexpr size_t kAnnounceHandshakeBytes = 8 + 8;                            // echo, cookie
/// A padded ANNOUNCE body is always this long: the largest one (handshake fields and a 31-byte
/// hostname), zero-filled.
constexpr size_t kAnnouncePaddedBodyBytes = kAnnounceFixedBytes + kAnnounceHandshakeBytes + 31;
/// Body bytes of `a` before any padding.
inline size_t announce_unpadded_bytes(const Announce& a) {
  return kAnnounceFixedBytes + (a.echo != 0 || a.cookie != 0 ? kAnnounceHandshakeBytes : 0) + a.hostname.size();
}
static_assert(SPORE_MAX_HOSTNAME_LEN <= kAnnouncePaddedBodyBytes - kAnnounceFixedBytes,
              "a padded ANNOUNCE must be the largest one this node can send");
/// A DISCOVER body: the asker's IPv4 and UDP port, then zeros, as long as the largest ANNOUNCE that
/// answers it (no handshake fields, a 31-byte hostname), so the answer is never larger than the
/// request (tagged iff the answer is).
constexpr size_t kDiscoverBodyBytes = kAnnounceFixedBytes + 31;
constexpr size_t kDiscoverAddressBytes = 4 + 2;
// DIGEST: round, next id, backup id, age unit, count; then 4 bytes per id and a nibble per age.
constexpr size_t kDigestFixedBytes = 4 + 4 + 4 + 2 + 1;
constexpr size_t digest_body_bytes(size_t entries) { return kDigestFixedBytes + 4 * entries + (entries + 1) / 2; }
static_assert(digest_body_bytes(kMaxDigestEntries) <= SPORE_MAX_DATAGRAM_BYTES - 23 - 16,
              "the largest DIGEST fits an authenticated datagram");
// ROSTER_DIGEST: round, next id, backup id, age unit, roster size, roster hash; then a nibble per age.
constexpr size_t kRosterDigestFixedBytes = 4 + 4 + 4 + 2 + 2 + 4;
constexpr size_t roster_digest_body_bytes(size_t members) { return kRosterDigestFixedBytes + (members + 1) / 2; }
static_assert(roster_digest_body_bytes(kMaxRosterSize) <= SPORE_MAX_DATAGRAM_BYTES - 23 - 16,
              "the largest ROSTER_DIGEST fits an authenticated datagram");
static_assert(SPORE_MAX_MEMBERS + 1 <= kMaxRosterSize, "a whole table and its node fit one ROSTER_DIGEST");
constexpr size_t kPingFixedBytes = 4 + 4 + 4 + 1;                            // + entries
constexpr size_t kAckFixedBytes = 4 + 4 + 1;
constexpr size_t kPingReqFixedBytes = 4 + 4 + 4 + 4 + 2 + 1;
constexpr size_t kGossipFixedBytes = 1;
constexpr size_t kInfoReqBytes = 1;
constexpr size_t kInfoFixedBytes = 4 + 4 + 4 + 4 + 4 + 2 + 1 + 1 + 1 + 1;  // + sdk + entries
constexpr size_t kApiEntryFixedBytes = 2;                                  // + uri
constexpr size_t kEventFixedBytes = 4 + 4 + 4 + 1 + 2;                     // + topic + payload
constexpr size_t kEventReqBytes = 4 + 4;
constexpr size_t kEventDigestBytes = 4 + 4 + 4;

}  // namespace format
}  // namespace wire
}  // namespace spore
