#include "spore/cluster/membership.h"

#include <cstring>

#include "spore/base/bytes.h"
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

bool is_due(uint32_t now_ms, uint32_t deadline_ms) { return static_cast<int32_t>(now_ms - deadline_ms) >= 0; }

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
  if (join_count_ >= join_.size()) return false;
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
  ctx_.on(topics::kNodeForgotten, EventHandler::bind<Membership, &Membership::on_forgotten>(this));
  // Join phase: a few quick ANNOUNCEs asking for replies, then the slower heartbeat.
  heartbeat_task_.set_interval_ms(cfg.discovery_interval_ms);
  tick_task_.set_interval_ms(cfg.listen_interval_ms);
  ctx_.scheduler().add(heartbeat_task_);
  ctx_.scheduler().add(tick_task_);
  events_.begin();
  begun_ = true;
}

void Membership::leave() {
  if (!begun_ || left_) return;
  // Twice by broadcast (different sequence numbers, so both pass the replay window) and to the
  // join list; whoever misses all of them hears it as `left` gossip from those who did not.
  for (int i = 0; i < 2; ++i) {
    wire::Message msg;
    msg.header.type = wire::MessageType::kLeave;
    send(0, ctx_.config().udp_port, msg);
  }
  for (size_t i = 0; i < join_count_; ++i) {
    wire::Message msg;
    msg.header.type = wire::MessageType::kLeave;
    send(join_[i].ip, join_[i].port, msg);
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
  if (joining && --join_announces_left_ == 0) heartbeat_task_.set_interval_ms(cfg.heartbeat_interval_ms);
  const bool announce = joining || elapsed_ms(now_ms, last_announce_ms_) >= cfg.member_info_interval_ms ||
                        ctx_.api().digest() != announced_api_digest_ || resources_digest_ != announced_res_digest_ ||
                        image_digest_ != announced_image_digest_;
  if (announce) {
    send_announce(0, cfg.udp_port, joining);
    announced_api_digest_ = ctx_.api().digest();
    announced_res_digest_ = resources_digest_;
    announced_image_digest_ = image_digest_;
    last_announce_ms_ = now_ms;
    for (size_t i = 0; i < join_count_; ++i) {
      if (join_[i].ip == ctx_.self().ip && join_[i].port == cfg.udp_port) continue;
      send_announce(join_[i].ip, join_[i].port, true);
    }
    if (gossip_.size() != 0) broadcast_heartbeat();  // ANNOUNCE has no gossip section; news must not wait
  } else {
    broadcast_heartbeat();
  }
  probe_next_for_latency(now_ms);
  events_.on_heartbeat();
}

void Membership::run_tick(uint32_t now_ms) {
  if (left_) return;
  for (PendingReply& r : replies_) {
    if (r.ip != 0 && is_due(now_ms, r.due_ms)) {
      send_announce(r.ip, r.port, false);
      r = PendingReply{};
    }
  }
  for (Relay& r : relays_) {
    if (r.our_probe_id != 0 && is_due(now_ms, r.expires_ms)) r = Relay{};
  }
  run_probes(now_ms);
  run_info_sync(now_ms);
  events_.run(now_ms);
}

void Membership::on_forgotten(const Event& event) {
  const Member* m = event.get<Member>();
  if (m == nullptr) return;
  channel_.forget(m->node_id);
  gossip_.remove(m->node_id);
  peer_of(*m) = Peer{};  // the next member in this slot starts afresh
  if (fetch_.node_id == m->node_id) fetch_ = InfoFetch{};
}

// ---- receive --------------------------------------------------------------------------------------

void Membership::on_datagram(uint32_t src_ip, uint16_t src_port, const uint8_t* data, size_t size_bytes) {
  if (!begun_ || left_ || data == nullptr) return;
  wire::Message msg;
  if (!channel_.receive(src_ip, data, size_bytes, msg)) return;
  const uint32_t now_ms = ctx_.clock().now_ms();
  switch (msg.header.type) {
    case wire::MessageType::kAnnounce: handle_announce(src_ip, msg, now_ms); break;
    case wire::MessageType::kPing: handle_ping(src_ip, src_port, msg, now_ms); break;
    case wire::MessageType::kAck:
      handle_ack(msg, now_ms);
      heard_from(msg.header, src_ip, src_port, now_ms);
      apply_gossip(msg.ack.updates, now_ms);
      break;
    case wire::MessageType::kPingReq: handle_ping_req(src_ip, src_port, msg, now_ms); break;
    case wire::MessageType::kGossip:
      heard_from(msg.header, src_ip, src_port, now_ms);
      apply_gossip(msg.gossip.updates, now_ms);
      break;
    case wire::MessageType::kLeave: handle_leave(msg.header, now_ms); break;
    case wire::MessageType::kInfoReq:
      heard_from(msg.header, src_ip, src_port, now_ms);
      handle_info_req(src_ip, src_port, msg);
      break;
    case wire::MessageType::kInfo:
      heard_from(msg.header, src_ip, src_port, now_ms);
      handle_info(msg, now_ms);
      break;
    case wire::MessageType::kEvent:
    case wire::MessageType::kEventReq:
    case wire::MessageType::kEventDigest:
      heard_from(msg.header, src_ip, src_port, now_ms);
      events_.on_message(src_ip, src_port, msg, now_ms);
      break;
  }
}

void Membership::handle_announce(uint32_t src_ip, const wire::Message& msg, uint32_t now_ms) {
  const wire::Header& h = msg.header;
  const wire::Announce& a = msg.announce;
  const Member* before = ctx_.members().find(h.sender_id);
  const bool known = before != nullptr;
  const uint32_t prev_incarnation = known ? before->incarnation : 0;
  const bool was_left = known && before->left;
  MemberHello hello;
  hello.node_id = h.sender_id;
  hello.incarnation = h.incarnation;
  hello.ip = src_ip != 0 ? src_ip : a.ip;  // the address that actually reached us
  hello.http_port = a.http_port;
  hello.hostname = a.hostname;
  // Only a joining node's ANNOUNCE (reply requested) says "new process"; a larger incarnation
  // anywhere else is a refutation. See docs/protocol.md §11.6.
  hello.refutation = !a.reply_requested;
  Member* m = ctx_.members().observe(hello, now_ms);
  if (m == nullptr) return;
  const bool restarted =
      known && incarnation_newer(h.incarnation, prev_incarnation) && (a.reply_requested || was_left);
  Peer& peer = peer_of(*m);
  if (!known || restarted) {
    peer = Peer{};
    m->suspected = false;
    if (fetch_.node_id == h.sender_id) fetch_ = InfoFetch{};
    queue_gossip(*m, wire::MemberState::kAlive);  // helps members that cannot hear its broadcasts
  }
  m->udp_port = a.udp_port;
  const bool updated = known && m->image_digest != 0 && a.image_digest != m->image_digest;
  m->image_digest = a.image_digest;
  m->resources.free_heap_bytes = a.free_heap_bytes;
  peer.announced_api_digest = a.api_digest;
  peer.announced_res_digest = a.resources_digest;
  peer.announced = true;
  alive_evidence(peer, *m);
  if (updated) ctx_.fire(topics::kNodeUpdated, *m);
  if (a.reply_requested) {
    // Jittered, so a joiner is not hit by every member's reply in the same millisecond.
    for (const PendingReply& r : replies_) {
      if (r.ip == src_ip && r.port == a.udp_port) return;
    }
    for (PendingReply& r : replies_) {
      if (r.ip == 0) {
        r.ip = src_ip != 0 ? src_ip : a.ip;
        r.port = a.udp_port;
        r.due_ms = now_ms + random_below(ctx_.config().discovery_interval_ms / 2 + 1);
        return;
      }
    }
  }
}

Member* Membership::heard_from(const wire::Header& h, uint32_t src_ip, uint16_t src_port, uint32_t now_ms) {
  Member* m = ctx_.members().touch(h.sender_id, h.incarnation, now_ms);
  if (m == nullptr) {
    if (ctx_.members().find(h.sender_id) == nullptr) greet(h.sender_id, src_ip, src_port, now_ms);
    return nullptr;
  }
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

void Membership::handle_ping(uint32_t src_ip, uint16_t src_port, const wire::Message& msg, uint32_t now_ms) {
  heard_from(msg.header, src_ip, src_port, now_ms);
  apply_gossip(msg.ping.updates, now_ms);  // first: a refutation raises the incarnation the ACK carries
  if (msg.ping.target_id != ctx_.self().node_id) {
    ++stats_.ignored;  // the address now belongs to someone else: let the prober time out
    return;
  }
  wire::Message ack;
  ack.header.type = wire::MessageType::kAck;
  ack.ack.probe_id = msg.ping.probe_id;
  ack.ack.timestamp_ms = msg.ping.timestamp_ms;
  send(src_ip, src_port, ack);
}

void Membership::handle_ack(const wire::Message& msg, uint32_t now_ms) {
  const wire::Ack& ack = msg.ack;
  for (Relay& r : relays_) {
    if (r.our_probe_id != 0 && r.our_probe_id == ack.probe_id) {
      wire::Message relayed;
      relayed.header.type = wire::MessageType::kAck;
      relayed.ack.probe_id = r.their_probe_id;
      relayed.ack.timestamp_ms = r.their_timestamp_ms;
      const uint32_t ip = r.requester_ip;
      const uint16_t port = r.requester_port;
      r = Relay{};
      send(ip, port, relayed);
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

void Membership::handle_ping_req(uint32_t src_ip, uint16_t src_port, const wire::Message& msg, uint32_t now_ms) {
  heard_from(msg.header, src_ip, src_port, now_ms);
  apply_gossip(msg.ping_req.updates, now_ms);
  const wire::PingReq& pr = msg.ping_req;
  if (pr.target_id == ctx_.self().node_id) {
    // Asked to probe ourselves: the requester evidently reaches us, so answer it directly.
    wire::Message ack;
    ack.header.type = wire::MessageType::kAck;
    ack.ack.probe_id = pr.probe_id;
    ack.ack.timestamp_ms = pr.timestamp_ms;
    send(src_ip, src_port, ack);
    return;
  }
  Relay* slot = nullptr;
  for (Relay& r : relays_) {
    if (r.our_probe_id == 0) {
      slot = &r;
      break;
    }
  }
  if (slot == nullptr) {
    ++stats_.ignored;
    return;
  }
  slot->our_probe_id = next_probe_id();
  slot->their_probe_id = pr.probe_id;
  slot->their_timestamp_ms = pr.timestamp_ms;
  slot->requester_ip = src_ip;
  slot->requester_port = src_port;
  slot->expires_ms = now_ms + 2 * ctx_.config().probe_timeout_ms;
  wire::Message ping;
  ping.header.type = wire::MessageType::kPing;
  ping.ping.target_id = pr.target_id;
  ping.ping.probe_id = slot->our_probe_id;
  ping.ping.timestamp_ms = now_ms;
  send(pr.target_ip, pr.target_udp_port != 0 ? pr.target_udp_port : ctx_.config().udp_port, ping);
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

void Membership::apply_gossip(const wire::GossipList& updates, uint32_t now_ms) {
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
      // Someone knows a member we do not (it may not reach us by broadcast): say hello to it.
      // Only its own answer admits it, so gossip alone never puts a node in the table.
      if (e.state == wire::MemberState::kAlive || e.state == wire::MemberState::kSuspect) {
        greet(e.node_id, e.ip, e.udp_port, now_ms);
      }
      continue;
    }
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
  wire::GossipEntry self;
  self.node_id = ctx_.self().node_id;
  self.incarnation = ctx_.self().incarnation;
  self.ip = ctx_.self().ip;
  self.udp_port = ctx_.config().udp_port;
  self.http_port = ctx_.config().http_port;
  self.state = wire::MemberState::kAlive;
  gossip_.push(self, kGossipTransmissions);
  return true;
}

void Membership::handle_info_req(uint32_t src_ip, uint16_t src_port, const wire::Message& msg) {
  const ApiRegistry& api = ctx_.api();
  wire::ApiEntry entries[SPORE_MAX_APIS];
  const size_t n = api.size();
  for (size_t i = 0; i < n; ++i) entries[i] = {api.at(i).method, api.at(i).uri_view()};
  const size_t sdk_len = std::strlen(sdk_version_);
  const bool auth = channel_.authenticated();
  uint8_t page = msg.info_req.api_page;
  size_t first = 0, count = 0;
  size_t pages = wire::api_pages(entries, n, sdk_len, auth, page, &first, &count);
  if (pages == 0) {
    ++stats_.send_failures;
    return;
  }
  if (page >= pages) {
    page = 0;  // the requester will see page 0 of a list it did not expect and start over
    wire::api_pages(entries, n, sdk_len, auth, 0, &first, &count);
  }
  const SystemInfo& sys = ctx_.system();
  wire::Message out;
  out.header.type = wire::MessageType::kInfo;
  wire::Info& info = out.info;
  info.resources_digest = resources_digest_;
  info.api_digest = api.digest();
  info.free_heap_bytes = sys.free_heap_bytes();
  info.chip_id = sys.chip_id();
  info.flash_chip_size_bytes = sys.flash_chip_size_bytes();
  info.cpu_freq_mhz = sys.cpu_freq_mhz();
  info.sdk_version = std::string_view(sdk_version_, sdk_len);
  info.api_page = page;
  info.api_page_count = static_cast<uint8_t>(pages);
  info.api = wire::ApiList::from_array(entries + first, count);
  send(src_ip, src_port, out);
}

void Membership::handle_info(const wire::Message& msg, uint32_t now_ms) {
  const uint32_t id = msg.header.sender_id;
  const wire::Info& in = msg.info;
  MemberTable& table = ctx_.members();
  Member* m = table.find(id);
  if (m == nullptr) return;
  Peer& peer = peer_of(*m);
  if (in.resources_digest != peer.held_res_digest || !peer.announced) {
    MemberResources r;
    r.free_heap_bytes = in.free_heap_bytes;
    r.chip_id = in.chip_id;
    r.flash_chip_size_bytes = in.flash_chip_size_bytes;
    r.cpu_freq_mhz = in.cpu_freq_mhz;
    table.set_resources(id, r, in.sdk_version);
    peer.held_res_digest = in.resources_digest;
  }
  m->resources.free_heap_bytes = in.free_heap_bytes;
  // INFO is fresher than the ANNOUNCE that made us ask.
  peer.announced_res_digest = in.resources_digest;
  peer.announced_api_digest = in.api_digest;
  peer.announced = true;
  if (fetch_.node_id != id) {
    ++stats_.ignored;  // unsolicited or late: resources taken, the list only through a fetch
    return;
  }
  if (m->api_digest == in.api_digest && fetch_.page == 0) {
    fetch_ = InfoFetch{};  // only the resources had changed
    ++stats_.info_syncs;
    run_info_sync(now_ms);
    return;
  }
  if (in.api_digest != fetch_.api_digest) {
    // The list changed between pages: start over rather than mix two versions.
    fetch_.api_digest = in.api_digest;
    if (in.api_page != 0) {
      fetch_.page = 0;
      fetch_.tries = 0;
      send_info_req(now_ms);
      return;
    }
    fetch_.page = 0;
  }
  if (in.api_page != fetch_.page) return;  // duplicate or late page
  if (in.api_page == 0) table.set_api(id, 0, nullptr, 0);  // digest 0 = incomplete until the last page
  for (const wire::ApiEntry e : in.api) table.append_api(id, e.method, e.uri);
  if (in.api_page + 1 < in.api_page_count) {
    ++fetch_.page;
    fetch_.tries = 0;
    send_info_req(now_ms);
    return;
  }
  table.complete_api(id, in.api_digest);  // shares the bytes with members on the same build
  fetch_ = InfoFetch{};
  ++stats_.info_syncs;
  run_info_sync(now_ms);  // next member whose details are out of date, without waiting a tick
}

// ---- probes ---------------------------------------------------------------------------------------

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
  wire::Message ping;
  ping.header.type = wire::MessageType::kPing;
  ping.ping.target_id = m.node_id;
  ping.ping.probe_id = peer.probe_id;
  ping.ping.timestamp_ms = now_ms;
  send(m.ip, m.udp_port != 0 ? m.udp_port : ctx_.config().udp_port, ping);
}

void Membership::start_indirect(Peer& peer, const Member& m, uint32_t now_ms) {
  peer.probe_phase = kPhaseIndirect;
  peer.probe_sent_ms = now_ms;
  ++stats_.probes_indirect;
  const uint16_t target_port = m.udp_port != 0 ? m.udp_port : ctx_.config().udp_port;
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
    send(helper->ip, helper->udp_port != 0 ? helper->udp_port : ctx_.config().udp_port, req);
  }
  // And once more directly, with the same probe id: the first PING or its ACK may just be lost.
  wire::Message ping;
  ping.header.type = wire::MessageType::kPing;
  ping.ping.target_id = m.node_id;
  ping.ping.probe_id = peer.probe_id;
  ping.ping.timestamp_ms = now_ms;
  send(m.ip, target_port, ping);
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

// ---- INFO sync ------------------------------------------------------------------------------------

void Membership::run_info_sync(uint32_t now_ms) {
  if (fetch_.node_id != 0) {
    const Member* m = ctx_.members().find(fetch_.node_id);
    if (m == nullptr || m->status != MemberStatus::kActive) {
      fetch_ = InfoFetch{};
    } else if (elapsed_ms(now_ms, fetch_.sent_ms) >= 2 * ctx_.config().probe_timeout_ms) {
      if (++fetch_.tries >= kInfoTries) {
        fetch_ = InfoFetch{};  // give the others a turn; it is picked again later
      } else {
        send_info_req(now_ms);
      }
    }
    return;
  }
  for (size_t i = 0; i < peers_.size(); ++i) {
    const size_t idx = (fetch_cursor_ + i) % peers_.size();
    const Peer& peer = peers_[idx];
    if (!peer.announced) continue;
    const Member* m = ctx_.members().at_slot(idx);
    if (m == nullptr || m->status != MemberStatus::kActive || m->left) continue;
    if (m->api_digest == peer.announced_api_digest && peer.held_res_digest == peer.announced_res_digest) continue;
    fetch_cursor_ = static_cast<uint8_t>((idx + 1) % peers_.size());
    fetch_ = InfoFetch{};
    fetch_.node_id = m->node_id;
    fetch_.api_digest = peer.announced_api_digest;
    send_info_req(now_ms);
    return;
  }
}

void Membership::send_info_req(uint32_t now_ms) {
  const Member* m = ctx_.members().find(fetch_.node_id);
  if (m == nullptr) {
    fetch_ = InfoFetch{};
    return;
  }
  fetch_.sent_ms = now_ms;
  wire::Message req;
  req.header.type = wire::MessageType::kInfoReq;
  req.info_req.api_page = fetch_.page;
  send(m->ip, m->udp_port != 0 ? m->udp_port : ctx_.config().udp_port, req);
}

// ---- send -----------------------------------------------------------------------------------------

bool Membership::send(uint32_t ip, uint16_t port, wire::Message& msg) {
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
    *list = wire::GossipList::from_array(updates, gossip_.take(updates, SPORE_GOSSIP_QUEUE_LEN));
  }
  return channel_.send(ip, port, msg);
}

void Membership::fill_announce(wire::Announce& a, bool reply_requested) const {
  const Config& cfg = ctx_.config();
  a.max_version = wire::kProtocolVersion;
  a.reply_requested = reply_requested;
  a.ip = ctx_.self().ip;
  a.udp_port = cfg.udp_port;
  a.http_port = cfg.http_port;
  a.free_heap_bytes = ctx_.system().free_heap_bytes();
  a.api_digest = ctx_.api().digest();
  a.resources_digest = resources_digest_;
  a.image_digest = image_digest_;
  a.hostname = std::string_view(hostname_);
}

void Membership::send_announce(uint32_t ip, uint16_t port, bool reply_requested) {
  wire::Message msg;
  msg.header.type = wire::MessageType::kAnnounce;
  fill_announce(msg.announce, reply_requested);
  send(ip, port, msg);
}

void Membership::broadcast_heartbeat() {
  wire::Message msg;
  msg.header.type = wire::MessageType::kGossip;
  send(0, ctx_.config().udp_port, msg);
}

void Membership::greet(uint32_t node_id, uint32_t ip, uint16_t port, uint32_t now_ms) {
  if (ip == 0 || node_id == 0) return;
  const MemberTable& table = ctx_.members();
  if (table.count(MemberStatus::kActive) >= MemberTable::capacity()) return;  // could not admit it anyway
  Greeting* oldest = &greetings_[0];
  for (Greeting& g : greetings_) {
    if (g.node_id == node_id) {
      if (elapsed_ms(now_ms, g.sent_ms) < ctx_.config().discovery_interval_ms) return;
      oldest = &g;
      break;
    }
    if (elapsed_ms(now_ms, g.sent_ms) > elapsed_ms(now_ms, oldest->sent_ms)) oldest = &g;
  }
  oldest->node_id = node_id;
  oldest->sent_ms = now_ms;
  send_announce(ip, port != 0 ? port : ctx_.config().udp_port, true);
}

void Membership::queue_gossip(const Member& m, wire::MemberState state) {
  wire::GossipEntry e;
  e.node_id = m.node_id;
  e.incarnation = m.incarnation;
  e.ip = m.ip;
  e.udp_port = m.udp_port != 0 ? m.udp_port : ctx_.config().udp_port;
  e.http_port = m.http_port;
  e.state = state;
  gossip_.push(e, kGossipTransmissions);
}

// ---- helpers --------------------------------------------------------------------------------------

uint32_t Membership::next_probe_id() {
  if (++probe_counter_ == 0) ++probe_counter_;  // 0 means "none"
  return probe_counter_;
}

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
