#pragma once
/// @file udp_intake.h
/// The one receive path of every platform (ESP8266, Linux, simulator): each loop pass takes the
/// datagrams queued in the node's UdpPort, at most datagrams_per_pass() of them, reading each
/// into one fixed buffer and handing it to Membership::on_datagram(), or dropping it unread.
///
/// Why consume every datagram (esp8266/Arduino#6831): pbufs of datagrams nobody reads pile up
/// and fragment the heap until allocations fail inside the WiFi stack. A datagram is dropped
/// unread when it is larger than SPORE_MAX_DATAGRAM_BYTES (no SPORE peer sends one), or when the
/// port's largest free heap block is below the threshold: handling it could make Membership
/// answer, and every send allocates pbufs the node cannot spare then. Drops are counted, never
/// retried. Send failures are Membership's to count (MembershipStats::send_failures).
///
/// Host-tested in tests/unit/udp_intake_test.cpp.

#include <cstddef>
#include <cstdint>

#include "spore/base/delegate.h"
#include "spore/base/limits.h"
#include "spore/base/ports.h"

namespace spore {

/// Receive counters (GET /metrics reports the drops as reasons of cspore_datagrams_rejected_total).
struct UdpStats {
  uint32_t received = 0;            ///< read and handed on
  uint32_t dropped_low_heap = 0;    ///< dropped unread: largest free block below the threshold
  uint32_t dropped_oversize = 0;    ///< dropped unread: longer than SPORE_MAX_DATAGRAM_BYTES
  uint32_t dropped_short_read = 0;  ///< the socket returned fewer bytes than it announced
};

/// Where a datagram read goes (Membership::on_datagram); `data` is valid only during the call.
using DatagramHandler = Delegate<void(uint32_t src_ip, uint16_t src_port, const uint8_t* data, size_t size_bytes)>;

/// True when a datagram of `size_bytes` may be sent: 1..SPORE_MAX_DATAGRAM_BYTES, never
/// fragmented.
inline bool datagram_size_ok(size_t size_bytes) { return size_bytes > 0 && size_bytes <= SPORE_MAX_DATAGRAM_BYTES; }

class UdpIntake {
 public:
  /// Below this largest free block (bytes) incoming datagrams are dropped unread.
  static constexpr uint32_t kDefaultMinFreeBlockBytes = 4096;
  /// The ESP8266's per-pass limit (limits.h explains the figure).
  static constexpr uint8_t kMaxDatagramsPerPoll = SPORE_UDP_DATAGRAMS_PER_PASS;

  explicit UdpIntake(uint16_t datagrams_per_pass = kMaxDatagramsPerPoll)
      : datagrams_per_pass_(datagrams_per_pass > 0 ? datagrams_per_pass : 1) {}

  void set_min_free_block_bytes(uint32_t bytes) { min_free_block_bytes_ = bytes; }
  uint32_t min_free_block_bytes() const { return min_free_block_bytes_; }
  uint16_t datagrams_per_pass() const { return datagrams_per_pass_; }

  /// Consumes up to datagrams_per_pass() queued datagrams of `port`, handing each one read to
  /// `deliver`. Returns how many were delivered. Not reentrant (one shared buffer).
  size_t poll(UdpPort& port, DatagramHandler deliver);
  /// Datagrams the last poll() took from the port (delivered or dropped).
  uint16_t last_poll_taken() const { return last_taken_; }

  const UdpStats& stats() const { return stats_; }

 private:
  UdpStats stats_{};
  uint32_t min_free_block_bytes_ = kDefaultMinFreeBlockBytes;
  uint16_t datagrams_per_pass_;
  uint16_t last_taken_ = 0;
  uint8_t buffer_[SPORE_MAX_DATAGRAM_BYTES];
};

}  // namespace spore
