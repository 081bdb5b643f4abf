#pragma once
/// @file ota_node.h
/// One node's update, start to end, as `ota update` and each node of an `ota all` wave run it:
/// check what it runs, upload the image streamed from the file (with a request proof), wait for
/// it to come back ACTIVE with the new image. The rules are in ota_logic.h (unit-tested).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "cli_logic.h"
#include "json_fields.h"
#include "ota_cmd.h"
#include "ota_logic.h"
#include "ota_progress.h"
#include "rollout_logic.h"
#include "request_signer.h"

namespace spore {
namespace cli {

using OtaClock = std::chrono::steady_clock;

/// Seconds from `t0` to now.
double seconds_since(OtaClock::time_point t0);

/// GET a JSON object, bounded in time and size (bounded_http.h); nullopt with `why` on any failure.
/// `named` (when not null) is set when `why` alone says what is wrong with the address: a host name
/// that does not resolve, or a server that is not a SPORE node (not_spore_answer()).
std::optional<nlohmann::ordered_json> fetch_json(const NodeAddress& addr, const std::string& path, double timeout_s,
                                                 std::string* why, bool* named = nullptr);

/// `j[key]` when it is an integer, else nullopt.
std::optional<int64_t> int_field(const nlohmann::ordered_json& j, const char* key);

/// The first 12 characters of a hash a node reported, escaped (it is the node's text); "?" for "".
std::string short_hash(const std::string& hex);

/// What happened to one node.
struct NodeRun {
  NodeOutcome outcome = NodeOutcome::kFailed;
  std::string reason;
  std::string hostname;
  double seconds = 0;
  int64_t old_incarnation = -1, new_incarnation = -1;
  std::string old_hash, new_hash, version;
  bool upload_only = false;  ///< no_wait: accepted, return not checked
};

/// One node, start to end: check, upload, wait (unless `no_wait`). Never throws. `policy` says
/// which token to prove (request_signer.h); the image goes only to a node that passed its
/// challenge. `observer` confirms the node ACTIVE (nullopt: the node's own members list).
NodeRun update_node(const NodeAddress& addr, const std::string& expected_hostname, const ImageFile& image,
                    const SignPolicy& policy, const OtaCommonOptions& o, bool no_wait,
                    const std::optional<NodeAddress>& observer, Reporter& reporter, const std::string& prefix);

}  // namespace cli
}  // namespace spore
