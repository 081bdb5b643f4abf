// Admission (docs/protocol.md §11.3): a node that is not in the table becomes a member only by an
// ANNOUNCE addressed to this node that echoes one of its live cookies; every other datagram of a
// stranger is refused and answered by a challenge. Cookies, challenges and the queue of delayed
// ANNOUNCE answers. Part of Membership, like prober.cpp and info_sync.cpp.
#include "spore/cluster/membership.h"

#include "spore/base/bytes.h"

namespace spore {

static_assert(SPORE_MAX_DISCOVER_ANSWERS_PER_S < 255, "Membership counts DISCOVER answers in a uint8_t");

void Membership::handle_stranger(uint32_t src_ip, uint16_t src_port, const wire::Message& msg, uint32_t now_ms) {
  const bool announce = msg.header.type == wire::MessageType::kAnnounce;
  if (announce && msg.header.dest_id == ctx_.self().node_id &&
      cookie_live(msg.announce.echo, now_ms, msg.header.sender_id, src_ip, src_port)) {
    handle_announce(msg, now_ms);  // it answered our challenge: admitted
    return;
  }
  channel_.refuse(wire::DecodeError::kUnknownSender);
  // Someone this node does not know, who likely does not know it either (a handshake leg was
  // lost): the join phase goes on (run_heartbeat()), each join ANNOUNCE drawing a fresh padded
  // challenge from whoever still lacks this node. Without it such a pair waited for each other's
  // heartbeats (2.5 s apart, two of them to give the credit one challenge needs) and for
  // gossip, which issue 19's suppression thinned: joins under 30 % loss took seconds longer.
  challenged_ = true;
  if (announce && msg.announce.reply_requested) defer_first_join(now_ms);  // another node boots too
  // To the packet source: the only address a stranger has shown (anti-amplification bounds it).
  const uint64_t echo = announce ? msg.announce.cookie : 0;
  challenge(msg.header.sender_id, src_ip, src_port, echo, announce && msg.announce.reply_requested,
            announce && msg.announce.padded, now_ms);
}

void Membership::answer_discover(uint32_t src_ip, uint16_t src_port, uint32_t asker_id, uint32_t now_ms) {
  // "Who is there?" (docs/protocol.md §4.13): a plain ANNOUNCE (no cookie: nothing to echo, so the
  // asker never becomes a member) to the packet source, which the request named under its tag. The
  // jitter spreads a cluster's answers; the credit the request gave covers the answer (its body is
  // as long as the largest ANNOUNCE), and nothing about the asker is kept beyond the pending answer.
  // Every node answers a broadcast, so a per-node cap bounds the cluster's answers to N x the cap
  // per second; answers take at most the back half of the queue, so join replies (which take the
  // first free slot) keep theirs and their jitter.
  if (elapsed_ms(now_ms, discover_window_ms_) >= 1000) {
    discover_window_ms_ = now_ms;
    discover_answers_ = 0;
  }
  if (discover_answers_ >= SPORE_MAX_DISCOVER_ANSWERS_PER_S ||
      !queue_reply(asker_id, src_ip, src_port, 0, false, false,
                   now_ms + random_below(ctx_.config().discovery_interval_ms / 2 + 1), replies_.size() / 2)) {
    channel_.refuse(wire::DecodeError::kDiscoverLimited);
    return;
  }
  ++discover_answers_;
}

bool Membership::queue_reply(uint32_t dest_id, uint32_t ip, uint16_t port, uint64_t echo, bool with_cookie, bool padded,
                             uint32_t due_ms, size_t first) {
  PendingReply asked{echo, ip, due_ms, dest_id, port, with_cookie, padded};
  PendingReply* slot = nullptr;
  for (size_t i = first; i < replies_.size(); ++i) {
    PendingReply& r = replies_[i];
    // One answer per node and address: a replay of a node's datagram from elsewhere gets its own
    // entry (bounded by the credit), never the real node's answer or echo.
    if (r.ip == ip && r.port == port && r.dest_id == dest_id) {
      if (echo == 0) asked.echo = r.echo;  // one answer at a time, carrying the newest cookie to echo
      asked.with_cookie = r.with_cookie || with_cookie;
      asked.padded = r.padded || padded;
      // The earlier of the two: an echo due now does not wait out a join answer's jitter.
      if (deadline_reached(due_ms, r.due_ms)) asked.due_ms = r.due_ms;
      slot = &r;
      break;
    }
    if (r.ip == 0 && slot == nullptr) slot = &r;
  }
  if (slot == nullptr && first > 0) return false;  // a DISCOVER's share is taken
  if (slot == nullptr || asked.due_ms == ctx_.clock().now_ms()) {
    // Due now, or no room to wait: an answer dropped here would cost the asker a retry.
    if (slot != nullptr) *slot = PendingReply{};
    return send_announce(ip, port, dest_id, false, asked.echo, asked.with_cookie, asked.padded);
  }
  *slot = asked;
  tick_task_.run_by(asked.due_ms);  // sent when due, not at the next tick (a join's answers are ms apart)
  return true;
}

void Membership::send_due_replies(uint32_t now_ms) {
  for (PendingReply& r : replies_) {
    if (r.ip != 0 && deadline_reached(now_ms, r.due_ms)) {
      const PendingReply due = r;
      r = PendingReply{};
      send_announce(due.ip, due.port, due.dest_id, false, due.echo, due.with_cookie, due.padded);
    } else if (r.ip != 0) {
      tick_task_.run_by(r.due_ms);  // the next one due, if before the tick's next run
    }
  }
}

uint32_t Membership::join_answer_delay_ms() {
  // Joining (a power-on, where every node is a newcomer and knows few of the others): a random
  // delay over the half interval, as many answers go to each of many joiners. Settled: one slot
  // of join_answer_spacing_ms per ACTIVE member, taken in node id order, so the joiner receives
  // one answer per slot (the members agree on the order: they know the same members), and a
  // join takes (N - 1) slots; past the half interval the slots wrap (two answers per slot).
  const Config& cfg = ctx_.config();
  const uint32_t spread_ms = cfg.discovery_interval_ms / 2;
  if (join_announces_left_ != 0) return random_below(spread_ms + 1);
  uint32_t rank = 0;
  const uint32_t self_id = ctx_.self().node_id;
  ctx_.members().for_each([&](const Member& m) {
    if (m.status == MemberStatus::kActive && m.node_id < self_id) ++rank;
  });
  return (rank * cfg.join_answer_spacing_ms) % (spread_ms + 1);
}

void Membership::defer_first_join(uint32_t now_ms) {
  if (join_announces_sent_ != 0 || join_deferred_ || left_) return;
  join_deferred_ = true;
  heartbeat_task_.run_at(now_ms + random_below(ctx_.config().start_jitter_max_ms + 1));
}

void Membership::challenge(uint32_t node_id, uint32_t ip, uint16_t port, uint64_t echo, bool jitter, bool padded,
                           uint32_t now_ms) {
  if (ip == 0 || node_id == 0) return;
  // A full table could not admit it; but a cookie is still echoed, so that it can admit us.
  if (echo == 0 && ctx_.members().count(MemberStatus::kActive) >= MemberTable::capacity()) return;
  // One per stranger per discovery interval, unless it brings a cookie to echo (the answer it
  // needs to admit us) or is padded (a join, paced by the joiner, whose credit covers the
  // answer): a lost challenge is retried soon, so joins under loss stay fast, and the
  // anti-amplification credit bounds what strangers can draw in bytes.
  Challenge* slot = &challenges_[0];
  for (Challenge& c : challenges_) {
    if (c.node_id == node_id) {
      if (echo == 0 && !padded && elapsed_ms(now_ms, c.sent_ms) < ctx_.config().discovery_interval_ms) return;
      slot = &c;
      break;
    }
    if (elapsed_ms(now_ms, c.sent_ms) > elapsed_ms(now_ms, slot->sent_ms)) slot = &c;
  }
  slot->node_id = node_id;
  slot->sent_ms = now_ms;
  const uint32_t delay_ms = jitter ? join_answer_delay_ms() : 0;
  // Not sent (no anti-amplification credit yet): the stranger's next datagram, which adds credit,
  // gets its challenge at once instead of a discovery interval later.
  if (!queue_reply(node_id, ip, port != 0 ? port : ctx_.config().udp_port, echo, true, padded, now_ms + delay_ms))
    slot->node_id = 0;
}

uint64_t Membership::cookie(uint32_t now_ms, uint32_t node_id, uint32_t ip, uint16_t port) const {
  return cookie_at(now_ms / kCookieEpochMs, node_id, ip, port);
}

uint64_t Membership::cookie_at(uint32_t epoch, uint32_t node_id, uint32_t ip, uint16_t port) const {
  // First 8 bytes of HMAC-SHA256(secret, "spore-cookie" || epoch || node id || ip || port), all
  // big-endian: one HMAC per challenge sent, two per echo checked (current and previous epoch).
  uint8_t in[12 + 4 + 4 + 4 + 2] = {'s', 'p', 'o', 'r', 'e', '-', 'c', 'o', 'o', 'k', 'i', 'e'};
  store_be32(epoch, in + 12);
  store_be32(node_id, in + 16);
  store_be32(ip, in + 20);
  in[24] = static_cast<uint8_t>(port >> 8);
  in[25] = static_cast<uint8_t>(port);
  uint8_t out[8];
  hmac_sha256(cookie_key_, in, sizeof in, out, sizeof out);
  const uint64_t c = (uint64_t{load_be32(out)} << 32) | load_be32(out + 4);
  return c != 0 ? c : 1;  // 0 means "no cookie"
}

bool Membership::cookie_live(uint64_t c, uint32_t now_ms, uint32_t node_id, uint32_t ip, uint16_t port) const {
  const uint32_t epoch = now_ms / kCookieEpochMs;
  return c != 0 && (c == cookie_at(epoch, node_id, ip, port) || c == cookie_at(epoch - 1, node_id, ip, port));
}

}  // namespace spore
