#pragma once
/// @file event_bus.h
/// Local publish/subscribe: the seed's `ctx.on(topic, handler)` / `ctx.fire(topic, payload)`.
///
/// Subscriptions live in a fixed table of SPORE_MAX_SUBSCRIBERS entries; on() reports failure
/// instead of allocating. Payloads are passed by reference, never copied, and carry a type tag so a
/// handler reads them with `event.get<NodeInfo>()`, which returns nullptr on a type mismatch
/// instead of the seed's unchecked static_cast from void*. The tag is the address of a per-type
/// variable, so no RTTI is needed. Handlers run synchronously inside fire().

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/base/delegate.h"
#include "spore/base/limits.h"

namespace spore {

/// Identifies a payload type without RTTI: the address of a variable that exists once per type.
using TypeTag = const void*;
template <typename T>
struct TypeTagOf {
  static constexpr char kTag = 0;
};
template <typename T>
constexpr TypeTag type_tag() {
  return &TypeTagOf<T>::kTag;
}

/// What a handler receives. Valid only during the handler call.
class Event {
 public:
  Event(std::string_view topic, const void* data, TypeTag tag) : topic_(topic), data_(data), tag_(tag) {}

  std::string_view topic() const { return topic_; }
  /// The payload if it was fired as a T, else nullptr.
  template <typename T>
  const T* get() const {
    return tag_ == type_tag<T>() ? static_cast<const T*>(data_) : nullptr;
  }
  /// The payload without a type check, for handlers written against the seed's void* API.
  const void* raw() const { return data_; }
  bool has_payload() const { return data_ != nullptr; }

 private:
  std::string_view topic_;
  const void* data_;
  TypeTag tag_;
};

using EventHandler = Delegate<void(const Event&)>;
/// The seed's handler shape: `[](void* data) { ... }`.
using LegacyEventHandler = void (*)(void* data);

class EventBus {
 public:
  /// Subscription handle; negative means the subscription was refused.
  using SubscriptionId = int16_t;
  /// Subscribing to this topic receives every event (used by logs and bridges).
  static constexpr std::string_view kAnyTopic = "*";
  /// Handlers may fire further events; nesting deeper than this is dropped and counted, so a
  /// handler that re-fires its own topic cannot overflow a 4 KB ESP8266 stack.
  static constexpr uint8_t kMaxFireDepth = 4;

  /// Returns the subscription id, or -1 if the table is full or the topic is empty or longer
  /// than SPORE_MAX_TOPIC_LEN.
  ///
  /// The topic is not copied: its bytes must stay valid and unchanged until off() (in practice a
  /// string literal or a `topics::` constant, as every caller in SPORE passes). Copying it cost
  /// 32 bytes of RAM per subscription slot, ~0.7 KB on an ESP8266 for a guarantee nobody used.
  SubscriptionId on(std::string_view topic, EventHandler handler);
  SubscriptionId on(std::string_view topic, LegacyEventHandler handler);
  /// Removes a subscription; safe to call from inside a handler. Unknown ids are ignored.
  void off(SubscriptionId id);

  /// Calls every handler of `topic` (and of kAnyTopic) with `payload`; returns how many ran.
  template <typename T>
  size_t fire(std::string_view topic, const T& payload) {
    return dispatch(Event(topic, &payload, type_tag<T>()));
  }
  /// An event without payload.
  size_t fire(std::string_view topic) { return dispatch(Event(topic, nullptr, nullptr)); }

  size_t subscriber_count() const;
  /// on() calls refused because the table was full or the topic invalid.
  uint32_t refused_subscriptions() const { return refused_subscriptions_; }
  /// fire() calls dropped because they nested deeper than kMaxFireDepth.
  uint32_t dropped_fires() const { return dropped_fires_; }

 private:
  struct Subscription {
    EventHandler handler;
    LegacyEventHandler legacy = nullptr;
    const char* topic = nullptr;  // the caller's bytes (see on()), not NUL-terminated
    uint8_t topic_len = 0;        // 0 = free slot
  };

  SubscriptionId add(std::string_view topic, EventHandler handler, LegacyEventHandler legacy);
  size_t dispatch(const Event& event);

  std::array<Subscription, SPORE_MAX_SUBSCRIBERS> subs_{};
  uint32_t refused_subscriptions_ = 0;
  uint32_t dropped_fires_ = 0;
  uint8_t depth_ = 0;
};

}  // namespace spore
