#pragma once
/// @file rollout_logic.h
/// The pure logic of `spore ota all` (docs/ota.md, "Fleet rollout"): which members get the image,
/// in which waves, how each node's result is shown, and when a node counts as back with the new
/// image. No I/O; unit-tested in tests/posix/spore_cli_test.cpp. ota_rollout.cpp runs it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ota_logic.h"
#include "rollout_waves.h"

namespace spore {
namespace cli {

/// One node a rollout may update, from the observer's /api/cluster/members.
struct RolloutTarget {
  std::string hostname;
  std::string ip;
  uint16_t http_port = 0;
  std::string status;  ///< ACTIVE / INACTIVE / DEAD as the observer sees it
  bool self = false;   ///< the observer (the --node node) itself
  std::string image_digest;  ///< the member's imageDigest, when listed
  std::optional<uint32_t> node_id;  ///< the member's nodeId, when listed
};

/// The members the observer lists, DEAD ones in `skipped`, the rest in rollout order: by hostname
/// (natural_less), the observer itself last, so it keeps watching the others as long as possible.
/// A member without an ip gets the observer's address if it is `self`, else it is skipped.
/// `observer_host`/`observer_port` are where the CLI reached the observer.
std::vector<RolloutTarget> rollout_targets(const nlohmann::ordered_json& members, const std::string& observer_host,
                                           uint16_t observer_port, std::vector<RolloutTarget>* skipped);

// plan_waves(count, canary, parallel): rollout_waves.h (shared with the simulator's fleet model).

enum class NodeOutcome {
  kNotReached,  ///< a wave before it failed: never contacted, runs what it ran
  kUpdated,     ///< uploaded, restarted, back ACTIVE with the new image
  kUpToDate,    ///< already ran this image: not uploaded
  kFailed,      ///< the upload or the return failed (reason)
  kSkipped,     ///< DEAD at the observer: not attempted
  /// Listed, but did not prove it holds the token for its node id (an impostor, a wrong token, an
  /// open node): sent nothing. Counts as a failure of the rollout (exit status 1).
  kUnverified,
};

/// Widest NODE and VERSION cells of the `ota all` table (longer text ends in an ellipsis), so that
/// NODE + RESULT (11) + TIME (8) + VERSION and the gaps stay within 80 columns.
constexpr size_t kRolloutNodeColumns = 32;
constexpr size_t kRolloutVersionColumns = 22;

struct NodeResult {
  std::string hostname;
  std::string ip;  ///< "ip" or "ip:port" when the port is not 8080
  NodeOutcome outcome = NodeOutcome::kNotReached;
  std::string reason;
  double seconds = -1;  ///< from upload start to confirmed back; < 0 when not attempted
  int wave = -1;        ///< 0 = canary; -1 when not planned
  std::string version;  ///< firmware version the node came back with ("" when unknown)
};

/// "updated", "FAILED", "not reached", "up to date", "skipped", "not sent": the RESULT column.
const char* outcome_text(NodeOutcome outcome);

/// Machine-readable outcome: "updated", "failed", "not_reached", "up_to_date", "skipped".
const char* outcome_code(NodeOutcome outcome);

/// The per-node table, at most 80 columns wide: NODE (hostname, else address; at most
/// kRolloutNodeColumns) RESULT TIME VERSION (at most kRolloutVersionColumns), in the order given;
/// below it one line per node with its address, wave and reason ("n2: 127.0.9.3:9000, wave 1:
/// not back within 10 s"), then a summary line ("10 nodes: 10 updated" / "... 1 failed, 9 not
/// reached"), without colours.
std::string format_rollout_table(const std::vector<NodeResult>& results);

/// {"ok": bool, "sha256", "nodes": [{"hostname","ip","wave","result","reason","seconds"
/// [,"firmwareVersion"]}]}.
nlohmann::ordered_json rollout_to_json(const std::vector<NodeResult>& results, const std::string& sha256);

/// True when any node failed.
bool rollout_failed(const std::vector<NodeResult>& results);

/// Outcome of looking for a node in an observer's members list after its update.
enum class MemberCheck { kConfirmed, kNotListed, kNotActive, kOldImage };

/// Whether `members` lists `hostname` (or, when `node_id` is given, the member with that `nodeId`:
/// a fake member may reuse a hostname) ACTIVE and, when it carries an `imageDigest`, with the
/// digest of the new image. `detail` gets a short reason when not confirmed.
MemberCheck check_member(const nlohmann::ordered_json& members, std::string_view hostname, const ImageHashes& hashes,
                         std::string* detail, std::optional<uint32_t> node_id = std::nullopt);

}  // namespace cli
}  // namespace spore
