#include "esp8266/udp.h"

#include <Arduino.h>
#include <ESP8266WiFi.h>

#include "spore/node/udp_intake.h"

namespace spore::esp8266 {

namespace {
IPAddress to_ip(uint32_t msb_first) {
  return IPAddress(static_cast<uint8_t>(msb_first >> 24), static_cast<uint8_t>(msb_first >> 16),
                   static_cast<uint8_t>(msb_first >> 8), static_cast<uint8_t>(msb_first));
}

uint32_t from_ip(const IPAddress& ip) {
  return (static_cast<uint32_t>(ip[0]) << 24) | (static_cast<uint32_t>(ip[1]) << 16) |
         (static_cast<uint32_t>(ip[2]) << 8) | static_cast<uint32_t>(ip[3]);
}
}  // namespace

bool EspUdp::begin(uint16_t local_port) {
  stop();
  bound_ = udp_.begin(local_port) == 1;
  return bound_;
}

void EspUdp::stop() {
  if (bound_) udp_.stop();
  bound_ = false;
}

bool EspUdp::send(const IPAddress& to, uint16_t port, const uint8_t* data, size_t size_bytes) {
  // A refused send is Membership's to count (MembershipStats::send_failures).
  if (!bound_ || data == nullptr || !datagram_size_ok(size_bytes)) return false;
  return udp_.beginPacket(to, port) == 1 && udp_.write(data, size_bytes) == size_bytes && udp_.endPacket() == 1;
}

bool EspUdp::send_to(uint32_t ip, uint16_t port, const uint8_t* data, size_t size_bytes) {
  return send(to_ip(ip), port, data, size_bytes);
}

bool EspUdp::broadcast(uint16_t port, const uint8_t* data, size_t size_bytes) {
  if (!WiFi.isConnected()) return false;
  return send(WiFi.broadcastIP(), port, data, size_bytes);
}

static_assert(UdpIntake::kMaxDatagramsPerPoll >= EspUdp::kCoreQueueDatagrams,
              "one loop pass must empty the core's UDP receive queue");

size_t EspUdp::next_datagram() {
  if (!bound_) return 0;
  const int size = udp_.parsePacket();  // also discards the unread rest of the previous one
  return size > 0 ? static_cast<size_t>(size) : 0;
}

size_t EspUdp::read(uint8_t* buffer, size_t size_bytes) {
  const int n = udp_.read(buffer, size_bytes);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

uint32_t EspUdp::remote_ip() { return from_ip(udp_.remoteIP()); }

uint16_t EspUdp::remote_port() { return udp_.remotePort(); }

uint32_t EspUdp::largest_free_block_bytes() const { return ESP.getMaxFreeBlockSize(); }

}  // namespace spore::esp8266
