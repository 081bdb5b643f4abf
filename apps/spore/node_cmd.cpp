// spore node status, spore node restart: one node's resources and endpoints, and a restart (with
// its API token) that can wait for the node to come back with a new incarnation.

#include <httplib.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "cli_context.h"
#include "cli_format.h"
#include "commands.h"
#include "node_rest.h"
#include "request_signer.h"
#include "spore/base/incarnation.h"

namespace spore {
namespace cli {

namespace {

using Json = nlohmann::ordered_json;

int cmd_status(const Globals& g, bool json) {
  const NodeAddress addr = node_address(g);
  std::string raw;
  Json j = get_json(addr, g, "/api/node/status", &raw);
  if (json) {
    print_raw(raw);
  } else {
    std::cout << "node:  " << addr.base_url() << "\n" << format_status_lines(j);
  }
  return kExitOk;
}

struct RestartOptions {
  std::optional<std::string> token;
  std::optional<std::string> token_file;
  bool bearer = false;
  double wait_s = 0;
};

/// Incarnation of the answering node (the `self` member), or nullopt if it does not say.
std::optional<int64_t> self_incarnation(const NodeAddress& addr, const Globals& g) {
  Json j = get_json(addr, g, "/api/cluster/members", nullptr);
  if (!looks_like_members(j)) return std::nullopt;
  for (const Json& m : j["members"]) {
    if (m.is_object() && m.value("self", false) && m.contains("incarnation") && m["incarnation"].is_number()) {
      return m["incarnation"].get<int64_t>();
    }
  }
  return std::nullopt;
}

/// POST /api/node/restart with a one-use request proof (or --bearer); throws CliError unless the
/// node accepted it.
void send_restart(const NodeAddress& addr, const Globals& g, const std::optional<std::string>& token, bool bearer) {
  // A one-use request proof for this POST (empty body), after the node proved it holds the token.
  uint8_t empty_sha[32];
  sha256_of("", empty_sha);
  std::string why;
  const std::optional<Signed> sig = sign_request(addr, g.http_timeout_s, single_token_policy(token, bearer),
                                                 HttpMethod::kPost, "/api/node/restart", empty_sha, &why);
  if (!sig) throw CliError{kExitFailure, addr.to_string() + " POST /api/node/restart: not sent: " + why};
  httplib::Headers headers;
  if (!sig->authorization.empty()) headers.emplace("Authorization", sig->authorization);
  HttpAnswer a = http_call(addr, g, "POST", "/api/node/restart", headers);
  if (a.status == 401) {
    throw CliError{kExitFailure, addr.to_string() + " POST /api/node/restart: " +
                                     describe_error_response(a.status, a.body) + "\n  " +
                                     auth_refusal_hint(a.body, token.has_value())};
  }
  if (a.status < 200 || a.status > 299) {
    throw CliError{kExitFailure, addr.to_string() + " POST /api/node/restart: " +
                                     describe_error_response(a.status, a.body)};
  }
  std::cout << "restart accepted by " << addr.to_string() << " (HTTP " << a.status << ")\n";
}

int cmd_restart(const Globals& g, const RestartOptions& o) {
  const NodeAddress addr = node_address(g);
  const std::optional<std::string> token = token_from(o.token, o.token_file);
  std::optional<int64_t> before;
  if (o.wait_s > 0) before = self_incarnation(addr, g);
  send_restart(addr, g, token, o.bearer);
  if (o.wait_s <= 0) return kExitOk;
  std::cout << "waiting up to " << o.wait_s << " s for it to come back..." << std::endl;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.wait_s);
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    try {
      std::optional<int64_t> now = self_incarnation(addr, g);
      // Serial arithmetic (core/spore/incarnation.h): boot 65,536 comes back as incarnation 0.
      if (now && (!before || incarnation_newer(static_cast<uint32_t>(*now), static_cast<uint32_t>(*before)))) {
        std::cout << "back with incarnation " << format_incarnation(*now);
        if (before) std::cout << " (was " << format_incarnation(*before) << ")";
        std::cout << "\n";
        return kExitOk;
      }
    } catch (const CliError&) {
      // Down while it restarts: keep polling until the deadline.
    }
  }
  throw CliError{kExitFailure, addr.to_string() + " did not come back with a new incarnation within " +
                                   std::to_string(o.wait_s) + " s"};
}

}  // namespace

void add_node_commands(CLI::App& app, Cli& cli) {
  CLI::App* node = app.add_subcommand("node", "one node");
  node->require_subcommand(1);
  auto status_json = std::make_shared<bool>(false);
  CLI::App* status = node->add_subcommand("status", "resources and published endpoints of the node");
  add_json_answer_flag(status, *status_json);
  cli.on_run(status, [&cli, status_json] { return cmd_status(cli.globals(), *status_json); });

  auto o = std::make_shared<RestartOptions>();
  CLI::App* restart = node->add_subcommand("restart", "restart the node (needs its API token)");
  add_token_options(restart, o->token, o->token_file);
  add_bearer_flag(restart, o->bearer);
  add_seconds_option(restart, "--wait", o->wait_s,
                     "wait up to SECONDS for the node to come back with a new incarnation", 0.0, 3600.0);
  cli.on_run(restart, [&cli, o] { return cmd_restart(cli.globals(), *o); });
}

}  // namespace cli
}  // namespace spore
