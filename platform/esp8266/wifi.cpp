#include "esp8266/wifi.h"

#include <ESP8266WiFi.h>
#include <ESP8266WiFiGratuitous.h>

namespace spore::esp8266 {

namespace {
constexpr uint16_t kDnsPort = 53;
}  // namespace

void EspWifi::begin() {
  WiFi.persistent(false);
  WiFi.setAutoReconnect(false);
  WiFi.mode(WIFI_STA);
  // No modem sleep: missed ARP replies and UDP with it (esp8266/Arduino#6886, #7007; wifi.h).
  WiFi.setSleepMode(WIFI_NONE_SLEEP);
}

void EspWifi::station_mac(uint8_t (&mac)[6]) const { WiFi.macAddress(mac); }

void EspWifi::loop() {
  if (ap_up_) dns_.processNextRequest();
}

void EspWifi::begin_station(const char* ssid, const char* password, const char* hostname) {
  // AP+STA while the portal is open, so the attempt does not take the portal down for good.
  WiFi.mode(ap_up_ ? WIFI_AP_STA : WIFI_STA);
  WiFi.hostname(hostname);  // before begin(): DHCP announces it
  WiFi.begin(ssid, password);
}

void EspWifi::stop_station() { WiFi.disconnect(false); }

StationStatus EspWifi::station_status() {
  switch (WiFi.status()) {
    case WL_CONNECTED: return StationStatus::kConnected;
    case WL_NO_SSID_AVAIL:
    case WL_CONNECT_FAILED:
    case WL_WRONG_PASSWORD: return StationStatus::kFailed;
    case WL_IDLE_STATUS: return StationStatus::kIdle;
    default: return StationStatus::kConnecting;  // WL_DISCONNECTED = the SDK is still trying
  }
}

uint32_t EspWifi::station_ip() {
  const IPAddress ip = WiFi.localIP();
  return (static_cast<uint32_t>(ip[0]) << 24) | (static_cast<uint32_t>(ip[1]) << 16) |
         (static_cast<uint32_t>(ip[2]) << 8) | static_cast<uint32_t>(ip[3]);
}

bool EspWifi::start_access_point(const char* name) {
  if (ap_up_) return true;
  WiFi.mode(WIFI_AP_STA);
  if (!WiFi.softAP(name)) return false;
  // "*" = answer every name with the access point's own address (the captive portal).
  dns_.start(kDnsPort, "*", WiFi.softAPIP());
  ap_up_ = true;
  return true;
}

void EspWifi::stop_access_point() {
  if (!ap_up_) return;
  dns_.stop();
  WiFi.softAPdisconnect(true);
  WiFi.mode(WIFI_STA);
  ap_up_ = false;
}

uint8_t EspWifi::access_point_clients() { return ap_up_ ? WiFi.softAPgetStationNum() : 0; }

void EspWifi::send_gratuitous_arp() { experimental::ESP8266WiFiGratuitous::stationKeepAliveNow(); }

}  // namespace spore::esp8266
