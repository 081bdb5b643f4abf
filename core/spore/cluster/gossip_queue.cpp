#include "spore/cluster/gossip_queue.h"

#include "spore/base/incarnation.h"

namespace spore {

namespace {
// SWIM precedence: an update overrides another about the same node when it is about a later
// incarnation, or the same one with a stronger claim.
bool overrides(const wire::GossipEntry& a, const wire::GossipEntry& b) {
  if (a.incarnation != b.incarnation) return incarnation_newer(a.incarnation, b.incarnation);
  return static_cast<uint8_t>(a.state) >= static_cast<uint8_t>(b.state);
}
}  // namespace

void GossipQueue::push(const wire::GossipEntry& entry, uint8_t transmissions) {
  if (entry.node_id == 0 || transmissions == 0) return;
  Item* slot = nullptr;
  for (Item& it : items_) {
    if (it.left != 0 && it.entry.node_id == entry.node_id) {
      if (!overrides(entry, it.entry)) return;
      slot = &it;
      break;
    }
  }
  if (slot == nullptr) {
    for (Item& it : items_) {
      if (it.left == 0) {
        slot = &it;
        break;
      }
    }
  }
  if (slot == nullptr) {
    slot = &items_[0];
    for (Item& it : items_)
      if (it.sent > slot->sent) slot = &it;
    ++overflows_;
  }
  slot->entry = entry;
  slot->left = transmissions;
  slot->sent = 0;
}

size_t GossipQueue::take(wire::GossipEntry* out, size_t max) {
  size_t n = 0;
  for (Item& it : items_) {
    if (it.left == 0 || n == max) continue;
    out[n++] = it.entry;
    --it.left;
    ++it.sent;
  }
  return n;
}

void GossipQueue::remove(uint32_t node_id) {
  for (Item& it : items_)
    if (it.left != 0 && it.entry.node_id == node_id) it = Item{};
}

void GossipQueue::clear() {
  for (Item& it : items_) it = Item{};
}

size_t GossipQueue::size() const {
  size_t n = 0;
  for (const Item& it : items_) n += it.left != 0 ? 1 : 0;
  return n;
}

}  // namespace spore
