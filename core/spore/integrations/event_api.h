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
/// What a stream carries (the contract `spore events watch` and the dashboard read):
///   id: <node_id hex>-<epoch>-<seq>       cluster events only (the publisher's stream position)
///   event: <topic>
///   data: {"topic","node_id","hostname"?,"epoch","seq","data"}   cluster events
///   data: {"topic","node_id","hostname","ip","status"}           node_* membership events
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
#include "spore/wire/wire_messages.h"

namespace spore {

class NodeContext;

/// One SSE message; views are valid only during the Sink call.
struct SseMessage {
  std::string_view id;     ///< empty: no id line (membership events are not part of a stream)
  std::string_view event;  ///< the topic
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

  /// Whether a stream with `filter` receives an event of `topic`.
  static bool filter_matches(const SseFilter& filter, std::string_view topic);
  /// The SSE wire form of `msg` ("id: ...\nevent: ...\ndata: ...\n\n"), for adapters that write
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
  char data_[SPORE_SSE_DATA_MAX] = {};
};

}  // namespace spore
