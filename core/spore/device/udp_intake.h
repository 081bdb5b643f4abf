#pragma once
/// @file udp_intake.h
/// The receive policy of a platform whose UDP socket queues datagrams in the network stack's own
/// heap (lwIP pbufs on the ESP8266): every poll consumes queued datagrams, at most
/// kMaxDatagramsPerPoll of them, reading each into one fixed buffer or dropping it unread.
///
/// Why consume every datagram (esp8266/Arduino#6831): pbufs of datagrams nobody reads pile up
/// and fragment the heap until allocations fail inside the WiFi stack. A datagram is dropped
/// unread when it is larger than SPORE_MAX_DATAGRAM_BYTES (no SPORE peer sends one), or when the
/// largest free heap block is below the threshold: handling it could make Membership answer,
/// and every send allocates pbufs the node cannot spare then. Drops are counted, never retried.
///
/// Host-tested in tests/unit/udp_intake_test.cpp; the ESP8266 adapter (esp8266/udp.cpp) only
/// wraps WiFiUDP as a DatagramSource.

#include <cstddef>
#include <cstdint>

#include "spore/base/delegate.h"
#include "spore/base/limits.h"

namespace spore {

struct UdpStats {
  uint32_t received = 0;          ///< read and handed on
  uint32_t dropped_low_heap = 0;  ///< dropped unread: largest free block below the threshold
  uint32_t dropped_oversize = 0;  ///< dropped unread: longer than SPORE_MAX_DATAGRAM_BYTES
  uint32_t dropped_short_read = 0;  ///< the socket returned fewer bytes than it announced
  uint32_t send_failed = 0;       ///< the platform refused a send (see record_send())
};

/// What UdpIntake needs of the platform's socket.
class DatagramSource {
 public:
  virtual ~DatagramSource() = default;
  /// Moves to the next queued datagram, discarding the unread rest of the current one. Its size
  /// in bytes; 0 when none is queued.
  virtual size_t next_datagram() = 0;
  /// Reads up to `size_bytes` of the current datagram; the number of bytes read.
  virtual size_t read(uint8_t* buffer, size_t size_bytes) = 0;
  /// Sender of the current datagram (MSB-first IPv4) and its port.
  virtual uint32_t remote_ip() = 0;
  virtual uint16_t remote_port() = 0;
  /// Largest block the heap can hand out now (ESP.getMaxFreeBlockSize()).
  virtual uint32_t largest_free_block_bytes() const = 0;
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
  /// At most this many datagrams per poll(), so one burst cannot starve the loop (the rest stay
  /// queued until the next poll()).
  static constexpr uint8_t kMaxDatagramsPerPoll = 8;

  void set_min_free_block_bytes(uint32_t bytes) { min_free_block_bytes_ = bytes; }
  uint32_t min_free_block_bytes() const { return min_free_block_bytes_; }

  /// Consumes up to kMaxDatagramsPerPoll queued datagrams of `source`, handing each one read to
  /// `deliver`. Returns how many were delivered. Not reentrant (one shared buffer).
  size_t poll(DatagramSource& source, DatagramHandler deliver);

  /// Counts a send the platform refused; returns `ok` so a send path can end with it.
  bool record_send(bool ok) {
    if (!ok) ++stats_.send_failed;
    return ok;
  }

  const UdpStats& stats() const { return stats_; }

 private:
  UdpStats stats_{};
  uint32_t min_free_block_bytes_ = kDefaultMinFreeBlockBytes;
  uint8_t buffer_[SPORE_MAX_DATAGRAM_BYTES];
};

}  // namespace spore
