// spore: the command-line tool for a SPORE cluster (seed verbs: cluster members, node status,
// node restart, ota update, ota all; plus discover, events, mqtt proof, keygen, sign, verify).
// Talks to one node's REST API; discover listens for the wire protocol's ANNOUNCE broadcasts and
// needs no address at all. Each subcommand group lives in its own file (commands.h); this file
// holds the global options and the order of the groups.
//
// Exit codes: 0 ok, 1 the operation failed (unreachable, error answer, nothing heard),
// 2 bad command line. The pure logic lives in cli_logic.{h,cpp} and cli_format.{h,cpp} and is
// unit-tested.

#include <signal.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bounded_http.h"
#include "cli_context.h"
#include "cli_suggest.h"
#include "commands.h"
#include "posix/version.h"
#include "spore/wire/wire_codec.h"

namespace {

using spore::cli::kExitOk;
using spore::cli::kExitUsage;

constexpr const char* kDescription =
    "spore: the command-line tool for a SPORE cluster.\n"
    "Reads a node's REST API (cluster members, node status, restart), updates nodes over the\n"
    "air (ota update, ota all; keygen and sign for signed images) or listens for the nodes'\n"
    "UDP announcements (discover).";

constexpr const char* kFooter =
    "Node address: -n/--node HOST[:PORT], else $SPORE_NODE, else $API_NODE,\n"
    "else API_NODE in ./.env (e.g. `export API_NODE=192.168.1.100`), only if that file is yours and\n"
    "not writable by group or others (it chooses where the token goes); stderr says which file named the node.\n"
    "Without a port: 8080 (spored's) when HOST is this machine (localhost, 127.x, ::1, its own addresses\n"
    "or hostname), else 80 (an ESP-01's); a Linux node on another host: --node HOST:8080.\n"
    "Global options (-n/--node, --http-timeout, --max-answer-bytes, --color, -q/--quiet) may follow the subcommand.\n"
    "Short forms where a command has them: -j/--json, -w/--watch [SECONDS], -t/--timeout SECONDS, -h/--help.\n"
    "SPORE_ENV_FILE names another .env to read; SPORE_TOKEN holds the API token (node restart, ota, events publish, mqtt proof).\n"
    "Exit codes: 0 ok, 1 failed (unreachable, error answer, nothing heard), 2 bad arguments.";

/// --version, the footer and the options every subcommand takes (they may follow it: fallthrough).
void add_global_options(CLI::App& app, spore::cli::Globals& g) {
  app.set_version_flag("--version", std::string("spore ") + SPORE_VERSION + " (wire protocol v" +
                                        std::to_string(spore::wire::kProtocolVersion) + ")");
  app.require_subcommand(1);
  app.fallthrough();  // global options are accepted after the subcommand too
  app.footer(kFooter);
  app.add_option("-n,--node", g.node, "node to talk to: HOST[:PORT]; without a port 8080 for this host, else 80")
      ->type_name("HOST[:PORT]");
  spore::cli::add_seconds_option(&app, "--http-timeout", g.http_timeout_s,
                                 "seconds one request to a node may take in all (connect, send, the whole answer)",
                                 0.1, 600.0)
      ->capture_default_str();
  app.add_option("--max-answer-bytes", g.max_answer_bytes,
                 "largest answer body read from a node; a larger one is an error (exit 1), the rest unread")
      ->check(CLI::Range(static_cast<size_t>(1024), static_cast<size_t>(1) << 30))
      ->type_name("BYTES")
      ->capture_default_str();
  app.add_flag("-q,--quiet", g.quiet, "no notes on stderr (which .env named the node)");
  app.add_option("--color", g.color, "colour the status column: auto (when stdout is a terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->type_name("WHEN")
      ->capture_default_str();
}

/// CLI11's help with usage lines people read: a positional shows its type name (`[NODE] FILE`,
/// `TOPIC [DATA]`), not its variable's name and count (`args(1x)`).
class UsageFormatter : public CLI::Formatter {
 public:
  std::string make_option_usage(const CLI::Option* opt) const override {
    const std::string name = opt->get_type_name();
    if (!opt->get_positional() || name.empty()) return CLI::Formatter::make_option_usage(opt);
    return opt->get_required() || name.front() == '[' ? name : "[" + name + "]";
  }
};

/// The message and exit code for a command line CLI11 refused (0 for --help and --version).
int usage_error(CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  if (e.get_exit_code() != 0) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (const std::optional<std::string> message = spore::cli::unknown_command_message(app, args)) {
      std::cerr << "spore: " << *message << "\n";
      return kExitUsage;
    }
  }
  return app.exit(e) == 0 ? kExitOk : kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kDescription, "spore"};
  app.formatter(std::make_shared<UsageFormatter>());
  spore::cli::Cli cli;
  add_global_options(app, cli.globals());
  spore::cli::add_cluster_commands(app, cli);
  spore::cli::add_node_commands(app, cli);
  spore::cli::add_discover_commands(app, cli);
  spore::cli::add_events_commands(app, cli);
  spore::cli::add_mqtt_commands(app, cli);
  spore::cli::add_ota_commands(app, cli);
  spore::cli::add_signing_commands(app, cli);

  // A node that closes the connection mid-upload must give an error, not kill the CLI.
  ::signal(SIGPIPE, SIG_IGN);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return usage_error(app, e, argc, argv);
  }
  spore::cli::set_max_answer_bytes(cli.globals().max_answer_bytes);
  if (cli.chosen()) return cli.run_chosen();
  std::cerr << app.help();
  return kExitUsage;
}
