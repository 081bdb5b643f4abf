#include "spore/base/event_bus.h"

namespace spore {

EventBus::SubscriptionId EventBus::on(std::string_view topic, EventHandler handler) {
  if (!handler) {
    ++refused_subscriptions_;
    return -1;
  }
  return add(topic, handler, nullptr);
}

EventBus::SubscriptionId EventBus::on(std::string_view topic, LegacyEventHandler handler) {
  if (handler == nullptr) {
    ++refused_subscriptions_;
    return -1;
  }
  return add(topic, EventHandler(), handler);
}

EventBus::SubscriptionId EventBus::add(std::string_view topic, EventHandler handler, LegacyEventHandler legacy) {
  if (topic.empty() || topic.size() > SPORE_MAX_TOPIC_LEN) {
    ++refused_subscriptions_;
    return -1;
  }
  for (size_t i = 0; i < subs_.size(); ++i) {
    Subscription& s = subs_[i];
    if (s.topic_len != 0) continue;
    s.topic = topic.data();
    s.topic_len = static_cast<uint8_t>(topic.size());
    s.handler = handler;
    s.legacy = legacy;
    return static_cast<SubscriptionId>(i);
  }
  ++refused_subscriptions_;
  return -1;
}

void EventBus::off(SubscriptionId id) {
  if (id < 0 || static_cast<size_t>(id) >= subs_.size()) return;
  subs_[static_cast<size_t>(id)] = Subscription{};
}

size_t EventBus::dispatch(const Event& event) {
  if (depth_ >= kMaxFireDepth) {
    ++dropped_fires_;
    return 0;
  }
  ++depth_;
  size_t called = 0;
  // Index loop over a fixed table: handlers may subscribe or unsubscribe while we iterate.
  for (size_t i = 0; i < subs_.size(); ++i) {
    const Subscription& s = subs_[i];
    if (s.topic_len == 0) continue;
    std::string_view topic(s.topic, s.topic_len);
    if (topic != event.topic() && topic != kAnyTopic) continue;
    if (s.legacy != nullptr) {
      // The seed's API hands out a mutable pointer; the payload belongs to the firer.
      s.legacy(const_cast<void*>(event.raw()));
    } else {
      // Copy: the handler may call off() on itself, which clears the slot.
      EventHandler handler = s.handler;
      handler(event);
    }
    ++called;
  }
  --depth_;
  return called;
}

size_t EventBus::subscriber_count() const {
  size_t n = 0;
  for (const Subscription& s : subs_) n += s.topic_len != 0 ? 1 : 0;
  return n;
}

}  // namespace spore
