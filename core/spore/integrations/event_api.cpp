#include "spore/integrations/event_api.h"

#include <cstdio>
#include <cstring>

#include "spore/events/cluster_events.h"
#include "spore/base/flash_string.h"
#include "spore/auth/http_target.h"
#include "spore/cluster/member_table.h"
#include "spore/node/node_context.h"

namespace spore {

namespace {

/// The built-in membership topics a stream carries (their payload is the Member), in flash: one
/// loop instead of eight inlined comparisons.
constexpr char kMembershipTopics[] SPORE_FLASH =
    "node_discovered\0node_restarted\0node_recovered\0node_inactive\0node_dead\0node_left\0node_updated\0"
    "node_forgotten\0";
constexpr size_t kMembershipTopicCount = flash_list_count(kMembershipTopics, sizeof kMembershipTopics);

/// Whether string list `list` (sizeof `size_bytes`) holds `s`; for the static_assert below.
constexpr bool list_holds(const char* list, size_t size_bytes, std::string_view s) {
  for (size_t i = 0; i + 1 < size_bytes;) {
    size_t n = 0;
    while (list[i + n] != '\0') ++n;
    if (std::string_view(list + i, n) == s) return true;
    i += n + 1;
  }
  return false;
}
static_assert(kMembershipTopicCount == 8 &&
                  list_holds(kMembershipTopics, sizeof kMembershipTopics, topics::kNodeDiscovered) &&
                  list_holds(kMembershipTopics, sizeof kMembershipTopics, topics::kNodeRestarted) &&
                  list_holds(kMembershipTopics, sizeof kMembershipTopics, topics::kNodeRecovered) &&
                  list_holds(kMembershipTopics, sizeof kMembershipTopics, topics::kNodeInactive) &&
                  list_holds(kMembershipTopics, sizeof kMembershipTopics, topics::kNodeDead) &&
                  list_holds(kMembershipTopics, sizeof kMembershipTopics, topics::kNodeLeft) &&
                  list_holds(kMembershipTopics, sizeof kMembershipTopics, topics::kNodeUpdated) &&
                  list_holds(kMembershipTopics, sizeof kMembershipTopics, topics::kNodeForgotten),
              "the node_* topics of node_context.h, each once");

bool is_membership_topic(std::string_view topic) {
  for (size_t i = 0; i < kMembershipTopicCount; ++i) {
    if (flash_nth(kMembershipTopics, kMembershipTopicCount, i).equals(topic)) return true;
  }
  return false;
}

/// The error answers, as "code\0sentence\0" pairs in flash (no code strings in DRAM, one call per
/// answer). Indexed by ErrorId.
constexpr char kErrors[] SPORE_FLASH =
    "bad_topic\0The topic filter must be 1-31 bytes of printable ASCII without spaces, percent-encoded.\0"
    "too_many_streams\0Every event stream slot of this node is taken; retry later.\0"
    "not_running\0This node is not part of a cluster yet.\0"
    "bad_topic\0Give the topic as ?topic=NAME: 1-31 bytes of printable ASCII without spaces, not \"*\".\0"
    "reserved_topic\0Topics starting with node_ or ota_ are published by SPORE itself.\0"
    "too_large\0The event payload (the request body) is larger than this node publishes.\0"
    "not_running\0This node has left the cluster.\0"
    "not_supported\0This node's web server does not stream events.\0";

enum ErrorId : uint8_t {
  kBadFilter,
  kTooManyStreams,
  kNotStarted,
  kBadTopic,
  kReservedTopic,
  kTooLarge,
  kLeft,
  kNotSupported,
  kErrorCount
};
static_assert(flash_list_count(kErrors, sizeof kErrors) == 2 * kErrorCount, "one code and sentence per ErrorId");

/// Opens the error object ({"error":...,"code":...}); the caller may add fields and closes it.
void write_error(JsonWriter& w, ErrorId id) {
  const FlashStr code = flash_nth(kErrors, 2 * kErrorCount, 2 * id);
  w.begin_object()
      .field(SPORE_FSTR("error"), FlashStr(code.address() + code.length() + 1))
      .field(SPORE_FSTR("code"), code);
}

// Keys both the publish answer and the stream's data carry.
constexpr char kTopicKey[] SPORE_FLASH = "topic";
constexpr char kHostnameKey[] SPORE_FLASH = "hostname";
constexpr char kEpochKey[] SPORE_FLASH = "epoch";
constexpr char kSeqKey[] SPORE_FLASH = "seq";

void write_node_id(JsonWriter& w, uint32_t node_id) { w.field(SPORE_FSTR("nodeId"), node_id); }

}  // namespace

EventApi::EventApi(NodeContext& ctx, RestApi& api) : ctx_(ctx), api_(api) {}

bool EventApi::begin(Sink sink) {
  sink_ = sink;
  ring_.begin(ctx_.self().incarnation);
  const bool routes =
      api_.add_route(kPublishPath, HttpMethod::kPost, RouteAuth::kToken,
                     RestApi::Handler::bind<EventApi, &EventApi::serve_publish>(this)) &&
      api_.add_route(kStreamPath, HttpMethod::kGet, RouteAuth::kPublic,
                     RestApi::Handler::bind<EventApi, &EventApi::serve_stream_json>(this));
  const bool subscribed = ctx_.on(EventBus::kAnyTopic, EventHandler::bind<EventApi, &EventApi::on_event>(this)) >= 0;
  if (!routes || !subscribed) {
    SPORE_LOG(ctx_, LogLevel::kWarn, "cluster events over HTTP not served: %s table full",
              routes ? "event" : "route");
  }
  return routes && subscribed;
}

bool EventApi::is_stream_request(const HttpRequest& req) {
  const std::string_view path = req.path;
  // The path up to the query, if any: kStreamPath followed by nothing or '?'.
  return req.method == HttpMethod::kGet && path.size() >= kStreamPath.size() &&
         std::string_view(path.data(), kStreamPath.size()) == kStreamPath &&
         (path.size() == kStreamPath.size() || path[kStreamPath.size()] == '?');
}

int EventApi::open_stream(const HttpRequest& req, SseFilter* filter, JsonWriter& w) {
  *filter = SseFilter{};
  char topic[wire::kMaxEventTopicLen + 1];
  const int len = http_query_param(req.path, "topic", topic, wire::kMaxEventTopicLen);
  if (len == -2 || len == 0 || (len > 0 && !valid_event_topic(std::string_view(topic, static_cast<size_t>(len))))) {
    write_error(w, kBadFilter);
    w.end_object();
    return 400;
  }
  if (open_streams_ >= SPORE_MAX_EVENT_STREAMS) {
    write_error(w, kTooManyStreams);
    w.field(SPORE_FSTR("maxStreams"), static_cast<uint32_t>(SPORE_MAX_EVENT_STREAMS)).end_object();
    return 503;
  }
  if (len > 0) {
    std::memcpy(filter->topic, topic, static_cast<size_t>(len));
    filter->topic_len = static_cast<uint8_t>(len);
  }
  ++open_streams_;
  return 200;
}

void EventApi::close_stream() {
  if (open_streams_ > 0) --open_streams_;
}

size_t EventApi::write_preamble(char* buffer, size_t capacity_bytes) const {
  const int n = std::snprintf(buffer, capacity_bytes, ": spore events %lu\nretry: %lu\n\n",
                              static_cast<unsigned long>(ctx_.self().node_id), static_cast<unsigned long>(kRetryMs));
  return n > 0 && static_cast<size_t>(n) < capacity_bytes ? static_cast<size_t>(n) : 0;
}

bool EventApi::filter_matches(const SseFilter& filter, std::string_view topic) {
  return filter.topic_len == 0 || std::string_view(filter.topic, filter.topic_len) == topic;
}

size_t EventApi::format(const SseMessage& msg, char* buffer, size_t capacity_bytes) {
  // data is one line of JSON, so one field. No `event:` line: EventSource hands a named event
  // only to a listener of that name, never to onmessage. The format is an array of this
  // function, not a literal: the ESP8266 adapter never calls it, and --gc-sections drops it with
  // it instead of keeping it among the file's DRAM strings.
  static constexpr char kFrame[] = "id: %.*s\ndata: %.*s\n\n";
  const int n = std::snprintf(buffer, capacity_bytes, kFrame, static_cast<int>(msg.id.size()), msg.id.data(),
                              static_cast<int>(msg.data.size()), msg.data.data());
  return n > 0 && static_cast<size_t>(n) < capacity_bytes ? static_cast<size_t>(n) : 0;
}

size_t EventApi::replay(std::string_view last_event_id, const SseFilter& filter, Sink sink, uint32_t* missed) const {
  size_t replayed = 0;
  char id[SseRing::kIdMaxBytes];
  for (uint32_t n = ring_.replay_from(last_event_id, missed); n <= ring_.last(); ++n) {
    SseMessage msg;
    if (!ring_.get(n, &msg.topic, &msg.data) || !filter_matches(filter, msg.topic)) continue;
    msg.id = std::string_view(id, ring_.format_id(n, id));
    sink(msg);
    ++replayed;
  }
  return replayed;
}

int EventApi::serve_publish(const HttpRequest& req, JsonWriter& w) {
  ClusterEvents* events = ctx_.cluster_events();
  if (events == nullptr) {
    write_error(w, kNotStarted);
    w.end_object();
    return 503;
  }
  char topic[wire::kMaxEventTopicLen + 1];
  const int len = http_query_param(req.path, "topic", topic, wire::kMaxEventTopicLen);
  PublishError error = PublishError::kBadTopic;
  if (len > 0) {
    error = events->publish(std::string_view(topic, static_cast<size_t>(len)),
                            reinterpret_cast<const uint8_t*>(req.body.data()), req.body.size());
  }
  int status = 400;
  switch (error) {
    case PublishError::kOk:
      w.begin_object()
          .field(SPORE_FSTR("status"), SPORE_FSTR("published"))
          .field(FlashStr(kTopicKey), std::string_view(topic, static_cast<size_t>(len)))
          .field(SPORE_FSTR("nodeId"), ctx_.self().node_id)  // the seed's id form (docs/api.md)
          .field(FlashStr(kHostnameKey), ctx_.hostname())
          .field(FlashStr(kEpochKey), events->epoch())
          .field(FlashStr(kSeqKey), events->last_seq())
          .field(SPORE_FSTR("sizeBytes"), static_cast<uint32_t>(req.body.size()))
          .end_object();
      return 202;
    case PublishError::kBadTopic:
      write_error(w, kBadTopic);
      break;
    case PublishError::kReservedTopic:
      write_error(w, kReservedTopic);
      break;
    case PublishError::kTooLarge:
      status = 413;
      write_error(w, kTooLarge);
      w.field(SPORE_FSTR("maxBytes"), static_cast<uint32_t>(SPORE_EVENT_PAYLOAD_MAX));
      break;
    case PublishError::kNotRunning:
    default:
      status = 503;
      write_error(w, kLeft);
      break;
  }
  w.end_object();
  return status;
}

int EventApi::serve_stream_json(const HttpRequest&, JsonWriter& w) {
  // Reached only through an adapter that does not call is_stream_request() (no streaming support).
  write_error(w, kNotSupported);
  w.end_object();
  return 501;
}

void EventApi::on_event(const Event& event) {
  // Only streams read the message, now or when a client reconnects with Last-Event-ID: without
  // either, formatting it is wasted work (the ESP8266 keeps no replay ring). The adapters (the
  // Linux and ESP8266 HTTP servers) are the only sinks and admit every stream through
  // open_stream().
  if (!sink_ || (open_streams_ == 0 && SPORE_SSE_REPLAY_EVENTS == 0)) return;
  const ClusterEvent* ce = event.get<ClusterEvent>();
  const Member* m = ce == nullptr ? event.get<Member>() : nullptr;
  // An application's local event, or the OTA path's local copy of an ota_* event: not streamed.
  if (ce == nullptr && (m == nullptr || !is_membership_topic(event.topic()))) return;
  BufferJsonOutput out(data_, sizeof data_);
  JsonWriter w(out);
  w.begin_object().field(FlashStr(kTopicKey), ce != nullptr ? ce->topic : event.topic());
  if (ce != nullptr) {
    write_node_id(w, ce->sender_id);
    const char* hostname = ce->sender_id == ctx_.self().node_id ? ctx_.hostname() : nullptr;
    if (hostname == nullptr) {
      const Member* sender = ctx_.members().find(ce->sender_id);
      if (sender != nullptr) hostname = sender->hostname;
    }
    if (hostname != nullptr) w.field(FlashStr(kHostnameKey), hostname);
    w.field(FlashStr(kEpochKey), ce->epoch).field(FlashStr(kSeqKey), ce->seq).field(SPORE_FSTR("data"), ce->payload_text());
  } else {
    char ip[16];
    format_ipv4(m->ip, ip, sizeof ip);
    write_node_id(w, m->node_id);
    w.field(FlashStr(kHostnameKey), static_cast<const char*>(m->hostname))
        .field(SPORE_FSTR("ip"), static_cast<const char*>(ip))
        .field(SPORE_FSTR("status"), member_status_name(m->status));
  }
  w.end_object();
  if (!w.complete() || out.overflowed()) {
    ++oversize_;
    return;
  }
  ++streamed_;
  const std::string_view data(out.c_str(), out.size());
  char id[SseRing::kIdMaxBytes];
  const size_t id_len = ring_.format_id(ring_.push(event.topic(), data), id);
  sink_(SseMessage{std::string_view(id, id_len), event.topic(), data});
}

}  // namespace spore
