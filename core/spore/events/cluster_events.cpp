#include "spore/events/cluster_events.h"

#include <cstdio>
#include <cstring>

#include "spore/base/incarnation.h"
#include "spore/cluster/datagram_channel.h"
#include "spore/node/node_context.h"
#include "spore/ota/ota_upload.h"

namespace spore {

namespace {

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Membership events are local by design (every node observes membership itself), and a remote
// "node_dead" carrying a ClusterEvent would be misread by the seed's void* handlers expecting a
// Member. ota_* are published by the OTA path only, so they always mean a real update.
bool reserved_topic(std::string_view topic) { return starts_with(topic, "node_") || starts_with(topic, "ota_"); }

}  // namespace

bool valid_event_topic(std::string_view topic) {
  if (topic.empty() || topic.size() > wire::kMaxEventTopicLen || topic == EventBus::kAnyTopic) return false;
  for (char c : topic)
    if (c < '\x21' || c > '\x7e') return false;
  return true;
}

const char* publish_error_name(PublishError error) {
  switch (error) {
    case PublishError::kOk:
      return "ok";
    case PublishError::kNotRunning:
      return "not_running";
    case PublishError::kBadTopic:
      return "bad_topic";
    case PublishError::kReservedTopic:
      return "reserved_topic";
    case PublishError::kTooLarge:
      return "too_large";
  }
  return "?";
}

ClusterEvents::ClusterEvents(NodeContext& ctx, DatagramChannel& channel) : ctx_(ctx), channel_(channel) {}

void ClusterEvents::begin() {
  epoch_ = ctx_.self().incarnation;
  running_ = true;
  ctx_.set_cluster_events(this);
  // One wildcard slot instead of three topic slots; only OtaEvent payloads pass the type check.
  ctx_.on(EventBus::kAnyTopic, EventHandler::bind<ClusterEvents, &ClusterEvents::on_ota>(this));
}

uint32_t ClusterEvents::delivered_seq(uint32_t node_id) const {
  const MemberTable& table = ctx_.members();
  const Member* m = table.find(node_id);
  return m != nullptr ? streams_[table.slot_of(*m)].delivered : 0;
}

void ClusterEvents::forget_slot(size_t slot) {
  if (slot < streams_.size()) streams_[slot] = Stream{};
}

// ---- publishing -----------------------------------------------------------------------------------

PublishError ClusterEvents::publish(std::string_view topic, const uint8_t* payload, size_t size_bytes) {
  if (!running_) return PublishError::kNotRunning;
  if (!valid_event_topic(topic)) return PublishError::kBadTopic;
  if (reserved_topic(topic)) return PublishError::kReservedTopic;
  return store_and_send(topic, payload, size_bytes, true);
}

PublishError ClusterEvents::store_and_send(std::string_view topic, const uint8_t* payload, size_t size_bytes,
                                           bool deliver_locally) {
  if (payload == nullptr) size_bytes = 0;
  if (size_bytes > SPORE_EVENT_PAYLOAD_MAX) return PublishError::kTooLarge;
  const uint32_t seq = ++last_seq_;
  Slot& slot = log_[(seq - 1) % SPORE_EVENT_LOG_SIZE];
  slot.seq = seq;
  slot.topic_len = static_cast<uint8_t>(topic.size());
  std::memcpy(slot.topic, topic.data(), topic.size());
  slot.payload_size_bytes = static_cast<uint16_t>(size_bytes);
  if (size_bytes != 0) std::memcpy(slot.payload, payload, size_bytes);
  ++stats_.published;
  digests_left_ = kDigestRepeats;
  send_event(0, ctx_.config().udp_port, 0, slot);
  // From the caller's bytes, not the slot: a handler that publishes may reuse the slot.
  if (deliver_locally) deliver(ctx_.self().node_id, epoch_, seq, topic, payload, size_bytes);
  return PublishError::kOk;
}

size_t ota_event_text(const Event& event, char* out, size_t capacity_bytes) {
  const OtaEvent* ota = event.get<OtaEvent>();
  if (ota == nullptr || capacity_bytes == 0) return 0;
  int n = 0;
  const unsigned long size = static_cast<unsigned long>(ota->size_bytes);
  if (ota->error != OtaError::kOk) {
    n = std::snprintf(out, capacity_bytes, "{\"sizeBytes\":%lu,\"error\":\"%s\"}", size, ota_error_name(ota->error));
  } else if (event.topic() == topics::kOtaFinished) {
    n = std::snprintf(out, capacity_bytes, "{\"sizeBytes\":%lu,\"imageDigest\":\"%02x%02x%02x%02x\"}", size,
                      ota->sha256[0], ota->sha256[1], ota->sha256[2], ota->sha256[3]);
  } else {
    n = std::snprintf(out, capacity_bytes, "{\"sizeBytes\":%lu}", size);
  }
  if (n < 0 || static_cast<size_t>(n) >= capacity_bytes) return 0;
  return static_cast<size_t>(n);
}

void ClusterEvents::on_ota(const Event& event) {
  if (!running_) return;
  char text[96];
  size_t len = ota_event_text(event, text, sizeof text);
  if (len == 0) return;
  if (len > SPORE_EVENT_PAYLOAD_MAX) len = SPORE_EVENT_PAYLOAD_MAX;
  // Local subscribers already had the OtaEvent; this copy is for the other nodes only.
  store_and_send(event.topic(), reinterpret_cast<const uint8_t*>(text), len, false);
}

void ClusterEvents::send_event(uint32_t ip, uint16_t port, uint32_t dest_id, const Slot& slot) {
  wire::Message m;
  m.header.type = wire::MessageType::kEvent;
  m.event.pos = {epoch_, slot.seq, oldest_seq()};
  m.event.topic = std::string_view(slot.topic, slot.topic_len);
  m.event.payload = slot.payload;
  m.event.payload_size_bytes = slot.payload_size_bytes;
  channel_.send(ip, port, dest_id, m);
}

void ClusterEvents::on_heartbeat() {
  if (!running_ || digests_left_ == 0) return;
  --digests_left_;
  wire::Message m;
  m.header.type = wire::MessageType::kEventDigest;
  m.event_digest = {epoch_, last_seq_, oldest_seq()};
  if (channel_.send(0, ctx_.config().udp_port, 0, m)) ++stats_.digests_sent;
}

// ---- receiving ------------------------------------------------------------------------------------

void ClusterEvents::on_message(const wire::Message& msg, uint32_t now_ms) {
  if (!running_) return;
  const wire::MessageType type = msg.header.type;
  if (type == wire::MessageType::kEventReq) {
    const wire::EventStreamPos& req = msg.event_req;
    // Re-sent to the member's authenticated address, never to the packet's source.
    const Member* asker = ctx_.members().find(msg.header.sender_id);
    if (req.epoch != epoch_ || asker == nullptr) return;  // our previous life: nothing left to send
    const uint32_t first = req.seq > oldest_seq() ? req.seq : oldest_seq();
    for (uint32_t seq = first; seq <= last_seq_ && seq - first < kResendBatch; ++seq) {
      send_event(asker->ip, asker->udp_port_or(ctx_.config().udp_port), asker->node_id, log_[(seq - 1) % SPORE_EVENT_LOG_SIZE]);
      ++stats_.resent;
    }
    return;
  }
  if (type != wire::MessageType::kEvent && type != wire::MessageType::kEventDigest) return;
  const bool is_event = type == wire::MessageType::kEvent;
  const wire::EventStreamPos& pos = is_event ? msg.event.pos : msg.event_digest;
  bool untracked = false;
  Stream* s = stream_for(msg.header.sender_id, pos.epoch, &untracked);
  if (s == nullptr) {
    // Counted per EVENT (one event each), not per datagram: a digest carries no event.
    if (is_event && untracked) ++stats_.untracked;
    return;
  }
  const bool was_behind = s->latest > s->delivered;
  if (pos.seq > s->latest) s->latest = pos.seq;
  if (pos.oldest_seq > s->delivered + 1) {
    // The sender no longer holds what we miss: skip it. What it published before we first heard
    // the stream (nothing delivered yet) is history, not a loss.
    if (s->delivered != 0) {
      stats_.lost += pos.oldest_seq - s->delivered - 1;
      stats_.lost_overwritten += pos.oldest_seq - s->delivered - 1;
    }
    s->delivered = pos.oldest_seq - 1;
    s->tries = 0;
  }
  bool deliver_now = false;
  if (is_event) {
    if (pos.seq == s->delivered + 1) {
      s->delivered = pos.seq;
      s->tries = 0;
      deliver_now = true;
    } else if (pos.seq <= s->delivered) {
      ++stats_.duplicates;
    } else {
      ++stats_.out_of_order;  // no reorder buffer (RAM): dropped now, re-sent with the gap
    }
  }
  // A new gap is asked for at once; an old one waits for its retry timer (run()), so a batch of
  // re-sent events does not trigger a request per event.
  if (!was_behind && s->latest > s->delivered) request(*s, now_ms);
  if (deliver_now) {
    ++stats_.delivered;
    if (!starts_with(msg.event.topic, "node_")) {
      deliver(msg.header.sender_id, pos.epoch, pos.seq, msg.event.topic, msg.event.payload,
              msg.event.payload_size_bytes);
    }
  }
}

ClusterEvents::Stream* ClusterEvents::stream_for(uint32_t node_id, uint32_t epoch, bool* untracked) {
  const MemberTable& table = ctx_.members();
  const Member* m = table.find(node_id);
  *untracked = m == nullptr;
  if (m == nullptr) return nullptr;
  Stream& s = streams_[table.slot_of(*m)];
  if (s.tracked && incarnation_older(epoch, s.epoch)) {
    ++stats_.stale;  // delayed datagram from before the sender restarted
    return nullptr;
  }
  if (!s.tracked || incarnation_newer(epoch, s.epoch)) {
    s = Stream{};  // first heard, or the sender restarted: a new stream from seq 1
    s.epoch = epoch;
    s.tracked = true;
  }
  return &s;
}

void ClusterEvents::request(Stream& s, uint32_t now_ms) {
  // Only an ACTIVE member is asked (its address is known and it can answer); the timer is not
  // restarted otherwise, so the request goes out as soon as it is back.
  const Member* m = ctx_.members().at_slot(static_cast<size_t>(&s - streams_.data()));
  if (m == nullptr || m->status != MemberStatus::kActive || m->left) return;
  s.req_sent_ms = now_ms;
  ++s.tries;
  wire::Message req;
  req.header.type = wire::MessageType::kEventReq;
  req.event_req.epoch = s.epoch;
  req.event_req.seq = s.delivered + 1;
  if (channel_.send(m->ip, m->udp_port_or(ctx_.config().udp_port), m->node_id, req)) ++stats_.requests_sent;
}

void ClusterEvents::run(uint32_t now_ms) {
  if (!running_) return;
  const uint32_t retry_ms = 2 * ctx_.config().probe_timeout_ms;
  for (Stream& s : streams_) {
    // A free slot's stream is cleared (forget_slot()), so latest == delivered == 0 skips it.
    if (s.latest <= s.delivered || elapsed_ms(now_ms, s.req_sent_ms) < retry_ms) continue;
    if (s.tries >= kRequestTries) {
      stats_.lost += s.latest - s.delivered;  // the sender does not answer: move on
      s.delivered = s.latest;
      s.tries = 0;
    } else {
      request(s, now_ms);
    }
  }
}

void ClusterEvents::deliver(uint32_t sender_id, uint32_t epoch, uint32_t seq, std::string_view topic,
                            const uint8_t* payload, size_t size_bytes) {
  ClusterEvent ev;
  ev.sender_id = sender_id;
  ev.epoch = epoch;
  ev.seq = seq;
  ev.topic = topic;
  ev.payload = payload;
  ev.payload_size_bytes = size_bytes;
  ctx_.fire(topic, ev);
}

}  // namespace spore
