// libFuzzer target for the ESP8266 HTTP adapter's request admission table
// (core/spore/device/http_request_table.h): sequences of the calls ESPAsyncWebServer's callbacks make
// (admit, body chunks, multipart file chunks, respond_asset / respond, fail, disconnected, poll),
// on up to 6 request handles against SPORE_ESP_MAX_HTTP_REQUESTS slots, with a real RestApi
// (token set, dashboard set) + OtaUploadHandler + OtaSession on an in-memory flash target.
//
// Input: a sequence of operations; each starts with one byte, op = b & 7, request = (b >> 3) % 6:
//   0 admit: next byte = head (index into kHeads; bit 7 set: free heap below the minimum), next
//     byte = Content-Length / 16 for heads that send one, next byte x: target_bytes = x,
//     query_params = x & 7, x >> 2 header fields;
//   1 on_body: next byte n (0..255), then n body bytes (when it flags an overflow, the adapter's
//     refuse_too_large() follows);   2 on_upload: next byte n, n bytes, the low bit of the
//     following byte = final;   3 respond_asset, then respond() if it gave nothing;
//   4 fail;   5 disconnected;   6 poll and take_expired() until nullptr, after the clock advanced
//     next byte * 1 s;   7 clock += next byte ms.
// At the end every request still in flight is disconnected.
//
// Properties checked on every input, abort() on violation:
// - nothing crashes or reads out of bounds (ASan/UBSan in the fuzz preset);
// - never more than SPORE_ESP_MAX_HTTP_REQUESTS requests in flight; active_requests() and
//   contains() agree with a model of the admitted handles; admit() refuses with 431 / 414 / 415
//   / 413 / 503 exactly when the headers, target or query are over their limits, the body is a
//   form or a stray multipart, a plain request declares more than SPORE_ESP_MAX_BODY_BYTES, the
//   heap is low or every slot is taken, and an update upload only with
//   OtaUploadHandler's refusals (401 409 413 415, never touching flash unauthenticated); a
//   refusal is one complete JSON error, takes no slot, is counted once (a 503 also in
//   overload_count()); a handle already admitted stays admitted;
// - every admitted request gets at most one answer: respond() (or respond_asset()) frees its
//   slot, a later respond() on it is a 503 that writes nothing; respond() on a handle never
//   admitted is 503 too;
// - answers: a documented status (200 202 400 401 404 405 406 408 409 413 415 422 501 503, never
//   500), one complete valid JSON value with "error"/"code" on errors (a text route: Prometheus
//   text, content_type set); a plain body growing over SPORE_ESP_MAX_BODY_BYTES is flagged by
//   on_body() exactly when it crosses it, and refuse_too_large() then answers 413 and frees the
//   slot; a multipart body on a plain route is 413; an unauthenticated upload is 401 and never
//   touches flash;
// - take_expired() hands back exactly the plain requests admitted max_plain_request_ms or more
//   ago, each once, freeing their slots, never an upload;
// - RestApi::response_counts() grows by exactly one per answer (respond, asset, admit refusal,
//   413 on overflow) and by nothing else (fail() resets the connection: no answer);
// - a restart is scheduled only after an authorized restart (202) or an installed update (200),
//   and `close_connection` is set exactly for those answers;
// - OtaUploadHandler is busy only while an admitted upload is in flight; after the final
//   disconnects no slot is in use and no upload is running, the flash target is not open.
//
// Seed corpus: tests/fuzz/corpus/http_request_table/.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_ports.h"
#include "spore/device/http_request_table.h"
#include "spore/cluster/membership.h"
#include "spore/integrations/metrics.h"
#include "spore/node/node_context.h"
#include "spore/ota/ota.h"
#include "spore/ota/ota_upload.h"
#include "spore/http/rest_api.h"

namespace {

using spore::fuzz::CountingRandom;
using spore::fuzz::NullUdp;
using spore::fuzz::StringOutput;

constexpr std::string_view kToken = "esp-token";
constexpr std::string_view kBearer = "Bearer esp-token";
constexpr int kHandles = 6;
constexpr uint32_t kPlentyHeap = 30000;
constexpr uint32_t kLowHeap = 4000;

void check(bool ok) {
  if (!ok) std::abort();
}

// The smallest gzip member set_dashboard() accepts.
const uint8_t kPage[] = {0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 2, 0xFF, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0};

struct Node {
  spore::fuzz::SettableClock clock{0xFFFF0000u};  // wraps during a long input
  CountingRandom random;
  spore::fuzz::FixedSystem system;
  NullUdp udp;
  spore::fuzz::MemoryFlash flash{2048};
  spore::NodeContext ctx{cfg(), clock, random, system, nullptr};
  spore::RestApi api{ctx};
  spore::Membership membership{ctx, udp, random};
  spore::OtaSession session{flash};
  spore::OtaUploadHandler ota{ctx, api, session};
  spore::Metrics metrics{ctx, api};
  spore::HttpRequestTable table{api, clock};

  static spore::Config cfg() {
    spore::Config c = spore::Config::default_esp8266();
    c.start_jitter_max_ms = 0;
    c.ota_stall_timeout_ms = 30000;
    return c;
  }
  Node() {
    check(ctx.begin({0x00ABCDEFu, 3, 0x7F000002u, "esp_abcdef"}) && api.begin());
    membership.begin();
    check(ota.begin() && metrics.begin() && api.set_api_token(kToken) && api.set_dashboard(kPage, sizeof kPage));
    table.set_ota(&ota);
    table.begin();
  }
  uint32_t answers() const {
    uint32_t n = 0;
    for (size_t i = 0; i < spore::HttpStatusCounts::kSlots; ++i) n += api.response_counts().at(i);
    return n;
  }
};

struct HeadSpec {
  spore::HttpMethod method;
  std::string_view path;
  std::string_view authorization;
  std::string_view content_type;
  bool has_length;  // Content-Length from the input
};

constexpr spore::HttpMethod kGet = spore::HttpMethod::kGet;
constexpr spore::HttpMethod kPost = spore::HttpMethod::kPost;
const HeadSpec kHeads[] = {
    {kGet, "/api/node/status", "", "", false},
    {kGet, "/", "", "", false},
    {kGet, "/metrics", "", "", false},
    {kPost, "/api/node/restart", kBearer, "", false},
    {kPost, "/api/node/restart", "", "", false},
    {kPost, "/api/node/restart", "Bearer nope", "", true},
    {kPost, "/api/node/update", kBearer, "application/octet-stream", true},
    {kPost, "/api/node/update", kBearer, "multipart/form-data; boundary=b", true},
    {kPost, "/api/node/update", "", "application/octet-stream", true},
    {kPost, "/api/node/update", kBearer, "text/plain", true},
    {kPost, "/api/node/update", kBearer, "", false},
    {kPost, "/", "", "", true},
    {kPost, "/api/cluster/events", kBearer, "application/x-www-form-urlencoded", true},
    {kPost, "/api/cluster/events", kBearer, "multipart/form-data; boundary=b", true},
    {spore::kUnknownHttpMethod, "/api/cluster/members", "", "", false},
    {kGet, "/nope", "", "", true},
};
constexpr size_t kHeadCount = sizeof kHeads / sizeof kHeads[0];

bool documented_status(int s) {
  switch (s) {
    case 200: case 202: case 400: case 401: case 404: case 405: case 406: case 408: case 409: case 413:
    case 414: case 415: case 422: case 431: case 501: case 503:
      return true;
    default:
      return false;
  }
}

struct Model {
  bool admitted = false;
  spore::HttpRequestHead head;
  size_t spec = 0;
  size_t plain_body = 0;  // bytes sent through on_body on a plain request
  bool multipart_seen = false;
  uint32_t admitted_ms = 0;
};

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  const uint8_t* take(size_t* n) {
    if (*n > size_ - pos_) *n = size_ - pos_;
    const uint8_t* p = data_ + pos_;
    pos_ += *n;
    return p;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

int g_handles[kHandles];

bool is_upload(const Model& m) { return spore::is_update_upload(m.head); }

void check_answer(Node& node, Model& m, int status, const StringOutput& out, const spore::HttpResponseHeaders& h,
                  bool close, bool restart_before) {
  check(documented_status(status));
  if (h.content_type != nullptr) {
    check(status == 200 && !out.text.empty() && out.text.back() == '\n');
  } else {
    check(!out.text.empty() && nlohmann::json::accept(out.text));
    if (status >= 400) {
      const nlohmann::json doc = nlohmann::json::parse(out.text, nullptr, false);
      check(doc.is_object() && doc.contains("error") && doc["error"].is_string() && doc.contains("code") &&
            doc["code"].is_string());
    }
  }
  const HeadSpec& spec = kHeads[m.spec];
  const bool authorized = spec.authorization == kBearer;
  if (!is_upload(m) && (m.plain_body > SPORE_ESP_MAX_BODY_BYTES || m.multipart_seen)) check(status == 413);
  if (!authorized && (spec.path == "/api/node/restart" || is_upload(m))) check(status == 401 || status == 413);
  if (status == 401) check(h.www_authenticate != nullptr);
  const bool restart_answer = (status == 202 && spec.path == "/api/node/restart") ||
                              (status == 200 && is_upload(m));
  check(close == (restart_answer && node.table.restart_scheduled()));
  if (!restart_before && node.table.restart_scheduled()) check(restart_answer);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  Node node;
  Model model[kHandles];
  Reader in(data, size);
  const uint32_t min_heap = node.table.options().min_free_heap_bytes;

  auto in_flight = [&] {
    size_t n = 0;
    for (const Model& m : model) n += m.admitted ? 1 : 0;
    return n;
  };
  auto upload_in_flight = [&] {
    for (const Model& m : model) {
      if (m.admitted && is_upload(m)) return true;
    }
    return false;
  };

  while (!in.done()) {
    const uint8_t b = in.byte();
    const int op = b & 7;
    const int r = (b >> 3) % kHandles;
    const void* handle = &g_handles[r];
    Model& m = model[r];
    const uint32_t answers_before = node.answers();
    const uint32_t overload_before = node.table.overload_count();
    const bool restart_before = node.table.restart_scheduled();
    uint32_t expected_answers = 0;

    switch (op) {
      case 0: {
        const uint8_t hb = in.byte();
        const size_t spec = (hb & 0x7F) % kHeadCount;
        const uint32_t heap = (hb & 0x80) != 0 ? kLowHeap : kPlentyHeap;
        const size_t length = kHeads[spec].has_length ? size_t{in.byte()} * 16 : 0;
        const uint8_t x = in.byte();
        const bool was = m.admitted;
        const bool room = in_flight() < SPORE_ESP_MAX_HTTP_REQUESTS && heap >= min_heap;
        spore::HttpRequestHead head;
        head.method = kHeads[spec].method;
        head.path = kHeads[spec].path;
        head.authorization = kHeads[spec].authorization;
        head.content_type = kHeads[spec].content_type;
        head.content_length = length;
        head.target_bytes = x;
        head.query_params = x & 7;
        spore::HttpHeadFields fields;
        for (size_t i = 0; i < size_t{x} >> 2; ++i) fields.add("X-Line", "v");
        head.fields = &fields;
        const std::string_view media = head.content_type.substr(0, head.content_type.find(';'));
        const bool stray_body = length > 0 && (media == "text/plain" || media == "application/x-www-form-urlencoded" ||
                                               (media == "multipart/form-data" && !spore::is_update_upload(head)));
        int expected = 0;  // -1: an upload OtaUploadHandler decides
        if (was) {
          expected = 0;
        } else if ((x >> 2) > SPORE_ESP_MAX_HEADERS) {
          expected = 431;  // core's admission order (http_admission.h): 431 before 414
        } else if (x >= SPORE_ESP_MAX_TARGET_BYTES || (x & 7) > SPORE_ESP_MAX_QUERY_PARAMS) {
          expected = 414;
        } else if (stray_body) {
          expected = 415;
        } else if (!spore::is_update_upload(head) && length > SPORE_ESP_MAX_BODY_BYTES) {
          expected = 413;
        } else if (!room) {
          expected = 503;
        } else if (spore::is_update_upload(head)) {
          expected = -1;
        }
        const uint32_t flash_begins = node.flash.begins;
        StringOutput out;
        spore::HttpResponseHeaders h;
        const int status = node.table.admit(handle, head, {heap, heap}, out, &h);
        if (expected >= 0) check(status == expected);
        if (expected == -1) check(status == 0 || status == 401 || status == 409 || status == 413 || status == 415);
        if (status == 401) check(kHeads[spec].authorization != kBearer && h.www_authenticate != nullptr);
        if (is_upload(Model{false, head, spec, 0, false}) && kHeads[spec].authorization != kBearer) {
          check(node.flash.begins == flash_begins);
        }
        if (status != 0) {
          expected_answers = 1;
          const nlohmann::json doc = nlohmann::json::parse(out.text, nullptr, false);
          check(doc.is_object() && doc["error"].is_string() && doc["code"].is_string());
          check(node.table.overload_count() == overload_before + (status == 503 ? 1 : 0));
          check(!node.table.contains(handle));
        } else if (!was) {
          m = Model{};
          m.admitted = true;
          m.head = head;
          m.spec = spec;
          m.admitted_ms = node.clock.now;
        }
        break;
      }
      case 1:
      case 2: {
        size_t n = in.byte();
        const uint8_t* bytes = in.take(&n);
        if (op == 1) {
          const bool plain = m.admitted && !is_upload(m);
          const bool was_over = m.plain_body > SPORE_ESP_MAX_BODY_BYTES;
          if (plain) m.plain_body += n;
          const bool overflow = node.table.on_body(handle, bytes, n);
          check(overflow == (plain && !was_over && !m.multipart_seen && m.plain_body > SPORE_ESP_MAX_BODY_BYTES));
          if (overflow) {
            StringOutput out;
            check(node.table.refuse_too_large(handle, out) == 413);
            const nlohmann::json doc = nlohmann::json::parse(out.text, nullptr, false);
            check(doc.is_object() && doc["code"] == "payload_too_large");
            expected_answers = 1;
            m.admitted = false;
          } else if (!(plain && m.multipart_seen)) {  // (that one is flagged for respond()'s 413)
            StringOutput out;
            check(node.table.refuse_too_large(handle, out) == 0 && out.text.empty());
          }
        } else {
          const bool final = (in.byte() & 1) != 0;
          node.table.on_upload(handle, 0, bytes, n, final);
          if (m.admitted && !is_upload(m)) m.multipart_seen = true;
        }
        break;
      }
      case 3: {
        const spore::HttpAsset* asset = node.table.respond_asset(handle, m.head);
        if (asset != nullptr) {
          check(m.admitted && m.head.method == kGet && m.head.path == "/" && !m.multipart_seen &&
                m.plain_body <= SPORE_ESP_MAX_BODY_BYTES);
          check(asset->data == kPage && asset->size_bytes == sizeof kPage);
          expected_answers = 1;
          m.admitted = false;
          break;
        }
        StringOutput out;
        spore::HttpResponseHeaders h;
        bool close = true;
        const int status = node.table.respond(handle, m.head, out, &h, &close);
        expected_answers = 1;
        if (!m.admitted) {
          check(status == 503 && out.text.empty() && !close);
        } else {
          check_answer(node, m, status, out, h, close, restart_before);
          m.admitted = false;
        }
        break;
      }
      case 4:
        node.table.fail(handle);
        check(node.table.overload_count() == overload_before + 1);
        m.admitted = false;
        break;
      case 5:
        node.table.disconnected(handle);
        m.admitted = false;
        break;
      case 6: {
        node.clock.now += uint32_t{in.byte()} * 1000u;
        const bool due = node.table.poll();
        check(!due || node.table.restart_scheduled());
        const uint32_t limit = node.table.options().max_plain_request_ms;
        const uint32_t expired_before = node.table.expired_count();
        uint32_t taken = 0;
        while (const void* e = node.table.take_expired()) {
          int k = 0;
          while (k < kHandles && &g_handles[k] != e) ++k;
          check(k < kHandles && model[k].admitted && !is_upload(model[k]) &&
                node.clock.now - model[k].admitted_ms >= limit);
          model[k].admitted = false;
          ++taken;
        }
        check(node.table.expired_count() == expired_before + taken);
        for (const Model& x : model) check(!x.admitted || is_upload(x) || node.clock.now - x.admitted_ms < limit);
        break;
      }
      default:
        node.clock.now += in.byte();
        break;
    }

    check(node.answers() == answers_before + expected_answers);
    if (op != 0 && op != 4) check(node.table.overload_count() == overload_before);
    check(node.table.active_requests() == in_flight());
    check(node.table.active_requests() <= SPORE_ESP_MAX_HTTP_REQUESTS);
    for (int i = 0; i < kHandles; ++i) check(node.table.contains(&g_handles[i]) == model[i].admitted);
    if (node.ota.busy()) check(upload_in_flight());
    if (restart_before) check(node.table.restart_scheduled());
  }

  for (int i = 0; i < kHandles; ++i) node.table.disconnected(&g_handles[i]);
  check(node.table.active_requests() == 0 && !node.ota.busy() && !node.flash.active);
  return 0;
}
