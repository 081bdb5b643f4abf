#include "spore/device/http_request_table.h"

#include <cstring>

#include "spore/http/http_text.h"
#include "spore/ota/ota_upload.h"

namespace spore {

HttpMethod http_method_from_name(std::string_view name) {
  if (name == "HEAD") return HttpMethod::kGet;
  if (name == "OPTIONS") return kOptionsHttpMethod;
  HttpMethod m = kUnknownHttpMethod;
  if (!parse_http_method(name, &m)) return kUnknownHttpMethod;
  return m;
}

bool is_update_upload(const HttpRequestHead& head) {
  return head.method == HttpMethod::kPost && head.path == OtaUploadHandler::kPath && head.content_length > 0;
}

bool is_multipart_upload(const HttpRequestHead& head) {
  return is_update_upload(head) && is_multipart(head.content_type);
}

HttpRequestTable::HttpRequestTable(RestApi& api, const Clock& clock) : api_(api), clock_(clock) {}

void HttpRequestTable::begin() {
  api_.set_restart_handler(Delegate<void()>::bind<HttpRequestTable, &HttpRequestTable::request_restart>(this));
}

HttpRequestTable::Slot* HttpRequestTable::find(const void* request) {
  for (Slot& s : slots_) {
    if (s.kind != Kind::kFree && s.request == request) return &s;
  }
  return nullptr;
}

bool HttpRequestTable::contains(const void* request) const {
  return const_cast<HttpRequestTable*>(this)->find(request) != nullptr;
}

bool HttpRequestTable::is_upload(const void* request) const {
  const Slot* slot = const_cast<HttpRequestTable*>(this)->find(request);
  return slot != nullptr && slot->kind == Kind::kUpload;
}

size_t HttpRequestTable::active_requests() const {
  size_t n = 0;
  for (const Slot& s : slots_) n += s.kind != Kind::kFree ? 1 : 0;
  return n;
}

void HttpRequestTable::release(Slot& slot) {
  slot.request = nullptr;
  slot.kind = Kind::kFree;
  slot.body_len = 0;
  slot.upload_id = 0;
}

int HttpRequestTable::refuse(HttpRefusal refusal, const HttpHeadFields* fields, JsonOutput& out) {
  FlashStr message;
  switch (refusal) {
    case HttpRefusal::kHeadersTooLarge:
      message = SPORE_FSTR("Too many header lines.");
      break;
    case HttpRefusal::kBadHeaderName:
      message = SPORE_FSTR("A header name holds a space or a control character.");
      break;
    case HttpRefusal::kBadFraming:
      message = fields->framing_problem();
      break;
    case HttpRefusal::kUriTooLong:
      message = SPORE_FSTR("Target or query too long.");
      break;
    default:  // kUnsupportedMediaType (kNone and kPayloadTooLarge never come here)
      message = SPORE_FSTR("Form bodies are not accepted.");
      break;
  }
  return refuse(http_refusal_status(refusal), http_refusal_code(refusal), message, out);
}

int HttpRequestTable::refuse(int status, FlashStr code, FlashStr message, JsonOutput& out) {
  JsonWriter w(out);
  w.begin_object().field(SPORE_FSTR("error"), message).field(SPORE_FSTR("code"), code).end_object();
  if (status == 503) ++overloaded_;
  api_.record_response(status);
  return status;
}

int HttpRequestTable::admit(const void* request, const HttpRequestHead& head, const HttpHeapState& heap,
                            JsonOutput& out, HttpResponseHeaders* headers) {
  if (headers != nullptr) *headers = HttpResponseHeaders{};
  if (find(request) != nullptr) return 0;
  // What the library already parsed cannot be undone, but refusing keeps the request from
  // holding it (and a slot) while its body arrives.
  const bool upload = ota_ != nullptr && is_update_upload(head);
  HttpHeadFacts facts;
  facts.fields = head.fields;
  facts.target_bytes = head.target_bytes;
  facts.query_params = head.query_params;
  facts.content_type = head.content_type;
  facts.content_length = head.content_length;
  facts.has_body = head.content_length > 0;
  // A multipart update is the update route's body even without OTA (then a plain 413 below).
  facts.upload = upload || is_multipart_upload(head);
  // kLimits field by field, each an immediate: kLimits itself, or a copy of it, would be a 32-byte
  // object in .rodata, which the ESP8266's core keeps in DRAM.
  HttpAdmissionLimits limits;
  limits.max_header_count = kLimits.max_header_count;
  limits.max_target_bytes = kLimits.max_target_bytes;
  limits.max_query_params = kLimits.max_query_params;
  limits.max_body_bytes = kLimits.max_body_bytes;
  limits.refuse_form_bodies = kLimits.refuse_form_bodies;
  const HttpRefusal refusal = admit_head(facts, limits);
  if (refusal == HttpRefusal::kPayloadTooLarge ||
      (refusal == HttpRefusal::kNone && !upload && head.content_length > SPORE_ESP_MAX_BODY_BYTES)) {
    write_too_large(out);
    return 413;
  }
  if (refusal != HttpRefusal::kNone) return refuse(refusal, head.fields, out);
  Slot* slot = nullptr;
  if (heap.free_bytes >= options_.min_free_heap_bytes && heap.max_block_bytes >= options_.min_free_block_bytes) {
    for (Slot& s : slots_) {
      if (s.kind == Kind::kFree) {
        slot = &s;
        break;
      }
    }
  }
  if (slot == nullptr) {
    return refuse(503, SPORE_FSTR("overloaded"), SPORE_FSTR("The node is low on memory or busy; retry shortly."), out);
  }
  slot->request = request;
  slot->admitted_ms = clock_.now_ms();
  slot->upload_id = 0;
  slot->body_len = 0;
  slot->body_too_large = false;
  slot->upload_accepting = false;
  slot->upload_part_done = false;
  slot->kind = upload ? Kind::kUpload : Kind::kPlain;
  if (!upload) return 0;
  const int status = start_upload(*slot, head, out, headers);
  if (status != 0) {
    api_.record_response(status);
    release(*slot);  // refused before any body byte: answered now
  }
  return status;
}

int HttpRequestTable::start_upload(Slot& slot, const HttpRequestHead& head, JsonOutput& out,
                                   HttpResponseHeaders* headers) {
  // The library hands out only a multipart body's file part, never the raw body: core's
  // multipart parser cannot see it, so the file part is streamed as an octet-stream of unknown
  // length (no early 413 from Content-Length; OtaSession still stops at the capacity).
  const bool multipart = is_multipart(head.content_type);
  const std::string_view content_type = multipart ? std::string_view("application/octet-stream") : head.content_type;
  const size_t content_length = multipart ? 0 : head.content_length;
  const int status = ota_->start(content_type, content_length, head.authorization, clock_.now_ms(), out, headers,
                                 head.target.empty() ? head.path : head.target);
  if (status == 0) {
    slot.upload_id = ota_->upload_id();
    slot.upload_accepting = true;
  }
  return status;
}

bool HttpRequestTable::on_body(const void* request, const uint8_t* data, size_t size_bytes) {
  Slot* slot = find(request);
  if (slot == nullptr || size_bytes == 0) return false;
  if (slot->kind == Kind::kUpload) {
    if (slot->upload_accepting) slot->upload_accepting = ota_->body(data, size_bytes, clock_.now_ms(), slot->upload_id);
    return false;
  }
  if (slot->body_too_large) return false;  // flagged already; the adapter answers it
  if (size_bytes > sizeof slot->body - slot->body_len) {
    slot->body_too_large = true;
    return true;
  }
  std::memcpy(slot->body + slot->body_len, data, size_bytes);
  slot->body_len += size_bytes;
  return false;
}

int HttpRequestTable::refuse_too_large(const void* request, JsonOutput& out) {
  Slot* slot = find(request);
  if (slot == nullptr || slot->kind != Kind::kPlain || !slot->body_too_large) return 0;
  write_too_large(out);
  release(*slot);
  return 413;
}

void HttpRequestTable::write_too_large(JsonOutput& out) {
  // A constant document: written as is, no JsonWriter needed.
  constexpr std::string_view kTooLarge =
      "{\"error\":\"The request body is larger than this node accepts.\",\"code\":\"payload_too_large\"}";
  out.write(kTooLarge.data(), kTooLarge.size());
  api_.record_response(413);
}

void HttpRequestTable::on_upload(const void* request, size_t index, const uint8_t* data, size_t size_bytes,
                                 bool final) {
  (void)index;  // the library reports parts in order; `final` marks where the first one ends
  Slot* slot = find(request);
  if (slot == nullptr) return;
  if (slot->kind != Kind::kUpload) {
    slot->body_too_large = true;  // multipart bodies are only understood on the update route
    return;
  }
  if (slot->upload_part_done) return;  // only the first file part
  if (slot->upload_accepting && size_bytes > 0) {
    slot->upload_accepting = ota_->body(data, size_bytes, clock_.now_ms(), slot->upload_id);
  }
  if (final) slot->upload_part_done = true;
}

int HttpRequestTable::respond(const void* request, const HttpRequestHead& head, JsonOutput& out,
                              HttpResponseHeaders* headers, bool* close_connection) {
  HttpResponseHeaders unused;
  HttpResponseHeaders& h = headers != nullptr ? *headers : unused;
  h = HttpResponseHeaders{};
  bool close_unused = false;
  bool& close = close_connection != nullptr ? *close_connection : close_unused;
  close = false;
  Slot* slot = find(request);
  if (slot == nullptr) {
    api_.record_response(503);
    return 503;
  }
  // A plain request's status is counted by RestApi::handle(); the others here.
  answering_ = request;  // a restart requested now waits for this connection to close
  const int status = slot->kind == Kind::kUpload ? respond_upload(*slot, out, &close)
                                                 : respond_plain(*slot, head, out, h, &close);
  answering_ = nullptr;
  release(*slot);
  return status;
}

const HttpAsset* HttpRequestTable::respond_asset(const void* request, const HttpRequestHead& head) {
  Slot* slot = find(request);
  if (slot == nullptr || slot->kind != Kind::kPlain || slot->body_too_large) return nullptr;
  HttpRequest r;
  r.method = head.method;
  r.path = head.path;
  const HttpAsset* asset = api_.asset_for(r);
  if (asset != nullptr) {
    api_.record_response(200);
    release(*slot);
  }
  return asset;
}

int HttpRequestTable::respond_plain(Slot& slot, const HttpRequestHead& head, JsonOutput& out,
                                    HttpResponseHeaders& headers, bool* close_connection) {
  if (slot.body_too_large) {
    write_too_large(out);
    return 413;
  }
  HttpRequest r;
  r.method = head.method;
  r.path = head.path;
  r.authorization = head.authorization;
  r.body = std::string_view(slot.body, slot.body_len);
  r.content_type = head.content_type;
  r.local_address = head.local_address;
  const int status = api_.handle(r, out, &headers);
  *close_connection = status == 202 && restart_scheduled_;
  return status;
}

int HttpRequestTable::respond_upload(Slot& slot, JsonOutput& out, bool* close_connection) {
  const int status = ota_->finish(true, clock_.now_ms(), out, slot.upload_id);
  api_.record_response(status);
  if (status == 200 && ota_->restart_pending()) {
    *close_connection = true;
    request_restart();
  }
  return status;
}

void HttpRequestTable::abort_upload(Slot& slot) {
  if (slot.kind != Kind::kUpload || slot.upload_id == 0) return;
  char scratch[160];
  BufferJsonOutput sink(scratch, sizeof scratch);
  ota_->finish(false, clock_.now_ms(), sink, slot.upload_id);  // kAborted: the running image stays
}

void HttpRequestTable::fail(const void* request) {
  ++overloaded_;
  Slot* slot = find(request);
  if (slot == nullptr) return;
  abort_upload(*slot);
  release(*slot);
}

void HttpRequestTable::disconnected(const void* request) {
  if (restart_scheduled_ && request == restart_waits_for_) restart_due_ = true;  // its answer is out
  Slot* slot = find(request);
  if (slot == nullptr) return;  // answered already
  abort_upload(*slot);
  release(*slot);
}

bool HttpRequestTable::poll() {
  const uint32_t now = clock_.now_ms();
  if (ota_ != nullptr) ota_->poll(now);
  if (!restart_scheduled_) return false;
  if (restart_waits_for_ == nullptr) return elapsed_ms(now, restart_requested_ms_) >= options_.restart_delay_ms;
  return restart_due_ || elapsed_ms(now, restart_requested_ms_) >= options_.restart_max_wait_ms;
}

const void* HttpRequestTable::take_expired() {
  const uint32_t now = clock_.now_ms();
  for (Slot& s : slots_) {
    if (s.kind != Kind::kPlain || elapsed_ms(now, s.admitted_ms) < options_.max_plain_request_ms) continue;
    const void* request = s.request;
    release(s);
    ++expired_;
    return request;
  }
  return nullptr;
}

void HttpRequestTable::request_restart() {
  if (restart_scheduled_ || restart_blocked_) return;
  restart_scheduled_ = true;
  restart_requested_ms_ = clock_.now_ms();
  restart_waits_for_ = answering_;
}

void HttpRequestTable::set_restart_blocked(bool blocked) {
  restart_blocked_ = blocked;
  api_.set_restart_blocked(blocked);  // the route answers 409 after authenticating
}

}  // namespace spore
