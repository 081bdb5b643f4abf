#pragma once
/// @file datagram_channel.h
/// The secure datagram layer every cluster message goes through (docs/protocol.md §3, §7): the
/// cluster keys, the send sequence, the receive rate limits (DatagramLimiter), the
/// anti-amplification credit (AmplificationGuard), the anti-replay window, the transmit buffer and
/// the traffic counters. Membership and ClusterEvents both send and receive
/// through one DatagramChannel, so every datagram of a node shares one key, one sequence and one
/// replay window (memberlist keeps the same concern in net.go + security.go).
///
/// send() stamps the header (sender, incarnation, next seq, destination), encodes with a tag when
/// a key is set and hands the bytes to the UdpPort. receive() drops this node's own echoed
/// broadcasts uncounted, credits the source (docs/protocol.md §11.11), takes a datagram that claims
/// no member from the shared unverified budget before decoding it, verifies and decodes (the accept-only key gets a
/// second chance at a refused tag), refuses a datagram addressed to another node, and checks a
/// member's datagram against the replay window of its MemberTable slot; only an accepted datagram
/// moves that window. A sender that is no member has no window: receive() reports it a stranger,
/// and only Membership's admission handshake (docs/protocol.md §11.3) gives it one.
/// send() refuses a destination that has not proved membership and lacks the credit.
///
/// No allocation; not thread-safe (the node's loop, the platform's receive callback included).

#include <array>
#include <cstddef>
#include <cstdint>

#include "spore/auth/hmac_sha256.h"
#include "spore/base/ports.h"
#include "spore/cluster/member_table.h"
#include "spore/cluster/amplification_guard.h"
#include "spore/cluster/datagram_limiter.h"
#include "spore/wire/replay_window.h"
#include "spore/wire/wire_codec.h"

namespace spore {

class NodeContext;

/// Counters of one node's datagram traffic. Bytes are UDP payload bytes.
struct DatagramStats {
  uint32_t datagrams_sent = 0, bytes_sent = 0, datagrams_received = 0, bytes_received = 0, send_failures = 0;
  uint32_t rejected[wire::kDecodeErrorCount] = {};  ///< by reason, indexed by wire::DecodeError
  uint32_t rejected_total = 0;

  /// Datagrams by wire::MessageType value (index 0 unused): sent, and received and accepted. Sized
  /// from the newest type, so a type appended to the enum is counted without touching this line.
  static constexpr size_t kTypeSlots = static_cast<size_t>(wire::MessageType::kLastType) + 1;
  uint32_t sent_by_type[kTypeSlots] = {};
  uint32_t received_by_type[kTypeSlots] = {};
  /// Datagrams accepted with the accept-only key (set_accept_key()): while a key rotation rolls
  /// out, peers still on the other key. Zero for a while = every peer has moved.
  uint32_t accepted_with_accept_key = 0;
  /// Verified datagrams of a member past SPORE_MAX_DATAGRAMS_PER_MEMBER_PER_S in a second, and
  /// datagrams claiming no member past SPORE_MAX_UNVERIFIED_DATAGRAMS_PER_S (all such sources
  /// together; dropped before decoding). Both also in rejected_total.
  uint32_t rate_limited_member = 0, rate_limited_unverified = 0;
  /// Datagrams not sent, and their bytes, because the destination has not proved membership and
  /// sent this node fewer bytes than it would get (anti-amplification). Not in send_failures.
  uint32_t amplification_refused = 0, amplification_refused_bytes = 0;
};

class DatagramChannel {
 public:
  /// Counts into `stats`, which its owner keeps (Membership reports them with its own counters).
  DatagramChannel(NodeContext& ctx, UdpPort& udp, DatagramStats& stats) : ctx_(ctx), udp_(udp), stats_(stats) {}
  DatagramChannel(const DatagramChannel&) = delete;
  DatagramChannel& operator=(const DatagramChannel&) = delete;

  /// Empty key = no authentication. Set before the first datagram.
  void set_cluster_key(const HmacKey& key) { key_ = key; }
  /// A second key accepted but never sent with (key rotation, docs/security.md).
  void set_accept_key(const HmacKey& key) { accept_key_ = key; }
  /// Datagrams go out tagged (a cluster key is set).
  bool authenticated() const { return !key_.empty(); }

  /// Stamps msg.header (sender, incarnation, next seq, `dest_id`; a seq that would wrap raises
  /// the incarnation first), encodes it and sends it to ip:port (ip 0 = broadcast). `dest_id` is
  /// the receiver's node id, 0 only for a broadcast or a join address of unknown id. False,
  /// counted in send_failures, when encoding or the UdpPort refused; false, counted in
  /// amplification_refused, when ip:port is neither a member's table address nor trusted and
  /// lacks the credit.
  bool send(uint32_t ip, uint16_t port, uint32_t dest_id, wire::Message& msg);
  /// Sends the bytes of the last datagram again, unchanged (same seq), to ip:port, if the last
  /// send() was a broadcast. For a join address whose node is not known yet: a member that heard
  /// the broadcast refuses a replay of this copy as `replayed` (docs/protocol.md §11.9). Same
  /// anti-amplification rule and counters as send().
  bool resend_broadcast(uint32_t ip, uint16_t port);
  /// A configured join address: sent to without anti-amplification credit. False when full.
  bool trust_address(uint32_t ip, uint16_t port) { return guard_.trust(ip, port); }

  /// What receive() made of a datagram.
  enum class Received : uint8_t {
    kRefused,   ///< own echo (not counted) or refused (counted by reason): `out` is unusable
    kMember,    ///< from a member, fresh: act on it
    kStranger,  ///< verified and for us, but the sender is no member: admit() it or refuse() it
  };
  /// Checks and decodes one received datagram into `out` (views into `data`).
  Received receive(uint32_t src_ip, uint16_t src_port, const uint8_t* data, size_t size_bytes, wire::Message& out);
  /// A stranger's datagram (`h`) admitted `m`: its slot's window starts there, and it is counted
  /// as accepted.
  void admit(const Member& m, const wire::Header& h);
  /// A stranger's datagram that admitted nobody: counted under `reason`.
  void refuse(wire::DecodeError reason);

  /// Clears the replay window of a forgotten member's slot, before the slot is reused.
  void forget(const Member& m) { replay_[slot_of(m)].clear(); }
  /// The replay window of a member's slot.
  const ReplayWindow& replay_window(const Member& m) const { return replay_[slot_of(m)]; }

 private:
  /// ip:port is a member's address in the table (it proved membership, no credit needed).
  bool is_member_address(uint32_t ip, uint16_t port) const;

  NodeContext& ctx_;
  UdpPort& udp_;
  DatagramStats& stats_;
  HmacKey key_;
  HmacKey accept_key_;
  size_t slot_of(const Member& m) const;
  /// Sends tx_[0, size_bytes) to ip:port (0 = broadcast), within the anti-amplification credit.
  bool transmit(uint32_t ip, uint16_t port, size_t size_bytes);
  void note_v1_peer(uint32_t src_ip);
  void count_accepted(wire::MessageType type);

  DatagramLimiter limiter_;
  AmplificationGuard guard_;
  std::array<ReplayWindow, MemberTable::capacity()> replay_{};  // [MemberTable::slot_of(member)]
  uint32_t seq_ = 0;
  size_t last_broadcast_bytes_ = 0;  // tx_ holds a broadcast of this size (0: it does not)
  uint32_t v1_peers_[4] = {};  // addresses already logged as speaking v1
  uint8_t tx_[SPORE_MAX_DATAGRAM_BYTES] = {};  // encode buffer (send() is not re-entered)
};

}  // namespace spore
