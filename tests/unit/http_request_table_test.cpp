// HttpRequestTable: the ESP8266 HTTP adapter's decisions (admission, slots, body buffering,
// upload routing, restart deferral), driven the way ESPAsyncWebServer's callbacks drive them,
// with a real RestApi + OtaUploadHandler + OtaSession and a FakeFlashTarget behind them.

#include "spore/device/http_request_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fakes.h"
#include "ota_test_support.h"
#include "spore/node/node_context.h"
#include "spore/ota/ota_upload.h"

namespace spore {
namespace {

using testing::Bytes;

constexpr uint32_t kPlentyHeap = 30000;

struct Reply {
  int status = 0;
  nlohmann::json body;
  std::string www_authenticate;
  std::string allow;
  bool close = false;
};

struct Node {
  explicit Node(uint32_t start_ms = 1000)
      : clock(start_ms),
        ctx(cfg(), clock, rnd, sys, &log),
        api(ctx),
        session(flash),
        ota(ctx, api, session),
        table(api, clock) {
    EXPECT_TRUE(ctx.begin({0x00ABCDEFu, 3, 0x7F000002u, "esp_abcdef"}));
    EXPECT_TRUE(api.begin());
    EXPECT_TRUE(ota.begin());
    table.set_ota(&ota);
    table.begin();
  }
  static Config cfg() {
    Config c = Config::default_esp8266();
    c.start_jitter_max_ms = 0;
    c.ota_stall_timeout_ms = 30000;
    return c;
  }

  Reply respond(const void* req, const HttpRequestHead& head) {
    Reply r;
    char buf[4096];
    BufferJsonOutput out(buf, sizeof buf);
    HttpResponseHeaders headers;
    r.status = table.respond(req, head, out, &headers, &r.close);
    EXPECT_FALSE(out.overflowed());
    if (out.size() > 0) r.body = nlohmann::json::parse(out.c_str());
    if (headers.www_authenticate != nullptr) r.www_authenticate = headers.www_authenticate;
    if (headers.allow != nullptr) r.allow = headers.allow;
    return r;
  }

  /// admit() with the heap's largest block as big as its free bytes; true when admitted. A
  /// refusal's answer is kept in `refusal`.
  bool admit(const void* req, const HttpRequestHead& head, uint32_t free_heap = kPlentyHeap) {
    return admit(req, head, HttpHeapState{free_heap, free_heap});
  }
  bool admit(const void* req, const HttpRequestHead& head, const HttpHeapState& heap) {
    char buf[HttpRequestTable::kMinRefusalBytes];
    BufferJsonOutput out(buf, sizeof buf);
    HttpResponseHeaders headers;
    refusal = Reply{};
    refusal.status = table.admit(req, head, heap, out, &headers);
    EXPECT_FALSE(out.overflowed());
    if (refusal.status == 0) return true;
    refusal.body = nlohmann::json::parse(out.c_str());
    if (headers.www_authenticate != nullptr) refusal.www_authenticate = headers.www_authenticate;
    return false;
  }

  /// Feeds `body` through on_body() in chunks of `chunk` bytes.
  void feed(const void* req, const Bytes& body, size_t chunk = 1460) {
    for (size_t off = 0; off < body.size(); off += chunk) {
      clock.advance(1);
      table.on_body(req, body.data() + off, std::min(chunk, body.size() - off));
    }
  }

  testing::FakeClock clock;
  testing::FakeRandom rnd;
  testing::FakeSystemInfo sys;
  testing::CapturingLog log;
  NodeContext ctx;
  RestApi api;
  testing::FakeFlashTarget flash;
  OtaSession session;
  OtaUploadHandler ota;
  HttpRequestTable table;
  Reply refusal;
};

// Request handles: only their addresses matter.
int g_requests[8];
const void* req(int i) { return &g_requests[i]; }

HttpRequestHead get(std::string_view path) {
  HttpRequestHead h;
  h.method = HttpMethod::kGet;
  h.path = path;
  return h;
}

HttpRequestHead post(std::string_view path, size_t content_length, std::string_view content_type = "",
                     std::string_view authorization = "") {
  HttpRequestHead h;
  h.method = HttpMethod::kPost;
  h.path = path;
  h.content_length = content_length;
  h.content_type = content_type;
  h.authorization = authorization;
  return h;
}

HttpRequestHead upload(size_t content_length, std::string_view content_type = "application/octet-stream",
                       std::string_view authorization = "") {
  return post(OtaUploadHandler::kPath, content_length, content_type, authorization);
}

// ---- pure helpers --------------------------------------------------------------------------------

TEST(HttpRequestTableTest, MethodNames) {
  EXPECT_EQ(http_method_from_name("GET"), HttpMethod::kGet);
  EXPECT_EQ(http_method_from_name("POST"), HttpMethod::kPost);
  EXPECT_EQ(http_method_from_name("HEAD"), HttpMethod::kGet);  // served as GET
  EXPECT_EQ(http_method_from_name("OPTIONS"), kOptionsHttpMethod);  // a CORS preflight
  EXPECT_EQ(http_method_from_name("TRACE"), kUnknownHttpMethod);
  EXPECT_EQ(http_method_from_name(""), kUnknownHttpMethod);
}

TEST(HttpRequestTableTest, UpdateUploadDetection) {
  EXPECT_TRUE(is_update_upload(upload(1)));
  EXPECT_FALSE(is_update_upload(upload(0)));  // no Content-Length (chunked or empty): plain
  EXPECT_FALSE(is_update_upload(post("/api/node/restart", 10)));
  EXPECT_FALSE(is_update_upload(post("/api/node/update/", 10)));
  HttpRequestHead g = upload(10);
  g.method = HttpMethod::kGet;
  EXPECT_FALSE(is_update_upload(g));
}

TEST(HttpRequestTableTest, MultipartDetectionIsCaseInsensitive) {
  EXPECT_TRUE(is_multipart("multipart/form-data; boundary=x"));
  EXPECT_TRUE(is_multipart("Multipart/Form-Data; boundary=x"));
  EXPECT_FALSE(is_multipart("multipart"));
  EXPECT_FALSE(is_multipart("application/octet-stream"));
  EXPECT_FALSE(is_multipart(""));
}

// ---- admission -----------------------------------------------------------------------------------

TEST(HttpRequestTableTest, SlotsFullIsRefusedAndCounted) {
  Node n;
  for (int i = 0; i < SPORE_ESP_MAX_HTTP_REQUESTS; ++i) EXPECT_TRUE(n.admit(req(i), get("/x"), kPlentyHeap));
  EXPECT_EQ(n.table.active_requests(), static_cast<size_t>(SPORE_ESP_MAX_HTTP_REQUESTS));
  EXPECT_FALSE(n.admit(req(7), get("/x"), kPlentyHeap));
  EXPECT_FALSE(n.table.contains(req(7)));
  EXPECT_EQ(n.table.overload_count(), 1u);
  // Answering one frees its slot for the next request.
  EXPECT_EQ(n.respond(req(0), get("/api/node/status")).status, 200);
  EXPECT_TRUE(n.admit(req(7), get("/x"), kPlentyHeap));
  EXPECT_EQ(n.table.overload_count(), 1u);
}

// The dashboard (GET /) is answered from flash by the adapter, not as JSON: respond_asset() hands
// it out and frees the slot; every other request keeps its slot for respond().
TEST(HttpRequestTableTest, DashboardIsAnAssetAndFreesItsSlot) {
  Node n;
  static const uint8_t kPage[] = {0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 2, 0xFF, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  ASSERT_TRUE(n.api.set_dashboard(kPage, sizeof kPage));
  ASSERT_TRUE(n.admit(req(0), get("/"), kPlentyHeap));
  const HttpAsset* asset = n.table.respond_asset(req(0), get("/"));
  ASSERT_NE(asset, nullptr);
  EXPECT_EQ(asset->data, kPage);
  EXPECT_EQ(asset->size_bytes, sizeof kPage);
  EXPECT_STREQ(asset->content_encoding, "gzip");
  EXPECT_EQ(n.table.active_requests(), 0u);
  EXPECT_FALSE(n.table.contains(req(0)));

  // A JSON route keeps its slot and is answered by respond().
  ASSERT_TRUE(n.admit(req(1), get("/api/node/status"), kPlentyHeap));
  EXPECT_EQ(n.table.respond_asset(req(1), get("/api/node/status")), nullptr);
  EXPECT_TRUE(n.table.contains(req(1)));
  EXPECT_EQ(n.respond(req(1), get("/api/node/status")).status, 200);

  // Not admitted: nothing to hand out.
  EXPECT_EQ(n.table.respond_asset(req(2), get("/")), nullptr);
  // POST / is not the asset: respond() says 405.
  ASSERT_TRUE(n.admit(req(3), post("/", 0), kPlentyHeap));
  EXPECT_EQ(n.table.respond_asset(req(3), post("/", 0)), nullptr);
  const Reply r = n.respond(req(3), post("/", 0));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.allow, "GET");
}

TEST(HttpRequestTableTest, LowHeapIsRefused) {
  Node n;
  const uint32_t min = n.table.options().min_free_heap_bytes;
  EXPECT_FALSE(n.admit(req(0), get("/x"), min - 1));
  EXPECT_EQ(n.table.overload_count(), 1u);
  EXPECT_EQ(n.table.active_requests(), 0u);
  EXPECT_TRUE(n.admit(req(0), get("/x"), min));
  HttpRequestTable::Options o;
  o.min_free_heap_bytes = 20000;
  n.table.set_options(o);
  EXPECT_FALSE(n.admit(req(1), get("/x"), 19999));
  EXPECT_EQ(n.table.overload_count(), 2u);
}

TEST(HttpRequestTableTest, AdmittingTheSameHandleTwiceTakesOneSlot) {
  Node n;
  EXPECT_TRUE(n.admit(req(0), get("/x"), kPlentyHeap));
  EXPECT_TRUE(n.admit(req(0), get("/x"), kPlentyHeap));
  EXPECT_EQ(n.table.active_requests(), 1u);
}

// ---- plain requests ------------------------------------------------------------------------------

TEST(HttpRequestTableTest, PlainRequestIsServedByRestApi) {
  Node n;
  const HttpRequestHead h = get("/api/node/status");
  ASSERT_TRUE(n.admit(req(0), h, kPlentyHeap));
  const Reply r = n.respond(req(0), h);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body["hostname"], "esp_abcdef");
  EXPECT_FALSE(r.close);
  EXPECT_EQ(n.table.active_requests(), 0u);
  // 405 carries RestApi's Allow header through.
  const HttpRequestHead d = post("/api/node/status", 0);
  ASSERT_TRUE(n.admit(req(1), d, kPlentyHeap));
  const Reply r405 = n.respond(req(1), d);
  EXPECT_EQ(r405.status, 405);
  EXPECT_EQ(r405.allow, "GET");
}

TEST(HttpRequestTableTest, BodyUpToTheBufferIsKeptBeyondIs413) {
  Node n;
  // Exactly the buffer, in pieces: reaches RestApi (the restart route ignores the body).
  const HttpRequestHead h = post("/api/node/restart", SPORE_ESP_MAX_BODY_BYTES, "application/json");
  ASSERT_TRUE(n.admit(req(0), h, kPlentyHeap));
  n.feed(req(0), Bytes(SPORE_ESP_MAX_BODY_BYTES, 'a'), 100);
  EXPECT_EQ(n.respond(req(0), h).status, 202);

  // One byte more declared: 413 at admission, before any body byte, without a slot.
  Node m;
  EXPECT_FALSE(m.admit(req(0), post("/api/node/restart", SPORE_ESP_MAX_BODY_BYTES + 1, "application/json")));
  EXPECT_EQ(m.refusal.status, 413);
  EXPECT_EQ(m.refusal.body["code"], "payload_too_large");
  EXPECT_EQ(m.table.active_requests(), 0u);
  EXPECT_FALSE(m.table.restart_scheduled());
}

TEST(HttpRequestTableTest, HugeDeclaredPlainBodiesAre413AtAdmissionAndHoldNoSlot) {
  // Review finding 2 (ReviewProbe.HugeDeclaredPlainBodyIsAdmittedAndHoldsASlot): three such
  // requests used to take every slot until their (endless) bodies ended. "-1" reaches admission
  // as SIZE_MAX through the library's atoi().
  Node n;
  for (int i = 0; i < SPORE_ESP_MAX_HTTP_REQUESTS; ++i) {
    const size_t declared = i == 0 ? static_cast<size_t>(-1) : 999999999u;
    EXPECT_FALSE(n.admit(req(i), post("/api/cluster/events", declared, "application/json")));
    EXPECT_EQ(n.refusal.status, 413);
  }
  EXPECT_EQ(n.table.active_requests(), 0u);
  EXPECT_TRUE(n.admit(req(6), get("/api/node/status")));
  EXPECT_EQ(n.respond(req(6), get("/api/node/status")).status, 200);
  // An update upload is exempt: OtaUploadHandler judges its length against the flash.
  EXPECT_TRUE(n.admit(req(7), upload(3000)));
  EXPECT_TRUE(n.table.is_upload(req(7)));
  EXPECT_FALSE(n.table.is_upload(req(6)));
}

TEST(HttpRequestTableTest, AChunkedBodyOutgrowingTheBufferIsFlaggedOnceFor413AtOnce) {
  Node n;
  const HttpRequestHead h = post("/api/cluster/events", 0, "application/json");  // chunked: no length
  ASSERT_TRUE(n.admit(req(0), h));
  char none[8];
  BufferJsonOutput empty(none, sizeof none);
  EXPECT_EQ(n.table.refuse_too_large(req(0), empty), 0);  // not flagged: nothing to refuse
  const Bytes chunk(SPORE_ESP_MAX_BODY_BYTES / 2 + 1, 'a');
  EXPECT_FALSE(n.table.on_body(req(0), chunk.data(), chunk.size()));
  EXPECT_TRUE(n.table.on_body(req(0), chunk.data(), chunk.size()));   // now: answer it
  EXPECT_FALSE(n.table.on_body(req(0), chunk.data(), chunk.size()));  // once
  char buf[HttpRequestTable::kMinRefusalBytes];
  BufferJsonOutput out(buf, sizeof buf);
  EXPECT_EQ(n.table.refuse_too_large(req(0), out), 413);
  EXPECT_EQ(nlohmann::json::parse(out.c_str())["code"], "payload_too_large");
  EXPECT_EQ(n.table.active_requests(), 0u);  // the slot is free at once, not when the body ends
  EXPECT_FALSE(n.table.on_body(req(0), chunk.data(), chunk.size()));
  EXPECT_EQ(n.api.response_counts().count(413), 1u);
}

TEST(HttpRequestTableTest, UnansweredPlainRequestsExpireUploadsDoNot) {
  // Review finding 2: a body trickled a byte at a time (or a chunked one that never ends) kept its
  // slot for good; three of them locked out REST and the dashboard.
  Node n;
  const uint32_t limit = n.table.options().max_plain_request_ms;
  ASSERT_TRUE(n.admit(req(0), upload(3000)));
  for (int i = 1; i < SPORE_ESP_MAX_HTTP_REQUESTS; ++i) {
    ASSERT_TRUE(n.admit(req(i), post("/api/cluster/events", 100, "application/json")));
  }
  EXPECT_FALSE(n.admit(req(6), get("/api/node/status")));
  n.clock.advance(limit - 1);
  const uint8_t byte = '{';
  for (int i = 1; i < SPORE_ESP_MAX_HTTP_REQUESTS; ++i) n.table.on_body(req(i), &byte, 1);  // activity is no excuse
  EXPECT_EQ(n.table.take_expired(), nullptr);
  n.clock.advance(1);
  std::vector<const void*> expired;
  while (const void* r = n.table.take_expired()) expired.push_back(r);
  EXPECT_EQ(expired.size(), static_cast<size_t>(SPORE_ESP_MAX_HTTP_REQUESTS - 1));
  EXPECT_EQ(std::count(expired.begin(), expired.end(), req(0)), 0);  // the upload has OTA's stall timeout
  EXPECT_EQ(n.table.expired_count(), expired.size());
  EXPECT_TRUE(n.table.contains(req(0)));
  EXPECT_TRUE(n.admit(req(6), get("/api/node/status")));
  // The client's disconnect after the adapter closed it finds nothing to free.
  n.table.disconnected(req(1));
  EXPECT_TRUE(n.table.contains(req(6)));
}

TEST(HttpRequestTableTest, MultipartBodyOnAPlainRouteIs415AtAdmissionOr413) {
  Node n;
  EXPECT_FALSE(n.admit(req(0), post("/api/node/restart", 100, "multipart/form-data; boundary=b")));
  EXPECT_EQ(n.refusal.status, 415);
  // Should file parts reach a plain request anyway, it is refused, never served with them.
  const HttpRequestHead h = post("/api/node/restart", 100);
  ASSERT_TRUE(n.admit(req(0), h, kPlentyHeap));
  const uint8_t bytes[4] = {1, 2, 3, 4};
  n.table.on_upload(req(0), 0, bytes, sizeof bytes, true);
  EXPECT_EQ(n.respond(req(0), h).status, 413);
  EXPECT_FALSE(n.table.restart_scheduled());
}

TEST(HttpRequestTableTest, UpdateWithoutContentLengthIsAPlainRequest) {
  Node n;
  const HttpRequestHead h = upload(0);
  ASSERT_TRUE(n.admit(req(0), h, kPlentyHeap));
  EXPECT_FALSE(n.ota.busy());  // not streamed: RestApi's route gets the (empty) buffered body
  const Reply r = n.respond(req(0), h);
  EXPECT_GE(r.status, 400);
  n.flash.expect_untouched();
}

TEST(HttpRequestTableTest, UpdateWithoutOtaIsAPlainRequest) {
  Node n;
  n.table.set_ota(nullptr);
  // A plain request: its declared body is beyond the buffer, so 413 before any byte.
  EXPECT_FALSE(n.admit(req(0), upload(5000), kPlentyHeap));
  EXPECT_EQ(n.refusal.status, 413);
  EXPECT_FALSE(n.ota.busy());
  EXPECT_TRUE(n.flash.committed.empty());
}

// ---- uploads -------------------------------------------------------------------------------------

TEST(HttpRequestTableTest, RawUploadStreamsIntoOtaAndDefersTheRestart) {
  Node n;
  const Bytes image = testing::make_image(20000, 2);
  const HttpRequestHead h = upload(image.size());
  ASSERT_TRUE(n.admit(req(0), h, kPlentyHeap));
  EXPECT_TRUE(n.ota.busy());
  EXPECT_EQ(n.flash.max_image_arg, image.size());  // Content-Length reached core
  n.feed(req(0), image);
  const Reply r = n.respond(req(0), h);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["status"], "updated");
  EXPECT_TRUE(r.close);
  EXPECT_EQ(n.flash.committed, image);
  EXPECT_EQ(n.table.active_requests(), 0u);
  ASSERT_TRUE(n.table.restart_scheduled());
  EXPECT_FALSE(n.table.poll());  // until the answer's connection closes
  n.table.disconnected(req(0));
  EXPECT_TRUE(n.table.poll());
  EXPECT_TRUE(n.table.poll());  // stays due
}

TEST(HttpRequestTableTest, MultipartUploadStreamsTheFirstFilePartOnly) {
  Node n;
  const Bytes image = testing::make_image(9000, 3);
  const Bytes other = testing::make_image(500, 4);
  const HttpRequestHead h = upload(image.size() + 400, "Multipart/Form-Data; boundary=xyz");
  ASSERT_TRUE(n.admit(req(0), h, kPlentyHeap));
  EXPECT_TRUE(n.ota.busy());
  EXPECT_EQ(n.flash.max_image_arg, 0u);  // started as octet-stream of unknown length
  for (size_t off = 0; off < image.size(); off += 1000) {
    const size_t len = std::min<size_t>(1000, image.size() - off);
    n.table.on_upload(req(0), off, image.data() + off, len, false);
  }
  n.table.on_upload(req(0), image.size(), nullptr, 0, true);  // the part's end, as the library reports it
  n.table.on_upload(req(0), 0, other.data(), other.size(), true);  // a second file part: ignored
  const Reply r = n.respond(req(0), h);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(n.flash.committed, image);
  EXPECT_TRUE(r.close);
}

TEST(HttpRequestTableTest, UploadRefusedAtStartIsAnsweredAtAdmissionWithoutASlot) {
  Node n;
  ASSERT_TRUE(n.api.set_api_token("s3cr3t"));
  const Bytes image = testing::make_image(3000);
  const HttpRequestHead h = upload(image.size(), "application/octet-stream", "Bearer wrong");
  EXPECT_FALSE(n.admit(req(0), h));  // before the body: the adapter sends this and closes
  EXPECT_EQ(n.refusal.status, 401);
  EXPECT_EQ(n.refusal.body["code"], "auth_invalid");
  EXPECT_FALSE(n.refusal.www_authenticate.empty());
  EXPECT_FALSE(n.ota.busy());
  EXPECT_FALSE(n.table.contains(req(0)));
  n.feed(req(0), image);  // whatever still arrives is nobody's
  EXPECT_EQ(n.flash.begin_calls, 0);
  EXPECT_FALSE(n.table.restart_scheduled());
  EXPECT_EQ(n.table.active_requests(), 0u);
  EXPECT_EQ(n.table.overload_count(), 0u);  // not an overload

  // With the token the same upload installs.
  const HttpRequestHead ok = upload(image.size(), "application/octet-stream", "Bearer s3cr3t");
  ASSERT_TRUE(n.admit(req(1), ok));
  n.feed(req(1), image);
  EXPECT_EQ(n.respond(req(1), ok).status, 200);
}

// The ESP8266 adapter writes an admission refusal into a stack buffer of kMinRefusalBytes. The
// longest is a 401 without valid credentials with the ESP8266's token location (361 bytes when
// this was written; the old 320 truncated it into invalid JSON).
TEST(HttpRequestTableTest, TheLongestUploadRefusalFitsTheAdmissionBuffer) {
  const std::string zeros(64, '0');
  const std::string proof = "Spore nonce=" + zeros.substr(0, 40) + ", sha256=" + zeros + ", proof=" + zeros;
  for (const bool bearer : {true, false}) {
    Node n;
    ASSERT_TRUE(n.api.set_api_token("s3cr3t"));
    n.api.set_bearer_allowed(bearer);
    n.api.set_token_location("its first boot's serial log (./ctl.sh monitor) or its api_token setting");
    for (const std::string& auth : {std::string(), std::string("Basic x"), std::string("Bearer wrong"),
                                   std::string("Spore nonce=1"), proof}) {
      EXPECT_FALSE(n.admit(req(0), upload(4000, "application/octet-stream", auth))) << auth;  // fits: no overflow
      EXPECT_EQ(n.refusal.status, 401) << auth;
    }
  }
}

TEST(HttpRequestTableTest, SecondConcurrentUploadIs409AtAdmissionAndTheFirstCompletes) {
  Node n;
  const Bytes image = testing::make_image(4000, 6);
  const HttpRequestHead h = upload(image.size());
  ASSERT_TRUE(n.admit(req(0), h));
  EXPECT_FALSE(n.admit(req(1), h));
  EXPECT_EQ(n.refusal.status, 409);
  EXPECT_EQ(n.refusal.body["code"], "busy");
  n.feed(req(1), image);  // ignored: never admitted
  n.feed(req(0), image);
  EXPECT_EQ(n.respond(req(0), h).status, 200);
  EXPECT_EQ(n.flash.committed, image);
}

// ---- admission bounds (issue 16 items 1 and 8) ---------------------------------------------------

TEST(HttpRequestTableTest, LongTargetsAndManyQueryParametersAre414) {
  Node n;
  HttpRequestHead h = get("/api/node/status");
  h.target_bytes = SPORE_ESP_MAX_TARGET_BYTES - 1;
  h.query_params = SPORE_ESP_MAX_QUERY_PARAMS;
  ASSERT_TRUE(n.admit(req(0), h));
  h.target_bytes = SPORE_ESP_MAX_TARGET_BYTES;
  EXPECT_FALSE(n.admit(req(1), h));
  EXPECT_EQ(n.refusal.status, 414);
  EXPECT_EQ(n.refusal.body["code"], "uri_too_long");
  h.target_bytes = 20;
  h.query_params = SPORE_ESP_MAX_QUERY_PARAMS + 1;  // "?a&a&a&a&a": 48 B of heap each in the library
  EXPECT_FALSE(n.admit(req(1), h));
  EXPECT_EQ(n.refusal.status, 414);
  EXPECT_EQ(n.table.active_requests(), 1u);
}

TEST(HttpRequestTableTest, TooManyHeaderLinesAre431) {
  Node n;
  HttpRequestHead h = get("/api/node/status");
  HttpHeadFields fields;
  for (int i = 0; i < SPORE_ESP_MAX_HEADERS; ++i) fields.add("X-Line", "v");
  h.fields = &fields;
  ASSERT_TRUE(n.admit(req(0), h));
  fields.add("X-Line", "v");
  EXPECT_FALSE(n.admit(req(1), h));
  EXPECT_EQ(n.refusal.status, 431);
  EXPECT_EQ(n.refusal.body["code"], "headers_too_large");
}

// Core's admission policy on the ESP8266 too (it was spored's alone): ESPAsyncWebServer takes
// the last Content-Length through atoi() and finds `chunked` anywhere in a Transfer-Encoding
// list, so an ambiguous framing would be read one way by it and another by a proxy in front.
TEST(HttpRequestTableTest, AmbiguousFramingAndBadHeaderNamesAre400BeforeAnySlot) {
  Node n;
  struct Case {
    std::vector<std::pair<const char*, const char*>> fields;
    const char* code;
  };
  for (const Case& k : {
           Case{{{"Content-Length", "2"}, {"Content-Length", "3"}}, "bad_framing"},
           Case{{{"Content-Length", "2"}, {"Transfer-Encoding", "chunked"}}, "bad_framing"},
           Case{{{"Transfer-Encoding", "gzip, chunked"}}, "bad_framing"},
           Case{{{"Content-Length", "-1"}}, "bad_framing"},
           Case{{{"Content-Length ", "2"}}, "bad_request"},
       }) {
    HttpHeadFields fields;
    for (const auto& f : k.fields) fields.add(f.first, f.second);
    HttpRequestHead h = post("/api/cluster/events", 2, "application/json");
    h.fields = &fields;
    EXPECT_FALSE(n.admit(req(0), h)) << k.fields[0].first << ": " << k.fields[0].second;
    EXPECT_EQ(n.refusal.status, 400);
    EXPECT_EQ(n.refusal.body["code"], k.code);
    EXPECT_TRUE(n.refusal.body["error"].is_string());
  }
  EXPECT_EQ(n.table.active_requests(), 0u);
  EXPECT_EQ(n.api.response_counts().count(400), 5u);
  HttpHeadFields plain;
  plain.add("Content-Length", "2");
  HttpRequestHead h = post("/api/cluster/events", 2, "application/json");
  h.fields = &plain;
  EXPECT_TRUE(n.admit(req(1), h));
}

TEST(HttpRequestTableTest, FormAndStrayMultipartBodiesAre415BeforeTheBody) {
  Node n;
  for (const char* type : {"application/x-www-form-urlencoded", "Application/X-WWW-Form-Urlencoded; charset=utf-8",
                           "text/plain", "text/plain;charset=UTF-8", " text/plain "}) {
    EXPECT_FALSE(n.admit(req(0), post("/api/cluster/events", 40, type))) << type;
    EXPECT_EQ(n.refusal.status, 415) << type;
    EXPECT_EQ(n.refusal.body["code"], "unsupported_media_type");
  }
  // Multipart only on the update upload; form types not even there.
  EXPECT_FALSE(n.admit(req(0), post("/api/cluster/events", 40, "multipart/form-data; boundary=x")));
  EXPECT_EQ(n.refusal.status, 415);
  EXPECT_FALSE(n.admit(req(0), upload(4000, "application/x-www-form-urlencoded")));
  EXPECT_EQ(n.refusal.status, 415);
  EXPECT_FALSE(n.ota.busy());
  // Without a body the type does not matter; JSON and octet-stream bodies are admitted.
  EXPECT_TRUE(n.admit(req(1), post("/api/node/restart", 0, "application/x-www-form-urlencoded")));
  EXPECT_TRUE(n.admit(req(2), post("/api/cluster/events", 40, "application/json")));
  EXPECT_EQ(n.table.active_requests(), 2u);
  EXPECT_EQ(n.table.overload_count(), 0u);
}

TEST(HttpRequestTableTest, AFragmentedHeapIsRefusedLikeALowOne) {
  Node n;
  const uint32_t block = n.table.options().min_free_block_bytes;
  EXPECT_FALSE(n.admit(req(0), get("/x"), HttpHeapState{kPlentyHeap, block - 1}));
  EXPECT_EQ(n.refusal.status, 503);
  EXPECT_EQ(n.refusal.body["code"], "overloaded");
  EXPECT_EQ(n.table.overload_count(), 1u);
  EXPECT_TRUE(n.admit(req(0), get("/x"), HttpHeapState{kPlentyHeap, block}));
}

TEST(HttpRequestTableTest, MultipartUploadDetection) {
  EXPECT_TRUE(is_multipart_upload(upload(10, "multipart/form-data; boundary=b")));
  EXPECT_FALSE(is_multipart_upload(upload(10)));
  EXPECT_FALSE(is_multipart_upload(upload(0, "multipart/form-data; boundary=b")));
  EXPECT_FALSE(is_multipart_upload(post("/api/cluster/events", 10, "multipart/form-data; boundary=b")));
}

TEST(HttpRequestTableTest, DisconnectMidUploadAbortsIt) {
  Node n;
  const Bytes image = testing::make_image(20000, 3);
  const HttpRequestHead h = upload(image.size());
  ASSERT_TRUE(n.admit(req(0), h, kPlentyHeap));
  n.feed(req(0), Bytes(image.begin(), image.begin() + 8000));
  EXPECT_EQ(n.flash.begin_calls, 1);
  n.table.disconnected(req(0));
  EXPECT_FALSE(n.ota.busy());
  EXPECT_EQ(n.ota.last_error(), OtaError::kAborted);
  n.flash.expect_untouched();
  EXPECT_EQ(n.table.active_requests(), 0u);
  EXPECT_EQ(n.table.overload_count(), 0u);
  // Late callbacks for the gone request change nothing.
  n.table.on_body(req(0), image.data(), 100);
  n.table.disconnected(req(0));
  EXPECT_EQ(n.respond(req(0), h).status, 503);
  // The next upload gets the OTA slot.
  n.flash.reset_counters();
  ASSERT_TRUE(n.admit(req(1), h, kPlentyHeap));
  n.feed(req(1), image);
  EXPECT_EQ(n.respond(req(1), h).status, 200);
  EXPECT_EQ(n.flash.committed, image);
}

TEST(HttpRequestTableTest, DisconnectAfterTheAnswerDoesNothing) {
  Node n;
  const Bytes image = testing::make_image(2000, 3);
  const HttpRequestHead h = upload(image.size());
  ASSERT_TRUE(n.admit(req(0), h, kPlentyHeap));
  n.feed(req(0), image);
  EXPECT_EQ(n.respond(req(0), h).status, 200);
  n.table.disconnected(req(0));
  EXPECT_EQ(n.flash.committed, image);
  EXPECT_EQ(n.flash.abort_calls, 0);
}

TEST(HttpRequestTableTest, FailAbortsAnUploadAndCountsTheOverload) {
  Node n;
  const Bytes image = testing::make_image(6000, 9);
  const HttpRequestHead h = upload(image.size());
  ASSERT_TRUE(n.admit(req(0), h, kPlentyHeap));
  n.feed(req(0), image);
  n.table.fail(req(0));  // no memory for the response: the adapter resets the connection
  EXPECT_EQ(n.table.overload_count(), 1u);
  EXPECT_EQ(n.api.response_counts().count(503), 0u);  // no answer went out
  EXPECT_FALSE(n.ota.busy());
  EXPECT_EQ(n.ota.last_error(), OtaError::kAborted);
  n.flash.expect_untouched();
  EXPECT_FALSE(n.table.restart_scheduled());
  EXPECT_EQ(n.table.active_requests(), 0u);
  n.table.fail(req(5));  // a handle never admitted: counted only
  EXPECT_EQ(n.table.overload_count(), 2u);
}

TEST(HttpRequestTableTest, StalledUploadIsEndedByPollAndAnswered408) {
  Node n;
  const Bytes image = testing::make_image(6000, 5);
  const HttpRequestHead h = upload(image.size());
  ASSERT_TRUE(n.admit(req(0), h, kPlentyHeap));
  n.feed(req(0), Bytes(image.begin(), image.begin() + 1000));
  n.clock.advance(30000);
  EXPECT_FALSE(n.table.poll());
  EXPECT_FALSE(n.ota.busy());
  EXPECT_EQ(n.ota.last_error(), OtaError::kStalled);
  n.feed(req(0), Bytes(image.begin() + 1000, image.end()));  // wakes up: ignored
  const Reply r = n.respond(req(0), h);
  EXPECT_EQ(r.status, 408);
  EXPECT_EQ(r.body["code"], "stalled");
  n.flash.expect_untouched();
}

// ---- restart -------------------------------------------------------------------------------------

TEST(HttpRequestTableTest, RestartWaitsForTheAnswersConnectionToClose) {
  Node n;
  const HttpRequestHead h = post("/api/node/restart", 0);
  ASSERT_TRUE(n.admit(req(0), h));
  EXPECT_FALSE(n.table.poll());
  const Reply r = n.respond(req(0), h);
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body["status"], "restarting");
  EXPECT_TRUE(r.close);
  EXPECT_TRUE(n.table.restart_scheduled());
  n.clock.advance(1000);  // past the old fixed 500 ms: the answer may still be unacknowledged
  EXPECT_FALSE(n.table.poll());
  n.table.disconnected(req(1));  // another connection closing changes nothing
  EXPECT_FALSE(n.table.poll());
  n.table.request_restart();  // a second request keeps the first
  n.table.disconnected(req(0));  // the answer was delivered: restart now
  EXPECT_TRUE(n.table.poll());
  EXPECT_TRUE(n.table.poll());
}

TEST(HttpRequestTableTest, RestartIsCappedWhenTheConnectionNeverCloses) {
  Node n;
  const HttpRequestHead h = post("/api/node/restart", 0);
  ASSERT_TRUE(n.admit(req(0), h));
  EXPECT_EQ(n.respond(req(0), h).status, 202);
  n.clock.advance(n.table.options().restart_max_wait_ms - 1);
  EXPECT_FALSE(n.table.poll());
  n.clock.advance(1);
  EXPECT_TRUE(n.table.poll());
}

TEST(HttpRequestTableTest, InstalledUpdateRestartsWhenItsConnectionCloses) {
  Node n;
  const Bytes image = testing::make_image(2000, 3);
  const HttpRequestHead h = upload(image.size());
  ASSERT_TRUE(n.admit(req(0), h));
  n.feed(req(0), image);
  EXPECT_EQ(n.respond(req(0), h).status, 200);
  EXPECT_FALSE(n.table.poll());
  n.table.disconnected(req(0));
  EXPECT_TRUE(n.table.poll());
}

TEST(HttpRequestTableTest, RestartWithoutAConnectionKeepsTheShortDelay) {
  Node n;
  n.table.request_restart();  // MQTT or safe mode: no answer to wait for
  n.clock.advance(n.table.options().restart_delay_ms - 1);
  EXPECT_FALSE(n.table.poll());
  n.clock.advance(1);
  EXPECT_TRUE(n.table.poll());
}

TEST(HttpRequestTableTest, BootModeAfterASerialFlashBlocksRestart) {
  EXPECT_TRUE(restart_blocked_by_boot_mode(1));     // "boot mode:(1,7)": UART download
  EXPECT_FALSE(restart_blocked_by_boot_mode(3));    // flash boot
  EXPECT_TRUE(restart_blocked_by_boot_mode(0x11));  // only the low four bits count
  Node n;
  ASSERT_TRUE(n.api.set_api_token("s3cr3t"));
  n.table.set_restart_blocked(true);
  // Authentication first: a stranger learns nothing.
  const HttpRequestHead anon = post("/api/node/restart", 0);
  ASSERT_TRUE(n.admit(req(0), anon));
  EXPECT_EQ(n.respond(req(0), anon).status, 401);
  const HttpRequestHead h = post("/api/node/restart", 0, "", "Bearer s3cr3t");
  ASSERT_TRUE(n.admit(req(0), h));
  const Reply r = n.respond(req(0), h);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body["code"], "restart_unavailable");
  EXPECT_FALSE(r.close);
  n.table.request_restart();  // MQTT, safe mode: ignored too
  n.clock.advance(100000);
  EXPECT_FALSE(n.table.restart_scheduled());
  EXPECT_FALSE(n.table.poll());
  EXPECT_EQ(n.api.response_counts().count(409), 1u);
}

TEST(HttpRequestTableTest, RestartDelayAcrossTheClockWrap) {
  Node n(0xFFFFFF00u);
  HttpRequestTable::Options o;
  o.restart_delay_ms = 1000;
  n.table.set_options(o);
  n.table.request_restart();
  n.clock.advance(0x100);  // now 0
  EXPECT_FALSE(n.table.poll());
  n.clock.advance(999 - 0x100);
  EXPECT_FALSE(n.table.poll());
  n.clock.advance(1);
  EXPECT_TRUE(n.table.poll());
}

TEST(HttpRequestTableTest, NoRestartWithoutARequest) {
  Node n;
  n.clock.advance(100000);
  EXPECT_FALSE(n.table.poll());
  EXPECT_FALSE(n.table.restart_scheduled());
}

}  // namespace
}  // namespace spore

namespace spore {
namespace {

// GET /metrics counts every answer the ESP8266 adapter sends exactly once, whichever path it
// takes: RestApi::handle() (plain requests), the dashboard asset, 413, upload answers (refused at
// start and finished), 503 refusals. The adapter itself counts nothing.
TEST(HttpRequestTableTest, EveryAnswerIsCountedOnceByStatus) {
  Node n;
  const HttpStatusCounts& c = n.api.response_counts();
  static const uint8_t kPage[] = {0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 2, 0xFF, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  ASSERT_TRUE(n.api.set_dashboard(kPage, sizeof kPage));
  ASSERT_TRUE(n.admit(req(0), get("/"), kPlentyHeap));
  ASSERT_NE(n.table.respond_asset(req(0), get("/")), nullptr);
  ASSERT_TRUE(n.admit(req(0), get("/api/node/status"), kPlentyHeap));
  EXPECT_EQ(n.table.respond_asset(req(0), get("/api/node/status")), nullptr);  // not an asset: not counted
  EXPECT_EQ(n.respond(req(0), get("/api/node/status")).status, 200);
  EXPECT_EQ(c.count(200), 2u);

  ASSERT_TRUE(n.admit(req(0), get("/nope"), kPlentyHeap));
  EXPECT_EQ(n.respond(req(0), get("/nope")).status, 404);
  EXPECT_FALSE(n.admit(req(0), post("/api/node/restart", 2000), kPlentyHeap));  // 413 at admission
  EXPECT_EQ(n.refusal.status, 413);
  EXPECT_EQ(c.count(404), 1u);
  EXPECT_EQ(c.count(413), 1u);

  ASSERT_TRUE(n.api.set_api_token("s3cr3t"));
  const Bytes image = testing::make_image(3000);
  const HttpRequestHead wrong = upload(image.size(), "application/octet-stream", "Bearer wrong");
  EXPECT_FALSE(n.admit(req(0), wrong, kPlentyHeap));  // answered at admission
  EXPECT_EQ(n.refusal.status, 401);
  EXPECT_EQ(c.count(401), 1u);
  EXPECT_FALSE(n.admit(req(0), post("/api/cluster/events", 10, "text/plain")));
  EXPECT_EQ(c.count(415), 1u);
  const HttpRequestHead ok = upload(image.size(), "application/octet-stream", "Bearer s3cr3t");
  ASSERT_TRUE(n.admit(req(0), ok, kPlentyHeap));
  n.feed(req(0), image);
  EXPECT_EQ(n.respond(req(0), ok).status, 200);
  EXPECT_EQ(c.count(200), 3u);

  EXPECT_FALSE(n.admit(req(1), get("/x"), 100));  // low heap: 503
  ASSERT_TRUE(n.admit(req(2), get("/x"), kPlentyHeap));
  n.table.fail(req(2));  // no memory for a response: reset, no answer, not counted as one
  EXPECT_EQ(c.count(503), 1u);
  EXPECT_EQ(n.table.overload_count(), 2u);
  n.table.disconnected(req(2));  // after the reset: nothing more
  EXPECT_EQ(c.count(503), 1u);
}

}  // namespace
}  // namespace spore
