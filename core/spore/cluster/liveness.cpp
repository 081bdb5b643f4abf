// Liveness evidence that aggregates (Config::liveness kDigest; docs/protocol.md §11.12). Instead
// of every node broadcasting its heartbeat to every node (received datagrams linear in N), each
// node sends its heartbeat to one member, the chain's next DIGEST sender, which broadcasts one
// DIGEST vouching for every member it has evidence of (first or second hand, with its age) and
// names the next sender. A node thus receives about one DIGEST and one heartbeat per period
// whatever N is. Ages are honest (the evidence's time, not the DIGEST's), so a crash is INACTIVE at
// every observer inactive_after_ms after its last heartbeat, as with broadcasts. Whenever no chain
// is heard the node broadcasts its heartbeat as in kBroadcast mode, so the mode degrades to the
// broadcast design instead of to silence. Part of Membership: one concern per file.
#include "spore/cluster/membership.h"

namespace spore {

namespace {

// Serial-number order (RFC 1982) for rounds: a 32-bit counter that may wrap.
bool round_newer(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) > 0; }

// DIGEST_REQs after one DIGEST heard: one per half period, until the chain counts as over (3 periods).
constexpr uint8_t kMaxPulls = 4;

// One datagram's worth: the ESP8266 builds keep this small (at most SPORE_MAX_MEMBERS - 1 peers).
constexpr size_t kDigestPage =
    SPORE_MAX_MEMBERS < wire::kMaxDigestEntries ? SPORE_MAX_MEMBERS : wire::kMaxDigestEntries;

}  // namespace

void Membership::handle_digest(const wire::Message& msg, uint32_t now_ms) {
  const wire::Digest& d = msg.digest;
  // Ages count from when a DIGEST was sent, but are applied from when it arrives. One more than a
  // round older than the newest this node has heard (a replay by someone who captured it, or a
  // straggler) would make old evidence look fresh: its entries are history and count for nothing.
  // One round behind still counts: a member that missed the newest round answers a DIGEST_REQ
  // with its own round, and its evidence is fresh (a stricter rule raised false INACTIVE at 30 %
  // loss). Once no DIGEST has come for 3 periods the chain is over, and a new one may start lower.
  const bool current = elapsed_ms(now_ms, digest_round_ms_) < 3 * ctx_.config().heartbeat_interval_ms;
  if (digest_round_known_ && current && round_newer(digest_round_, d.round) && digest_round_ - d.round > 1) {
    ++stats_.digests_stale;
    return;
  }
  if (!digest_round_known_ || !current || round_newer(d.round, digest_round_)) {
    digest_round_known_ = true;
    digest_round_ = d.round;
    digest_round_ms_ = now_ms;
  }
  Evidence ev;
  if (msg.header.type == wire::MessageType::kRosterDigest) {
    // Ages by position in a roster this node must hold too. Any other roster (a member joined or
    // was forgotten here or there first) gives nothing: the sender is asked for its DIGEST at once
    // (explicit ids, unicast), instead of a period of ageing evidence and probes. Not followed,
    // so the answer is, and judges this round's heartbeat. At most one such request a period: in
    // open mode a forged roster draws what a DIGEST_REQ forged in each member's name would, but
    // from one broadcast frame (docs/security.md, A1).
    if (!take_roster(d, now_ms, ev)) {
      ask_for_ids(msg.header.sender_id, now_ms);
      return;
    }
  } else {
    for (size_t i = 0; i < d.entries.size(); ++i)
      take_evidence(d.entries[i].node_id, uint32_t{d.entries[i].age} * d.age_unit_ms, now_ms, ev);
  }
  if (!digest_mode()) return;  // a kBroadcast node takes the evidence and follows no chain
  // The DIGEST brought back members this node had lost: a partition healed, and the other side
  // knows nothing of this node's chain. One heartbeat broadcast (at most one a period) tells it at
  // once that this node is alive, instead of at the next DIGEST of a chain that may not reach it.
  if (ev.recovered && elapsed_ms(now_ms, chain_.fallback_ms) >= ctx_.config().heartbeat_interval_ms) {
    chain_.fallback_ms = now_ms;
    broadcast_heartbeat();
  }
  // A node that just joined, and a DIGEST names members it does not know: their answers to its join
  // ANNOUNCE were lost, and their heartbeats, not broadcast in this mode, will not make it challenge
  // them. One more ANNOUNCE with reply requested asks them all again (one per heartbeat period, the
  // heartbeat task sends it, in the first 20 periods; a member that joins later reaches older nodes
  // by its own join and gossip). Not within kMaxJoinAnnounces: a join phase that used them up left
  // a half-open pair hearing each other only at DIGEST turns (power-on at 30 % loss, N=20: 22.4 s).
  if (ev.unknown && join_announces_left_ == 0 &&
      elapsed_ms(now_ms, begun_ms_) < 20 * ctx_.config().heartbeat_interval_ms)
    join_announces_left_ = 1;
  // This round's heartbeat went to the sender, yet its DIGEST (broadcast, or its answer to a
  // DIGEST_REQ) shows no evidence of this node as fresh as that heartbeat: it was lost. One
  // broadcast gives every member first-hand evidence instead. (With more than one page a node may
  // be listed on another page, so only a single page says it is missing.)
  if (chain_.heartbeat_to_id != 0 && chain_.heartbeat_to_id == msg.header.sender_id) {
    // (A roster lists every member it knows: not listed there is missing.)
    const bool lost = ev.listed ? ev.own_age_ms > elapsed_ms(now_ms, chain_.heartbeat_sent_ms) + d.age_unit_ms
                                : d.entries.size() < kDigestPage;
    chain_.heartbeat_to_id = 0;  // one verdict per heartbeat
    if (lost) {
      ++stats_.heartbeats_rebroadcast;
      broadcast_heartbeat();
    }
  }
  follow_chain(msg.header.sender_id, d, now_ms);
}

void Membership::ask_for_ids(uint32_t from, uint32_t now_ms) {
  ++stats_.rosters_mismatched;
  const Member* sender = ctx_.members().find(from);
  const uint32_t h = ctx_.config().heartbeat_interval_ms;
  // Only a sender the followed chain names (next, or backup after a lost round), or any while
  // no chain is followed: a roster forged in another member's name (open mode) would spend the
  // period's one request on a member that may never answer, and leave the true one unasked.
  const bool expected = !chain_.heard || elapsed_ms(now_ms, chain_.heard_ms) >= 3 * h ||
                        from == chain_.next_id || from == chain_.backup_id;
  // A node that follows no chain asks too (kBroadcast, a full table, an ESP8266 build, which
  // takes no roster): the DIGESTs are its evidence of the kDigest members, which do not
  // broadcast their heartbeats while a chain runs.
  if (sender != nullptr && expected &&
      (!chain_.roster_asked || elapsed_ms(now_ms, chain_.roster_asked_ms) >= h)) {
    chain_.roster_asked = true;
    chain_.roster_asked_ms = now_ms;
    wire::Message req;
    req.header.type = wire::MessageType::kDigestReq;
    send_to(*sender, req);
  }
}

void Membership::take_evidence(uint32_t node_id, uint32_t age_ms, uint32_t now_ms, Evidence& ev) {
  if (node_id == ctx_.self().node_id) {
    ev.listed = true;
    ev.own_age_ms = age_ms;
    return;
  }
  // Evidence, never admission: vouch() knows only members of this table, and not those that left.
  const Member* known = ctx_.members().find(node_id);
  const bool was_down = known != nullptr && known->status != MemberStatus::kActive;
  Member* m = ctx_.members().vouch(node_id, now_ms - age_ms, now_ms);
  if (m == nullptr) {
    ev.unknown = ev.unknown || (digest_mode() && known == nullptr);
    return;
  }
  ++stats_.vouched;
  ev.recovered = ev.recovered || (was_down && m->status == MemberStatus::kActive);
  alive_evidence(peer_of(*m), *m);
}

#if SPORE_DIGEST_LIVENESS

bool Membership::chain_live(uint32_t now_ms) const {
  return chain_.heard && elapsed_ms(now_ms, chain_.heard_ms) < ctx_.config().heartbeat_interval_ms * 3 / 2;
}

uint32_t Membership::ring_after(uint32_t id) const {
  // The ring in node id order: each node computes nearly the same successor from nearly the same
  // table, without agreeing on anything else. Only members seen running the chain are in it, so a
  // node that only broadcasts (a kBroadcast node, an ESP8266 build) is never named to send a DIGEST
  // it will not send; while none is known, every ACTIVE member is, so a chain can start.
  uint32_t best[2][2] = {};  // [chain members only?][above id, lowest]
  const auto consider = [&best, id](int set, uint32_t c) {
    if (c > id && (best[set][0] == 0 || c < best[set][0])) best[set][0] = c;
    if (best[set][1] == 0 || c < best[set][1]) best[set][1] = c;
  };
  bool chain_known = false;
  for (size_t i = 0; i < peers_.size(); ++i) {
    const Member* m = ctx_.members().at_slot(i);
    if (m == nullptr || m->status != MemberStatus::kActive || m->left || m->suspected) continue;
    consider(0, m->node_id);
    if (peers_[i].chain) {
      consider(1, m->node_id);
      chain_known = true;
    }
  }
  const int set = chain_known ? 1 : 0;
  consider(set, ctx_.self().node_id);
  return best[set][0] != 0 ? best[set][0] : best[set][1];
}

uint32_t Membership::announce_interval_ms() const {
  const Config& cfg = ctx_.config();
  if (!digest_mode()) return cfg.member_info_interval_ms;
  // The periodic ANNOUNCE refreshes free heap and repairs missed changes; every node hears every
  // one, so in digest mode its period grows with N and the cluster sends one per 4 periods.
  const uint64_t scaled = uint64_t{4} * (ctx_.members().count(MemberStatus::kActive) + 1) * cfg.heartbeat_interval_ms;
  if (scaled <= cfg.member_info_interval_ms) return cfg.member_info_interval_ms;
  return scaled > UINT32_MAX / 2 ? UINT32_MAX / 2 : static_cast<uint32_t>(scaled);
}

bool Membership::follow_chain(uint32_t sender_id, const wire::Digest& d, uint32_t now_ms) {
  const uint32_t h = ctx_.config().heartbeat_interval_ms;
  // Two chains (after a partition heals, or two nodes that both thought they were next) merge:
  // the higher round wins, at equal rounds the lower sender; a chain silent for 3 periods is over.
  const bool over = !chain_.heard || elapsed_ms(now_ms, chain_.heard_ms) >= 3 * h;
  const bool newer = round_newer(d.round, chain_.round) || (d.round == chain_.round && sender_id < chain_.sender_id);
  if (!over && !newer) return false;
  chain_.round = d.round;
  chain_.sender_id = sender_id;
  chain_.next_id = d.next_id;
  chain_.backup_id = d.backup_id;
  chain_.heard_ms = now_ms;
  chain_.heard = true;
  chain_.heartbeat_to_id = 0;
  chain_.pull_id = 0;
  chain_.pulls = 0;
  // Late in the round (0.65..0.85 of a period), so the evidence is fresh when the next DIGEST
  // carries it (0.15..0.35 periods old, under 1.5 periods, suspect_after_ms, by the DIGEST after).
  chain_.heartbeat_pending = d.next_id != 0 && d.next_id != ctx_.self().node_id;
  chain_.heartbeat_due_ms = now_ms + h * 13 / 20 + random_below(h / 5 + 1);
  chain_.start_delay_ms = random_below(h + 1);
  return true;
}

void Membership::run_liveness(uint32_t now_ms) {
  if (!digest_mode() || join_announces_left_ > 0) return;
  const uint32_t self = ctx_.self().node_id;
  const uint32_t h = ctx_.config().heartbeat_interval_ms;
  if (chain_.heartbeat_pending && deadline_reached(now_ms, chain_.heartbeat_due_ms)) {
    chain_.heartbeat_pending = false;
    const Member* next = ctx_.members().find(chain_.next_id);
    if (next != nullptr && gossip_.size() == 0) {
      wire::Message msg;
      msg.header.type = wire::MessageType::kGossip;
      send_to(*next, msg);
      chain_.heartbeat_to_id = next->node_id;
      chain_.heartbeat_sent_ms = now_ms;
    } else {
      broadcast_heartbeat();  // news must reach everyone, and an unknown next cannot relay
    }
  }
  const uint32_t silent_ms = elapsed_ms(now_ms, chain_.heard ? chain_.heard_ms : begun_ms_);
  if (chain_.heard && chain_.next_id == self && silent_ms >= h) {
    send_digest(now_ms);
    return;
  }
  if (chain_.heard && chain_.backup_id == self && silent_ms >= h * 3 / 2) {
    ++stats_.digests_as_backup;
    send_digest(now_ms);
    return;
  }
  // This round's DIGEST is late (lost on the way here, most likely): ask for it, so a lost
  // datagram does not age this node's evidence of every member by a whole period. Two members at
  // once (the sender and the backup, then on round the ring), since under loss either the request
  // or the answer may go missing too; again every half period. Any answer carries the chain as
  // its sender knows it, so this node is back in.
  if (chain_.heard && chain_.pulls < kMaxPulls && silent_ms >= h + h / 4 + chain_.pulls * (h / 2)) {
    for (int i = 0; i < 2; ++i) {
      chain_.pull_id = chain_.pulls == 0 ? (i == 0 ? chain_.next_id : chain_.backup_id) : ring_after(chain_.pull_id);
      const Member* asked = chain_.pull_id != self ? ctx_.members().find(chain_.pull_id) : nullptr;
      if (asked == nullptr) continue;
      wire::Message req;
      req.header.type = wire::MessageType::kDigestReq;
      send_to(*asked, req);
    }
    ++chain_.pulls;
  }
  // No chain (none yet, or its senders are gone): the lowest id starts one after 3 periods, the
  // others a random period later unless they hear one first.
  const uint32_t wait_ms = 3 * h + (ring_after(0) == self ? 0 : h + chain_.start_delay_ms);
  if (silent_ms >= wait_ms) {
    send_digest(now_ms);
    return;
  }
  // Meanwhile every heartbeat is a broadcast, as in kBroadcast mode: evidence never stops.
  if (!chain_live(now_ms) && elapsed_ms(now_ms, chain_.fallback_ms) >= h) {
    chain_.fallback_ms = now_ms;
    broadcast_heartbeat();
  }
}

void Membership::send_digest(uint32_t now_ms) {
  const uint32_t self = ctx_.self().node_id;
  wire::Digest d;
  d.next_id = ring_after(self);
  if (d.next_id == self) {
    chain_.heard_ms = now_ms;  // alone: nobody to tell; look again in a period
    return;
  }
  // After the chain was over, past every round this node heard, so no member takes it as history.
  d.round = (digest_round_known_ && round_newer(digest_round_, chain_.round) ? digest_round_ : chain_.round) + 1;
  d.backup_id = ring_after(d.next_id);
  send_digest_pages(0, ctx_.config().udp_port, 0, d, now_ms);
  ++stats_.digests_sent;
  digest_round_known_ = true;
  digest_round_ = d.round;
  digest_round_ms_ = now_ms;
  follow_chain(self, d, now_ms);
}

#if SPORE_ROSTER_DIGEST
size_t Membership::sorted_roster(uint32_t* ids) const {
  // Insertion sort on the stack: at most a few hundred ids, once a period (no allocation, no table
  // order to keep).
  size_t n = 0;
  const auto insert = [ids, &n](uint32_t id) {
    size_t i = n++;
    for (; i > 0 && ids[i - 1] > id; --i) ids[i] = ids[i - 1];
    ids[i] = id;
  };
  insert(ctx_.self().node_id);
  for (size_t i = 0; i < MemberTable::capacity(); ++i)
    if (const Member* m = ctx_.members().at_slot(i)) insert(m->node_id);
  return n;
}

bool Membership::take_roster(const wire::Digest& d, uint32_t now_ms, Evidence& ev) {
  uint32_t ids[SPORE_MAX_MEMBERS + 1];
  const size_t n = sorted_roster(ids);
  if (n != d.roster_size) return false;
  uint32_t hash = kFnv1aOffset;
  for (size_t i = 0; i < n; ++i) hash = wire::roster_hash_step(hash, ids[i]);
  if (hash != d.roster_hash) return false;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t age = d.roster_age(i);
    if (age != wire::kRosterNoEvidence) take_evidence(ids[i], uint32_t{age} * d.age_unit_ms, now_ms, ev);
  }
  return true;
}

bool Membership::send_roster_digest(wire::Digest& d, uint32_t now_ms) {
  // The whole table, ACTIVE or not, so that every member whose table holds the same ids computes
  // the same roster whatever each thinks of their health; only the ages say who is alive.
  uint32_t ids[SPORE_MAX_MEMBERS + 1];
  uint8_t ages[(SPORE_MAX_MEMBERS + 2) / 2] = {};
  const size_t n = sorted_roster(ids);
  uint32_t hash = kFnv1aOffset;
  for (size_t i = 0; i < n; ++i) {
    hash = wire::roster_hash_step(hash, ids[i]);
    uint32_t units = 0;  // this node's own entry: alive now
    if (ids[i] != ctx_.self().node_id) {
      const Member* m = ctx_.members().find(ids[i]);
      units = m == nullptr || m->status != MemberStatus::kActive || m->left
                  ? wire::kRosterNoEvidence
                  : (elapsed_ms(now_ms, m->last_seen_ms) + d.age_unit_ms - 1) / d.age_unit_ms;
      if (units > wire::kRosterNoEvidence) units = wire::kRosterNoEvidence;
    }
    ages[i / 2] = static_cast<uint8_t>(ages[i / 2] | (i % 2 == 0 ? units << 4 : units));
  }
  wire::Message msg;
  msg.header.type = wire::MessageType::kRosterDigest;
  msg.digest = d;
  msg.digest.roster_size = static_cast<uint16_t>(n);
  msg.digest.roster_hash = hash;
  msg.digest.roster_ages = ages;
  return send(0, ctx_.config().udp_port, 0, msg);
}
#else   // no roster on this build (limits.h): a ROSTER_DIGEST heard makes this node ask for a DIGEST
bool Membership::take_roster(const wire::Digest&, uint32_t, Evidence&) { return false; }
#endif  // SPORE_ROSTER_DIGEST

void Membership::handle_digest_req(const wire::Header& h, uint32_t now_ms) {
  const Member* asker = ctx_.members().find(h.sender_id);
  if (!digest_mode() || !chain_.heard || asker == nullptr) return;
  // One answer per asker per period (a node asks each member at most once a round, run_liveness()).
  // Answering more would let anyone who can send in its name (a keyless cluster) aim every node's
  // DIGEST at it: 23 bytes asked, 4.5 per member answered.
  Peer& peer = peer_of(*asker);
  if (peer.digest_answered && elapsed_ms(now_ms, peer.digest_answered_ms) < ctx_.config().heartbeat_interval_ms) {
    ++stats_.ignored;
    return;
  }
  peer.digest_answered = true;
  peer.digest_answered_ms = now_ms;
  // The asker's own address from the table, never the packet's source: no reflection.
  wire::Digest d;
  d.round = chain_.round;
  d.next_id = chain_.next_id;
  d.backup_id = chain_.backup_id;
  if (send_digest_pages(asker->ip, asker->udp_port_or(ctx_.config().udp_port), asker->node_id, d, now_ms))
    ++stats_.digests_pulled;
}

bool Membership::send_digest_pages(uint32_t ip, uint16_t port, uint32_t dest_id, wire::Digest& d, uint32_t now_ms) {
  const Config& cfg = ctx_.config();
  wire::Message msg;
  msg.header.type = wire::MessageType::kDigest;
  // Ages in eighths of a period, rounded up (rounding up only ever makes evidence look older than
  // it is): fine enough that fresh evidence stays under suspect_after_ms until the next DIGEST,
  // and evidence up to 15/8 periods old is relayed, as far back as a lost heartbeat or two.
  const uint32_t unit_ms = (cfg.heartbeat_interval_ms + 7) / 8;
  bool sent = false;
  d.age_unit_ms = static_cast<uint16_t>(unit_ms == 0 ? 1 : unit_ms > 0xFFFF ? 0xFFFF : unit_ms);
  // More evidence than one DIGEST holds (or than Config::roster_digest_min_members): the broadcast
  // goes as one ROSTER_DIGEST (no ids, an age per member), so a node receives one datagram a period
  // however large the cluster; an answer to one member (DIGEST_REQ) keeps the ids, which need no
  // agreement on the roster.
#if SPORE_ROSTER_DIGEST
  const size_t vouched = ctx_.members().count(MemberStatus::kActive) + 1;
  const size_t roster_from = cfg.roster_digest_min_members != 0 ? cfg.roster_digest_min_members : kDigestPage + 2;
  if (dest_id == 0 && vouched >= roster_from) return send_roster_digest(d, now_ms);
#endif
  wire::DigestEntry page[kDigestPage];
  size_t n = 0;
  for (size_t i = 0; i < peers_.size(); ++i) {
    const Member* m = ctx_.members().at_slot(i);
    if (m == nullptr || m->status != MemberStatus::kActive || m->left) continue;
    const uint32_t units = (elapsed_ms(now_ms, m->last_seen_ms) + d.age_unit_ms - 1) / d.age_unit_ms;
    if (units > wire::kMaxDigestAge) continue;
    page[n++] = {m->node_id, static_cast<uint8_t>(units)};
    if (n == kDigestPage) {
      d.entries = wire::DigestList::from_array(page, n);
      msg.digest = d;
      sent = send(ip, port, dest_id, msg) || sent;
      n = 0;
    }
  }
  if (n != 0 || d.entries.empty()) {
    d.entries = wire::DigestList::from_array(page, n);
    msg.digest = d;
    sent = send(ip, port, dest_id, msg) || sent;
  }
  d.entries = wire::DigestList();  // `page` ends here
  return sent;
}

#else  // SPORE_DIGEST_LIVENESS == 0: the evidence above, no chain.

// No roster taken: a ROSTER_DIGEST is only sent for more members than such a build's table holds.
bool Membership::take_roster(const wire::Digest&, uint32_t, Evidence&) { return false; }

uint32_t Membership::announce_interval_ms() const { return ctx_.config().member_info_interval_ms; }
bool Membership::follow_chain(uint32_t, const wire::Digest&, uint32_t) { return false; }
void Membership::run_liveness(uint32_t) {}
void Membership::handle_digest_req(const wire::Header&, uint32_t) {}

#endif  // SPORE_DIGEST_LIVENESS

}  // namespace spore
