#pragma once
/// @file ota_cmd.h
/// `spore ota update` (one node) and `spore ota all` (the fleet in waves, ota_rollout.cpp): their
/// options and what both load before anything is sent (the image, the tokens). One node's update
/// is in ota_node.h; the rules they follow are in ota_logic.h (unit-tested). add_ota_commands()
/// (commands.h) registers both.

#include <cstddef>
#include <optional>
#include <string>

#include "cli_logic.h"
#include "ota_logic.h"
#include "ota_crypto.h"
#include "request_signer.h"

namespace spore {
namespace cli {

/// Options both OTA commands share.
struct OtaCommonOptions {
  std::string file;
  std::optional<std::string> token;       ///< --token
  std::optional<std::string> token_file;  ///< --token-file
  std::optional<std::string> token_map;   ///< --token-map FILE ("NODE_ID TOKEN" lines)
  bool bearer = false;                    ///< --bearer: send the token itself, no request proof
  double timeout_s = 60;                  ///< per node: upload stall limit and wait for its return
  double http_timeout_s = 5;              ///< one ordinary REST call
  bool raw = false;                       ///< application/octet-stream instead of multipart
  bool json = false;
  bool force = false;                     ///< upload even when the node already runs this image
  bool allow_downgrade = false;           ///< --allow-downgrade: ?allow_downgrade=1, which the proof signs
};

struct OtaUpdateOptions : OtaCommonOptions {
  bool no_wait = false;
};

struct OtaAllOptions : OtaCommonOptions {
  size_t canary = 1;
  size_t parallel = 4;
};

/// spore ota update NODE FILE: 0 when the node is back with the new image (or accepted it, with
/// no_wait), else throws CliError.
int cmd_ota_update(const NodeAddress& node, const OtaUpdateOptions& options);

/// spore ota all FILE: the whole fleet as `observer` lists it, canary then waves. Prints the
/// result table; 0 when no node failed, 1 otherwise (ota_rollout.cpp).
int cmd_ota_all(const NodeAddress& observer, const OtaAllOptions& options);

/// The image FILE, inspected (size, signature, hashes); throws CliError (exit 2) when unreadable
/// or not a firmware image (image_format_problem()). Both OTA commands call it before any request.
ImageFile load_image(const std::string& path);

/// The --token-map file parsed (empty without one); throws CliError (exit 2) when it is unreadable
/// or malformed.
TokenMap load_token_map(const OtaCommonOptions& o);

/// Tokens by node id: `map`'s line for the node, else `fallback` (--token, --token-file,
/// $SPORE_TOKEN). `map` must outlive the policy.
SignPolicy sign_policy(const OtaCommonOptions& o, const TokenMap& map, const std::optional<std::string>& fallback);

/// "FILE: 1.2 MiB, signed (256-byte signature), image sha256 ..." for stderr.
std::string describe_image(const ImageFile& image);

}  // namespace cli
}  // namespace spore
