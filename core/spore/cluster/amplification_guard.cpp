#include "spore/cluster/amplification_guard.h"

#include "spore/base/ports.h"

namespace spore {

AmplificationGuard::Entry* AmplificationGuard::entry(uint32_t ip, uint16_t port, uint32_t now_ms, bool add) {
  Entry* victim = &entries_[0];
  for (Entry& e : entries_) {
    if (e.ip == ip && e.port == port) {
      if (elapsed_ms(now_ms, e.last_ms) >= kCreditLifetimeMs) e.credit_bytes = 0;
      return &e;
    }
    if (victim->ip != 0 && (e.ip == 0 || elapsed_ms(now_ms, e.last_ms) > elapsed_ms(now_ms, victim->last_ms)))
      victim = &e;
  }
  if (!add) return nullptr;
  *victim = Entry{ip, 0, now_ms, port};
  return victim;
}

void AmplificationGuard::on_received(uint32_t ip, uint16_t port, size_t size_bytes, uint32_t now_ms) {
  if (ip == 0) return;
  Entry* e = entry(ip, port, now_ms, true);
  e->credit_bytes += size_bytes < kMaxCreditBytes ? static_cast<uint32_t>(size_bytes) : kMaxCreditBytes;
  if (e->credit_bytes > kMaxCreditBytes) e->credit_bytes = kMaxCreditBytes;
  e->last_ms = now_ms;
}

bool AmplificationGuard::may_send(uint32_t ip, uint16_t port, size_t size_bytes, uint32_t now_ms) {
  for (const Address& a : trusted_) {
    if (a.ip == ip && a.port == port) return true;
  }
  Entry* e = ip != 0 ? entry(ip, port, now_ms, false) : nullptr;
  if (e == nullptr || e->credit_bytes < size_bytes) return false;
  e->credit_bytes -= static_cast<uint32_t>(size_bytes);
  return true;
}

bool AmplificationGuard::trust(uint32_t ip, uint16_t port) {
  for (Address& a : trusted_) {
    if (a.ip == ip && a.port == port) return true;
    if (a.ip == 0) {
      a = Address{ip, port};
      return true;
    }
  }
  return false;
}

}  // namespace spore
