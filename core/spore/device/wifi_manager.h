#pragma once
/// @file wifi_manager.h
/// Keeps a device on its WiFi network, and lets a user give it one when it has none.
///
///     begin ──(credentials)──> CONNECTING ──(link + IP)──> CONNECTED ──(link lost)──> CONNECTING
///       │                        │  (refused, or no IP within connect_timeout_ms)
///       │                        v
///       │                     WAITING (backoff: 1 s, 2 s, 4 s ... 60 s, each jittered) ──> CONNECTING
///       └──(no credentials)──> UNCONFIGURED
///
/// The captive portal (an open access point plus, on the platform side, a DNS server and a form)
/// is open in UNCONFIGURED and after portal_after_failures failed attempts in a row; it closes as
/// soon as the station is connected. While it is open and credentials exist, the station is still
/// retried, but at most every portal_retry_interval_ms, and while a client is associated to the
/// access point only after one more such interval: on the ESP8266 a station attempt scans all
/// channels and takes the access point with it, which would drop the user in the middle of typing.
///
/// While connected, a gratuitous ARP goes out every arp_interval_ms. Why: many access points stop
/// forwarding broadcast (the cluster's discovery and heartbeats) to a station they have not heard
/// from for a while, and an ESP8266 that only listens is such a station (esp8266/Arduino#7007).
///
/// Driven by loop(now_ms) from the node loop; never blocks; all times compared with elapsed_ms()
/// (wrap-safe). No allocation.

#include <cstdint>

#include "spore/base/delegate.h"
#include "spore/base/ports.h"

namespace spore {

enum class StationStatus : uint8_t {
  kIdle,        ///< not trying
  kConnecting,  ///< attempt under way
  kConnected,   ///< associated and an IP address assigned
  kFailed,      ///< attempt given up by the platform (wrong password, network not found)
};

/// The WiFi radio as the manager needs it. Calls return at once; the platform works in the
/// background and reports through station_status().
class WifiPort {
 public:
  virtual ~WifiPort() = default;
  /// Starts joining `ssid` with DHCP, announcing `hostname`. `password` empty = open network.
  /// The strings are copied before the call returns.
  virtual void begin_station(const char* ssid, const char* password, const char* hostname) = 0;
  /// Drops the station link and stops any reconnect attempts of the platform's own.
  virtual void stop_station() = 0;
  virtual StationStatus station_status() = 0;
  /// The station's IPv4 address, most significant byte first; 0 while it has none.
  virtual uint32_t station_ip() = 0;
  /// Opens the open access point `name` with the captive portal. False when the radio refused.
  virtual bool start_access_point(const char* name) = 0;
  virtual void stop_access_point() = 0;
  /// Stations associated to the access point now.
  virtual uint8_t access_point_clients() = 0;
  /// One gratuitous ARP from the station interface.
  virtual void send_gratuitous_arp() = 0;
};

/// Timing of the manager; every field is in ms unless said otherwise.
struct WifiManagerConfig {
  /// One attempt may take this long to give an IP address. Shorter gives up on a slow DHCP
  /// server; longer leaves the portal closed longer after a bad password. 15 s covers an ESP8266
  /// scan (~2-3 s), WPA2 handshake and DHCP with room to spare.
  uint32_t connect_timeout_ms = 15000;
  /// Wait after the first failed attempt; doubled per further failure. Short recovers fast from
  /// a blip; the doubling keeps a device whose network is gone from scanning nonstop (each scan
  /// costs power and disturbs the access point).
  uint32_t initial_backoff_ms = 1000;
  /// Cap of the doubling. Bounds how late a device notices that its network is back.
  uint32_t max_backoff_ms = 60000;
  /// Failed attempts in a row after which the portal opens (0 = only without credentials). Low
  /// lets a user fix a wrong password sooner; high rides out a router reboot without exposing
  /// the open portal.
  uint8_t portal_after_failures = 3;
  /// While the portal is open, station attempts are at least this far apart: each one takes the
  /// access point off its channel for a few seconds.
  uint32_t portal_retry_interval_ms = 120000;
  /// Gratuitous ARP period while connected, 0 = never. Shorter keeps stricter access points
  /// forwarding broadcast; each one is a 42-byte frame.
  uint32_t arp_interval_ms = 30000;
};

enum class WifiState : uint8_t {
  kStopped,       ///< before begin()
  kUnconfigured,  ///< no credentials: portal only
  kConnecting,    ///< a station attempt is running
  kConnected,     ///< station up with an IP address
  kWaiting,       ///< backing off before the next attempt
};

class WifiManager {
 public:
  /// Called with the new address whenever the station gets an IP address different from the
  /// last one reported (the first connect included); the node updates its identity.
  using IpChanged = Delegate<void(uint32_t ip)>;

  WifiManager(WifiPort& port, Random& random, LogSink* log = nullptr, const WifiManagerConfig& config = {});
  WifiManager(const WifiManager&) = delete;
  WifiManager& operator=(const WifiManager&) = delete;

  void set_on_ip_change(IpChanged handler) { on_ip_change_ = handler; }

  /// Starts: joins the network when `ssid` is non-empty, else opens the portal. Every string must
  /// stay valid (and unchanged) until the next set_credentials() or for the manager's life.
  void begin(uint32_t now_ms, const char* hostname, const char* ap_name, const char* ssid, const char* password);
  /// New credentials (from the portal): drops the current link and attempts them at once, with
  /// the failure count reset. The portal stays open until the attempt succeeds.
  void set_credentials(uint32_t now_ms, const char* ssid, const char* password);
  /// One step; call every pass of the node loop.
  void loop(uint32_t now_ms);

  WifiState state() const { return state_; }
  bool connected() const { return state_ == WifiState::kConnected; }
  bool portal_active() const { return portal_; }
  /// The address last reported to the IpChanged handler (kept while the link is down), 0 = none yet.
  uint32_t ip() const { return ip_; }
  /// Failed attempts since the last successful connect or set_credentials().
  uint32_t failures() const { return failures_; }
  /// The wait chosen after the last failure.
  uint32_t wait_ms() const { return wait_ms_; }
  const WifiManagerConfig& config() const { return config_; }

 private:
  bool has_credentials() const { return ssid_ != nullptr && ssid_[0] != '\0'; }
  void start_attempt(uint32_t now_ms);
  void on_failure(uint32_t now_ms);
  void on_connected(uint32_t now_ms);
  void open_portal();
  void close_portal();
  void check_ip();
  void log(LogLevel level, const char* message);

  WifiPort& port_;
  Random& random_;
  LogSink* log_;
  WifiManagerConfig config_;
  IpChanged on_ip_change_;
  const char* hostname_ = "";
  const char* ap_name_ = "";
  const char* ssid_ = nullptr;
  const char* password_ = nullptr;
  uint32_t since_ms_ = 0;  // start of the attempt (kConnecting) or of the wait (kWaiting)
  uint32_t wait_ms_ = 0;
  uint32_t last_arp_ms_ = 0;
  uint32_t ip_ = 0;
  uint32_t failures_ = 0;
  WifiState state_ = WifiState::kStopped;
  bool portal_ = false;
};

}  // namespace spore
