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
///
/// The core's own receive queue is short and drops without a trace: UdpContext::_recv() (core
/// 3.1.2 libraries/ESP8266WiFi/src/include/UdpContext.h 512-528, rxBufMaxDepth = 4 at 620) chains
/// each unread datagram behind the current one with a helper pbuf for its addresses and frees a
/// new datagram unread once that chain is 2 x rxBufMaxDepth = 8 pbufs long, that is while 5
/// single-pbuf datagrams wait (fewer when one spans several pbufs); it also frees one when the
/// helper pbuf cannot be allocated (546-551). WiFiUDP offers no count or callback for either, so
/// datagrams lost during a long loop pass (an OTA upload's flash writes, a blocking MQTT
/// connect) cannot be counted here. What is done: every poll() reads the queue until it is
/// empty (kMaxDatagramsPerPoll 8 >= kCoreQueueDatagrams 5, checked at compile time), and
/// full_queue_polls() counts the polls that found it at that limit, when datagrams may have been
/// dropped before. The poll can yield once, at its end: the parsePacket() that finds the queue
/// empty calls optimistic_yield(100) (WiFiUdp.cpp 196-197), which yields when the loop has run
/// 100 us since it last did (core_esp8266_main.cpp 200-212); what arrives then waits for the
/// next poll, so the queue is empty when a poll starts its last read, not always when it returns. Membership tolerates it as it
/// tolerates radio loss (probes and suspicion before death, docs/protocol.md).

#include <WiFiUdp.h>

#include <cstddef>
#include <cstdint>

#include "spore/base/limits.h"
#include "spore/base/ports.h"
#include "spore/device/udp_intake.h"

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

  /// Datagrams the core's receive queue holds before it frees new ones unread (see above).
  static constexpr uint8_t kCoreQueueDatagrams = 5;

  /// Drains up to kMaxDatagramsPerPoll queued datagrams into `membership` (all of them: the
  /// core queues at most kCoreQueueDatagrams). Returns how many were delivered. Call from loop();
  /// not reentrant.
  size_t poll(Membership& membership);

  const UdpStats& stats() const { return intake_.stats(); }
  /// poll() calls that found kCoreQueueDatagrams or more datagrams queued: the core's queue was
  /// full, and datagrams that arrived then were dropped by the core, uncounted.
  uint32_t full_queue_polls() const { return full_queue_polls_; }

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
  uint32_t full_queue_polls_ = 0;
  uint8_t pulled_ = 0;  // datagrams next_datagram() found during this poll()
  bool bound_ = false;
};

}  // namespace spore::esp8266
