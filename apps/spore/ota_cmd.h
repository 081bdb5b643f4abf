#pragma once
/// @file ota_cmd.h
/// The I/O side of `spore ota update`, `spore ota all`, `spore keygen`, `spore sign` and
/// `spore verify`: HTTP uploads streamed from the file, waiting for nodes to come back, threads for
/// the waves, terminal progress. The rules they follow are in ota_logic.h (unit-tested).

#include <optional>
#include <string>

#include "cli_logic.h"

namespace spore {
namespace cli {

/// A failure that ends a command: message for stderr and exit code (kExitFailure / kExitUsage).
struct CliError {
  int code;
  std::string message;
};

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
/// result table; 0 when no node failed, 1 otherwise.
int cmd_ota_all(const NodeAddress& observer, const OtaAllOptions& options);

/// spore keygen [--out DIR] [--bits N] [--force].
int cmd_keygen(const std::string& dir, int bits, bool force);

/// spore sign FILE --key private.key [--out FILE.signed] [--force] [--allow-downgrade].
int cmd_sign(const std::string& file, const std::string& key, const std::optional<std::string>& out, bool force,
             bool allow_downgrade = false);

/// spore verify FILE --key public.key.
int cmd_verify(const std::string& file, const std::string& key);

}  // namespace cli
}  // namespace spore
