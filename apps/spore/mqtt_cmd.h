#pragma once
/// @file mqtt_cmd.h
/// `spore mqtt proof`: the payload of an MQTT command with its freshness proof (docs/mqtt.md,
/// "Commands"; format: core/spore/mqtt_proof.h), printed for mosquitto_pub. Nothing is sent: the
/// CLI does not speak MQTT, and the token never leaves this process. This header is the pure
/// logic, unit-tested in tests/posix/spore_mqtt_cli_test.cpp; add_mqtt_commands() (commands.h)
/// registers and runs the subcommand.

#include <optional>
#include <string>
#include <vector>

namespace spore {
namespace cli {

/// What `spore mqtt proof` was given.
struct MqttProofOptions {
  std::string node_id;                    ///< --node-id: 8 hex digits (the node's `node_id`)
  std::string nonce;                      ///< --nonce: 32 hex digits, as retained on <base>/cmd/nonce
  std::optional<std::string> token;       ///< --token
  std::optional<std::string> token_file;  ///< --token-file
  std::vector<std::string> words;         ///< COMMAND [ARGS...]: restart | ota URL | publish TOPIC [DATA...]
};

/// The payload `nonce=<nonce> proof=<hex>[ <args>]` for `words` (command first; the arguments of
/// publish after the topic are joined with single spaces, so DATA may be given as one quoted
/// word or several), or nullopt with the reason in `*error`: a node id or nonce that is not 8 /
/// 32 hex digits, an empty token, an unknown command, missing or extra arguments, an ota URL that
/// is not http:// without spaces or control bytes, a topic the nodes refuse (events topic rule).
std::optional<std::string> mqtt_proof_payload(const std::string& node_id, const std::string& nonce,
                                              const std::string& token, const std::vector<std::string>& words,
                                              std::string* error);

}  // namespace cli
}  // namespace spore
