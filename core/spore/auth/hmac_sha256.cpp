#include "spore/auth/hmac_sha256.h"

#include <cstring>

#include "spore/base/hex.h"

namespace spore {

// A plain memset before going out of scope may be elided as a dead store; writing through a
// volatile pointer may not.
void secure_wipe(void* p, size_t n) {
  volatile uint8_t* v = static_cast<volatile uint8_t*>(p);
  while (n-- > 0) *v++ = 0;
}

bool HmacKey::set(const uint8_t* key, size_t size_bytes) {
  if (size_bytes == 0) {
    clear();
    return true;
  }
  if (key == nullptr || size_bytes < kMinKeyBytes || size_bytes > SPORE_MAX_KEY_BYTES) return false;
  br_hmac_key_init(&context_, &br_sha256_vtable, key, size_bytes);
  size_bytes_ = size_bytes;
  return true;
}

bool HmacKey::set_hex(std::string_view hex) {
  if (hex.size() % 2 != 0 || hex.size() / 2 > SPORE_MAX_KEY_BYTES) return false;
  uint8_t raw[SPORE_MAX_KEY_BYTES];
  const size_t n = hex.size() / 2;
  for (size_t i = 0; i < n; ++i) {
    const int hi = hex_digit_value(hex[2 * i]);
    const int lo = hex_digit_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      secure_wipe(raw, sizeof raw);
      return false;
    }
    raw[i] = static_cast<uint8_t>((hi << 4) | lo);
  }
  const bool ok = set(raw, n);
  secure_wipe(raw, sizeof raw);
  return ok;
}

void HmacKey::clear() {
  secure_wipe(&context_, sizeof context_);
  size_bytes_ = 0;
}

size_t hmac_sha256(const HmacKey& key, const uint8_t* data, size_t size_bytes, uint8_t* out, size_t out_bytes) {
  if (key.empty() || out_bytes == 0) return 0;
  if (out_bytes > kHmacSha256Bytes) out_bytes = kHmacSha256Bytes;
  br_hmac_context ctx;
  br_hmac_init(&ctx, &key.context(), out_bytes);
  br_hmac_update(&ctx, data, size_bytes);
  const size_t written = br_hmac_out(&ctx, out);
  secure_wipe(&ctx, sizeof ctx);
  return written;
}

void hmac_sha256_oneshot(const uint8_t* key, size_t key_bytes, const uint8_t* data, size_t size_bytes,
                         uint8_t* out) {
  br_hmac_key_context kc;
  br_hmac_key_init(&kc, &br_sha256_vtable, key, key_bytes);
  br_hmac_context ctx;
  br_hmac_init(&ctx, &kc, 0);
  br_hmac_update(&ctx, data, size_bytes);
  br_hmac_out(&ctx, out);
  secure_wipe(&kc, sizeof kc);
  secure_wipe(&ctx, sizeof ctx);
}

bool constant_time_equal(const uint8_t* a, const uint8_t* b, size_t size_bytes) {
  uint8_t diff = 0;
  for (size_t i = 0; i < size_bytes; ++i) diff = static_cast<uint8_t>(diff | (a[i] ^ b[i]));
  return diff == 0;
}

}  // namespace spore
