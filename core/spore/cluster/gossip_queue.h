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
  /// reachable; a few repeats cover loss.
  static constexpr uint8_t kTransmissions = 3;

  /// Queues news about the member in `slot` (MemberTable::slot_of) or this node (kSelf) at
  /// `incarnation`, to be sent kTransmissions times. Queued news about the same slot is replaced
  /// unless it is newer (larger incarnation, or same incarnation and a stronger state:
  /// alive < suspect < dead < left), the SWIM precedence. Out-of-range slots are ignored.
  void push(size_t slot, uint32_t incarnation, wire::MemberState state);

  /// Copies at most `max` queued entries to `out`, those with the most transmissions left first
  /// (fresh news goes first, SWIM; among equals this node's own, then slot order), and counts one
  /// transmission for each; entries whose budget is spent leave the queue. Node id and address come from `members` (a member without a UDP
  /// port of its own gets self.udp_port, the cluster's port) and from `self` for kSelf; an
  /// entry whose slot holds no member is dropped. Returns how many were copied.
  size_t take(const MemberTable& members, const wire::GossipEntry& self, wire::GossipEntry* out, size_t max);

  /// Drops the entry of `slot`, if any.
  void remove(size_t slot);
  void clear();

  /// Entries waiting to be sent.
  size_t size() const;
  /// Entries the queue can hold: one per member slot plus this node's own.
  static constexpr size_t capacity() { return kSlots; }

 private:
  static constexpr size_t kSlots = kSelf + 1;
  static constexpr uint8_t kTaken = 0x80;  // in left_ during take(): copied in this call
  // Parallel arrays: 6 B per slot on the lx106 ABI, where a struct would be padded to 8.
  std::array<uint32_t, kSlots> incarnation_{};
  std::array<wire::MemberState, kSlots> state_{};
  std::array<uint8_t, kSlots> left_{};  // transmissions left; 0 = nothing queued
};

}  // namespace spore
