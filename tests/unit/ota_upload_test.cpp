// OtaUploadHandler: POST /api/node/update as a platform adapter drives it (start, body chunks,
// finish), with a FakeFlashTarget behind the OtaSession. Every refused or failed upload must leave
// the target uncommitted (aborted if begun), the node not restarting and its status unchanged.

#include "spore/ota/ota_upload.h"

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fakes.h"
#include "ota_test_support.h"
#include "spore/base/hex.h"
#include "spore/node/node_context.h"

namespace spore {
namespace {

using testing::Bytes;
using testing::FakeFlashTarget;

struct Answer {
  int start_status = -1;  // 0 = streamed
  int status = 0;
  nlohmann::json body;
  std::string www_authenticate;
  size_t fed = 0;  // body bytes accepted before body() said stop
};

struct Node {
  Node() : ctx(cfg(), clock, rnd, sys, &log), api(ctx), session(flash), ota(ctx, api, session) {
    EXPECT_TRUE(ctx.begin({0x00ABCDEFu, 3, 0x7F000002u, "esp_abcdef"}));
    EXPECT_TRUE(api.begin());
    EXPECT_TRUE(ota.begin());
    uint8_t sha[32];
    for (int i = 0; i < 32; ++i) sha[i] = static_cast<uint8_t>(0xA0 + i);
    ctx.set_firmware("1.0.0", sha);
    for (auto topic : {topics::kOtaStarted, topics::kOtaFinished, topics::kOtaFailed}) {
      EXPECT_GE(ctx.on(topic, EventHandler::bind<Node, &Node::on_event>(this)), 0);
    }
  }
  static Config cfg() {
    Config c = Config::default_lan();
    c.start_jitter_max_ms = 0;
    c.ota_stall_timeout_ms = 30000;
    return c;
  }
  void on_event(const Event& e) {
    const OtaEvent* ev = e.get<OtaEvent>();
    ASSERT_NE(ev, nullptr);
    events.push_back(std::string(e.topic()) + ":" + ota_error_name(ev->error));
    last_event = *ev;
  }

  Answer post(const std::string& content_type, const Bytes& body, const std::vector<size_t>& plan,
              const std::string& auth = "", bool complete = true, size_t content_length = SIZE_MAX) {
    Answer a;
    char buf[1024];
    BufferJsonOutput out(buf, sizeof buf);
    HttpResponseHeaders headers;
    a.start_status = ota.start(content_type, content_length == SIZE_MAX ? body.size() : content_length, auth,
                               clock.now_ms(), out, &headers, target);
    if (headers.www_authenticate != nullptr) a.www_authenticate = headers.www_authenticate;
    if (a.start_status != 0) {
      a.status = a.start_status;
      EXPECT_FALSE(out.overflowed());
      a.body = nlohmann::json::parse(out.c_str());
      return a;
    }
    EXPECT_EQ(out.size(), 0u);
    const uint32_t id = ota.upload_id();
    EXPECT_NE(id, 0u);
    size_t off = 0;
    for (size_t n : plan) {
      clock.advance(1);
      if (!ota.body(body.data() + off, n, clock.now_ms(), id)) break;
      off += n;
    }
    a.fed = off;
    a.status = ota.finish(complete, clock.now_ms(), out, id);
    EXPECT_FALSE(out.overflowed());
    a.body = nlohmann::json::parse(out.c_str());
    return a;
  }
  Answer post(const std::string& content_type, const Bytes& body, const std::string& auth = "") {
    return post(content_type, body, testing::chunk_plan(body.size(), body.empty() ? 1 : 1460), auth);
  }

  nlohmann::json status_json() {
    char buf[4096];
    BufferJsonOutput out(buf, sizeof buf);
    JsonWriter w(out);
    ctx.write_status_json(w);
    return nlohmann::json::parse(out.c_str());
  }

  /// A refused or failed upload: nothing installed, no restart, the same firmware reported.
  void expect_unchanged() {
    flash.expect_untouched();
    EXPECT_FALSE(ota.restart_pending());
    EXPECT_FALSE(ota.busy());
    EXPECT_FALSE(session.busy());
    const auto st = status_json();
    EXPECT_EQ(st["firmwareVersion"], "1.0.0");
    EXPECT_EQ(st["imageSha256"], "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf");
  }

  testing::FakeClock clock;
  testing::FakeRandom rnd;
  testing::FakeSystemInfo sys;
  testing::CapturingLog log;
  NodeContext ctx;
  RestApi api;
  FakeFlashTarget flash;
  OtaSession session;
  OtaUploadHandler ota;
  std::vector<std::string> events;
  std::string target{OtaUploadHandler::kPath};  // the request target post() sends
  OtaEvent last_event;
};

const std::string kBoundary = "------------------------d74496d66958873e";
const std::string kMultipart = "multipart/form-data; boundary=" + kBoundary;

Bytes multipart_body(const Bytes& image, const std::string& name = "firmware") {
  std::string head = "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"" + name +
                     "\"; filename=\"spore.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n";
  std::string tail = "\r\n--" + kBoundary + "--\r\n";
  Bytes b(head.begin(), head.end());
  b.insert(b.end(), image.begin(), image.end());
  b.insert(b.end(), tail.begin(), tail.end());
  return b;
}

std::string hex(const Bytes& b) {
  std::string s;
  char x[3];
  for (uint8_t v : b) {
    std::snprintf(x, sizeof x, "%02x", v);
    s += x;
  }
  return s;
}

// ---- success -------------------------------------------------------------------------------------

TEST(OtaUploadTest, RouteIsInTheApiList) {
  Node n;
  const auto st = n.status_json();
  bool found = false;
  for (const auto& e : st["api"]) found |= e["uri"] == "/api/node/update" && e["method"] == "POST";
  EXPECT_TRUE(found) << st["api"].dump();
}

TEST(OtaUploadTest, RawUpload) {
  Node n;
  const Bytes image = testing::make_image(50000, 2);
  const Answer a = n.post("application/octet-stream", image);
  ASSERT_EQ(a.status, 200) << a.body.dump();
  EXPECT_EQ(a.body["status"], "updated");
  EXPECT_EQ(a.body["size"], image.size());
  EXPECT_EQ(a.body["sha256"], hex(testing::sha256_of(image)));
  EXPECT_EQ(a.body["signed"], false);
  EXPECT_EQ(a.body["restart"], "the node restarts now with the new image");
  EXPECT_EQ(n.flash.committed, image);
  EXPECT_EQ(n.flash.max_image_arg, image.size());
  EXPECT_TRUE(n.ota.restart_pending());
  EXPECT_FALSE(n.ota.busy());
  EXPECT_EQ(n.events, (std::vector<std::string>{"ota_started:ok", "ota_finished:ok"}));
  EXPECT_EQ(n.last_event.size_bytes, image.size());
  EXPECT_EQ(Bytes(n.last_event.sha256, n.last_event.sha256 + 32), testing::sha256_of(image));
  EXPECT_EQ(n.ota.last_error(), OtaError::kOk);
}

TEST(OtaUploadTest, RawWithoutContentTypeOrWithParameters) {
  for (const std::string& ct : {std::string(""), std::string("Application/Octet-Stream; foo=bar")}) {
    Node n;
    const Bytes image = testing::make_image(3000, 2);
    EXPECT_EQ(n.post(ct, image).status, 200);
  }
}

TEST(OtaUploadTest, MultipartUploadInEveryChunking) {
  const Bytes image = testing::make_image(30000, 4);
  const Bytes body = multipart_body(image);
  for (const auto& [name, plan] : testing::all_plans(body.size())) {
    SCOPED_TRACE(name);
    Node n;
    const Answer a = n.post(kMultipart, body, plan);
    ASSERT_EQ(a.status, 200) << a.body.dump();
    EXPECT_EQ(a.body["size"], image.size());
    EXPECT_EQ(a.body["sha256"], hex(testing::sha256_of(image)));
    EXPECT_EQ(n.flash.committed, image);
    EXPECT_EQ(n.flash.max_image_arg, 0u);  // multipart: image size unknown up front
    EXPECT_TRUE(n.ota.restart_pending());
    EXPECT_TRUE(n.last_event.multipart);
  }
}

TEST(OtaUploadTest, SignedMultipartWithKey) {
  Node n;
  ASSERT_TRUE(testing::key_a().install(n.session));
  const Bytes image = testing::make_image(20000, 6);
  const Answer a = n.post(kMultipart, multipart_body(testing::signed_image(image, testing::key_a())));
  ASSERT_EQ(a.status, 200) << a.body.dump();
  EXPECT_EQ(a.body["signed"], true);
  EXPECT_EQ(a.body["size"], image.size());
  EXPECT_EQ(n.flash.committed, image);
  EXPECT_TRUE(n.last_event.signature_verified);
}

TEST(OtaUploadTest, WholeBodyThroughRestApiHandle) {
  Node n;
  ASSERT_TRUE(n.api.set_api_token("tok"));
  const Bytes image = testing::make_image(2000, 8);
  const Bytes body = multipart_body(image);
  char buf[1024];
  BufferJsonOutput out(buf, sizeof buf);
  HttpRequest req;
  req.method = HttpMethod::kPost;
  req.path = "/api/node/update";
  req.body = std::string_view(reinterpret_cast<const char*>(body.data()), body.size());
  req.content_type = kMultipart;
  HttpResponseHeaders headers;
  EXPECT_EQ(n.api.handle(req, out, &headers), 401);
  EXPECT_NE(headers.www_authenticate, nullptr);
  EXPECT_TRUE(n.flash.committed.empty());
  out.clear();
  req.authorization = "Bearer tok";
  ASSERT_EQ(n.api.handle(req, out, &headers), 200) << out.c_str();
  const auto j = nlohmann::json::parse(out.c_str());
  EXPECT_EQ(j["status"], "updated");
  EXPECT_EQ(n.flash.committed, image);
  EXPECT_TRUE(n.ota.restart_pending());
}

// ---- refused before the body -------------------------------------------------------------------

TEST(OtaUploadTest, TokenRequiredWhenConfigured) {
  Node n;
  ASSERT_TRUE(n.api.set_api_token("s3cr3t"));
  const Bytes image = testing::make_image(1000);
  struct Case {
    std::string auth;
    std::string code;
  };
  for (const Case& c : {Case{"", "auth_required"}, Case{"Bearer wrong", "auth_invalid"},
                        Case{"Basic czNjcjN0", "auth_scheme"}, Case{"Bearer s3cr3", "auth_invalid"}}) {
    SCOPED_TRACE(c.auth);
    const Answer a = n.post("application/octet-stream", image, c.auth);
    EXPECT_EQ(a.status, 401);
    EXPECT_EQ(a.body["code"], c.code);
    EXPECT_FALSE(a.www_authenticate.empty());
    EXPECT_EQ(a.body["authenticate"], a.www_authenticate);
    EXPECT_EQ(n.flash.begin_calls, 0);
    n.expect_unchanged();
  }
  EXPECT_TRUE(n.events.empty());  // unauthenticated requests fire nothing
  EXPECT_EQ(n.post("application/octet-stream", image, "Bearer s3cr3t").status, 200);
}

/// `Authorization: Spore ...` for an upload of `file` to `n`, with a nonce `n` issued.
std::string upload_proof(Node& n, const std::string& token, const Bytes& file,
                         std::string_view target = OtaUploadHandler::kPath) {
  uint8_t nonce[kAuthNonceBytes], proof[32];
  n.api.auth().issue_nonce(n.clock.now_ms(), nonce);
  const Bytes sha = testing::sha256_of(file);
  uint8_t digest[32];
  std::copy(sha.begin(), sha.end(), digest);
  compute_request_proof(token, HttpMethod::kPost, target, n.ctx.self().node_id, nonce, digest, proof);
  char nonce_hex[2 * kAuthNonceBytes + 1], proof_hex[65];
  hex_encode(nonce, sizeof nonce, nonce_hex);
  hex_encode(proof, sizeof proof, proof_hex);
  return std::string("Spore nonce=") + nonce_hex + ", sha256=" + hex(sha) + ", proof=" + proof_hex;
}

// The proof covers the image file, raw or as the multipart "firmware" part, and is checked when
// the upload ends, before anything is installed; it is good for one upload only.
TEST(OtaUploadTest, RequestProofCoversTheImageFile) {
  Node n;
  ASSERT_TRUE(n.api.set_api_token("s3cr3t"));
  const Bytes image = testing::make_image(30000, 4);
  const std::string proof = upload_proof(n, "s3cr3t", image);
  const Answer raw = n.post("application/octet-stream", image, proof);
  ASSERT_EQ(raw.status, 200) << raw.body.dump();
  EXPECT_EQ(n.flash.committed, image);

  Node m;
  ASSERT_TRUE(m.api.set_api_token("s3cr3t"));
  const Answer part = m.post(kMultipart, multipart_body(image), upload_proof(m, "s3cr3t", image));
  ASSERT_EQ(part.status, 200) << part.body.dump();
  EXPECT_EQ(m.flash.committed, image);
}

TEST(OtaUploadTest, AnImageTheProofWasNotMadeForIsRefusedAtTheEnd) {
  Node n;
  ASSERT_TRUE(n.api.set_api_token("s3cr3t"));
  const Bytes authorized = testing::make_image(20000, 5);
  Bytes other = authorized;
  other[12345] ^= 0x40;  // a relay swapped one byte of the image
  const Answer a = n.post("application/octet-stream", other, upload_proof(n, "s3cr3t", authorized));
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.body["code"], "digest_mismatch");
  n.expect_unchanged();
  // The header of an accepted upload, captured and replayed, is refused before any byte is read.
  const std::string captured = upload_proof(n, "s3cr3t", authorized);
  ASSERT_EQ(n.post("application/octet-stream", authorized, captured).status, 200);
  const size_t begins = n.flash.begin_calls;
  const Answer replay = n.post("application/octet-stream", authorized, captured);
  EXPECT_EQ(replay.status, 401);
  EXPECT_EQ(replay.body["code"], "auth_stale");
  EXPECT_EQ(n.flash.begin_calls, begins);
}

bool logged(const Node& n, const std::string& part) {
  for (const std::string& line : n.log.lines) {
    if (line.find(part) != std::string::npos) return true;
  }
  return false;
}

// Issue 18, finding 7: a signed image older than the running one is 422 downgrade with both
// versions; ?allow_downgrade=1 installs one the key holder marked (spore sign --allow-downgrade),
// and a request proof signs that query, so a proof made for the plain target cannot be replayed
// with it.
Bytes image_with_slot(const std::string& version) {
  Bytes image = testing::make_image(20000, 6);
  std::string slot = "SPORE-VERSION-SLOT:" + version;
  slot.resize(48, '\0');
  std::copy(slot.begin(), slot.end(), image.begin() + 1000);
  return image;
}

TEST(OtaUploadTest, AllowDowngradeIsAQueryParameterTheProofSigns) {
  const Bytes image = image_with_slot("0.9.0+downgrade");
  const Bytes body = testing::signed_image(image, testing::key_a());
  const std::string oct = "application/octet-stream";
  Node n;
  ASSERT_TRUE(n.api.set_api_token("s3cr3t"));
  ASSERT_TRUE(testing::key_a().install(n.session));
  n.session.set_running_version(n.ctx.firmware_version());  // "1.0.0", as the platforms do

  const Answer old = n.post(oct, body, "Bearer s3cr3t");
  EXPECT_EQ(old.status, 422);
  EXPECT_EQ(old.body["code"], "downgrade");
  EXPECT_EQ(old.body["imageVersion"], "0.9.0+downgrade");
  EXPECT_EQ(old.body["runningVersion"], "1.0.0");
  EXPECT_EQ(n.events.back(), "ota_failed:downgrade");
  n.expect_unchanged();
  EXPECT_TRUE(logged(n, "older than the running '1.0.0'"));

  const int begins = n.flash.begin_calls;
  for (const char* bad : {"/api/node/update?allow_downgrade=yes", "/api/node/update?allow_downgrade=",
                          "/api/node/update?allow_downgrade=11"}) {
    n.target = bad;
    const Answer a = n.post(oct, body, "Bearer s3cr3t");
    EXPECT_EQ(a.status, 400) << bad;
    EXPECT_EQ(a.body["code"], "bad_request") << bad;
  }
  EXPECT_EQ(n.flash.begin_calls, begins);  // refused before the session began
  n.target = "/api/node/update?allow_downgrade=0";
  EXPECT_EQ(n.post(oct, body, "Bearer s3cr3t").body["code"], "downgrade");

  // A proof for the plain target, sent with the query: 401, nothing read.
  n.target = "/api/node/update?allow_downgrade=1";
  const Answer replayed = n.post(oct, body, upload_proof(n, "s3cr3t", body));
  EXPECT_EQ(replayed.status, 401);
  EXPECT_EQ(replayed.body["code"], "auth_invalid");
  n.expect_unchanged();
  // Issue 18 (ota-fix): the proof covers the target up to '#'; a query hidden behind one is not
  // read: the target is refused (400) before the session begins.
  const int begins_before_fragments = n.flash.begin_calls;
  for (const char* hidden : {"/api/node/update#?allow_downgrade=1", "/api/node/update?allow_downgrade=1#x"}) {
    n.target = hidden;
    // Proofs valid for what canonical_target() makes of the target: the plain path, the query.
    const std::string signed_for = n.target.substr(0, n.target.find('#'));
    const Answer a = n.post(oct, body, upload_proof(n, "s3cr3t", body, signed_for));
    EXPECT_EQ(a.status, 400) << hidden;
    EXPECT_EQ(a.body["code"], "bad_request") << hidden;
  }
  EXPECT_EQ(n.flash.begin_calls, begins_before_fragments);
  n.expect_unchanged();
  // Signed for what it sends: installed.
  n.target = "/api/node/update?allow_downgrade=1";
  const Answer allowed = n.post(oct, body, upload_proof(n, "s3cr3t", body, n.target));
  ASSERT_EQ(allowed.status, 200) << allowed.body.dump();
  EXPECT_EQ(n.flash.committed, image);
  EXPECT_TRUE(logged(n, "downgrade allowed"));

  // Issue 18 (ota-fix): the same request with an image the key holder did not mark: 422.
  Node m;
  ASSERT_TRUE(m.api.set_api_token("s3cr3t"));
  ASSERT_TRUE(testing::key_a().install(m.session));
  m.session.set_running_version(m.ctx.firmware_version());
  m.target = "/api/node/update?allow_downgrade=1";
  const Bytes unmarked = testing::signed_image(image_with_slot("0.9.0"), testing::key_a());
  const Answer refused = m.post(oct, unmarked, upload_proof(m, "s3cr3t", unmarked, m.target));
  EXPECT_EQ(refused.status, 422);
  EXPECT_EQ(refused.body["code"], "downgrade");
  m.expect_unchanged();
}

TEST(OtaUploadTest, UnsupportedMediaType) {
  for (const std::string& ct : {std::string("application/x-www-form-urlencoded"), std::string("text/plain"),
                                std::string("multipart/mixed; boundary=x")}) {
    SCOPED_TRACE(ct);
    Node n;
    const Answer a = n.post(ct, testing::make_image(100));
    EXPECT_EQ(a.status, 415);
    EXPECT_EQ(a.body["code"], "unsupported_media_type");
    EXPECT_EQ(n.flash.begin_calls, 0);
    EXPECT_EQ(n.events, (std::vector<std::string>{"ota_failed:unsupported_media_type"}));
    n.expect_unchanged();
  }
}

TEST(OtaUploadTest, BadMultipartBoundaryIs400) {
  Node n;
  const Answer a = n.post("multipart/form-data; boundary=" + std::string(71, 'x'), testing::make_image(100));
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.body["code"], "bad_request");
  EXPECT_NE(a.body["error"].get<std::string>().find("70"), std::string::npos);
  n.expect_unchanged();
}

TEST(OtaUploadTest, ContentLengthBeyondCapacityIs413BeforeTheTargetIsTouched) {
  Node n;
  n.flash.capacity = 10000;
  Answer a = n.post("application/octet-stream", testing::make_image(10001));
  EXPECT_EQ(a.status, 413);
  EXPECT_EQ(a.body["code"], "too_large");
  EXPECT_EQ(a.body["maxBytes"], 10000);
  EXPECT_EQ(n.flash.begin_calls, 0);
  n.expect_unchanged();
  a = n.post(kMultipart, {}, {}, "", true, 10000 + OtaUploadHandler::kMultipartOverheadBytes + 1);
  EXPECT_EQ(a.status, 413);
  EXPECT_EQ(n.flash.begin_calls, 0);
  n.expect_unchanged();
}

TEST(OtaUploadTest, ActualSizeBeyondCapacityIs413) {
  Node n;
  n.flash.capacity = 10000;
  const Answer a = n.post(kMultipart, multipart_body(testing::make_image(12000)));
  EXPECT_EQ(a.status, 413);
  EXPECT_LE(n.flash.written.size(), 10000u);
  n.expect_unchanged();
}

TEST(OtaUploadTest, ConcurrentUploadIs409AndTheFirstCompletes) {
  Node n;
  const Bytes image = testing::make_image(5000, 9);
  char buf[512];
  BufferJsonOutput out(buf, sizeof buf);
  ASSERT_EQ(n.ota.start("application/octet-stream", image.size(), "", 0, out), 0);
  const uint32_t first = n.ota.upload_id();
  ASSERT_TRUE(n.ota.body(image.data(), 2000, 1, first));
  // A second client.
  const Answer second = n.post("application/octet-stream", testing::make_image(100));
  EXPECT_EQ(second.status, 409);
  EXPECT_EQ(second.body["code"], "busy");
  EXPECT_TRUE(n.ota.busy());
  ASSERT_TRUE(n.ota.body(image.data() + 2000, 3000, 2, first));
  out.clear();
  EXPECT_EQ(n.ota.finish(true, 3, out, first), 200) << out.c_str();
  EXPECT_EQ(n.flash.committed, image);
  // And while the restart is pending, no further upload.
  const Answer third = n.post("application/octet-stream", testing::make_image(100));
  EXPECT_EQ(third.status, 409);
  EXPECT_NE(third.body["error"].get<std::string>().find("restarting"), std::string::npos);
}

TEST(OtaUploadTest, BusyIsNotRevealedWithoutTheToken) {
  Node n;
  ASSERT_TRUE(n.api.set_api_token("t"));
  char buf[512];
  BufferJsonOutput out(buf, sizeof buf);
  ASSERT_EQ(n.ota.start("", 100, "Bearer t", 0, out), 0);
  EXPECT_EQ(n.post("", testing::make_image(10), "Bearer x").status, 401);
}

// ---- failed during or after the body -------------------------------------------------------------

struct BadUpload {
  const char* name;
  std::string content_type;
  Bytes body;
  size_t content_length;  // SIZE_MAX = body size
  bool keyed;
  int status;
  const char* code;
};

std::vector<BadUpload> bad_uploads() {
  const Bytes image = testing::make_image(8000, 12);
  Bytes elf = image;
  elf[0] = 0x7F;
  Bytes flipped = testing::signed_image(image, testing::key_a());
  flipped[100] ^= 1;
  const std::string oct = "application/octet-stream";
  auto text = [](const std::string& s) { return Bytes(s.begin(), s.end()); };
  const std::string b = "--" + kBoundary;
  return {
      {"empty raw", oct, {}, SIZE_MAX, false, 400, "empty"},
      {"empty multipart part", kMultipart, multipart_body({}), SIZE_MAX, false, 400, "empty"},
      {"truncated raw", oct, image, image.size() + 500, false, 400, "truncated"},
      {"wrong magic", oct, elf, SIZE_MAX, false, 422, "bad_magic"},
      {"wrong magic multipart", kMultipart, multipart_body(elf), SIZE_MAX, false, 422, "bad_magic"},
      {"unsigned with key", kMultipart, multipart_body(image), SIZE_MAX, true, 422, "unsigned"},
      {"bad signature", oct, flipped, SIZE_MAX, true, 422, "bad_signature"},
      {"another key", oct, testing::signed_image(image, testing::key_b()), SIZE_MAX, true, 422, "bad_signature"},
      {"no closing boundary", kMultipart,
       text(b + "\r\nContent-Disposition: form-data; name=\"firmware\"\r\n\r\n\xE9xx"), SIZE_MAX, false, 400,
       "bad_request"},
      {"missing firmware part", kMultipart, multipart_body(image, "file"), SIZE_MAX, false, 400, "bad_request"},
      {"oversized part headers", kMultipart,
       text(b + "\r\nX-Junk: " + std::string(2000, 'j') + "\r\n\r\n\xE9\r\n" + b + "--\r\n"), SIZE_MAX, false, 400,
       "bad_request"},
      {"garbage after boundary", kMultipart, text(b + "XYZ\r\n\r\n\r\n" + b + "--"), SIZE_MAX, false, 400,
       "bad_request"},
      {"no boundary in body", kMultipart, image, SIZE_MAX, false, 400, "bad_request"},
  };
}

TEST(OtaUploadTest, EveryBadUploadIsAClearErrorAndChangesNothing) {
  for (const BadUpload& c : bad_uploads()) {
    for (size_t chunk : {size_t{1}, size_t{64}, size_t{1460}, size_t{1000000}}) {
      SCOPED_TRACE(std::string(c.name) + " chunk " + std::to_string(chunk));
      Node n;
      if (c.keyed) {
        ASSERT_TRUE(testing::key_a().install(n.session));
      }
      const Answer a =
          n.post(c.content_type, c.body, testing::chunk_plan(c.body.size(), chunk), "", true, c.content_length);
      EXPECT_EQ(a.start_status, 0);
      EXPECT_EQ(a.status, c.status) << a.body.dump();
      EXPECT_EQ(a.body["code"], c.code) << a.body.dump();
      EXPECT_TRUE(a.body["error"].is_string());
      EXPECT_TRUE(a.body["received"].is_number());
      ASSERT_EQ(n.events.size(), 2u);
      EXPECT_EQ(n.events[0], "ota_started:ok");
      EXPECT_EQ(n.events[1], std::string("ota_failed:") + c.code);
      n.expect_unchanged();
      // The node takes the next (good) upload.
      n.flash.reset_counters();
      Bytes good = testing::make_image(3000, 1);
      if (c.keyed) good = testing::signed_image(good, testing::key_a());
      EXPECT_EQ(n.post("application/octet-stream", good).status, 200);
    }
  }
}

TEST(OtaUploadTest, MultipartErrorsSayWhatIsWrong) {
  Node n;
  const Answer a = n.post(kMultipart, multipart_body(testing::make_image(100), "file"));
  EXPECT_NE(a.body["error"].get<std::string>().find("firmware"), std::string::npos) << a.body.dump();
}

TEST(OtaUploadTest, ConnectionDroppedMidUpload) {
  Node n;
  const Bytes image = testing::make_image(20000, 3);
  std::vector<size_t> plan = testing::chunk_plan(10000, 1000);  // half the body, then the drop
  const Answer a = n.post("application/octet-stream", image, plan, "", /*complete=*/false);
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.body["code"], "aborted");
  EXPECT_EQ(a.body["received"], 10000);
  EXPECT_EQ(n.events.back(), "ota_failed:aborted");
  n.expect_unchanged();
  n.flash.reset_counters();
  EXPECT_EQ(n.post("application/octet-stream", image).status, 200);
}

TEST(OtaUploadTest, StallTimeoutAbortsAndFreesTheSlot) {
  Node n;
  const Bytes image = testing::make_image(6000, 5);
  char buf[512];
  BufferJsonOutput out(buf, sizeof buf);
  ASSERT_EQ(n.ota.start("application/octet-stream", image.size(), "", n.clock.now_ms(), out), 0);
  const uint32_t stale = n.ota.upload_id();
  ASSERT_TRUE(n.ota.body(image.data(), 1000, n.clock.now_ms(), stale));
  n.clock.advance(29999);
  n.ota.poll(n.clock.now_ms());
  EXPECT_TRUE(n.ota.busy());
  n.clock.advance(1);
  n.ota.poll(n.clock.now_ms());
  EXPECT_FALSE(n.ota.busy());
  EXPECT_EQ(n.ota.last_error(), OtaError::kStalled);
  EXPECT_EQ(n.events.back(), "ota_failed:stalled");
  n.expect_unchanged();

  // The stalled connection wakes up: its bytes are refused, even once a new upload runs.
  EXPECT_FALSE(n.ota.body(image.data() + 1000, 1000, n.clock.now_ms(), stale));
  n.flash.reset_counters();
  out.clear();
  ASSERT_EQ(n.ota.start("application/octet-stream", image.size(), "", n.clock.now_ms(), out), 0);
  const uint32_t fresh = n.ota.upload_id();
  EXPECT_NE(fresh, stale);
  EXPECT_FALSE(n.ota.body(image.data() + 1000, 1000, n.clock.now_ms(), stale));
  out.clear();
  EXPECT_EQ(n.ota.finish(true, n.clock.now_ms(), out, stale), 408);
  EXPECT_EQ(nlohmann::json::parse(out.c_str())["code"], "stalled");
  EXPECT_TRUE(n.ota.busy());  // the fresh upload is untouched
  ASSERT_TRUE(n.ota.body(image.data(), image.size(), n.clock.now_ms(), fresh));
  out.clear();
  EXPECT_EQ(n.ota.finish(true, n.clock.now_ms(), out, fresh), 200) << out.c_str();
  EXPECT_EQ(n.flash.committed, image);
}

TEST(OtaUploadTest, StalledUploadWithoutIdsGetsItsAnswer) {
  Node n;
  char buf[512];
  BufferJsonOutput out(buf, sizeof buf);
  ASSERT_EQ(n.ota.start("", 0, "", n.clock.now_ms(), out), 0);
  n.clock.advance(30000);
  n.ota.poll(n.clock.now_ms());
  EXPECT_FALSE(n.ota.body(reinterpret_cast<const uint8_t*>("x"), 1, n.clock.now_ms()));
  EXPECT_EQ(n.ota.finish(true, n.clock.now_ms(), out), 408);
  out.clear();
  EXPECT_EQ(n.ota.finish(true, n.clock.now_ms(), out), 400);  // only once
  EXPECT_EQ(nlohmann::json::parse(out.c_str())["code"], "bad_request");
}

TEST(OtaUploadTest, PollWithoutUploadAndFinishWithoutStart) {
  Node n;
  n.ota.poll(123456);
  EXPECT_TRUE(n.events.empty());
  char buf[512];
  BufferJsonOutput out(buf, sizeof buf);
  EXPECT_EQ(n.ota.finish(true, 0, out), 400);
  EXPECT_EQ(nlohmann::json::parse(out.c_str())["code"], "bad_request");
  EXPECT_FALSE(n.ota.body(reinterpret_cast<const uint8_t*>("x"), 1, 0));
}

TEST(OtaUploadTest, FlashBeginFailureIs500) {
  Node n;
  n.flash.fail_begin = true;
  const Answer a = n.post("application/octet-stream", testing::make_image(100));
  EXPECT_EQ(a.status, 500);
  EXPECT_EQ(a.body["code"], "flash_begin");
  n.expect_unchanged();
}

// ---- status fields -------------------------------------------------------------------------------

TEST(OtaUploadTest, StatusAndMembersShowTheFirmware) {
  Node n;
  const auto st = n.status_json();
  EXPECT_EQ(st["firmwareVersion"], "1.0.0");
  EXPECT_EQ(st["imageSha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(n.ctx.image_digest(), 0xA0A1A2A3u);
  char buf[4096];
  BufferJsonOutput out(buf, sizeof buf);
  JsonWriter w(out);
  n.ctx.write_members_json(w);
  const auto m = nlohmann::json::parse(out.c_str());
  EXPECT_EQ(m["members"][0]["imageDigest"], "a0a1a2a3");
  EXPECT_EQ(m["members"][0]["firmwareVersion"], "1.0.0");
}

}  // namespace
}  // namespace spore
