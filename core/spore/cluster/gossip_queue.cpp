#include "spore/cluster/gossip_queue.h"

#include "spore/base/incarnation.h"

namespace spore {

void GossipQueue::push(size_t slot, uint32_t incarnation, wire::MemberState state) {
  if (slot >= capacity()) return;
  // SWIM precedence: news overrides queued news about the same node when it is about a later
  // incarnation, or the same one with a stronger claim.
  if (left(slot) != 0 &&
      (incarnation == incarnation_[slot] ? static_cast<uint8_t>(state) < static_cast<uint8_t>(this->state(slot))
                                         : !incarnation_newer(incarnation, incarnation_[slot])))
    return;
  incarnation_[slot] = incarnation;
  set(slot, state, kTransmissions);
}

size_t GossipQueue::take(const MemberTable& members, const wire::GossipEntry& self, wire::GossipEntry* out,
                         size_t max) {
  size_t n = 0;
  // Every entry starts with the same budget, so most left = least sent: fresh news first. An
  // entry taken in this call is marked kTaken, so the next (smaller) budget's pass skips it.
  // This node's own entry comes first: a refutation is late once the suspicion times out.
  for (uint8_t budget = kTransmissions; budget != 0; --budget) {
    for (size_t i = 0; i < kSlots && n < max; ++i) {
      const size_t slot = i == 0 ? kSelf : i - 1;
      if ((news_[slot] & (kLeftMask | kTaken)) != budget) continue;
      wire::GossipEntry e = self;
      if (slot != kSelf) {
        const Member* m = members.at_slot(slot);
        if (m == nullptr) {
          news_[slot] = 0;
          continue;
        }
        e.node_id = m->node_id;
        e.ip = m->ip;
        e.udp_port = m->udp_port_or(self.udp_port);
        e.http_port = m->http_port;
      }
      e.incarnation = incarnation_[slot];
      e.state = state(slot);
      out[n++] = e;
      set(slot, e.state, budget - 1);
      news_[slot] |= kTaken;
    }
  }
  for (uint8_t& news : news_) news &= static_cast<uint8_t>(~kTaken);
  return n;
}

void GossipQueue::heard(size_t slot, uint32_t incarnation) {
  if (slot < capacity() && left(slot) != 0 && state(slot) == wire::MemberState::kAlive &&
      !incarnation_newer(incarnation_[slot], incarnation))
    set(slot, wire::MemberState::kAlive, left(slot) - 1);
}

void GossipQueue::remove(size_t slot) {
  if (slot < capacity()) news_[slot] = 0;
}

void GossipQueue::clear() { news_.fill(0); }

size_t GossipQueue::size() const {
  size_t n = 0;
  for (size_t slot = 0; slot < kSlots; ++slot) n += left(slot) != 0 ? 1 : 0;
  return n;
}

}  // namespace spore
