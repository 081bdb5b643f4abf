// libFuzzer target for the MQTT command payload parser and the proof (core/spore/mqtt/mqtt_proof.h):
// whatever a broker user publishes on a node's cmd/ topics.
//
// Input: any bytes, parsed as a payload; then the same bytes used as a token, a command and
// arguments for a proof that is formatted as `spore mqtt proof` does and parsed back.
//
// Properties, abort() on violation:
// - kToken: the input does not start with "nonce=", `token` is its prefix up to the first space
//   (no space in it), `args` what follows that space (empty when there is none);
// - kProof: the input is exactly "nonce=" <nonce_hex> " proof=" <64 hex of `proof`, either case>
//   [" " <args>], the nonce 32 lower-case hex digits;
// - a formatted proof payload parses as kProof with the same nonce, proof and arguments;
// - the proof depends on every input: another node id, nonce, command or arguments changes it.
//
// Seed corpus: tests/fuzz/corpus/mqtt_proof/.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "spore/base/hex.h"
#include "spore/mqtt/mqtt_proof.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  spore::MqttCommandPayload p;
  const spore::MqttPayloadForm form = spore::parse_mqtt_command_payload(in, &p);
  const bool nonce_prefix = in.substr(0, 6) == "nonce=";
  switch (form) {
    case spore::MqttPayloadForm::kToken: {
      if (nonce_prefix) std::abort();
      const size_t space = in.find(' ');
      if (p.token != in.substr(0, space)) std::abort();
      if (p.args != (space == std::string_view::npos ? std::string_view() : in.substr(space + 1))) std::abort();
      break;
    }
    case spore::MqttPayloadForm::kProof: {
      if (!nonce_prefix || p.nonce_hex.size() != spore::kMqttNonceHexLen) std::abort();
      for (char c : p.nonce_hex) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) std::abort();
      }
      char hex[65];
      spore::hex_encode(p.proof, sizeof p.proof, hex);
      std::string rebuilt = "nonce=" + std::string(p.nonce_hex) + " proof=" + hex;
      if (in.size() > spore::kMqttProofPrefixLen) rebuilt += " " + std::string(p.args);
      if (rebuilt.size() != in.size()) std::abort();
      // The proof's hex digits may be upper case; nothing else may differ.
      constexpr size_t kProofAt = 6 + spore::kMqttNonceHexLen + 7;
      for (size_t i = 0; i < in.size(); ++i) {
        const bool in_proof = i >= kProofAt && i < kProofAt + 64;
        const char a = in_proof && in[i] >= 'A' && in[i] <= 'F' ? static_cast<char>(in[i] - 'A' + 'a') : in[i];
        if (a != rebuilt[i]) std::abort();
      }
      break;
    }
    case spore::MqttPayloadForm::kMalformed:
      if (!nonce_prefix) std::abort();
      break;
  }

  // Round trip: a proof made from the input's parts (the first 32 bytes, as hex, for the nonce).
  const size_t cut = size / 2;
  const std::string_view command = in.substr(0, cut < 16 ? cut : 16);
  const std::string_view args = in.substr(cut);
  uint8_t raw[spore::kMqttNonceBytes] = {};
  std::memcpy(raw, data, size < sizeof raw ? size : sizeof raw);
  char nonce[spore::kMqttNonceHexLen + 1];
  spore::hex_encode(raw, sizeof raw, nonce);
  uint8_t mac[32];
  spore::compute_mqtt_command_proof(in, 0x12345678, nonce, command, args, mac);
  char mac_hex[65];
  spore::hex_encode(mac, sizeof mac, mac_hex);
  const std::string payload = std::string("nonce=") + nonce + " proof=" + mac_hex + (args.empty() ? "" : " ") +
                              std::string(args);
  spore::MqttCommandPayload back;
  if (spore::parse_mqtt_command_payload(payload, &back) != spore::MqttPayloadForm::kProof) std::abort();
  if (back.nonce_hex != nonce || std::memcmp(back.proof, mac, sizeof mac) != 0 || back.args != args) std::abort();
  // Bound to everything it covers.
  uint8_t other[32];
  spore::compute_mqtt_command_proof(in, 0x12345679, nonce, command, args, other);
  if (std::memcmp(other, mac, sizeof mac) == 0) std::abort();
  nonce[0] = nonce[0] == '0' ? '1' : '0';
  spore::compute_mqtt_command_proof(in, 0x12345678, nonce, command, args, other);
  if (std::memcmp(other, mac, sizeof mac) == 0) std::abort();
  nonce[0] = nonce[0] == '0' ? '1' : '0';
  spore::compute_mqtt_command_proof(in, 0x12345678, nonce, std::string(command) + "x", args, other);
  if (std::memcmp(other, mac, sizeof mac) == 0) std::abort();
  spore::compute_mqtt_command_proof(in, 0x12345678, nonce, command, std::string(args) + "x", other);
  if (std::memcmp(other, mac, sizeof mac) == 0) std::abort();
  return 0;
}
