#pragma once
/// @file udp.h
/// spore::UdpPort on the ESP8266 core's WiFiUDP, plus the receive side: poll() drains queued
/// datagrams into one static buffer and hands each to Membership::on_datagram().
///
/// Memory discipline (cf. esp8266/Arduino#6831: lwIP pbufs for datagrams nobody reads pile up
/// and fragment the heap until malloc fails inside the WiFi stack): every queued datagram is
/// consumed on each poll() — read, or dropped unread when the largest free heap block is below
/// `min_free_block_bytes`, or when it is larger than SPORE_MAX_DATAGRAM_BYTES. Drops are counted,
/// never retried. One 508-byte static buffer; nothing allocated by this class after begin().

#include <WiFiUdp.h>

#include <cstddef>
#include <cstdint>

#include "spore/limits.h"
#include "spore/ports.h"

namespace spore {
class Membership;
}

namespace spore::esp8266 {

struct UdpStats {
  uint32_t received = 0;          ///< handed to Membership
  uint32_t dropped_low_heap = 0;  ///< dropped unread: largest free block below the threshold
  uint32_t dropped_oversize = 0;  ///< longer than SPORE_MAX_DATAGRAM_BYTES
  uint32_t send_failed = 0;       ///< beginPacket/write/endPacket refused
};

class EspUdp final : public UdpPort {
 public:
  /// Below this largest free block (bytes) incoming datagrams are dropped unread.
  static constexpr uint32_t kDefaultMinFreeBlockBytes = 4096;
  /// At most this many datagrams per poll(), so one burst cannot starve the loop (the rest stay
  /// queued in lwIP until the next poll()).
  static constexpr uint8_t kMaxDatagramsPerPoll = 8;

  /// Binds the UDP port (SPORE uses 4210). False when lwIP has no PCB left.
  bool begin(uint16_t local_port);
  void stop();
  void set_min_free_block_bytes(uint32_t bytes) { min_free_block_bytes_ = bytes; }

  bool send_to(uint32_t ip, uint16_t port, const uint8_t* data, size_t size_bytes) override;
  /// To WiFi.broadcastIP() (the subnet's directed broadcast, e.g. 192.168.1.255), which the
  /// ESP8266 STA interface delivers more reliably than 255.255.255.255. False when not connected.
  bool broadcast(uint16_t port, const uint8_t* data, size_t size_bytes) override;

  /// Drains up to kMaxDatagramsPerPoll queued datagrams into `membership`. Returns how many were
  /// delivered. Call from loop().
  size_t poll(Membership& membership);

  const UdpStats& stats() const { return stats_; }

 private:
  bool send(const IPAddress& to, uint16_t port, const uint8_t* data, size_t size_bytes);

  WiFiUDP udp_;
  UdpStats stats_{};
  uint32_t min_free_block_bytes_ = kDefaultMinFreeBlockBytes;
  bool bound_ = false;
};

}  // namespace spore::esp8266
