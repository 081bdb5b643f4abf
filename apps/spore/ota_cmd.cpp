#include "ota_cmd.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <vector>

#include "cli_context.h"
#include "cli_format.h"
#include "commands.h"
#include "ota_node.h"
#include "terminal_safe.h"

namespace spore {
namespace cli {

using Json = nlohmann::ordered_json;

/// Tokens by node id: the map's line for the node, else the shared token.
SignPolicy sign_policy(const OtaCommonOptions& o, const TokenMap& map, const std::optional<std::string>& fallback) {
  SignPolicy p;
  p.token_for = [&map, fallback](uint32_t node_id) { return token_for_node(map, node_id, fallback); };
  p.bearer = o.bearer;
  return p;
}

TokenMap load_token_map(const OtaCommonOptions& o) {
  if (!o.token_map) return {};
  std::optional<std::string> text = read_file(*o.token_map);
  if (!text) throw CliError{kExitUsage, "cannot read the token map '" + *o.token_map + "'"};
  std::string error;
  std::optional<TokenMap> map = parse_token_map(*text, &error);
  if (!map) throw CliError{kExitUsage, "token map '" + *o.token_map + "': " + error};
  return *map;
}

ImageFile load_image(const std::string& path) {
  ImageFile image;
  std::string error;
  if (!inspect_image(path, &image, &error)) throw CliError{kExitUsage, error};
  // Before any request: a wrong file (a text, a gzip, a key) fails here, no node touched.
  if (const std::optional<std::string> problem = image_format_problem(
          terminal_safe(path), reinterpret_cast<const uint8_t*>(image.head.data()), image.head.size())) {
    throw CliError{kExitUsage, *problem};
  }
  return image;
}

std::string describe_image(const ImageFile& image) {
  std::string out = image.path + ": " + format_bytes(image.size_bytes);
  if (image.layout.is_signed) {
    out += ", signed (" + std::to_string(image.layout.signature_bytes) + "-byte signature), image sha256 " +
           image.hashes.image_sha256;
  } else {
    out += ", unsigned, sha256 " + image.hashes.image_sha256;
  }
  return out;
}

namespace {

/// `ota update --json`: the run as one JSON object.
Json update_to_json(const NodeAddress& node, const ImageFile& image, const NodeRun& run) {
  Json j;
  j["ok"] = run.outcome != NodeOutcome::kFailed;
  j["node"] = node.to_string();
  j["hostname"] = run.hostname;
  j["result"] = outcome_code(run.outcome);
  j["reason"] = run.reason;
  j["seconds"] = std::round(run.seconds * 1000) / 1000;
  j["sha256"] = image.hashes.image_sha256;
  j["fileSha256"] = image.hashes.file_sha256;
  j["signed"] = image.layout.is_signed;
  j["waited"] = !run.upload_only;
  j["incarnationBefore"] = run.old_incarnation;
  j["incarnationAfter"] = run.new_incarnation;
  if (!run.version.empty()) j["firmwareVersion"] = run.version;
  return j;
}

/// `ota update` for people: the result line on stdout (0), or a CliError for a failure.
int print_update(const NodeAddress& node, const NodeRun& run) {
  char secs[32];
  std::snprintf(secs, sizeof(secs), "%.1f s", run.seconds);
  // The node's hostname, version and reasons go to a terminal: terminal_safe (issue 18, finding 5).
  const std::string who =
      (run.hostname.empty() ? node.to_string() : terminal_safe(run.hostname) + " (" + node.to_string() + ")");
  switch (run.outcome) {
    case NodeOutcome::kUpdated:
      if (run.upload_only) {
        std::cout << who << ": image accepted, the node restarts (not waiting: --no-wait) after " << secs << "\n";
      } else {
        std::cout << who << ": updated in " << secs << ": back ACTIVE with image " << short_hash(run.new_hash);
        if (!run.version.empty()) std::cout << ", version " << terminal_safe(run.version);
        if (run.old_incarnation >= 0 && run.new_incarnation >= 0) {
          std::cout << ", incarnation " << format_incarnation(run.old_incarnation) << " -> "
                    << format_incarnation(run.new_incarnation);
        }
        std::cout << "\n";
      }
      return kExitOk;
    case NodeOutcome::kUpToDate:
      std::cout << who << ": already runs image " << short_hash(run.new_hash) << ", nothing sent\n";
      return kExitOk;
    default:
      // The reason may quote a node (a status, a digest): shown, not obeyed; its own hint lines kept.
      throw CliError{kExitFailure,
                     who + ": update failed after " + secs + ": " + terminal_safe(run.reason, Newlines::kKeep)};
  }
}

}  // namespace

int cmd_ota_update(const NodeAddress& node, const OtaUpdateOptions& o) {
  const ImageFile image = load_image(o.file);
  const TokenMap map = load_token_map(o);
  const std::optional<std::string> fallback = token_from(o.token, o.token_file);
  std::string why;
  bool named = false;
  std::optional<Json> status = fetch_json(node, "/api/node/status", o.http_timeout_s, &why, &named);
  if (!status) {
    throw CliError{kExitFailure, named ? why
                                       : "cannot reach the node at " + node.base_url() + ": " + why +
                                             ". Is it running? (`spore discover` lists the nodes on the LAN)"};
  }
  const std::string hostname = json_string(*status, "hostname");
  SignPolicy policy = sign_policy(o, map, fallback);
  if (o.bearer) {
    // A bearer token is chosen by the id the node claims: nothing checks the claim (--bearer's risk).
    const std::optional<int64_t> id = int_field(*status, "nodeId");
    if (id && *id >= 0 && *id <= UINT32_MAX) policy.expected_node_id = static_cast<uint32_t>(*id);
  }
  Reporter reporter(!o.json && isatty(STDERR_FILENO) == 1 ? Reporter::Mode::kBar : Reporter::Mode::kLines);
  if (!o.json) std::cerr << describe_image(image) << "\n";
  NodeRun run = update_node(node, hostname, image, policy, o, o.no_wait, std::nullopt, reporter, "");
  if (o.json) {
    std::cout << json_for_terminal(update_to_json(node, image, run), 2) << "\n";
    return run.outcome == NodeOutcome::kFailed ? kExitFailure : kExitOk;
  }
  return print_update(node, run);
}

namespace {

/// The options `ota update` and `ota all` share.
void add_common_options(CLI::App* cmd, OtaCommonOptions& o) {
  auto* tok = cmd->add_option("--token", o.token, "API token for every node (else --token-file, else $SPORE_TOKEN)")
                  ->type_name("TOKEN");
  cmd->add_option("--token-file", o.token_file, "file holding the API token for every node")
      ->excludes(tok)
      ->type_name("FILE");
  cmd->add_option("--token-map", o.token_map,
                  "per-node tokens: lines 'NODE_ID TOKEN', NODE_ID the node's id as 8 hex digits (its state "
                  "dir's node_id file; # comments); a node without a line gets --token / --token-file / "
                  "$SPORE_TOKEN")
      ->check(CLI::ExistingFile)
      ->type_name("FILE");
  cmd->add_flag("--bearer", o.bearer,
                "send the API token itself ('Authorization: Bearer') instead of a one-use request proof: for "
                "nodes older than request proofs; anyone on the path can read and reuse it, and node "
                "identities are not checked");
  add_seconds_option(cmd, "-t,--timeout", o.timeout_s,
                     "per node: seconds to wait for it to come back ACTIVE with the new image after the upload "
                     "(also the limit for a stalled upload and for the answer to it)",
                     1.0, 3600.0)
      ->capture_default_str();
  cmd->add_flag("--raw", o.raw, "send the image as application/octet-stream instead of multipart (curl -F)");
  cmd->add_flag("--force", o.force, "upload even to a node that already runs this image");
  cmd->add_flag("--allow-downgrade", o.allow_downgrade,
                "let a node with an OTA public key install a signed image older than the one it runs, when the "
                "image was signed with 'spore sign --allow-downgrade'; without both such nodes answer 422 downgrade");
  cmd->add_flag("-j,--json", o.json, "print the result as JSON on stdout (progress stays on stderr)");
}

/// `ota update [NODE] FILE`: NODE from the arguments, else the global options.
int run_ota_update(const Globals& g, OtaUpdateOptions& o, const std::vector<std::string>& args) {
  o.http_timeout_s = g.http_timeout_s;
  if (args.size() == 2) {
    std::string error;
    std::optional<NodeAddress> addr = parse_node_address(args[0], &error);
    if (!addr) throw CliError{kExitUsage, "ota update: " + error};
    o.file = args[1];
    return cmd_ota_update(with_default_port(*addr), o);
  }
  o.file = args[0];
  return cmd_ota_update(node_address(g), o);
}

void add_update_command(CLI::App* ota, Cli& cli) {
  auto o = std::make_shared<OtaUpdateOptions>();
  auto args = std::make_shared<std::vector<std::string>>();
  CLI::App* update = ota->add_subcommand(
      "update", "send FILE to one node, show progress, wait until it is back ACTIVE with the new image");
  update->add_option("args", *args, "[NODE] FILE: NODE as HOST[:PORT] (else --node, $SPORE_NODE, API_NODE)")
      ->required()
      ->expected(1, 2)
      ->type_name("[NODE] FILE");
  add_common_options(update, *o);
  update->add_flag("--no-wait", o->no_wait, "return once the node accepted the image");
  cli.on_run(update, [&cli, o, args] { return run_ota_update(cli.globals(), *o, *args); });
}

void add_all_command(CLI::App* ota, Cli& cli) {
  auto o = std::make_shared<OtaAllOptions>();
  CLI::App* all = ota->add_subcommand(
      "all", "update every node the --node node lists (not DEAD): canary first, then waves of at most --parallel; "
             "stops at the first failure and prints a per-node table");
  all->add_option("file", o->file, "the image (ESP8266 .bin, or an ELF for Linux nodes; signed or not)")
      ->required()
      ->type_name("FILE");
  add_common_options(all, *o);
  all->add_option("--canary", o->canary, "nodes updated first, alone, before any wave (0: none)")
      ->check(CLI::Range(0, 1000))
      ->type_name("N")
      ->capture_default_str();
  all->add_option("--parallel", o->parallel, "nodes updated at the same time in each wave (1: one by one)")
      ->check(CLI::Range(1, 256))
      ->type_name("K")
      ->capture_default_str();
  cli.on_run(all, [&cli, o] {
    o->http_timeout_s = cli.globals().http_timeout_s;
    return cmd_ota_all(node_address(cli.globals()), *o);
  });
}

}  // namespace

void add_ota_commands(CLI::App& app, Cli& cli) {
  CLI::App* ota = app.add_subcommand("ota", "over-the-air updates: one node, or the whole fleet in waves");
  ota->require_subcommand(1);
  add_update_command(ota, cli);
  add_all_command(ota, cli);
}

}  // namespace cli
}  // namespace spore
