#include "spore/device/token_drbg.h"

#include <bearssl/bearssl_hash.h>
#include <bearssl/bearssl_rand.h>

#include "spore/base/bytes.h"
#include "spore/base/hex.h"
#include "spore/auth/hmac_sha256.h"  // secure_wipe

namespace spore {

void draw_api_token(EntropySource& source, const uint8_t (&mac)[6], char (&token)[kGeneratedTokenChars]) {
  // The label keeps this generator's output apart from any other use of the same samples.
  static constexpr char kLabel[] = "spore api token v1";
  uint8_t personal[sizeof kLabel - 1 + sizeof mac];
  for (size_t i = 0; i < sizeof kLabel - 1; ++i) personal[i] = static_cast<uint8_t>(kLabel[i]);
  for (size_t i = 0; i < sizeof mac; ++i) personal[sizeof kLabel - 1 + i] = mac[i];
  br_hmac_drbg_context drbg;
  br_hmac_drbg_init(&drbg, &br_sha256_vtable, personal, sizeof personal);
  // 8 samples (64 bytes) per update: one HMAC pass each instead of one per sample.
  uint8_t batch[8 * 8];
  for (size_t i = 0; i < kTokenEntropySamples; ++i) {
    const size_t at = (i % 8) * 8;
    store_le32(source.hardware_sample_u32(), batch + at);
    store_le32(source.micros_now(), batch + at + 4);
    if (i % 8 == 7 || i + 1 == kTokenEntropySamples) br_hmac_drbg_update(&drbg, batch, at + 8);
  }
  uint8_t bytes[kGeneratedTokenChars / 2];
  br_hmac_drbg_generate(&drbg, bytes, sizeof bytes);
  char hex[kGeneratedTokenChars + 1];
  hex_encode(bytes, sizeof bytes, hex);
  for (size_t i = 0; i < kGeneratedTokenChars; ++i) token[i] = hex[i];
  secure_wipe(bytes, sizeof bytes);
  secure_wipe(hex, sizeof hex);
  secure_wipe(batch, sizeof batch);
  secure_wipe(&drbg, sizeof drbg);
}

}  // namespace spore
