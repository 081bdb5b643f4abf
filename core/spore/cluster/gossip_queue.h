#pragma once
/// @file gossip_queue.h
/// Membership updates waiting to be piggybacked on outgoing datagrams (SWIM's dissemination
/// buffer): suspicions, refutations, leaves and joins. Each entry is sent a bounded number of
/// times and then dropped, so news spreads epidemically and the queue is empty in steady state:
/// a quiet cluster piggybacks nothing.
///
/// One entry per MemberTable slot (the news about the member there) plus one for this node itself
/// (refutations): the member table's capacity is the only one, and there is no eviction, because
/// a member's news only ever replaces older news about the same member. Node id and address are
/// read from the MemberTable when an entry is sent, so they are never stale; a forgotten member's
/// entry is dropped with its slot (remove(), from Membership's forget hook). The incarnation is
/// kept with the news, not read at send time: a suspicion queued before a second-hand refutation
/// would otherwise go out at the refuted incarnation and make the member refute once more.

#include <array>
#include <cstddef>
#include <cstdint>

#include "spore/base/limits.h"
#include "spore/cluster/member_table.h"
#include "spore/wire/wire_messages.h"

namespace spore {

static_assert(SPORE_GOSSIP_QUEUE_LEN >= 1 && SPORE_GOSSIP_QUEUE_LEN <= 27,
              "one datagram's share of the queue must fit one PING (max_gossip_entries)");

class GossipQueue {
 public:
  /// Index of this node's own entry (after the member slots).
  static constexpr size_t kSelf = MemberTable::capacity();
  /// Transmissions of one entry. Heartbeats are broadcast, so each one reaches everybody who is
  /// reachable; a few repeats cover loss. A copy of this node's "alive" news about a member heard
  /// in another member's heartbeat counts as one of them (heard()).
  static constexpr uint8_t kTransmissions = 3;

  /// Queues news about the member in `slot` (MemberTable::slot_of) or this node (kSelf) at
  /// `incarnation`, to be sent kTransmissions times. Queued news about the same slot is replaced
  /// unless it is newer (larger incarnation, or same incarnation and a stronger state:
  /// alive < suspect < dead < left), the SWIM precedence. Out-of-range slots are ignored.
  void push(size_t slot, uint32_t incarnation, wire::MemberState state);

  /// Copies at most `max` queued entries to `out`, those with the most transmissions left first
  /// (fresh news goes first, SWIM; among equals this node's own, then slot order), and counts one
  /// transmission for each; entries whose budget is spent leave the queue. Node id and address
  /// come from `members` (a member without a UDP port of its own gets self.udp_port, the cluster's
  /// port) and from `self` for kSelf; an entry whose slot holds no member is dropped. Returns how
  /// many were copied.
  size_t take(const MemberTable& members, const wire::GossipEntry& self, wire::GossipEntry* out, size_t max);

  /// Counts a copy of queued "alive" news about `slot` (at `incarnation` or an older one), heard
  /// in another member's heartbeat, as one of its transmissions: that heartbeat was a broadcast,
  /// so it reached everybody this node's heartbeat would reach. Suspicions, leaves and this
  /// node's refutations keep their count (heard copies of those are someone else's evidence).
  ///
  /// Why: "alive" news is queued when a member is discovered (or restarts) from its own ANNOUNCE,
  /// which it broadcasts too: on a LAN every member discovers a joiner first hand at about the
  /// same time, and each one's 3 copies reached everybody who had the news already (N x 3
  /// broadcasts per join; 3 N^2 for a cluster booting together). The news matters to members that
  /// cannot hear the joiner (a join address on another network, §11.9 of docs/protocol.md), and
  /// the member that learned of it there has nobody to hear it from, so it sends all 3. This is
  /// Trickle's suppression (RFC 6206) with k = 3. Measured: convergence traffic 2-14 % below
  /// main's 8-entry queue, which dropped news instead (docs/benchmarks.md "Gossip per member
  /// slot", bench/gossip_slots.sh; under 30 % loss joins are slower on average, cause open).
  void heard(size_t slot, uint32_t incarnation);

  /// Drops the entry of `slot`, if any.
  void remove(size_t slot);
  void clear();

  /// Entries waiting to be sent.
  size_t size() const;
  /// Entries the queue can hold: one per member slot plus this node's own.
  static constexpr size_t capacity() { return kSlots; }

 private:
  static constexpr size_t kSlots = kSelf + 1;
  // news_ holds a slot's transmissions left (0 = nothing queued) and its state in one byte, so a
  // slot costs 5 B on the lx106 ABI (with the incarnation beside it; a struct would be padded to 8).
  static constexpr uint8_t kLeftMask = 0x03;
  static constexpr unsigned kStateShift = 2;
  static constexpr uint8_t kTaken = 0x80;  // during take(): copied in this call
  static_assert(kTransmissions <= kLeftMask, "the count must fit its bits");
  static_assert(static_cast<uint8_t>(wire::MemberState::kLeft) < (kTaken >> kStateShift), "the state must fit");

  uint8_t left(size_t slot) const { return news_[slot] & kLeftMask; }
  wire::MemberState state(size_t slot) const { return static_cast<wire::MemberState>(news_[slot] >> kStateShift); }
  void set(size_t slot, wire::MemberState state, uint8_t left) {
    news_[slot] = static_cast<uint8_t>(static_cast<uint8_t>(state) << kStateShift | left);
  }

  std::array<uint32_t, kSlots> incarnation_{};
  std::array<uint8_t, kSlots> news_{};
};

}  // namespace spore
