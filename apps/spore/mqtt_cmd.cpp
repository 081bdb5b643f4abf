#include "mqtt_cmd.h"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <iostream>

#include "cli_context.h"
#include "cli_logic.h"
#include "commands.h"
#include "events_logic.h"
#include "request_signer.h"
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
  // The id as everywhere else: decimal (nodeId in <base>/state and the REST API); 0x + 8 hex
  // digits for the form spored's state dir and logs print. The nonce is decoded by core's hex
  // helper (either case); the proof is over its lower-case form.
  std::optional<uint32_t> id;
  if (node_id.size() == 10 && (node_id.rfind("0x", 0) == 0 || node_id.rfind("0X", 0) == 0)) {
    id = parse_node_id(std::string_view(node_id).substr(2));
  } else if (!node_id.empty() && node_id.size() <= 10 && node_id.find_first_not_of("0123456789") == std::string::npos &&
             std::stoull(node_id) <= UINT32_MAX) {
    id = static_cast<uint32_t>(std::stoull(node_id));
  }
  uint8_t nonce_bytes[kMqttNonceBytes];
  if (!id) {
    *error = "--node-id must be the node's id: decimal (nodeId in <base>/state or `spore node status`) or 0x and "
             "8 hex digits";
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
  compute_mqtt_command_proof(token, *id, n, command, args, proof);
  char hex[65];
  hex_encode(proof, sizeof proof, hex);
  return std::string("nonce=") + n + " proof=" + hex + (args.empty() ? "" : " " + args);
}

namespace {

/// Prints the payload; returns 0, or throws CliError (usage: exit 2).
int cmd_mqtt_proof(const MqttProofOptions& o) {
  std::optional<std::string> file_text;
  if (o.token_file) {
    file_text = read_file(*o.token_file);
    if (!file_text) throw CliError{kExitUsage, "mqtt proof: cannot read the token file '" + *o.token_file + "'"};
  }
  const std::optional<std::string> token = resolve_token(o.token, file_text, std::getenv("SPORE_TOKEN"));
  std::string error;
  const std::optional<std::string> payload =
      mqtt_proof_payload(o.node_id, o.nonce, token.value_or(""), o.words, &error);
  if (!payload) throw CliError{kExitUsage, "mqtt proof: " + error};
  std::cout << *payload << "\n";
  return kExitOk;
}

}  // namespace

void add_mqtt_commands(CLI::App& app, Cli& cli) {
  CLI::App* mqtt = app.add_subcommand("mqtt", "MQTT bridge helpers (docs/mqtt.md)");
  mqtt->require_subcommand(1);
  auto o = std::make_shared<MqttProofOptions>();
  CLI::App* proof = mqtt->add_subcommand(
      "proof",
      "print an MQTT command's payload with its one-use proof, for mosquitto_pub (nothing is sent).\n"
      "  mosquitto_pub -h BROKER -t spore/CLUSTER/NODE/cmd/restart -m \"$(spore mqtt proof --node-id ID \\\n"
      "    --nonce \"$(mosquitto_sub -h BROKER -t spore/CLUSTER/NODE/cmd/nonce -C 1)\" restart)\"");
  proof->add_option("--node-id", o->node_id, "the node's id: decimal (nodeId in its state), or 0x and 8 hex digits")
      ->required()
      ->type_name("HEX8");
  proof->add_option("--nonce", o->nonce, "the node's current nonce, retained on <base>/cmd/nonce")
      ->required()
      ->type_name("HEX32");
  add_token_options(proof, o->token, o->token_file);
  proof->add_option("command", o->words, "restart | ota URL [allow_downgrade] | publish TOPIC [DATA...]")
      ->required()
      ->type_name("COMMAND [ARGS...]");
  cli.on_run(proof, [o] { return cmd_mqtt_proof(*o); });
}

}  // namespace cli
}  // namespace spore
