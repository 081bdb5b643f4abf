#pragma once
/// @file wifi.h
/// The radio for core's WifiManager (core/spore/wifi_manager.h), on ESP8266WiFi, plus the DNS
/// half of the captive portal: while the setup access point is up, every name resolves to the
/// access point's address (192.168.4.1), so phones and laptops that probe for Internet access
/// land on the portal page. Adapter only: when to connect, retry or open the portal is core's.
///
/// SDK settings made in begin(), and why:
///  - WiFi.persistent(false): the SDK otherwise writes the credentials to its own flash sector on
///    every WiFi.begin(); SPORE keeps them in its own settings record and a retry loop would wear the flash;
///  - WiFi.setAutoReconnect(false): reconnecting is WifiManager's job (backoff, portal); two
///    retry loops would fight over the radio.

#include <DNSServer.h>

#include <cstdint>

#include "spore/wifi_manager.h"

namespace spore::esp8266 {

class EspWifi final : public WifiPort {
 public:
  /// Call once before the manager's begin().
  void begin();
  /// Call every loop pass: answers the portal's DNS queries while the access point is up.
  void loop();

  void begin_station(const char* ssid, const char* password, const char* hostname) override;
  void stop_station() override;
  StationStatus station_status() override;
  uint32_t station_ip() override;
  /// An open access point (no password: the user has nothing to type it with yet) on channel 1,
  /// at most 4 clients, and the DNS server on port 53.
  bool start_access_point(const char* name) override;
  void stop_access_point() override;
  uint8_t access_point_clients() override;
  /// The core's experimental::ESP8266WiFiGratuitous::stationKeepAliveNow(): one etharp_gratuitous()
  /// on the station netif when it is up with an address.
  void send_gratuitous_arp() override;

  bool access_point_up() const { return ap_up_; }

 private:
  DNSServer dns_;
  bool ap_up_ = false;
};

}  // namespace spore::esp8266
