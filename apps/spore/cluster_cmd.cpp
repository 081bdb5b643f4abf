// spore cluster members: the membership table as one node sees it, once or refreshed (--watch).

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "cli_context.h"
#include "cli_format.h"
#include "commands.h"
#include "node_rest.h"
#include "terminal_safe.h"

namespace spore {
namespace cli {

namespace {

using Json = nlohmann::ordered_json;

/// The refresh period of `--watch` given without SECONDS.
constexpr const char* kDefaultWatchS = "2";

struct MembersOptions {
  bool json = false;
  double watch_s = 0;
};

std::string members_once(const NodeAddress& addr, const Globals& g, const MembersOptions& o,
                         bool color) {
  std::string raw;
  Json j = get_json(addr, g, "/api/cluster/members", &raw);
  if (o.json) return raw.empty() || raw.back() != '\n' ? raw + "\n" : raw;
  if (!looks_like_members(j)) {
    throw CliError{kExitFailure, addr.to_string() + ": the answer has no \"members\" list: " +
                                    terminal_safe(raw.substr(0, 200))};
  }
  return format_members_table(j, color);
}

int cmd_members(const Globals& g, const MembersOptions& o) {
  const NodeAddress addr = node_address(g);
  const bool color = use_color(g);
  if (o.watch_s <= 0) {
    std::cout << members_once(addr, g, o, color);
    return kExitOk;
  }
  const bool tty = isatty(STDOUT_FILENO) == 1;
  for (;;) {
    std::string text;
    try {
      text = members_once(addr, g, o, color);
    } catch (const CliError& f) {
      text = "spore: " + f.message + "\n";  // keep watching: the node may come back
    }
    if (o.json) {
      std::cout << text;
    } else {
      if (tty) std::cout << "\033[H\033[2J";
      std::time_t now = std::time(nullptr);
      char clock[16];
      std::strftime(clock, sizeof(clock), "%H:%M:%S", std::localtime(&now));
      std::cout << "cluster members at " << addr.to_string() << ", every " << o.watch_s << " s, " << clock
                << "   (Ctrl-C to stop)\n\n"
                << text;
    }
    std::cout.flush();
    std::this_thread::sleep_for(std::chrono::duration<double>(o.watch_s));
  }
}

}  // namespace

void add_cluster_commands(CLI::App& app, Cli& cli) {
  CLI::App* cluster = app.add_subcommand("cluster", "cluster-wide views");
  cluster->require_subcommand(1);
  auto o = std::make_shared<MembersOptions>();
  CLI::App* members = cluster->add_subcommand("members", "the membership table as the node sees it");
  add_json_answer_flag(members, o->json);
  // -w alone refreshes every kDefaultWatchS; -w 5 every 5 s.
  add_seconds_option(members, "-w,--watch", o->watch_s,
                     "refresh every SECONDS (2 when none is given) until Ctrl-C", 0.1, 3600.0)
      ->expected(0, 1)
      ->default_str(kDefaultWatchS);
  cli.on_run(members, [&cli, o] { return cmd_members(cli.globals(), *o); });
}

}  // namespace cli
}  // namespace spore
