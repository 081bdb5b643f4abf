#pragma once
/// @file cli_logic.h
/// The pure parts of the `spore` CLI: where the node is (flag, environment, `.env`), how a REST
/// answer is shown to a person (tables, "3 s ago", key: value lines, error bodies), how a token
/// is found. No I/O here except what callers pass in as strings, so every rule is unit-tested
/// (tests/posix/spore_cli_test.cpp). Host-side code: the standard library is allowed.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#ifndef SPORE_CLI_MAX_CELL_COLUMNS
/// Widest cell of a table the CLI prints (members, discover): longer node text is cut and ends in
/// an ellipsis (U+2026), so a table's size is bounded by rows x columns, not rows x widest cell.
/// `--json` prints the values whole.
#define SPORE_CLI_MAX_CELL_COLUMNS 64
#endif

namespace spore {
namespace cli {

constexpr size_t kMaxCellColumns = SPORE_CLI_MAX_CELL_COLUMNS;

/// Default REST port of a Linux node (Config::default_lan().http_port). An ESP-01 serves on 80:
/// give it explicitly (`--node 192.168.1.100:80`).
constexpr uint16_t kDefaultHttpPort = 8080;
/// Default UDP port of the wire protocol (seed contract).
constexpr uint16_t kDefaultUdpPort = 4210;

/// Exit codes: 0 success, 1 the operation failed (node unreachable, error answer, nothing
/// found), 2 the command line is wrong.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

/// A REST endpoint: host (name, IPv4, or IPv6 without brackets) and TCP port.
struct NodeAddress {
  std::string host;
  uint16_t port = kDefaultHttpPort;
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

/// "now" below 1 s, "3 s ago", "4 min ago", "2 h ago", "3 d ago"; "-" for a negative value.
std::string format_ago(int64_t ms);

/// "512 B", "39.5 KiB", "1.2 MiB", "3.0 GiB".
std::string format_bytes(uint64_t bytes);

/// Orders names as people expect: digit runs compare by value ("demo-2" < "demo-10").
bool natural_less(std::string_view a, std::string_view b);

/// ANSI colour for a member status: ACTIVE green, INACTIVE yellow, DEAD red; "" otherwise.
const char* status_color(std::string_view status);

/// The members table for people from a GET /api/cluster/members body. One row per member, the
/// answering node (`self`) first, the others by hostname (natural_less); columns HOSTNAME IP STATUS LAST SEEN LATENCY
/// FREE HEAP INC APIS; the answering node's hostname is marked `*`, a member that left gracefully
/// shows `DEAD (left)`. A field missing or of the wrong type shows as "-" rather than failing,
/// so an older or foreign node still renders. With `color`, STATUS is wrapped in ANSI colours
/// (column widths are computed without them). Ends with a summary line. Throws nothing.
std::string format_members_table(const nlohmann::ordered_json& body, bool color);

/// True when `body` has the seed's shape {"members": [ {...}, ... ]}.
bool looks_like_members(const nlohmann::ordered_json& body);

/// GET /api/node/status as `key: value` lines, keys aligned, in the order the node sent them:
/// scalars as they are, `resources` flattened, `api` as one "METHOD uri" line each.
std::string format_status_lines(const nlohmann::ordered_json& body);

/// A one-line message for an HTTP error answer: "unauthorized (401): token required [code]" from
/// the contract's {"error": "...", "code": "..."}, else "HTTP 500: <first 200 bytes of body>".
std::string describe_error_response(int status, std::string_view body);

/// One node heard by `spore discover`.
struct DiscoveredNode {
  uint32_t node_id = 0;
  uint32_t incarnation = 0;
  std::string hostname;
  std::string ip;        ///< as the node announces it, else the datagram's source address
  uint16_t http_port = 0;
  uint16_t udp_port = 0;
  uint32_t free_heap_bytes = 0;
  bool authenticated = false;
  uint32_t announces = 0;  ///< how many ANNOUNCEs were heard from it
};

/// Records `node` in `nodes`: a node id already present is updated in place (newest hostname,
/// address, larger incarnation), else appended. Returns true when the node id is new.
bool merge_discovered(std::vector<DiscoveredNode>& nodes, const DiscoveredNode& node);

/// The discover table: NODE ID HOSTNAME IP HTTP UDP INC, sorted by hostname then id.
std::string format_discovered_table(std::vector<DiscoveredNode> nodes);

/// {"nodes": [{"nodeId","hostname","ip","httpPort","udpPort","incarnation","freeHeap",
/// "authenticated","url"}]}, sorted like the table.
nlohmann::ordered_json discovered_to_json(std::vector<DiscoveredNode> nodes);

/// A plain text table: headers, then rows, columns separated by two spaces and padded to the
/// widest cell (display width), `right_align[c]` for numeric columns; no trailing spaces.
std::string format_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows,
                         const std::vector<bool>& right_align);

/// IPv4 address in wire order (MSB first) as dotted text.
std::string ipv4_to_string(uint32_t ip);

}  // namespace cli
}  // namespace spore
