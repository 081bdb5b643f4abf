#pragma once
/// @file node.h
/// One object that wires a whole SPORE node on the ESP8266: the ports (clock, random, Serial log,
/// ESP.* info, WiFiUDP, Updater), NodeContext, RestApi, the OTA upload route, Membership, the
/// ESPAsyncWebServer adapter and the loop monitor. A sketch needs only:
/// @code
///   spore::esp8266::Node node;
///   void setup() { Serial.begin(115200); /* connect WiFi */ node.begin(); }
///   void loop() { node.loop(); }
/// @endcode
/// Glue only: every decision is in core or in the adapters it holds.
///
/// Identity: node_id = ESP.getChipId(), hostname "esp_<chipid, 6 hex digits>", ip =
/// WiFi.localIP() at begin() (WiFi must be connected), incarnation = a boot counter kept in the
/// first 8 bytes of the EEPROM sector (magic + counter; one sector erase per boot).
/// NOT YET: config persisted in LittleFS, WiFi manager (AP fallback, reconnect, IP change),
/// image SHA-256 of the running sketch (set_firmware), cluster key and OTA public key loading.

#include <ESPAsyncWebServer.h>

#include "esp8266/http_server.h"
#include "esp8266/loop_monitor.h"
#include "esp8266/system_ports.h"
#include "esp8266/udp.h"
#include "esp8266/updater_flash_target.h"
#include "spore/config.h"
#include "spore/membership.h"
#include "spore/node_context.h"
#include "spore/ota.h"
#include "spore/ota_upload.h"
#include "spore/rest_api.h"

namespace spore::esp8266 {

class Node {
 public:
  explicit Node(const Config& config = Config::default_esp8266());
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  /// Call once from setup(), with WiFi connected. `api_token` protects restart and update
  /// (nullptr or "" = no token, as the seed). Routes the sketch adds with api().add_route() must
  /// be added after begin(). False (and logged why) when a part refused to start.
  bool begin(const char* api_token = nullptr);
  /// Call from loop(); returns quickly (never blocks on the network).
  void loop();

  NodeContext& context() { return ctx_; }
  RestApi& api() { return api_; }
  Membership& membership() { return membership_; }
  OtaSession& ota_session() { return ota_session_; }
  EspLogSink& log_sink() { return log_; }
  const EspSystemInfo& system() const { return system_; }
  const EspUdp& udp() const { return udp_; }
  EspHttpServer& http() { return http_; }
  const LoopMonitor& loop_monitor() const { return monitor_; }

 private:
  uint32_t next_incarnation();
  void before_restart();

  Config config_;
  EspClock clock_;
  EspRandom random_;
  EspLogSink log_;
  EspSystemInfo system_;
  NodeContext ctx_;
  RestApi api_;
  UpdaterFlashTarget flash_;
  OtaSession ota_session_;
  OtaUploadHandler ota_;
  EspUdp udp_;
  Membership membership_;
  AsyncWebServer server_;
  EspHttpServer http_;
  LoopMonitor monitor_;
  char hostname_[16] = {};
  bool begun_ = false;
};

}  // namespace spore::esp8266
