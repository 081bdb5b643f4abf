#include "spore/cluster/datagram_channel.h"

#include "spore/node/node_context.h"

namespace spore {

bool DatagramChannel::send(uint32_t ip, uint16_t port, uint32_t dest_id, wire::Message& msg) {
  if (seq_ == UINT32_MAX) {
    // The sequence must never wrap within an incarnation (docs/protocol.md §7).
    ctx_.set_incarnation(ctx_.self().incarnation + 1);
    seq_ = 0;
  }
  msg.header.sender_id = ctx_.self().node_id;
  msg.header.incarnation = ctx_.self().incarnation;
  msg.header.seq = seq_++;
  msg.header.dest_id = dest_id;
  const wire::EncodeResult r = wire::encode(msg, key_, tx_, sizeof tx_);
  last_broadcast_bytes_ = 0;
  if (!r.ok()) {
    ++stats_.send_failures;
    return false;
  }
  if (!transmit(ip, port, r.size_bytes)) return false;
  if (ip == 0) last_broadcast_bytes_ = r.size_bytes;
  return true;
}

bool DatagramChannel::resend_broadcast(uint32_t ip, uint16_t port) {
  return last_broadcast_bytes_ != 0 && ip != 0 && transmit(ip, port, last_broadcast_bytes_);
}

bool DatagramChannel::transmit(uint32_t ip, uint16_t port, size_t size_bytes) {
  if (ip != 0 && !is_member_address(ip, port) && !guard_.may_send(ip, port, size_bytes, ctx_.clock().now_ms())) {
    ++stats_.amplification_refused;
    stats_.amplification_refused_bytes += static_cast<uint32_t>(size_bytes);
    return false;
  }
  if (!(ip == 0 ? udp_.broadcast(port, tx_, size_bytes) : udp_.send_to(ip, port, tx_, size_bytes))) {
    ++stats_.send_failures;
    return false;
  }
  ++stats_.datagrams_sent;
  stats_.bytes_sent += static_cast<uint32_t>(size_bytes);
  const size_t type = tx_[3];  // the header's type byte (docs/protocol.md §3)
  if (type < DatagramStats::kTypeSlots) ++stats_.sent_by_type[type];
  return true;
}

bool DatagramChannel::is_member_address(uint32_t ip, uint16_t port) const {
  return ctx_.members().find_at(ip, port, ctx_.config().udp_port) != nullptr;
}

DatagramChannel::Received DatagramChannel::receive(uint32_t src_ip, uint16_t src_port, const uint8_t* data,
                                                   size_t size_bytes, wire::Message& out) {
  // Our own broadcast echoed back: not news, and not worth a replay check.
  const uint32_t sender = wire::peek_sender(data, size_bytes);
  if (sender == ctx_.self().node_id) return Received::kRefused;
  ++stats_.datagrams_received;
  stats_.bytes_received += static_cast<uint32_t>(size_bytes);
  const uint32_t now_ms = ctx_.clock().now_ms();
  if (!is_member_address(src_ip, src_port)) guard_.on_received(src_ip, src_port, size_bytes, now_ms);
  // Only a verified datagram counts against a member's slot, so a datagram claiming a member is
  // checked against the slot before its tag (free) and charged after; one claiming no member
  // takes from the shared budget before anything else is spent on it.
  const Member* claimed = ctx_.members().find(sender);
  const size_t slot = claimed != nullptr ? ctx_.members().slot_of(*claimed) : SIZE_MAX;
  if (claimed != nullptr ? limiter_.member_exhausted(slot, now_ms) : !limiter_.take_unverified(now_ms)) {
    ++(claimed != nullptr ? stats_.rate_limited_member : stats_.rate_limited_unverified);
    ++stats_.rejected_total;
    return Received::kRefused;
  }
  wire::DecodeError err = wire::decode(data, size_bytes, key_, out);
  // A refused tag changed nothing, so the rotation's second key gets the same datagram afresh.
  bool accept_key = false;
  if ((err == wire::DecodeError::kBadTag || err == wire::DecodeError::kUnexpectedAuth) && !accept_key_.empty()) {
    err = wire::decode(data, size_bytes, accept_key_, out);
    accept_key = err == wire::DecodeError::kOk;
  }
  const wire::Header& h = out.header;
  if (err == wire::DecodeError::kOk && h.dest_id != 0 && h.dest_id != ctx_.self().node_id)
    err = wire::DecodeError::kWrongDestination;  // sent to another node: replayed here
  // An ANNOUNCE names the address it speaks for, and must come from it: the challenge of an
  // admission goes to the source, so a node could otherwise answer for an address it does not
  // own (a member "at" a victim, which the anti-amplification credit would then exempt), and a
  // replay from elsewhere could move a member.
  // A DISCOVER names its asker's address too (under the tag): a captured request replayed from a
  // spoofed source draws no answer (docs/protocol.md §4.13).
  const bool announce = h.type == wire::MessageType::kAnnounce;
  if (err == wire::DecodeError::kOk && (announce || h.type == wire::MessageType::kDiscover) &&
      ((announce ? out.announce.ip : out.discover.ip) != src_ip ||
       (announce ? out.announce.udp_port : out.discover.udp_port) != src_port))
    err = wire::DecodeError::kAddressMismatch;
  // The decoded sender is the one peek_sender() read from the same bytes: `claimed` and `slot`.
  ReplayWindow* window = err == wire::DecodeError::kOk && claimed != nullptr ? &replay_[slot] : nullptr;
  if (window != nullptr) {
    const ReplayVerdict v = window->check(h.incarnation, h.seq);
    if (v == ReplayVerdict::kStale) err = wire::DecodeError::kStale;
    if (v == ReplayVerdict::kReplayed) err = wire::DecodeError::kReplayed;
  }
  if (err != wire::DecodeError::kOk) {
    if (err == wire::DecodeError::kBadVersion && data[2] == 1) note_v1_peer(src_ip);
    refuse(err);
    return Received::kRefused;
  }
  if (accept_key) ++stats_.accepted_with_accept_key;
  if (window == nullptr) return Received::kStranger;
  window->commit(h.incarnation, h.seq);
  limiter_.count_member(slot);
  count_accepted(h.type);
  return Received::kMember;
}

void DatagramChannel::admit(const Member& m, const wire::Header& h) {
  replay_[slot_of(m)].start(h.incarnation, h.seq, true);
  count_accepted(h.type);
}

void DatagramChannel::refuse(wire::DecodeError reason) {
  ++stats_.rejected[static_cast<size_t>(reason)];
  ++stats_.rejected_total;
}

void DatagramChannel::note_v1_peer(uint32_t src_ip) {
  // Said once per address, for the first few: a mixed-version LAN is a setup error worth one line,
  // not a log flood (every refusal is counted as bad_version anyway).
  for (uint32_t& ip : v1_peers_) {
    if (ip == src_ip) return;
    if (ip != 0) continue;
    ip = src_ip;
    char text[16];
    format_ipv4(src_ip, text, sizeof text);
    SPORE_LOG(ctx_, LogLevel::kWarn, "peer %s speaks protocol v1, this node speaks v2", text);
    return;
  }
}

size_t DatagramChannel::slot_of(const Member& m) const { return ctx_.members().slot_of(m); }

void DatagramChannel::count_accepted(wire::MessageType type) {
  const size_t t = static_cast<size_t>(type);
  if (t < DatagramStats::kTypeSlots) ++stats_.received_by_type[t];
}

}  // namespace spore
