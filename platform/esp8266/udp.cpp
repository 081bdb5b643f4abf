#include "esp8266/udp.h"

#include <Arduino.h>
#include <ESP8266WiFi.h>

#include "spore/cluster/membership.h"

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
  if (!bound_ || data == nullptr || !datagram_size_ok(size_bytes)) return intake_.record_send(false);
  return intake_.record_send(udp_.beginPacket(to, port) == 1 && udp_.write(data, size_bytes) == size_bytes &&
                             udp_.endPacket() == 1);
}

bool EspUdp::send_to(uint32_t ip, uint16_t port, const uint8_t* data, size_t size_bytes) {
  return send(to_ip(ip), port, data, size_bytes);
}

bool EspUdp::broadcast(uint16_t port, const uint8_t* data, size_t size_bytes) {
  if (!WiFi.isConnected()) return intake_.record_send(false);
  return send(WiFi.broadcastIP(), port, data, size_bytes);
}

static_assert(EspUdp::kMaxDatagramsPerPoll >= EspUdp::kCoreQueueDatagrams,
              "one poll() must empty the core's UDP receive queue");

size_t EspUdp::poll(Membership& membership) {
  if (!bound_) return 0;
  pulled_ = 0;
  const size_t delivered =
      intake_.poll(*this, DatagramHandler::bind<Membership, &Membership::on_datagram>(&membership));
  if (pulled_ >= kCoreQueueDatagrams) ++full_queue_polls_;
  return delivered;
}

size_t EspUdp::next_datagram() {
  const int size = udp_.parsePacket();  // also discards the unread rest of the previous one
  if (size <= 0) return 0;
  ++pulled_;
  return static_cast<size_t>(size);
}

size_t EspUdp::read(uint8_t* buffer, size_t size_bytes) {
  const int n = udp_.read(buffer, size_bytes);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

uint32_t EspUdp::remote_ip() { return from_ip(udp_.remoteIP()); }

uint16_t EspUdp::remote_port() { return udp_.remotePort(); }

uint32_t EspUdp::largest_free_block_bytes() const { return ESP.getMaxFreeBlockSize(); }

}  // namespace spore::esp8266
