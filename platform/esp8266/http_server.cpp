#include "esp8266/http_server.h"

#include <Arduino.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <string_view>

#include "spore/http/chunked_answer.h"
#include "spore/base/json_writer.h"

namespace spore::esp8266 {

namespace {

constexpr const char* kJson = "application/json";
// A rebuilt request target ("path?query"); admit() refuses (414) one that would not fit.
constexpr size_t kTargetMaxBytes = SPORE_ESP_MAX_TARGET_BYTES;
/// "255.255.255.255:65535" and its NUL.
constexpr size_t kLocalAddressMaxBytes = 22;

/// Every answer but the dashboard, the 503 and event streams: core's ChunkedAnswer, handed to
/// ESPAsyncWebServer piece by piece. What AsyncChunkedResponse (beginChunkedResponse()) does, with
/// the answer inside the response object instead of behind a std::function, so it is freed with
/// the response and costs one allocation. AsyncAbstractResponse::write_send_buffs()
/// (WebResponses.cpp:346-519, ESPAsyncWebServer 3.12.0) calls _fillBuffer() whenever TCP has room
/// (with ASYNCWEBSERVER_USE_CHUNK_INFLIGHT, its default: once the whole 2 x TCP_MSS send buffer
/// is free, WebResponses.cpp:369-378), into a 2 x TCP_MSS std::array it allocates for that call
/// and frees when the bytes went to TCP (:440-446, :505-508), minus 8 bytes of chunk framing (:453).
class AnswerResponse final : public AsyncAbstractResponse {
 public:
  /// `chunked`: HTTP/1.1 (Transfer-Encoding: chunked, so a cut answer is visibly incomplete);
  /// HTTP/1.0 has no chunks and ends the body with the connection (as beginChunkedResponse()).
  AnswerResponse(AsyncClient* client, bool chunked) : client_(client) {
    _code = 200;
    _contentType = kJson;
    _contentLength = 0;
    _sendContentLength = false;
    _chunked = chunked;
  }
  ChunkedAnswer& answer() { return answer_; }
  /// A 204 (a CORS preflight): no Transfer-Encoding (RFC 9112 forbids it on a 204) and no
  /// Content-Type; the empty body ends as an HTTP/1.0 one does, with the connection.
  void set_no_body() {
    _chunked = false;
    _contentType = String();
  }
  /// False once the answer failed, and then the connection is reset: a close would end an
  /// HTTP/1.0 answer (no chunk framing) as if it were complete. Called first thing by
  /// write_send_buffs() (WebResponses.cpp:348-352), which then close()s: safe on the aborted
  /// connection (AsyncClient::close() only touches the pcb when there is one,
  /// ESPAsyncTCP.cpp:355-363; the request and its AsyncClient stay alive until the ACK or poll
  /// callback that called us returns: WebRequest.cpp:240-266 hold `self`, and the client is
  /// deleted only by the request's destructor). AsyncClient::abort() from inside its own
  /// callbacks: ESPAsyncTCP then answers lwIP ERR_OK for the freed pcb (ESPAsyncTCP.cpp:137-143),
  /// which HttpListener's wrappers of the recv and sent callbacks turn into ERR_ABRT
  /// (http_listener.h, after_forward()); from the poll callback lwIP rescans its list anyway.
  /// Not from _fillBuffer(): write_send_buffs() calls client->send() after it, and tcp_output()
  /// on the null pcb would crash.
  bool _sourceValid() const override {
    if (!answer_.failed()) return true;
    client_->abort();  // RST; a second call finds no pcb and does nothing
    return false;
  }
  size_t _fillBuffer(uint8_t* data, size_t len) override {
    const size_t n = answer_.fill(reinterpret_cast<char*>(data), len);
    // 0 would be the last chunk, i.e. a complete answer: a failed one sends nothing instead, and
    // the next write_send_buffs() call (the ACK of what is in flight, or ESPAsyncTCP's 500 ms
    // poll once nothing is) resets the connection in _sourceValid().
    return answer_.failed() ? RESPONSE_TRY_AGAIN : n;
  }

 private:
  AsyncClient* client_;
  ChunkedAnswer answer_;
};

std::string_view view_of(const String& s) { return std::string_view(s.c_str(), s.length()); }

bool is_unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

size_t encoded_size(const String& s) {
  size_t n = 0;
  for (size_t i = 0; i < s.length(); ++i) n += is_unreserved(s[i]) ? 1 : 3;
  return n;
}

/// Query parameters ESPAsyncWebServer parsed from the target (never body fields: every SPORE
/// handler is trivial for form bodies, and the upload handler's multipart fields are skipped).
bool is_query_param(const AsyncWebParameter* p) { return p != nullptr && !p->isPost() && !p->isFile(); }

/// Length of the target target_of() rebuilds, without building it.
size_t target_size(AsyncWebServerRequest* request) {
  size_t n = request->url().length();
  for (size_t i = 0; i < request->params(); ++i) {
    const AsyncWebParameter* p = request->getParam(i);
    if (is_query_param(p)) n += 2 + encoded_size(p->name()) + encoded_size(p->value());
  }
  return n;
}

/// Appends `s` percent-encoded; false when it does not fit.
bool append_encoded(const String& s, char* out, size_t capacity_bytes, size_t* len) {
  static const char kHex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < s.length(); ++i) {
    const char c = s[i];
    const size_t need = is_unreserved(c) ? 1 : 3;
    if (*len + need >= capacity_bytes) return false;
    if (need == 1) {
      out[(*len)++] = c;
    } else {
      out[(*len)++] = '%';
      out[(*len)++] = kHex[(static_cast<uint8_t>(c) >> 4) & 0xF];
      out[(*len)++] = kHex[static_cast<uint8_t>(c) & 0xF];
    }
  }
  return true;
}

/// The request target as the client sent it, as far as ESPAsyncWebServer lets us know it: the
/// path plus its query parameters, percent-encoded again. The path alone when there are none or
/// when it does not fit `buffer` (admit() refused such a request already).
std::string_view target_of(AsyncWebServerRequest* request, char* buffer, size_t capacity_bytes) {
  const String& url = request->url();
  const std::string_view path = view_of(url);
  if (url.length() >= capacity_bytes) return path;
  std::memcpy(buffer, url.c_str(), url.length());
  size_t len = url.length();
  bool any = false;
  for (size_t i = 0; i < request->params(); ++i) {
    const AsyncWebParameter* p = request->getParam(i);
    if (!is_query_param(p)) continue;
    if (len + 2 >= capacity_bytes) return path;
    buffer[len++] = any ? '&' : '?';
    any = true;
    if (!append_encoded(p->name(), buffer, capacity_bytes, &len)) return path;
    buffer[len++] = '=';
    if (!append_encoded(p->value(), buffer, capacity_bytes, &len)) return path;
  }
  return std::string_view(buffer, len);
}

/// The request's method as core knows it; HEAD is served as GET, as http_method_from_name() does
/// for the Linux server. From the library's enum, not its name: methodToString() and the name
/// parsing cost ~300 B of flash for the same answer.
HttpMethod method_of(const AsyncWebServerRequest* request) {
  switch (request->method()) {
    case AsyncWebRequestMethod::HTTP_GET:
    case AsyncWebRequestMethod::HTTP_HEAD:
      return HttpMethod::kGet;
    case AsyncWebRequestMethod::HTTP_POST:
      return HttpMethod::kPost;
    case AsyncWebRequestMethod::HTTP_PUT:
      return HttpMethod::kPut;
    case AsyncWebRequestMethod::HTTP_DELETE:
      return HttpMethod::kDelete;
    case AsyncWebRequestMethod::HTTP_PATCH:
      return HttpMethod::kPatch;
    case AsyncWebRequestMethod::HTTP_OPTIONS:
      return kOptionsHttpMethod;  // a CORS preflight: RestApi answers it
    default:
      return kUnknownHttpMethod;
  }
}

/// What core needs of a request; views into the request's Strings (and `target`), valid while it
/// lives. `target` nullptr: the path alone (admission); else the rebuilt target (routing).
/// "a.b.c.d:port" of this node's end of the request's connection into `out` (kLocalAddressMaxBytes):
/// the address the client reached, which GET /api/node/challenge signs.
std::string_view local_address_of(AsyncWebServerRequest* request, char* out) {
  AsyncClient* client = request->client();
  if (client == nullptr) return {};
  const IPAddress ip = client->localIP();
  const int n = snprintf_P(out, kLocalAddressMaxBytes, PSTR("%u.%u.%u.%u:%u"), ip[0], ip[1], ip[2], ip[3],
                           static_cast<unsigned>(client->localPort()));
  return n > 0 && n < static_cast<int>(kLocalAddressMaxBytes) ? std::string_view(out, static_cast<size_t>(n))
                                                               : std::string_view();
}

HttpRequestHead head_of(AsyncWebServerRequest* request, char* target = nullptr, char* local = nullptr) {
  HttpRequestHead h;
  h.method = method_of(request);
  h.path = target != nullptr ? target_of(request, target, kTargetMaxBytes) : view_of(request->url());
  h.authorization = view_of(request->header("Authorization"));
  h.content_type = view_of(request->contentType());
  h.content_length = request->contentLength();
  if (local != nullptr) h.local_address = local_address_of(request, local);
  return h;
}

/// head_of() plus what admission bounds: the target's size and the library's parameter and
/// header lists (already parsed: WebRequest.cpp _parseReqHead() / _parseReqHeader()), the header
/// fields added to `fields` (which must outlive the head) for core's framing and name rules.
HttpRequestHead admission_head_of(AsyncWebServerRequest* request, HttpHeadFields& fields) {
  HttpRequestHead h = head_of(request);
  h.query_params = request->params();
  // getHeader(i) walks the list from its start too: one field past the limit is enough for 431.
  const size_t count = std::min<size_t>(request->headers(), SPORE_ESP_MAX_HEADERS + 1);
  for (size_t i = 0; i < count; ++i) {
    const AsyncWebHeader* field = request->getHeader(i);
    if (field != nullptr) fields.add(view_of(field->name()), view_of(field->value()));
  }
  h.fields = &fields;
  // getParam(i) walks the list from its start: only measure a list admission will not refuse
  // anyway, so a flood of parameters costs no quadratic walk in the SYS context.
  if (h.query_params <= SPORE_ESP_MAX_QUERY_PARAMS) h.target_bytes = target_size(request);
  return h;
}

void add_common_headers(AsyncWebServerResponse* out, const HttpResponseHeaders& h) {
  out->addHeader("Cache-Control", "no-store");
  if (h.allow != nullptr) out->addHeader("Allow", h.allow);
  if (h.www_authenticate != nullptr) out->addHeader("WWW-Authenticate", h.www_authenticate);
  if (h.allow_origin != nullptr) out->addHeader("Access-Control-Allow-Origin", h.allow_origin);
  if (h.allow_methods != nullptr) {
    // Names and constant values from flash: only preflights pay for them, in heap, while sent.
    out->addHeader(String(F("Access-Control-Allow-Methods")), String(h.allow_methods));
    out->addHeader(String(F("Access-Control-Allow-Headers")), String(FPSTR(kCorsAllowHeaders)));
    out->addHeader(String(F("Access-Control-Max-Age")), String(FPSTR(kCorsMaxAgeS)));
  }
}

/// The handler ESPAsyncWebServer asks for every request (after the upload handler); all state
/// lives in EspHttpServer. Trivial: the library parses no form or multipart body for it
/// (WebRequest.cpp:186-226 skips them; other bodies reach handleBody raw). It takes every
/// request, so the library's catch-all (and its 404/501 answers) is never used.
class Handler final : public AsyncWebHandler {
 public:
  explicit Handler(EspHttpServer& server) : server_(server) {}
  bool canHandle(AsyncWebServerRequest* request) const override { return server_.admit(request); }
  void handleRequest(AsyncWebServerRequest* request) override { server_.on_request(request); }
  void handleBody(AsyncWebServerRequest* request, uint8_t* data, size_t len, size_t, size_t) override {
    // A refused (or expired, or already answered) request's body is not wanted: not acknowledging
    // its segments closes the client's window within ~2 KB (ESPAsyncTCP.h:214, .cpp:650-653).
    if (!server_.on_body(request, data, len)) request->client()->ackLater();
  }
  bool isRequestHandlerTrivial() const override { return true; }

 private:
  EspHttpServer& server_;
};

/// The one non-trivial handler: an admitted multipart POST /api/node/update, whose file part
/// the library's multipart parser hands to handleUpload. Its other fields would become heap
/// parameters (one per field): only an upload OtaUploadHandler accepted (authenticated, not busy)
/// gets here; everything else falls through to Handler.
class UploadHandler final : public AsyncWebHandler {
 public:
  explicit UploadHandler(EspHttpServer& server) : server_(server) {}
  bool canHandle(AsyncWebServerRequest* request) const override { return server_.admit_multipart_upload(request); }
  void handleRequest(AsyncWebServerRequest* request) override { server_.on_request(request); }
  void handleUpload(AsyncWebServerRequest* request, const String&, size_t index, uint8_t* data, size_t len,
                    bool final) override {
    server_.on_upload(request, index, data, len, final);
  }
  bool isRequestHandlerTrivial() const override { return false; }

 private:
  EspHttpServer& server_;
};

/// The head of an event stream; sending it hands the connection to EspHttpServer.
class StreamResponse final : public AsyncWebServerResponse {
 public:
  StreamResponse(EspHttpServer& server, size_t slot) : server_(server), slot_(slot) {
    _code = 200;
    _contentType = "text/event-stream";
    _sendContentLength = false;  // the body ends when the connection does
    addHeader("Cache-Control", "no-store");
    addHeader("Access-Control-Allow-Origin", "*");  // public, like the node's other public GETs
  }
  ~StreamResponse() override {
    if (!adopted_) server_.drop_stream(slot_);  // deleted unsent (the request went away first)
  }
  bool _sourceValid() const override { return true; }
  void _respond(AsyncWebServerRequest* request) override {
    String head;
    _assembleHead(head, request->version());
    adopted_ = true;
    server_.adopt_stream(slot_, request, head);
  }

 private:
  EspHttpServer& server_;
  size_t slot_;
  bool adopted_ = false;
};

// The heap of one answer, whatever its length (platform/esp8266/README.md, "Answers in chunks"):
// 808 B with ESPAsyncWebServer 3.12.0 on core 3.1.2, the 512-B carry included.
static_assert(sizeof(AnswerResponse) <= 808, "an answer's response object grew: update the README's figure");

}  // namespace

EspHttpServer::EspHttpServer(AsyncWebServer& server, RestApi& api, const Clock& clock)
    : server_(server), api_(api), clock_(clock), table_(api, clock) {}

bool EspHttpServer::begin(uint16_t port) {
  if (begun_) return listening_;
  begun_ = true;
  table_.begin();
  // Every response object the server builds copies DefaultHeaders when it is constructed: ours,
  // the event stream's head, the setup portal's pages and the library's own 500/501. So no
  // answer goes out without it. Heap: this list entry once (80 B), and the same per answer while
  // it is alive (platform/esp8266/README.md, "Security headers").
  DefaultHeaders::Instance().addHeader(String(F("X-Content-Type-Options")), String(F("nosniff")));
  // The chip cannot restart itself after a serial flash until it is power-cycled.
  table_.set_restart_blocked(restart_blocked_by_boot_mode((GPI >> 16) & 0xf));
  // Once, at boot; the server owns and deletes them. The upload handler first: the server asks
  // handlers in the order they were added. No onNotFound(): it would make the library's
  // catch-all non-trivial (WebHandlerImpl.h:85), and Handler takes every request anyway.
  server_.addHandler(new UploadHandler(*this));
  server_.addHandler(new Handler(*this));
  // Not server_.begin(): the listener accepts the connections itself, so that core's head screen
  // sees each request head before ESPAsyncWebServer parses it (http_listener.h).
  listening_ = listener_.begin(server_, port);
  return listening_;
}

void EspHttpServer::loop() {
  if (listening_) listener_.poll(millis());
  if (table_.poll()) {
    if (before_restart_) before_restart_();
    ESP.restart();
  }
  while (const void* expired = table_.take_expired()) {
    // Its slot is free already. close(true), not abort(): outside a callback of its own,
    // AsyncClient::abort() writes to the client after tcp_abort()'s error callback has deleted
    // it (ESPAsyncTCP.cpp:347-350 after :517-532 -> the request's destructor). _close() touches
    // nothing after the disconnect callback (ESPAsyncTCP.cpp:494-514); lwIP answers unread data
    // with RST.
    AsyncWebServerRequest* request = static_cast<AsyncWebServerRequest*>(const_cast<void*>(expired));
    request->client()->close(true);
  }
  const uint32_t now_ms = clock_.now_ms();
  for (Stream& s : streams_) {
    if (s.tcp == nullptr || s.cut || now_ms - s.last_sent_ms < EventApi::kKeepAliveMs) continue;
    s.last_sent_ms = now_ms;  // one try per period: a full send buffer is traffic enough
    const std::string_view frame = EventApi::kKeepAliveFrame;
    if (s.tcp->space() >= frame.size() && s.tcp->add(frame.data(), frame.size(), ASYNC_WRITE_FLAG_COPY) == frame.size()) {
      s.tcp->send();
    }
  }
}

bool EspHttpServer::admit(AsyncWebServerRequest* request) {
  // Called from the library's _attachHandler(): the headers are in, no body byte has been read.
  if (request->isSent() || table_.contains(request)) return true;  // decided already
  BufferJsonOutput out(refusal_, sizeof refusal_);
  HttpResponseHeaders headers;
  const HttpHeapState heap{ESP.getFreeHeap(), ESP.getMaxFreeBlockSize()};
  HttpHeadFields fields;
  HttpRequestHead head = admission_head_of(request, fields);
  // An update upload starts in admit(): its whole target goes with it, as its proof signs the
  // query (allow_downgrade=1). A target too long was refused (414) by admit() anyway.
  char target[kTargetMaxBytes];
  if (is_update_upload(head) && head.query_params <= SPORE_ESP_MAX_QUERY_PARAMS && head.target_bytes < kTargetMaxBytes) {
    head.target = target_of(request, target, kTargetMaxBytes);
  }
  const int status = table_.admit(request, head, heap, out, &headers);
  if (status != 0) {
    send_refusal(request, status, out.c_str(), headers);
    return true;  // Handler takes it and does nothing more with it
  }
  // Fires when the client goes away, answered or not; after on_request() the slot is already
  // free and it only tells the table the answer is out (a pending restart waits for that). Two
  // captured pointers fit std::function's inline storage.
  request->onDisconnect([this, request]() { table_.disconnected(request); });
  return true;
}

bool EspHttpServer::admit_multipart_upload(AsyncWebServerRequest* request) {
  if (!is_multipart_upload(head_of(request))) return false;
  admit(request);
  // Refused (answered), or a plain slot (no set_ota(): the non-trivial handler would parse its
  // fields into heap parameters, unauthenticated): Handler (trivial) takes it and skips its body.
  return table_.is_upload(request);
}

void EspHttpServer::send_refusal(AsyncWebServerRequest* request, int status, const char* json,
                                 const HttpResponseHeaders& headers) {
  // Sent now, from inside the library's header parsing (or a body callback, for a chunked body's
  // 413): a paused request's send() writes at once (WebRequest.cpp:1251-1267 -> _send()), the
  // response says "Connection: close" and the library closes the connection once it is
  // acknowledged (_onAck(), WebRequest.cpp:248-266; the pcb at ESPAsyncTCP's next poll). The
  // segment that carried the head is not acknowledged (ackLater()), nor any later body segment
  // (Handler::handleBody): at most a few KB of a refused body arrive (http_server.h). An
  // AsyncBasicResponse copies `json` (one String of at most kMinRefusalBytes); a 503 refusal is
  // the one sent on a low heap, and it is ~90 bytes.
  // Known quirk: with "Expect: 100-continue" the library writes its interim 100 after this final
  // answer (WebRequest.cpp _parseLine()); the client has its answer and the connection closes.
  AsyncWebServerResponse* response = request->beginResponse(status, kJson, json);
  add_common_headers(response, headers);
  if (status == 503) response->addHeader("Retry-After", "1");
  request->pause();
  request->send(response);
  request->client()->ackLater();
}

bool EspHttpServer::on_body(AsyncWebServerRequest* request, uint8_t* data, size_t len) {
  if (!table_.contains(request)) return false;
  if (table_.on_body(request, data, len)) {
    // A chunked body (no Content-Length) outgrew the buffer: 413 now, not when (if ever) it ends.
    BufferJsonOutput out(refusal_, sizeof refusal_);
    const int status = table_.refuse_too_large(request, out);
    send_refusal(request, status, out.c_str(), HttpResponseHeaders{});
    return false;
  }
  return true;
}

void EspHttpServer::on_upload(AsyncWebServerRequest* request, size_t index, uint8_t* data, size_t len, bool final) {
  table_.on_upload(request, index, data, len, final);
}

void EspHttpServer::on_request(AsyncWebServerRequest* request) {
  if (request->isSent()) return;  // refused at admission; its answer is out
  char target[kTargetMaxBytes];
  char local[kLocalAddressMaxBytes];
  const HttpRequestHead head = head_of(request, target, local);
  const bool stream = events_ != nullptr && table_.contains(request) &&
                      EventApi::is_stream_request(HttpRequest{head.method, head.path, {}, {}, {}, {}});
  if (const HttpAsset* asset = stream ? nullptr : table_.respond_asset(request, head)) {
    // The dashboard: gzip bytes straight from flash. ESPAsyncWebServer 3.x's beginResponse()
    // with a uint8_t pointer is its progmem response (it reads with memcpy_P), no RAM copy.
    AsyncWebServerResponse* response =
        request->beginResponse(200, asset->content_type, asset->data, asset->size_bytes);
    if (asset->content_encoding != nullptr) {
      // Gzip whatever the client's Accept-Encoding (no inflater on the board): every browser takes
      // it; curl needs --compressed (docs/dashboard.md). Vary keeps caches from mixing clients.
      response->addHeader("Content-Encoding", asset->content_encoding);
      response->addHeader("Vary", "Accept-Encoding");
    }
    response->addHeader("Cache-Control", "no-cache");
    // The page may not be framed (clickjacking); its CSP pins its inline script and style.
    // Plain literals (45 B of DRAM): String(F(...)) temporaries would cost ~100 B more flash.
    response->addHeader("X-Frame-Options", "DENY");
    if (asset->content_security_policy != nullptr) {
      // The policy is in flash (SPORE_FLASH, tools/embed_asset.py): copied through FPSTR, never read
      // byte by byte as a char* (a LoadStoreError on the ESP8266). Its ~260 B are on the heap once
      // while the answer lives, twice for a moment (this temporary, then the head being assembled).
      response->addHeader(String(F("Content-Security-Policy")), String(FPSTR(asset->content_security_policy)));
    }
    request->send(response);
    return;
  }
  serve_answer(request, head, stream);
}

void EspHttpServer::serve_answer(AsyncWebServerRequest* request, const HttpRequestHead& head, bool stream) {
  // Our own object, so new (std::nothrow) can say no (ESPAsyncWebServer's begin*() use a throwing
  // new): 808 B, the same for every answer whatever its length (platform/esp8266/README.md,
  // "Answers in chunks").
  AnswerResponse* response = table_.contains(request)
                                 ? new (std::nothrow) AnswerResponse(request->client(), request->version() != 0)
                                 : nullptr;
  if (response == nullptr) {
    table_.fail(request);  // aborts an accepted upload; the running image stays
    reset_for_memory(request);
    return;
  }
  ChunkedAnswer& out = response->answer();
  HttpResponseHeaders headers;
  bool close_connection = false;
  int status = 0;
  if (stream) {
    // A refused stream answers its JSON error like any route, through this response.
    if (serve_stream(request, head, out, &status)) {
      delete response;  // never sent: the stream's own response went instead
      return;
    }
  } else {
    status = table_.respond(request, head, out, &headers, &close_connection);
  }
  if (out.failed()) {
    // Known before the head: a one-piece answer longer than the carry (RestApi counted it 500).
    delete response;
    send_error(request);
    return;
  }
  response->setCode(status);
  if (status == 204) response->set_no_body();
  // A text route (GET /metrics): its media type; the head is built at send().
  if (headers.content_type != nullptr) response->setContentType(headers.content_type);
  add_common_headers(response, headers);
  if (close_connection) response->addHeader("Connection", "close");
  if (status == 503) response->addHeader("Retry-After", "1");  // too_many_streams, token_pending
  request->send(response);
}

void EspHttpServer::send_error(AsyncWebServerRequest* request) {
  static const char kBody[] PROGMEM =
      "{\"error\":\"The answer does not fit the node's answer buffer.\",\"code\":\"internal_error\"}";
  request->send(request->beginResponse(500, kJson, reinterpret_cast<const uint8_t*>(kBody), sizeof kBody - 1));
}

void EspHttpServer::reset_for_memory(AsyncWebServerRequest* request) {
  // A 503 would need a response object from the library's throwing new, on a heap that just
  // refused 808 B: a reset is the answer that allocates nothing. Called from on_request(), inside
  // the library's _onData(), which holds the request (WebRequest.cpp:123), so abort()'s
  // disconnect callback cannot delete it under us; abort() also marks it sent (WebRequest.cpp:1068-1075).
  ++memory_resets_;
  request->abort();
}

bool EspHttpServer::serve_stream(AsyncWebServerRequest* request, const HttpRequestHead& head, JsonOutput& out,
                                 int* status) {
  // The stream never ends: its request slot is freed now (the connection becomes the stream's).
  table_.disconnected(request);
  size_t slot = SPORE_MAX_EVENT_STREAMS;
  for (size_t i = 0; i < SPORE_MAX_EVENT_STREAMS; ++i) {
    if (!streams_[i].reserved) slot = i;
  }
  JsonWriter w(out);
  SseFilter filter;
  const HttpRequest req{head.method, head.path, head.authorization, {}, head.content_type, head.local_address};
  *status = events_->open_stream(req, &filter, w);
  if (*status != 200) {
    api_.record_response(*status);
    return false;
  }
  // HEAD is served as GET (method_of()): a HEAD client gets the stream's head and closes, which
  // frees the slot.
  AsyncWebServerResponse* response = nullptr;
  if (slot < SPORE_MAX_EVENT_STREAMS) {  // EventApi counts the same limit: no slot cannot happen
    streams_[slot].reserved = true;      // released by drop_stream() if the response never goes out
    streams_[slot].filter = filter;
    response = new (std::nothrow) StreamResponse(*this, slot);
    if (response == nullptr) drop_stream(slot);
  } else {
    events_->close_stream();
  }
  if (response == nullptr) {
    reset_for_memory(request);
    return true;
  }
  api_.record_response(200);
  // A stream's head goes out right after this handler returns (StreamResponse::_respond).
  request->send(response);
  return true;
}

void EspHttpServer::adopt_stream(size_t slot, AsyncWebServerRequest* request, const String& head) {
  Stream& s = streams_[slot];
  AsyncClient* tcp = request->client();
  char preamble[64];
  const size_t n = events_->write_preamble(preamble, sizeof preamble);
  // A fresh connection's send buffer (2 x 536 B) takes the ~200-byte head and preamble; if lwIP
  // is out of buffers it did not, and the stream starts cut (closed below, see cut_stream()).
  const bool whole = tcp->add(head.c_str(), head.length(), ASYNC_WRITE_FLAG_COPY) == head.length() &&
                     (n == 0 || tcp->add(preamble, n, ASYNC_WRITE_FLAG_COPY) == n);
  tcp->send();
  // The request deletes itself; the connection is the stream's (its RX timeout is already off:
  // the library clears it before sending any response).
  tcp = request->clientRelease();
  tcp->setNoDelay(true);  // one event, one segment, now
  // Captureless callbacks with `this` as their argument: nothing for std::function to allocate.
  tcp->onDisconnect(
      [](void* server, AsyncClient* c) {
        static_cast<EspHttpServer*>(server)->on_stream_closed(c);
        delete c;  // ESPAsyncTCP's convention: whoever holds the client deletes it here
      },
      this);
  tcp->onTimeout([](void*, AsyncClient* c, uint32_t) { c->close(); }, nullptr);  // no ACK for 5 s
  s.tcp = tcp;
  s.last_sent_ms = clock_.now_ms();
  if (!whole) cut_stream(s);
}

void EspHttpServer::cut_stream(Stream& s) {
  // ESPAsyncTCP's close() only marks the connection: the pcb is closed by its next poll, up to
  // 500 ms later (AsyncClient::close(), ESPAsyncTCP.cpp:355-365; _poll(), :666-670). Until then
  // the slot would still take frames, sent after the cut one; marked cut, it takes none, and
  // on_stream_closed() frees it when the connection is gone.
  s.tcp->close();
  s.cut = true;
  ++stream_cuts_;
}

void EspHttpServer::drop_stream(size_t slot) {
  streams_[slot] = Stream{};
  events_->close_stream();
}

void EspHttpServer::on_stream_closed(AsyncClient* tcp) {
  for (size_t i = 0; i < SPORE_MAX_EVENT_STREAMS; ++i) {
    if (streams_[i].tcp == tcp) drop_stream(i);
  }
}

void EspHttpServer::stream(const SseMessage& msg) {
  // EventApi::format()'s bytes, written in pieces straight into each send buffer: the sink can
  // run inside an HTTP callback (a POST publishes and delivers locally at once), on the SDK's
  // small system stack, where a frame buffer of SPORE_SSE_DATA_MAX bytes does not belong.
  // No `event:` line: an EventSource's onmessage gets every message (the topic is in the data).
  const std::string_view pieces[] = {"id: ", msg.id, "\ndata: ", msg.data, "\n\n"};
  size_t size_bytes = 0;
  for (const std::string_view& piece : pieces) size_bytes += piece.size();
  const uint32_t now_ms = clock_.now_ms();
  for (Stream& s : streams_) {
    if (s.tcp == nullptr || s.cut || !EventApi::filter_matches(s.filter, msg.topic)) continue;
    if (s.tcp->space() < size_bytes) {
      ++stream_drops_;
      continue;
    }
    size_t written = 0;
    for (const std::string_view& piece : pieces) written += s.tcp->add(piece.data(), piece.size(), ASYNC_WRITE_FLAG_COPY);
    if (written != size_bytes) {
      cut_stream(s);  // lwIP out of buffers mid-frame: end the stream, the client reconnects
      continue;
    }
    s.tcp->send();
    s.last_sent_ms = now_ms;
  }
}

}  // namespace spore::esp8266
