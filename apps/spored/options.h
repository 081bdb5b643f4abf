#pragma once
/// @file options.h
/// spored's command line, config file and environment (docs/linux-node.md, "Flags").

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "spore/node/config.h"
#include "spore/base/ports.h"

namespace spored {

struct JoinTarget {
  uint32_t ip = 0;
  uint16_t port = 0;
};

struct Options {
  std::string hostname;  ///< empty: derived at start (system hostname or spored-<node id>)
  std::string bind = "0.0.0.0";
  uint32_t bind_ip = 0;
  uint16_t http_port = 8080;
  uint16_t udp_port = 4210;
  std::string state_dir;
  std::string profile = "lan";
  spore::Config config{};
  std::string cluster_key_file;
  std::string cluster_key_accept_file;  ///< a second key accepted on receive (key rotation)
  std::string api_token_file;
  bool no_api_token = false;
  /// Refuse `Authorization: Bearer <token>`: only request proofs (docs/security.md) are accepted.
  bool no_bearer = false;
  std::vector<JoinTarget> join;
  /// PEM RSA public key: when set, POST /api/node/update takes only images signed with its private
  /// key (ESP8266 core's signed-update format); empty = unsigned images are accepted.
  std::string ota_public_key_file;
  /// Largest image accepted by POST /api/node/update, bytes; 0 = the free space beside the
  /// executable minus a margin, at most ExecutableFlashTarget::kMaxImageBytes.
  uint64_t ota_max_image_bytes = 0;
  /// REST connections open at once, and from one client address (HttpServer::Limits); a reverse
  /// proxy in front of the node arrives from one address and needs the second raised.
  size_t http_max_connections = 256;
  size_t http_max_connections_per_address = 16;
  /// A new image must prove healthy within this many seconds of the switch, else its guardian
  /// restores the previous one (docs/ota.md); by default 60, or the stable period + 30 s.
  uint32_t ota_trial_timeout_s = 60;
  /// How long a new image must run before it may prove healthy, ms; from --ota-trial-stable-s, by
  /// default max(inactive_after_ms, 2000): by then a peer would have noticed a silent node.
  uint32_t ota_trial_stable_ms = 0;
  /// MQTT cmd/ota: a download from a URL is given up after this many seconds, connection to last
  /// byte (OtaUrlFetch::set_deadline_ms()).
  uint32_t ota_url_timeout_s = 300;
  /// --self-test: load config, keys and state like a start, check the REST API in process, print
  /// "spored <version> self-test ok" and exit 0, binding nothing and writing nothing.
  bool self_test = false;
  spore::LogLevel log_level = spore::LogLevel::kInfo;
  /// MQTT bridge (docs/mqtt.md); off while mqtt_host is empty.
  std::string mqtt_host;  ///< from --mqtt mqtt://host[:port]
  uint16_t mqtt_port = 1883;
  std::string mqtt_cluster = "spore";
  std::string mqtt_username;
  std::string mqtt_password_file;
  std::string mqtt_discovery_prefix = "homeassistant";  ///< "" = no Home Assistant discovery
  uint32_t mqtt_state_interval_s = 30;
  int mqtt_keepalive_s = 30;
  bool mqtt_allow_token_payload = false;  ///< UNSAFE legacy `<token> <args>` commands (docs/mqtt.md)
};

/// Parses argv (and the --config file and SPORED_* environment). Returns -1 when spored should
/// run with `*out`; otherwise the process exit code: 0 after --help / --version, 2 for a bad flag,
/// value or resulting Config, with the message already printed to stderr.
int parse_options(int argc, char** argv, Options* out);

/// Default --state-dir: $XDG_STATE_HOME/spore if XDG_STATE_HOME is set, else ./spored-state.
std::string default_state_dir();

/// True for a usable hostname: 1..SPORE_MAX_HOSTNAME_LEN of A-Z a-z 0-9 '-' '_' '.'.
bool valid_hostname(const std::string& name);

}  // namespace spored
