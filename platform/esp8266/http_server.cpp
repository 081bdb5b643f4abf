#include "esp8266/http_server.h"

#include <Arduino.h>

#include <cstring>
#include <new>
#include <string_view>

#include "spore/json_writer.h"
#include "spore/ota_upload.h"

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

HttpMethod method_of(AsyncWebServerRequest* request) {
  const char* name = request->methodToString();
  if (name == nullptr) return kUnknownHttpMethod;
  // HEAD is answered as GET (ESPAsyncWebServer does not strip the body; clients ignore it).
  if (std::strcmp(name, "HEAD") == 0) return HttpMethod::kGet;
  HttpMethod m = kUnknownHttpMethod;
  if (!parse_http_method(name, &m)) return kUnknownHttpMethod;
  return m;
}

bool starts_with_ci(const String& s, const char* prefix) {
  const size_t n = std::strlen(prefix);
  return s.length() >= n && strncasecmp(s.c_str(), prefix, n) == 0;
}

void add_common_headers(AsyncResponseStream* out, const HttpResponseHeaders& h) {
  out->addHeader("Cache-Control", "no-store");
  if (h.allow != nullptr) out->addHeader("Allow", h.allow);
  if (h.www_authenticate != nullptr) out->addHeader("WWW-Authenticate", h.www_authenticate);
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
    : server_(server), api_(api), clock_(clock) {}

void EspHttpServer::begin() {
  if (begun_) return;
  begun_ = true;
  api_.set_restart_handler(Delegate<void()>::bind<EspHttpServer, &EspHttpServer::request_restart>(this));
  Handler* handler = new (std::nothrow) Handler(*this);  // once; the server owns it
  if (handler != nullptr) server_.addHandler(handler);
  // Reached only by requests admit() refused (the catch-all handler above takes everything
  // else): answer 503 without reading their body.
  server_.onNotFound([this](AsyncWebServerRequest* request) { send_overloaded(request); });
  server_.begin();
}

void EspHttpServer::loop() {
  const uint32_t now = now_ms();
  if (ota_ != nullptr) ota_->poll(now);
  if (restart_scheduled_ && elapsed_ms(now, restart_requested_ms_) >= options_.restart_delay_ms) {
    if (before_restart_) before_restart_();
    ESP.restart();
  }
}

void EspHttpServer::request_restart() {
  if (restart_scheduled_) return;
  restart_scheduled_ = true;
  restart_requested_ms_ = now_ms();
}

size_t EspHttpServer::active_requests() const {
  size_t n = 0;
  for (const Slot& s : slots_) n += s.kind != Kind::kFree ? 1 : 0;
  return n;
}

EspHttpServer::Slot* EspHttpServer::find(const AsyncWebServerRequest* request) {
  for (Slot& s : slots_) {
    if (s.kind != Kind::kFree && s.request == request) return &s;
  }
  return nullptr;
}

void EspHttpServer::release(Slot& slot) {
  if (slot.refusal != nullptr) delete slot.refusal;  // never sent (connection dropped)
  slot.refusal = nullptr;
  slot.request = nullptr;
  slot.kind = Kind::kFree;
  slot.body_len = 0;
}

bool EspHttpServer::admit(AsyncWebServerRequest* request) {
  if (ESP.getFreeHeap() < options_.min_free_heap_bytes) return false;
  Slot* slot = nullptr;
  for (Slot& s : slots_) {
    if (s.kind == Kind::kFree) {
      slot = &s;
      break;
    }
  }
  if (slot == nullptr) return false;
  slot->request = request;
  slot->refusal = nullptr;
  slot->upload_id = 0;
  slot->body_len = 0;
  slot->body_too_large = false;
  slot->upload_accepting = false;
  slot->upload_part_seen = false;
  slot->upload_part_done = false;
  const bool update = ota_ != nullptr && method_of(request) == HttpMethod::kPost &&
                      view_of(request->url()) == OtaUploadHandler::kPath && request->contentLength() > 0;
  slot->kind = update ? Kind::kUpload : Kind::kPlain;
  // Fires when the client goes away, answered or not; after on_request() the slot is already
  // free and this does nothing. Two captured pointers fit std::function's inline storage.
  request->onDisconnect([this, request]() { on_disconnect(request); });
  if (update) start_upload(*slot, request, starts_with_ci(request->contentType(), "multipart/"));
  return true;
}

void EspHttpServer::start_upload(Slot& slot, AsyncWebServerRequest* request, bool multipart) {
  char buffer[320];
  BufferJsonOutput out(buffer, sizeof buffer);
  HttpResponseHeaders headers;
  const std::string_view content_type = multipart ? std::string_view("application/octet-stream")
                                                  : view_of(request->contentType());
  const size_t content_length = multipart ? 0 : request->contentLength();
  const int status = ota_->start(content_type, content_length, view_of(request->header("Authorization")), now_ms(),
                                 out, &headers);
  if (status == 0) {
    slot.upload_id = ota_->upload_id();
    slot.upload_accepting = true;
    return;
  }
  // Refused before any body byte (401, 409, 413, 415): the answer is ready now and sent when the
  // request ends; the body that still arrives is ignored.
  AsyncResponseStream* response = request->beginResponseStream(kJson, kStreamInitialBytes);
  if (response == nullptr) return;  // out of memory: on_request() answers 503
  response->setCode(status);
  add_common_headers(response, headers);
  response->write(reinterpret_cast<const uint8_t*>(out.c_str()), out.size());
  slot.refusal = response;
}

void EspHttpServer::on_body(AsyncWebServerRequest* request, uint8_t* data, size_t len) {
  Slot* slot = find(request);
  if (slot == nullptr || len == 0) return;
  if (slot->kind == Kind::kUpload) {
    if (slot->refusal != nullptr || !slot->upload_accepting) return;
    slot->upload_accepting = ota_->body(data, len, now_ms(), slot->upload_id);
    return;
  }
  if (slot->body_too_large || len > sizeof slot->body - slot->body_len) {
    slot->body_too_large = true;
    return;
  }
  std::memcpy(slot->body + slot->body_len, data, len);
  slot->body_len += len;
}

void EspHttpServer::on_upload(AsyncWebServerRequest* request, size_t index, uint8_t* data, size_t len, bool final) {
  Slot* slot = find(request);
  if (slot == nullptr) return;
  if (slot->kind != Kind::kUpload) {
    slot->body_too_large = true;  // multipart bodies are only understood on the update route
    return;
  }
  if (slot->refusal != nullptr || slot->upload_part_done) return;  // only the first file part
  if (index == 0) slot->upload_part_seen = true;
  if (slot->upload_accepting && len > 0) slot->upload_accepting = ota_->body(data, len, now_ms(), slot->upload_id);
  if (final) slot->upload_part_done = true;
}

void EspHttpServer::on_request(AsyncWebServerRequest* request) {
  Slot* slot = find(request);
  if (slot == nullptr) {
    send_overloaded(request);
    return;
  }
  if (slot->kind == Kind::kUpload) {
    serve_upload(*slot, request);
  } else {
    serve_plain(*slot, request);
  }
  release(*slot);
}

void EspHttpServer::serve_plain(Slot& slot, AsyncWebServerRequest* request) {
  AsyncResponseStream* response = request->beginResponseStream(kJson, kStreamInitialBytes);
  if (response == nullptr) {
    send_overloaded(request);
    return;
  }
  StreamJsonOutput out(*response);
  HttpResponseHeaders headers;
  int status = 413;
  if (slot.body_too_large) {
    JsonWriter w(out);
    w.begin_object()
        .field("error", "The request body is larger than this node accepts.")
        .field("code", "payload_too_large")
        .end_object();
  } else {
    HttpRequest r;
    r.method = method_of(request);
    r.path = view_of(request->url());
    r.authorization = view_of(request->header("Authorization"));
    r.body = std::string_view(slot.body, slot.body_len);
    r.content_type = view_of(request->contentType());
    status = api_.handle(r, out, &headers);
  }
  response->setCode(status);
  add_common_headers(response, headers);
  if (status == 202 && restart_scheduled_) response->addHeader("Connection", "close");
  request->send(response);
}

void EspHttpServer::serve_upload(Slot& slot, AsyncWebServerRequest* request) {
  if (slot.refusal != nullptr) {
    request->send(slot.refusal);  // the server owns it now
    slot.refusal = nullptr;
    return;
  }
  AsyncResponseStream* response = request->beginResponseStream(kJson, kStreamInitialBytes);
  if (response == nullptr) {
    // Still end the upload (aborting it) so the slot in core is freed.
    char scratch[160];
    BufferJsonOutput sink(scratch, sizeof scratch);
    if (slot.upload_id != 0) ota_->finish(false, now_ms(), sink, slot.upload_id);
    send_overloaded(request);
    return;
  }
  if (slot.upload_id == 0) {
    // Core refused the upload at start() but there was no memory for its answer then.
    delete response;
    send_overloaded(request);
    return;
  }
  StreamJsonOutput out(*response);
  const int status = ota_->finish(true, now_ms(), out, slot.upload_id);
  response->setCode(status);
  response->addHeader("Cache-Control", "no-store");
  if (status == 200 && ota_->restart_pending()) {
    response->addHeader("Connection", "close");
    request_restart();
  }
  request->send(response);
}

void EspHttpServer::on_disconnect(AsyncWebServerRequest* request) {
  Slot* slot = find(request);
  if (slot == nullptr) return;  // answered already
  if (slot->kind == Kind::kUpload && slot->upload_id != 0 && slot->refusal == nullptr) {
    char scratch[160];
    BufferJsonOutput sink(scratch, sizeof scratch);
    ota_->finish(false, now_ms(), sink, slot->upload_id);  // kAborted: the running image stays
  }
  release(*slot);
}

void EspHttpServer::send_overloaded(AsyncWebServerRequest* request) {
  ++overloaded_;
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
