#include "spore/mqtt/mqtt_bridge.h"

#include <cstring>

#include "spore/events/cluster_events.h"
#include "spore/base/flash_string.h"
#include "spore/base/json_writer.h"
#include "spore/cluster/member_table.h"
#include "spore/mqtt/mqtt_text.h"
#include "spore/node/node_context.h"

namespace spore {

namespace {

using mqtt_text::append;
using mqtt_text::copy_display;
using mqtt_text::dec;
using mqtt_text::starts_with;

bool is_level_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

void hex8(uint32_t v, char* out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int i = 7; i >= 0; --i) {
    out[i] = kDigits[v & 0xF];
    v >>= 4;
  }
  out[8] = '\0';
}

}  // namespace

MqttBridge::MqttBridge(NodeContext& ctx, RestApi& api, MqttPort& port) : ctx_(ctx), api_(api), port_(port) {}

size_t MqttBridge::sanitize_level(std::string_view hostname, uint32_t node_id, char* out, size_t out_size) {
  if (out_size == 0) return 0;
  if (hostname.empty() && out_size >= 11) return dec(node_id, out);
  size_t n = 0;
  for (char c : hostname) {
    if (n + 1 >= out_size) break;
    out[n++] = is_level_char(c) ? c : '_';
  }
  out[n] = '\0';
  return n;
}

bool MqttBridge::begin(const MqttBridgeConfig& config) {
  const std::string_view cluster = config.cluster != nullptr ? config.cluster : "";
  const std::string_view prefix = config.discovery_prefix != nullptr ? config.discovery_prefix : "";
  const std::string_view model = config.model != nullptr ? config.model : "";
  bool cluster_ok = !cluster.empty() && cluster.size() <= kMaxClusterLen;
  for (char c : cluster) cluster_ok = cluster_ok && is_level_char(c);
  bool prefix_ok = prefix.size() <= kMaxPrefixLen;
  for (char c : prefix) prefix_ok = prefix_ok && c > 0x20 && c < 0x7F && c != '+' && c != '#';
  // One log line with a code (the header documents each limit) costs less flash than a sentence each.
  const char* why = !cluster_ok                                      ? "cluster (1-31 of A-Za-z0-9_-)"
                    : !prefix_ok                                     ? "discovery prefix (0-31, no space + #)"
                    : model.size() > kMaxModelLen                    ? "model (0-31 bytes)"
                    : config.state_interval_ms < kMinStateIntervalMs ? "state interval (>= 1000 ms)"
                    : ctx_.self().node_id == 0                       ? "begin() before ctx.begin()"
                                                                     : nullptr;
  if (why == nullptr && !begun_ &&
      ctx_.on(EventBus::kAnyTopic, EventHandler::bind<MqttBridge, &MqttBridge::on_event>(this)) < 0) {
    why = "event table full";
  }
  if (why != nullptr) {
    SPORE_LOG(ctx_, LogLevel::kError, "mqtt: invalid %s", why);
    return false;
  }
  state_interval_ms_ = config.state_interval_ms;
  std::memcpy(prefix_, prefix.data(), prefix.size());
  prefix_[prefix.size()] = '\0';
  copy_display(model, model_, sizeof model_);

  size_t len = 0;
  base_[0] = '\0';
  append(base_, sizeof base_, &len, "spore/");
  append(base_, sizeof base_, &len, cluster);
  append(base_, sizeof base_, &len, "/");
  len += sanitize_level(ctx_.hostname(), ctx_.self().node_id, base_ + len, sizeof base_ - len);
  base_len_ = static_cast<uint8_t>(len);
  std::memcpy(will_topic_, base_, len);
  std::memcpy(will_topic_ + len, "/status", 8);
  // A fixed id (the node id alone) let any broker user kick the node off at will by connecting
  // with it (MQTT 3.1.1 §3.1.4: the broker disconnects the existing client). Topics and the Home
  // Assistant ids do not depend on it.
  std::memcpy(client_id_, "spore-", 6);
  hex8(ctx_.self().node_id, client_id_ + 6);
  client_id_[14] = '-';
  draw_client_id();
  allow_token_payload_ = config.allow_token_payload;
  if (allow_token_payload_) {
    SPORE_LOG(ctx_, LogLevel::kWarn, "mqtt: token payloads allowed (unsafe)");
  }
  renew_nonce();
  begun_ = true;
  return true;
}

void MqttBridge::draw_client_id() { hex8(ctx_.random().next_u32(), client_id_ + 15); }

// ---- publishing ------------------------------------------------------------------------------

bool MqttBridge::build_topic(const char* suffix, std::string_view level) {
  size_t len = 0;
  topic_[0] = '\0';
  if (!append(topic_, sizeof topic_, &len, {base_, base_len_}) || !append(topic_, sizeof topic_, &len, suffix)) {
    return false;
  }
  if (len + level.size() + 1 > sizeof topic_) return false;
  // Wildcards are not allowed in a topic name; event topics may hold them ('/' is kept: levels).
  for (char c : level) topic_[len++] = (c == '+' || c == '#') ? '_' : c;
  topic_[len] = '\0';
  return true;
}

bool MqttBridge::send(size_t size_bytes, bool retain, bool overflowed, bool event) {
  if (overflowed) {
    ++stats_.oversize;
    ++stats_.publish_failures;
    return false;
  }
  // Every message goes through the outbox, so publish() only ever reads ring memory: the client
  // may wait inside it (on the ESP8266, WiFiClient's write waits in esp_delay() for lwIP room
  // between the PUBLISH header and the payload, ClientContext.h:487), and a callback that runs
  // there renders its message into topic_/payload_ and queues it behind, never into the bytes
  // being sent (the ring's front stays put across pushes, mqtt_queue.h).
  const auto* payload = reinterpret_cast<const uint8_t*>(payload_);
  bool queued = outbox_.push(topic_, payload, size_bytes, retain, event);
  if (!queued && callback_depth_ == 0 && !outbox_.empty()) {
    // From the loop: make room by publishing what callbacks queued before (older: order kept).
    flush_outbox(outbox_.size());
    queued = outbox_.push(topic_, payload, size_bytes, retain, event);
  }
  if (!queued) {
    ++stats_.queue_drops;
    ++stats_.publish_failures;
    // A lost retained message would stay wrong on the broker until the next connect: loop()
    // republishes the retained set once the outbox has room (resync_).
    if (retain) resync_ = true;
    return false;
  }
  // Inside a callback (a web-server handler on the system stack, the client's own read, or a
  // callback nested in one of the client's waits) it waits for loop(); from the loop it goes out
  // now, after whatever callbacks queued before it.
  if (callback_depth_ == 0) flush_outbox(outbox_.size());
  return true;
}

void MqttBridge::flush_outbox(size_t limit) {
  MqttQueue::Message m;
  for (; limit > 0 && outbox_.front(&m); --limit) {
    // Published straight from the ring: a callback that runs during the client's waits may queue
    // more meanwhile, behind this message, without touching it.
    const bool ok = port_.connected() && port_.publish(m.topic, m.payload, m.size_bytes, m.retain);
    outbox_.pop();
    if (!ok) {
      ++stats_.publish_failures;
      continue;
    }
    ++stats_.published;
    if (m.event) ++stats_.events_bridged;
  }
}

bool MqttBridge::send_text(const char* text, bool retain) {
  const size_t n = std::strlen(text);
  std::memcpy(payload_, text, n + 1);
  return send(n, retain, false);
}

void MqttBridge::publish_state(uint32_t now_ms) {
  last_state_ms_ = now_ms;
  const MemberTable& table = ctx_.members();
  // Self counts as active, as in GET /metrics' spore_members.
  last_counts_[0] = static_cast<uint16_t>(table.count(MemberStatus::kActive) + 1);
  last_counts_[1] = static_cast<uint16_t>(table.count(MemberStatus::kInactive));
  last_counts_[2] = static_cast<uint16_t>(table.count(MemberStatus::kDead));
  if (!build_topic("/state", {})) return;
  char ip[16];
  format_ipv4(ctx_.self().ip, ip, sizeof ip);
  BufferJsonOutput out(payload_, sizeof payload_);
  JsonWriter w(out);
  // The REST API's names and types (nodeId: the decimal node id, a number).
  w.begin_object()
      .field(SPORE_FSTR("status"), kOnlinePayload)
      .field(SPORE_FSTR("freeHeap"), ctx_.system().free_heap_bytes())
      .field(SPORE_FSTR("uptimeMs"), ctx_.uptime_ms())
      .field(SPORE_FSTR("firmwareVersion"), ctx_.firmware_version())
      .field(SPORE_FSTR("ip"), static_cast<const char*>(ip))
      .field(SPORE_FSTR("nodeId"), ctx_.self().node_id)
      .field(SPORE_FSTR("mqttDropped"), stats_.queue_drops);
  w.key(SPORE_FSTR("members"))
      .begin_object()
      .field(SPORE_FSTR("active"), last_counts_[0])
      .field(SPORE_FSTR("inactive"), last_counts_[1])
      .field(SPORE_FSTR("dead"), last_counts_[2])
      .end_object();
  w.end_object();
  send(out.size(), true, out.overflowed() || !w.complete());
}

void MqttBridge::publish_member(const Member& member, bool forgotten) {
  char level[SPORE_MAX_HOSTNAME_LEN + 1];
  const size_t n = sanitize_level(member.hostname, member.node_id, level, sizeof level);
  if (!build_topic("/members/", {level, n})) return;
  // Forgotten: an empty retained message makes the broker delete the retained status.
  if (forgotten) {
    payload_[0] = '\0';
    send(0, true, false);
  } else {
    send_text(member_status_name(member.status), true);
  }
}

// ---- connection ------------------------------------------------------------------------------

void MqttBridge::on_connected(uint32_t now_ms) {
  if (!begun_ || left_) return;
  session_ = true;
  ++stats_.connects;
  // The command budget is per connection: full again.
  budget_milli_ = SPORE_MQTT_COMMAND_BURST * 1000u;
  budget_ms_ = now_ms;
  // A new nonce for every connection, before the subscription: a command published while the
  // node was off the broker (QoS 1, clean session: lost for the node, but seen by every cmd/#
  // subscriber) would otherwise still verify after the reconnect, at any later time (issue 18
  // review). Its retained copy, which the subscription brings back, names the old nonce too.
  renew_nonce();
  if (build_topic("/cmd/+", {}) && !port_.subscribe(topic_)) {
    SPORE_LOG(ctx_, LogLevel::kWarn, "mqtt: subscribing to %s failed; commands will not arrive", topic_);
  }
  publish_retained(now_ms);
}

void MqttBridge::publish_retained(uint32_t now_ms) {
  resync_ = false;
  if (build_topic("/status", {})) send_text(kOnlinePayload, true);
  if (build_topic("/cmd/nonce", {})) send_text(nonce_, true);
  if (prefix_[0] != '\0') {
    publish_discovery_documents();
  }
  publish_state(now_ms);
  ctx_.members().for_each([this](const Member& m) { publish_member(m, false); });
}

void MqttBridge::loop(uint32_t now_ms) {
  flush_outbox(outbox_.size());
  if (stats_.queue_drops != drops_logged_) {
    SPORE_LOG(ctx_, LogLevel::kWarn, "mqtt: outbox full, %lu message(s) dropped so far",
              static_cast<unsigned long>(stats_.queue_drops));
    drops_logged_ = stats_.queue_drops;
  }
  if (!session_) return;
  if (!port_.connected()) {
    // Lost: the platform reconnects and calls on_connected(), which republishes everything.
    session_ = false;
    return;
  }
  if (resync_ && outbox_.empty()) {
    // A retained message was dropped (full outbox): what the broker keeps is stale until this
    // republishes the whole retained set (the state included). Only once the callbacks' burst
    // has drained: while they still queue during a pass, the next pass tries again.
    counts_dirty_ = false;
    publish_retained(now_ms);
    return;
  }
  bool due = elapsed_ms(now_ms, last_state_ms_) >= state_interval_ms_;
  if (counts_dirty_) {
    counts_dirty_ = false;
    const MemberTable& table = ctx_.members();
    due = due || last_counts_[0] != table.count(MemberStatus::kActive) + 1 ||
          last_counts_[1] != table.count(MemberStatus::kInactive) ||
          last_counts_[2] != table.count(MemberStatus::kDead);
  }
  if (due) publish_state(now_ms);
}

void MqttBridge::leave() {
  if (!begun_ || left_) return;
  flush_outbox(outbox_.size());
  left_ = true;
  session_ = false;
  if (build_topic("/status", {})) send_text(kWillPayload, true);
}

// ---- local events ----------------------------------------------------------------------------

void MqttBridge::on_event(const Event& event) {
  if (!begun_ || left_) return;
  // Events fire wherever their cause runs (an HTTP handler, the UDP intake): everything this
  // publishes waits in the outbox for loop().
  ++callback_depth_;
  on_event_queued(event);
  --callback_depth_;
}

void MqttBridge::on_event_queued(const Event& event) {
  if (const Member* member = event.get<Member>()) {
    if (!starts_with(event.topic(), "node_")) return;
    // The state's counts follow in loop(): several changes in one pass give one document.
    counts_dirty_ = true;
    publish_member(*member, event.topic() == topics::kNodeForgotten);
    return;
  }
  // This node's own ota_* events reach it as OtaEvent (ClusterEvents sends the cluster copy to
  // the others only): bridged here with the text the other nodes receive.
  char ota_text[96];
  if (ota_event_text(event, ota_text, sizeof ota_text) != 0) {
    if (!build_topic("/events/", event.topic())) return;
    BufferJsonOutput out(payload_, sizeof payload_);
    JsonWriter w(out);
    w.begin_object()
        .field(SPORE_FSTR("nodeId"), ctx_.self().node_id)
        .field(SPORE_FSTR("data"), static_cast<const char*>(ota_text))
        .end_object();
    send(out.size(), false, out.overflowed() || !w.complete(), true);
    return;
  }
  const ClusterEvent* ev = event.get<ClusterEvent>();
  // Only our own: with every node bridged, the broker then sees each event once.
  if (ev == nullptr || ev->sender_id != ctx_.self().node_id) return;
  if (!build_topic("/events/", ev->topic)) return;
  BufferJsonOutput out(payload_, sizeof payload_);
  JsonWriter w(out);
  w.begin_object()
      .field(SPORE_FSTR("nodeId"), ctx_.self().node_id)
      .field(SPORE_FSTR("epoch"), ev->epoch)
      .field(SPORE_FSTR("seq"), ev->seq)
      .field(SPORE_FSTR("data"), ev->payload_text())
      .end_object();
  send(out.size(), false, out.overflowed() || !w.complete(), true);
}

}  // namespace spore
