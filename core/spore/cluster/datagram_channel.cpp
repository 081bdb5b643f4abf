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

bool DatagramChannel::receive(uint32_t src_ip, const uint8_t* data, size_t size_bytes, wire::Message& out) {
  // Our own broadcast echoed back: not news, and not worth a replay-window slot.
  if (wire::peek_sender(data, size_bytes) == ctx_.self().node_id) return false;
  ++stats_.datagrams_received;
  stats_.bytes_received += static_cast<uint32_t>(size_bytes);
  if (!rate_limit_.allow(src_ip, ctx_.clock().now_ms())) {
    ++stats_.rate_limited;
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
  const size_t type = static_cast<size_t>(out.header.type);
  if (type < DatagramStats::kTypeSlots) ++stats_.received_by_type[type];
  return true;
}

}  // namespace spore
