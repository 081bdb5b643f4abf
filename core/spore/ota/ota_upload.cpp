#include "spore/ota/ota_upload.h"

#include "spore/auth/http_target.h"
#include "spore/http/http_text.h"
#include "spore/node/node_context.h"

namespace spore {

namespace {

/// Whether an upload may have this media type (Content-Type without its parameters); `multipart`
/// says which body it announces.
bool accepted_media(std::string_view media, bool& multipart) {
  if (media.empty() || ascii_iequals(media, "application/octet-stream")) {
    multipart = false;  // RFC 9110 §8.3: without a Content-Type the recipient may assume octet-stream
    return true;
  }
  multipart = SPORE_OTA_MULTIPART && ascii_iequals(media, "multipart/form-data");
  return multipart;
}

/// Logs an accepted upload and fires ota_started.
void announce_start(NodeContext& ctx, size_t content_length, bool multipart, bool allow_downgrade) {
  SPORE_LOG(ctx, LogLevel::kInfo, "ota: upload started (%s, %u bytes declared%s)", multipart ? "multipart" : "raw",
            static_cast<unsigned>(content_length), allow_downgrade ? ", downgrade allowed" : "");
  OtaEvent ev;
  ev.size_bytes = content_length;
  ev.multipart = multipart;
  ctx.fire(topics::kOtaStarted, ev);
}

}  // namespace

OtaUploadHandler::OtaUploadHandler(NodeContext& ctx, RestApi& rest, OtaSession& session)
    : ctx_(ctx), rest_(rest), session_(session) {
#if SPORE_OTA_MULTIPART
  multipart_.set_sink(MultipartParser::Sink::bind<OtaUploadHandler, &OtaUploadHandler::on_part_bytes>(this));
#endif
}

bool OtaUploadHandler::begin() {
  const bool ok = rest_.add_route(kPath, HttpMethod::kPost, RouteAuth::kTokenInHandler,
                                  RestApi::Handler::bind<OtaUploadHandler, &OtaUploadHandler::serve>(this));
  if (!ok) SPORE_LOG(ctx_, LogLevel::kError, "ota: could not register POST %s (route table full?)", kPath.data());
  return ok;
}

int OtaUploadHandler::write_error(JsonWriter& w, OtaError error, FlashStr message, size_t received) {
  w.begin_object();
  w.field(SPORE_FSTR("error"), message.is_null() ? ota_error_message(error) : message);
  w.field(SPORE_FSTR("code"), ota_error_name(error));
  w.field(SPORE_FSTR("received"), received);
  if (error == OtaError::kTooLarge) {
    w.field(SPORE_FSTR("maxBytes"), session_.capacity_bytes());
  }
  if (error == OtaError::kDowngrade) {
    w.field(SPORE_FSTR("imageVersion"), session_.image_version_text());
    w.field(SPORE_FSTR("runningVersion"), ctx_.firmware_version());
  }
  w.end_object();
  return ota_error_http_status(error);
}

void OtaUploadHandler::fire_failed(OtaError error, size_t received) {
  last_error_ = error;
  SPORE_LOG(ctx_, LogLevel::kWarn, "ota: update failed: %s after %u bytes", ota_error_name(error),
            static_cast<unsigned>(received));
  OtaEvent ev;
  ev.error = error;
  ev.size_bytes = received;
  ev.multipart = multipart_mode_;
  ctx_.fire(topics::kOtaFailed, ev);
}

int OtaUploadHandler::start(std::string_view content_type, size_t content_length, std::string_view authorization,
                            uint32_t now_ms, JsonOutput& out, HttpResponseHeaders* headers, std::string_view target) {
  if (headers != nullptr) *headers = HttpResponseHeaders{};
  JsonWriter w(out);
  return start_impl(content_type, content_length, &authorization, &target, false, now_ms, w, headers);
}

int OtaUploadHandler::start_authorized(std::string_view content_type, size_t content_length, uint32_t now_ms,
                                       JsonOutput& out, bool allow_downgrade) {
  JsonWriter w(out);
  return start_impl(content_type, content_length, nullptr, nullptr, allow_downgrade, now_ms, w, nullptr);
}

int OtaUploadHandler::start_impl(std::string_view content_type, size_t content_length,
                                 const std::string_view* authorization, const std::string_view* target,
                                 bool allow_downgrade, uint32_t now_ms, JsonWriter& w, HttpResponseHeaders* headers) {
  // Authentication first: an unauthenticated caller learns nothing, not even that one is running.
  // A proof's sha256 is the image file's: checked by the session when the upload ends.
  AuthDecision auth;
  if (authorization != nullptr) {
    AuthRequest req;
    req.method = HttpMethod::kPost;
    req.target = target != nullptr ? *target : kPath;  // the query is signed too
    req.authorization = *authorization;
    const int denied = rest_.authorize(req, w, headers, &auth);
    if (denied != 0) return denied;
  }
  if (target != nullptr) {
    // What follows a '#' is not covered by the proof (http_target.h): refused, never read.
    if (http_target_has_fragment(*target)) {
      return write_error(w, OtaError::kBadRequest, SPORE_FSTR("The request target must not hold a fragment ('#')."), 0);
    }
    char value[2];
    const int n = http_query_param(*target, "allow_downgrade", value, sizeof value);
    if (n == -1 || (n == 1 && value[0] == '0')) {
      allow_downgrade = false;
    } else if (n == 1 && value[0] == '1') {
      allow_downgrade = true;
    } else {
      return write_error(w, OtaError::kBadRequest, SPORE_FSTR("allow_downgrade must be 1 or 0."), 0);
    }
  }
  if (active_ || session_.busy() || restart_pending_) {
    return write_error(w, OtaError::kBusy,
                       restart_pending_ ? SPORE_FSTR("A new image is installed and the node is restarting into it.")
                                        : SPORE_FSTR("Another update upload is in progress; wait until it ends."),
                       0);
  }

  std::string_view rest = trim_ows(content_type);
  bool multipart = false;
  if (!accepted_media(trim_ows(rest.substr(0, rest.find(';'))), multipart)) {
    multipart_mode_ = false;
    fire_failed(OtaError::kUnsupportedMediaType, 0);
    return write_error(w, OtaError::kUnsupportedMediaType, FlashStr(), 0);
  }
  multipart_mode_ = multipart;
#if SPORE_OTA_MULTIPART
  if (multipart && !multipart_.begin(rest)) {
    fire_failed(OtaError::kBadRequest, 0);
    return write_error(w, OtaError::kBadRequest, multipart_.error(), 0);
  }
#endif

  // A multipart body carries boundaries and part headers besides the image; the session checks
  // the image itself while it streams.
  if (multipart && content_length > 0) {
    const size_t limit = session_.capacity_bytes() + session_.trailer_allowance_bytes() + kMultipartOverheadBytes;
    if (content_length > limit) {
      fire_failed(OtaError::kTooLarge, 0);
      return write_error(w, OtaError::kTooLarge, FlashStr(), 0);
    }
  }
  const OtaError e = session_.begin(multipart ? 0 : content_length, now_ms,
                                    auth.has_declared ? &auth.declared_sha256 : nullptr, allow_downgrade);
  if (e != OtaError::kOk) {
    fire_failed(e, 0);
    return write_error(w, e, FlashStr(), 0);
  }

  active_ = true;
  if (++id_ == 0) id_ = 1;
  error_ = OtaError::kOk;
  message_ = FlashStr();
  last_activity_ms_ = now_ms;
  announce_start(ctx_, content_length, multipart, allow_downgrade);
  return 0;
}

void OtaUploadHandler::fail(OtaError error, FlashStr message) {
  if (error_ != OtaError::kOk) return;
  error_ = error;
  message_ = message;
  if (session_.busy()) session_.abort(error);
}

#if SPORE_OTA_MULTIPART
bool OtaUploadHandler::on_part_bytes(const uint8_t* data, size_t size_bytes) {
  return session_.write(data, size_bytes, now_ms_) == OtaError::kOk;
}
#endif

bool OtaUploadHandler::body(const uint8_t* data, size_t size_bytes, uint32_t now_ms, uint32_t upload_id) {
  if (!active_ || (upload_id != 0 && upload_id != id_) || error_ != OtaError::kOk) return false;
  last_activity_ms_ = now_ms;
  if (size_bytes == 0) return true;
  if (!multipart_mode_) {
    const OtaError e = session_.write(data, size_bytes, now_ms);
    if (e != OtaError::kOk) fail(e, FlashStr());
    return e == OtaError::kOk;
  }
#if SPORE_OTA_MULTIPART
  now_ms_ = now_ms;
  if (multipart_.feed(data, size_bytes)) return true;
  if (!session_.busy() && session_.result().error != OtaError::kOk) {
    fail(session_.result().error, FlashStr());  // the session refused the part's bytes
  } else {
    fail(OtaError::kBadRequest, multipart_.error());
  }
#endif
  return false;
}

int OtaUploadHandler::finish(bool complete, uint32_t now_ms, JsonOutput& out, uint32_t upload_id) {
  JsonWriter w(out);
  return finish_impl(complete, now_ms, w, upload_id);
}

int OtaUploadHandler::finish_impl(bool complete, uint32_t now_ms, JsonWriter& w, uint32_t upload_id) {
  if (!active_ || (upload_id != 0 && upload_id != id_)) {
    // An upload poll() ended still gets its answer, once.
    if (stale_id_ != 0 && (upload_id == 0 ? !active_ : upload_id == stale_id_)) {
      stale_id_ = 0;
      return write_error(w, stale_error_, FlashStr(), 0);
    }
    return write_error(w, OtaError::kBadRequest, SPORE_FSTR("No update upload is in progress."), 0);
  }
  active_ = false;
  if (!complete) fail(OtaError::kAborted, FlashStr());
#if SPORE_OTA_MULTIPART
  if (error_ == OtaError::kOk && multipart_mode_ && !multipart_.finish()) {
    fail(OtaError::kBadRequest, multipart_.error());
  }
#endif
  OtaError e = error_;
  if (e == OtaError::kOk) e = session_.finish(now_ms);
  const size_t received = session_.received_bytes();
  if (e != OtaError::kOk) {
    if (session_.busy()) session_.abort(e);
    if (e == OtaError::kDowngrade) {
      SPORE_LOG(ctx_, LogLevel::kWarn, "ota: image version '%s' is older than the running '%s'",
                session_.image_version_text(), ctx_.firmware_version());
    }
    fire_failed(e, received);
    return write_error(w, e, message_, received);
  }

  const OtaResult& r = session_.result();
  restart_pending_ = true;
  last_error_ = OtaError::kOk;
  char hex[65];
  ota_sha256_hex(r.sha256, hex);
  SPORE_LOG(ctx_, LogLevel::kInfo, "ota: image installed, %u bytes, sha256 %s%s", static_cast<unsigned>(r.image_bytes),
            hex, r.signature_verified ? ", signature verified" : "");
  OtaEvent ev;
  ev.size_bytes = r.image_bytes;
  for (size_t i = 0; i < sizeof ev.sha256; ++i) ev.sha256[i] = r.sha256[i];
  ev.signature_verified = r.signature_verified;
  ev.multipart = multipart_mode_;
  ctx_.fire(topics::kOtaFinished, ev);

  w.begin_object();
  w.field(SPORE_FSTR("status"), "updated");
  w.field(SPORE_FSTR("size"), r.image_bytes);
  w.field(SPORE_FSTR("sha256"), static_cast<const char*>(hex));
  w.field(SPORE_FSTR("signed"), r.signature_verified);
  w.field(SPORE_FSTR("restart"), SPORE_FSTR("the node restarts now with the new image"));
  w.end_object();
  return 200;
}

void OtaUploadHandler::poll(uint32_t now_ms) {
  if (!active_ || elapsed_ms(now_ms, last_activity_ms_) < ctx_.config().ota_stall_timeout_ms) return;
  // Free the slot: the client is gone or hung. Its connection may still call finish() later.
  fail(OtaError::kStalled, FlashStr());
  active_ = false;
  stale_id_ = id_;
  stale_error_ = error_;
  fire_failed(error_, session_.received_bytes());
}

int OtaUploadHandler::serve(const HttpRequest& req, JsonWriter& w) {
  // The whole body is already here; the route is kTokenInHandler, so the token is checked here, as
  // for a streamed upload.
  const uint32_t now_ms = ctx_.clock().now_ms();
  const int status = start_impl(req.content_type, req.body.size(), &req.authorization, &req.path, false, now_ms, w,
                                rest_.current_headers());
  if (status != 0) return status;
  body(reinterpret_cast<const uint8_t*>(req.body.data()), req.body.size(), now_ms);
  return finish_impl(true, now_ms, w, 0);
}

}  // namespace spore
