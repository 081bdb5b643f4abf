#pragma once
/// @file commands.h
/// The subcommand groups of `spore`, one file each: add_*_commands() adds the group's CLI11
/// subcommands, options and help to `app` and registers what each runs with `cli` (cli_context.h).
/// main() calls them in this order, which is the order `spore --help` lists them in.

namespace CLI {
class App;
}

namespace spore {
namespace cli {

class Cli;

/// cluster members [--json] [--watch S] (cluster_cmd.cpp).
void add_cluster_commands(CLI::App& app, Cli& cli);
/// node status, node restart (node_cmd.cpp).
void add_node_commands(CLI::App& app, Cli& cli);
/// discover: the nodes' UDP announcements (discover_cmd.cpp).
void add_discover_commands(CLI::App& app, Cli& cli);
/// events publish, events watch (events_cmd.cpp; watch in events_watch.cpp).
void add_events_commands(CLI::App& app, Cli& cli);
/// mqtt proof (mqtt_cmd.cpp).
void add_mqtt_commands(CLI::App& app, Cli& cli);
/// ota update, ota all (ota_cmd.cpp; one node in ota_node.cpp, the waves in ota_rollout.cpp).
void add_ota_commands(CLI::App& app, Cli& cli);
/// keygen, sign, verify (sign_cmd.cpp).
void add_signing_commands(CLI::App& app, Cli& cli);

}  // namespace cli
}  // namespace spore
