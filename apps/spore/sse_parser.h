#pragma once
/// @file sse_parser.h
/// An incremental parser for a Server-Sent Events stream (`text/event-stream`, the WHATWG HTML
/// "event stream interpretation"), as `spore events watch` reads it from a node's
/// GET /api/cluster/events/stream. Bytes are fed as they arrive, split anywhere; messages come out
/// when their blank line arrives. Memory is bounded: a line longer than `max_line_bytes` and an
/// event whose data grows beyond `max_event_bytes` are dropped and counted, never buffered whole.
/// Host-side code (the standard library is allowed); standard library only, so the fuzz build,
/// which has no posix platform, compiles it too (tests/fuzz/sse_parser_fuzz.cpp).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spore {
namespace cli {

/// One dispatched SSE message.
struct SseMessage {
  /// The `event:` field, "message" when the message has none (the SSE default).
  std::string event = "message";
  /// The `data:` lines joined by '\n' (no trailing newline).
  std::string data;
  /// The `id:` field of THIS message, nullopt when it had no `id:` line. (The SSE "last event ID",
  /// which persists across messages, is SseParser::last_event_id().)
  std::optional<std::string> id;
};

/// Capacities. Defaults fit SPORE's events (a 256-byte payload escaped as \u00XX is 1.5 KB of
/// JSON) with room to spare, and keep a hostile or broken stream from growing the CLI's memory.
struct SseLimits {
  size_t max_line_bytes = 8192;    ///< longest line kept; a longer one is dropped whole
  size_t max_event_bytes = 65536;  ///< most data bytes one message may collect
};

/// Counters of what the parser saw besides messages; never reset by reset().
struct SseStats {
  size_t messages = 0;         ///< messages dispatched
  size_t comments = 0;         ///< `:` lines (keep-alives, the greeting)
  size_t unknown_fields = 0;   ///< lines with a field name SSE does not define (ignored, per spec)
  size_t bad_retry = 0;        ///< `retry:` values that are not all digits (ignored)
  size_t long_lines = 0;       ///< lines longer than max_line_bytes (dropped)
  size_t dropped_events = 0;   ///< messages discarded because a line of theirs or their data was too long
};

/// The parser. Not thread-safe; one per stream.
class SseParser {
 public:
  explicit SseParser(SseLimits limits = {});

  /// Parses `bytes` (any split of the stream: a chunk may end inside a line, between CR and LF,
  /// inside the UTF-8 BOM). Appends every message completed by these bytes to `out`, in order.
  void feed(std::string_view bytes, std::vector<SseMessage>& out);

  /// Starts a new connection: forgets a partial line and a message without its blank line (the
  /// spec discards an unterminated message at end of stream), expects a BOM again. Keeps
  /// last_event_id(), retry_ms() and the counters.
  void reset();

  /// The SSE last event ID (last `id:` seen; persists across messages and reset()).
  const std::string& last_event_id() const { return last_event_id_; }
  /// The last valid `retry:` value, in ms.
  std::optional<uint64_t> retry_ms() const { return retry_ms_; }
  /// The text of the last comment line (without the ':' and one leading space).
  const std::string& last_comment() const { return last_comment_; }
  const SseStats& stats() const { return stats_; }
  const SseLimits& limits() const { return limits_; }

  /// Bytes held in buffers right now (partial line, data, event type); bounded by the limits:
  /// <= max_line_bytes + max_event_bytes + 2 * max_line_bytes at any time.
  size_t buffered_bytes() const { return line_.size() + data_.size() + event_.size() + (id_ ? id_->size() : 0); }

 private:
  void take(std::string_view bytes, std::vector<SseMessage>& out);  // after the BOM check
  void append_to_line(std::string_view bytes);
  void end_line(std::vector<SseMessage>& out);
  void on_field(std::string_view name, std::string_view value);
  void dispatch(std::vector<SseMessage>& out);
  void poison();

  SseLimits limits_;
  SseStats stats_;
  std::string line_;          // the current line, up to max_line_bytes
  bool line_too_long_ = false;  // the current line passed the limit: skip to its end
  bool line_is_comment_ = false;  // first byte of the current line was ':'
  bool line_started_ = false;     // at least one byte of the current line was seen
  bool after_cr_ = false;     // the last byte was CR: an LF right after it ends nothing
  bool at_stream_start_ = true;  // a UTF-8 BOM may still come (only as the first bytes)
  size_t bom_matched_ = 0;    // how many BOM bytes matched so far at the start
  // The message being collected.
  std::string data_;
  bool has_data_ = false;
  std::string event_;
  std::optional<std::string> id_;
  bool poisoned_ = false;     // a line of this message was dropped: drop the message too
  // Persistent state.
  std::string last_event_id_;
  std::optional<uint64_t> retry_ms_;
  std::string last_comment_;
};

}  // namespace cli
}  // namespace spore
