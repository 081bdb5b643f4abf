#pragma once
/// @file mqtt_queue.h
/// The MQTT bridge's outbox (docs/mqtt.md, "Outbox"): a fixed byte ring of whole messages, so a
/// message built inside a callback is published later from the bridge's loop(), in order.
///
/// Guarantees:
///  - No allocation; SPORE_MQTT_QUEUE_BYTES of storage. A message costs kRecordOverheadBytes plus
///    its topic and payload, stored contiguously (the ring wraps whole messages, never inside one).
///  - push() never blocks and never evicts: a message that does not fit now is dropped and counted
///    (dropped()).
///  - front()'s pointers stay valid until pop(), across any number of push() calls: the bridge
///    publishes straight from the ring while a nested callback may queue more.
/// Not thread-safe (the bridge's caller serializes, as for MqttBridge).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/base/limits.h"

namespace spore {

class MqttQueue {
 public:
  /// Per message: a 16-bit length, flags, the topic length, and the topic's NUL.
  static constexpr size_t kRecordOverheadBytes = 5;
  static constexpr size_t kCapacityBytes = SPORE_MQTT_QUEUE_BYTES;

  struct Message {
    const char* topic = nullptr;  ///< NUL-terminated
    const uint8_t* payload = nullptr;
    size_t size_bytes = 0;
    bool retain = false;
    bool event = false;  ///< a bridged cluster event (counted as such when published)
  };

  /// Appends a message; false when it does not fit now (counted in dropped()) or `topic` is longer
  /// than 255 bytes.
  bool push(std::string_view topic, const uint8_t* payload, size_t size_bytes, bool retain, bool event);
  /// The oldest message; false when the queue is empty.
  bool front(Message* out) const;
  /// Removes the oldest message (no-op when empty).
  void pop();
  /// Removes every message (not counted as dropped).
  void clear();

  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  /// Bytes the queued messages take, wrap gap included.
  size_t used_bytes() const;
  /// Messages push() refused since construction.
  uint32_t dropped() const { return dropped_; }

 private:
  uint8_t buf_[kCapacityBytes] = {};
  size_t head_ = 0;  // oldest message
  size_t tail_ = 0;  // where the next message goes
  size_t wrap_ = 0;  // while wrapped: where the messages before the wrap end
  size_t count_ = 0;
  uint32_t dropped_ = 0;
  bool wrapped_ = false;  // the newest messages start again at 0, before head_
};

static_assert(SPORE_MQTT_QUEUE_BYTES >= MqttQueue::kRecordOverheadBytes + SPORE_MQTT_TOPIC_MAX + SPORE_MQTT_PAYLOAD_MAX,
              "SPORE_MQTT_QUEUE_BYTES must hold the largest message the bridge builds");
static_assert(SPORE_MQTT_QUEUE_BYTES <= 65535, "a queued message's length is 16 bits");

}  // namespace spore
