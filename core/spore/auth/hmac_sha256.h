#pragma once
/// @file hmac_sha256.h
/// HMAC-SHA256 (RFC 2104 / FIPS 198-1) over BearSSL, with a key holder that precomputes the
/// inner and outer pad states once, so authenticating a datagram costs two SHA-256 compressions
/// fewer than keying from scratch. BearSSL is used because the ESP8266 Arduino core already ships
/// it: no second crypto library in a 1 MB image, and the same code is tested on the host.

#include <bearssl/bearssl_hash.h>
#include <bearssl/bearssl_hmac.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/base/limits.h"

namespace spore {

/// Bytes in a full HMAC-SHA256 output.
constexpr size_t kHmacSha256Bytes = 32;

/// A secret key, keyed for HMAC-SHA256. Empty (size_bytes() == 0) means "no key": callers treat
/// that as "authentication off". The raw key bytes are not retained, only BearSSL's derived pad
/// states (which are as secret as the key). Copyable; no allocation.
class HmacKey {
 public:
  /// Shortest key set() accepts. 16 bytes = 128 bits, the strength of the truncated wire tag; a
  /// shorter key would make the key, not the tag, the weakest link.
  static constexpr size_t kMinKeyBytes = 16;

  HmacKey() = default;

  /// Keys the holder with `size_bytes` bytes at `key`. Accepts 0 (clears, auth off) or
  /// kMinKeyBytes..SPORE_MAX_KEY_BYTES bytes; anything else returns false and leaves the holder
  /// unchanged.
  bool set(const uint8_t* key, size_t size_bytes);

  /// Keys the holder from hexadecimal text (upper or lower case, no separators), as a config file
  /// or CLI would carry it. The empty string clears. Returns false, leaving the holder unchanged,
  /// for odd length, non-hex characters, or a decoded length set() refuses.
  bool set_hex(std::string_view hex);

  /// Forgets the key (auth off) and wipes the pad states.
  void clear();

  bool empty() const { return size_bytes_ == 0; }
  /// Length of the key that was set, in bytes; 0 when empty.
  size_t size_bytes() const { return size_bytes_; }

  /// BearSSL's keyed context; valid only when !empty().
  const br_hmac_key_context& context() const { return context_; }

 private:
  br_hmac_key_context context_{};
  size_t size_bytes_ = 0;
};

/// Writes HMAC-SHA256(key, data) truncated to `out_bytes` (1..kHmacSha256Bytes; larger values are
/// clamped to kHmacSha256Bytes) to `out`, returns the number of bytes written. Truncation keeps the
/// leftmost bytes (RFC 2104 §5). Returns 0 and writes nothing if `key` is empty.
size_t hmac_sha256(const HmacKey& key, const uint8_t* data, size_t size_bytes, uint8_t* out, size_t out_bytes);

/// HMAC-SHA256 with a key of any length (keys over 64 bytes are hashed first, per RFC 2104),
/// without HmacKey's length policy: for verifying against published vectors and for one-off
/// uses. Writes kHmacSha256Bytes bytes to `out`.
void hmac_sha256_oneshot(const uint8_t* key, size_t key_bytes, const uint8_t* data, size_t size_bytes,
                         uint8_t* out);

/// Zeroes `size_bytes` bytes at `p` in a way the compiler cannot drop as a dead store (secrets on
/// the stack before they go out of scope).
void secure_wipe(void* p, size_t size_bytes);

/// Compares `size_bytes` bytes of `a` and `b` in time independent of where they differ, so a
/// forger cannot learn a tag byte by byte from response timing.
bool constant_time_equal(const uint8_t* a, const uint8_t* b, size_t size_bytes);

}  // namespace spore
