#pragma once
/// @file events_logic.h
/// The pure logic of `spore events publish` and `spore events watch` (docs/events.md; REST
/// contract: POST /api/cluster/events?topic=T, GET /api/cluster/events/stream): the topic rule,
/// URL building, how an event or an answer is shown, reconnect backoff. Unit-tested in
/// tests/posix/spore_events_cli_test.cpp; the commands that use it are in events_cmd.h.

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cli_logic.h"
#include "sse_parser.h"

namespace spore {
namespace cli {


/// Largest payload any node takes (the wire's kMaxEventPayloadBytes; ESP8266 nodes take 64 and
/// answer 413 with their own "maxBytes").
constexpr size_t kMaxEventPayloadBytes = 256;
/// Longest topic (wire::kMaxEventTopicLen).
constexpr size_t kMaxEventTopicBytes = 31;

/// Why `topic` is not a topic a user may publish, or nullopt when it is: 1..31 bytes of
/// 0x21..0x7E, not "*", not starting with "node_" or "ota_" (those are the nodes' own events).
/// With `for_filter` (watch --topic) the reserved prefixes are allowed: one may watch node_inactive.
std::optional<std::string> topic_error(std::string_view topic, bool for_filter = false);

/// Percent-encodes every byte except A-Z a-z 0-9 - . _ ~ (RFC 3986 unreserved).
std::string percent_encode(std::string_view text);

/// "/api/cluster/events?topic=<encoded>".
std::string publish_path(std::string_view topic);
/// "/api/cluster/events/stream", with "?topic=<encoded>" when a filter is given.
std::string stream_path(const std::optional<std::string>& topic);

/// The line for a 202 answer: "published light seq 3 on node-1 (0a1b2c3d, epoch 7)". `node_name`
/// names the node when the answer has no "hostname". Fields missing show as "?".
std::string format_published(const nlohmann::ordered_json& answer, const std::string& node_name);

/// The message for an error answer to POST /api/cluster/events: the node's sentence, status and
/// code (describe_error_response), plus what to do: a token for 401, the node's limit for 413, an
/// older node for 404.
std::string describe_publish_error(int status, std::string_view body, bool token_given);

/// The message for a GET /api/cluster/events/stream answer that is not a stream: 404 (a node
/// without the endpoint), 503 too_many_streams, other errors, or 200 with another Content-Type.
std::string describe_stream_error(int status, std::string_view content_type, std::string_view body);

/// Text for a terminal (payloads, topics, names): terminal_safe() (printable ASCII and
/// well-formed UTF-8 as is, `\\` for a backslash, \n \r \t, C1 and bidi controls as \uXXXX,
/// every other byte as \xNN), and "" shows as `""`, so an empty payload is visible. Nothing in
/// the result moves the cursor or sets colours.
std::string escape_payload(std::string_view bytes);

/// One event as `spore events watch` prints it.
class EventFormatter {
 public:
  explicit EventFormatter(bool color) : color_(color) {}
  /// "HH:MM:SS  SENDER  TOPIC  PAYLOAD\n": local time `when`; SENDER the sender's hostname, else
  /// its node id (for node_* events: the member concerned); PAYLOAD escaped (escape_payload), or
  /// for membership events "IP STATUS". Columns widen as longer names appear (a stream has no
  /// end to measure). A `data` that is not JSON is shown escaped as the payload.
  std::string text(const SseMessage& m, std::time_t when);
  /// One JSON object per line: {"event": ..., "id": ... or null, then the data object's fields}.
  /// A `data` that is not a JSON object becomes "data": "<the text>".
  std::string json(const SseMessage& m) const;

 private:
  bool color_;
  size_t sender_width_ = 8;
  size_t topic_width_ = 8;
};

/// Delays between reconnects: starts at the server's `retry:` (else 1 s), doubles per failed
/// attempt up to max_ms; reset() after a connection that delivered a stream.
class Backoff {
 public:
  explicit Backoff(uint64_t max_ms = 30000) : max_ms_(max_ms) {}
  void set_base(uint64_t base_ms) { base_ms_ = base_ms == 0 ? 1 : base_ms; }
  uint64_t next_ms();
  void reset() { attempt_ = 0; }

 private:
  uint64_t base_ms_ = 1000;
  uint64_t max_ms_;
  uint32_t attempt_ = 0;
};

/// Exit status of a watch that ended (not by an error): 0, except 1 when --count N was given
/// and the --timeout came before N events (documented in README.md, "Cluster events").
int watch_exit_code(bool timed_out, size_t count_wanted, size_t received);

}  // namespace cli
}  // namespace spore
