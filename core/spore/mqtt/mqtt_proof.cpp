#include "spore/mqtt/mqtt_proof.h"

#include <bearssl/bearssl_hash.h>
#include <bearssl/bearssl_hmac.h>

#include <cstring>

#include "spore/base/bytes.h"
#include "spore/base/hex.h"

namespace spore {

namespace {

constexpr std::string_view kDomain = "SPORE-MQTT-CMD\n";

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

MqttPayloadForm parse_mqtt_command_payload(std::string_view payload, MqttCommandPayload* out) {
  *out = MqttCommandPayload();
  constexpr std::string_view kNonce = "nonce=";
  constexpr std::string_view kProof = " proof=";
  // Slices with the pointer constructors (no substr(): its out_of_range paths would land in the
  // ESP8266 image, as mqtt_bridge.cpp notes).
  if (payload.empty()) return MqttPayloadForm::kToken;  // (memchr on an empty view's nullptr is UB)
  if (payload.size() < kNonce.size() || std::memcmp(payload.data(), kNonce.data(), kNonce.size()) != 0) {
    const char* space = static_cast<const char*>(std::memchr(payload.data(), ' ', payload.size()));
    const size_t first = space == nullptr ? payload.size() : static_cast<size_t>(space - payload.data());
    out->token = std::string_view(payload.data(), first);
    if (space != nullptr) out->args = std::string_view(space + 1, payload.size() - first - 1);
    return MqttPayloadForm::kToken;
  }
  if (payload.size() < kMqttProofPrefixLen) return MqttPayloadForm::kMalformed;
  const std::string_view nonce(payload.data() + kNonce.size(), kMqttNonceHexLen);
  const char* proof_at = nonce.data() + nonce.size();
  if (!is_lower_hex(nonce) || std::memcmp(proof_at, kProof.data(), kProof.size()) != 0 ||
      !hex_decode(std::string_view(proof_at + kProof.size(), 64), out->proof, sizeof out->proof)) {
    return MqttPayloadForm::kMalformed;
  }
  if (payload.size() > kMqttProofPrefixLen) {
    // Arguments follow after exactly one space.
    if (payload[kMqttProofPrefixLen] != ' ') return MqttPayloadForm::kMalformed;
    out->args = std::string_view(payload.data() + kMqttProofPrefixLen + 1, payload.size() - kMqttProofPrefixLen - 1);
  }
  out->nonce_hex = nonce;
  return MqttPayloadForm::kProof;
}

void compute_mqtt_command_proof(std::string_view token, uint32_t node_id, std::string_view nonce_hex,
                                std::string_view command, std::string_view args, uint8_t (&out)[32]) {
  br_hmac_key_context key;
  br_hmac_context ctx;
  br_hmac_key_init(&key, &br_sha256_vtable, token.data(), token.size());
  br_hmac_init(&ctx, &key, 0);
  char id[9];
  uint8_t be[4];
  store_be32(node_id, be);
  hex_encode(be, sizeof be, id);
  const std::string_view parts[] = {kDomain, {id, 8}, "\n", nonce_hex, "\n", command, "\n", args};
  for (const std::string_view& p : parts) br_hmac_update(&ctx, p.data(), p.size());
  br_hmac_out(&ctx, out);
}

}  // namespace spore
