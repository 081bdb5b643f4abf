#include "events_cmd.h"

#include <httplib.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>

#include "bounded_http.h"
#include "node_rest.h"
#include "cli_context.h"
#include "cli_format.h"
#include "commands.h"
#include "json_fields.h"
#include "request_signer.h"
#include "terminal_safe.h"

namespace spore {
namespace cli {

namespace {

using Json = nlohmann::ordered_json;

/// Reads at most `limit` + 1 bytes, so a caller can tell "exactly limit" from "more".
bool read_limited(std::istream& in, size_t limit, std::string* out) {
  out->assign(limit + 1, '\0');
  in.read(&(*out)[0], static_cast<std::streamsize>(limit + 1));
  if (in.bad()) return false;
  out->resize(static_cast<size_t>(in.gcount()));
  return true;
}

/// The node's hostname from GET /api/node/status, for the publish line; "" when it does not say.
std::string node_hostname(const NodeAddress& addr, double timeout_s) {
  const BoundedAnswer a = bounded_request(addr, timeout_s, "GET", "/api/node/status");
  if (!a.ok() || a.status != 200) return "";
  return json_text(parse_node_json(a.body), "hostname");
}

std::string payload_for(const EventsPublishOptions& o) {
  if (o.data && o.file) throw CliError{kExitUsage, "events publish: give DATA or --file PATH, not both"};
  if (!o.data && !o.file) {
    throw CliError{kExitUsage, "events publish: no payload: give DATA, - to read stdin, or --file PATH "
                               "(an empty payload is \"\")"};
  }
  std::string payload;
  std::string from;
  if (o.file) {
    std::ifstream in(*o.file, std::ios::binary);
    if (!in || !read_limited(in, kMaxEventPayloadBytes, &payload)) {
      throw CliError{kExitUsage, "events publish: cannot read the file '" + *o.file + "'"};
    }
    from = "the file '" + *o.file + "'";
  } else if (*o.data == "-") {
    if (!read_limited(std::cin, kMaxEventPayloadBytes, &payload)) {
      throw CliError{kExitUsage, "events publish: cannot read the payload from stdin"};
    }
    from = "stdin";
  } else {
    payload = *o.data;
    from = "DATA";
  }
  if (payload.size() > kMaxEventPayloadBytes) {
    throw CliError{kExitUsage, "events publish: " + from + " holds more than " + std::to_string(kMaxEventPayloadBytes) +
                                   " bytes; an event carries at most " + std::to_string(kMaxEventPayloadBytes) +
                                   " (64 on ESP8266 nodes)"};
  }
  return payload;
}

}  // namespace

int cmd_events_publish(const EventsContext& context, const EventsPublishOptions& o) {
  if (std::optional<std::string> why = topic_error(o.topic)) throw CliError{kExitUsage, "events publish: " + *why};
  const std::string payload = payload_for(o);
  std::optional<std::string> file_text;
  if (o.token_file) {
    std::ifstream in(*o.token_file, std::ios::binary);
    std::string text;
    if (!in || !read_limited(in, 4096, &text)) {
      throw CliError{kExitUsage, "cannot read the token file '" + *o.token_file + "'"};
    }
    if (trim(text).empty()) throw CliError{kExitUsage, "the token file '" + *o.token_file + "' is empty"};
    file_text = text;
  }
  const std::optional<std::string> token = resolve_token(o.token, file_text, std::getenv("SPORE_TOKEN"));
  const NodeAddress addr = context.node();

  const std::string path = publish_path(o.topic);
  // A one-use request proof over the topic (in the path) and the payload, after the node proved it
  // holds the token.
  uint8_t payload_sha[32];
  sha256_of(payload, payload_sha);
  std::string why;
  const std::optional<Signed> sig = sign_request(addr, context.http_timeout_s, single_token_policy(token, o.bearer),
                                                 HttpMethod::kPost, path, payload_sha, &why);
  if (!sig) throw CliError{kExitFailure, addr.to_string() + " POST /api/cluster/events: not sent: " + why};
  httplib::Headers headers;
  if (!sig->authorization.empty()) headers.emplace("Authorization", sig->authorization);
  const BoundedAnswer res =
      bounded_request(addr, context.http_timeout_s, "POST", path, headers, payload, "application/octet-stream");
  if (!res.ok()) throw CliError{kExitFailure, no_usable_answer(addr, res, context.http_timeout_s)};
  if (res.status < 200 || res.status > 299) {
    throw CliError{kExitFailure, addr.to_string() + " POST /api/cluster/events: " +
                                     describe_publish_error(res.status, res.body, token.has_value())};
  }
  Json answer = parse_node_json(res.body);
  if (answer.is_discarded() || !answer.is_object()) {
    throw CliError{kExitFailure, addr.to_string() + " POST /api/cluster/events: HTTP " + std::to_string(res.status) +
                                     " but the answer is not JSON: " + terminal_safe(res.body.substr(0, 200))};
  }
  if (o.json) {
    std::cout << json_for_terminal(answer) << '\n';
    return kExitOk;
  }
  std::string name;
  if (json_text(answer, "hostname").empty()) name = node_hostname(addr, context.http_timeout_s);
  if (name.empty()) name = addr.to_string();
  std::cout << format_published(answer, name) << "\n";
  return kExitOk;
}

namespace {

/// The events commands' view of the global options (built when the command runs).
EventsContext events_context(const Cli& cli) {
  const Globals& g = cli.globals();
  return EventsContext{[&g] { return node_address(g); }, g.http_timeout_s, use_color(g)};
}

void add_publish_command(CLI::App* events, Cli& cli) {
  auto o = std::make_shared<EventsPublishOptions>();
  CLI::App* publish = events->add_subcommand(
      "publish", "publish an event: every node's subscribers of TOPIC get DATA once, in order per sender");
  publish->add_option("topic", o->topic, "1..31 printable ASCII characters, no spaces, not '*', not node_* or ota_*")
      ->required()
      ->type_name("TOPIC");
  publish->add_option("data", o->data,
                      "the payload, 0.." + std::to_string(kMaxEventPayloadBytes) +
                          " bytes (64 for ESP8266 nodes); - reads it from stdin")
      ->type_name("DATA");
  publish->add_option("--file", o->file, "read the payload from FILE instead of DATA")->type_name("PATH");
  add_token_options(publish, o->token, o->token_file);
  add_bearer_flag(publish, o->bearer);
  add_json_answer_flag(publish, o->json);
  publish->footer(
      "Prints `published TOPIC seq N on NODE (NODE_ID, epoch E)`. The node answers 401 without its\n"
      "API token, 413 for a payload over its limit; exit 1 then, exit 2 for a bad topic or payload\n"
      "(refused before anything is sent).\n"
      "Examples:\n"
      "  spore events publish light on\n"
      "  echo -n '{\"lux\":310}' | spore events publish sensor/hall - --token-file node-1.token\n"
      "  spore events publish config/reload --file reload.bin --json");
  cli.on_run(publish, [&cli, o] { return cmd_events_publish(events_context(cli), *o); });
}

void add_watch_command(CLI::App* events, Cli& cli) {
  auto o = std::make_shared<EventsWatchOptions>();
  CLI::App* watch =
      events->add_subcommand("watch", "print the cluster's events as the node sees them, live (Server-Sent Events)");
  watch->add_option("--topic", o->topic, "only this topic (node_* membership events included)")->type_name("TOPIC");
  watch->add_flag("-j,--json", o->json,
                  "one JSON object per line: the event's fields plus \"event\" and \"id\" (null for node_* events)");
  watch->add_option("--count", o->count, "exit 0 after N events")->check(CLI::PositiveNumber)->type_name("N");
  watch->add_option("-t,--timeout", o->timeout_s,
                    "exit after SECONDS: 0, or 1 when --count N was given and fewer than N events came")
      ->check(CLI::PositiveNumber)
      ->type_name("SECONDS");
  watch->footer(
      "Each line: HH:MM:SS  SENDER  TOPIC  PAYLOAD, SENDER the publisher's hostname (else its node id),\n"
      "PAYLOAD as text with bytes that are not printable ASCII as \\xNN. Membership events\n"
      "(node_discovered, node_inactive, node_dead, node_left, node_updated) name the member and show\n"
      "its IP and status. Keep-alives are not shown. If the stream drops, it reconnects with backoff\n"
      "and says so on stderr; events published meanwhile are not shown. Ctrl-C exits 0.\n"
      "Exit 1 when the node cannot be reached at first, does not serve the stream (404: older\n"
      "firmware) or has no free stream slot (503 too_many_streams).\n"
      "Examples:\n"
      "  spore events watch\n"
      "  spore events watch --topic node_inactive --count 1\n"
      "  spore events watch --json | jq -r 'select(.topic == \"light\") | .data'");
  cli.on_run(watch, [&cli, o] { return cmd_events_watch(events_context(cli), *o); });
}

}  // namespace

void add_events_commands(CLI::App& app, Cli& cli) {
  CLI::App* events = app.add_subcommand("events", "cluster-wide events: publish one, or watch them live");
  events->require_subcommand(1);
  events->footer(
      "Examples:\n"
      "  spore events publish light on --token-file build/demo/node-1/api_token\n"
      "  spore events watch                         # every event, one line each, until Ctrl-C\n"
      "  spore events watch --topic light --json    # one JSON object per line (for jq)\n"
      "  spore events watch --count 1 --timeout 30  # wait for the next event, exit 1 if none in 30 s");
  add_publish_command(events, cli);
  add_watch_command(events, cli);
}

}  // namespace cli
}  // namespace spore
