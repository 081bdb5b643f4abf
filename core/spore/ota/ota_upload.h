#pragma once
/// @file ota_upload.h
/// POST /api/node/update, the part every platform shares (the Linux httplib adapter now,
/// ESPAsyncWebServer later): authentication, one upload at a time, Content-Type and
/// Content-Length checks, multipart/form-data or raw bodies streamed into an OtaSession, the JSON
/// answer, and the local events "ota_started" / "ota_finished" / "ota_failed".
///
/// The platform adapter drives one upload like this (serialized with the node loop, as RestApi):
/// @code
///   int status = ota.start(content_type, content_length, authorization, now, out, &headers);
///   if (status != 0) { send(status, headers, out); return; }     // refused before any body byte
///   uint32_t id = ota.upload_id();
///   while (read chunk) { if (!ota.body(chunk, n, now, id)) break; } // false: result decided
///   status = ota.finish(connection_still_ok, now, out, id);         // always, exactly once
///   send(status, out);
///   if (ota.restart_pending()) restart();                           // after the answer is sent
/// @endcode
/// The `id` arguments are optional; they protect against a connection that was declared stalled by
/// poll() (and so released the slot) waking up and feeding a newer upload.
///
/// Answers (JSON, Content-Type application/json):
///   200 {"status":"updated","size":N,"sha256":"<64 hex>","signed":bool,
///        "restart":"the node restarts now with the new image"}
///   4xx/5xx {"error":"<sentence>","code":"<ota_error_name>", "received":N}
///        (422 downgrade also "imageVersion" (the image's slot text, "" without one) and
///        "runningVersion")
///        (401 also "authenticate" and HttpResponseHeaders::www_authenticate, as RestApi)
/// Status per code: ota_error_http_status() (ota.h); docs/ota.md has the table.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/base/json_writer.h"
#include "spore/base/limits.h"
#if SPORE_OTA_MULTIPART
#include "spore/ota/multipart.h"
#endif
#include "spore/ota/ota.h"
#include "spore/http/rest_api.h"

namespace spore {

class NodeContext;

/// Local event topics fired on the NodeContext with an OtaEvent payload (issue 8 makes them
/// cluster-wide).
namespace topics {
constexpr std::string_view kOtaStarted = "ota_started";    ///< upload accepted, body streaming
constexpr std::string_view kOtaFinished = "ota_finished";  ///< image committed; restart follows
constexpr std::string_view kOtaFailed = "ota_failed";      ///< aborted; the old firmware stays
}  // namespace topics

/// Payload of the ota_* events; valid only during the handler call.
struct OtaEvent {
  OtaError error = OtaError::kOk;
  /// ota_started: the declared Content-Length (0 = unknown); else image bytes (ota_finished) or
  /// body bytes received (ota_failed).
  size_t size_bytes = 0;
  uint8_t sha256[32] = {};  ///< ota_finished only
  bool signature_verified = false;
  bool multipart = false;
};

class OtaUploadHandler {
 public:
  /// The route served.
  static constexpr std::string_view kPath = "/api/node/update";
  /// Extra Content-Length allowed beyond the image (and trailer) for a multipart body: the
  /// boundaries and the part headers (SPORE_MULTIPART_MAX_HEADER_BYTES) of a few parts.
  static constexpr size_t kMultipartOverheadBytes = 4 * SPORE_MULTIPART_MAX_HEADER_BYTES;

  OtaUploadHandler(NodeContext& ctx, RestApi& rest, OtaSession& session);
  OtaUploadHandler(const OtaUploadHandler&) = delete;
  OtaUploadHandler& operator=(const OtaUploadHandler&) = delete;

  /// Registers POST /api/node/update (RouteAuth::kToken) in `rest`, hence in the node's "api"
  /// list. A request reaching it through RestApi::handle() with the whole body in
  /// HttpRequest::body is handled too (start + body + finish in one go; HttpRequest::content_type
  /// must be set): fine for tests and small images, but platforms should stream. Call after
  /// rest.begin(). False when the route table or the registry is full.
  bool begin();

  /// Starts an upload: authenticates (RestApi::authorize, same rules; a request proof's sha256 is
  /// the image FILE's — the "firmware" part or the raw body — and the session refuses the upload
  /// with digest_mismatch at its end when the file hashes otherwise), refuses a second
  /// concurrent upload or one while a restart is pending (409), checks `content_type`
  /// (multipart/form-data with a boundary when SPORE_OTA_MULTIPART, application/octet-stream, or
  /// none = octet-stream per RFC 9110 §8.3; else 415) and `content_length` against the capacity (413). Returns 0 when the
  /// platform should stream the body in; otherwise the HTTP status, with the JSON error written
  /// to `out` and `headers` filled like RestApi::handle (WWW-Authenticate on 401).
  ///
  /// `target` is the request target as received, query included (a proof signs it): the query
  /// parameter `allow_downgrade=1` lets a signed image older than the running one install
  /// (OtaSession::set_running_version()); `allow_downgrade=0` or none refuses it (422 downgrade),
  /// any other value is 400 bad_request. Other parameters are ignored.
  int start(std::string_view content_type, size_t content_length, std::string_view authorization,
            uint32_t now_ms, JsonOutput& out, HttpResponseHeaders* headers = nullptr,
            std::string_view target = kPath);

  /// start() for an upload the caller authorized itself (spored's OTA from a URL, after the MQTT
  /// bridge checked the command's token): no Authorization header, no proof, no declared digest.
  /// `allow_downgrade` as the query parameter of start().
  int start_authorized(std::string_view content_type, size_t content_length, uint32_t now_ms, JsonOutput& out,
                       bool allow_downgrade = false);

  /// Body bytes as they arrive. False = stop reading, the result is decided (finish() writes
  /// it). `upload_id` 0 = the current upload; another id than upload_id() returns false.
  bool body(const uint8_t* data, size_t size_bytes, uint32_t now_ms, uint32_t upload_id = 0);

  /// End of the request; `complete` false when the connection dropped (then kAborted). Writes the
  /// JSON answer to `out` and returns the status (200 on success: restart_pending() is then true
  /// and the platform restarts after sending). For an upload poll() aborted as stalled it answers
  /// 408 stalled; without a started upload 400 bad_request.
  int finish(bool complete, uint32_t now_ms, JsonOutput& out, uint32_t upload_id = 0);

  /// From the node loop: aborts an upload without progress for Config::ota_stall_timeout_ms with
  /// kStalled and frees the slot for the next upload.
  void poll(uint32_t now_ms);

  bool busy() const { return active_; }
  /// A new image was committed; the platform must restart once the answer is sent.
  bool restart_pending() const { return restart_pending_; }
  /// Identifies the running upload (nonzero after start() returned 0), for body()/finish().
  uint32_t upload_id() const { return active_ ? id_ : 0; }
  /// Outcome of the last upload that ended (kOk before any).
  OtaError last_error() const { return last_error_; }

 private:
  /// `authorization` nullptr: authorized by the caller (start_authorized()).
  /// `target` nullptr: no query (start_authorized()), `allow_downgrade` decides.
  int start_impl(std::string_view content_type, size_t content_length, const std::string_view* authorization,
                 const std::string_view* target, bool allow_downgrade, uint32_t now_ms, JsonWriter& w,
                 HttpResponseHeaders* headers);
  int finish_impl(bool complete, uint32_t now_ms, JsonWriter& w, uint32_t upload_id);
  int serve(const HttpRequest& req, JsonWriter& w);
  bool on_part_bytes(const uint8_t* data, size_t size_bytes);
  void fail(OtaError error, FlashStr message);
  int write_error(JsonWriter& w, OtaError error, FlashStr message, size_t received);
  void fire_failed(OtaError error, size_t received);

  NodeContext& ctx_;
  RestApi& rest_;
  OtaSession& session_;
#if SPORE_OTA_MULTIPART
  MultipartParser multipart_;
#endif
  FlashStr message_;  // why the current/last upload failed, when more precise than the code
  uint32_t id_ = 0;
  uint32_t stale_id_ = 0;  // an upload poll() ended; its finish() still gets its answer
  uint32_t now_ms_ = 0;    // of the body() call in progress, for the multipart sink
  uint32_t last_activity_ms_ = 0;
  OtaError error_ = OtaError::kOk;        // decided failure of the running upload
  OtaError stale_error_ = OtaError::kOk;  // what the upload poll() ended answers
  OtaError last_error_ = OtaError::kOk;
  bool active_ = false;
  bool multipart_mode_ = false;
  bool restart_pending_ = false;
};

}  // namespace spore
