#pragma once
/// @file cluster_events.h
/// Cluster-wide events: `ctx.publish(topic, payload)` reaches the subscribers of `topic` on every
/// node, at least once on the wire and exactly once to the handlers (per receiving process), in
/// publish order per sender. Design, guarantees and costs: docs/events.md; wire: docs/protocol.md
/// §4 (EVENT, EVENT_REQ, EVENT_DIGEST).
///
/// In short: each node numbers what it publishes (seq 1, 2, ... per epoch = its incarnation at
/// begin()), keeps the last SPORE_EVENT_LOG_SIZE events in a ring and broadcasts each at once.
/// Receivers track per sender the last seq delivered in order; a gap (a later EVENT, or an
/// EVENT_DIGEST the sender repeats on its next heartbeats) makes them ask the sender by unicast
/// (EVENT_REQ), which re-sends from its ring. Duplicates are dropped; events the ring no longer
/// holds are skipped and counted as lost.
///
/// Membership owns one ClusterEvents and routes the three message types to it; it sends through
/// Membership's DatagramChannel (same key, sequence numbers and replay protection as every
/// datagram). No allocation: the ring is a fixed array (limits.h), and a publisher's stream position
/// lives at its MemberTable slot (one per member, cleared when the member is forgotten). Not
/// thread-safe.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/base/event_bus.h"
#include "spore/base/limits.h"
#include "spore/wire/wire_messages.h"

namespace spore {

class DatagramChannel;
class NodeContext;

static_assert(SPORE_EVENT_PAYLOAD_MAX <= wire::kMaxEventPayloadBytes, "the wire carries at most 256 payload bytes");
static_assert(SPORE_EVENT_LOG_SIZE >= 1 && SPORE_EVENT_LOG_SIZE <= 255, "the log needs a slot, uint8_t counts it");

/// What a subscriber of a cluster event receives: `event.get<ClusterEvent>()`. Views are valid
/// only during the handler call (they point into the datagram or the outbound log).
struct ClusterEvent {
  uint32_t sender_id = 0;  ///< the publishing node; this node's own id for what it published
  uint32_t epoch = 0;      ///< the publisher's incarnation when it started: a restart starts a new stream
  uint32_t seq = 0;        ///< 1, 2, ... within (sender_id, epoch), delivered in this order
  std::string_view topic;
  const uint8_t* payload = nullptr;
  size_t payload_size_bytes = 0;
  std::string_view payload_text() const {
    return std::string_view(reinterpret_cast<const char*>(payload), payload == nullptr ? 0 : payload_size_bytes);
  }
};

/// Why publish() refused. Values are stable (REST error codes); append only.
enum class PublishError : uint8_t {
  kOk = 0,
  kNotRunning,     ///< before begin() or after leave()
  kBadTopic,       ///< empty, longer than 31 bytes, "*", or a byte outside 0x21..0x7E
  kReservedTopic,  ///< "node_*" (membership, local to each node) or "ota_*" (published by the OTA path)
  kTooLarge,       ///< payload longer than SPORE_EVENT_PAYLOAD_MAX
};
/// A topic's syntax: 1..31 bytes of 0x21..0x7E, not "*" (kBadTopic otherwise). Reserved topics
/// (node_*, ota_*) are valid here: they are what subscribers and stream filters name.
bool valid_event_topic(std::string_view topic);
/// The JSON text an ota_* event carries to other nodes (and the MQTT bridge publishes):
/// {"sizeBytes":N}, with "imageDigest" for ota_finished and "error" for a failure; at most 64
/// bytes, so it fits the ESP8266's payloads. Writes it NUL-terminated to `out` and returns its
/// length; 0 when `event` carries no OtaEvent or `out` is too small (96 bytes are enough).
size_t ota_event_text(const Event& event, char* out, size_t capacity_bytes);
/// "ok", "not_running", "bad_topic", "reserved_topic", "too_large"; "?" otherwise. Never nullptr.
const char* publish_error_name(PublishError error);

/// Counters of one node's cluster events.
struct ClusterEventStats {
  uint32_t published = 0;      ///< events this node published (its last seq in this epoch)
  uint32_t delivered = 0;      ///< remote events handed to local subscribers (in order, once each)
  uint32_t duplicates = 0;     ///< EVENTs dropped as already delivered
  uint32_t out_of_order = 0;   ///< EVENTs dropped because an earlier one was missing (re-requested)
  uint32_t lost = 0;           ///< events skipped: no longer in the sender's log, or repair gave up
  uint32_t stale = 0;          ///< EVENT / DIGEST of an older epoch than the one tracked (pre-restart)
  /// EVENT datagrams (one event each; a resent copy counts again) dropped because their publisher
  /// has no MemberTable slot (the table is full of ACTIVE members, or it was not heard yet: then its
  /// next digest starts the stream and repair fetches what its ring still holds); EVENT_DIGESTs
  /// of such a publisher are not counted.
  uint32_t untracked = 0;
  uint32_t requests_sent = 0;  ///< EVENT_REQ sent
  uint32_t resent = 0;         ///< EVENTs re-sent for peers' EVENT_REQ
  uint32_t digests_sent = 0;   ///< EVENT_DIGEST broadcasts
  /// Of `lost`: skipped because the sender's ring had already overwritten them (it published
  /// more than SPORE_EVENT_LOG_SIZE while they were missing here, e.g. dropped by the per-source
  /// datagram limit). The rest of `lost` is repair that went unanswered.
  uint32_t lost_overwritten = 0;
};

class ClusterEvents {
 public:
  /// Heartbeats after a publish that also broadcast an EVENT_DIGEST: a receiver that missed the
  /// last EVENT learns of it from any one of them (at 20 % loss all 1 + 6 are lost with p = 1e-5).
  static constexpr uint8_t kDigestRepeats = 6;
  /// EVENT_REQ per gap without progress before the receiver gives up and counts the events lost.
  static constexpr uint8_t kRequestTries = 10;
  /// EVENTs re-sent per EVENT_REQ; a longer gap takes further requests.
  static constexpr uint8_t kResendBatch = 4;

  ClusterEvents(NodeContext& ctx, DatagramChannel& channel);
  ClusterEvents(const ClusterEvents&) = delete;
  ClusterEvents& operator=(const ClusterEvents&) = delete;

  /// Membership::begin() calls this: the epoch is the incarnation now; ctx.publish() is routed here;
  /// the local ota_* events are bridged to the cluster (one EventBus slot).
  void begin();
  /// Stops publishing and receiving (Membership::leave()).
  void stop() { running_ = false; }

  /// Delivers `payload` (0..SPORE_EVENT_PAYLOAD_MAX bytes, copied) under `topic` to this node's
  /// subscribers at once (sender = this node) and to every other node's. Never blocks.
  PublishError publish(std::string_view topic, const uint8_t* payload, size_t size_bytes);

  // Called by Membership.
  /// An accepted EVENT / EVENT_REQ / EVENT_DIGEST.
  void on_message(const wire::Message& msg, uint32_t now_ms);
  /// Every heartbeat: the pending digest, if any.
  void on_heartbeat();
  /// Every membership tick: repair requests that timed out.
  void run(uint32_t now_ms);

  const ClusterEventStats& stats() const { return stats_; }
  uint32_t epoch() const { return epoch_; }
  /// Last seq published in this epoch (0: none yet).
  uint32_t last_seq() const { return last_seq_; }
  /// Oldest seq still in the outbound log (1 when nothing was evicted yet).
  uint32_t oldest_seq() const {
    return last_seq_ > SPORE_EVENT_LOG_SIZE ? last_seq_ - SPORE_EVENT_LOG_SIZE + 1 : 1;
  }
  /// Last seq of `node_id`'s stream delivered here in order; 0 when not tracked.
  uint32_t delivered_seq(uint32_t node_id) const;
  /// NodeContext calls this when the member in MemberTable slot `slot` is forgotten (before the
  /// slot can be reused): its stream position goes with it.
  void forget_slot(size_t slot);

 private:
  struct Slot {
    uint32_t seq = 0;
    uint16_t payload_size_bytes = 0;
    uint8_t topic_len = 0;
    char topic[wire::kMaxEventTopicLen] = {};
    uint8_t payload[SPORE_EVENT_PAYLOAD_MAX] = {};
  };
  /// The position of one publisher's stream, at its MemberTable slot (no id of its own).
  struct Stream {
    uint32_t epoch = 0;
    uint32_t delivered = 0;  // last seq handed to subscribers in order
    uint32_t latest = 0;     // newest seq known to exist
    uint32_t req_sent_ms = 0;
    uint8_t tries = 0;     // EVENT_REQ sent since the last progress
    bool tracked = false;  // an EVENT or DIGEST of this member was seen (epoch is set)
  };

  /// The stream of `node_id` at `epoch`; null when the sender has no MemberTable slot (`*untracked`
  /// set) or the epoch is older than the one tracked (stale).
  Stream* stream_for(uint32_t node_id, uint32_t epoch, bool* untracked);
  /// Applies what an EVENT or DIGEST says about the stream (newest, oldest held); requests a new gap.
  void advance(Stream& s, const wire::EventStreamPos& pos, bool is_event, uint32_t now_ms);
  /// Asks the stream's publisher (the member at the stream's slot) for the next missing event.
  void request(Stream& s, uint32_t now_ms);
  void send_event(uint32_t ip, uint16_t port, uint32_t dest_id, const Slot& slot);
  void deliver(uint32_t sender_id, uint32_t epoch, uint32_t seq, std::string_view topic, const uint8_t* payload,
               size_t size_bytes);
  PublishError store_and_send(std::string_view topic, const uint8_t* payload, size_t size_bytes, bool deliver_locally);
  void on_ota(const Event& event);

  NodeContext& ctx_;
  DatagramChannel& channel_;
  ClusterEventStats stats_;
  std::array<Slot, SPORE_EVENT_LOG_SIZE> log_{};
  std::array<Stream, SPORE_MAX_MEMBERS> streams_{};  // indexed by MemberTable::slot_of()
  uint32_t epoch_ = 0;
  uint32_t last_seq_ = 0;
  uint8_t digests_left_ = 0;
  bool running_ = false;
};

}  // namespace spore
