#pragma once
/// @file http_request_table.h
/// The decisions of an HTTP server adapter that gets a request in pieces (headers, then body
/// chunks or multipart file chunks, then "request complete" or "client gone") and cannot refuse
/// by backpressure: ESPAsyncWebServer on the ESP8266. The adapter keeps only the server library's
/// calls; everything it decides lives here and is host-tested (tests/unit/http_request_table_test.cpp).
///
/// Requests are identified by an opaque handle (the library's request pointer), never
/// dereferenced. Per request, in this order:
/// @code
///   // headers are in, the body not yet: refusals are answered now, before any body byte
///   if (int s = table.admit(req, head, heap, out, &headers)) { /* send s + out at once, close */ }
///   table.on_body(req, data, n);                       // raw body chunks, or
///   table.on_upload(req, index, data, n, final);       // multipart file-part chunks
///   // request complete: allocate the response, then
///   status = table.respond(req, head, out, &headers, &close);  // frees the slot
///   // or, without memory for a response / on an unknown handle:
///   table.fail(req);                                   // then answer 503 overloaded
///   // client gone at any time (after respond() it is a no-op):
///   table.disconnected(req);
/// @endcode
///
/// Every answer is counted once in RestApi::response_counts() (GET /metrics): RestApi::handle()
/// counts plain requests, this class the rest (respond_asset()'s 200, uploads, 413, admit()'s
/// refusals and fail()'s 503), so the adapter counts nothing itself.
///
/// Admission (admit(), once the headers are in and before the body) refuses, in this order:
///  - what core's one HTTP admission policy refuses (admit_head(), http_admission.h: the rules
///    spored applies too) with kLimits, the ESP8266's numbers: 431 more than SPORE_ESP_MAX_HEADERS
///    header lines; 400 a bad field name or ambiguous body framing (two Content-Lengths, "-1",
///    Content-Length with Transfer-Encoding: the library's atoi() and its search for `chunked`
///    in a list would each pick a framing); 414 a target (path plus re-encoded query) of
///    SPORE_ESP_MAX_TARGET_BYTES or more, or more than SPORE_ESP_MAX_QUERY_PARAMS query
///    parameters; 415 a form body (ESPAsyncWebServer would parse it into a parameter list, or drop
///    it, depending on its first bytes: no SPORE route takes one) or multipart/* anywhere but the
///    update upload; 413 a plain request (not a streamed update upload) declaring a
///    Content-Length beyond SPORE_ESP_MAX_BODY_BYTES: it would hold a slot while a body arrives
///    that could only end in 413;
///  - 503 overloaded: free heap below Options::min_free_heap_bytes, largest free block below
///    Options::min_free_block_bytes (the worst case of one answer: platform/esp8266/README.md,
///    "HTTP admission"), or every slot taken;
///  - an update upload OtaUploadHandler::start() refuses (401, 409, 413, 415).
/// The adapter sends such an answer at once and closes the connection after it, and stops
/// acknowledging the refused body (ESPAsyncTCP's ackLater()): of a refused 500 KB upload at most
/// a few KB arrive (about two receive windows, 2 x 2,144 B: platform/esp8266/README.md).
///
/// Deadlines: a plain request holds its slot at most Options::max_plain_request_ms from admission
/// to its answer (take_expired() hands it back; the adapter closes the connection), and a plain
/// body that outgrows the buffer (a chunked one, which declares no length) is answered 413 at
/// once (on_body() returns true, then refuse_too_large()). Without them three slow or endless
/// bodies would hold every slot for as long as their senders like.
///
/// Memory: a fixed table of SPORE_ESP_MAX_HTTP_REQUESTS slots, each with a body buffer of
/// SPORE_ESP_MAX_BODY_BYTES (longer bodies get 413). An upload slot streams into
/// OtaUploadHandler instead and uses its buffer for the answer of an upload refused at start.
/// Nothing is allocated. Not thread-safe: calls are serialized with the node loop, as RestApi's.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/base/json_writer.h"
#include "spore/base/limits.h"
#include "spore/base/ports.h"
#include "spore/device/http_admission.h"
#include "spore/http/rest_api.h"

namespace spore {

class OtaUploadHandler;

/// What an adapter knows of a request once its headers are in. Views must stay valid during the
/// call they are passed to.
struct HttpRequestHead {
  HttpMethod method = kUnknownHttpMethod;
  /// Without the query string.
  std::string_view path;
  /// The whole target (path and query) of an update upload, which its proof signs and whose
  /// query may say allow_downgrade=1; empty = `path` alone.
  std::string_view target;
  std::string_view authorization;
  std::string_view content_type;
  /// Declared Content-Length; 0 when absent (chunked bodies count as plain requests).
  size_t content_length = 0;
  /// Bytes of the request target the adapter will pass to routing (path plus its query as the
  /// adapter rebuilds it); admission refuses SPORE_ESP_MAX_TARGET_BYTES or more.
  size_t target_bytes = 0;
  /// Query parameters the server library parsed.
  size_t query_params = 0;
  /// The header fields the server library parsed (nullptr: none).
  const HttpHeadFields* fields = nullptr;
  /// HttpRequest::local_address.
  std::string_view local_address;
};

/// The HttpMethod for a request-line method name: HEAD is served as GET (the library sends the
/// body anyway; clients ignore it), OPTIONS is kOptionsHttpMethod (a CORS preflight), names
/// outside HttpMethod give kUnknownHttpMethod (405/404).
HttpMethod http_method_from_name(std::string_view name);

/// True when a request is streamed into OtaUploadHandler rather than buffered: POST to
/// OtaUploadHandler::kPath with a body announced by Content-Length.
bool is_update_upload(const HttpRequestHead& head);

/// True for a request the non-trivial ESPAsyncWebServer handler takes: a multipart update upload
/// (the library's multipart parser hands out its file part).
bool is_multipart_upload(const HttpRequestHead& head);

/// What the heap allows at admission (ESP.getFreeHeap(), ESP.getMaxFreeBlockSize()).
struct HttpHeapState {
  uint32_t free_bytes = 0;
  uint32_t max_block_bytes = 0;
};

/// True when ESP.restart() would hang: the chip was reset by a serial flash and is still in its
/// UART download boot mode (strapping bits (GPI >> 16) & 0xf == 1, as core 3.1.2's
/// Updater::begin() reads them, cores/esp8266/Updater.cpp:84, UPDATE_ERROR_BOOTSTRAP). Only a
/// power cycle or the reset pin leaves it.
constexpr bool restart_blocked_by_boot_mode(uint32_t strapping_boot_mode) { return (strapping_boot_mode & 0xf) == 1; }

class HttpRequestTable {
 public:
  struct Options {
    /// Below this free heap new requests are refused (503) instead of running the heap out.
    /// The peak of SPORE_ESP_MAX_HTTP_REQUESTS answers in flight at once (~3.5 KB each:
    /// platform/esp8266/README.md, "Heap budget") plus room for lwIP and WiFi.
    uint32_t min_free_heap_bytes = 12 * 1024;
    /// Below this largest free block new requests are refused (503): the largest single
    /// allocation an answer makes is ESPAsyncWebServer's send buffer, a std::array of
    /// 2 x TCP_MSS = 1,072 B (+ 8 B of heap header), so 2 x 536 + 200 B of margin. Below it an
    /// admitted answer would send its head and then stall until ESPAsyncTCP's 5 s ACK timeout.
    uint32_t min_free_block_bytes = 2 * 536 + 200;
    /// A plain request (not an update upload) that has not been answered this long after its
    /// admission is handed back by take_expired(): its body is ~1 KB, so only a client that
    /// trickles or never ends it gets there.
    uint32_t max_plain_request_ms = 10000;
    /// A restart requested without a connection to wait for (MQTT, safe mode) is due this long
    /// after the request.
    uint32_t restart_delay_ms = 500;
    /// A restart requested by an HTTP answer (202 restart, 200 update) is due when that request's
    /// connection closes, or this long after the request at the latest. ESPAsyncWebServer closes
    /// on the first ACK after the answer's last bytes went to TCP (WebRequest.cpp:258-264,
    /// WebResponses.cpp:470): our answers fit one segment, so that ACK is normally the answer's;
    /// the library promises no more than that.
    uint32_t restart_max_wait_ms = 2000;
  };

  /// Room admit() needs in `out` for a refusal's JSON answer: the longest, a 401 with the ESP8266's
  /// tokenLocation, is 361 bytes (HttpRequestTableTest.TheLongestUploadRefusalFitsTheAdmissionBuffer).
  static constexpr size_t kMinRefusalBytes = 384;
  /// The ESP8266's numbers for admit_head() (the head's size is bounded by the head screen before
  /// the library parses it) and the listener's admit_connection().
  static constexpr HttpAdmissionLimits kLimits{
      SPORE_ESP_MAX_HEADERS,    0, SPORE_ESP_MAX_TARGET_BYTES, SPORE_ESP_MAX_QUERY_PARAMS, SPORE_ESP_MAX_BODY_BYTES,
      true, SPORE_ESP_MAX_HEAD_SCREENS, SPORE_ESP_MAX_HEAD_SCREENS_PER_ADDRESS};

  HttpRequestTable(RestApi& api, const Clock& clock);
  HttpRequestTable(const HttpRequestTable&) = delete;
  HttpRequestTable& operator=(const HttpRequestTable&) = delete;

  void set_options(const Options& options) { options_ = options; }
  const Options& options() const { return options_; }
  /// Enables streamed POST /api/node/update; `ota` must have been begin()'d. Without it such a
  /// request is a plain one (its body buffered, so usually 413).
  void set_ota(OtaUploadHandler* ota) { ota_ = ota; }

  /// Installs request_restart() as the RestApi restart handler.
  void begin();

  /// Headers are in, the body is not. 0 = a slot is taken (the adapter must later call
  /// respond(), fail() or disconnected()); an update upload is started in OtaUploadHandler now.
  /// Otherwise the request is refused (see the file comment): returns its status with the JSON
  /// answer written to `out` (at least kMinRefusalBytes of room) and `*headers` filled (may be
  /// nullptr); the adapter sends it at once, reads no body and takes no slot. A handle already
  /// admitted stays admitted (0).
  int admit(const void* request, const HttpRequestHead& head, const HttpHeapState& heap, JsonOutput& out,
            HttpResponseHeaders* headers = nullptr);

  /// Raw body bytes, in order. A plain request's go to its slot buffer; an upload's to
  /// OtaUploadHandler::body() until it has decided (or was refused at start). True once, when a
  /// plain body has just outgrown SPORE_ESP_MAX_BODY_BYTES: the adapter answers
  /// refuse_too_large() at once instead of reading the rest.
  bool on_body(const void* request, const uint8_t* data, size_t size_bytes);

  /// The 413 for a request on_body() flagged: writes its JSON to `out`, counts it, frees the
  /// slot and returns 413 (0 for a handle that is not a plain request whose body overflowed).
  int refuse_too_large(const void* request, JsonOutput& out);

  /// Bytes of a multipart file part (`index` = offset in that part, `final` = its last chunk).
  /// Only the first file part of an upload is streamed; later parts are ignored. A multipart
  /// body on any other request makes it 413 (only the update route understands one).
  void on_upload(const void* request, size_t index, const uint8_t* data, size_t size_bytes, bool final);

  /// The request is complete and the adapter has a response to write into: writes the answer
  /// (JSON, or a text route's body: then headers->content_type is set) to `out`, fills `headers`
  /// as RestApi::handle does (the adapter adds
  /// "Cache-Control: no-store" to every answer itself) and returns the status;
  /// `*close_connection` is set when the node is about to restart (send "Connection: close").
  /// Frees the slot. For a handle not admitted it writes nothing and returns 503 (the adapter
  /// should have called fail() instead).
  int respond(const void* request, const HttpRequestHead& head, JsonOutput& out, HttpResponseHeaders* headers,
              bool* close_connection);

  /// The request is complete; when it asks for a static asset (RestApi::asset_for(): GET / with
  /// the dashboard set) frees the slot and returns the asset, which the adapter sends as is
  /// instead of calling respond(). nullptr otherwise (slot kept; call respond()), also for a
  /// handle not admitted or a plain request whose body overflowed (respond() says 413).
  const HttpAsset* respond_asset(const void* request, const HttpRequestHead& head);

  /// The adapter cannot answer (no memory for a response, or a handle it does not know) and
  /// resets the connection instead: aborts an accepted upload (the running image stays), frees
  /// the slot and counts the overload (overload_count(); not in response_counts(): nothing is
  /// sent).
  void fail(const void* request);

  /// The client went away (also fires after respond(), when it does nothing): aborts an accepted
  /// upload and frees the slot.
  void disconnected(const void* request);

  /// From the node loop: OTA stall detection; true once a requested restart is due (from then
  /// on, every call). The adapter then restarts the node.
  bool poll();

  /// From the node loop, until it returns nullptr: a plain request admitted more than
  /// Options::max_plain_request_ms ago and still unanswered. Its slot is freed now (counted in
  /// expired_count(), no answer: nothing can be sent while its body is still coming); the
  /// adapter closes its connection.
  const void* take_expired();
  /// Requests take_expired() handed back since construction.
  uint32_t expired_count() const { return expired_; }

  /// Schedules a restart: due when the connection of the request being answered closes (capped
  /// by Options::restart_max_wait_ms), or Options::restart_delay_ms from now outside an answer.
  /// A second request keeps the first. What RestApi's restart route calls. Ignored (logged by
  /// the caller) while the restart is blocked.
  void request_restart();
  bool restart_scheduled() const { return restart_scheduled_; }

  /// The chip cannot restart itself now (restart_blocked_by_boot_mode()): POST
  /// /api/node/restart answers 409 restart_unavailable and request_restart() does nothing.
  void set_restart_blocked(bool blocked);
  bool restart_blocked() const { return restart_blocked_; }

  /// Requests refused with 503 or reset for lack of memory since construction (admit() refusals
  /// and fail() calls).
  uint32_t overload_count() const { return overloaded_; }
  /// Requests in flight (admitted, not yet answered or dropped).
  size_t active_requests() const;
  bool contains(const void* request) const;
  /// True for a request admitted as a streamed update upload (not a plain one).
  bool is_upload(const void* request) const;

 private:
  enum class Kind : uint8_t { kFree, kPlain, kUpload };
  struct Slot {
    const void* request = nullptr;
    uint32_t admitted_ms = 0;  // take_expired()'s deadline runs from here
    uint32_t upload_id = 0;  // OtaUploadHandler's id of an accepted upload, 0 otherwise
    size_t body_len = 0;     // plain: bytes in body
    Kind kind = Kind::kFree;
    bool body_too_large = false;
    bool upload_accepting = false;  // OtaUploadHandler still takes bytes
    bool upload_part_done = false;  // multipart: the first file part ended
    char body[SPORE_ESP_MAX_BODY_BYTES];
  };

  Slot* find(const void* request);
  int refuse(int status, FlashStr code, FlashStr message, JsonOutput& out);
  /// An admit_head() refusal other than 413, with the ESP8266's sentence.
  int refuse(HttpRefusal refusal, const HttpHeadFields* fields, JsonOutput& out);
  /// Writes and counts the constant 413 answer.
  void write_too_large(JsonOutput& out);
  int start_upload(Slot& slot, const HttpRequestHead& head, JsonOutput& out, HttpResponseHeaders* headers);
  int respond_plain(Slot& slot, const HttpRequestHead& head, JsonOutput& out, HttpResponseHeaders& headers,
                    bool* close_connection);
  int respond_upload(Slot& slot, JsonOutput& out, bool* close_connection);
  void abort_upload(Slot& slot);
  static void release(Slot& slot);

  RestApi& api_;
  const Clock& clock_;
  OtaUploadHandler* ota_ = nullptr;
  Options options_{};
  uint32_t restart_requested_ms_ = 0;
  uint32_t overloaded_ = 0;
  uint32_t expired_ = 0;
  const void* answering_ = nullptr;       // request whose answer respond() is writing
  const void* restart_waits_for_ = nullptr;  // connection whose close makes the restart due
  bool restart_scheduled_ = false;
  bool restart_due_ = false;               // that connection closed
  bool restart_blocked_ = false;
  Slot slots_[SPORE_ESP_MAX_HTTP_REQUESTS];
};

}  // namespace spore
