#include "options.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <optional>
#include <cstdio>
#include <cstdlib>

#include "../cli_parse.h"
#include "posix/log_sink.h"
#include "posix/mqtt_client.h"
#include "posix/udp_socket.h"
#include "posix/version.h"
#include "spore/base/limits.h"

namespace spored {

std::string default_state_dir() {
  const char* xdg = std::getenv("XDG_STATE_HOME");
  if (xdg != nullptr && xdg[0] != '\0') return std::string(xdg) + "/spore";
  return "./spored-state";
}

bool valid_hostname(const std::string& name) {
  if (name.empty() || name.size() > SPORE_MAX_HOSTNAME_LEN) return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

namespace {

int usage_error(const std::string& message) {
  std::fprintf(stderr, "spored: %s\nRun 'spored --help' for the flags.\n", message.c_str());
  return 2;
}

bool parse_join(const std::string& text, uint16_t default_port, JoinTarget* out) {
  std::string ip_text = text;
  uint16_t port = default_port;
  const size_t colon = text.find(':');
  if (colon != std::string::npos) {
    ip_text = text.substr(0, colon);
    const std::string port_text = text.substr(colon + 1);
    if (port_text.empty() || port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos)
      return false;
    const unsigned long p = std::strtoul(port_text.c_str(), nullptr, 10);
    if (p == 0 || p > 65535) return false;
    port = static_cast<uint16_t>(p);
  }
  if (!spore::posix::parse_ipv4(ip_text, &out->ip)) return false;
  out->port = port;
  return true;
}

// The thresholds (the knobs Config::derive() follows) and the timers a flag may set explicitly,
// overriding the derivation. `field` is the name validation_error() uses, so a sentence about a
// field can name the flag that changes it.
struct TimerFlag {
  const char* field;
  const char* flag;
  uint32_t spore::Config::*member;
  const char* help;
};

constexpr size_t kInactiveFlag = 0;
constexpr size_t kDeadFlag = 1;
constexpr TimerFlag kTimerFlags[] = {
    {"inactive_after_ms", "--inactive-after-ms", &spore::Config::inactive_after_ms,
     "Silence before a member is INACTIVE, ms; the detection timers follow from it (docs/linux-node.md, "
     "\"Timers\") [default: profile's]"},
    {"dead_after_ms", "--dead-after-ms", &spore::Config::dead_after_ms,
     "Silence before a member is DEAD, ms [default: profile's, or 2 x the INACTIVE threshold if longer]"},
    {"heartbeat_interval_ms", "--heartbeat-interval-ms", &spore::Config::heartbeat_interval_ms,
     "Override: period of the heartbeat broadcast, ms [default: derived]"},
    {"suspect_after_ms", "--suspect-after-ms", &spore::Config::suspect_after_ms,
     "Override: silence before a member is probed, ms [default: derived]"},
    {"probe_timeout_ms", "--probe-timeout-ms", &spore::Config::probe_timeout_ms,
     "Override: wait for a probe's ACK, ms per phase [default: derived]"},
    {"listen_interval_ms", "--membership-tick-ms", &spore::Config::listen_interval_ms,
     "Override: period of the membership tick that checks probe and INFO timeouts, ms [default: derived]"},
    {"status_interval_ms", "--status-interval-ms", &spore::Config::status_interval_ms,
     "Override: period of the member status check, ms [default: derived]"},
    {"discovery_interval_ms", "--discovery-interval-ms", &spore::Config::discovery_interval_ms,
     "Override: period of the join-phase ANNOUNCE, ms [default: profile's]"},
    {"member_info_interval_ms", "--member-info-interval-ms", &spore::Config::member_info_interval_ms,
     "Override: period of the full ANNOUNCE, ms [default: profile's]"},
    {"dead_retention_ms", "--dead-retention-ms", &spore::Config::dead_retention_ms,
     "Override: a DEAD member is forgotten after this long, ms [default: profile's]"},
};
constexpr size_t kTimerFlagCount = sizeof kTimerFlags / sizeof kTimerFlags[0];

struct TimerValues {
  uint32_t value[kTimerFlagCount] = {};
  CLI::Option* option[kTimerFlagCount] = {};
  bool given(size_t i) const { return option[i]->count() > 0; }
};

void add_timer_flags(CLI::App& app, TimerValues* t) {
  for (size_t i = 0; i < kTimerFlagCount; ++i) {
    std::string env = std::string("SPORED_") + (kTimerFlags[i].flag + 2);
    for (char& c : env) c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    t->option[i] =
        app.add_option(kTimerFlags[i].flag, t->value[i], kTimerFlags[i].help)->envname(env)->check(CLI::PositiveNumber);
  }
}

// The profile's timers for the given thresholds and liveness mode ("" = the profile's: digest on
// lan and fast, broadcast on esp8266), then the explicit timers on top.
spore::Config timers_from(spore::Profile profile, const TimerValues& t, const std::string& liveness) {
  const uint32_t inactive = t.given(kInactiveFlag) ? t.value[kInactiveFlag] : 0;
  const uint32_t dead = t.given(kDeadFlag) ? t.value[kDeadFlag] : 0;
  // Each mode's period and suspicion timer follow from the thresholds (Config::derive); timer flags
  // given explicitly still win.
  spore::Config c =
      liveness.empty()
          ? spore::Config::derive(profile, inactive, dead)
          : spore::Config::derive(profile, liveness == "digest" ? spore::Liveness::kDigest : spore::Liveness::kBroadcast,
                                  inactive, dead);
  for (size_t i = kDeadFlag + 1; i < kTimerFlagCount; ++i) {
    if (t.given(i)) c.*kTimerFlags[i].member = t.value[i];
  }
  return c;
}

// validation_error()'s sentence with flags for field names, then the values it speaks of and
// whether each was given or derived: the flags to change.
std::string explain_invalid(std::string text, const spore::Config& c, const TimerValues& t) {
  std::string values;
  for (size_t i = 0; i < kTimerFlagCount; ++i) {
    const std::string field = kTimerFlags[i].field, flag = kTimerFlags[i].flag;
    size_t at = text.find(field);
    if (at == std::string::npos) continue;
    for (; at != std::string::npos; at = text.find(field, at + flag.size())) text.replace(at, field.size(), flag);
    values += (values.empty() ? "" : ", ") + flag + " " + std::to_string(c.*kTimerFlags[i].member) +
              (t.given(i) ? " given" : " derived");
  }
  return values.empty() ? text : text + " (" + values + ")";
}

spore::Profile profile_named(const std::string& name) {
  if (name == "fast") return spore::Profile::kFast;
  if (name == "esp8266" || name == "default_esp8266") return spore::Profile::kEsp8266;
  return spore::Profile::kLan;
}

// What the command line gives before SPORE's own checks turn it into Options.
struct RawFlags {
  std::string profile = "lan";
  std::string liveness;  // empty: the profile's
  std::string log_level = "info";
  std::vector<std::string> join;
  TimerValues timers;
  int http_port = -1, udp_port = -1;
  uint32_t ota_trial_stable_s = 0, ota_trial_timeout_s = 0;
  std::string mqtt_url;
};

void add_node_flags(CLI::App& app, Options& o, RawFlags& r) {
  app.add_option("--hostname", o.hostname,
                 "Node name (1-31 of A-Z a-z 0-9 - _ .); default: the system hostname, or spored-<node id> when "
                 "--bind is a 127.x address")
      ->envname("SPORED_HOSTNAME");
  app.add_option("--bind", o.bind, "IPv4 address for UDP and HTTP (0.0.0.0 = every interface)")
      ->envname("SPORED_BIND")
      ->capture_default_str();
  app.add_option("--http-port", r.http_port, "TCP port of the REST API [default: profile's, 8080 for lan/fast]")
      ->envname("SPORED_HTTP_PORT")
      ->check(CLI::Range(1, 65535));
  app.add_option("--udp-port", r.udp_port, "UDP port of the cluster protocol [default: 4210]")
      ->envname("SPORED_UDP_PORT")
      ->check(CLI::Range(1, 65535));
  app.add_option("--state-dir", o.state_dir,
                 "Directory for node id, boot counter and generated API token [default: $XDG_STATE_HOME/spore "
                 "or ./spored-state]")
      ->envname("SPORED_STATE_DIR");
  app.add_option("--profile", r.profile, "Timing profile: lan (default_lan), fast, esp8266 (default_esp8266)")
      ->envname("SPORED_PROFILE")
      ->capture_default_str()
      ->check(CLI::IsMember({"lan", "default_lan", "fast", "esp8266", "default_esp8266"}));
  add_timer_flags(app, &r.timers);
  app.add_option("--liveness", r.liveness,
                 "How liveness evidence travels: digest (members send their heartbeat to one member, which "
                 "broadcasts a DIGEST for all; docs/protocol.md, 11.12) or broadcast (every node broadcasts its "
                 "heartbeat, as ESP8266 nodes do). Every node of a cluster should use the same [default: digest; "
                 "broadcast with --profile esp8266]")
      ->envname("SPORED_LIVENESS")
      ->check(CLI::IsMember({"broadcast", "digest"}));
  app.add_option("--cluster-key-file", o.cluster_key_file,
                 "File holding the cluster key as hex (32-64 hex digits); unset = unauthenticated cluster")
      ->envname("SPORED_CLUSTER_KEY_FILE");
  app.add_option("--cluster-key-accept-file", o.cluster_key_accept_file,
                 "File holding a second cluster key (hex) accepted but never sent: rotates the key without a "
                 "partition (docs/security.md)")
      ->envname("SPORED_CLUSTER_KEY_ACCEPT_FILE");
  auto* token_file = app.add_option("--api-token-file", o.api_token_file,
                                    "File holding the REST API token; default: generated in the state dir")
                         ->envname("SPORED_API_TOKEN_FILE");
  app.add_flag("--no-api-token", o.no_api_token, "Serve the REST API without authentication (restart is open!)")
      ->envname("SPORED_NO_API_TOKEN")
      ->excludes(token_file);
  app.add_flag("--no-bearer", o.no_bearer,
               "Refuse 'Authorization: Bearer <token>': accept only request proofs, which never reveal the token "
               "(the spore CLI and the dashboard send proofs; docs/security.md)")
      ->envname("SPORED_NO_BEARER")
      ->excludes("--no-api-token");
  app.add_option("--join", r.join,
                 "IP[:PORT] of a peer to contact by unicast (repeatable; for networks without broadcast)")
      ->envname("SPORED_JOIN")
      ->delimiter(',');
}

void add_ota_flags(CLI::App& app, Options& o, RawFlags& r) {
  app.add_option("--ota-public-key-file", o.ota_public_key_file,
                 "PEM RSA public key (-----BEGIN PUBLIC KEY-----): firmware updates must be signed with its private "
                 "key; unset = unsigned images are accepted")
      ->envname("SPORED_OTA_PUBLIC_KEY_FILE");
  app.add_option("--http-max-connections", o.http_max_connections,
                 "REST connections open at once; a request on one more is answered 503 overloaded")
      ->envname("SPORED_HTTP_MAX_CONNECTIONS")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--http-max-per-address", o.http_max_connections_per_address,
                 "REST connections from one client address (a slow or hostile client cannot take them all; "
                 "raise it behind a reverse proxy, whose clients all arrive from its address)")
      ->envname("SPORED_HTTP_MAX_PER_ADDRESS")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--ota-max-image-bytes", o.ota_max_image_bytes,
                 "Largest firmware image accepted, bytes [default: free space beside the executable minus 16 MiB, at "
                 "most 256 MiB]")
      ->envname("SPORED_OTA_MAX_IMAGE_BYTES")
      ->check(CLI::PositiveNumber);
  app.add_option("--ota-trial-timeout-s", r.ota_trial_timeout_s,
                 "A new firmware image must prove healthy (REST answering, back in the cluster) within this many "
                 "seconds of the switch, else the previous image is restored [default: 60, or the stable period + "
                 "30 when that is longer]")
      ->envname("SPORED_OTA_TRIAL_TIMEOUT_S")
      ->check(CLI::Range(5, 3600));
  app.add_option("--ota-trial-stable-s", r.ota_trial_stable_s,
                 "Seconds a new firmware image must run before it may prove healthy [default: the INACTIVE "
                 "threshold, at least 2]")
      ->envname("SPORED_OTA_TRIAL_STABLE_S")
      ->check(CLI::Range(1, 3600));
  app.add_option("--ota-url-timeout-s", o.ota_url_timeout_s,
                 "MQTT cmd/ota: a firmware download from a URL is given up after this many seconds (connection to "
                 "last byte); the running image stays")
      ->envname("SPORED_OTA_URL_TIMEOUT_S")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  app.add_flag("--self-test", o.self_test,
               "Load the configuration, keys and state as a start would, check the REST API in process, print "
               "'spored <version> self-test ok' and exit 0; binds no port and writes nothing (run on every new "
               "image before an update switches to it)");
}

void add_mqtt_flags(CLI::App& app, Options& o, RawFlags& r) {
  app.add_option("--mqtt", r.mqtt_url,
                 "Bridge this node to an MQTT broker, mqtt://host[:port] (port 1883 by default; docs/mqtt.md); unset "
                 "= no MQTT")
      ->envname("SPORED_MQTT");
  app.add_option("--mqtt-cluster", o.mqtt_cluster,
                 "MQTT topics live under spore/<NAME>/<node>/ (1-31 of A-Z a-z 0-9 _ -)")
      ->envname("SPORED_MQTT_CLUSTER")
      ->capture_default_str();
  app.add_option("--mqtt-username", o.mqtt_username, "MQTT username; unset = anonymous")
      ->envname("SPORED_MQTT_USERNAME");
  app.add_option("--mqtt-password-file", o.mqtt_password_file, "File holding the MQTT password (with --mqtt-username)")
      ->envname("SPORED_MQTT_PASSWORD_FILE");
  app.add_option("--mqtt-discovery-prefix", o.mqtt_discovery_prefix,
                 "Home Assistant MQTT discovery prefix; \"\" = no discovery documents")
      ->envname("SPORED_MQTT_DISCOVERY_PREFIX")
      ->capture_default_str();
  app.add_option("--mqtt-state-interval-s", o.mqtt_state_interval_s,
                 "Seconds between refreshes of the retained <base>/state (also sent on connect and member changes)")
      ->envname("SPORED_MQTT_STATE_INTERVAL_S")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  app.add_option("--mqtt-keepalive-s", o.mqtt_keepalive_s,
                 "MQTT keepalive, s (libmosquitto: at least 5): the broker publishes the last will (offline) after 1.5 "
                 "x this of silence")
      ->envname("SPORED_MQTT_KEEPALIVE_S")
      ->capture_default_str()
      ->check(CLI::Range(5, 3600));
  app.add_flag("--mqtt-allow-token-payload", o.mqtt_allow_token_payload,
               "UNSAFE: also accept MQTT commands as '<token> <args>' (the token travels in clear on the broker and "
               "such a command can be replayed); without it commands need a proof (spore mqtt proof, docs/mqtt.md)")
      ->envname("SPORED_MQTT_ALLOW_TOKEN_PAYLOAD");
  app.add_option("--log-level", r.log_level, "error | warn | info | debug")
      ->envname("SPORED_LOG_LEVEL")
      ->capture_default_str()
      ->check(CLI::IsMember({"error", "warn", "warning", "info", "debug"}));
}

// Profile, timers, ports and the OTA trial: -1 when usable, else the exit code (message printed).
int check_node_options(const RawFlags& r, Options& o) {
  const spore::Profile named = profile_named(r.profile);
  o.profile = named == spore::Profile::kFast ? "fast" : named == spore::Profile::kEsp8266 ? "esp8266" : "lan";
  o.config = timers_from(named, r.timers, r.liveness);
  if (!spore::posix::parse_ipv4(o.bind, &o.bind_ip)) {
    return usage_error("--bind: '" + o.bind + "' is not an IPv4 address (like 0.0.0.0 or 127.0.0.2)");
  }
  // The esp8266 profile's HTTP port is 80, which needs privileges on Linux; a Linux node always
  // defaults to 8080 unless told otherwise.
  o.http_port = r.http_port > 0 ? static_cast<uint16_t>(r.http_port) : uint16_t{8080};
  o.udp_port = r.udp_port > 0 ? static_cast<uint16_t>(r.udp_port) : o.config.udp_port;
  o.config.http_port = o.http_port;
  o.config.udp_port = o.udp_port;
  if (const char* err = o.config.validate()) {
    return usage_error("invalid configuration: " + explain_invalid(err, o.config, r.timers));
  }
  o.ota_trial_stable_ms =
      r.ota_trial_stable_s > 0 ? r.ota_trial_stable_s * 1000 : std::max<uint32_t>(o.config.inactive_after_ms, 2000);
  o.ota_trial_timeout_s =
      r.ota_trial_timeout_s > 0 ? r.ota_trial_timeout_s : std::max<uint32_t>(60, o.ota_trial_stable_ms / 1000 + 30);
  if (uint64_t{o.ota_trial_stable_ms} + 3000 > uint64_t{o.ota_trial_timeout_s} * 1000) {
    return usage_error("--ota-trial-timeout-s (" + std::to_string(o.ota_trial_timeout_s) +
                       " s) must exceed the stable period (" + std::to_string(o.ota_trial_stable_ms / 1000) +
                       " s) by at least 3 s");
  }
  return -1;
}

// Names, state directory, join targets and MQTT: -1 when usable, else the exit code.
int check_other_options(const RawFlags& r, Options& o) {
  if (!o.hostname.empty() && !valid_hostname(o.hostname)) {
    return usage_error("--hostname: '" + o.hostname + "' must be 1-31 characters of A-Z a-z 0-9 - _ .");
  }
  if (o.state_dir.empty()) o.state_dir = default_state_dir();
  for (const std::string& j : r.join) {
    JoinTarget t;
    if (!parse_join(j, o.udp_port, &t)) return usage_error("--join: '" + j + "' is not IPv4[:PORT]");
    o.join.push_back(t);
  }
  if (!r.mqtt_url.empty()) {
    std::string why;
    if (!spore::posix::parse_mqtt_url(r.mqtt_url, &o.mqtt_host, &o.mqtt_port, &why))
      return usage_error("--mqtt: " + why);
  }
  if (o.mqtt_cluster.empty() || o.mqtt_cluster.size() > 31 ||
      o.mqtt_cluster.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") !=
          std::string::npos) {
    return usage_error("--mqtt-cluster: '" + o.mqtt_cluster + "' must be 1-31 characters of A-Z a-z 0-9 _ -");
  }
  if (!o.mqtt_password_file.empty() && o.mqtt_username.empty()) {
    return usage_error("--mqtt-password-file needs --mqtt-username");
  }
  spore::posix::parse_log_level(r.log_level, &o.log_level);
  return -1;
}

}  // namespace

int parse_options(int argc, char** argv, Options* out) {
  Options o;
  CLI::App app{
      "spored: the SPORE node daemon for Linux. Joins the cluster on the local network over UDP "
      "and serves the REST API (/api/node/status, /api/cluster/members, /api/node/restart, "
      "/api/node/update).",
      "spored"};
  app.set_version_flag("--version", std::string("spored ") + spore::posix::firmware_version());
  app.set_config("--config", "", "Read flags from this INI/TOML file (key = value, names as the long flags)");
  app.get_config_ptr()->envname("SPORED_CONFIG");
  RawFlags r;
  add_node_flags(app, o, r);
  add_ota_flags(app, o, r);
  add_mqtt_flags(app, o, r);

  const std::optional<int> stop = spore_apps::parse_command_line(app, argc, argv, usage_error);
  if (stop) return *stop;
  if (const int code = check_node_options(r, o); code != -1) return code;
  if (const int code = check_other_options(r, o); code != -1) return code;
  *out = std::move(o);
  return -1;
}

}  // namespace spored
