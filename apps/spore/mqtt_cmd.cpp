#include "mqtt_cmd.h"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli_logic.h"
#include "events_cmd.h"
#include "ota_cmd.h"
#include "spore/base/bytes.h"
#include "spore/base/hex.h"
#include "spore/mqtt/mqtt_proof.h"

namespace spore {
namespace cli {

namespace {

bool printable_without_space(const std::string& s) {
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b >= 0x7F) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> mqtt_proof_payload(const std::string& node_id, const std::string& nonce,
                                              const std::string& token, const std::vector<std::string>& words,
                                              std::string* error) {
  // Both decoded by core's hex helpers (either case); the proof is over their lower-case form.
  uint8_t id_bytes[4];
  uint8_t nonce_bytes[kMqttNonceBytes];
  if (!hex_decode(node_id, id_bytes, sizeof id_bytes)) {
    *error = "--node-id must be the node's id, 8 hex digits (node_id in <base>/state or `spore node status`)";
    return std::nullopt;
  }
  if (!hex_decode(nonce, nonce_bytes, sizeof nonce_bytes)) {
    *error = "--nonce must be 32 hex digits, the node's current nonce (retained on <base>/cmd/nonce)";
    return std::nullopt;
  }
  if (token.empty()) {
    *error = "no API token: give --token, --token-file or $SPORE_TOKEN";
    return std::nullopt;
  }
  if (words.empty()) {
    *error = "name a command: restart | ota URL [allow_downgrade] | publish TOPIC [DATA...]";
    return std::nullopt;
  }
  const std::string& command = words[0];
  std::string args;
  if (command == "restart") {
    if (words.size() != 1) {
      *error = "restart takes no arguments";
      return std::nullopt;
    }
  } else if (command == "ota") {
    // An optional third word lets a signed older image install (docs/ota.md §2a); the proof covers it.
    if (words.size() < 2 || words.size() > 3 || (words.size() == 3 && words[2] != "allow_downgrade") ||
        words[1].rfind("http://", 0) != 0 || words[1].size() <= 7 || !printable_without_space(words[1])) {
      *error = "ota takes one http:// URL without spaces, then optionally allow_downgrade "
               "(e.g. ota http://10.0.0.2:8000/spored)";
      return std::nullopt;
    }
    args = words[1];
    if (words.size() == 3) args += " allow_downgrade";
  } else if (command == "publish") {
    if (words.size() < 2) {
      *error = "publish takes TOPIC [DATA...]";
      return std::nullopt;
    }
    if (std::optional<std::string> why = topic_error(words[1])) {
      *error = "publish: " + *why;
      return std::nullopt;
    }
    args = words[1];
    if (words.size() > 2) args += ' ';
    for (size_t i = 2; i < words.size(); ++i) args += (i > 2 ? " " : "") + words[i];
  } else {
    *error = "unknown command '" + escape_payload(command) + "': restart | ota URL [allow_downgrade] | publish TOPIC [DATA...]";
    return std::nullopt;
  }
  char n[kMqttNonceHexLen + 1];
  hex_encode(nonce_bytes, sizeof nonce_bytes, n);
  uint8_t proof[32];
  compute_mqtt_command_proof(token, load_be32(id_bytes), n, command, args, proof);
  char hex[65];
  hex_encode(proof, sizeof proof, hex);
  return std::string("nonce=") + n + " proof=" + hex + (args.empty() ? "" : " " + args);
}

void MqttCli::add_to(CLI::App& app) {
  mqtt_ = app.add_subcommand("mqtt", "MQTT bridge helpers (docs/mqtt.md)");
  mqtt_->require_subcommand(1);
  proof_ = mqtt_->add_subcommand(
      "proof",
      "print an MQTT command's payload with its one-use proof, for mosquitto_pub (nothing is sent).\n"
      "  mosquitto_pub -h BROKER -t spore/CLUSTER/NODE/cmd/restart -m \"$(spore mqtt proof --node-id ID \\\n"
      "    --nonce \"$(mosquitto_sub -h BROKER -t spore/CLUSTER/NODE/cmd/nonce -C 1)\" restart)\"");
  proof_->add_option("--node-id", options_.node_id, "the node's id, 8 hex digits (node_id in its state)")
      ->required()
      ->type_name("HEX8");
  proof_->add_option("--nonce", options_.nonce, "the node's current nonce, retained on <base>/cmd/nonce")
      ->required()
      ->type_name("HEX32");
  auto* tok = proof_->add_option("--token", options_.token, "API token (else --token-file, else $SPORE_TOKEN)")
                  ->type_name("TOKEN");
  proof_->add_option("--token-file", options_.token_file, "file holding the API token")->excludes(tok)->type_name("FILE");
  proof_->add_option("command", options_.words, "restart | ota URL [allow_downgrade] | publish TOPIC [DATA...]")
      ->required()
      ->type_name("COMMAND [ARGS...]");
}

bool MqttCli::selected() const { return proof_ != nullptr && proof_->parsed(); }

int MqttCli::run() {
  std::optional<std::string> file_text;
  if (options_.token_file) {
    std::ifstream in(*options_.token_file, std::ios::binary);
    if (!in) throw CliError{kExitUsage, "mqtt proof: cannot read the token file '" + *options_.token_file + "'"};
    std::ostringstream ss;
    ss << in.rdbuf();
    file_text = ss.str();
  }
  const std::optional<std::string> token = resolve_token(options_.token, file_text, std::getenv("SPORE_TOKEN"));
  std::string error;
  const std::optional<std::string> payload =
      mqtt_proof_payload(options_.node_id, options_.nonce, token.value_or(""), options_.words, &error);
  if (!payload) throw CliError{kExitUsage, "mqtt proof: " + error};
  std::cout << *payload << "\n";
  return kExitOk;
}

}  // namespace cli
}  // namespace spore
