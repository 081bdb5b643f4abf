#include "spore/base/event_bus.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace spore {
namespace {

struct NodeInfo {
  int id;
};
struct Other {
  int x;
};

struct Recorder {
  std::vector<std::string> topics;
  std::vector<int> ids;
  void handle(const Event& e) {
    topics.emplace_back(e.topic());
    const NodeInfo* n = e.get<NodeInfo>();
    ids.push_back(n != nullptr ? n->id : -1);
  }
  EventHandler handler() { return EventHandler::bind<Recorder, &Recorder::handle>(this); }
};

TEST(EventBus, DeliversTypedPayloadToSubscribersOfTheTopic) {
  EventBus bus;
  Recorder a, b;
  ASSERT_GE(bus.on("node_discovered", a.handler()), 0);
  ASSERT_GE(bus.on("node_dead", b.handler()), 0);
  NodeInfo n{42};
  EXPECT_EQ(bus.fire("node_discovered", n), 1u);
  ASSERT_EQ(a.ids.size(), 1u);
  EXPECT_EQ(a.ids[0], 42);
  EXPECT_TRUE(b.ids.empty());
}

TEST(EventBus, TypedAccessRefusesTheWrongType) {
  EventBus bus;
  Recorder a;
  bus.on("t", a.handler());
  bus.fire("t", Other{7});
  bus.fire("t");
  ASSERT_EQ(a.ids.size(), 2u);
  EXPECT_EQ(a.ids[0], -1);  // Other is not a NodeInfo: nullptr, not a reinterpretation
  EXPECT_EQ(a.ids[1], -1);
}

int g_legacy_seen = 0;
TEST(EventBus, SupportsTheSeedsVoidPointerHandlers) {
  EventBus bus;
  g_legacy_seen = 0;
  bus.on("node_discovered", [](void* data) { g_legacy_seen = static_cast<NodeInfo*>(data)->id; });
  NodeInfo n{9};
  bus.fire("node_discovered", n);
  EXPECT_EQ(g_legacy_seen, 9);
}

TEST(EventBus, CapturelessLambdasAreHandlers) {
  EventBus bus;
  static int seen = 0;
  bus.on("t", EventHandler([](const Event& e) { seen = e.get<NodeInfo>()->id; }));
  bus.fire("t", NodeInfo{5});
  EXPECT_EQ(seen, 5);
}

TEST(EventBus, WildcardReceivesEverything) {
  EventBus bus;
  Recorder all;
  bus.on(EventBus::kAnyTopic, all.handler());
  bus.fire("a", NodeInfo{1});
  bus.fire("b");
  EXPECT_EQ(all.topics, (std::vector<std::string>{"a", "b"}));
}

TEST(EventBus, RefusesWhenFullOrTopicInvalidAndCounts) {
  EventBus bus;
  Recorder r;
  for (int i = 0; i < SPORE_MAX_SUBSCRIBERS; ++i) ASSERT_GE(bus.on("t", r.handler()), 0);
  EXPECT_EQ(bus.on("t", r.handler()), -1);
  EXPECT_EQ(bus.subscriber_count(), static_cast<size_t>(SPORE_MAX_SUBSCRIBERS));
  EventBus other;
  EXPECT_EQ(other.on("", r.handler()), -1);
  EXPECT_EQ(other.on(std::string(SPORE_MAX_TOPIC_LEN + 1, 'x'), r.handler()), -1);
  static const std::string longest(SPORE_MAX_TOPIC_LEN, 'x');  // outlives the subscription
  EXPECT_GE(other.on(longest, r.handler()), 0);
  EXPECT_EQ(other.on("t", EventHandler()), -1);
  EXPECT_EQ(other.refused_subscriptions(), 3u);
  EXPECT_EQ(bus.refused_subscriptions(), 1u);
}

// Subscriptions keep the caller's topic bytes (no 32-byte copy per slot, event_bus.h); matching
// is still by content, so a fire() with an equal string from elsewhere reaches the handler.
TEST(EventBus, TopicIsMatchedByContentNotAddress) {
  EventBus bus;
  Recorder r;
  static const char kTopic[] = "sensor_reading";
  ASSERT_GE(bus.on(kTopic, r.handler()), 0);
  const std::string same(kTopic);
  EXPECT_EQ(bus.fire(std::string_view(same), NodeInfo{7}), 1u);
  EXPECT_EQ(bus.fire(std::string_view("sensor_readin")), 0u);
  EXPECT_EQ(r.topics, (std::vector<std::string>{"sensor_reading"}));
  EXPECT_EQ(r.ids, (std::vector<int>{7}));
}

TEST(EventBus, OffRemovesAndFreesTheSlot) {
  EventBus bus;
  Recorder r;
  auto id = bus.on("t", r.handler());
  bus.off(id);
  bus.off(id);     // twice is harmless
  bus.off(-1);     // invalid ids ignored
  bus.off(30000);
  EXPECT_EQ(bus.fire("t"), 0u);
  EXPECT_EQ(bus.subscriber_count(), 0u);
}

struct SelfRemover {
  EventBus* bus;
  EventBus::SubscriptionId id = -1;
  int calls = 0;
  void handle(const Event&) {
    ++calls;
    bus->off(id);
  }
};

TEST(EventBus, HandlerMayUnsubscribeItselfDuringFire) {
  EventBus bus;
  SelfRemover s{&bus};
  s.id = bus.on("t", EventHandler::bind<SelfRemover, &SelfRemover::handle>(&s));
  bus.fire("t");
  bus.fire("t");
  EXPECT_EQ(s.calls, 1);
}

struct Refirer {
  EventBus* bus;
  int calls = 0;
  void handle(const Event&) {
    ++calls;
    bus->fire("loop");
  }
};

TEST(EventBus, RecursiveFiringIsBoundedNotAStackOverflow) {
  EventBus bus;
  Refirer r{&bus};
  bus.on("loop", EventHandler::bind<Refirer, &Refirer::handle>(&r));
  bus.fire("loop");
  EXPECT_EQ(r.calls, EventBus::kMaxFireDepth);
  EXPECT_EQ(bus.dropped_fires(), 1u);
}

}  // namespace
}  // namespace spore
