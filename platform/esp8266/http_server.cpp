#include "esp8266/http_server.h"

#include <Arduino.h>

#include <new>
#include <string_view>

#include "spore/json_writer.h"

namespace spore::esp8266 {

namespace {

constexpr const char* kJson = "application/json";
// Response streams start small and grow (cbuf) only for big documents such as the member list.
constexpr size_t kStreamInitialBytes = 256;

/// JsonWriter output straight into ESPAsyncWebServer's response buffer.
class StreamJsonOutput final : public JsonOutput {
 public:
  explicit StreamJsonOutput(AsyncResponseStream& stream) : stream_(stream) {}
  void write(const char* data, size_t size_bytes) override {
    stream_.write(reinterpret_cast<const uint8_t*>(data), size_bytes);
  }

 private:
  AsyncResponseStream& stream_;
};

std::string_view view_of(const String& s) { return std::string_view(s.c_str(), s.length()); }

/// What core needs of a request; views into the request's Strings, valid while it lives.
HttpRequestHead head_of(AsyncWebServerRequest* request) {
  HttpRequestHead h;
  const char* method = request->methodToString();
  h.method = http_method_from_name(method != nullptr ? std::string_view(method) : std::string_view());
  h.path = view_of(request->url());
  h.authorization = view_of(request->header("Authorization"));
  h.content_type = view_of(request->contentType());
  h.content_length = request->contentLength();
  return h;
}

void add_common_headers(AsyncResponseStream* out, const HttpResponseHeaders& h) {
  out->addHeader("Cache-Control", "no-store");
  if (h.allow != nullptr) out->addHeader("Allow", h.allow);
  if (h.www_authenticate != nullptr) out->addHeader("WWW-Authenticate", h.www_authenticate);
  if (h.allow_origin != nullptr) out->addHeader("Access-Control-Allow-Origin", h.allow_origin);
}

/// The handler ESPAsyncWebServer calls; all state lives in EspHttpServer.
class Handler final : public AsyncWebHandler {
 public:
  explicit Handler(EspHttpServer& server) : server_(server) {}
  bool canHandle(AsyncWebServerRequest* request) const override { return server_.admit(request); }
  void handleRequest(AsyncWebServerRequest* request) override { server_.on_request(request); }
  void handleUpload(AsyncWebServerRequest* request, const String&, size_t index, uint8_t* data, size_t len,
                    bool final) override {
    server_.on_upload(request, index, data, len, final);
  }
  void handleBody(AsyncWebServerRequest* request, uint8_t* data, size_t len, size_t, size_t) override {
    server_.on_body(request, data, len);
  }
  bool isRequestHandlerTrivial() const override { return false; }

 private:
  EspHttpServer& server_;
};

}  // namespace

EspHttpServer::EspHttpServer(AsyncWebServer& server, RestApi& api, const Clock& clock)
    : server_(server), table_(api, clock) {}

void EspHttpServer::begin() {
  if (begun_) return;
  begun_ = true;
  table_.begin();
  Handler* handler = new (std::nothrow) Handler(*this);  // once; the server owns it
  if (handler != nullptr) {
    server_.addHandler(handler);
    handler_added_ = true;
  }
  // Reached only by requests admit() refused (the catch-all handler above takes everything
  // else): answer 503 without reading their body. admit() counted them already.
  server_.onNotFound([this](AsyncWebServerRequest* request) {
    if (!handler_added_) table_.fail(request);  // counted here: admit() never saw it
    send_overloaded(request);
  });
  server_.begin();
}

void EspHttpServer::loop() {
  if (table_.poll()) {
    if (before_restart_) before_restart_();
    ESP.restart();
  }
}

bool EspHttpServer::admit(AsyncWebServerRequest* request) {
  if (!table_.admit(request, head_of(request), ESP.getFreeHeap())) return false;
  // Fires when the client goes away, answered or not; after on_request() the slot is already
  // free and this does nothing. Two captured pointers fit std::function's inline storage.
  request->onDisconnect([this, request]() { table_.disconnected(request); });
  return true;
}

void EspHttpServer::on_body(AsyncWebServerRequest* request, uint8_t* data, size_t len) {
  table_.on_body(request, data, len);
}

void EspHttpServer::on_upload(AsyncWebServerRequest* request, size_t index, uint8_t* data, size_t len, bool final) {
  table_.on_upload(request, index, data, len, final);
}

void EspHttpServer::on_request(AsyncWebServerRequest* request) {
  if (const HttpAsset* asset = table_.respond_asset(request, head_of(request))) {
    // The dashboard: gzip bytes straight from flash. ESPAsyncWebServer 3.x's beginResponse()
    // with a uint8_t pointer is its progmem response (it reads with memcpy_P), no RAM copy.
    AsyncWebServerResponse* response =
        request->beginResponse(200, asset->content_type, asset->data, asset->size_bytes);
    if (response == nullptr) {
      send_overloaded(request);
      return;
    }
    if (asset->content_encoding != nullptr) response->addHeader("Content-Encoding", asset->content_encoding);
    response->addHeader("Cache-Control", "no-cache");
    request->send(response);
    return;
  }
  AsyncResponseStream* response =
      table_.contains(request) ? request->beginResponseStream(kJson, kStreamInitialBytes) : nullptr;
  if (response == nullptr) {
    table_.fail(request);  // aborts an accepted upload; the running image stays
    send_overloaded(request);
    return;
  }
  StreamJsonOutput out(*response);
  HttpResponseHeaders headers;
  bool close_connection = false;
  const int status = table_.respond(request, head_of(request), out, &headers, &close_connection);
  response->setCode(status);
  // A text route (GET /metrics): the body is already in the stream, the head is built at send().
  if (headers.content_type != nullptr) response->setContentType(headers.content_type);
  add_common_headers(response, headers);
  if (close_connection) response->addHeader("Connection", "close");
  request->send(response);
}

void EspHttpServer::send_overloaded(AsyncWebServerRequest* request) {
  // A constant body from flash: no JsonWriter, no allocation beyond the response itself.
  static const char kBody[] PROGMEM =
      "{\"error\":\"The node is low on memory or busy; retry shortly.\",\"code\":\"overloaded\"}";
  AsyncWebServerResponse* response =
      request->beginResponse(503, kJson, reinterpret_cast<const uint8_t*>(kBody), sizeof kBody - 1);
  if (response == nullptr) return;  // ESPAsyncWebServer answers 501/closes by itself
  response->addHeader("Retry-After", "1");
  request->send(response);
}

}  // namespace spore::esp8266
