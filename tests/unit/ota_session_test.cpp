// OtaSession: the streamed update pipeline against a recording FlashTarget fake. Every failure
// case checks that the target was aborted and never committed (the running firmware stays).

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "ota_test_support.h"
#include "ota_test_vector.h"
#include "spore/ota/ota.h"

namespace spore {
namespace {

using testing::all_plans;
using testing::Bytes;
using testing::FakeFlashTarget;
using testing::key_a;
using testing::key_b;
using testing::make_image;
using testing::signed_image;
using testing::with_trailer;

struct UploadRun {
  OtaError begin = OtaError::kOk;
  OtaError write = OtaError::kOk;  // first write error
  OtaError finish = OtaError::kOk;
  OtaError final() const {
    if (begin != OtaError::kOk) return begin;
    if (write != OtaError::kOk) return write;
    return finish;
  }
};

/// begin(declared) + writes following `plan` + finish, stopping at the first error like a
/// platform would (finish is still called: it reports the same error).
UploadRun upload(OtaSession& s, const Bytes& body, const std::vector<size_t>& plan, size_t declared,
                 uint32_t now = 100) {
  UploadRun r;
  r.begin = s.begin(declared, now);
  if (r.begin != OtaError::kOk) return r;
  size_t off = 0;
  for (size_t n : plan) {
    r.write = s.write(body.data() + off, n, ++now);
    off += n;
    if (r.write != OtaError::kOk) break;
  }
  r.finish = s.finish(++now);
  return r;
}
UploadRun upload(OtaSession& s, const Bytes& body, size_t declared = 0) {
  return upload(s, body, testing::chunk_plan(body.size(), body.empty() ? 1 : 1024), declared);
}

// ---- reason codes ------------------------------------------------------------------------------

TEST(OtaErrorTest, NamesAreStableSnakeCaseAndUnique) {
  const char* expected[] = {"ok",          "busy",        "empty",        "too_large",
                            "bad_magic",   "truncated",   "unsigned",     "bad_signature",
                            "flash_begin", "flash_write", "flash_commit", "aborted",
                            "stalled",     "bad_request", "unauthorized", "unsupported_media_type",
                            "bad_image",   "self_test_failed", "digest_mismatch", "downgrade"};
  std::set<std::string> seen;
  for (size_t i = 0; i < sizeof expected / sizeof expected[0]; ++i) {
    const auto e = static_cast<OtaError>(i);
    EXPECT_STREQ(ota_error_name(e), expected[i]);
    EXPECT_TRUE(seen.insert(ota_error_name(e)).second);
    ASSERT_FALSE(ota_error_message(e).is_null());
    EXPECT_GT(ota_error_message(e).length(), 10u);
  }
  EXPECT_STREQ(ota_error_name(static_cast<OtaError>(200)), "unknown");
  EXPECT_EQ(ota_error_http_status(static_cast<OtaError>(200)), 500);
}

// The sentences live in one flash string list (ota.cpp); an entry out of order would give every
// later error its neighbour's sentence.
TEST(OtaErrorTest, MessagesMatchTheirErrors) {
  EXPECT_TRUE(ota_error_message(OtaError::kOk).equals("The image was installed."));
  EXPECT_TRUE(ota_error_message(OtaError::kTooLarge)
                  .equals("The image does not fit in the space this node has for an update."));
  EXPECT_TRUE(ota_error_message(OtaError::kBadRequest).equals("The upload is malformed."));
  EXPECT_TRUE(ota_error_message(OtaError::kUnsupportedMediaType)
                  .equals("Send the image as multipart/form-data (a part named \"firmware\") or "
                          "application/octet-stream."));
  EXPECT_TRUE(ota_error_message(static_cast<OtaError>(200)).equals("Unknown update error."));
}

TEST(OtaErrorTest, HttpStatusTable) {
  EXPECT_EQ(ota_error_http_status(OtaError::kOk), 200);
  EXPECT_EQ(ota_error_http_status(OtaError::kBusy), 409);
  EXPECT_EQ(ota_error_http_status(OtaError::kEmpty), 400);
  EXPECT_EQ(ota_error_http_status(OtaError::kTooLarge), 413);
  EXPECT_EQ(ota_error_http_status(OtaError::kBadMagic), 422);
  EXPECT_EQ(ota_error_http_status(OtaError::kTruncated), 400);
  EXPECT_EQ(ota_error_http_status(OtaError::kUnsigned), 422);
  EXPECT_EQ(ota_error_http_status(OtaError::kBadSignature), 422);
  EXPECT_EQ(ota_error_http_status(OtaError::kFlashBegin), 500);
  EXPECT_EQ(ota_error_http_status(OtaError::kFlashWrite), 500);
  EXPECT_EQ(ota_error_http_status(OtaError::kFlashCommit), 500);
  EXPECT_EQ(ota_error_http_status(OtaError::kAborted), 400);
  EXPECT_EQ(ota_error_http_status(OtaError::kStalled), 408);
  EXPECT_EQ(ota_error_http_status(OtaError::kBadRequest), 400);
  EXPECT_EQ(ota_error_http_status(OtaError::kUnauthorized), 401);
  EXPECT_EQ(ota_error_http_status(OtaError::kUnsupportedMediaType), 415);
  EXPECT_EQ(ota_error_http_status(OtaError::kBadImage), 422);
  EXPECT_EQ(ota_error_http_status(OtaError::kSelfTestFailed), 422);
  EXPECT_EQ(ota_error_http_status(OtaError::kDigestMismatch), 400);
  EXPECT_EQ(ota_error_http_status(OtaError::kDowngrade), 422);
}

TEST(OtaErrorTest, Sha256Hex) {
  uint8_t sha[32];
  for (int i = 0; i < 32; ++i) sha[i] = static_cast<uint8_t>(i * 8 + 1);
  char hex[65];
  ota_sha256_hex(sha, hex);
  EXPECT_EQ(std::string(hex), "0109111921293139414951596169717981899199a1a9b1b9c1c9d1d9e1e9f1f9");
}

// ---- good images -------------------------------------------------------------------------------

TEST(OtaSessionTest, UnsignedImageInEveryChunking) {
  const Bytes image = make_image(20000, 7);
  for (const auto& [name, plan] : all_plans(image.size())) {
    SCOPED_TRACE(name);
    FakeFlashTarget flash;
    OtaSession s(flash);
    const UploadRun r = upload(s, image, plan, image.size());
    ASSERT_EQ(r.final(), OtaError::kOk);
    EXPECT_EQ(flash.committed, image);
    EXPECT_EQ(flash.commit_calls, 1);
    EXPECT_EQ(flash.abort_calls, 0);
    EXPECT_EQ(flash.magic_head_size, OtaSession::kMagicBytes);
    EXPECT_EQ(flash.max_image_arg, image.size());
    EXPECT_EQ(s.result().error, OtaError::kOk);
    EXPECT_EQ(s.result().image_bytes, image.size());
    EXPECT_EQ(Bytes(s.result().sha256, s.result().sha256 + 32), testing::sha256_of(image));
    EXPECT_FALSE(s.result().signature_verified);
    EXPECT_FALSE(s.busy());
    EXPECT_EQ(s.received_bytes(), image.size());
  }
}

TEST(OtaSessionTest, UnknownSizeAndExactCapacity) {
  FakeFlashTarget flash;
  flash.capacity = 5000;
  OtaSession s(flash);
  const Bytes image = make_image(5000);
  ASSERT_EQ(upload(s, image, 0).final(), OtaError::kOk);
  EXPECT_EQ(flash.max_image_arg, 0u);  // size unknown
  EXPECT_EQ(flash.committed, image);
}

TEST(OtaSessionTest, TinyImagesGetTheirWholeHeadChecked) {
  for (size_t size : {size_t{1}, size_t{2}, size_t{15}, size_t{16}, size_t{17}}) {
    SCOPED_TRACE(size);
    FakeFlashTarget flash;
    OtaSession s(flash);
    const Bytes image = make_image(size);
    ASSERT_EQ(upload(s, image, testing::chunk_plan(size, 1), 0).final(), OtaError::kOk);
    EXPECT_EQ(flash.magic_head_size, std::min(size, OtaSession::kMagicBytes));
    EXPECT_EQ(flash.committed, image);
  }
}

TEST(OtaSessionTest, SignedImageWithKeyInEveryChunking) {
  const Bytes image = make_image(30000, 11);
  const Bytes body = signed_image(image, key_a());
  ASSERT_EQ(body.size(), image.size() + 256 + 4);
  for (const auto& [name, plan] : all_plans(body.size())) {
    SCOPED_TRACE(name);
    FakeFlashTarget flash;
    OtaSession s(flash);
    ASSERT_TRUE(key_a().install(s));
    ASSERT_TRUE(s.has_public_key());
    EXPECT_EQ(s.public_key_bytes(), 256u);
    const UploadRun r = upload(s, body, plan, body.size());
    ASSERT_EQ(r.final(), OtaError::kOk);
    EXPECT_EQ(flash.committed, image) << "the trailer must not be written";
    EXPECT_TRUE(s.result().signature_verified);
    EXPECT_EQ(s.result().image_bytes, image.size());
    EXPECT_EQ(Bytes(s.result().sha256, s.result().sha256 + 32), testing::sha256_of(image));
    EXPECT_EQ(s.received_bytes(), body.size());
  }
}

TEST(OtaSessionTest, SmallSignedImagesShorterThanTheHoldBack) {
  for (size_t size : {size_t{1}, size_t{16}, size_t{100}, size_t{255}, size_t{256}, size_t{257}, size_t{600}}) {
    SCOPED_TRACE(size);
    const Bytes image = make_image(size, static_cast<uint32_t>(size));
    const Bytes body = signed_image(image, key_a());
    for (size_t chunk : {size_t{1}, size_t{13}, body.size()}) {
      FakeFlashTarget flash;
      OtaSession s(flash);
      ASSERT_TRUE(key_a().install(s));
      ASSERT_EQ(upload(s, body, testing::chunk_plan(body.size(), chunk), 0).final(), OtaError::kOk);
      EXPECT_EQ(flash.committed, image);
      EXPECT_EQ(flash.magic_head_size, std::min(size, OtaSession::kMagicBytes));
    }
  }
}

TEST(OtaSessionTest, SignedImageWithoutKeyInstallsWholeBody) {
  // As the ESP8266 core does without a key: the body is the image, trailer included.
  const Bytes body = signed_image(make_image(4000), key_a());
  FakeFlashTarget flash;
  OtaSession s(flash);
  ASSERT_EQ(upload(s, body).final(), OtaError::kOk);
  EXPECT_EQ(flash.committed, body);
  EXPECT_FALSE(s.result().signature_verified);
}

TEST(OtaSessionTest, AConfiguredKeyThatDidNotLoadRefusesEveryImage) {
  // A build with a key whose PEM does not parse (review finding 5): no key, but not "anything
  // installs" either. Before require_public_key() this image went to flash.
  const Bytes body = signed_image(make_image(4000), key_a());
  FakeFlashTarget flash;
  OtaSession s(flash);
  s.require_public_key();
  EXPECT_FALSE(s.set_public_key_pem("-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n"));
  EXPECT_EQ(s.begin(body.size(), 0), OtaError::kUnsigned);
  EXPECT_FALSE(s.busy());
  EXPECT_NE(upload(s, body).final(), OtaError::kOk);
  EXPECT_TRUE(flash.committed.empty());
  // With the key loaded the same image installs, verified.
  ASSERT_TRUE(key_a().install(s));
  ASSERT_EQ(upload(s, body).final(), OtaError::kOk);
  EXPECT_TRUE(s.result().signature_verified);
}

TEST(OtaSessionTest, SignedImageAtExactCapacity) {
  FakeFlashTarget flash;
  flash.capacity = 3000;
  OtaSession s(flash);
  ASSERT_TRUE(key_a().install(s));
  const Bytes body = signed_image(make_image(3000), key_a());
  ASSERT_EQ(upload(s, body, body.size()).final(), OtaError::kOk);  // declared includes the trailer
  EXPECT_EQ(flash.committed.size(), 3000u);
}

TEST(OtaSessionTest, OpenSslSignedVectorVerifies) {
  namespace v = testing::vector;
  const Bytes image(v::kImage, v::kImage + sizeof v::kImage);
  const Bytes sig(v::kSignature, v::kSignature + sizeof v::kSignature);
  for (const char* pem : {v::kPublicKeyPem, v::kPublicKeyPkcs1Pem}) {
    FakeFlashTarget flash;
    OtaSession s(flash);
    ASSERT_TRUE(s.set_public_key_pem(pem));
    EXPECT_EQ(s.public_key_bytes(), 256u);
    ASSERT_EQ(upload(s, with_trailer(image, sig, 256)).final(), OtaError::kOk);
    char hex[65];
    ota_sha256_hex(s.result().sha256, hex);
    EXPECT_STREQ(hex, v::kImageSha256Hex);
    EXPECT_TRUE(s.result().signature_verified);
    // One flipped image bit and the same vector fails.
    Bytes bad = image;
    bad[40] ^= 0x04;
    FakeFlashTarget flash2;
    OtaSession s2(flash2);
    ASSERT_TRUE(s2.set_public_key_pem(pem));
    EXPECT_EQ(upload(s2, with_trailer(bad, sig, 256)).final(), OtaError::kBadSignature);
    flash2.expect_untouched();
  }
}

// The platform's RSA verifier (the ESP8266 runs BearSSL on the core's stack thunk): finish() calls
// it once, with the key and the trailer's signature, and its verdict decides.
struct RecordingVerifier {
  static inline int calls = 0;
  static inline size_t sig_len = 0;
  static inline size_t key_bytes = 0;
  static inline bool refuse = false;
  static uint32_t verify(const unsigned char* x, size_t xlen, const unsigned char* oid, size_t hash_len,
                         const br_rsa_public_key* pk, unsigned char* hash_out) {
    ++calls;
    sig_len = xlen;
    key_bytes = pk->nlen;
    if (refuse) return 0;
    return br_rsa_pkcs1_vrfy_get_default()(x, xlen, oid, hash_len, pk, hash_out);
  }
  static void reset() {
    calls = 0;
    sig_len = key_bytes = 0;
    refuse = false;
  }
};

TEST(OtaSessionTest, SignatureGoesThroughThePlatformsVerifier) {
  const Bytes image = make_image(5000, 3);
  const Bytes body = signed_image(image, key_a());
  for (bool refuse : {false, true}) {
    SCOPED_TRACE(refuse);
    RecordingVerifier::reset();
    RecordingVerifier::refuse = refuse;
    FakeFlashTarget flash;
    OtaSession s(flash);
    s.set_rsa_verifier(&RecordingVerifier::verify);
    ASSERT_TRUE(key_a().install(s));
    EXPECT_EQ(upload(s, body, body.size()).final(), refuse ? OtaError::kBadSignature : OtaError::kOk);
    EXPECT_EQ(RecordingVerifier::calls, 1);
    EXPECT_EQ(RecordingVerifier::sig_len, 256u);
    EXPECT_EQ(RecordingVerifier::key_bytes, 256u);
    if (refuse) {
      flash.expect_untouched();
    } else {
      EXPECT_EQ(flash.committed, image);
    }
  }
  // Unkeyed sessions and trailers that are not there never reach it.
  RecordingVerifier::reset();
  FakeFlashTarget flash;
  OtaSession s(flash);
  s.set_rsa_verifier(&RecordingVerifier::verify);
  ASSERT_EQ(upload(s, body).final(), OtaError::kOk);
  ASSERT_TRUE(key_a().install(s));
  EXPECT_EQ(upload(s, image).final(), OtaError::kUnsigned);
  EXPECT_EQ(RecordingVerifier::calls, 0);
}

// ---- keys ----------------------------------------------------------------------------------------

TEST(OtaSessionTest, PublicKeyValidation) {
  FakeFlashTarget flash;
  OtaSession s(flash);
  const uint8_t e[] = {0x01, 0x00, 0x01};
  uint8_t n[300];
  std::memset(n, 0xC5, sizeof n);
  EXPECT_FALSE(s.set_public_key(n, 63, e, sizeof e));  // < 512 bits
  EXPECT_FALSE(s.set_public_key(n, 256, e, 0));        // no exponent
  uint8_t huge[SPORE_OTA_MAX_SIGNATURE_BYTES + 1];
  std::memset(huge, 0xC5, sizeof huge);
  EXPECT_FALSE(s.set_public_key(huge, sizeof huge, e, sizeof e));  // beyond RSA-4096
  n[255] = 0xC4;
  EXPECT_FALSE(s.set_public_key(n, 256, e, sizeof e));  // even modulus
  n[255] = 0xC5;
  const uint8_t even_e[] = {0x01, 0x00, 0x00};
  EXPECT_FALSE(s.set_public_key(n, 256, even_e, sizeof even_e));
  const uint8_t long_e[] = {0x01, 0x00, 0x00, 0x00, 0x01};
  EXPECT_FALSE(s.set_public_key(n, 256, long_e, sizeof long_e));
  EXPECT_FALSE(s.set_public_key(nullptr, 256, e, sizeof e));
  EXPECT_FALSE(s.has_public_key());
  // Leading zeros are not part of the length.
  uint8_t padded[257];
  padded[0] = 0;
  std::memcpy(padded + 1, n, 256);
  EXPECT_TRUE(s.set_public_key(padded, sizeof padded, e, sizeof e));
  EXPECT_EQ(s.public_key_bytes(), 256u);
  EXPECT_EQ(s.trailer_allowance_bytes(), 260u);
  EXPECT_TRUE(s.clear_public_key());
  EXPECT_FALSE(s.has_public_key());
  EXPECT_EQ(s.trailer_allowance_bytes(), 0u);

  EXPECT_FALSE(s.set_public_key_pem(""));
  EXPECT_FALSE(s.set_public_key_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"));
  EXPECT_FALSE(s.set_public_key_pem("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"));
  EXPECT_FALSE(s.set_public_key_pem("not a pem at all"));
  const uint8_t junk_der[] = {0x30, 0x03, 0x02, 0x01, 0x01};
  EXPECT_FALSE(s.set_public_key_der(junk_der, sizeof junk_der));
  EXPECT_FALSE(s.set_public_key_der(nullptr, 0));
  EXPECT_FALSE(s.has_public_key());
  // PEM without the final newline, with leading text.
  std::string pem = std::string("comment line\n") + testing::vector::kPublicKeyPem;
  pem.pop_back();
  EXPECT_TRUE(s.set_public_key_pem(pem));

  // Not while busy.
  ASSERT_EQ(s.begin(0, 0), OtaError::kOk);
  EXPECT_FALSE(key_b().install(s));
  EXPECT_FALSE(s.clear_public_key());
  EXPECT_FALSE(s.set_public_key_pem(testing::vector::kPublicKeyPem));
  s.abort(OtaError::kAborted);
  EXPECT_TRUE(s.clear_public_key());
}

// Finding 10 of issue 18: a 512-bit key was accepted without a word. Under 2048 bits is refused,
// with the size for the log line; the previous key stays.
TEST(OtaSessionTest, KeysUnder2048BitsAreRefused) {
  FakeFlashTarget flash;
  OtaSession s(flash);
  const uint8_t e[] = {0x01, 0x00, 0x01};
  uint8_t n[256];
  std::memset(n, 0xC5, sizeof n);
  for (size_t bytes : {size_t{64}, size_t{128}, size_t{255}}) {
    SCOPED_TRACE(bytes);
    EXPECT_FALSE(s.set_public_key(n + sizeof n - bytes, bytes, e, sizeof e));
    EXPECT_EQ(s.refused_key_bits(), bytes * 8);
    EXPECT_FALSE(s.has_public_key());
  }
  // 2047 bits: 256 bytes whose top byte is 0x7F.
  n[0] = 0x7F;
  EXPECT_FALSE(s.set_public_key(n, sizeof n, e, sizeof e));
  EXPECT_EQ(s.refused_key_bits(), 2047u);
  n[0] = 0x80;
  EXPECT_TRUE(s.set_public_key(n, sizeof n, e, sizeof e));
  EXPECT_EQ(s.public_key_bytes(), 256u);
  // A refused key leaves the previous one in place.
  EXPECT_FALSE(s.set_public_key(n + 128, 128, e, sizeof e));
  EXPECT_EQ(s.public_key_bytes(), 256u);
  EXPECT_FALSE(s.set_public_key_pem("not a pem"));
  EXPECT_EQ(s.refused_key_bits(), 0u);
}

// ---- downgrades (issue 18, finding 7) -------------------------------------------------------------

namespace {

/// make_image() with a version slot ("SPORE-VERSION-SLOT:<version>", NUL-padded to 48 bytes) at
/// `at`, as spored and the ESP8266 firmware carry one.
Bytes versioned_image(const std::string& version, size_t size = 6000, size_t at = 3001) {
  Bytes image = make_image(size, 7);
  std::string slot = "SPORE-VERSION-SLOT:" + version;
  slot.resize(48, '\0');
  std::copy(slot.begin(), slot.end(), image.begin() + static_cast<std::ptrdiff_t>(at));
  return image;
}

struct DowngradeRun {
  OtaError error;
  bool committed;
};

DowngradeRun signed_upload(const Bytes& image, const char* running, bool allow, const std::vector<size_t>& plan) {
  FakeFlashTarget flash;
  OtaSession s(flash);
  EXPECT_TRUE(key_a().install(s));
  s.set_running_version(running);
  const Bytes body = signed_image(image, key_a());
  OtaError e = s.begin(body.size(), 1, nullptr, allow);
  size_t off = 0;
  for (size_t n : plan) {
    if (e != OtaError::kOk) break;
    e = s.write(body.data() + off, n, 2);
    off += n;
  }
  e = s.finish(3);
  if (e != OtaError::kOk) flash.expect_untouched();
  return {e, !flash.committed.empty()};
}

}  // namespace

// Issue 18 (ota-fix): an older image installs only when the key holder marked it (inside the
// signed bytes) AND the request allows it; neither alone is enough.
TEST(OtaSessionTest, ASignedImageOlderThanTheRunningOneIsRefusedUnlessAllowed) {
  const Bytes old_image = versioned_image("0.0.9");
  const Bytes marked_image = versioned_image("0.0.9+downgrade");
  const Bytes body = signed_image(marked_image, key_a());
  for (const auto& [name, plan] : all_plans(body.size())) {
    SCOPED_TRACE(name);
    EXPECT_EQ(signed_upload(old_image, "0.2.0", false, plan).error, OtaError::kDowngrade);
    EXPECT_EQ(signed_upload(old_image, "0.2.0", true, plan).error, OtaError::kDowngrade);  // the token holder alone
    EXPECT_EQ(signed_upload(marked_image, "0.2.0", false, plan).error, OtaError::kDowngrade);  // a replayed marked image
    const DowngradeRun allowed = signed_upload(marked_image, "0.2.0", true, plan);
    EXPECT_EQ(allowed.error, OtaError::kOk);
    EXPECT_TRUE(allowed.committed);
  }
  const auto plan = testing::chunk_plan(body.size(), 1000);
  // The same version reinstalls; newer installs; the running text's suffixes do not matter.
  EXPECT_EQ(signed_upload(versioned_image("0.2.0"), "0.2.0", false, plan).error, OtaError::kOk);
  EXPECT_EQ(signed_upload(versioned_image("0.10.0"), "0.9.7", false, plan).error, OtaError::kOk);
  EXPECT_EQ(signed_upload(versioned_image("spore-esp8266-1.0.0"), "spore-esp8266-0.1.0", false, plan).error,
            OtaError::kOk);
  EXPECT_EQ(signed_upload(versioned_image("1.9.99-rc1"), "2.0.0", false, plan).error, OtaError::kDowngrade);
  // A pre-release is older than its release; build metadata does not count.
  EXPECT_EQ(signed_upload(versioned_image("0.2.0-rc"), "0.2.0", false, plan).error, OtaError::kDowngrade);
  EXPECT_EQ(signed_upload(versioned_image("0.2.0-rc+downgrade"), "0.2.0", true, plan).error, OtaError::kOk);
  EXPECT_EQ(signed_upload(versioned_image("0.2.0"), "0.2.0-rc", false, plan).error, OtaError::kOk);
  EXPECT_EQ(signed_upload(versioned_image("1.0.0+build9"), "1.0.0", false, plan).error, OtaError::kOk);
  // No slot at all: an old release from before versions were checked; it has no room for the
  // marker, so a node with a version never installs it.
  const Bytes unversioned = make_image(6000, 7);
  EXPECT_EQ(signed_upload(unversioned, "0.2.0", false, plan).error, OtaError::kDowngrade);
  EXPECT_EQ(signed_upload(unversioned, "0.2.0", true, plan).error, OtaError::kDowngrade);
  // A running version without MAJOR.MINOR.PATCH turns the check off (the platform warns).
  EXPECT_EQ(signed_upload(unversioned, "dev", false, plan).error, OtaError::kOk);
}

TEST(OtaSessionTest, TheVersionIsReportedAndTheCheckIsForSignedImagesOnly) {
  // Without a key anything installs (the token holder could install anything anyway), but the
  // version found is still reported.
  FakeFlashTarget flash;
  OtaSession s(flash);
  s.set_running_version("0.2.0");
  ASSERT_EQ(upload(s, versioned_image("0.0.9")).final(), OtaError::kOk);
  EXPECT_TRUE(s.result().has_version);
  EXPECT_STREQ(s.image_version_text(), "0.0.9");
  // The slot right after the magic byte and at the very end of an image (its text ends with it).
  FakeFlashTarget f2;
  OtaSession s2(f2);
  ASSERT_EQ(upload(s2, versioned_image("3.2.1", 6000, 1)).final(), OtaError::kOk);
  EXPECT_STREQ(s2.image_version_text(), "3.2.1");
  Bytes tail = make_image(100, 3);
  const std::string slot = "SPORE-VERSION-SLOT:4.5.6";
  tail.insert(tail.end(), slot.begin(), slot.end());
  ASSERT_EQ(upload(s2, tail).final(), OtaError::kOk);
  EXPECT_STREQ(s2.image_version_text(), "4.5.6");
  // A signature that does not verify is bad_signature, whatever the version says.
  FakeFlashTarget f3;
  OtaSession s3(f3);
  ASSERT_TRUE(key_a().install(s3));
  s3.set_running_version("0.2.0");
  EXPECT_EQ(upload(s3, signed_image(versioned_image("0.0.9"), key_b())).final(), OtaError::kBadSignature);
}

// ---- every bad input ---------------------------------------------------------------------------

TEST(OtaSessionTest, Empty) {
  for (bool keyed : {false, true}) {
    FakeFlashTarget flash;
    OtaSession s(flash);
    if (keyed) {
      ASSERT_TRUE(key_a().install(s));
    }
    EXPECT_EQ(upload(s, {}, 0).final(), OtaError::kEmpty);
    EXPECT_EQ(s.result().error, OtaError::kEmpty);
    flash.expect_untouched();
    EXPECT_EQ(flash.write_calls, 0);
  }
}

TEST(OtaSessionTest, SignedTrailerWithoutImageIsEmpty) {
  FakeFlashTarget flash;
  OtaSession s(flash);
  ASSERT_TRUE(key_a().install(s));
  const Bytes sig = key_a().sign({});
  EXPECT_EQ(upload(s, with_trailer({}, sig, 256)).final(), OtaError::kEmpty);
  flash.expect_untouched();
}

TEST(OtaSessionTest, Truncated) {
  for (bool keyed : {false, true}) {
    FakeFlashTarget flash;
    OtaSession s(flash);
    if (keyed) {
      ASSERT_TRUE(key_a().install(s));
    }
    const Bytes image = make_image(500);
    EXPECT_EQ(upload(s, image, 1000).final(), OtaError::kTruncated);
    flash.expect_untouched();
    EXPECT_EQ(flash.commit_calls, 0);
  }
}

TEST(OtaSessionTest, MoreThanDeclared) {
  FakeFlashTarget flash;
  OtaSession s(flash);
  const Bytes image = make_image(2000);
  const UploadRun r = upload(s, image, 1500);
  EXPECT_EQ(r.write, OtaError::kTooLarge);
  EXPECT_EQ(r.finish, OtaError::kTooLarge);
  flash.expect_untouched();
}

TEST(OtaSessionTest, WrongMagicIsRefusedBeforeAnyWrite) {
  for (bool keyed : {false, true}) {
    for (size_t size : {size_t{3}, size_t{5000}}) {
      SCOPED_TRACE(size);
      FakeFlashTarget flash;
      OtaSession s(flash);
      Bytes image = make_image(size, 3, 0x7F);  // an ELF-ish first byte on an ESP8266 target
      Bytes body = image;
      if (keyed) {
        ASSERT_TRUE(key_a().install(s));
        body = signed_image(image, key_a());
      }
      EXPECT_EQ(upload(s, body, testing::chunk_plan(body.size(), 1), 0).final(), OtaError::kBadMagic);
      EXPECT_EQ(flash.write_calls, 0);
      EXPECT_EQ(flash.magic_checks, 1);
      flash.expect_untouched();
    }
  }
}

TEST(OtaSessionTest, TooLargeDeclaredIsRefusedBeforeTheTargetIsTouched) {
  FakeFlashTarget flash;
  flash.capacity = 1000;
  OtaSession s(flash);
  EXPECT_EQ(s.begin(1001, 0), OtaError::kTooLarge);
  EXPECT_FALSE(s.busy());
  EXPECT_EQ(s.result().error, OtaError::kTooLarge);
  EXPECT_EQ(flash.begin_calls, 0);
  flash.expect_untouched();
  // With a key the trailer is allowed on top of the capacity, not more.
  ASSERT_TRUE(key_a().install(s));
  EXPECT_EQ(s.begin(1000 + 260 + 1, 0), OtaError::kTooLarge);
  EXPECT_EQ(flash.begin_calls, 0);
  EXPECT_EQ(s.begin(1000 + 260, 0), OtaError::kOk);
  s.abort(OtaError::kAborted);
}

TEST(OtaSessionTest, TooLargeActualNeverWritesBeyondCapacity) {
  for (bool keyed : {false, true}) {
    for (const auto& [name, plan] : all_plans(3000)) {
      SCOPED_TRACE(name);
      FakeFlashTarget flash;
      flash.capacity = 2000;
      OtaSession s(flash);
      Bytes body = make_image(3000 - (keyed ? 260 : 0));
      if (keyed) {
        ASSERT_TRUE(key_a().install(s));
        body = signed_image(body, key_a());
      }
      const UploadRun r = upload(s, body, plan, 0);
      EXPECT_EQ(r.final(), OtaError::kTooLarge);
      EXPECT_LE(flash.written.size(), 2000u);
      flash.expect_untouched();
    }
  }
}

TEST(OtaSessionTest, BadSignatures) {
  const Bytes image = make_image(10000, 5);
  const Bytes sig = key_a().sign(image);
  struct Case {
    const char* name;
    Bytes body;
    OtaError expected;
  };
  Bytes flipped_image = image;
  flipped_image[5000] ^= 0x01;
  Bytes flipped_sig = sig;
  flipped_sig[100] ^= 0x80;
  const std::vector<Case> cases = {
      {"flipped image bit", with_trailer(flipped_image, sig, 256), OtaError::kBadSignature},
      {"flipped signature bit", with_trailer(image, flipped_sig, 256), OtaError::kBadSignature},
      {"another key's signature", signed_image(image, key_b()), OtaError::kBadSignature},
      {"unsigned", image, OtaError::kUnsigned},
      {"length field 255", with_trailer(image, sig, 255), OtaError::kBadSignature},
      {"length field 257", with_trailer(image, sig, 257), OtaError::kBadSignature},
      {"length field 0", with_trailer(image, sig, 0), OtaError::kUnsigned},
      {"length field huge", with_trailer(image, sig, 0xFFFFFFFFu), OtaError::kUnsigned},
      {"length field 513", with_trailer(image, sig, 513), OtaError::kUnsigned},
      {"length without signature", with_trailer(image, {}, 256), OtaError::kBadSignature},
      {"trailer longer than body", with_trailer({0xE9, 1, 2}, {}, 256), OtaError::kUnsigned},
      {"three bytes", Bytes{0xE9, 1, 2}, OtaError::kUnsigned},
      {"signature of the hash only", with_trailer(image, key_a().sign(testing::sha256_of(image)), 256),
       OtaError::kBadSignature},
  };
  for (const Case& c : cases) {
    for (size_t chunk : {size_t{1}, size_t{64}, size_t{100000}}) {
      SCOPED_TRACE(std::string(c.name) + " chunk " + std::to_string(chunk));
      FakeFlashTarget flash;
      OtaSession s(flash);
      ASSERT_TRUE(key_a().install(s));
      EXPECT_EQ(upload(s, c.body, testing::chunk_plan(c.body.size(), chunk), 0).final(), c.expected);
      EXPECT_EQ(s.result().error, c.expected);
      EXPECT_FALSE(s.result().signature_verified);
      EXPECT_EQ(flash.commit_calls, 0);
      flash.expect_untouched();
    }
  }
}

TEST(OtaSessionTest, FlashFailures) {
  const Bytes image = make_image(5000);
  {
    FakeFlashTarget flash;
    flash.fail_begin = true;
    OtaSession s(flash);
    EXPECT_EQ(s.begin(image.size(), 0), OtaError::kFlashBegin);
    EXPECT_FALSE(s.busy());
    EXPECT_EQ(flash.abort_calls, 1);  // released whatever begin() got
    flash.expect_untouched();
  }
  {
    FakeFlashTarget flash;
    flash.fail_write_at = 3000;
    OtaSession s(flash);
    const UploadRun r = upload(s, image, image.size());
    EXPECT_EQ(r.write, OtaError::kFlashWrite);
    EXPECT_EQ(r.finish, OtaError::kFlashWrite);
    flash.expect_untouched();
  }
  {
    FakeFlashTarget flash;
    flash.fail_commit = true;
    OtaSession s(flash);
    EXPECT_EQ(upload(s, image).final(), OtaError::kFlashCommit);
    EXPECT_EQ(flash.commit_calls, 1);
    EXPECT_TRUE(flash.committed.empty());
    EXPECT_EQ(flash.abort_calls, 1);
  }
  // The target's own verdict (a structure check, a trial run) is the session's result as it is.
  for (const OtaError verdict : {OtaError::kBadImage, OtaError::kSelfTestFailed}) {
    FakeFlashTarget flash;
    flash.commit_error = verdict;
    OtaSession s(flash);
    EXPECT_EQ(upload(s, image).final(), verdict);
    EXPECT_EQ(s.result().error, verdict);
    EXPECT_TRUE(flash.committed.empty());
    EXPECT_EQ(flash.abort_calls, 1);
  }
}

// ---- lifecycle ---------------------------------------------------------------------------------

TEST(OtaSessionTest, SecondBeginIsBusyAndDoesNotDisturbTheFirst) {
  FakeFlashTarget flash;
  OtaSession s(flash);
  const Bytes image = make_image(3000);
  ASSERT_EQ(s.begin(image.size(), 0), OtaError::kOk);
  ASSERT_EQ(s.write(image.data(), 1000, 1), OtaError::kOk);
  EXPECT_EQ(s.begin(10, 2), OtaError::kBusy);
  EXPECT_TRUE(s.busy());
  ASSERT_EQ(s.write(image.data() + 1000, 2000, 3), OtaError::kOk);
  ASSERT_EQ(s.finish(4), OtaError::kOk);
  EXPECT_EQ(flash.committed, image);
  EXPECT_EQ(flash.begin_calls, 1);
}

TEST(OtaSessionTest, AbortAndStall) {
  FakeFlashTarget flash;
  OtaSession s(flash);
  const Bytes image = make_image(3000);
  const uint32_t t0 = 0xFFFFF000u;  // across the 32-bit wrap
  ASSERT_EQ(s.begin(0, t0), OtaError::kOk);
  EXPECT_FALSE(s.stalled(t0 + 999, 1000));
  ASSERT_EQ(s.write(image.data(), 1000, t0 + 900), OtaError::kOk);
  EXPECT_FALSE(s.stalled(t0 + 1899, 1000));
  EXPECT_TRUE(s.stalled(t0 + 1900, 1000));
  EXPECT_TRUE(s.stalled(t0 + 0x2000, 1000));
  s.abort(OtaError::kStalled);
  EXPECT_FALSE(s.busy());
  EXPECT_FALSE(s.stalled(t0 + 0x3000, 1000));
  EXPECT_EQ(s.result().error, OtaError::kStalled);
  EXPECT_EQ(s.write(image.data(), 10, 0), OtaError::kStalled);
  EXPECT_EQ(s.finish(0), OtaError::kStalled);
  flash.expect_untouched();
  EXPECT_EQ(flash.abort_calls, 1);
  s.abort(OtaError::kAborted);  // no-op when idle
  EXPECT_EQ(flash.abort_calls, 1);

  // A new session after a failed one works.
  flash.reset_counters();
  ASSERT_EQ(upload(s, image).final(), OtaError::kOk);
  EXPECT_EQ(flash.committed, image);
}

TEST(OtaSessionTest, CallsWithoutSession) {
  FakeFlashTarget flash;
  OtaSession s(flash);
  const uint8_t b[4] = {0xE9, 0, 0, 0};
  EXPECT_EQ(s.write(b, 4, 0), OtaError::kBadRequest);
  EXPECT_EQ(s.finish(0), OtaError::kBadRequest);
  ASSERT_EQ(s.begin(0, 0), OtaError::kOk);
  EXPECT_EQ(s.write(b, 0, 0), OtaError::kOk);  // empty chunk is fine
  EXPECT_EQ(s.write(nullptr, 4, 0), OtaError::kBadRequest);
  flash.expect_untouched();
}

}  // namespace
}  // namespace spore
