#include "esp8266/portal.h"

#include <Arduino.h>

#include <new>
#include <string_view>

namespace spore::esp8266 {

namespace {

const char kHead[] PROGMEM =
    "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
    "content=\"width=device-width,initial-scale=1\"><title>SPORE setup</title><style>body{font-family:"
    "sans-serif;max-width:22em;margin:2em auto;padding:0 1em}input{display:block;width:100%;margin:.3em 0 "
    "1em;padding:.4em;box-sizing:border-box}.e{color:#b00}</style></head><body><h1>SPORE setup</h1><p>Device ";
// The form goes out urlencoded under SetupPortal::kFormContentType by a few lines of script:
// ESPAsyncWebServer never hands a plain form post's body to a trivial handler (setup_portal.h).
const char kFormStart[] PROGMEM =
    "</p><script>function s(f){var b=[];for(var i=0;i<f.elements.length;i++){var e=f.elements[i];if(e.name)"
    "b.push(e.name+'='+encodeURIComponent(e.value))}fetch('/wifi',{method:'POST',headers:{'Content-Type':"
    "'application/x-spore-setup-form'},body:b.join('&')}).then(function(r){return r.text()}).then(function(t){"
    "document.open();document.write(t);document.close()});return false}</script>"
    "<form method=\"post\" action=\"/wifi\" onsubmit=\"return s(this)\"><label>WiFi network"
    "<input name=\"ssid\" maxlength=\"32\" required></label><label>Password (empty for an open network)"
    "<input name=\"password\" type=\"password\" maxlength=\"64\"></label>";
const char kTokenField[] PROGMEM =
    "<label>API token of this device<input name=\"token\" type=\"password\" maxlength=\"64\" required></label>";
const char kFormEnd[] PROGMEM = "<button>Save and connect</button></form></body></html>";
const char kSaved[] PROGMEM =
    "</p><p>Saved. The device joins the network now; this access point closes once it is connected. If it "
    "comes back, the network was not reachable with these settings.</p></body></html>";
const char kErrorStart[] PROGMEM = "<p class=\"e\">Not saved: ";
const char kErrorEnd[] PROGMEM = "</p>";
const char kHtml[] PROGMEM = "text/html";

const char kBusy[] PROGMEM = "another submission is being read; try again";
const char kLowHeap[] PROGMEM = "The device is low on memory; retry shortly.";

class Handler final : public AsyncWebHandler {
 public:
  explicit Handler(Portal& portal) : portal_(portal) {}
  bool canHandle(AsyncWebServerRequest* request) const override { return portal_.wants(request); }
  void handleRequest(AsyncWebServerRequest* request) override { portal_.serve(request); }
  void handleBody(AsyncWebServerRequest* request, uint8_t* data, size_t len, size_t index, size_t) override {
    // A body nobody reads (answered already, or its buffer taken over): not acknowledged, so the
    // sender's window closes within ~2 KB (ESPAsyncTCP.h:214).
    if (!portal_.on_body(request, data, len, index)) request->client()->ackLater();
  }
  // Trivial: the library parses no body into parameters; the form arrives raw (handleBody).
  bool isRequestHandlerTrivial() const override { return true; }

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
  HttpMethod method = kUnknownHttpMethod;
  if (request->method() == HTTP_POST) method = HttpMethod::kPost;
  if (request->method() == HTTP_GET || request->method() == HTTP_HEAD) method = HttpMethod::kGet;
  const String& url = request->url();
  const String& type = request->contentType();
  return SetupPortal::route(wifi_.portal_active(), method, std::string_view(url.c_str(), url.length()),
                            std::string_view(type.c_str(), type.length()), request->contentLength());
}

bool Portal::wants(AsyncWebServerRequest* request) {
  // Called from the library's _attachHandler(): the headers are in, no body byte has been read.
  const SetupPortal::Route route = route_of(request);
  if (route == SetupPortal::Route::kNotMine) return false;
  if (request->isSent()) return true;  // answered already
  if (!SetupPortal::heap_allows(ESP.getFreeHeap(), ESP.getMaxFreeBlockSize())) {
    // A page would take a 1,460-B cbuf from a throwing new: a short constant answer instead.
    AsyncWebServerResponse* response = request->beginResponse(
        503, FPSTR(kHtml), reinterpret_cast<const uint8_t*>(kLowHeap), sizeof kLowHeap - 1);
    response->addHeader(F("Retry-After"), F("1"));
    answer_now(request, response);
    return true;
  }
  if (route == SetupPortal::Route::kBadSubmit) {
    // Answered now, before its body (up to its Content-Length, unbounded here) is read.
    answer_now(request, page(request, 400, SetupPortal::bad_submit_error(), false));
    return true;
  }
  if (route == SetupPortal::Route::kSubmit && logic_.claim_body(request, clock_.now_ms())) {
    // One submission at a time, its body (at most kMaxBodyBytes) in a buffer that exists only
    // while submissions are read: the portal runs in setup mode, when the heap is nearly all
    // free. A holder that took too long lost it here (SetupPortal::claim_body()): it reads from
    // the start again for the new owner.
    if (body_ == nullptr) body_ = new (std::nothrow) char[SetupPortal::kMaxBodyBytes];
    body_len_ = 0;
    if (body_ == nullptr) {
      logic_.release_body(request);
    } else {
      request->onDisconnect([this, request]() { release_body(request); });
    }
  }
  return true;
}

void Portal::answer_now(AsyncWebServerRequest* request, AsyncWebServerResponse* response) {
  // As EspHttpServer::send_refusal(): a paused request's send() writes at once, the library
  // closes the connection once the answer is acknowledged, and the segment that carried the
  // head is not acknowledged (nor any later body segment: Handler::handleBody).
  request->pause();
  request->send(response);
  request->client()->ackLater();
}

bool Portal::on_body(AsyncWebServerRequest* request, const uint8_t* data, size_t len, size_t index) {
  // The library stops at Content-Length (WebRequest.cpp:188), which route() capped.
  if (!logic_.owns_body(request) || index > SetupPortal::kMaxBodyBytes || len > SetupPortal::kMaxBodyBytes - index) {
    return false;
  }
  memcpy(body_ + index, data, len);
  if (index + len > body_len_) body_len_ = index + len;
  return true;
}

void Portal::release_body(const AsyncWebServerRequest* request) {
  if (!logic_.owns_body(request)) return;
  logic_.release_body(request);
  delete[] body_;
  body_ = nullptr;
  body_len_ = 0;
}

AsyncWebServerResponse* Portal::page(AsyncWebServerRequest* request, int status, const char* error, bool saved) {
  // Throwing new (a failure is a reset): wants() admitted the request only with
  // SetupPortal::heap_allows() (the stream's 1,460-B cbuf); the page is ~1.3 KB.
  AsyncResponseStream* out = request->beginResponseStream(FPSTR(kHtml));
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
  return out;
}

void Portal::send_page(AsyncWebServerRequest* request, int status, const char* error, bool saved) {
  request->send(page(request, status, error, saved));
}

void Portal::serve(AsyncWebServerRequest* request) {
  if (request->isSent()) return;  // answered from wants()
  const SetupPortal::Route route = route_of(request);
  if (route == SetupPortal::Route::kPage) {
    send_page(request, 200, nullptr, false);
    return;
  }
  if (route == SetupPortal::Route::kBadSubmit) {
    send_page(request, 400, SetupPortal::bad_submit_error(), false);
    return;
  }
  if (!logic_.owns_body(request)) {  // another submission holds the buffer, or no memory for one
    send_page(request, 503, kBusy, false);
    return;
  }
  // The user gets the reason and the form again; config_ is unchanged on error.
  const SetupPortal::Outcome out =
      logic_.submit_form(config_, api_, std::string_view(body_, body_len_), clock_.now_ms());
  release_body(request);
  send_page(request, out.status, out.error, out.error == nullptr);
}

bool Portal::unchanged_in_flash(const char* text, size_t size_bytes) {
  // A submit of the same credentials (a second click, a retry) must not wear the sectors. Read
  // back into a buffer of the same size (~0.5 KB more on the loop's stack, only here).
  char stored[SPORE_DEVICE_CONFIG_MAX_BYTES];
  size_t stored_bytes = 0;
  return store_.load(stored, sizeof stored, &stored_bytes) == StoredSettings::kText && stored_bytes == size_bytes &&
         memcmp(stored, text, size_bytes) == 0;
}

void Portal::loop() {
  const uint32_t now_ms = clock_.now_ms();
  if (!logic_.apply_due(now_ms)) return;
  char text[SPORE_DEVICE_CONFIG_MAX_BYTES];
  const size_t n = config_.serialize(text, sizeof text);
  if (n > 0 && unchanged_in_flash(text, n)) {
    log_.write(LogLevel::kInfo, "portal: WiFi settings unchanged, not rewritten");
  } else if (n == 0 || !store_.save(text, n)) {
    log_.write(LogLevel::kError, "portal: could not save the settings to flash; the new WiFi settings last until restart");
  } else {
    log_.write(LogLevel::kInfo, "portal: WiFi settings saved");
  }
  wifi_.set_credentials(now_ms, config_.wifi_ssid(), config_.wifi_password());
}

}  // namespace spore::esp8266
