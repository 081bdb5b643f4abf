#pragma once
// Test support: a peer admitted into a Membership the v2 way (docs/protocol.md §11.3). A
// stranger's ANNOUNCE carrying a cookie draws the node's challenge; the peer's next ANNOUNCE
// echoes the challenge's cookie and is admitted. Datagrams are crafted with the real codec.

#include <cstdint>

#include "fakes.h"
#include "spore/cluster/membership.h"

namespace spore {
namespace testing {

/// A peer's ANNOUNCE addressed to `dest` (0 = broadcast), naming `ip` as its address.
inline wire::Message peer_announce(uint32_t dest, uint32_t ip, uint64_t echo = 0, uint64_t cookie = 0) {
  wire::Message m;
  m.header.type = wire::MessageType::kAnnounce;
  m.header.dest_id = dest;
  m.announce.ip = ip;
  m.announce.udp_port = 4210;
  m.announce.http_port = 8080;
  m.announce.hostname = "peer";
  m.announce.echo = echo;
  m.announce.cookie = cookie;
  return m;
}

/// Encodes `msg` as peer `id` sends it (next `*seq`) and hands it to `mem` from ip:4210.
inline void peer_send(Membership& mem, wire::Message msg, uint32_t id, uint32_t incarnation, uint32_t ip,
                      uint32_t* seq, const HmacKey& key = HmacKey{}) {
  msg.header.sender_id = id;
  msg.header.incarnation = incarnation;
  msg.header.seq = ++*seq;
  uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
  const wire::EncodeResult r = wire::encode(msg, key, buf, sizeof buf);
  if (r.ok()) mem.on_datagram(ip, 4210, buf, r.size_bytes);
}

/// The cookie of the last ANNOUNCE `udp` carried to node `id` (0 = none), decoded with `node_key`.
inline uint64_t cookie_sent_to(const FakeUdp& udp, uint32_t id, const HmacKey& node_key = HmacKey{},
                               uint64_t* echo = nullptr) {
  uint64_t cookie = 0;
  for (const Sent& s : udp.sent) {
    wire::Message m;
    if (wire::decode(s.bytes.data(), s.bytes.size(), node_key, m) == wire::DecodeError::kOk &&
        m.header.type == wire::MessageType::kAnnounce && m.header.dest_id == id) {
      cookie = m.announce.cookie;
      if (echo != nullptr) *echo = m.announce.echo;
    }
  }
  return cookie;
}

/// The handshake as peer `id` at `ip`: true when `mem` admitted it.
inline bool admit_peer(Membership& mem, NodeContext& ctx, FakeUdp& udp, uint32_t id, uint32_t ip, uint32_t* seq,
                       const HmacKey& key = HmacKey{}, const HmacKey& node_key = HmacKey{}, uint32_t incarnation = 1) {
  const uint32_t self = ctx.self().node_id;
  peer_send(mem, peer_announce(self, ip, 0, 0xC00C1E), id, incarnation, ip, seq, key);
  const uint64_t cookie = cookie_sent_to(udp, id, node_key);
  if (cookie == 0) return false;
  peer_send(mem, peer_announce(self, ip, cookie), id, incarnation, ip, seq, key);
  return ctx.members().find(id) != nullptr;
}

}  // namespace testing
}  // namespace spore
