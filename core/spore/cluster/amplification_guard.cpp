#include "spore/cluster/amplification_guard.h"

#include "spore/base/ports.h"

namespace spore {

AmplificationGuard::Entry* AmplificationGuard::find(uint32_t ip, uint16_t port, uint32_t now_ms) {
  for (Entry& e : entries_) {
    if (e.ip != ip || e.port != port) continue;
    if (e.credit_bytes != kTrusted && elapsed_ms(now_ms, e.last_ms) >= kCreditLifetimeMs) e = Entry{};
    return e.ip != 0 ? &e : nullptr;
  }
  return nullptr;
}

void AmplificationGuard::on_received(uint32_t ip, uint16_t port, size_t size_bytes, uint32_t now_ms) {
  if (ip == 0) return;
  Entry* e = find(ip, port, now_ms);
  if (e == nullptr) {
    // A free entry, else the least recently used one (an expired one is the least recent).
    e = &entries_[0];
    for (Entry& c : entries_) {
      if (c.credit_bytes == kTrusted) continue;
      if (c.ip == 0) {
        e = &c;
        break;
      }
      if (e->credit_bytes == kTrusted || elapsed_ms(now_ms, c.last_ms) > elapsed_ms(now_ms, e->last_ms)) e = &c;
    }
    *e = Entry{ip, 0, now_ms, port};
  }
  if (e->credit_bytes == kTrusted) return;
  const uint32_t room = kTrusted - 1 - e->credit_bytes;
  e->credit_bytes += size_bytes < room ? static_cast<uint32_t>(size_bytes) : room;
  e->last_ms = now_ms;
}

bool AmplificationGuard::may_send(uint32_t ip, uint16_t port, size_t size_bytes, uint32_t now_ms) {
  Entry* e = find(ip, port, now_ms);
  if (e == nullptr || e->credit_bytes < size_bytes) return false;
  if (e->credit_bytes != kTrusted) e->credit_bytes -= static_cast<uint32_t>(size_bytes);
  return true;
}

bool AmplificationGuard::trust(uint32_t ip, uint16_t port) {
  size_t trusted = 0;
  Entry* spot = nullptr;
  for (Entry& e : entries_) {
    if (e.ip == ip && e.port == port) spot = &e;
    if (e.credit_bytes == kTrusted) ++trusted;
  }
  if (spot == nullptr || spot->credit_bytes != kTrusted) {
    if (trusted >= SPORE_MAX_JOIN_ADDRESSES) return false;
    if (spot == nullptr) {
      // Some entry is not trusted (there are SPORE_MAX_JOIN_ADDRESSES more entries than trusted
      // ones can take): the untrusted credit it held is lost, which only means answering less.
      for (Entry& e : entries_) {
        if (e.credit_bytes != kTrusted && (spot == nullptr || e.ip == 0)) spot = &e;
      }
    }
  }
  *spot = Entry{ip, kTrusted, 0, port};
  return true;
}

}  // namespace spore
