#include "esp8266/node.h"

#include <Arduino.h>
#include <EEPROM.h>
#include <ESP8266WiFi.h>

#include <cstdio>

namespace spore::esp8266 {

namespace {
constexpr uint32_t kBootMagic = 0x53504231;  // "SPB1"
constexpr size_t kEepromBytes = 8;
}  // namespace

Node::Node(const Config& config)
    : config_(config),
      ctx_(config_, clock_, random_, system_, &log_),
      api_(ctx_),
      ota_session_(flash_),
      ota_(ctx_, api_, ota_session_),
      membership_(ctx_, udp_, random_),
      server_(config_.http_port),
      http_(server_, api_, clock_),
      monitor_(&log_) {}

uint32_t Node::next_incarnation() {
  EEPROM.begin(kEepromBytes);
  uint32_t magic = 0;
  uint32_t counter = 0;
  EEPROM.get(0, magic);
  EEPROM.get(4, counter);
  if (magic != kBootMagic) counter = 0;
  ++counter;
  EEPROM.put(0, kBootMagic);
  EEPROM.put(4, counter);
  EEPROM.end();  // commits and frees the RAM copy
  return counter;
}

bool Node::begin(const char* api_token) {
  if (begun_) return true;
  const uint32_t chip = system_.chip_id();
  snprintf_P(hostname_, sizeof hostname_, PSTR("esp_%06lx"), static_cast<unsigned long>(chip));
  const IPAddress ip = WiFi.localIP();
  const uint32_t self_ip = (static_cast<uint32_t>(ip[0]) << 24) | (static_cast<uint32_t>(ip[1]) << 16) |
                           (static_cast<uint32_t>(ip[2]) << 8) | static_cast<uint32_t>(ip[3]);
  if (!udp_.begin(config_.udp_port)) {
    log_.write(LogLevel::kError, "UDP: cannot bind the cluster port");
    return false;
  }
  if (!ctx_.begin({chip, next_incarnation(), self_ip, hostname_})) return false;  // logged why
  if (api_token != nullptr && api_token[0] != '\0' && !api_.set_api_token(api_token)) {
    log_.write(LogLevel::kError, "API token: 1-64 characters of A-Z a-z 0-9 - . _ ~ + / = expected");
    return false;
  }
  if (!api_.begin() || !ota_.begin()) return false;
  membership_.begin();
  http_.set_ota(&ota_);
  http_.set_before_restart(Delegate<void()>::bind<Node, &Node::before_restart>(this));
  http_.begin();
  monitor_.begin();
  begun_ = true;
  return true;
}

void Node::before_restart() {
  log_.write(LogLevel::kInfo, ota_.restart_pending() ? "new firmware installed: leaving the cluster and restarting"
                                                     : "restart requested over REST: leaving the cluster");
  membership_.leave();
  // leave() queues its datagrams in lwIP; give them a moment to go out before the reset.
  delay(50);
}

void Node::loop() {
  monitor_.tick();
  if (!begun_) return;
  udp_.poll(membership_);
  ctx_.loop();
  http_.loop();
}

}  // namespace spore::esp8266
