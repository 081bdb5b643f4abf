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
///   if (!table.admit(req, head, free_heap)) { /* answer 503 overloaded, do not read the body */ }
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
/// counts plain requests, this class the rest (respond_asset()'s 200, uploads, 413, and the 503 of
/// admit() refusals and fail()), so the adapter counts nothing itself.
///
/// Memory: a fixed table of SPORE_ESP_MAX_HTTP_REQUESTS slots, each with a body buffer of
/// SPORE_ESP_MAX_BODY_BYTES (longer bodies get 413). An upload slot streams into
/// OtaUploadHandler instead and uses its buffer for the answer of an upload refused at start.
/// Nothing is allocated. Not thread-safe: calls are serialized with the node loop, as RestApi's.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/json_writer.h"
#include "spore/limits.h"
#include "spore/ports.h"
#include "spore/rest_api.h"

namespace spore {

class OtaUploadHandler;

/// What an adapter knows of a request once its headers are in. Views must stay valid during the
/// call they are passed to.
struct HttpRequestHead {
  HttpMethod method = kUnknownHttpMethod;
  /// Without the query string.
  std::string_view path;
  std::string_view authorization;
  std::string_view content_type;
  /// Declared Content-Length; 0 when absent (chunked bodies count as plain requests).
  size_t content_length = 0;
  /// HttpRequest::local_address.
  std::string_view local_address;
};

/// The HttpMethod for a request-line method name: HEAD is served as GET (the library sends the
/// body anyway; clients ignore it), names outside HttpMethod give kUnknownHttpMethod (405/404).
HttpMethod http_method_from_name(std::string_view name);

/// True when a request is streamed into OtaUploadHandler rather than buffered: POST to
/// OtaUploadHandler::kPath with a body announced by Content-Length.
bool is_update_upload(const HttpRequestHead& head);

/// True for a multipart/* Content-Type (ASCII case-insensitive), whose file part the library
/// parses out itself.
bool is_multipart(std::string_view content_type);

class HttpRequestTable {
 public:
  struct Options {
    /// Below this free heap new requests are refused (503) instead of running the heap out.
    uint32_t min_free_heap_bytes = 8 * 1024;
    /// How long after a restart was requested poll() reports it due, so that the 202/200 answer
    /// leaves the TCP send buffer first.
    uint32_t restart_delay_ms = 500;
  };

  /// Bytes of an upload refusal's JSON answer the slot buffer must hold (the longest
  /// OtaUploadHandler::start() error, with room to spare).
  static constexpr size_t kMinRefusalBytes = 320;

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

  /// Headers are in. True = a slot is taken (the adapter must later call respond(), fail() or
  /// disconnected()); an update upload is started in OtaUploadHandler now, so that an
  /// unauthenticated or oversized one is refused before any body byte is stored. False (counted
  /// in overload_count()) when `free_heap_bytes` < Options::min_free_heap_bytes or every slot is
  /// taken: answer 503 without reading the body. A handle already admitted stays admitted.
  bool admit(const void* request, const HttpRequestHead& head, uint32_t free_heap_bytes);

  /// Raw body bytes, in order. A plain request's go to its slot buffer (beyond it: 413 later);
  /// an upload's to OtaUploadHandler::body() until it has decided (or was refused at start).
  void on_body(const void* request, const uint8_t* data, size_t size_bytes);

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

  /// The adapter answers 503 instead of respond() (no memory for a response, or a handle it
  /// does not know): aborts an accepted upload (the running image stays), frees the slot and
  /// counts the overload.
  void fail(const void* request);

  /// The client went away (also fires after respond(), when it does nothing): aborts an accepted
  /// upload and frees the slot.
  void disconnected(const void* request);

  /// From the node loop: OTA stall detection; true once a requested restart is due (from then
  /// on, every call). The adapter then restarts the node.
  bool poll();

  /// Schedules a restart Options::restart_delay_ms from now; a second request keeps the first
  /// time. What RestApi's restart route calls.
  void request_restart();
  bool restart_scheduled() const { return restart_scheduled_; }

  /// Requests refused with 503 since construction (admit() refusals and fail() calls).
  uint32_t overload_count() const { return overloaded_; }
  /// Requests in flight (admitted, not yet answered or dropped).
  size_t active_requests() const;
  bool contains(const void* request) const;

 private:
  enum class Kind : uint8_t { kFree, kPlain, kUpload };
  struct Slot {
    const void* request = nullptr;
    uint32_t upload_id = 0;  // OtaUploadHandler's id of an accepted upload, 0 otherwise
    size_t body_len = 0;     // plain: bytes in body; refused upload: bytes of its JSON answer
    HttpResponseHeaders refusal_headers{};
    int refusal_status = 0;  // an upload OtaUploadHandler refused at start(), answered at the end
    Kind kind = Kind::kFree;
    bool body_too_large = false;
    bool upload_accepting = false;  // OtaUploadHandler still takes bytes
    bool upload_part_done = false;  // multipart: the first file part ended
    char body[SPORE_ESP_MAX_BODY_BYTES];
  };
  static_assert(SPORE_ESP_MAX_BODY_BYTES >= kMinRefusalBytes,
                "the slot buffer also holds an upload refusal's JSON answer");

  Slot* find(const void* request);
  void start_upload(Slot& slot, const HttpRequestHead& head);
  int respond_plain(Slot& slot, const HttpRequestHead& head, JsonOutput& out, HttpResponseHeaders& headers,
                    bool* close_connection);
  int respond_upload(Slot& slot, JsonOutput& out, HttpResponseHeaders& headers, bool* close_connection);
  void abort_upload(Slot& slot);
  static void release(Slot& slot);

  RestApi& api_;
  const Clock& clock_;
  OtaUploadHandler* ota_ = nullptr;
  Options options_{};
  uint32_t restart_requested_ms_ = 0;
  uint32_t overloaded_ = 0;
  bool restart_scheduled_ = false;
  Slot slots_[SPORE_ESP_MAX_HTTP_REQUESTS];
};

}  // namespace spore
