#pragma once
/// @file cli_format.h
/// How the `spore` CLI shows a node's REST answers and the nodes it heard to a person: tables,
/// "3 s ago", key: value lines, error bodies. Pure functions of their arguments, unit-tested
/// (tests/posix/spore_cli_test.cpp). Host-side code: the standard library is allowed.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_logic.h"

#ifndef SPORE_CLI_MAX_CELL_COLUMNS
/// Widest cell of a table the CLI prints (members, discover): longer node text is cut and ends in
/// an ellipsis (U+2026), so a table's size is bounded by rows x columns, not rows x widest cell.
/// `--json` prints the values whole.
#define SPORE_CLI_MAX_CELL_COLUMNS 64
#endif

namespace spore {
namespace cli {

constexpr size_t kMaxCellColumns = SPORE_CLI_MAX_CELL_COLUMNS;

/// `s` cut to at most `max_columns` columns (code points), the last one an ellipsis (U+2026) when
/// it was longer.
std::string clip_columns(std::string_view s, size_t max_columns);

/// "now" below 1 s, "3 s ago", "4 min ago", "2 h ago", "3 d ago"; "-" for a negative value.
std::string format_ago(int64_t ms);

/// An incarnation as people read it: "BOOT/SEQ" (boot = inc >> 16, the restarts; seq = inc & 0xFFFF,
/// the refutations since), e.g. "2/0" for 131072. A number outside 0..2^32-1 is shown as it is.
std::string format_incarnation(int64_t incarnation);

/// The one unit rule for people (docs/api.md, same as the dashboard's formatBytes()): below 1024
/// "N B", else the largest of KiB, MiB, GiB, TiB whose value is >= 1, with one decimal rounded
/// half up: "512 B", "39.5 KiB", "1.2 MiB", "23.4 GiB".
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

/// "this is not a SPORE node (answered HTML from URL)" when an answer from `url` (`content_type`,
/// `body`) is not SPORE's JSON: a non-empty body that does not parse as JSON ("HTML" for text/html
/// or a body starting with '<', else its content type, else "something else"). nullopt for JSON
/// or an empty body. The body itself is never quoted: a web server's page is not for the terminal.
std::optional<std::string> not_spore_answer(const std::string& url, std::string_view content_type,
                                            std::string_view body);

/// One node heard by `spore discover`.
struct DiscoveredNode {
  uint32_t node_id = 0;
  uint32_t incarnation = 0;
  std::string hostname;
  std::string ip;        ///< as the node announces it, else the datagram's source address
  uint16_t http_port = 0;
  uint16_t udp_port = 0;
  uint64_t free_heap_bytes = 0;  ///< as the ANNOUNCE codes it (heap_size.h)
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
