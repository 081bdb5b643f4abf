#pragma once
/// @file wifi.h
/// The radio for core's WifiManager (core/spore/device/wifi_manager.h), on ESP8266WiFi, plus the DNS
/// half of the captive portal: while the setup access point is up, every name resolves to the
/// access point's address (192.168.4.1), so phones and laptops that probe for Internet access
/// land on the portal page. Adapter only: when to connect, retry or open the portal is core's.
///
/// SDK settings made in begin(), and why:
///  - WiFi.persistent(false): the SDK otherwise writes the credentials to its own flash sector on
///    every WiFi.begin(); SPORE keeps them in its own settings record and a retry loop would wear the flash;
///  - WiFi.setAutoReconnect(false): reconnecting is WifiManager's job (backoff, portal); two
///    retry loops would fight over the radio;
///  - WiFi.setSleepMode(WIFI_NONE_SLEEP) (ESP8266WiFiGeneric.cpp:276 in core 3.1.2): the SDK's
///    default modem sleep turns the receiver off between beacons, and boards then miss ARP
///    replies and unicast UDP (esp8266/Arduino#6886, #7007): a cluster node must hear its peers'
///    probes. The cost is power (the receiver stays on): SPORE nodes are mains-powered.

#include <DNSServer.h>

#include <cstdint>

#include "spore/device/wifi_manager.h"

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
  /// An open access point (no password: the user has nothing to type it with yet), at most 4
  /// clients, and the DNS server on port 53. Channel 1 is asked for (WiFi.softAP's default), but
  /// the ESP8266 has one radio: in AP+STA mode the SDK moves the access point to the channel of
  /// the network the station connects to or scans for, so the portal follows the station.
  bool start_access_point(const char* name) override;
  void stop_access_point() override;
  uint8_t access_point_clients() override;
  /// The core's experimental::ESP8266WiFiGratuitous::stationKeepAliveNow(): one etharp_gratuitous()
  /// on the station netif when it is up with an address.
  void send_gratuitous_arp() override;

  bool access_point_up() const { return ap_up_; }
  /// The station interface's MAC address (WiFi.macAddress(), wifi_get_macaddr(STATION_IF)).
  void station_mac(uint8_t (&mac)[6]) const;

 private:
  DNSServer dns_;
  bool ap_up_ = false;
};

}  // namespace spore::esp8266
