#pragma once
/// @file event_api.h
/// Cluster events over HTTP (docs/events.md, "REST and SSE"):
///   POST /api/cluster/events?topic=<topic>   publish the raw body as a cluster event (token)
///   GET  /api/cluster/events/stream[?topic=] Server-Sent Events: every cluster event and the
///                                            node's membership events, as they happen (public)
///
/// The POST goes through RestApi::handle() like any JSON route. The stream cannot: it is a
/// response that never ends, which each web server keeps open its own way (cpp-httplib: a chunked
/// content provider on a worker thread; ESPAsyncWebServer: AsyncEventSource). So the adapter asks
/// is_stream_request() before handle(), admits the client with open_stream() (topic filter,
/// client limit) and registers a Sink: EventApi formats each event once into an SseMessage and
/// hands it to the sink, which fans it out to the open streams (filter_matches()). The route is
/// also added to RestApi so the node's api list shows it and an adapter without streams answers
/// 501 instead of 404.
///
/// What a stream carries (the contract `spore events watch` and the dashboard read): every
/// message is an unnamed SSE event (no `event:` line), so a browser EventSource's `onmessage`
/// receives all of them; the topic is inside the data:
///   id: <epoch>-<n>                       this node's stream position (SseRing): Last-Event-ID
///   data: {"topic","nodeId","hostname"?,"epoch","seq","data"}   cluster events
///   data: {"topic","nodeId","hostname","ip","status"}           node_* membership events
/// `nodeId` is the decimal node id (a JSON number, as the REST API's); epoch and seq are the
/// publisher's stream position. A client that reconnects with `Last-Event-ID` first gets what the
/// replay ring still holds after that id (replay(), rules in sse_ring.h).
/// ota_* events arrive as cluster events (ClusterEvents publishes them); the local copies the OTA
/// path fires are not repeated. Other local events (ctx.fire() with an application payload) are
/// not streamed: their payload type is unknown here.
///
/// No allocation: the message is built in a fixed buffer (SPORE_SSE_DATA_MAX). Not thread-safe:
/// call from the node loop (or under the core mutex), as RestApi.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/base/delegate.h"
#include "spore/base/event_bus.h"
#include "spore/base/json_writer.h"
#include "spore/base/limits.h"
#include "spore/http/rest_api.h"
#include "spore/integrations/sse_ring.h"
#include "spore/wire/wire_messages.h"

namespace spore {

class NodeContext;

/// One SSE message; views are valid only during the Sink call.
struct SseMessage {
  std::string_view id;     ///< "<epoch>-<n>" (SseRing)
  std::string_view topic;  ///< for the stream's topic filter; not sent (it is in the data)
  std::string_view data;   ///< one line of JSON
};

/// A stream's topic filter (`?topic=`); empty = every event.
struct SseFilter {
  char topic[wire::kMaxEventTopicLen + 1] = {};
  uint8_t topic_len = 0;
};

class EventApi {
 public:
  static constexpr std::string_view kPublishPath = "/api/cluster/events";
  static constexpr std::string_view kStreamPath = "/api/cluster/events/stream";
  /// A comment line this often keeps proxies and the client's idle timeout from closing a quiet
  /// stream, and tells the server a client is gone.
  static constexpr uint32_t kKeepAliveMs = 15000;
  /// The `retry:` the stream announces: how long a browser waits before reconnecting.
  static constexpr uint32_t kRetryMs = 2000;
  /// Sent every kKeepAliveMs without events.
  static constexpr std::string_view kKeepAliveFrame = ": keep-alive\n\n";

  using Sink = Delegate<void(const SseMessage&)>;

  /// `ctx` and `api` must outlive the EventApi.
  EventApi(NodeContext& ctx, RestApi& api);
  EventApi(const EventApi&) = delete;
  EventApi& operator=(const EventApi&) = delete;

  /// After ctx.begin(), api.begin() and the Membership's begin(): adds both routes (listed in the
  /// node's api list) and subscribes to every event (one EventBus slot). `sink` receives the
  /// stream's messages; an invalid sink (no streaming adapter) is allowed. False (logged) when the
  /// route table, the registry or the event table is full.
  bool begin(Sink sink);

  /// True for a GET (or HEAD) of kStreamPath, query string or not: the adapter serves it with
  /// open_stream() instead of handle().
  static bool is_stream_request(const HttpRequest& req);
  /// Admits a stream client: parses `?topic=` into `*filter` and takes one of the
  /// SPORE_MAX_EVENT_STREAMS slots. Returns 200, or writes a JSON error to `w` and returns 400
  /// (bad_topic: malformed query or topic) or 503 (too_many_streams). Every 200 must be paired
  /// with one close_stream() when the client is gone.
  int open_stream(const HttpRequest& req, SseFilter* filter, JsonWriter& w);
  void close_stream();
  size_t open_streams() const { return open_streams_; }
  /// Writes the stream's first bytes (a comment naming the node, and `retry:`); returns the
  /// length, 0 when `capacity_bytes` is too small (64 B is always enough).
  size_t write_preamble(char* buffer, size_t capacity_bytes) const;

  /// Hands the messages a client reconnecting with `last_event_id` (its Last-Event-ID header,
  /// empty without one) missed and the replay ring still holds to `sink`, oldest first, those
  /// `filter` passes. Call right after a 200 of open_stream() and before the stream receives
  /// live messages (under the same lock as the sink's calls). Returns how many were handed over;
  /// `*missed` (may be null): messages after the id the ring no longer held.
  size_t replay(std::string_view last_event_id, const SseFilter& filter, Sink sink, uint32_t* missed) const;
  const SseRing& ring() const { return ring_; }

  /// Whether a stream with `filter` receives an event of `topic`.
  static bool filter_matches(const SseFilter& filter, std::string_view topic);
  /// The SSE wire form of `msg` ("id: ...\ndata: ...\n\n"), for adapters that write
  /// the stream themselves. Returns the length, or 0 when it does not fit.
  static size_t format(const SseMessage& msg, char* buffer, size_t capacity_bytes);

  /// Messages handed to the sink, and events not streamed because the message did not fit.
  uint32_t streamed() const { return streamed_; }
  uint32_t oversize() const { return oversize_; }

 private:
  int serve_publish(const HttpRequest& req, JsonWriter& w);
  int serve_stream_json(const HttpRequest& req, JsonWriter& w);
  void on_event(const Event& event);

  NodeContext& ctx_;
  RestApi& api_;
  Sink sink_;
  size_t open_streams_ = 0;
  uint32_t streamed_ = 0;
  uint32_t oversize_ = 0;
  SseRing ring_;
  char data_[SPORE_SSE_DATA_MAX] = {};
};

}  // namespace spore
