#pragma once
/// @file amplification_guard.h
/// Anti-amplification (docs/protocol.md §11.11, QUIC's rule with factor 1): to an address that has
/// not proved it is a member, a node sends at most as many bytes as it received from that address.
/// A LAN peer who spoofs a victim's source address therefore cannot make a node send the victim
/// more than the peer itself sent (issue 20, finding 6: EVENT_REQ answered with 49x its size).
///
/// A fixed table of SPORE_MAX_UNVERIFIED_SOURCES credits, one per (ip, port): on_received() adds
/// the bytes received (up to kMaxCreditBytes, so credit cannot be hoarded for a burst later),
/// may_send() takes the bytes of a datagram or refuses it when the credit is short. A source not in
/// the table takes a free entry, else the least recently heard one; credit unused for
/// kCreditLifetimeMs is void. A flood of spoofed sources can only make a node forget credit
/// (answer less), never send more. Configured join addresses are trusted (the operator named
/// them): trust() lists them apart, and they need no credit. Members' table addresses and
/// broadcasts are not asked about at all (DatagramChannel decides). No allocation; not thread-safe.

#include <array>
#include <cstddef>
#include <cstdint>

#include "spore/base/limits.h"

namespace spore {

class AmplificationGuard {
 public:
  /// Credit unused this long is void (the handshake it was for is long over or never came).
  static constexpr uint32_t kCreditLifetimeMs = 30000;
  /// Most credit one address holds: a few answers' worth.
  static constexpr uint32_t kMaxCreditBytes = 4 * SPORE_MAX_DATAGRAM_BYTES;

  /// Adds `size_bytes` to the credit of ip:port (a datagram from there arrived at `now_ms`).
  void on_received(uint32_t ip, uint16_t port, size_t size_bytes, uint32_t now_ms);
  /// True, taking `size_bytes` of its credit, when ip:port may be sent a datagram of that size;
  /// false (nothing taken) when its credit is short. Always true for a trusted address.
  bool may_send(uint32_t ip, uint16_t port, size_t size_bytes, uint32_t now_ms);
  /// Trusts ip:port for good (a configured join address); false when SPORE_MAX_JOIN_ADDRESSES
  /// addresses are trusted already.
  bool trust(uint32_t ip, uint16_t port);

 private:
  // Plain structs, zeroed by the arrays' {} (no constructor code on the lx106).
  struct Entry {
    uint32_t ip;  // 0 = free
    uint32_t credit_bytes;
    uint32_t last_ms;
    uint16_t port;
  };
  struct Address {
    uint32_t ip;  // 0 = free
    uint16_t port;
  };
  /// The entry of ip:port (its credit voided when expired), or null; with `add`, a new entry
  /// in place of a free or the least recently heard one.
  Entry* entry(uint32_t ip, uint16_t port, uint32_t now_ms, bool add);

  std::array<Entry, SPORE_MAX_UNVERIFIED_SOURCES> entries_{};
  std::array<Address, SPORE_MAX_JOIN_ADDRESSES> trusted_{};
};

}  // namespace spore
