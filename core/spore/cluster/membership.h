#pragma once
/// @file membership.h
/// The membership protocol of a SPORE node (state machine and timing: docs/protocol.md §11).
///
/// In short: every node broadcasts a small heartbeat every heartbeat_interval_ms and a full
/// ANNOUNCE every member_info_interval_ms (or when its digests change); each observer keeps the
/// seed's per-observer status model (ACTIVE / INACTIVE / DEAD by silence, MemberTable) and, before
/// silence turns into INACTIVE, probes the silent member the SWIM way (PING, then PING_REQ through
/// k members; an unanswered round makes it suspect, gossiped so the member can refute by raising
/// its incarnation). A crash is therefore seen by every peer at inactive_after_ms, while a healthy
/// member behind a lossy link is kept ACTIVE by the probes. One PING per heartbeat to the next
/// member in turn measures latency. Resources and API lists travel only when their digest changes
/// (INFO_REQ / INFO pages). LEAVE marks a graceful exit.
///
/// Admission (docs/protocol.md §11.3): a node that is not in the table is admitted only by an
/// ANNOUNCE addressed to this node that echoes one of its live cookies, so no captured datagram
/// creates or revives a member; a stranger's datagram is answered by a challenge (an ANNOUNCE
/// carrying this node's cookie). A member's address is the one its signed ANNOUNCE names, never
/// a packet's source.
///
/// No allocation: every table is a fixed array (limits.h). Not thread-safe: call everything from
/// the node's loop (the platform's receive callback included).

#include <array>
#include <cstddef>
#include <cstdint>

#include "spore/cluster/datagram_channel.h"
#include "spore/events/cluster_events.h"
#include "spore/base/event_bus.h"
#include "spore/cluster/gossip_queue.h"
#include "spore/auth/hmac_sha256.h"
#include "spore/base/limits.h"
#include "spore/node/node_context.h"
#include "spore/base/ports.h"
#include "spore/base/scheduler.h"
#include "spore/wire/wire_codec.h"

namespace spore {

static_assert(SPORE_MAX_MEMBERS <= 255, "Membership indexes its peer slots with uint8_t");

/// Counters of one node's membership protocol, with its datagram traffic (DatagramChannel).
struct MembershipStats : DatagramStats {
  uint32_t probes_direct = 0;        ///< PINGs sent as probes (latency or liveness)
  uint32_t probes_indirect = 0;      ///< probe rounds that went on to PING_REQ
  uint32_t suspicions = 0;           ///< probe rounds that went unanswered (member marked suspect)
  uint32_t refutations = 0;          ///< times this node heard itself suspected and raised its incarnation
  /// Suspicions not refuted because this run made kIncarnationRunSteps refutations already (the
  /// next would reach the next boot's incarnation, incarnation.h).
  uint32_t refutations_refused = 0;
  /// Datagrams whose gossip claimed this node suspect, dead or left at an incarnation above its
  /// own: never announced by this node, so forged (or garbled); the claim is ignored.
  uint32_t forged_incarnation = 0;
  /// A member's own datagram carried a smaller incarnation than the table held from gossip: the
  /// table took the member's (first-hand evidence outranks second-hand claims).
  uint32_t incarnations_overruled = 0;
  uint32_t info_syncs = 0;           ///< complete INFO fetches (all pages of a changed list)
  uint32_t ignored = 0;              ///< accepted datagrams that were not for us (wrong PING target, unknown ACK, ...)
  uint32_t digests_sent = 0;         ///< DIGEST rounds this node sent (Config::liveness kDigest)
  uint32_t vouched = 0;              ///< DIGEST entries that refreshed a member's last_seen
  uint32_t digests_pulled = 0;       ///< DIGESTs sent to a member that asked (DIGEST_REQ)
  uint32_t digests_as_backup = 0;    ///< DIGEST rounds this node sent because the named next one did not come
  /// DIGESTs of a round older than the newest heard (replayed or late): their entries were ignored.
  uint32_t digests_stale = 0;
  /// Heartbeats broadcast because the DIGEST they were for did not list this node (lost on the way).
  uint32_t heartbeats_rebroadcast = 0;
  /// ROSTER_DIGESTs whose roster was not this node's (a member joined or was forgotten at one of the
  /// two first): their ages were not taken, and the sender was asked for its DIGEST instead.
  uint32_t rosters_mismatched = 0;
};

class Membership {
 public:
  Membership(NodeContext& ctx, UdpPort& udp, Random& random);
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  /// Empty key = no authentication. Must be called before begin().
  void set_cluster_key(const HmacKey& key) { channel_.set_cluster_key(key); }
  /// A second key this node accepts but never sends with, so the cluster key can be rotated
  /// node by node without a partition (docs/security.md, "Rotating the cluster key"): first every
  /// node accepts the new key, then every node sends with it (accepting the old one), then the old
  /// one goes. A datagram the cluster key refuses (bad tag, or a tag a keyless node does not
  /// expect) is checked once more with this key. Empty (the default) = none.
  void set_accept_key(const HmacKey& key) { channel_.set_accept_key(key); }
  /// Optional unicast join list for networks that filter broadcast (bounded by
  /// SPORE_MAX_JOIN_ADDRESSES, false when full). Join ANNOUNCEs and periodic ANNOUNCEs are also
  /// sent there (with reply_requested and a cookie, so each answer admits that node).
  bool add_join_address(uint32_t ip, uint16_t udp_port);
  /// After ctx.begin(): registers the protocol's tasks ("heartbeat", "membership") with
  /// ctx.scheduler() and sets NodeContext's forget hook.
  void begin();
  /// The platform calls this for every datagram received on the UDP port (also its own
  /// broadcasts echoed back: those are ignored).
  void on_datagram(uint32_t src_ip, uint16_t src_port, const uint8_t* data, size_t size_bytes);
  /// Graceful leave: tell the cluster we are going (peers show the node DEAD with left=true at
  /// once). Call before exit/restart. Afterwards the node sends and accepts nothing.
  void leave();
  /// First 4 bytes of the running image's SHA-256 (OTA issue); announced so rollouts can check it.
  void set_image_digest(uint32_t digest);
  const MembershipStats& stats() const { return stats_; }
  /// Drops what this node keeps about `m` beside the MemberTable (its replay state, and the
  /// queued gossip, probe and INFO state of its slot). Call when the table forgets it
  /// (MemberChange::kForgotten, before the slot is reused): begin() hands it to NodeContext's
  /// forget hook, which the MemberTable listener calls. Also clears the slot's event stream.
  void forget_member(const Member& m);

  // Additions for tools and tests.
  bool begun() const { return begun_; }
  bool has_left() const { return left_; }
  /// Fingerprint of this node's static resources (chip id, flash size, cpu MHz, sdk version) as
  /// announced; FNV-1a over their wire encoding.
  uint32_t resources_digest() const { return resources_digest_; }
  const DatagramChannel& channel() const { return channel_; }
  const GossipQueue& gossip_queue() const { return gossip_; }
  /// Cluster-wide events (docs/events.md); ctx.publish() goes here once begin() ran.
  ClusterEvents& events() { return events_; }
  const ClusterEvents& events() const { return events_; }

  /// Full join-phase ANNOUNCEs (reply_requested, every discovery_interval_ms) after begin().
  static constexpr uint8_t kJoinAnnounces = 3;
  /// Most join-phase ANNOUNCEs: the phase goes on past kJoinAnnounces while the last one still
  /// drew a challenge (someone has not admitted this node: a handshake leg was lost).
  static constexpr uint8_t kMaxJoinAnnounces = 10;
  /// INFO_REQ attempts per page before the fetch moves on (it is retried on the next change check).
  static constexpr uint8_t kInfoTries = 3;
  /// A cookie is valid in its epoch and the next one: an echo must come back within 5..10 s.
  static constexpr uint32_t kCookieEpochMs = 5000;

 private:
  /// Protocol state per member, indexed by its MemberTable slot (MemberTable::slot_of) and reset
  /// when that member is forgotten, so the slot's next member starts afresh.
  struct Peer {
    uint32_t probe_id = 0;  // outstanding probe round, 0 = none
    uint32_t probe_sent_ms = 0;
    uint32_t announced_api_digest = 0;
    uint32_t announced_res_digest = 0;
    uint32_t held_res_digest = 0;
    uint8_t probe_phase = 0;  // kPhaseNone / kPhaseDirect / kPhaseIndirect
    bool announced = false;   // its digests are known (an ANNOUNCE or INFO arrived)
    bool chain = false;       // runs the DIGEST chain: it sent a DIGEST, a DIGEST_REQ or a heartbeat to this node
#if SPORE_DIGEST_LIVENESS
    bool digest_answered = false;     // a DIGEST_REQ of this member was answered at digest_answered_ms
    uint32_t digest_answered_ms = 0;  // (one answer per heartbeat period: a member asks once a round)
#endif
  };
  struct Relay {
    uint32_t our_probe_id = 0;  // 0 = free
    uint32_t their_probe_id = 0;
    uint32_t their_timestamp_ms = 0;
    uint32_t requester_id = 0;  // a member: the ACK goes to its address from the table
    uint32_t expires_ms = 0;
  };
  /// An ANNOUNCE to send at due_ms: an echo for a member, or a challenge to a stranger.
  struct PendingReply {
    uint64_t echo = 0;
    uint32_t ip = 0;  // 0 = free
    uint32_t due_ms = 0;
    uint32_t dest_id = 0;
    uint16_t port = 0;
    bool with_cookie = false;  // a challenge: carries this node's cookie
    bool padded = false;       // answers a padded ANNOUNCE: padded too, so the answer to it fits
  };
  struct JoinAddress {
    uint32_t ip = 0;
    uint16_t port = 0;
  };
  struct Challenge {
    uint32_t node_id = 0;
    uint32_t sent_ms = 0;
  };
  struct InfoFetch {
    uint32_t node_id = 0;  // 0 = idle
    uint32_t api_digest = 0;
    uint32_t sent_ms = 0;
    uint8_t page = 0;
    uint8_t tries = 0;
  };
  static constexpr uint8_t kPhaseNone = 0, kPhaseDirect = 1, kPhaseIndirect = 2;
  static constexpr size_t kChallenges = 4;

  void run_heartbeat(uint32_t now_ms);
  void run_tick(uint32_t now_ms);

  // membership.cpp: join, ANNOUNCE, LEAVE, gossip and refutation, dispatch.
  void dispatch(const wire::Message& msg, uint32_t now_ms);
  /// A member's ANNOUNCE, or a stranger's that echoes a live cookie (admission).
  void handle_announce(const wire::Message& msg, uint32_t now_ms);
  /// admission.cpp: a verified datagram of a non-member: admits it (live echo) or refuses and
  /// challenges it. The cookie and challenge helpers below live there too.
  void handle_stranger(uint32_t src_ip, uint16_t src_port, const wire::Message& msg, uint32_t now_ms);
  /// A DISCOVER from anyone: queues this node's ANNOUNCE to the packet source, dest = the asker,
  /// after 0..discovery_interval_ms/2 of jitter (docs/protocol.md §4.13); `discover_limited` past
  /// SPORE_MAX_DISCOVER_ANSWERS_PER_S or half of the reply queue.
  void answer_discover(uint32_t src_ip, uint16_t src_port, uint32_t asker_id, uint32_t now_ms);
  void handle_leave(const wire::Header& h, uint32_t now_ms);
  /// First-hand evidence from a member's non-ANNOUNCE datagram.
  Member* heard_from(const wire::Header& h, uint32_t now_ms);
  /// `broadcast`: the updates came in a heartbeat, so every member this node's broadcast reaches
  /// heard them (a copy of queued alive news counts as sent, GossipQueue::heard()).
  void apply_gossip(const wire::GossipList& updates, uint32_t now_ms, bool broadcast = false);
  /// Answers a suspicion of this node's current incarnation: at once, or at the next heartbeat
  /// when the last refutation is less than a heartbeat interval old.
  void refute(uint32_t now_ms);
  /// +1 and queued as gossip; false (nothing changes) when this run's refutations are used up.
  bool raise_incarnation(uint32_t now_ms);
  void alive_evidence(Peer& peer, Member& m);
  /// Piggybacks queued gossip on PING / ACK / PING_REQ / GOSSIP, then channel_.send().
  bool send(uint32_t ip, uint16_t port, uint32_t dest_id, wire::Message& msg);  // ip 0 = broadcast
  /// To a member, at its authenticated address.
  bool send_to(const Member& m, wire::Message& msg);
  /// Node id of the member at a join address, 0 (broadcast marker) while none is known there.
  uint32_t node_at(const JoinAddress& j) const;
  /// reply_requested ANNOUNCEs are padded and carry the cookie (a join: answers admit their senders).
  /// False when it was not sent (send()).
  bool send_announce(uint32_t ip, uint16_t port, uint32_t dest_id, bool reply_requested, uint64_t echo = 0,
                     bool with_cookie = false, bool padded = false);
  void broadcast_heartbeat();
  /// Queues an ANNOUNCE to dest_id at ip:port, due after `delay_ms`: an echo of `echo`, and a
  /// challenge (this node's cookie) when `with_cookie`. One per destination at a time. False when
  /// an answer due now was not sent (no anti-amplification credit, or the port refused).
  /// Only entries from `first` on are used; with `first` > 0 and none of them free, nothing is
  /// sent and the result is false (a DISCOVER's answers keep to the back half of the queue, so
  /// join replies always find a slot and keep their jitter).
  bool queue_reply(uint32_t dest_id, uint32_t ip, uint16_t port, uint64_t echo, bool with_cookie, bool padded,
                   uint32_t due_ms, size_t first = 0);
  /// Sends the queued answers that are due, and has the tick run again when the next one is.
  void send_due_replies(uint32_t now_ms);
  /// Challenges stranger `node_id` at ip:port, at most once per discovery interval.
  /// `padded`: it answers a padded ANNOUNCE (a join or a challenge), so it is padded too.
  void challenge(uint32_t node_id, uint32_t ip, uint16_t port, uint64_t echo, bool jitter, bool padded,
                 uint32_t now_ms);
  /// Delay of an answer to a join ANNOUNCE (a challenge, or a known member's reply), ms: spread
  /// by the cluster's size when this node is settled, over discovery_interval_ms / 2 while it is
  /// joining itself (a power-on: nobody knows the cluster's size yet).
  uint32_t join_answer_delay_ms();
  /// Another node's join ANNOUNCE came before this node's first one: a power-on, so the first
  /// one waits a random 0..start_jitter_max_ms (once) instead of going out in lock step.
  void defer_first_join(uint32_t now_ms);
  /// This node's cookie for node `node_id` at ip:port in the current epoch (docs/protocol.md
  /// §11.3): bound to the one it challenges, so an echo admits only that node at that address.
  uint64_t cookie(uint32_t now_ms, uint32_t node_id, uint32_t ip, uint16_t port) const;
  /// `c` is that cookie of the current or the previous epoch.
  bool cookie_live(uint64_t c, uint32_t now_ms, uint32_t node_id, uint32_t ip, uint16_t port) const;
  uint64_t cookie_at(uint32_t epoch, uint32_t node_id, uint32_t ip, uint16_t port) const;
  void queue_gossip(const Member& m, wire::MemberState state);

  // prober.cpp: SWIM probes and the relays this node runs for others.
  void handle_ping(const wire::Message& msg, uint32_t now_ms);
  void handle_ack(const wire::Message& msg, uint32_t now_ms);
  void handle_ping_req(const wire::Message& msg, uint32_t now_ms);
  void start_probe(Peer& peer, const Member& m, uint32_t now_ms);
  void start_indirect(Peer& peer, const Member& m, uint32_t now_ms);
  /// A PING to `m`; to a member suspected here it carries that suspicion (SWIM's refutation path).
  void send_ping(const Member& m, uint32_t probe_id, uint32_t now_ms);
  void probe_next_for_latency(uint32_t now_ms);
  void run_probes(uint32_t now_ms);
  uint32_t next_probe_id();

  // liveness.cpp: the DIGEST chain (Config::liveness kDigest, docs/protocol.md §11.12).
  /// The chain as this node last heard it: the newest DIGEST it follows, and this round's heartbeat.
  struct Chain {
    uint32_t round = 0;
    uint32_t sender_id = 0;  ///< who sent that DIGEST (this node's id when it did)
    uint32_t next_id = 0;    ///< who sends the next one (this node's heartbeat goes there)
    uint32_t backup_id = 0;  ///< who sends it when next_id's does not come
    uint32_t heard_ms = 0;   ///< when that DIGEST was heard or sent
    uint32_t heartbeat_due_ms = 0;
    uint32_t heartbeat_to_id = 0;  ///< where this round's heartbeat went (0: none sent, or judged)
    uint32_t heartbeat_sent_ms = 0;  ///< when it went
    uint32_t start_delay_ms = 0;   ///< extra wait before starting a chain when none is heard
    uint32_t fallback_ms = 0;      ///< last heartbeat broadcast outside the chain (no chain heard, a heal)
    bool heard = false;              ///< a chain is known
    bool heartbeat_pending = false;  ///< this round's heartbeat is still to send
    uint32_t pull_id = 0;  ///< who was last asked for a missed DIGEST (DIGEST_REQ), 0 = nobody yet
    uint8_t pulls = 0;     ///< DIGEST_REQs sent since the last DIGEST heard
    bool roster_asked = false;    ///< a ROSTER_DIGEST of another roster made this node ask for a DIGEST
    uint32_t roster_asked_ms = 0;  ///< when (one such request a period)
  };
  /// Config::liveness kDigest, and this node's table has room: a full table may mean a cluster
  /// larger than it, whose members each know different others, so the chain cannot reach them all
  /// (DIGESTs of senders a node does not know are no evidence there): heartbeats are broadcast.
  bool digest_mode() const {
    return SPORE_DIGEST_LIVENESS && ctx_.config().liveness == Liveness::kDigest &&
           ctx_.members().size() < MemberTable::capacity();
  }
  /// A chain was heard within 1.5 heartbeat periods: heartbeats go to its next sender.
  bool chain_live(uint32_t now_ms) const;
  void handle_digest(const wire::Message& msg, uint32_t now_ms);
  /// What one DIGEST told this node, entry by entry (take_evidence()).
  struct Evidence {
    bool listed = false;     ///< this node's own entry was there, `own_age_ms` old
    bool recovered = false;  ///< it made a member that was not ACTIVE here ACTIVE again
    bool unknown = false;    ///< it named a member this table does not hold
    uint32_t own_age_ms = 0;
  };
  /// One entry of a DIGEST or ROSTER_DIGEST: `node_id` was alive `age_ms` ago.
  void take_evidence(uint32_t node_id, uint32_t age_ms, uint32_t now_ms, Evidence& ev);
  /// A ROSTER_DIGEST from `from` was of another roster: asks `from` for its DIGEST with ids, when
  /// the followed chain names it (or none is followed), at most once a period.
  void ask_for_ids(uint32_t from, uint32_t now_ms);
  /// The ages of a ROSTER_DIGEST, when its roster is this node's; false (nothing taken) otherwise
  /// (always, when SPORE_ROSTER_DIGEST is 0).
  bool take_roster(const wire::Digest& d, uint32_t now_ms, Evidence& ev);
#if SPORE_ROSTER_DIGEST
  /// This node's roster: the ids of its table and its own, ascending, into `ids` (room for
  /// SPORE_MAX_MEMBERS + 1). Returns how many.
  size_t sorted_roster(uint32_t* ids) const;
#endif
  /// Takes `d` from `sender_id` as the chain this node follows (when it is newer: a higher round, or
  /// the same round from a lower id, or the old chain is silent) and schedules this round's heartbeat.
  bool follow_chain(uint32_t sender_id, const wire::Digest& d, uint32_t now_ms);
  /// From run_tick(): this round's heartbeat, this node's DIGEST when it is due, the fallbacks.
  void run_liveness(uint32_t now_ms);
  /// This node's turn: broadcasts the next round's DIGEST and follows it.
  void send_digest(uint32_t now_ms);
  /// Composes this node's evidence as DIGEST(s) of `round` naming next and backup, and sends them
  /// to ip:port (0 = broadcast), as many pages as it takes. False when nothing was sent.
  bool send_digest_pages(uint32_t ip, uint16_t port, uint32_t dest_id, wire::Digest& d, uint32_t now_ms);
#if SPORE_ROSTER_DIGEST
  /// Broadcasts this node's evidence as one ROSTER_DIGEST (an age for every member of its roster).
  bool send_roster_digest(wire::Digest& d, uint32_t now_ms);
#endif
  /// A member that missed this node's DIGEST asks for it: the chain as this node knows it, unicast.
  void handle_digest_req(const wire::Header& h, uint32_t now_ms);
  /// The member with the smallest id above `id` (wrapping) in this node's ring: itself and every
  /// ACTIVE, unsuspected member known to run the chain (Peer::chain), or, while none is known (a
  /// chain starting), every ACTIVE unsuspected member.
  uint32_t ring_after(uint32_t id) const;
  /// A period of the periodic ANNOUNCE: member_info_interval_ms, and in digest mode at least
  /// 4 x (members + 1) heartbeat periods, so the cluster sends O(1) of them per period.
  uint32_t announce_interval_ms() const;

  // info_sync.cpp: resources and API lists by INFO_REQ / INFO pages.
  void handle_info_req(const wire::Message& msg);
  void handle_info(const wire::Message& msg, uint32_t now_ms);
  void run_info_sync(uint32_t now_ms);
  void send_info_req(uint32_t now_ms);

  Peer& peer_of(const Member& m) { return peers_[ctx_.members().slot_of(m)]; }
  uint32_t compute_resources_digest() const;
  uint32_t random_below(uint32_t bound);

  NodeContext& ctx_;
  Random& random_;
  MembershipStats stats_;
  GossipQueue gossip_;
  Task heartbeat_task_;
  Task tick_task_;
  ClusterEvents events_;
  std::array<Peer, MemberTable::capacity()> peers_{};  // [MemberTable::slot_of(member)]
  std::array<Relay, SPORE_MAX_RELAYED_PROBES> relays_{};
  std::array<PendingReply, SPORE_MAX_PENDING_REPLIES> replies_{};
  std::array<JoinAddress, SPORE_MAX_JOIN_ADDRESSES> join_{};
  std::array<Challenge, kChallenges> challenges_{};
  HmacKey cookie_key_;  // random secret, from the Random port at begin()
  InfoFetch fetch_;
  Chain chain_;
  uint32_t digest_round_ = 0;        ///< the newest DIGEST round heard (serial arithmetic)
  uint32_t digest_round_ms_ = 0;     ///< when it was heard
  bool digest_round_known_ = false;
  uint32_t begun_ms_ = 0;
  uint8_t heartbeats_ = 0;  ///< heartbeat-task runs, for the digest mode's latency probe every 4th
  char hostname_[SPORE_MAX_HOSTNAME_LEN + 1] = {};  // ctx's hostname made wire-safe
  char sdk_version_[SPORE_MAX_VERSION_LEN + 1] = {};
  uint32_t probe_counter_ = 0;
  uint32_t image_digest_ = 0;
  uint32_t resources_digest_ = 0;
  uint32_t announced_api_digest_ = 0;
  uint32_t announced_res_digest_ = 0;
  uint32_t announced_image_digest_ = 0;
  uint32_t last_announce_ms_ = 0;
  uint32_t boot_incarnation_ = 0;  ///< this boot's first incarnation, low 16 bits clear (begin())
  uint32_t last_refute_ms_ = 0;
  uint32_t discover_window_ms_ = 0;  ///< start of the second answer_discover() counts in
  uint8_t discover_answers_ = 0;     ///< DISCOVERs answered in it
  bool refuted_ = false;
  bool refute_pending_ = false;
  uint8_t join_count_ = 0;
  uint8_t join_announces_left_ = kJoinAnnounces;
  uint8_t join_announces_sent_ = 0;
  bool challenged_ = false;  ///< a challenge came, or a stranger was heard, since the last join ANNOUNCE
  bool join_deferred_ = false;  ///< defer_first_join() moved the first join ANNOUNCE
  uint8_t latency_cursor_ = 0;
  uint8_t fetch_cursor_ = 0;
  bool begun_ = false;
  bool left_ = false;
  // Last: its transmit buffer is large, and fields past it cost longer loads on the lx106.
  DatagramChannel channel_;
};

}  // namespace spore
