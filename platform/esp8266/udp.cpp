#include "esp8266/udp.h"

#include <Arduino.h>
#include <ESP8266WiFi.h>

#include "spore/membership.h"

namespace spore::esp8266 {

namespace {
// One receive buffer for the whole firmware: poll() is not reentrant and Membership copies what
// it keeps before on_datagram() returns.
uint8_t g_rx[SPORE_MAX_DATAGRAM_BYTES];

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
  if (!bound_ || data == nullptr || size_bytes == 0 || size_bytes > SPORE_MAX_DATAGRAM_BYTES) {
    ++stats_.send_failed;
    return false;
  }
  if (udp_.beginPacket(to, port) != 1 || udp_.write(data, size_bytes) != size_bytes || udp_.endPacket() != 1) {
    ++stats_.send_failed;
    return false;
  }
  return true;
}

bool EspUdp::send_to(uint32_t ip, uint16_t port, const uint8_t* data, size_t size_bytes) {
  return send(to_ip(ip), port, data, size_bytes);
}

bool EspUdp::broadcast(uint16_t port, const uint8_t* data, size_t size_bytes) {
  if (!WiFi.isConnected()) {
    ++stats_.send_failed;
    return false;
  }
  return send(WiFi.broadcastIP(), port, data, size_bytes);
}

size_t EspUdp::poll(Membership& membership) {
  if (!bound_) return 0;
  size_t delivered = 0;
  for (uint8_t i = 0; i < kMaxDatagramsPerPoll; ++i) {
    const int size = udp_.parsePacket();  // also discards the unread rest of the previous one
    if (size <= 0) break;
    if (static_cast<size_t>(size) > sizeof g_rx) {
      ++stats_.dropped_oversize;
      continue;  // left unread: the next parsePacket() frees it
    }
    if (ESP.getMaxFreeBlockSize() < min_free_block_bytes_) {
      ++stats_.dropped_low_heap;
      continue;
    }
    const int n = udp_.read(g_rx, static_cast<size_t>(size));
    if (n != size) continue;
    ++stats_.received;
    ++delivered;
    membership.on_datagram(from_ip(udp_.remoteIP()), udp_.remotePort(), g_rx, static_cast<size_t>(n));
  }
  return delivered;
}

}  // namespace spore::esp8266
