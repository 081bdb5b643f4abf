#include "spore/ota/ota.h"

#include <bearssl/bearssl_pem.h>

#include <cstring>

#include "spore/base/bytes.h"
#include "spore/base/hex.h"
#include "spore/base/ports.h"

namespace spore {

namespace {

struct ErrorInfo {
  const char* name;
  int status;
};

// Indexed by OtaError; append only, like the enum.
constexpr ErrorInfo kErrors[] = {
    {"ok", 200},           {"busy", 409},          {"empty", 400},        {"too_large", 413},
    {"bad_magic", 422},    {"truncated", 400},     {"unsigned", 422},     {"bad_signature", 422},
    {"flash_begin", 500},  {"flash_write", 500},   {"flash_commit", 500}, {"aborted", 400},
    {"stalled", 408},      {"bad_request", 400},   {"unauthorized", 401}, {"unsupported_media_type", 415},
    {"bad_image", 422},    {"self_test_failed", 422}, {"digest_mismatch", 400}, {"downgrade", 422},
};
constexpr size_t kErrorCount = sizeof kErrors / sizeof kErrors[0];
static_assert(kErrorCount == static_cast<size_t>(OtaError::kDowngrade) + 1,
              "kErrors must have one entry per OtaError");

// The sentences, in kErrors order, kept in flash (flash_string.h): ~1.1 KB of DRAM on an ESP8266.
constexpr char kErrorMessages[] SPORE_FLASH =
    "The image was installed.\0"
    "Another update is in progress or the node is restarting into a new image; retry later.\0"
    "The upload holds no image bytes.\0"
    "The image does not fit in the space this node has for an update.\0"
    "This is not a firmware image for this node's platform (wrong magic bytes).\0"
    "The upload ended before the declared number of bytes arrived.\0"
    "This node requires a signed image and the upload carries no signature trailer.\0"
    "The image's signature does not verify with this node's public key.\0"
    "The node could not prepare its flash (or disk) for the update.\0"
    "Writing the image to flash (or disk) failed.\0"
    "The written image failed its final verification or could not be activated.\0"
    "The upload was aborted before it completed (connection dropped).\0"
    "The upload stalled: no data arrived within the timeout.\0"
    "The upload is malformed.\0"
    "This endpoint needs the node's API token.\0"
    "Send the image as multipart/form-data (a part named \"firmware\") or application/octet-stream.\0"
    "The image is malformed: its structure is not a bootable image for this node.\0"
    "The new image failed its trial run on this node; nothing was replaced.\0"
    "The bytes received are not the image the request's proof was made for.\0"
    "The signed image is older than this node's (or has no version); only an image signed with 'spore sign "
    "--allow-downgrade', sent with allow_downgrade=1, installs.\0"
    "Unknown update error.\0";
static_assert(flash_list_count(kErrorMessages, sizeof kErrorMessages) == kErrorCount + 1,
              "kErrorMessages must have one sentence per OtaError, then the unknown one");

const ErrorInfo* info(OtaError e) {
  const auto i = static_cast<size_t>(e);
  return i < kErrorCount ? &kErrors[i] : nullptr;
}

// ---- Minimal DER reader for RSA public keys ----------------------------------------------------
// BearSSL 0.6 (Debian's libbearssl-dev) has no public-key decoder; this reads both SPKI and
// PKCS#1 RSAPublicKey with a few bytes of stack (docs/hand-written.md).

struct Der {
  const uint8_t* p;
  size_t len;
};

/// Reads one TLV of tag `tag` from `in`; `out` gets its contents, `in` advances past it.
bool der_take(Der& in, uint8_t tag, Der& out) {
  if (in.len < 2 || in.p[0] != tag) return false;
  size_t pos = 2;
  size_t len = in.p[1];
  if (len & 0x80) {
    const size_t n = len & 0x7F;
    if (n == 0 || n > 2 || in.len < 2 + n) return false;  // keys are < 64 KB
    len = 0;
    for (size_t i = 0; i < n; ++i) len = (len << 8) | in.p[2 + i];
    pos += n;
  }
  if (len > in.len - pos) return false;
  out = Der{in.p + pos, len};
  in.p += pos + len;
  in.len -= pos + len;
  return true;
}

/// RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }, or SubjectPublicKeyInfo
/// wrapping it (AlgorithmIdentifier rsaEncryption, BIT STRING).
bool der_rsa_public_key(Der in, Der& n, Der& e) {
  Der seq{};
  if (!der_take(in, 0x30, seq) || in.len != 0) return false;
  if (seq.len > 0 && seq.p[0] == 0x02) {
    return der_take(seq, 0x02, n) && der_take(seq, 0x02, e) && seq.len == 0;
  }
  static constexpr uint8_t kRsaEncryption[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01};
  Der alg{};
  Der oid{};
  Der bits{};
  if (!der_take(seq, 0x30, alg) || !der_take(alg, 0x06, oid)) return false;
  if (oid.len != sizeof kRsaEncryption || std::memcmp(oid.p, kRsaEncryption, oid.len) != 0) return false;
  if (!der_take(seq, 0x03, bits) || seq.len != 0 || bits.len < 1 || bits.p[0] != 0) return false;
  return der_rsa_public_key(Der{bits.p + 1, bits.len - 1}, n, e);
}

// PEM "BEGIN PUBLIC KEY" / "BEGIN RSA PUBLIC KEY" decoded with BearSSL's PEM decoder into this.
struct PemSink {
  uint8_t der[SPORE_OTA_MAX_SIGNATURE_BYTES + 64];
  size_t len;
  bool overflow;
};

void pem_discard(void*, const void*, size_t) {}

void pem_append(void* ctx, const void* data, size_t size_bytes) {
  auto* sink = static_cast<PemSink*>(ctx);
  if (size_bytes > sizeof sink->der - sink->len) {
    sink->overflow = true;
    return;
  }
  std::memcpy(sink->der + sink->len, data, size_bytes);
  sink->len += size_bytes;
}

}  // namespace

const char* ota_error_name(OtaError e) {
  const ErrorInfo* i = info(e);
  return i != nullptr ? i->name : "unknown";
}

int ota_error_http_status(OtaError e) {
  const ErrorInfo* i = info(e);
  return i != nullptr ? i->status : 500;
}

FlashStr ota_error_message(OtaError e) {
  const auto i = static_cast<size_t>(e);
  return flash_nth(kErrorMessages, kErrorCount + 1, i < kErrorCount ? i : kErrorCount);
}

void ota_sha256_hex(const uint8_t (&sha256)[32], char (&out)[65]) { hex_encode(sha256, sizeof sha256, out); }

OtaSession::OtaSession(FlashTarget& target) : target_(target) {}

bool OtaSession::set_public_key(const uint8_t* n, size_t n_len, const uint8_t* e, size_t e_len) {
  refused_key_bits_ = 0;
  if (busy() || n == nullptr || e == nullptr) return false;
  while (n_len > 0 && n[0] == 0) {
    ++n;
    --n_len;
  }
  while (e_len > 0 && e[0] == 0) {
    ++e;
    --e_len;
  }
  // Even moduli and exponents are never valid RSA keys (and BearSSL's i31 engine requires an odd
  // modulus); under kMinKeyBits is refused below (BearSSL itself would take 512).
  if (n_len == 0 || n_len > SPORE_OTA_MAX_SIGNATURE_BYTES || (n[n_len - 1] & 1) == 0) return false;
  if (e_len < 1 || e_len > sizeof key_.e || (e[e_len - 1] & 1) == 0) return false;
  // The modulus' bit length: its top byte's bits count only up to its highest set bit.
  size_t bits = (n_len - 1) * 8;
  for (uint8_t top = n[0]; top != 0; top = static_cast<uint8_t>(top >> 1)) ++bits;
  if (bits < kMinKeyBits) {
    refused_key_bits_ = bits;
    return false;
  }
  std::memcpy(key_.n, n, n_len);
  std::memcpy(key_.e, e, e_len);
  key_.n_len = n_len;
  key_.e_len = e_len;
  return true;
}

bool OtaSession::set_public_key_der(const uint8_t* der, size_t der_len) {
  Der n{};
  Der e{};
  if (der == nullptr || !der_rsa_public_key(Der{der, der_len}, n, e)) {
    refused_key_bits_ = 0;
    return false;
  }
  return set_public_key(n.p, n.len, e.p, e.len);
}

bool OtaSession::set_public_key_pem(std::string_view pem) {
  refused_key_bits_ = 0;
  if (busy()) return false;
  PemSink sink{};
  br_pem_decoder_context pc;
  br_pem_decoder_init(&pc);
  bool in_key = false;
  bool done = false;
  // BearSSL's decoder needs a newline after the END line; feed one more at the end.
  for (int pass = 0; pass < 2 && !done; ++pass) {
    const char* data = pass == 0 ? pem.data() : "\n";
    size_t len = pass == 0 ? pem.size() : 1;
    while (len > 0 && !done) {
      const size_t used = br_pem_decoder_push(&pc, data, len);
      data += used;
      len -= used;
      switch (br_pem_decoder_event(&pc)) {
        case BR_PEM_BEGIN_OBJ: {
          const std::string_view name = br_pem_decoder_name(&pc);
          in_key = name == "PUBLIC KEY" || name == "RSA PUBLIC KEY";
          sink.len = 0;
          sink.overflow = false;
          br_pem_decoder_setdest(&pc, in_key ? &pem_append : &pem_discard, &sink);
          break;
        }
        case BR_PEM_END_OBJ:
          done = in_key;
          break;
        case BR_PEM_ERROR:
          return false;
        default:
          break;
      }
    }
  }
  if (!done || sink.overflow) return false;
  return set_public_key_der(sink.der, sink.len);
}

bool OtaSession::clear_public_key() {
  if (busy()) return false;
  key_ = Key{};
  return true;
}

OtaError OtaSession::begin(size_t declared_bytes, uint32_t now_ms, const uint8_t (*expected_file_sha256)[32],
                           bool allow_downgrade) {
  if (busy()) return OtaError::kBusy;
  result_ = OtaResult{};
  allow_downgrade_ = allow_downgrade;
  version_scan_.reset();
  expect_file_sha_ = expected_file_sha256 != nullptr;
  if (expect_file_sha_) {
    std::memcpy(expected_file_sha_, *expected_file_sha256, sizeof expected_file_sha_);
    br_sha256_init(&file_sha_);
  }
  declared_ = declared_bytes;
  received_ = 0;
  image_bytes_ = 0;
  tail_len_ = 0;
  head_len_ = 0;
  magic_checked_ = false;
  target_begun_ = false;
  keyed_ = has_public_key();
  last_activity_ms_ = now_ms;
  state_ = State::kActive;
  // A configured key that did not load must not turn into "no key, anything installs".
  if (key_required_ && !keyed_) return fail(OtaError::kUnsigned);
  capacity_ = target_.capacity_bytes();
  // A signed upload is the image plus exactly 4 + modulus-length trailer bytes.
  const size_t allowance = keyed_ ? 4 + key_.n_len : 0;
  if (declared_bytes > allowance && declared_bytes - allowance > capacity_) return fail(OtaError::kTooLarge);
  br_sha256_init(&sha_);
  target_begun_ = true;  // a failed begin() is still followed by abort(), to release what it got
  if (!target_.begin(declared_bytes < capacity_ ? declared_bytes : capacity_)) return fail(OtaError::kFlashBegin);
  return OtaError::kOk;
}

OtaError OtaSession::fail(OtaError e) {
  if (target_begun_) target_.abort();
  target_begun_ = false;
  state_ = State::kFailed;
  result_ = OtaResult{};
  result_.error = e;
  result_.image_bytes = image_bytes_;
  return e;
}

void OtaSession::abort(OtaError reason) {
  if (busy()) fail(reason == OtaError::kOk ? OtaError::kAborted : reason);
}

bool OtaSession::stalled(uint32_t now_ms, uint32_t timeout_ms) const {
  return busy() && elapsed_ms(now_ms, last_activity_ms_) >= timeout_ms;
}

OtaError OtaSession::flush_head() {
  magic_checked_ = true;
  if (!target_.check_magic(head_, head_len_)) return fail(OtaError::kBadMagic);
  if (!target_.write(head_, head_len_)) return fail(OtaError::kFlashWrite);
  return OtaError::kOk;
}

OtaError OtaSession::emit(const uint8_t* data, size_t size_bytes) {
  if (size_bytes == 0) return OtaError::kOk;
  if (size_bytes > capacity_ - image_bytes_) return fail(OtaError::kTooLarge);
  br_sha256_update(&sha_, data, size_bytes);
  version_scan_.feed(data, size_bytes);  // exactly the bytes hashed, hence signed
  if (!magic_checked_) {
    // Nothing reaches the target before check_magic() saw the first kMagicBytes bytes.
    size_t take = kMagicBytes - head_len_;
    if (take > size_bytes) take = size_bytes;
    std::memcpy(head_ + head_len_, data, take);
    head_len_ += take;
    image_bytes_ += take;
    data += take;
    size_bytes -= take;
    if (head_len_ < kMagicBytes) return OtaError::kOk;
    const OtaError e = flush_head();
    if (e != OtaError::kOk) return e;
  }
  if (size_bytes == 0) return OtaError::kOk;
  if (!target_.write(data, size_bytes)) return fail(OtaError::kFlashWrite);
  image_bytes_ += size_bytes;
  return OtaError::kOk;
}

OtaError OtaSession::write(const uint8_t* data, size_t size_bytes, uint32_t now_ms) {
  if (state_ == State::kFailed) return result_.error;
  if (state_ != State::kActive) return OtaError::kBadRequest;
  last_activity_ms_ = now_ms;
  if (size_bytes == 0) return OtaError::kOk;
  if (data == nullptr) return fail(OtaError::kBadRequest);
  if (declared_ != 0 && size_bytes > declared_ - received_) return fail(OtaError::kTooLarge);
  received_ += size_bytes;
  if (expect_file_sha_) br_sha256_update(&file_sha_, data, size_bytes);
  if (!keyed_) return emit(data, size_bytes);

  // Keep the last kTailBytes bytes back: only finish() knows whether they are image or trailer.
  const size_t total = tail_len_ + size_bytes;
  if (total <= kTailBytes) {
    std::memcpy(tail_ + tail_len_, data, size_bytes);
    tail_len_ = total;
    return OtaError::kOk;
  }
  const size_t excess = total - kTailBytes;
  const size_t from_tail = excess < tail_len_ ? excess : tail_len_;
  if (from_tail > 0) {
    const OtaError e = emit(tail_, from_tail);
    if (e != OtaError::kOk) return e;
    std::memmove(tail_, tail_ + from_tail, tail_len_ - from_tail);
    tail_len_ -= from_tail;
  }
  const size_t from_data = excess - from_tail;
  if (from_data > 0) {
    const OtaError e = emit(data, from_data);
    if (e != OtaError::kOk) return e;
  }
  std::memcpy(tail_ + tail_len_, data + from_data, size_bytes - from_data);
  tail_len_ += size_bytes - from_data;
  return OtaError::kOk;
}

bool OtaSession::downgrade_refused() const {
  if (!running_version_.valid) return false;
  // No version slot: an image built before versions were checked, or not by SPORE; as old as any,
  // and without room for the marker, so never installed here.
  if (!version_scan_.found()) return true;
  const ImageVersion& image = version_scan_.version();
  if (compare_image_versions(image, running_version_) >= 0) return false;
  // Older: both the OTA key's holder (the marker, inside the signed bytes) and the request must say so.
  return !(allow_downgrade_ && image.downgrade_marked);
}

bool OtaSession::verify_signature(const uint8_t* sig, size_t sig_len, const uint8_t (&sha256)[32]) {
  if (sig_len != key_.n_len) return false;
  const br_rsa_public_key pk{key_.n, key_.n_len, key_.e, key_.e_len};
  uint8_t signed_hash[32] = {};
  // The platform's verifier may run BearSSL on another stack (set_rsa_verifier()).
  const br_rsa_pkcs1_vrfy vrfy = rsa_verifier_ != nullptr ? rsa_verifier_ : br_rsa_pkcs1_vrfy_get_default();
  if (vrfy(sig, sig_len, BR_HASH_OID_SHA256, sizeof signed_hash, &pk, signed_hash) != 1) return false;
  // Public data on both sides, yet compare in constant time anyway: it costs nothing here.
  uint8_t diff = 0;
  for (size_t i = 0; i < sizeof signed_hash; ++i) diff = static_cast<uint8_t>(diff | (signed_hash[i] ^ sha256[i]));
  return diff == 0;
}

OtaError OtaSession::finish(uint32_t now_ms) {
  if (state_ == State::kFailed) return result_.error;
  if (state_ != State::kActive) return OtaError::kBadRequest;
  last_activity_ms_ = now_ms;
  if (received_ == 0) return fail(OtaError::kEmpty);
  if (declared_ != 0 && received_ < declared_) return fail(OtaError::kTruncated);
  if (expect_file_sha_) {
    // Before anything else is decided: an image the request's proof was not made for is never
    // verified, committed or even reported on.
    uint8_t file_sha[32];
    br_sha256_out(&file_sha_, file_sha);
    if (std::memcmp(file_sha, expected_file_sha_, sizeof file_sha) != 0) return fail(OtaError::kDigestMismatch);
  }

  const uint8_t* sig = nullptr;
  size_t sig_len = 0;
  if (keyed_) {
    // image || signature || uint32 LE signature length, as the ESP8266 core's Updater reads it.
    if (tail_len_ < 4) return fail(OtaError::kUnsigned);
    const uint32_t claimed = load_le32(tail_ + tail_len_ - 4);
    if (claimed == 0 || claimed > SPORE_OTA_MAX_SIGNATURE_BYTES || claimed + 4 > tail_len_) {
      return fail(OtaError::kUnsigned);
    }
    sig_len = claimed;
    const size_t image_rest = tail_len_ - 4 - sig_len;
    const OtaError e = emit(tail_, image_rest);
    if (e != OtaError::kOk) return e;
    sig = tail_ + image_rest;
  }
  if (!magic_checked_ && head_len_ > 0) {
    // An image shorter than kMagicBytes: check what there is.
    const OtaError e = flush_head();
    if (e != OtaError::kOk) return e;
  }
  if (image_bytes_ == 0) return fail(OtaError::kEmpty);

  OtaResult r{};
  br_sha256_out(&sha_, r.sha256);
  version_scan_.finish();
  r.has_version = version_scan_.found();
  if (keyed_) {
    if (!verify_signature(sig, sig_len, r.sha256)) return fail(OtaError::kBadSignature);
    r.signature_verified = true;
    // Only a verified version means anything: checked after the signature, before the target
    // sees a commit (Linux: before the trial run executes the image).
    if (downgrade_refused()) return fail(OtaError::kDowngrade);
  }
  r.image_bytes = image_bytes_;
  const OtaError committed = target_.commit(r.sha256);
  if (committed != OtaError::kOk) return fail(committed);
  target_begun_ = false;
  state_ = State::kDone;
  r.error = OtaError::kOk;
  result_ = r;
  return OtaError::kOk;
}

}  // namespace spore
