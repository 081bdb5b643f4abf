#pragma once
/// @file ota.h
/// The over-the-air update pipeline, platform-independent: one streamed image in, verified, handed
/// to a FlashTarget (the ESP8266 Updater, a new executable on Linux, a fake in tests). docs/ota.md
/// describes the pipeline, the signed-image byte layout and the reason codes.
///
/// Guarantees of OtaSession:
///  - Streamed: RAM use is fixed (a hold-back tail of 4 + SPORE_OTA_MAX_SIGNATURE_BYTES bytes when a
///    key is set, 16 bytes for the magic check, the SHA-256 state); the image is never buffered whole.
///  - Nothing reaches the FlashTarget before the size check (declared size against
///    capacity_bytes()) and the magic check (check_magic() on the first min(16, image) bytes).
///  - Never writes more than capacity_bytes() image bytes.
///  - With a public key set, commit() is only called for an image whose RSA PKCS#1 v1.5 / SHA-256
///    signature verifies; the signature trailer itself is never written.
///  - Any failure calls FlashTarget::abort() (once begin() reached the target) and never commit():
///    the running firmware stays untouched, result() says why.
///
/// Not thread-safe: the platform serializes calls with the node loop, like RestApi.

#include <bearssl/bearssl_hash.h>
#include <bearssl/bearssl_rsa.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/base/flash_string.h"
#include "spore/auth/image_version.h"
#include "spore/base/limits.h"

namespace spore {

/// Why an update failed; values stable (metrics, logs), append only.
enum class OtaError : uint8_t {
  kOk = 0,
  kBusy,                  ///< another update is in progress (or a restart into a new image is pending)
  kEmpty,                 ///< no image bytes at all
  kTooLarge,              ///< declared or actual size beyond the space the target has
  kBadMagic,              ///< the first bytes are not an image for this platform (0xE9 / ELF)
  kTruncated,             ///< fewer bytes arrived than were declared
  kUnsigned,              ///< a key is configured and the image has no signature trailer
  kBadSignature,          ///< the trailer's signature does not verify with the configured key
  kFlashBegin,            ///< the target could not prepare (no space, no permission)
  kFlashWrite,            ///< the target refused a write
  kFlashCommit,           ///< the target's final verification or switch-over failed
  kAborted,               ///< the upload stopped before its end (connection dropped, cancelled)
  kStalled,               ///< nothing arrived for the stall timeout
  kBadRequest,            ///< malformed upload (broken multipart, no firmware part, API misuse)
  kUnauthorized,          ///< missing or wrong API token
  kUnsupportedMediaType,  ///< Content-Type neither multipart/form-data nor application/octet-stream
  kBadImage,              ///< the image's structure is not bootable (ELF headers, ESP segments, length, checksum)
  kSelfTestFailed,        ///< the new image failed its trial run before the switch-over (Linux)
  kDigestMismatch,        ///< the bytes received are not the ones the request's proof declared
  kDowngrade,             ///< a signed image older than the running one (or without a version), not allowed
};

/// snake_case name of `e` ("too_large"), static, never nullptr ("unknown" for values out of range).
const char* ota_error_name(OtaError e);

/// The HTTP status an upload failing with `e` answers:
///
/// | error                  | status | error                   | status |
/// | ---------------------- | ------ | ----------------------- | ------ |
/// | ok                     | 200    | bad_signature           | 422    |
/// | busy                   | 409    | flash_begin             | 500    |
/// | empty                  | 400    | flash_write             | 500    |
/// | too_large              | 413    | flash_commit            | 500    |
/// | bad_magic              | 422    | aborted                 | 400    |
/// | truncated              | 400    | stalled                 | 408    |
/// | unsigned               | 422    | bad_request             | 400    |
/// | unauthorized           | 401    | unsupported_media_type  | 415    |
/// | bad_image              | 422    | self_test_failed        | 422    |
/// | digest_mismatch        | 400    | downgrade               | 422    |
///
/// 422 = the request was well formed but the image is unacceptable to this node.
int ota_error_http_status(OtaError e);

/// A one-sentence English explanation of `e` for JSON "error" fields; static, never null. Kept in
/// flash on the ESP8266: read it with FlashStr's readers or JsonWriter::value(FlashStr), never
/// as a C string.
FlashStr ota_error_message(OtaError e);

/// Port: where an image is written (ESP8266 Updater; Linux: a new executable beside the running
/// one; tests: a fake). OtaSession calls begin() once, then write() in order, then exactly one of
/// commit() or abort(). abort() may also follow a failed begin(); it must be harmless then.
class FlashTarget {
 public:
  virtual ~FlashTarget() = default;
  /// Largest image, in bytes, that fits now (free OTA space). Read once per session in begin().
  virtual size_t capacity_bytes() const = 0;
  /// `head` holds the first min(16, image size) bytes of the image; true when they look like an
  /// image for this platform (ESP8266: 0xE9, Linux: "\x7fELF"). Called before the first write().
  virtual bool check_magic(const uint8_t* head, size_t size) const = 0;
  /// Prepares for an image of at most `max_image_bytes` bytes (an upper bound: a signed upload's
  /// declared size includes the trailer); 0 = size unknown. The exact size is what write() got.
  virtual bool begin(size_t max_image_bytes) = 0;
  virtual bool write(const uint8_t* data, size_t size_bytes) = 0;
  /// Verifies what was written (its SHA-256 is `sha256`) and makes it the next boot image. The
  /// platform restarts later, after the HTTP answer is sent, not inside commit(). Returns kOk, or
  /// why the image was not activated: kBadImage (its structure is not bootable), kSelfTestFailed
  /// (its trial run failed), kFlashCommit (read-back or switch-over failed). On any error the
  /// running image stays the boot image; OtaSession then calls abort().
  virtual OtaError commit(const uint8_t (&sha256)[32]) = 0;
  /// Discards what was written; the running firmware stays untouched.
  virtual void abort() = 0;
};

/// The outcome of one session.
struct OtaResult {
  OtaError error = OtaError::kOk;
  /// The image's version slot was found (image_version.h); its text is
  /// OtaSession::image_version_text().
  bool has_version = false;
  size_t image_bytes = 0;   ///< image bytes written, without the signature trailer
  uint8_t sha256[32] = {};  ///< SHA-256 of the image (without trailer); valid when error == kOk
  bool signature_verified = false;
};

/// Writes the 64 lowercase hex digits of `sha256` and a NUL to `out` (65 bytes).
void ota_sha256_hex(const uint8_t (&sha256)[32], char (&out)[65]);

/// One streamed update: size check before the first write, SHA-256 while streaming, magic check,
/// optional RSA PKCS#1 v1.5 / SHA-256 signature in the ESP8266 Arduino core's signed-update format
/// (image || signature || uint32 little-endian signature length), commit. Any failure aborts the
/// FlashTarget and leaves the running firmware untouched.
///
/// Without a key the whole body is the image (as the ESP8266 core does: a signed image still
/// installs there, trailer included). With a key the trailer must be present and verify.
///
/// After write() or finish() returned an error the session is over (target aborted); further
/// write()/finish() calls return the same error until the next begin().
class OtaSession {
 public:
  /// Bytes held back at the end of a keyed upload until finish() knows where the image ends.
  static constexpr size_t kTailBytes = 4 + SPORE_OTA_MAX_SIGNATURE_BYTES;
  /// Bytes check_magic() gets (fewer only if the image is shorter).
  static constexpr size_t kMagicBytes = 16;

  explicit OtaSession(FlashTarget& target);
  OtaSession(const OtaSession&) = delete;
  OtaSession& operator=(const OtaSession&) = delete;

  /// Smallest RSA modulus a key may have, in bits: 2048 (NIST SP 800-131A; a 512-bit modulus is
  /// factored in hours on rented machines).
  static constexpr size_t kMinKeyBits = 2048;

  /// RSA public key: big-endian modulus `n` (leading zero bytes ignored; kMinKeyBits bits up to
  /// SPORE_OTA_MAX_SIGNATURE_BYTES bytes: RSA-4096 on hosts, RSA-2048 on the ESP8266) and
  /// exponent `e` (1..4 bytes, odd). Copied. When set, unsigned and mis-signed images are refused.
  /// False (previous key kept) when malformed, too short, too long or busy().
  bool set_public_key(const uint8_t* n, size_t n_len, const uint8_t* e, size_t e_len);
  /// The same from a PEM "-----BEGIN PUBLIC KEY-----" (SubjectPublicKeyInfo, what `openssl rsa
  /// -pubout`, the ESP8266 core's signing.py and `spore keygen` write) or "BEGIN RSA PUBLIC KEY"
  /// (PKCS#1) text. False when it holds no RSA public key or the key is unusable.
  bool set_public_key_pem(std::string_view pem);
  /// The same from DER bytes (SubjectPublicKeyInfo or PKCS#1 RSAPublicKey).
  bool set_public_key_der(const uint8_t* der, size_t der_len);
  /// After a set_public_key*() call that returned false: the bits of an RSA key refused as
  /// shorter than kMinKeyBits, for the log line; 0 when the key was malformed (or busy()).
  size_t refused_key_bits() const { return refused_key_bits_; }
  /// Forgets the key: images are accepted unsigned again (unless require_public_key()). False when busy().
  bool clear_public_key();
  /// The build configured a key: while none is set (it failed to load, or was cleared) every
  /// upload fails at begin() with kUnsigned instead of installing unsigned images. Call it before
  /// set_public_key*(), so a key that does not parse can never leave the node keyless.
  void require_public_key() { key_required_ = true; }
  bool public_key_required() const { return key_required_; }
  /// Where finish() runs the RSA PKCS#1 v1.5 verification: a function with BearSSL's
  /// br_rsa_pkcs1_vrfy signature (and contract) that the platform may run on another stack.
  /// BearSSL's engines need ~3 KB of stack for RSA-2048 (docs/ota.md §9, measured on the host),
  /// more than the ESP8266's system stack has left inside a web-server callback, so the ESP8266
  /// passes a wrapper that runs it on the Arduino core's 6,200-byte stack thunk
  /// (UpdaterFlashTarget::rsa_verify). nullptr = br_rsa_pkcs1_vrfy_get_default(), called directly (the host). Called
  /// at most once per session, from finish(), only for a keyed session whose trailer is
  /// well formed; a verifier that returns 0 makes the upload bad_signature.
  void set_rsa_verifier(br_rsa_pkcs1_vrfy verifier) { rsa_verifier_ = verifier; }
  bool has_public_key() const { return key_.n_len > 0; }
  /// The key's modulus length in bytes (= its signature length), 0 without a key.
  size_t public_key_bytes() const { return key_.n_len; }

  /// The version the node runs (its own version slot's text, image_version.h). With a key set and
  /// a valid running version, finish() refuses an image whose version slot is missing or older
  /// (kDowngrade) unless the image carries the downgrade marker (image_version.h: put there by
  /// `spore sign --allow-downgrade`, so the OTA key's holder decides) AND begin() was told
  /// `allow_downgrade` (the request's consent); an image without a slot is always refused. The same
  /// version or a newer one installs (a pre-release is older than its release). A text without
  /// MAJOR.MINOR.PATCH turns the check off (the platform warns).
  void set_running_version(std::string_view text) { running_version_ = parse_image_version(text); }
  const ImageVersion& running_version() const { return running_version_; }
  /// The version text of the current or last session's image ("" when it has no slot).
  const char* image_version_text() const { return version_scan_.text(); }

  /// The target's capacity_bytes() now: the largest image begin() would accept.
  size_t capacity_bytes() const { return target_.capacity_bytes(); }
  /// Bytes a keyed upload carries beyond the image: 4 + public_key_bytes(); 0 without a key.
  size_t trailer_allowance_bytes() const { return has_public_key() ? 4 + key_.n_len : 0; }

  /// Starts a session. `declared_bytes` is the body size when known (Content-Length of a raw
  /// upload), 0 = unknown. kBusy when a session runs (that one is not disturbed); kTooLarge when
  /// declared_bytes exceeds capacity_bytes() (+ the trailer allowance with a key) — before any
  /// FlashTarget call but capacity_bytes(); kFlashBegin when the target refuses.
  /// `expected_file_sha256` (may be nullptr): the SHA-256 every byte given to write() must hash
  /// to, trailer included (a request proof's declared image digest); finish() refuses anything
  /// else with kDigestMismatch before it verifies or commits.
  /// `allow_downgrade`: the request consents to a signed image older than the running one; it
  /// installs only when the image also carries the downgrade marker (see set_running_version()).
  OtaError begin(size_t declared_bytes, uint32_t now_ms, const uint8_t (*expected_file_sha256)[32] = nullptr,
                 bool allow_downgrade = false);
  /// Next body bytes, in order. kTooLarge beyond capacity or beyond declared_bytes, kBadMagic,
  /// kFlashWrite; any error ends the session.
  OtaError write(const uint8_t* data, size_t size_bytes, uint32_t now_ms);
  /// End of body: parses the trailer, verifies, commits; result() filled. kEmpty, kTruncated
  /// (fewer than declared_bytes), kDigestMismatch, kBadMagic, kUnsigned, kBadSignature, kDowngrade,
  /// kFlashWrite, kFlashCommit.
  OtaError finish(uint32_t now_ms);
  /// Ends a running session with `reason` (kAborted, kStalled, ...): the target is aborted,
  /// result().error = reason. No-op when not busy().
  void abort(OtaError reason);

  bool busy() const { return state_ == State::kActive; }
  /// True when busy and nothing arrived for `timeout_ms` (since begin() or the last write()).
  bool stalled(uint32_t now_ms, uint32_t timeout_ms) const;
  /// Body bytes received in this (or the last) session, trailer included.
  size_t received_bytes() const { return received_; }
  /// Declared body size of this (or the last) session, 0 = unknown.
  size_t declared_bytes() const { return declared_; }
  /// Of the last finished or aborted session (error kOk while one runs or before the first).
  const OtaResult& result() const { return result_; }

 private:
  enum class State : uint8_t { kIdle, kActive, kDone, kFailed };
  struct Key {
    uint8_t n[SPORE_OTA_MAX_SIGNATURE_BYTES];
    uint8_t e[4];
    size_t n_len;
    size_t e_len;
  };

  OtaError fail(OtaError e);
  /// Image bytes, in order: magic check, capacity, hash, flash.
  OtaError emit(const uint8_t* data, size_t size_bytes);
  OtaError flush_head();
  bool verify_signature(const uint8_t* sig, size_t sig_len, const uint8_t (&sha256)[32]);
  bool downgrade_refused() const;

  FlashTarget& target_;
  br_rsa_pkcs1_vrfy rsa_verifier_ = nullptr;
  Key key_{};
  size_t refused_key_bits_ = 0;
  ImageVersion running_version_{};
  ImageVersionScanner version_scan_{};
  br_sha256_context sha_{};
  br_sha256_context file_sha_{};  // every body byte, when a digest was declared
  uint8_t expected_file_sha_[32] = {};
  bool expect_file_sha_ = false;
  OtaResult result_{};
  size_t capacity_ = 0;
  size_t declared_ = 0;
  size_t received_ = 0;
  size_t image_bytes_ = 0;  // emitted to hash/flash so far (head buffer included)
  size_t tail_len_ = 0;
  size_t head_len_ = 0;
  uint32_t last_activity_ms_ = 0;
  State state_ = State::kIdle;
  bool target_begun_ = false;
  bool magic_checked_ = false;
  bool keyed_ = false;  // a key was set at begin(); fixed for the session
  bool key_required_ = false;  // require_public_key(): no key means no update
  bool allow_downgrade_ = false;  // of this session (begin())
  uint8_t head_[kMagicBytes] = {};
  uint8_t tail_[kTailBytes] = {};
};

}  // namespace spore
