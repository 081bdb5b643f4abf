#include "esp8266/portal.h"

#include <Arduino.h>

#include <string_view>

namespace spore::esp8266 {

namespace {

const char kHead[] PROGMEM =
    "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
    "content=\"width=device-width,initial-scale=1\"><title>SPORE setup</title><style>body{font-family:"
    "sans-serif;max-width:22em;margin:2em auto;padding:0 1em}input{display:block;width:100%;margin:.3em 0 "
    "1em;padding:.4em;box-sizing:border-box}.e{color:#b00}</style></head><body><h1>SPORE setup</h1><p>Device ";
const char kFormStart[] PROGMEM =
    "</p><form method=\"post\" action=\"/wifi\"><label>WiFi network<input name=\"ssid\" maxlength=\"32\" "
    "required></label><label>Password (empty for an open network)<input name=\"password\" type=\"password\" "
    "maxlength=\"64\"></label>";
const char kTokenField[] PROGMEM =
    "<label>API token of this device<input name=\"token\" type=\"password\" maxlength=\"64\" required></label>";
const char kFormEnd[] PROGMEM = "<button>Save and connect</button></form></body></html>";
const char kSaved[] PROGMEM =
    "</p><p>Saved. The device joins the network now; this access point closes once it is connected. If it "
    "comes back, the network was not reachable with these settings.</p></body></html>";
const char kErrorStart[] PROGMEM = "<p class=\"e\">Not saved: ";
const char kErrorEnd[] PROGMEM = "</p>";
const char kHtml[] PROGMEM = "text/html";

std::string_view param(AsyncWebServerRequest* request, const char* name) {
  const AsyncWebParameter* p = request->getParam(name, true);
  if (p == nullptr) return {};
  return std::string_view(p->value().c_str(), p->value().length());
}

class Handler final : public AsyncWebHandler {
 public:
  explicit Handler(Portal& portal) : portal_(portal) {}
  bool canHandle(AsyncWebServerRequest* request) const override { return portal_.wants(request); }
  void handleRequest(AsyncWebServerRequest* request) override { portal_.serve(request); }
  // Not trivial: the server must parse the form body into parameters.
  bool isRequestHandlerTrivial() const override { return false; }

 private:
  Portal& portal_;
};

}  // namespace

Portal::Portal(AsyncWebServer& server, WifiManager& wifi, DeviceConfig& config, ConfigStore& store, const RestApi& api,
               const Clock& clock, LogSink& log, const char* device_name)
    : server_(server),
      wifi_(wifi),
      config_(config),
      store_(store),
      api_(api),
      clock_(clock),
      log_(log),
      device_name_(device_name) {}

void Portal::begin() { server_.addHandler(new Handler(*this)); }

SetupPortal::Route Portal::route_of(AsyncWebServerRequest* request) const {
  const HttpMethod method = request->method() == HTTP_POST ? HttpMethod::kPost : HttpMethod::kGet;
  const String& url = request->url();
  return SetupPortal::route(wifi_.portal_active(), method, std::string_view(url.c_str(), url.length()),
                            request->contentLength());
}

bool Portal::wants(AsyncWebServerRequest* request) const {
  return route_of(request) != SetupPortal::Route::kNotMine;
}

void Portal::send_page(AsyncWebServerRequest* request, int status, const char* error, bool saved) {
  AsyncResponseStream* out = request->beginResponseStream(FPSTR(kHtml));
  if (out == nullptr) return;  // out of memory: the server closes the connection
  out->setCode(status);
  out->addHeader(F("Cache-Control"), F("no-store"));
  out->print(FPSTR(kHead));
  out->print(device_name_);  // "esp_<hex>": nothing to escape
  if (saved) {
    out->print(FPSTR(kSaved));
  } else {
    out->print(FPSTR(kFormStart));
    if (api_.has_api_token()) out->print(FPSTR(kTokenField));
    if (error != nullptr) {
      // A static sentence (core's in RAM, ours in flash; FPSTR reads both), never user input.
      out->print(FPSTR(kErrorStart));
      out->print(FPSTR(error));
      out->print(FPSTR(kErrorEnd));
    }
    out->print(FPSTR(kFormEnd));
  }
  request->send(out);
}

void Portal::serve(AsyncWebServerRequest* request) {
  if (route_of(request) != SetupPortal::Route::kSubmit) {
    send_page(request, 200, nullptr, false);
    return;
  }
  // The user gets the reason and the form again; config_ is unchanged on error.
  const SetupPortal::Outcome out = logic_.submit(config_, api_, param(request, "ssid"), param(request, "password"),
                                                 param(request, "token"), clock_.now_ms());
  send_page(request, out.status, out.error, out.error == nullptr);
}

void Portal::loop() {
  const uint32_t now_ms = clock_.now_ms();
  if (!logic_.apply_due(now_ms)) return;
  char text[SPORE_DEVICE_CONFIG_MAX_BYTES];
  const size_t n = config_.serialize(text, sizeof text);
  if (n == 0 || !store_.save(text, n)) {
    log_.write(LogLevel::kError, "portal: could not save the settings to flash; the new WiFi settings last until restart");
  } else {
    log_.write(LogLevel::kInfo, "portal: WiFi settings saved");
  }
  wifi_.set_credentials(now_ms, config_.wifi_ssid(), config_.wifi_password());
}

}  // namespace spore::esp8266
