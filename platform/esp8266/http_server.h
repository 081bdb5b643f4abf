#pragma once
/// @file http_server.h
/// The REST API on ESPAsyncWebServer (ESP32Async 3.x over ESPAsyncTCP 2.x). Two AsyncWebHandlers
/// (allocated once in begin(), owned by the AsyncWebServer): a trivial one that takes every
/// request (isRequestHandlerTrivial() true: the library parses no form or multipart body for it)
/// and, asked first, the only non-trivial one, for an admitted multipart POST /api/node/update
/// (the library's multipart parser hands out its file part). No onNotFound() catch-all. Each
/// request becomes a spore::HttpRequest, RestApi::handle() answers it; POST /api/node/update
/// streams its body into OtaUploadHandler (start / body / finish). Routing, authentication,
/// handlers and the OTA pipeline stay in core.
///
/// Every decision (admission, slots, body buffering, upload routing, refusals, restart timing) is
/// spore::HttpRequestTable's, host-tested in tests/unit/http_request_table_test.cpp; this file
/// only translates ESPAsyncWebServer's callbacks and objects.
///
/// Threading: ESPAsyncWebServer runs its callbacks from lwIP's receive path in the SDK's system
/// context, never at the same time as loop() code: calls into core are serialized with the node
/// loop, as RestApi requires. They are not confined to the gaps between loop passes, though:
/// they also run wherever loop() code waits (delay(), yield(), WiFi.mode(), a WiFiClient write
/// waiting for its ACK: Node::before_restart()'s delay(50), the MQTT client), so loop() state
/// they touch must be consistent at every such call. Nothing here relies on more: the table is
/// only changed inside single calls, and restarts are deferred to loop(). Those callbacks must
/// not yield() or delay().
///
/// Memory discipline (platform/esp8266/README.md, "HTTP admission"):
///  - admission runs when the headers are in, before any body byte (the library's
///    _attachHandler() asks canHandle()): HttpRequestTable::admit() decides, and a refusal (414
///    long target or query, 431 header lines, 415 form or stray multipart body, 413 a plain body
///    declared beyond SPORE_ESP_MAX_BODY_BYTES, 503 low heap / fragmented heap / all
///    SPORE_ESP_MAX_HTTP_REQUESTS slots taken, an upload's 401 / 409 / 413 / 415) is sent at once
///    and the connection closed after it. ESPAsyncTCP closes at its next poll, up to 500 ms later
///    (ESPAsyncTCP.cpp:355-363, 666-670), and acknowledges every segment it receives (:637,
///    :650-653) unless told ackLater() (ESPAsyncTCP.h:214): Handler::handleBody says so for every
///    body segment of a request the table does not hold, so of a refused raw upload at most a few
///    KB arrive (one receive window, 2,144 B, before the close; close() acknowledges what it held
///    back, so about one more before the poll closes the pcb), not the body. A refused multipart or
///    form body reaches no callback of ours (WebRequest.cpp:189-197, 199-226): it is acknowledged
///    until the close;
///  - a plain request holds its slot at most Options::max_plain_request_ms (10 s): loop() closes
///    the connection of one still unanswered then (HttpRequestTable::take_expired()), and a
///    chunked body outgrowing the buffer is answered 413 at once;
///  - the heap an answer needs is budgeted at admission (ESP.getFreeHeap() and
///    ESP.getMaxFreeBlockSize() against Options), because beginResponse*() use throwing new:
///    out of memory there is a reset, so there are no null checks on them;
///  - what the library parses before any hook (the request line with its query parameters, every
///    header line) is bounded before it sees a byte, by core's head screen in HttpListener
///    (http_listener.h): a head over SPORE_ESP_MAX_REQUEST_LINE_BYTES, SPORE_ESP_MAX_QUERY_PARAMS,
///    SPORE_ESP_MAX_HEADERS, SPORE_ESP_MAX_HEADER_LINE_BYTES or SPORE_ESP_MAX_HEAD_BYTES is reset;
///  - a request body (other than the update upload) is copied into its slot's fixed buffer of
///    SPORE_ESP_MAX_BODY_BYTES; longer bodies get 413;
///  - every answer but the dashboard, the 503 and event streams is a core ChunkedAnswer inside a
///    response object of ours (an AsyncAbstractResponse in chunked mode, what beginChunkedResponse()
///    builds): RestApi decides status and headers at once, and a large answer (members, status,
///    /metrics) is rendered unit by unit into the library's send buffer as TCP takes it, so an
///    answer needs 808 B of heap whatever the cluster's size, instead of the whole document
///    (platform/esp8266/README.md, "Answers in chunks"). An answer that cannot be completed is
///    never sent as a complete one: before the head it becomes a 500; after it the connection is
///    reset (AnswerResponse::_sourceValid() aborts it), so neither an HTTP/1.1 client (no last
///    chunk) nor an HTTP/1.0 one (no chunk framing: a clean close would look complete) takes it for
///    a whole answer. A response object that cannot be allocated resets the connection too
///    (request->abort(): no allocation; memory_resets()), since the library's own 503 would
///    allocate with a throwing new.
///
/// Multipart uploads: ESPAsyncWebServer parses multipart/form-data itself and hands out only the
/// file part's bytes (handleUpload), never the raw body. For such an upload the adapter starts
/// the OtaUploadHandler as application/octet-stream of unknown length and feeds it the first file
/// part: authentication, busy and capacity checks while streaming stay core's, but the early 413
/// on Content-Length and core's multipart part selection ("firmware" field) do not apply.
/// Raw application/octet-stream uploads go through core unchanged (handleBody).
///
/// Security headers: `X-Content-Type-Options: nosniff` on every answer (ESPAsyncWebServer's
/// DefaultHeaders, set in begin(), so also the portal's and the library's own answers); the
/// dashboard (an HttpAsset) also gets `X-Frame-Options: DENY` and its
/// `Content-Security-Policy` when HttpAsset::content_security_policy is set (a string in flash).
/// Each header is an AsyncWebHeader in the response's std::list: 80 B of heap per header per
/// answer for nosniff, 64 B for X-Frame-Options, 80 B + the policy's length rounded up for the
/// CSP (platform/esp8266/README.md, "Security headers").
///
/// Query strings: ESPAsyncWebServer keeps only the decoded path and parameters, not the request
/// target. The adapter rebuilds "path?name=value&..." from the query parameters, percent-encoding
/// every byte outside A-Z a-z 0-9 - . _ ~, so core's routes read the query with SPORE's own
/// bounded reader (http_query_param(): cluster events' ?topic=); admission refuses a target that
/// would not fit SPORE_ESP_MAX_TARGET_BYTES. The library decodes a literal '+' as a space (form
/// encoding): send '+' as %2B.
///
/// Event streams (set_event_api()): GET /api/cluster/events/stream is admitted by core's
/// EventApi::open_stream() (topic filter, SPORE_MAX_EVENT_STREAMS slots, 400 / 503 JSON); its
/// response sends the head and EventApi's preamble, then takes the TCP connection from the
/// request (clientRelease(), as ESPAsyncWebServer's AsyncEventSource does). Not AsyncEventSource
/// itself: its per-client message queue (std::list of shared Strings) and its unused formatting
/// code cost ~2.8 KB of flash and heap per queued message. Here lwIP's send buffer is the queue:
/// stream() formats each message once (EventApi::format(), on the stack) and copies it into the
/// send buffer of every matching stream that has room for all of it; a stream without room
/// misses it (counted in stream_drops(); SSE promises no delivery, a client re-reads state).
/// A stream idle for EventApi::kKeepAliveMs gets a keep-alive comment; an unacknowledged send
/// for 5 s (ESPAsyncTCP's ack timeout) closes it.

#include <ESPAsyncWebServer.h>

#include <cstddef>
#include <cstdint>

#include "http_listener.h"
#include "spore/base/delegate.h"
#include "spore/integrations/event_api.h"
#include "spore/device/http_request_table.h"
#include "spore/base/ports.h"
#include "spore/http/rest_api.h"

namespace spore {
class OtaUploadHandler;
}

namespace spore::esp8266 {

class EspHttpServer {
 public:
  /// min_free_heap_bytes / min_free_block_bytes (below them new requests get 503), and when a
  /// requested restart happens: once the 202 restart / 200 update answer's connection closed
  /// (delivered), at most restart_max_wait_ms (2 s) after it; restart_delay_ms (500 ms) for a
  /// restart without an answer to deliver (MQTT, safe mode).
  using Options = HttpRequestTable::Options;

  /// `server` is the sketch's AsyncWebServer (port 80); begin() adds the two handlers to it.
  /// `api` must have been begin()'d.
  EspHttpServer(AsyncWebServer& server, RestApi& api, const Clock& clock);
  EspHttpServer(const EspHttpServer&) = delete;
  EspHttpServer& operator=(const EspHttpServer&) = delete;

  void set_options(const Options& options) { table_.set_options(options); }
  /// Enables streamed POST /api/node/update; `ota` must have been begin()'d.
  void set_ota(OtaUploadHandler* ota) { table_.set_ota(ota); }
  /// Serves GET /api/cluster/events/stream; pass stream() to `events`' begin() as its sink.
  void set_event_api(EventApi* events) { events_ = events; }
  /// EventApi's sink: queues `msg` on every open stream whose filter matches.
  void stream(const SseMessage& msg);

  /// Registers the handlers, installs the RestApi restart handler and starts listening on `port`
  /// (the AsyncWebServer's) through HttpListener, which screens every request head before the
  /// library parses it (http_listener.h); AsyncWebServer::begin() is not called. False when
  /// lwIP could not listen on the port (the caller logs it; nothing is served).
  bool begin(uint16_t port);
  /// Connections reset by the listener: at accept (the address's share of screens, not enough
  /// heap), to make room for a newcomer (core's choose_eviction()), and for a head over SPORE's
  /// limits or its deadline.
  uint32_t refused_connections() const {
    return listener_.refused_accepts() + listener_.refused_heads() + listener_.evicted_heads();
  }
  /// From loop(): OTA stall detection, deferred restart (after a restart or a committed update),
  /// event stream keep-alives.
  void loop();

  /// What RestApi's restart route calls: schedules ESP.restart() in loop(). Ignored while
  /// restart_blocked().
  void request_restart() { table_.request_restart(); }
  /// The chip is in its UART download boot mode (reset by a serial flash, not power-cycled):
  /// ESP.restart() would hang, so POST /api/node/restart answers 409 restart_unavailable.
  bool restart_blocked() const { return table_.restart_blocked(); }
  /// Runs in loop() right before the deferred ESP.restart() (Node: Membership::leave()).
  void set_before_restart(Delegate<void()> hook) { before_restart_ = hook; }
  bool restart_scheduled() const { return table_.restart_scheduled(); }

  /// Requests refused with 503 or reset for lack of memory since begin().
  uint32_t overload_count() const { return table_.overload_count(); }
  /// Connections reset because an answer's response object could not be allocated.
  uint32_t memory_resets() const { return memory_resets_; }
  /// Plain requests whose connection loop() closed unanswered (Options::max_plain_request_ms).
  uint32_t expired_requests() const { return table_.expired_count(); }

  /// Requests in flight (admitted, not yet answered or dropped).
  size_t active_requests() const { return table_.active_requests(); }
  /// Event streams open (admitted and not yet closed).
  size_t open_streams() const { return events_ != nullptr ? events_->open_streams() : 0; }
  /// Stream messages not sent because the stream's TCP send buffer had no room for them.
  uint32_t stream_drops() const { return stream_drops_; }
  /// Streams ended because lwIP took only part of a frame (the stream is closed at once: nothing
  /// follows a cut frame).
  uint32_t stream_cuts() const { return stream_cuts_; }

  // Called by the AsyncWebHandlers begin() gives the server (which owns and deletes them).
  // admit(): the trivial handler's canHandle(); true for every request (a refused one is
  // answered inside). admit_multipart_upload(): the upload handler's; true only for a multipart
  // update upload admitted as an upload (with set_ota(): never for a plain slot).
  // on_body(): false when the request is not (or no longer) one the table holds: the handler
  // then holds back the segment's ACK.
  bool admit(AsyncWebServerRequest* request);
  bool admit_multipart_upload(AsyncWebServerRequest* request);
  void on_request(AsyncWebServerRequest* request);
  void on_upload(AsyncWebServerRequest* request, size_t index, uint8_t* data, size_t len, bool final);
  bool on_body(AsyncWebServerRequest* request, uint8_t* data, size_t len);
  // Called by the stream response serve_stream() creates: it sends the head (`head`) and takes
  // the connection, or is deleted unsent.
  void adopt_stream(size_t slot, AsyncWebServerRequest* request, const String& head);
  void drop_stream(size_t slot);
  // The stream's connection is gone (ESPAsyncTCP's disconnect callback).
  void on_stream_closed(AsyncClient* tcp);

 private:
  /// One admitted event stream: `reserved` from admission, `tcp` once its response took the
  /// connection (right after the handler returns, in the same call chain).
  struct Stream {
    AsyncClient* tcp = nullptr;
    uint32_t last_sent_ms = 0;
    SseFilter filter{};
    bool reserved = false;
    bool cut = false;  ///< a frame went out cut: closing, takes nothing more
  };

  /// No memory for an answer: reset the connection (no allocation) and count it.
  void reset_for_memory(AsyncWebServerRequest* request);
  /// 500 with a constant body: the answer failed before its head (it did not fit the carry).
  void send_error(AsyncWebServerRequest* request);
  /// Answers an admitted request (or a refused event stream) through a ChunkedAnswer.
  void serve_answer(AsyncWebServerRequest* request, const HttpRequestHead& head, bool stream);
  /// A frame (or the head) went out cut: close the connection and take the slot out of service.
  void cut_stream(Stream& s);
  /// Sends an admission refusal at once, before the body (see admit()).
  void send_refusal(AsyncWebServerRequest* request, int status, const char* json, const HttpResponseHeaders& headers);
  /// Admits an event stream (EventApi::open_stream()). True when it answered the request itself
  /// (the stream, or 503 overloaded); false with the JSON error written to `out` and its status
  /// in `*status`, for on_request() to send like any route's answer.
  bool serve_stream(AsyncWebServerRequest* request, const HttpRequestHead& head, JsonOutput& out, int* status);

  AsyncWebServer& server_;
  RestApi& api_;
  const Clock& clock_;
  HttpRequestTable table_;
  EventApi* events_ = nullptr;
  Stream streams_[SPORE_MAX_EVENT_STREAMS];
  uint32_t stream_drops_ = 0;
  uint32_t stream_cuts_ = 0;
  uint32_t memory_resets_ = 0;
  // An admission refusal's JSON: a member, not a stack array, because admit() runs on the SDK's
  // system stack at the deepest point of a request (review finding 4); admission is serialized.
  char refusal_[HttpRequestTable::kMinRefusalBytes];
  Delegate<void()> before_restart_;
  HttpListener listener_;
  bool begun_ = false;
  bool listening_ = false;
};

}  // namespace spore::esp8266
