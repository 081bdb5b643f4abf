// SWIM probing (docs/protocol.md §11.2, §11.3, §11.5): a PING per heartbeat to the next member in turn
// (latency), a PING to a member silent for suspect_after_ms, PING_REQ through k helpers when it
// goes unanswered, suspicion when that round does too; and the helper's side (relays). Part of
// Membership: one concern per file, as memberlist splits its Memberlist (state.go, net.go, ...).
#include "spore/cluster/membership.h"

namespace spore {

void Membership::handle_ping(const wire::Message& msg, uint32_t now_ms) {
  heard_from(msg.header, now_ms);
  apply_gossip(msg.ping.updates, now_ms);  // first: a refutation raises the incarnation the ACK carries
  const Member* prober = ctx_.members().find(msg.header.sender_id);
  if (msg.ping.target_id != ctx_.self().node_id || prober == nullptr) {
    ++stats_.ignored;  // the address now belongs to someone else: let the prober time out
    return;
  }
  wire::Message ack;
  ack.header.type = wire::MessageType::kAck;
  ack.ack.probe_id = msg.ping.probe_id;
  ack.ack.timestamp_ms = msg.ping.timestamp_ms;
  send_to(*prober, ack);
}

void Membership::handle_ack(const wire::Message& msg, uint32_t now_ms) {
  const wire::Ack& ack = msg.ack;
  for (Relay& r : relays_) {
    if (r.our_probe_id != 0 && r.our_probe_id == ack.probe_id) {
      wire::Message relayed;
      relayed.header.type = wire::MessageType::kAck;
      relayed.ack.probe_id = r.their_probe_id;
      relayed.ack.timestamp_ms = r.their_timestamp_ms;
      const Member* requester = ctx_.members().find(r.requester_id);
      r = Relay{};
      if (requester != nullptr) send_to(*requester, relayed);
      return;
    }
  }
  for (size_t slot = 0; slot < peers_.size(); ++slot) {
    Peer& peer = peers_[slot];
    if (peer.probe_phase == kPhaseNone || peer.probe_id != ack.probe_id) continue;
    Member* m = ctx_.members().at_slot(slot);
    peer.probe_phase = kPhaseNone;
    peer.probe_id = 0;
    if (m == nullptr) return;
    if (msg.header.sender_id == m->node_id) {
      // Our own clock echoed: a round trip without synchronised clocks.
      ctx_.members().set_latency(m->node_id, elapsed_ms(now_ms, ack.timestamp_ms));
    } else {
      ctx_.members().touch(m->node_id, m->incarnation, now_ms);  // relayed: alive, seen by a helper
    }
    m->suspected = false;
    return;
  }
  ++stats_.ignored;
}

void Membership::handle_ping_req(const wire::Message& msg, uint32_t now_ms) {
  heard_from(msg.header, now_ms);
  apply_gossip(msg.ping_req.updates, now_ms);
  const wire::PingReq& pr = msg.ping_req;
  const Member* requester = ctx_.members().find(msg.header.sender_id);
  if (requester == nullptr) return;
  if (pr.target_id == ctx_.self().node_id) {
    // Asked to probe ourselves: the requester evidently reaches us, so answer it directly.
    wire::Message ack;
    ack.header.type = wire::MessageType::kAck;
    ack.ack.probe_id = pr.probe_id;
    ack.ack.timestamp_ms = pr.timestamp_ms;
    send_to(*requester, ack);
    return;
  }
  // Only a current member is probed, and at its address in the table: the request's ip and port
  // are never used, so no one can aim this node's PINGs at an address of their choosing.
  const Member* target = ctx_.members().find(pr.target_id);
  Relay* slot = nullptr;
  for (Relay& r : relays_) {
    if (r.our_probe_id == 0) {
      slot = &r;
      break;
    }
  }
  if (slot == nullptr || target == nullptr || target->left) {
    ++stats_.ignored;
    return;
  }
  slot->our_probe_id = next_probe_id();
  slot->their_probe_id = pr.probe_id;
  slot->their_timestamp_ms = pr.timestamp_ms;
  slot->requester_id = requester->node_id;
  slot->expires_ms = now_ms + 2 * ctx_.config().probe_timeout_ms;
  wire::Message ping;
  ping.header.type = wire::MessageType::kPing;
  ping.ping.target_id = pr.target_id;
  ping.ping.probe_id = slot->our_probe_id;
  ping.ping.timestamp_ms = now_ms;
  send(target->ip, target->udp_port_or(ctx_.config().udp_port), pr.target_id, ping);
}

void Membership::probe_next_for_latency(uint32_t now_ms) {
  for (size_t i = 0; i < peers_.size(); ++i) {
    const size_t idx = (latency_cursor_ + i) % peers_.size();
    Peer& peer = peers_[idx];
    if (peer.probe_phase != kPhaseNone) continue;
    const Member* m = ctx_.members().at_slot(idx);
    if (m == nullptr || m->status != MemberStatus::kActive || m->left) continue;
    latency_cursor_ = static_cast<uint8_t>((idx + 1) % peers_.size());
    start_probe(peer, *m, now_ms);
    return;
  }
}

void Membership::start_probe(Peer& peer, const Member& m, uint32_t now_ms) {
  peer.probe_id = next_probe_id();
  peer.probe_phase = kPhaseDirect;
  peer.probe_sent_ms = now_ms;
  ++stats_.probes_direct;
  send_ping(m, peer.probe_id, now_ms);
}

void Membership::start_indirect(Peer& peer, const Member& m, uint32_t now_ms) {
  peer.probe_phase = kPhaseIndirect;
  peer.probe_sent_ms = now_ms;
  ++stats_.probes_indirect;
  const uint16_t target_port = m.udp_port_or(ctx_.config().udp_port);
  // Helpers: k distinct ACTIVE, unsuspected members other than the target, chosen at random
  // (partial Fisher-Yates over candidate slot indexes).
  uint8_t candidates[SPORE_MAX_MEMBERS];
  size_t n = 0;
  for (size_t i = 0; i < peers_.size(); ++i) {
    const Member* h = ctx_.members().at_slot(i);
    if (h == nullptr || h == &m || h->status != MemberStatus::kActive || h->left || h->suspected) continue;
    candidates[n++] = static_cast<uint8_t>(i);
  }
  const size_t k = ctx_.config().indirect_probes < n ? ctx_.config().indirect_probes : n;
  for (size_t i = 0; i < k; ++i) {
    const size_t j = i + random_below(static_cast<uint32_t>(n - i));
    const uint8_t tmp = candidates[i];
    candidates[i] = candidates[j];
    candidates[j] = tmp;
    const Member* helper = ctx_.members().at_slot(candidates[i]);
    wire::Message req;
    req.header.type = wire::MessageType::kPingReq;
    req.ping_req.probe_id = peer.probe_id;
    req.ping_req.timestamp_ms = now_ms;
    req.ping_req.target_id = m.node_id;
    req.ping_req.target_ip = m.ip;
    req.ping_req.target_udp_port = target_port;
    send_to(*helper, req);
  }
  // And once more directly, with the same probe id: the first PING or its ACK may just be lost.
  send_ping(m, peer.probe_id, now_ms);
}

void Membership::send_ping(const Member& m, uint32_t probe_id, uint32_t now_ms) {
  wire::Message ping;
  ping.header.type = wire::MessageType::kPing;
  ping.ping.target_id = m.node_id;
  ping.ping.probe_id = probe_id;
  ping.ping.timestamp_ms = now_ms;
  // A suspect hears of its suspicion from the prober itself, and refutes by broadcast: first-hand
  // evidence for every observer at once. In digest mode the heartbeats that would carry the
  // suspicion go to one member each, and the queue's few copies go to PING_REQ helpers, who drop
  // it (loss30_fast_20_digest: observers went INACTIVE while their PINGs reached the suspect).
  wire::GossipEntry suspicion;
  if (m.suspected && digest_mode()) {
    suspicion.node_id = m.node_id;
    suspicion.incarnation = m.incarnation;
    suspicion.ip = m.ip;
    suspicion.udp_port = m.udp_port_or(ctx_.config().udp_port);
    suspicion.http_port = m.http_port;
    suspicion.state = wire::MemberState::kSuspect;
    ping.ping.updates = wire::GossipList::from_array(&suspicion, 1);
  }
  send_to(m, ping);
}

void Membership::run_probes(uint32_t now_ms) {
  const Config& cfg = ctx_.config();
  for (size_t slot = 0; slot < peers_.size(); ++slot) {
    Member* m = ctx_.members().at_slot(slot);
    if (m == nullptr) continue;
    Peer& peer = peers_[slot];
    if (m->status != MemberStatus::kActive || m->left) {
      // INACTIVE members are not probed: their own heartbeat brings them back.
      peer.probe_phase = kPhaseNone;
      peer.probe_id = 0;
      continue;
    }
    const uint32_t silent_ms = elapsed_ms(now_ms, m->last_seen_ms);
    const bool silent = silent_ms >= cfg.suspect_after_ms;
    const bool timed_out = elapsed_ms(now_ms, peer.probe_sent_ms) >= cfg.probe_timeout_ms;
    if (peer.probe_phase == kPhaseDirect && timed_out) {
      if (silent) {
        start_indirect(peer, *m, now_ms);
      } else {
        peer.probe_phase = kPhaseNone;  // a lost latency probe; its heartbeats say it is fine
        peer.probe_id = 0;
      }
    } else if (peer.probe_phase == kPhaseIndirect && timed_out) {
      peer.probe_phase = kPhaseNone;
      peer.probe_id = 0;
      ++stats_.suspicions;
      if (!m->suspected) {
        m->suspected = true;
        queue_gossip(*m, wire::MemberState::kSuspect);  // so it can refute if it is alive
      }
    } else if (peer.probe_phase == kPhaseNone && silent) {
      start_probe(peer, *m, now_ms);
    }
  }
}

uint32_t Membership::next_probe_id() {
  if (++probe_counter_ == 0) ++probe_counter_;  // 0 means "none"
  return probe_counter_;
}

}  // namespace spore
