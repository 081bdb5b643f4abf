#pragma once
/// @file udp.h
/// spore::UdpPort on the ESP8266 core's WiFiUDP, both ways: the node's spore::UdpIntake
/// (core/spore/node/udp_intake.h, run by spore::Node::loop()) takes the queued datagrams through
/// next_datagram()/read(), reading them into its one fixed buffer and on to
/// Membership::on_datagram(), or dropping them unread.
///
/// Memory discipline (cf. esp8266/Arduino#6831: lwIP pbufs for datagrams nobody reads pile up
/// and fragment the heap until malloc fails inside the WiFi stack): every queued datagram is
/// consumed on each loop pass — read, or dropped unread when the largest free heap block is below
/// the intake's threshold, or when it is larger than SPORE_MAX_DATAGRAM_BYTES. Drops are counted,
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
/// connect) cannot be counted here. What is done: every pass reads the queue until it is
/// empty (SPORE_UDP_DATAGRAMS_PER_PASS 8 >= kCoreQueueDatagrams 5, checked at compile time), and
/// the firmware node counts the passes that found it at that limit, when datagrams may have been
/// dropped before (esp8266/node.h, full-queue log line). The poll can yield once, at its end: the parsePacket() that finds the queue
/// empty calls optimistic_yield(100) (WiFiUdp.cpp 196-197), which yields when the loop has run
/// 100 us since it last did (core_esp8266_main.cpp 200-212); what arrives then waits for the
/// next poll, so the queue is empty when a poll starts its last read, not always when it returns. Membership tolerates it as it
/// tolerates radio loss (probes and suspicion before death, docs/protocol.md).

#include <WiFiUdp.h>

#include <cstddef>
#include <cstdint>

#include "spore/base/limits.h"
#include "spore/base/ports.h"

namespace spore::esp8266 {

class EspUdp final : public UdpPort {
 public:
  /// Binds the UDP port (SPORE uses 4210). False when lwIP has no PCB left.
  bool begin(uint16_t local_port);
  void stop();

  bool send_to(uint32_t ip, uint16_t port, const uint8_t* data, size_t size_bytes) override;
  /// To WiFi.broadcastIP() (the subnet's directed broadcast, e.g. 192.168.1.255), which the
  /// ESP8266 STA interface delivers more reliably than 255.255.255.255. False when not connected.
  bool broadcast(uint16_t port, const uint8_t* data, size_t size_bytes) override;

  /// Datagrams the core's receive queue holds before it frees new ones unread (see above).
  static constexpr uint8_t kCoreQueueDatagrams = 5;

  // Receive side (spore::UdpPort), over WiFiUDP; nothing while not bound.
  size_t next_datagram() override;
  size_t read(uint8_t* buffer, size_t size_bytes) override;
  uint32_t remote_ip() override;
  uint16_t remote_port() override;
  uint32_t largest_free_block_bytes() const override;

 private:
  bool send(const IPAddress& to, uint16_t port, const uint8_t* data, size_t size_bytes);

  WiFiUDP udp_;
  bool bound_ = false;
};

}  // namespace spore::esp8266
