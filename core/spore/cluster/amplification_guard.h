#pragma once
/// @file amplification_guard.h
/// Anti-amplification (docs/protocol.md §11.11, QUIC's rule with factor 1): to an address that has
/// not proved it is a member, a node sends at most as many bytes as it received from that address.
/// A LAN peer who spoofs a victim's source address therefore cannot make a node send the victim
/// more than the peer itself sent (issue 20, finding 6: EVENT_REQ answered with 49x its size).
///
/// A fixed table of SPORE_MAX_UNVERIFIED_SOURCES credits, one per (ip, port): on_received() adds
/// the bytes received, may_send() takes the bytes of a datagram or refuses it when the credit is
/// short. A source not in the table takes a free entry, else one whose credit expired
/// (kCreditLifetimeMs without traffic), else the least recently used one: a flood of spoofed
/// sources can only make a node forget credit (answer less), never send more. Configured join
/// addresses are trusted (the operator named them), and so take no credit: trust() pins them in
/// SPORE_MAX_JOIN_ADDRESSES extra entries. Members' table addresses and broadcasts are not asked
/// about at all (DatagramChannel decides). No allocation; not thread-safe.

#include <array>
#include <cstddef>
#include <cstdint>

#include "spore/base/limits.h"

namespace spore {

class AmplificationGuard {
 public:
  /// Credit unused this long is forgotten (the handshake it was for is long over or never came).
  static constexpr uint32_t kCreditLifetimeMs = 30000;

  /// Adds `size_bytes` to the credit of ip:port (a datagram from there arrived at `now_ms`).
  void on_received(uint32_t ip, uint16_t port, size_t size_bytes, uint32_t now_ms);
  /// True, taking `size_bytes` of its credit, when ip:port may be sent a datagram of that size;
  /// false (nothing taken) when its credit is short. Always true for a trusted address.
  bool may_send(uint32_t ip, uint16_t port, size_t size_bytes, uint32_t now_ms);
  /// Trusts ip:port for good (a configured join address); false when SPORE_MAX_JOIN_ADDRESSES
  /// addresses are trusted already.
  bool trust(uint32_t ip, uint16_t port);

 private:
  static constexpr uint32_t kTrusted = UINT32_MAX;  // credit of a trusted entry
  struct Entry {
    uint32_t ip = 0;  // 0 = free
    uint32_t credit_bytes = 0;
    uint32_t last_ms = 0;
    uint16_t port = 0;
  };
  Entry* find(uint32_t ip, uint16_t port, uint32_t now_ms);

  std::array<Entry, SPORE_MAX_UNVERIFIED_SOURCES + SPORE_MAX_JOIN_ADDRESSES> entries_{};
};

}  // namespace spore
