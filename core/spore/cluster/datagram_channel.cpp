#include "spore/cluster/datagram_channel.h"

#include "spore/node/node_context.h"

namespace spore {

bool DatagramChannel::send(uint32_t ip, uint16_t port, wire::Message& msg) {
  if (seq_ == UINT32_MAX) {
    // The sequence must never wrap within an incarnation (docs/protocol.md §7).
    ctx_.set_incarnation(ctx_.self().incarnation + 1);
    seq_ = 0;
  }
  msg.header.sender_id = ctx_.self().node_id;
  msg.header.incarnation = ctx_.self().incarnation;
  msg.header.seq = seq_++;
  const wire::EncodeResult r = wire::encode(msg, key_, tx_, sizeof tx_);
  if (r.ok() && ip != 0 && !is_member_address(ip, port) &&
      !guard_.may_send(ip, port, r.size_bytes, ctx_.clock().now_ms())) {
    ++stats_.amplification_refused;
    stats_.amplification_refused_bytes += static_cast<uint32_t>(r.size_bytes);
    return false;
  }
  const bool ok = r.ok() && (ip == 0 ? udp_.broadcast(port, tx_, r.size_bytes)
                                     : udp_.send_to(ip, port, tx_, r.size_bytes));
  if (!ok) {
    ++stats_.send_failures;
    return false;
  }
  ++stats_.datagrams_sent;
  stats_.bytes_sent += static_cast<uint32_t>(r.size_bytes);
  const size_t type = static_cast<size_t>(msg.header.type);
  if (type < DatagramStats::kTypeSlots) ++stats_.sent_by_type[type];
  return true;
}

bool DatagramChannel::is_member_address(uint32_t ip, uint16_t port) const {
  bool found = false;
  const uint16_t default_port = ctx_.config().udp_port;
  ctx_.members().for_each(
      [&](const Member& m) { found = found || (m.ip == ip && (m.udp_port != 0 ? m.udp_port : default_port) == port); });
  return found;
}

bool DatagramChannel::receive(uint32_t src_ip, uint16_t src_port, const uint8_t* data, size_t size_bytes,
                              wire::Message& out) {
  // Our own broadcast echoed back: not news, and not worth a replay-window slot.
  const uint32_t sender = wire::peek_sender(data, size_bytes);
  if (sender == ctx_.self().node_id) return false;
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
    return false;
  }
  wire::DecodeError err = wire::decode(data, size_bytes, key_, &replay_, out);
  // A refused tag changed nothing (the window moves only for accepted datagrams), so the
  // rotation's second key gets the same datagram afresh.
  if ((err == wire::DecodeError::kBadTag || err == wire::DecodeError::kUnexpectedAuth) && !accept_key_.empty()) {
    err = wire::decode(data, size_bytes, accept_key_, &replay_, out);
    if (err == wire::DecodeError::kOk) ++stats_.accepted_with_accept_key;
  }
  if (err != wire::DecodeError::kOk) {
    ++stats_.rejected[static_cast<size_t>(err)];
    ++stats_.rejected_total;
    return false;
  }
  limiter_.count_member(slot);  // SIZE_MAX (claimed no member): nothing
  const size_t type = static_cast<size_t>(out.header.type);
  if (type < DatagramStats::kTypeSlots) ++stats_.received_by_type[type];
  return true;
}

}  // namespace spore
