#pragma once
/// @file mqtt_proof.h
/// Freshness proofs of MQTT commands (docs/mqtt.md, "Commands"; docs/security.md, "MQTT"): a
/// command carries an HMAC made with the node's API token over the node id, a nonce the node
/// published and the command with its arguments, so the token never travels and a captured
/// command cannot be carried out again (the node takes each nonce once).
///
///   nonce   16 bytes, 32 lower-case hex digits, issued by the node and published retained on
///           `<base>/cmd/nonce` (a new one at every connect, and after every command whose proof
///           verified): incarnation (4, BE) || serial (4, BE) || random (8). The incarnation and
///           serial make it unique even where the RNG is weak at boot; no clock is involved.
///   payload `nonce=<32 hex> proof=<64 hex>` then, when the command has arguments, one space and
///           the arguments (cmd/ota: the URL; cmd/publish: `<topic> <data>`; cmd/restart: none)
///   proof   HMAC-SHA256(token, "SPORE-MQTT-CMD\n" <node id, 8 lower-case hex> "\n" <nonce> "\n"
///                              <command> "\n" <arguments>), as 64 hex digits (either case)
///
/// The domain prefix differs from every REST one (request_auth.h: SPORE-HMAC-SHA256, SPORE-NONCE,
/// SPORE-NODE-PROOF), so no proof made for one purpose stands for another. No allocation; the
/// parser only slices the payload.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace spore {

/// Bytes of an MQTT command nonce, and its hex length.
constexpr size_t kMqttNonceBytes = 16;
constexpr size_t kMqttNonceHexLen = 2 * kMqttNonceBytes;
/// Bytes before the arguments: "nonce=" 32 hex " proof=" 64 hex.
constexpr size_t kMqttProofPrefixLen = 6 + kMqttNonceHexLen + 7 + 64;

/// The forms a command payload can take.
enum class MqttPayloadForm : uint8_t {
  kProof,      ///< `nonce=<32 hex> proof=<64 hex>[ <args>]`
  kToken,      ///< anything not starting with "nonce=": `<token>[ <args>]` (the old form)
  kMalformed,  ///< starts with "nonce=" but is not exactly the proof form
};

struct MqttCommandPayload {
  std::string_view nonce_hex;  ///< kProof: the 32 digits as sent (lower case)
  uint8_t proof[32] = {};      ///< kProof: decoded
  std::string_view token;      ///< kToken: the first space-separated field (may be empty)
  std::string_view args;       ///< what follows the proof or the token and one space; may be empty
};

/// Splits `payload` (any bytes) into its form's parts; the views point into `payload`.
MqttPayloadForm parse_mqtt_command_payload(std::string_view payload, MqttCommandPayload* out);

/// The proof of `command` (the topic level after cmd/) with `args` for node `node_id` and
/// `nonce_hex` (as published), keyed with `token`.
void compute_mqtt_command_proof(std::string_view token, uint32_t node_id, std::string_view nonce_hex,
                                std::string_view command, std::string_view args, uint8_t (&out)[32]);

}  // namespace spore
