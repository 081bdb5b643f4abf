#include "spore/cluster/membership.h"

#include <cstring>

#include "spore/base/bytes.h"
#include "spore/base/heap_size.h"
#include "spore/base/incarnation.h"

namespace spore {

namespace {

// FNV-1a, 32 bit, the hash ApiRegistry::digest() uses too.
constexpr uint32_t kFnvOffset = 0x811C9DC5u;
constexpr uint32_t kFnvPrime = 0x01000193u;
uint32_t fnv_bytes(uint32_t h, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * kFnvPrime;
  return h;
}
uint32_t fnv_u32(uint32_t h, uint32_t v) {
  uint8_t b[4];
  store_be32(v, b);
  return fnv_bytes(h, b, sizeof b);
}

// Copies `src` into `dst` (capacity max_len + 1), replacing bytes outside [lo, hi] with `fill`,
// so what we put on the wire always passes the peer's decoder.
void copy_printable(char* dst, size_t max_len, const char* src, char lo, char hi, char fill) {
  size_t n = 0;
  if (src != nullptr) {
    for (; n < max_len && src[n] != '\0'; ++n) dst[n] = (src[n] >= lo && src[n] <= hi) ? src[n] : fill;
  }
  dst[n] = '\0';
}

}  // namespace

Membership::Membership(NodeContext& ctx, UdpPort& udp, Random& random)
    : ctx_(ctx),
      random_(random),
      heartbeat_task_("heartbeat", 1000, Task::Callback::bind<Membership, &Membership::run_heartbeat>(this)),
      tick_task_("membership", 100, Task::Callback::bind<Membership, &Membership::run_tick>(this)),
      events_(ctx, channel_),
      channel_(ctx, udp, stats_) {}

bool Membership::add_join_address(uint32_t ip, uint16_t udp_port) {
  if (ip == 0 || udp_port == 0) return false;
  for (JoinAddress& j : join_) {
    if (j.ip == ip && j.port == udp_port) return true;
  }
  if (join_count_ >= join_.size() || !channel_.trust_address(ip, udp_port)) return false;
  join_[join_count_++] = {ip, udp_port};
  return true;
}

void Membership::set_image_digest(uint32_t digest) { image_digest_ = digest; }

void Membership::begin() {
  if (begun_) return;
  const Config& cfg = ctx_.config();
  copy_printable(hostname_, SPORE_MAX_HOSTNAME_LEN, ctx_.hostname(), 0x21, 0x7E, '_');
  if (hostname_[0] == '\0') copy_printable(hostname_, SPORE_MAX_HOSTNAME_LEN, "spore", 0x21, 0x7E, '_');
  copy_printable(sdk_version_, SPORE_MAX_VERSION_LEN, ctx_.system().sdk_version(), 0x20, 0x7E, '?');
  resources_digest_ = compute_resources_digest();
  boot_incarnation_ = ctx_.self().incarnation & ~(kIncarnationRunSteps);
  // The cookie secret: 32 bytes of the platform's best randomness (the ESP8266's hardware RNG).
  uint8_t secret[32];
  for (size_t i = 0; i < sizeof secret; i += 4) store_be32(random_.next_u32(), secret + i);
  cookie_key_.set(secret, sizeof secret);
  ctx_.set_forget_hook(NodeContext::ForgetHook::bind<Membership, &Membership::forget_member>(this));
  // Join phase: a few quick ANNOUNCEs asking for replies, then the slower heartbeat.
  heartbeat_task_.set_interval_ms(cfg.discovery_interval_ms);
  tick_task_.set_interval_ms(cfg.listen_interval_ms);
  ctx_.scheduler().add(heartbeat_task_);
  // A late join is the common case and must be quick: the first join ANNOUNCE goes within a
  // short window, not the whole start jitter; a power-on moves it back (defer_first_join()).
  heartbeat_task_.run_at(ctx_.clock().now_ms() + random_below(cfg.start_jitter_max_ms / 32 + 1));
  ctx_.scheduler().add(tick_task_);
  events_.begin();
  begun_ms_ = ctx_.clock().now_ms();
  begun_ = true;
}

uint32_t Membership::node_at(const JoinAddress& j) const {
  // Addressed to the node once it is known: a copy with dest 0 would be fresh at every other member
  // that never saw its seq, so a captured one could be replayed there as liveness (issue 20).
  const Member* m = ctx_.members().find_at(j.ip, j.port, ctx_.config().udp_port);
  return m != nullptr ? m->node_id : 0;
}

void Membership::leave() {
  if (!begun_ || left_) return;
  // Twice by broadcast (different sequence numbers, so both pass the replay window) and to the
  // join list; whoever misses all of them hears it as `left` gossip from those who did not.
  for (size_t i = 0; i < 2u + join_count_; ++i) {
    wire::Message msg;
    msg.header.type = wire::MessageType::kLeave;
    if (i < 2) {
      send(0, ctx_.config().udp_port, 0, msg);
    } else {
      send(join_[i - 2].ip, join_[i - 2].port, node_at(join_[i - 2]), msg);
    }
  }
  left_ = true;
  events_.stop();
  heartbeat_task_.disable();
  tick_task_.disable();
}

// ---- timers ---------------------------------------------------------------------------------------

void Membership::run_heartbeat(uint32_t now_ms) {
  if (left_) return;
  const Config& cfg = ctx_.config();
  if (refute_pending_) raise_incarnation(now_ms);  // this heartbeat (or ANNOUNCE) carries it
  copy_printable(sdk_version_, SPORE_MAX_VERSION_LEN, ctx_.system().sdk_version(), 0x20, 0x7E, '?');
  resources_digest_ = compute_resources_digest();
  const bool joining = join_announces_left_ > 0;
  if (joining) {
    // A challenge, or a stranger heard, since the last join ANNOUNCE means a peer still does not
    // know this node (under loss one of the handshake's datagrams went missing): the next one
    // retries every open handshake at once, so the phase lasts while they come, up to
    // kMaxJoinAnnounces.
    const bool more = ++join_announces_sent_ < kMaxJoinAnnounces && challenged_;
    if (!more && --join_announces_left_ == 0) heartbeat_task_.set_interval_ms(cfg.heartbeat_interval_ms);
    challenged_ = false;
  }
  const bool announce = joining || elapsed_ms(now_ms, last_announce_ms_) >= announce_interval_ms() ||
                        ctx_.api().digest() != announced_api_digest_ || resources_digest_ != announced_res_digest_ ||
                        image_digest_ != announced_image_digest_;
  if (announce) {
    send_announce(0, cfg.udp_port, 0, joining);
    announced_api_digest_ = ctx_.api().digest();
    announced_res_digest_ = resources_digest_;
    announced_image_digest_ = image_digest_;
    last_announce_ms_ = now_ms;
    // Join addresses whose node is unknown get the broadcast's own bytes (same seq, dest 0), so no
    // member that heard the broadcast takes a replay of that copy; known ones a copy for them.
    for (int pass = 0; pass < 2; ++pass) {
      for (size_t i = 0; i < join_count_; ++i) {
        if (join_[i].ip == ctx_.self().ip && join_[i].port == cfg.udp_port) continue;
        const uint32_t dest = node_at(join_[i]);
        if (pass == 0 && dest == 0) channel_.resend_broadcast(join_[i].ip, join_[i].port);
        if (pass == 1 && dest != 0) send_announce(join_[i].ip, join_[i].port, dest, true);
      }
    }
    if (gossip_.size() != 0) broadcast_heartbeat();  // ANNOUNCE has no gossip section; news must not wait
  } else if (!digest_mode()) {
    broadcast_heartbeat();  // in digest mode run_liveness() sends the heartbeat, timed by the chain
  }
  // One latency PING per heartbeat; in digest mode one per 4, or PING and ACK would be most of
  // what a node receives.
  if (!digest_mode() || ++heartbeats_ % 4 == 0) probe_next_for_latency(now_ms);
  events_.on_heartbeat();
}

void Membership::run_tick(uint32_t now_ms) {
  if (left_) return;
  send_due_replies(now_ms);
  for (Relay& r : relays_) {
    if (r.our_probe_id != 0 && deadline_reached(now_ms, r.expires_ms)) r = Relay{};
  }
  run_liveness(now_ms);
  run_probes(now_ms);
  run_info_sync(now_ms);
  events_.run(now_ms);
}

void Membership::forget_member(const Member& m) {
  channel_.forget(m);
  const size_t slot = ctx_.members().slot_of(m);
  gossip_.remove(slot);
  peers_[slot] = Peer{};  // the next member in this slot starts afresh
  if (fetch_.node_id == m.node_id) fetch_ = InfoFetch{};
  events_.forget_slot(slot);
}

// ---- receive --------------------------------------------------------------------------------------

void Membership::on_datagram(uint32_t src_ip, uint16_t src_port, const uint8_t* data, size_t size_bytes) {
  if (!begun_ || left_ || data == nullptr) return;
  wire::Message msg;
  const DatagramChannel::Received got = channel_.receive(src_ip, src_port, data, size_bytes, msg);
  if (got != DatagramChannel::Received::kRefused && msg.header.type == wire::MessageType::kAnnounce &&
      msg.header.dest_id == ctx_.self().node_id && msg.announce.cookie != 0)
    challenged_ = true;  // run_heartbeat() keeps the join phase going
  const uint32_t now_ms = ctx_.clock().now_ms();
  if (got != DatagramChannel::Received::kRefused && msg.header.type == wire::MessageType::kDiscover) {
    answer_discover(src_ip, src_port, msg.header.sender_id, now_ms);
    return;
  }
  if (got == DatagramChannel::Received::kStranger) handle_stranger(src_ip, src_port, msg, now_ms);
  if (got == DatagramChannel::Received::kMember) {
    // First-hand evidence outranks gossip: the channel took this datagram as fresh, so its
    // incarnation is the newest the member itself sent; a larger one in the table came second
    // hand (a key holder's gossip can claim any), and would make the member's own datagrams
    // look stale until it was forgotten.
    Member* m = ctx_.members().find(msg.header.sender_id);
    if (m != nullptr && incarnation_newer(m->incarnation, msg.header.incarnation)) {
      m->incarnation = msg.header.incarnation;
      ++stats_.incarnations_overruled;
    }
    dispatch(msg, now_ms);
  }
}

void Membership::dispatch(const wire::Message& msg, uint32_t now_ms) {
  switch (msg.header.type) {
    case wire::MessageType::kAnnounce: handle_announce(msg, now_ms); break;
    case wire::MessageType::kPing: handle_ping(msg, now_ms); break;
    case wire::MessageType::kAck:
      handle_ack(msg, now_ms);
      heard_from(msg.header, now_ms);
      apply_gossip(msg.ack.updates, now_ms);
      break;
    case wire::MessageType::kPingReq: handle_ping_req(msg, now_ms); break;
    case wire::MessageType::kGossip:
      // A heartbeat addressed to this node: its sender runs the DIGEST chain (liveness.cpp).
      if (Member* m = heard_from(msg.header, now_ms); m != nullptr && msg.header.dest_id != 0) peer_of(*m).chain = true;
      // A broadcast heartbeat was heard by all we reach; one sent to a DIGEST sender was not.
      apply_gossip(msg.gossip.updates, now_ms, msg.header.dest_id == 0);
      break;
    case wire::MessageType::kLeave: handle_leave(msg.header, now_ms); break;
    case wire::MessageType::kInfoReq:
      heard_from(msg.header, now_ms);
      handle_info_req(msg);
      break;
    case wire::MessageType::kInfo:
      heard_from(msg.header, now_ms);
      handle_info(msg, now_ms);
      break;
    case wire::MessageType::kEvent:
    case wire::MessageType::kEventReq:
    case wire::MessageType::kEventDigest:
      heard_from(msg.header, now_ms);
      events_.on_message(msg, now_ms);
      break;
    case wire::MessageType::kDiscover: break;  // answered in on_datagram(), member or not
    case wire::MessageType::kDigest:
    case wire::MessageType::kRosterDigest:
    case wire::MessageType::kDigestReq:
      if (Member* m = heard_from(msg.header, now_ms)) peer_of(*m).chain = true;
      if (msg.header.type != wire::MessageType::kDigestReq) {
        handle_digest(msg, now_ms);
      } else {
        handle_digest_req(msg.header, now_ms);
      }
      break;
  }
}

void Membership::handle_announce(const wire::Message& msg, uint32_t now_ms) {
  const wire::Header& h = msg.header;
  const wire::Announce& a = msg.announce;
  const Member* before = ctx_.members().find(h.sender_id);
  const bool known = before != nullptr;
  const uint32_t prev_incarnation = known ? before->incarnation : 0;
  const bool was_left = known && before->left;
  MemberHello hello;
  hello.node_id = h.sender_id;
  hello.incarnation = h.incarnation;
  hello.ip = a.ip;  // signed content, never the packet's source (a replay comes from anywhere)
  hello.http_port = a.http_port;
  hello.hostname = a.hostname;
  // Only a joining node's ANNOUNCE (reply requested) says "new process"; a larger incarnation
  // anywhere else is a refutation. See docs/protocol.md §11.6.
  hello.refutation = !a.reply_requested;
  Member* m = ctx_.members().observe(hello, now_ms);
  if (m == nullptr) return;
  if (!known) channel_.admit(*m, h);  // its slot's replay window starts at this datagram
  const bool restarted =
      known && incarnation_newer(h.incarnation, prev_incarnation) && (a.reply_requested || was_left);
  Peer& peer = peer_of(*m);
  if (!known || restarted) {
    peer = Peer{};
    m->suspected = false;
    if (fetch_.node_id == h.sender_id) fetch_ = InfoFetch{};
    // Helps members that cannot hear its broadcasts (fewer sends once heard: GossipQueue::heard()).
    queue_gossip(*m, wire::MemberState::kAlive);
  }
  m->udp_port = a.udp_port;
  const bool updated = known && m->image_digest != 0 && a.image_digest != m->image_digest;
  m->image_digest = a.image_digest;
  m->resources.free_heap_code = a.free_heap_code;
  peer.announced_api_digest = a.api_digest;
  peer.announced_res_digest = a.resources_digest;
  peer.announced = true;
  alive_evidence(peer, *m);
  if (updated) ctx_.fire(topics::kNodeUpdated, *m);
  // A cookie asks for its echo (a joiner, or a node that does not know us), to the member's
  // signed address. A join broadcast is answered after a jitter, so a joiner is not hit by every
  // member's reply in the same millisecond.
  if (a.reply_requested || a.cookie != 0) {
    const uint32_t delay_ms = a.reply_requested ? join_answer_delay_ms() : 0;
    const uint16_t port = m->udp_port_or(ctx_.config().udp_port);
    queue_reply(h.sender_id, m->ip, port, a.cookie, false, false, now_ms + delay_ms);
    // The echo that completes a handshake is the one datagram whose loss nobody retries soon (the
    // other side has no credit left to challenge again): it goes out a second time, a little later.
    if (a.cookie != 0 && delay_ms == 0)
      queue_reply(h.sender_id, m->ip, port, a.cookie, false, false, now_ms + ctx_.config().discovery_interval_ms / 4 + 1);
  }
}

Member* Membership::heard_from(const wire::Header& h, uint32_t now_ms) {
  Member* m = ctx_.members().touch(h.sender_id, h.incarnation, now_ms);
  if (m == nullptr) return nullptr;
  alive_evidence(peer_of(*m), *m);
  return m;
}

void Membership::alive_evidence(Peer& peer, Member& m) {
  m.suspected = false;
  // A direct probe stays outstanding so its ACK still measures latency; an indirect round is moot.
  if (peer.probe_phase == kPhaseIndirect) {
    peer.probe_phase = kPhaseNone;
    peer.probe_id = 0;
  }
}

void Membership::handle_leave(const wire::Header& h, uint32_t now_ms) {
  Member* m = ctx_.members().find(h.sender_id);
  if (m == nullptr || m->left || incarnation_older(h.incarnation, m->incarnation)) return;
  ctx_.members().mark_left(h.sender_id, h.incarnation, now_ms);
  Peer& peer = peer_of(*m);
  peer.probe_phase = kPhaseNone;
  peer.probe_id = 0;
  m->suspected = false;
  queue_gossip(*m, wire::MemberState::kLeft);
}

void Membership::apply_gossip(const wire::GossipList& updates, uint32_t now_ms, bool broadcast) {
  bool suspected = false, forged = false;
  for (const wire::GossipEntry e : updates) {
    if (e.node_id == ctx_.self().node_id) {
      if (e.state != wire::MemberState::kAlive) {
        // Only a claim about the incarnation this node has now is a suspicion to refute. One
        // above it was never announced by this node (refuting it would let anyone push the
        // incarnation into the next boot's range), and an older one is refuted already.
        if (e.incarnation == ctx_.self().incarnation) {
          suspected = true;
        } else if (incarnation_newer(e.incarnation, ctx_.self().incarnation)) {
          forged = true;
        }
      }
      continue;
    }
    Member* m = ctx_.members().find(e.node_id);
    if (m == nullptr) {
      // Someone knows a member we do not (it may not reach us by broadcast): challenge it.
      // Only its own echo admits it, so gossip alone never puts a node in the table.
      if (e.state == wire::MemberState::kAlive || e.state == wire::MemberState::kSuspect) {
        challenge(e.node_id, e.ip, e.udp_port, 0, false, false, now_ms);
      }
      continue;
    }
    // Everybody our broadcast reaches heard this copy of the news: it counts as one of ours.
    if (broadcast && e.state == wire::MemberState::kAlive) gossip_.heard(ctx_.members().slot_of(*m), e.incarnation);
    if (e.state == wire::MemberState::kLeft) {
      if (!m->left && incarnation_at_least(e.incarnation, m->incarnation)) {
        ctx_.members().mark_left(e.node_id, e.incarnation, now_ms);
        peer_of(*m).probe_phase = kPhaseNone;
        queue_gossip(*m, wire::MemberState::kLeft);
      }
    } else if (e.state == wire::MemberState::kAlive && incarnation_newer(e.incarnation, m->incarnation) &&
               !m->left) {
      // A refutation heard second hand: adopt the incarnation, but it is not first-hand evidence
      // of life, so last_seen stays (per-observer status stays honest).
      m->incarnation = e.incarnation;
    }
    // suspect / dead about others: status is per observer, so our own probes decide.
  }
  if (forged) ++stats_.forged_incarnation;
  if (suspected) refute(now_ms);  // once per datagram, however many entries repeat the claim
}

void Membership::refute(uint32_t now_ms) {
  // At most one refutation per heartbeat interval: a suspicion heard sooner waits for the next
  // heartbeat, which then carries the raised incarnation (run_heartbeat()).
  if (refuted_ && elapsed_ms(now_ms, last_refute_ms_) < ctx_.config().heartbeat_interval_ms) {
    refute_pending_ = true;
    return;
  }
  if (raise_incarnation(now_ms)) broadcast_heartbeat();  // carries the refutation to everyone at once
}

bool Membership::raise_incarnation(uint32_t now_ms) {
  refute_pending_ = false;
  refuted_ = true;
  last_refute_ms_ = now_ms;
  if (ctx_.self().incarnation - boot_incarnation_ >= kIncarnationRunSteps) {
    // The next step would be the next boot's incarnation (incarnation.h): stay, so that the next
    // start is still newer than anything this run announced. Peers judge liveness by their own
    // probes, so an unrefuted suspicion costs nothing but the gossip.
    if (stats_.refutations_refused++ == 0) {
      SPORE_LOG(ctx_, LogLevel::kWarn, "membership: %u refutations in this run, no more until restart",
                static_cast<unsigned>(kIncarnationRunSteps));
    }
    return false;
  }
  ctx_.set_incarnation(ctx_.self().incarnation + 1);
  ++stats_.refutations;
  gossip_.push(GossipQueue::kSelf, ctx_.self().incarnation, wire::MemberState::kAlive);
  return true;
}

// ---- send -----------------------------------------------------------------------------------------

bool Membership::send(uint32_t ip, uint16_t port, uint32_t dest_id, wire::Message& msg) {
  wire::GossipEntry updates[SPORE_GOSSIP_QUEUE_LEN];
  wire::GossipList* list = nullptr;
  switch (msg.header.type) {
    case wire::MessageType::kPing: list = &msg.ping.updates; break;
    case wire::MessageType::kAck: list = &msg.ack.updates; break;
    case wire::MessageType::kPingReq: list = &msg.ping_req.updates; break;
    case wire::MessageType::kGossip: list = &msg.gossip.updates; break;
    default: break;
  }
  if (list != nullptr && list->empty()) {
    wire::GossipEntry self;  // this node's entry, and the cluster port of members without their own
    self.node_id = ctx_.self().node_id;
    self.ip = ctx_.self().ip;
    self.udp_port = ctx_.config().udp_port;
    self.http_port = ctx_.config().http_port;
    *list = wire::GossipList::from_array(updates,
                                         gossip_.take(ctx_.members(), self, updates, SPORE_GOSSIP_QUEUE_LEN));
  }
  return channel_.send(ip, port, dest_id, msg);
}

bool Membership::send_to(const Member& m, wire::Message& msg) {
  return send(m.ip, m.udp_port_or(ctx_.config().udp_port), m.node_id, msg);
}

bool Membership::send_announce(uint32_t ip, uint16_t port, uint32_t dest_id, bool reply_requested, uint64_t echo,
                               bool with_cookie, bool padded) {
  const Config& cfg = ctx_.config();
  wire::Message msg;
  msg.header.type = wire::MessageType::kAnnounce;
  wire::Announce& a = msg.announce;
  a.max_version = wire::kProtocolVersion;
  a.reply_requested = reply_requested;
  // Its answers must fit what it gave (anti-amplification credit): a join, and every answer to a
  // padded ANNOUNCE, is padded to the largest ANNOUNCE, so the challenge answering a join and the
  // answer to that challenge always fit the credit the other side gave.
  a.padded = reply_requested || padded;
  a.ip = ctx_.self().ip;
  a.udp_port = cfg.udp_port;
  a.http_port = cfg.http_port;
  a.free_heap_code = heap_code_from_bytes(ctx_.system().free_heap_bytes());
  a.api_digest = ctx_.api().digest();
  a.resources_digest = resources_digest_;
  a.image_digest = image_digest_;
  a.echo = echo;
  // A cookie only in a unicast to one node (bound to it and its address): a broadcast asks for
  // challenges instead (reply_requested), which each carry the challenger's own cookie.
  a.cookie = ip != 0 && (reply_requested || with_cookie) ? cookie(ctx_.clock().now_ms(), dest_id, ip, port) : 0;
  a.hostname = std::string_view(hostname_);
  return send(ip, port, dest_id, msg);
}

void Membership::broadcast_heartbeat() {
  wire::Message msg;
  msg.header.type = wire::MessageType::kGossip;
  send(0, ctx_.config().udp_port, 0, msg);
}

void Membership::queue_gossip(const Member& m, wire::MemberState state) {
  gossip_.push(ctx_.members().slot_of(m), m.incarnation, state);
}

// ---- helpers --------------------------------------------------------------------------------------

uint32_t Membership::compute_resources_digest() const {
  const SystemInfo& sys = ctx_.system();
  uint32_t h = kFnvOffset;
  h = fnv_u32(h, sys.chip_id());
  h = fnv_u32(h, sys.flash_chip_size_bytes());
  h = fnv_u32(h, sys.cpu_freq_mhz());
  return fnv_bytes(h, reinterpret_cast<const uint8_t*>(sdk_version_), std::strlen(sdk_version_));
}

uint32_t Membership::random_below(uint32_t bound) { return bound == 0 ? 0 : random_.next_u32() % bound; }

}  // namespace spore
