#pragma once
/// @file portal.h
/// The captive portal's web side: while core's WifiManager has its setup access point open, every
/// HTTP request outside /api/ gets a small form (network name, password and, when the device
/// has an API token, that token); POST /wifi stores the credentials in the DeviceConfig, saves it
/// through ConfigStore and hands them to the WifiManager. Phones' and laptops' connectivity
/// probes (/generate_204, /hotspot-detect.html, /connecttest.txt, ...) get the form as well,
/// which makes them show the portal. /api/ stays with the REST handler, so a device stuck in
/// setup can still be inspected and updated over the access point (http://192.168.4.1/api/...).
///
/// Every decision is core's (core/spore/device/setup_portal.h: routing, token, DeviceConfig::set_wifi()
/// with the SSID and WPA2 password rules, apply timing). Bad input gets 400 (403 for a wrong
/// token) with the reason and the form again, and changes nothing. The token field exists because the access
/// point is open: without it anybody in radio range of a device that lost its network could
/// move it to a network of theirs.
///
/// The page is in flash (PROGMEM, ~1.3 KB, no external resources). Its handler is trivial: the
/// library parses no body into parameters. Only POST /wifi has a body: the page's script posts
/// the fields urlencoded under SetupPortal::kFormContentType (a plain form post's body never
/// reaches a trivial handler: setup_portal.h), at most SetupPortal::kMaxBodyBytes, copied raw
/// (handleBody) into a buffer allocated for that one submission and read by core's
/// http_form_field(). Any other request with a body, and every /api/ path, is the REST
/// handler's. A browser without script gets the form again with a 400 saying it needs it.
///
/// Saving and reconnecting happen in loop(), not in the server callback: flash writes and a
/// radio mode change do not belong in lwIP's receive path, and the delay lets the answer reach
/// the browser before the access point changes channel.

#include <ESPAsyncWebServer.h>

#include <cstdint>

#include "esp8266/config_store.h"
#include "spore/device/device_config.h"
#include "spore/base/ports.h"
#include "spore/http/rest_api.h"
#include "spore/device/setup_portal.h"
#include "spore/device/wifi_manager.h"

namespace spore::esp8266 {

class Portal {
 public:
  /// `device_name` (the hostname) is shown on the page; all references must outlive the portal.
  /// `api` holds the token the form asks for (none asked when it has none).
  Portal(AsyncWebServer& server, WifiManager& wifi, DeviceConfig& config, ConfigStore& store, const RestApi& api,
         const Clock& clock, LogSink& log, const char* device_name);
  Portal(const Portal&) = delete;
  Portal& operator=(const Portal&) = delete;

  /// Adds the portal's handler to the server; call before the REST handler is added (the server
  /// asks handlers in the order they were added).
  void begin();
  /// Saves and applies credentials accepted by a POST /wifi.
  void loop();


  // Called by the handler begin() gives the server (which owns and deletes it).
  // wants(): canHandle(); answers a low-heap 503 and a bad submit there, at once. on_body():
  // false when the segment is not read (the handler then holds back its ACK).
  bool wants(AsyncWebServerRequest* request);
  void serve(AsyncWebServerRequest* request);
  bool on_body(AsyncWebServerRequest* request, const uint8_t* data, size_t len, size_t index);

 private:
  void release_body(const AsyncWebServerRequest* request);
  SetupPortal::Route route_of(AsyncWebServerRequest* request) const;
  AsyncWebServerResponse* page(AsyncWebServerRequest* request, int status, const char* error, bool saved);
  void send_page(AsyncWebServerRequest* request, int status, const char* error, bool saved);
  /// Sends `response` before the body is read (pause + send) and stops acknowledging the body.
  static void answer_now(AsyncWebServerRequest* request, AsyncWebServerResponse* response);
  /// True when the settings record in flash holds exactly `text`.
  bool unchanged_in_flash(const char* text, size_t size_bytes);

  AsyncWebServer& server_;
  WifiManager& wifi_;
  DeviceConfig& config_;
  ConfigStore& store_;
  const RestApi& api_;
  const Clock& clock_;
  LogSink& log_;
  const char* device_name_;
  SetupPortal logic_;  // routing, form checks, apply timing (core, host-tested)
  char* body_ = nullptr;  // the submission being read (SetupPortal::kMaxBodyBytes), else none;
                          // its reader is logic_'s body owner
  size_t body_len_ = 0;
};

}  // namespace spore::esp8266
