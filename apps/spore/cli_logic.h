#pragma once
/// @file cli_logic.h
/// The pure parts of the `spore` CLI that say where the node is (flag, environment, `.env`) and
/// which token to use, plus the exit codes. No I/O here except what callers pass in as strings, so
/// every rule is unit-tested (tests/posix/spore_cli_test.cpp). How answers are shown to a person is
/// in cli_format.h. Host-side code: the standard library is allowed.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spore {
namespace cli {

/// Default REST port of a Linux node (Config::default_lan().http_port): the port an address
/// without one gets when it names this host (default_http_port()).
constexpr uint16_t kDefaultHttpPort = 8080;
/// REST port of an ESP8266 node (the seed's ESP-01 serves on 80): the port an address without one
/// gets when it names another host.
constexpr uint16_t kDeviceHttpPort = 80;
/// Default UDP port of the wire protocol (seed contract).
constexpr uint16_t kDefaultUdpPort = 4210;

/// Exit codes: 0 success, 1 the operation failed (node unreachable, error answer, nothing
/// found), 2 the command line is wrong.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

/// A failure that ends a command: message for stderr and exit code (kExitFailure / kExitUsage).
struct CliError {
  int code;
  std::string message;
};

/// A REST endpoint: host (name, IPv4, or IPv6 without brackets) and TCP port.
struct NodeAddress {
  std::string host;
  uint16_t port = kDefaultHttpPort;
  bool port_given = true;  ///< false: parsed from an address without a port (default_http_port() applies)
  /// "host:port" ("[v6]:port" for IPv6), for messages.
  std::string to_string() const;
  /// "http://host:port".
  std::string base_url() const;
};

/// Parses HOST, HOST:PORT, [V6]:PORT, optionally prefixed by "http://" and followed by "/",
/// as a person types it or the seed's API_NODE carries it. nullopt (and `error` set) for an empty
/// host, a port that is not 1..65535, an https:// URL (nodes serve plain HTTP), a path, or spaces.
std::optional<NodeAddress> parse_node_address(std::string_view text, std::string* error = nullptr,
                                              uint16_t default_port = kDefaultHttpPort);

/// The port for an address that names no port: kDefaultHttpPort (8080, where spored listens) when
/// `host` is this machine (localhost, *.localhost, 127.0.0.0/8, ::1, or one of `local_names`: this
/// host's interface addresses and hostname, compared as text, case-insensitively), else
/// kDeviceHttpPort (80, where an ESP-01 serves: the seed's `export API_NODE=192.168.1.100`).
/// A Linux node on another host is named with its port (`--node 192.168.1.50:8080`).
uint16_t default_http_port(std::string_view host, const std::vector<std::string>& local_names);

/// Value of `key` in the text of a `.env` file, the seed's format: lines `KEY=value` or
/// `export KEY=value`, blank lines and `#` comments, values optionally in single or double quotes,
/// an unquoted value ends at ` #`. Not evaluated by a shell: no expansion, no command
/// substitution. The last assignment wins, as in a shell. nullopt when the key is not assigned.
std::optional<std::string> parse_env_value(std::string_view env_text, std::string_view key);

/// Where the node address came from, in the order they are tried.
enum class AddressSource { kFlag, kSporeNodeEnv, kApiNodeEnv, kDotEnv, kNone };
const char* address_source_name(AddressSource source);

struct ResolvedAddress {
  std::optional<NodeAddress> address;  ///< nullopt: none given, or the one found is invalid
  AddressSource source = AddressSource::kNone;
  std::string error;  ///< why, when address is nullopt
};

/// The node to talk to: `--node`, else $SPORE_NODE, else $API_NODE (the seed's variable), else
/// API_NODE in `dotenv_text` (the `.env` of the current directory). Empty strings count as not
/// given. The first source given wins even if invalid (an error then; falling through to the next
/// would silently talk to another node).
ResolvedAddress resolve_node_address(const std::optional<std::string>& flag, const char* spore_node_env,
                                     const char* api_node_env, const std::optional<std::string>& dotenv_text);

/// Why the `.env` at `path` (owned by `owner_uid`, named `owner_name` or "" when unknown, file
/// mode `mode`) may not name the node for a user with effective uid `euid`, or nullopt when it may.
/// Whoever can write that file chooses where requests, and the API token, go: it must be the
/// user's own (owner == euid) and writable by neither its group nor others. No exception for a
/// "private" group: whether another user has that group as primary group is not visible from the
/// member list (issue 18 attack, finding H). The message names the file, its owner and mode, and
/// how to fix it (chown/chmod, or --node).
std::optional<std::string> dotenv_trust_problem(const std::string& path, uint32_t owner_uid,
                                                const std::string& owner_name, uint32_t mode, uint32_t euid);

/// Where the API token came from.
enum class TokenSource { kFlag, kFile, kEnv, kNone };

/// `--token`, else the content of `--token-file` (first line, whitespace trimmed), else
/// $SPORE_TOKEN. Empty values count as not given. Reading the file is the caller's job.
std::optional<std::string> resolve_token(const std::optional<std::string>& flag,
                                         const std::optional<std::string>& file_text, const char* env,
                                         TokenSource* source = nullptr);

/// Whitespace (space, tab, CR, LF) trimmed from both ends.
std::string trim(std::string_view text);

/// True when `s` begins with `prefix`.
bool starts_with(std::string_view s, std::string_view prefix);

}  // namespace cli
}  // namespace spore
