#pragma once
/// @file node.h
/// The ESP8266 firmware node: the ports (clock, random, Serial log, ESP.* info, WiFiUDP, Updater,
/// watchdog) handed to core's spore::Node (core/spore/node/node_root.h, which owns and wires the engine:
/// NodeContext, RestApi, OTA, Membership, /metrics, cluster events, the receive path and the loop
/// pass warnings), plus what only a board has: the WiFi manager with its captive portal, the
/// persisted device settings, safe mode and the ESPAsyncWebServer adapter. A sketch needs only:
/// @code
///   spore::esp8266::Node node;
///   void setup() { Serial.begin(115200); node.begin(); }
///   void loop() { node.loop(); }
/// @endcode
/// Glue only: every decision is in core or in the adapters it holds.
///
/// Settings (begin()): the settings record in flash (esp8266/config_store.h; its fields are in
/// core/spore/device/device_config.h: wifi_ssid, wifi_password, api_token, cluster_key, no_bearer; lines
/// with keys this image does not know are kept and written back). What the node does with a
/// record that is missing, damaged or does not parse is core's DeviceSettings
/// (core/spore/device/device_settings.h): it never writes over a record that exists; it runs read-only
/// on what parses ("settingsReadOnly": true in /api/node/status, the reason on the serial log)
/// until the user saves new settings in the setup portal. When the settings hold no WiFi
/// credentials, the build flags WIFI_SSID / WIFI_PASSWORD are used if the library was compiled
/// with them (PlatformIO's build_flags reach libraries; not saved to the settings record, but they
/// are string constants of the image: anyone with the .bin or a flash dump can read them).
/// Without either, the setup portal opens: an open access point "spore-<chipid>" whose every page
/// is a form for the credentials (platform/esp8266/portal.h). A stored api_token wins over
/// begin()'s argument. With neither, the node draws a token once WiFi runs (station connected or
/// access point up: the RNG is only random with the radio on, core/spore/device/token_drbg.h), saves it
/// when nothing was stored, and prints it once on the serial log; until then every protected
/// route answers 503 token_pending (RestApi::lock_until_token()).
///
/// WiFi: core's WifiManager (connect with backoff, portal after 3 failed attempts, gratuitous
/// ARP keep-alive). Membership starts at the first IP address; a later address change updates
/// the node's identity (NodeContext::set_ip).
///
/// Identity: node_id = ESP.getChipId(), hostname "esp_<chipid, 6 hex digits>", ip = the station
/// address, incarnation = incarnation_for_boot(boot count) (core/spore/base/incarnation.h: count << 16,
/// as spored's) with the boot count from the append-only log in two flash sectors after the
/// settings (core/spore/device/boot_counter.h, EspBootLogFlash: one 8-byte program per boot, one sector
/// erase per 511 boots; the first boot continues from the counter the EEPROM firmware kept).
/// Firmware identity: version = SPORE_FIRMWARE_VERSION (build flag, default the library's), image
/// SHA-256 = the running sketch as it sits in flash (ESP.getSketchSize() bytes from address 0),
/// hashed once in begin() (~0.4 s for 370 KB).
///
/// Safe mode (core/spore/device/safe_mode.h, as ESPHome's): begin() first counts the boot in RTC memory
/// (EspRtcSafeModeStore). After SafeModeConfig::boot_attempts (10) boots in a row that ended
/// within stable_after_ms (60 s), the next boot is safe mode: WiFi (with its setup portal), the
/// REST API (status, members, restart) and POST /api/node/update only; no UDP, membership,
/// cluster events, /metrics, dashboard or MQTT. /api/node/status says "safeMode": true and the
/// serial log says why; after timeout_ms (5 min, not while an upload runs) the node restarts
/// into a normal boot. A REST/MQTT restart and the restart after a successful OTA clear the count.
/// Signed updates: define SPORE_OTA_PUBLIC_KEY_PEM (the text of `spore keygen`'s public.key as a C
/// string literal, e.g. in a header force-included with build_flags = -include ota_key.h); the
/// node then refuses unsigned images and images signed by another key.
///
/// MQTT (only when built with -DSPORE_WITH_MQTT, PlatformIO env `esp01_1m_mqtt`): core's
/// MqttBridge on EspMqttClient (esp8266/mqtt_client.h), configured from build flags
/// SPORE_MQTT_HOST (empty = off), SPORE_MQTT_PORT ("" = 1883), SPORE_MQTT_USER,
/// SPORE_MQTT_PASSWORD, SPORE_MQTT_CLUSTER ("" = "spore") and SPORE_MQTT_DISCOVERY ("" =
/// "homeassistant", "-" = no Home Assistant discovery), all string literals. cmd/restart restarts
/// as REST's restart does; cmd/ota is answered not_supported (no HTTP client in the image).

#include <ESPAsyncWebServer.h>

#include "esp8266/config_store.h"
#include "esp8266/http_server.h"
#include "esp8266/portal.h"
#include "esp8266/system_ports.h"
#include "esp8266/udp.h"
#include "esp8266/updater_flash_target.h"
#include "esp8266/watchdog.h"
#include "esp8266/wifi.h"
#include "spore/device/device_config.h"
#include "spore/device/device_settings.h"
#include "spore/device/safe_mode.h"
#include "spore/node/config.h"
#include "spore/node/node_root.h"
#include "spore/device/wifi_manager.h"
#ifdef SPORE_WITH_MQTT
#include "esp8266/mqtt_client.h"
#include "spore/mqtt/mqtt_bridge.h"
#endif

namespace spore::esp8266 {

class Node {
 public:
  explicit Node(const Config& config = Config::default_esp8266(),
                const SafeModeConfig& safe_mode = SafeModeConfig());
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  /// Call once from setup(); WiFi need not be up (the node brings it up). `api_token` protects
  /// restart and update unless the stored settings set one; it must stay valid (a string
  /// literal). nullptr or "": the stored token, else one the node draws once WiFi runs; never an
  /// open API.
  /// Routes the sketch adds with api().add_route() must be added after begin(). False (and
  /// logged why) when a part refused to start.
  bool begin(const char* api_token = nullptr);
  /// Call from loop(); returns quickly (never blocks on the network).
  void loop();

  /// The engine (core/spore/node/node_root.h).
  spore::Node& node() { return node_; }
  NodeContext& context() { return node_.context(); }
  RestApi& api() { return node_.api(); }
  Membership& membership() { return node_.membership(); }
  Metrics& metrics() { return node_.metrics(); }
  EventApi& event_api() { return node_.event_api(); }
  OtaSession& ota_session() { return node_.ota_session(); }
  EspLogSink& log_sink() { return log_; }
  const EspSystemInfo& system() const { return system_; }
  /// received, dropped_low_heap, dropped_oversize, dropped_short_read.
  const UdpStats& udp_stats() const { return node_.udp_stats(); }
  EspHttpServer& http() { return http_; }
  /// passes, long_passes, max_pass_ms (spore::LoopStats).
  const LoopStats& loop_stats() const { return node_.loop_stats(); }
  const WifiManager& wifi() const { return wifi_; }
  const DeviceConfig& device_config() const { return settings_.config(); }
  const DeviceSettings& device_settings() const { return settings_; }
  const SafeMode& safe_mode() const { return safe_mode_; }
#ifdef SPORE_WITH_MQTT
  MqttBridge& mqtt_bridge() { return bridge_; }
  const EspMqttClient& mqtt_client() const { return mqtt_; }
#endif

 private:
  uint32_t next_incarnation();
  void load_device_config();
  /// The settings' pending token, once WiFi runs; a save by the setup portal ends read-only.
  void poll_settings();
  bool hash_running_image(uint8_t (&sha256)[32]);
  void before_restart();
  void on_ip_change(uint32_t ip);
  void begin_safe_mode();
  /// What only a normal boot runs: dashboard, /metrics, cluster events, MQTT.
  void begin_services();
  void poll_safe_mode(uint32_t now_ms);
  /// The settings' token and keys into the RestApi and Membership, the OTA key; false when one
  /// cannot be used (the node then runs as in safe mode).
  bool apply_settings(bool* ota_ok);
#ifdef SPORE_OTA_PUBLIC_KEY_PEM
  bool load_ota_key();
#endif
  /// Logs the platform counters no other path reports (passes that found the UDP queue full,
  /// EspMqttClient::reentrant_refusals(), EspHttpServer::memory_resets() and expired_requests())
  /// when they grew, at most once per kCounterLogIntervalMs.
  void log_counter_changes(uint32_t now_ms);
#ifdef SPORE_WITH_MQTT
  void begin_mqtt();
#endif

  EspRtcSafeModeStore rtc_;
  SafeMode safe_mode_;
  EspClock clock_;
  EspRandom random_;
  EspLogSink log_;
  EspSystemInfo system_;
  UpdaterFlashTarget flash_;
  EspUdp udp_;
  EspWatchdog watchdog_;
  spore::Node node_;
  AsyncWebServer server_;
  EspHttpServer http_;
  EspWifi radio_;
  WifiManager wifi_;
  ConfigStore store_;
  DeviceSettings settings_;
  EspEntropy entropy_;
  EspBootLogFlash boot_log_;
  Portal portal_;
#ifdef SPORE_WITH_MQTT
  EspMqttClient mqtt_;
  MqttBridge bridge_;
#endif
  const char* sketch_token_ = "";  // begin()'s argument (DeviceSettings keeps a view of it)
  char hostname_[16] = {};
  char ap_name_[16] = {};
  bool begun_ = false;
  // log_counter_changes(): a burst that fills UDP's queue at every poll gives one line a minute.
  static constexpr uint32_t kCounterLogIntervalMs = 60000;
  uint32_t counters_logged_ms_ = 0;
  // Passes whose intake took kCoreQueueDatagrams or more: the core's queue was full, and datagrams
  // that arrived then were dropped by the core, uncounted (esp8266/udp.h).
  uint32_t full_queue_polls_ = 0;
  uint32_t full_queue_polls_logged_ = 0;
  uint32_t reentrant_refusals_logged_ = 0;
  uint32_t http_resets_logged_ = 0;
  uint32_t http_expired_logged_ = 0;
  uint32_t http_refused_logged_ = 0;
};

}  // namespace spore::esp8266
