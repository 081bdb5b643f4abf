#pragma once
/// @file gossip_queue.h
/// Membership updates waiting to be piggybacked on outgoing datagrams (SWIM's dissemination
/// buffer): suspicions, refutations, leaves and joins. Each entry is sent a bounded number of
/// times and then dropped, so news spreads epidemically and the queue is empty in steady state:
/// a quiet cluster piggybacks nothing.
///
/// Fixed capacity (SPORE_GOSSIP_QUEUE_LEN); one entry per node id, a newer update about a node
/// replaces the older one. When full, the entry sent most often makes room.

#include <array>
#include <cstddef>
#include <cstdint>

#include "spore/base/limits.h"
#include "spore/wire/wire_messages.h"

namespace spore {

static_assert(SPORE_GOSSIP_QUEUE_LEN >= 1 && SPORE_GOSSIP_QUEUE_LEN <= 27,
              "the whole queue must fit one PING (max_gossip_entries) so take() never has to choose");

class GossipQueue {
 public:
  /// Queues `entry` to be sent `transmissions` times (>= 1). An entry about the same node is
  /// replaced unless it is newer (larger incarnation, or same incarnation and a stronger state:
  /// alive < suspect < dead < left), the SWIM precedence.
  void push(const wire::GossipEntry& entry, uint8_t transmissions);

  /// Copies every queued entry (at most `max`) to `out` and counts one transmission for each;
  /// entries whose budget is spent leave the queue. Returns how many were copied.
  size_t take(wire::GossipEntry* out, size_t max);

  /// Drops the entry about `node_id`, if any.
  void remove(uint32_t node_id);
  void clear();

  size_t size() const;
  static constexpr size_t capacity() { return SPORE_GOSSIP_QUEUE_LEN; }
  /// Entries pushed out unsent because the queue was full.
  uint32_t overflows() const { return overflows_; }

 private:
  struct Item {
    wire::GossipEntry entry;
    uint8_t left = 0;  // transmissions left; 0 = free slot
    uint8_t sent = 0;
  };
  std::array<Item, SPORE_GOSSIP_QUEUE_LEN> items_{};
  uint32_t overflows_ = 0;
};

}  // namespace spore
