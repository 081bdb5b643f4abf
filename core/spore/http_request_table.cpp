#include "spore/http_request_table.h"

#include <cstring>

#include "spore/http_text.h"
#include "spore/ota_upload.h"

namespace spore {

HttpMethod http_method_from_name(std::string_view name) {
  if (name == "HEAD") return HttpMethod::kGet;
  HttpMethod m = kUnknownHttpMethod;
  if (!parse_http_method(name, &m)) return kUnknownHttpMethod;
  return m;
}

bool is_update_upload(const HttpRequestHead& head) {
  return head.method == HttpMethod::kPost && head.path == OtaUploadHandler::kPath && head.content_length > 0;
}

bool is_multipart(std::string_view content_type) {
  constexpr std::string_view kPrefix = "multipart/";
  return content_type.size() >= kPrefix.size() && ascii_iequals(content_type.substr(0, kPrefix.size()), kPrefix);
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
  slot.refusal_status = 0;
}

bool HttpRequestTable::admit(const void* request, const HttpRequestHead& head, uint32_t free_heap_bytes) {
  if (find(request) != nullptr) return true;
  Slot* slot = nullptr;
  if (free_heap_bytes >= options_.min_free_heap_bytes) {
    for (Slot& s : slots_) {
      if (s.kind == Kind::kFree) {
        slot = &s;
        break;
      }
    }
  }
  if (slot == nullptr) {
    ++overloaded_;
    api_.record_response(503);
    return false;
  }
  slot->request = request;
  slot->upload_id = 0;
  slot->body_len = 0;
  slot->refusal_headers = HttpResponseHeaders{};
  slot->refusal_status = 0;
  slot->body_too_large = false;
  slot->upload_accepting = false;
  slot->upload_part_done = false;
  const bool upload = ota_ != nullptr && is_update_upload(head);
  slot->kind = upload ? Kind::kUpload : Kind::kPlain;
  if (upload) start_upload(*slot, head);
  return true;
}

void HttpRequestTable::start_upload(Slot& slot, const HttpRequestHead& head) {
  // The library hands out only a multipart body's file part, never the raw body: core's
  // multipart parser cannot see it, so the file part is streamed as an octet-stream of unknown
  // length (no early 413 from Content-Length; OtaSession still stops at the capacity).
  const bool multipart = is_multipart(head.content_type);
  const std::string_view content_type = multipart ? std::string_view("application/octet-stream") : head.content_type;
  const size_t content_length = multipart ? 0 : head.content_length;
  BufferJsonOutput out(slot.body, sizeof slot.body);
  const int status =
      ota_->start(content_type, content_length, head.authorization, clock_.now_ms(), out, &slot.refusal_headers);
  if (status == 0) {
    slot.upload_id = ota_->upload_id();
    slot.upload_accepting = true;
    return;
  }
  // Refused before any body byte (401, 409, 413, 415): the answer waits in the slot until the
  // request ends; the body that still arrives is ignored.
  slot.refusal_status = status;
  slot.body_len = out.size();
}

void HttpRequestTable::on_body(const void* request, const uint8_t* data, size_t size_bytes) {
  Slot* slot = find(request);
  if (slot == nullptr || size_bytes == 0) return;
  if (slot->kind == Kind::kUpload) {
    if (slot->refusal_status != 0 || !slot->upload_accepting) return;
    slot->upload_accepting = ota_->body(data, size_bytes, clock_.now_ms(), slot->upload_id);
    return;
  }
  if (slot->body_too_large || size_bytes > sizeof slot->body - slot->body_len) {
    slot->body_too_large = true;
    return;
  }
  std::memcpy(slot->body + slot->body_len, data, size_bytes);
  slot->body_len += size_bytes;
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
  if (slot->refusal_status != 0 || slot->upload_part_done) return;  // only the first file part
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
  const int status = slot->kind == Kind::kUpload ? respond_upload(*slot, out, h, &close)
                                                 : respond_plain(*slot, head, out, h, &close);
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
    // A constant document: written as is, no JsonWriter needed.
    constexpr std::string_view kTooLarge =
        "{\"error\":\"The request body is larger than this node accepts.\",\"code\":\"payload_too_large\"}";
    out.write(kTooLarge.data(), kTooLarge.size());
    api_.record_response(413);
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

int HttpRequestTable::respond_upload(Slot& slot, JsonOutput& out, HttpResponseHeaders& headers,
                                     bool* close_connection) {
  if (slot.refusal_status != 0) {
    out.write(slot.body, slot.body_len);
    headers = slot.refusal_headers;
    api_.record_response(slot.refusal_status);
    return slot.refusal_status;
  }
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
  api_.record_response(503);
  Slot* slot = find(request);
  if (slot == nullptr) return;
  abort_upload(*slot);
  release(*slot);
}

void HttpRequestTable::disconnected(const void* request) {
  Slot* slot = find(request);
  if (slot == nullptr) return;  // answered already
  abort_upload(*slot);
  release(*slot);
}

bool HttpRequestTable::poll() {
  const uint32_t now = clock_.now_ms();
  if (ota_ != nullptr) ota_->poll(now);
  return restart_scheduled_ && elapsed_ms(now, restart_requested_ms_) >= options_.restart_delay_ms;
}

void HttpRequestTable::request_restart() {
  if (restart_scheduled_) return;
  restart_scheduled_ = true;
  restart_requested_ms_ = clock_.now_ms();
}

}  // namespace spore
