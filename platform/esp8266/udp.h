#pragma once
/// @file udp.h
/// spore::UdpPort on the ESP8266 core's WiFiUDP, plus the receive side: poll() hands the queued
/// datagrams to spore::UdpIntake, which reads them into its one fixed buffer and on to
/// Membership::on_datagram(), or drops them unread.
///
/// Memory discipline (cf. esp8266/Arduino#6831: lwIP pbufs for datagrams nobody reads pile up
/// and fragment the heap until malloc fails inside the WiFi stack): every queued datagram is
/// consumed on each poll() — read, or dropped unread when the largest free heap block is below
/// `min_free_block_bytes`, or when it is larger than SPORE_MAX_DATAGRAM_BYTES. Drops are counted,
/// never retried. One 508-byte buffer (in UdpIntake); nothing allocated by this class after
/// begin(). The policy is host-tested in tests/unit/udp_intake_test.cpp; this file only wraps
/// WiFiUDP.

#include <WiFiUdp.h>

#include <cstddef>
#include <cstdint>

#include "spore/limits.h"
#include "spore/ports.h"
#include "spore/udp_intake.h"

namespace spore {
class Membership;
}

namespace spore::esp8266 {

/// received, dropped_low_heap, dropped_oversize, dropped_short_read, send_failed.
using UdpStats = spore::UdpStats;

class EspUdp final : public UdpPort, private DatagramSource {
 public:
  /// Below this largest free block (bytes) incoming datagrams are dropped unread.
  static constexpr uint32_t kDefaultMinFreeBlockBytes = UdpIntake::kDefaultMinFreeBlockBytes;
  /// At most this many datagrams per poll(), so one burst cannot starve the loop (the rest stay
  /// queued in lwIP until the next poll()).
  static constexpr uint8_t kMaxDatagramsPerPoll = UdpIntake::kMaxDatagramsPerPoll;

  /// Binds the UDP port (SPORE uses 4210). False when lwIP has no PCB left.
  bool begin(uint16_t local_port);
  void stop();
  void set_min_free_block_bytes(uint32_t bytes) { intake_.set_min_free_block_bytes(bytes); }

  bool send_to(uint32_t ip, uint16_t port, const uint8_t* data, size_t size_bytes) override;
  /// To WiFi.broadcastIP() (the subnet's directed broadcast, e.g. 192.168.1.255), which the
  /// ESP8266 STA interface delivers more reliably than 255.255.255.255. False when not connected.
  bool broadcast(uint16_t port, const uint8_t* data, size_t size_bytes) override;

  /// Drains up to kMaxDatagramsPerPoll queued datagrams into `membership`. Returns how many were
  /// delivered. Call from loop(); not reentrant.
  size_t poll(Membership& membership);

  const UdpStats& stats() const { return intake_.stats(); }

 private:
  bool send(const IPAddress& to, uint16_t port, const uint8_t* data, size_t size_bytes);

  // DatagramSource, over udp_.
  size_t next_datagram() override;
  size_t read(uint8_t* buffer, size_t size_bytes) override;
  uint32_t remote_ip() override;
  uint16_t remote_port() override;
  uint32_t largest_free_block_bytes() const override;

  WiFiUDP udp_;
  UdpIntake intake_;
  bool bound_ = false;
};

}  // namespace spore::esp8266
