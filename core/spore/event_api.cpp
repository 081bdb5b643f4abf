#include "spore/event_api.h"

#include <cstdio>
#include <cstring>

#include "spore/cluster_events.h"
#include "spore/flash_string.h"
#include "spore/member_table.h"
#include "spore/node_context.h"

namespace spore {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view without_query(std::string_view target) {
  const size_t q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

/// The built-in membership topics a stream carries (their payload is the Member).
bool is_membership_topic(std::string_view topic) {
  return topic == topics::kNodeDiscovered || topic == topics::kNodeRestarted || topic == topics::kNodeRecovered ||
         topic == topics::kNodeInactive || topic == topics::kNodeDead || topic == topics::kNodeLeft ||
         topic == topics::kNodeUpdated || topic == topics::kNodeForgotten;
}

int write_error(JsonWriter& w, int status, const char* code, FlashStr message) {
  w.begin_object().field(SPORE_FSTR("error"), message).field(SPORE_FSTR("code"), code);
  return status;
}

void write_node_id(JsonWriter& w, uint32_t node_id) {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08lx", static_cast<unsigned long>(node_id));
  w.field(SPORE_FSTR("node_id"), static_cast<const char*>(hex));
}

}  // namespace

EventApi::EventApi(NodeContext& ctx, RestApi& api) : ctx_(ctx), api_(api) {}

bool EventApi::begin(Sink sink) {
  sink_ = sink;
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
  return req.method == HttpMethod::kGet && without_query(req.path) == kStreamPath;
}

int EventApi::open_stream(const HttpRequest& req, SseFilter* filter, JsonWriter& w) {
  *filter = SseFilter{};
  char topic[wire::kMaxEventTopicLen + 1];
  const int len = query_param(req.path, "topic", topic, wire::kMaxEventTopicLen);
  if (len == -2 || len == 0 || (len > 0 && !valid_event_topic(std::string_view(topic, static_cast<size_t>(len))))) {
    write_error(w, 400, "bad_topic",
                SPORE_FSTR("The topic filter must be 1-31 bytes of printable ASCII without spaces, percent-encoded."));
    w.end_object();
    return 400;
  }
  if (open_streams_ >= SPORE_MAX_EVENT_STREAMS) {
    write_error(w, 503, "too_many_streams", SPORE_FSTR("Every event stream slot of this node is taken; retry later."));
    w.field(SPORE_FSTR("max_streams"), static_cast<uint32_t>(SPORE_MAX_EVENT_STREAMS)).end_object();
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
  const int n = std::snprintf(buffer, capacity_bytes, ": spore events %08lx\nretry: %lu\n\n",
                              static_cast<unsigned long>(ctx_.self().node_id), static_cast<unsigned long>(kRetryMs));
  return n > 0 && static_cast<size_t>(n) < capacity_bytes ? static_cast<size_t>(n) : 0;
}

bool EventApi::filter_matches(const SseFilter& filter, std::string_view topic) {
  return filter.topic_len == 0 || std::string_view(filter.topic, filter.topic_len) == topic;
}

size_t EventApi::format(const SseMessage& msg, char* buffer, size_t capacity_bytes) {
  // data is one line of JSON and event a topic without spaces or line ends, so each is one field.
  const int n = msg.id.empty()
                    ? std::snprintf(buffer, capacity_bytes, "event: %.*s\ndata: %.*s\n\n", static_cast<int>(msg.event.size()),
                                    msg.event.data(), static_cast<int>(msg.data.size()), msg.data.data())
                    : std::snprintf(buffer, capacity_bytes, "id: %.*s\nevent: %.*s\ndata: %.*s\n\n",
                                    static_cast<int>(msg.id.size()), msg.id.data(), static_cast<int>(msg.event.size()),
                                    msg.event.data(), static_cast<int>(msg.data.size()), msg.data.data());
  return n > 0 && static_cast<size_t>(n) < capacity_bytes ? static_cast<size_t>(n) : 0;
}

int EventApi::query_param(std::string_view target, std::string_view name, char* out, size_t capacity_bytes) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return -1;
  std::string_view rest = target.substr(q + 1);
  const size_t hash = rest.find('#');
  if (hash != std::string_view::npos) rest = rest.substr(0, hash);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    const std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    size_t len = 0;
    for (size_t i = 0; i < value.size(); ++i) {
      char c = value[i];
      if (c == '%') {
        if (i + 2 >= value.size()) return -2;
        const int hi = hex_value(value[i + 1]);
        const int lo = hex_value(value[i + 2]);
        if (hi < 0 || lo < 0) return -2;
        c = static_cast<char>(hi * 16 + lo);
        if (c == '\0') return -2;
        i += 2;
      }
      if (len >= capacity_bytes) return -2;
      out[len++] = c;
    }
    return static_cast<int>(len);
  }
  return -1;
}

int EventApi::serve_publish(const HttpRequest& req, JsonWriter& w) {
  ClusterEvents* events = ctx_.cluster_events();
  if (events == nullptr) {
    write_error(w, 503, "not_running", SPORE_FSTR("This node is not part of a cluster yet."));
    w.end_object();
    return 503;
  }
  char topic[wire::kMaxEventTopicLen + 1];
  const int len = query_param(req.path, "topic", topic, wire::kMaxEventTopicLen);
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
          .field(SPORE_FSTR("topic"), std::string_view(topic, static_cast<size_t>(len)));
      write_node_id(w, ctx_.self().node_id);
      w.field(SPORE_FSTR("hostname"), ctx_.hostname())
          .field(SPORE_FSTR("epoch"), events->epoch())
          .field(SPORE_FSTR("seq"), events->last_seq())
          .field(SPORE_FSTR("size_bytes"), static_cast<uint32_t>(req.body.size()))
          .end_object();
      return 202;
    case PublishError::kBadTopic:
      write_error(w, 400, "bad_topic",
                  SPORE_FSTR("Give the topic as ?topic=NAME: 1-31 bytes of printable ASCII without spaces, not \"*\"."));
      break;
    case PublishError::kReservedTopic:
      write_error(w, 400, "reserved_topic",
                  SPORE_FSTR("Topics starting with node_ or ota_ are published by SPORE itself."));
      break;
    case PublishError::kTooLarge:
      status = 413;
      write_error(w, 413, "too_large", SPORE_FSTR("The event payload (the request body) is larger than this node publishes."));
      w.field(SPORE_FSTR("max_bytes"), static_cast<uint32_t>(SPORE_EVENT_PAYLOAD_MAX));
      break;
    case PublishError::kNotRunning:
    default:
      status = 503;
      write_error(w, 503, "not_running", SPORE_FSTR("This node has left the cluster."));
      break;
  }
  w.end_object();
  return status;
}

int EventApi::serve_stream_json(const HttpRequest&, JsonWriter& w) {
  // Reached only through an adapter that does not call is_stream_request() (no streaming support).
  write_error(w, 501, "not_supported", SPORE_FSTR("This node's web server does not stream events."));
  w.end_object();
  return 501;
}

void EventApi::on_event(const Event& event) {
  if (!sink_) return;
  BufferJsonOutput out(data_, sizeof data_);
  JsonWriter w(out);
  char id[40] = {};
  const ClusterEvent* ce = event.get<ClusterEvent>();
  const Member* m = ce == nullptr ? event.get<Member>() : nullptr;
  if (ce != nullptr) {
    std::snprintf(id, sizeof id, "%08lx-%lu-%lu", static_cast<unsigned long>(ce->sender_id),
                  static_cast<unsigned long>(ce->epoch), static_cast<unsigned long>(ce->seq));
    w.begin_object().field(SPORE_FSTR("topic"), ce->topic);
    write_node_id(w, ce->sender_id);
    const char* hostname = ce->sender_id == ctx_.self().node_id ? ctx_.hostname() : nullptr;
    if (hostname == nullptr) {
      const Member* sender = ctx_.members().find(ce->sender_id);
      if (sender != nullptr) hostname = sender->hostname;
    }
    if (hostname != nullptr) w.field(SPORE_FSTR("hostname"), hostname);
    w.field(SPORE_FSTR("epoch"), ce->epoch)
        .field(SPORE_FSTR("seq"), ce->seq)
        .field(SPORE_FSTR("data"), ce->payload_text())
        .end_object();
  } else if (m != nullptr && is_membership_topic(event.topic())) {
    char ip[16];
    format_ipv4(m->ip, ip, sizeof ip);
    w.begin_object().field(SPORE_FSTR("topic"), event.topic());
    write_node_id(w, m->node_id);
    w.field(SPORE_FSTR("hostname"), static_cast<const char*>(m->hostname))
        .field(SPORE_FSTR("ip"), static_cast<const char*>(ip))
        .field(SPORE_FSTR("status"), member_status_name(m->status))
        .end_object();
  } else {
    return;  // an application's local event, or the OTA path's local copy of an ota_* event
  }
  if (!w.complete() || out.overflowed()) {
    ++oversize_;
    return;
  }
  ++streamed_;
  sink_(SseMessage{std::string_view(id), event.topic(), std::string_view(out.c_str(), out.size())});
}

}  // namespace spore
