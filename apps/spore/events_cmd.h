#pragma once
/// @file events_cmd.h
/// `spore events publish TOPIC DATA` and `spore events watch`: the CLI side of cluster events
/// (docs/events.md). The rules they follow are in events_logic.h (unit-tested); these run them
/// (HTTP, threads, signals). add_events_commands() (commands.h) registers both.

#include <functional>
#include <optional>
#include <string>

#include "cli_logic.h"
#include "events_logic.h"

namespace spore {
namespace cli {

struct EventsPublishOptions {
  std::string topic;
  std::optional<std::string> data;        ///< DATA; "-" reads stdin
  std::optional<std::string> file;        ///< --file PATH
  std::optional<std::string> token;       ///< --token
  std::optional<std::string> token_file;  ///< --token-file
  bool bearer = false;                    ///< --bearer: the token itself, no request proof
  bool json = false;
};

struct EventsWatchOptions {
  std::optional<std::string> topic;  ///< --topic: server-side filter
  bool json = false;
  size_t count = 0;                  ///< --count N: stop after N events (0: no limit)
  double timeout_s = 0;              ///< --timeout S: stop after S seconds (0: no limit)
};

/// What the commands take from the global options: the node (resolved lazily, so a bad topic is refused before
/// the address is even looked at), the REST timeout and whether stdout gets colour.
struct EventsContext {
  std::function<NodeAddress()> node;
  double http_timeout_s = 5;
  bool color = false;
};

/// The `events` subcommand tree, registered on the top-level app. Keep it alive until run().
/// spore events publish: 0 when the node accepted the event, else throws CliError.
int cmd_events_publish(const EventsContext& context, const EventsPublishOptions& options);

/// spore events watch: prints events until --count, --timeout or Ctrl-C (all 0; see
/// watch_exit_code); throws CliError when the node cannot be reached at first or does not serve
/// the stream (events_watch.cpp).
int cmd_events_watch(const EventsContext& context, const EventsWatchOptions& options);

}  // namespace cli
}  // namespace spore
