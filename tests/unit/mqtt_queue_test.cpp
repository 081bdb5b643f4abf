// MqttQueue, the MQTT bridge's outbox: whole messages in a fixed ring, in order, wrapped whole,
// dropped and counted when full, and the front message's bytes untouched by later pushes (the
// bridge publishes from the ring while nested callbacks queue more).

#include "spore/mqtt/mqtt_queue.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>

namespace spore {
namespace {

struct Msg {
  std::string topic;
  std::string payload;
  bool retain;
  bool event;
};

bool push(MqttQueue& q, const Msg& m) {
  return q.push(m.topic, reinterpret_cast<const uint8_t*>(m.payload.data()), m.payload.size(), m.retain, m.event);
}

Msg front(const MqttQueue& q) {
  MqttQueue::Message m;
  EXPECT_TRUE(q.front(&m));
  return {m.topic, std::string(reinterpret_cast<const char*>(m.payload), m.size_bytes), m.retain, m.event};
}

TEST(MqttQueueTest, FifoWithFlags) {
  MqttQueue q;
  MqttQueue::Message m;
  EXPECT_FALSE(q.front(&m));
  EXPECT_TRUE(q.empty());
  ASSERT_TRUE(push(q, {"a/b", "one", true, false}));
  ASSERT_TRUE(push(q, {"c", "", false, true}));
  ASSERT_TRUE(q.push("d", nullptr, 7, false, false));  // no payload: empty
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.used_bytes(), 3 * MqttQueue::kRecordOverheadBytes + 3 + 3 + 1 + 1);
  Msg f = front(q);
  EXPECT_EQ(f.topic, "a/b");
  EXPECT_EQ(f.payload, "one");
  EXPECT_TRUE(f.retain);
  EXPECT_FALSE(f.event);
  q.pop();
  f = front(q);
  EXPECT_EQ(f.topic, "c");
  EXPECT_EQ(f.payload, "");
  EXPECT_TRUE(f.event);
  q.pop();
  EXPECT_EQ(front(q).topic, "d");
  EXPECT_EQ(front(q).payload, "");
  q.pop();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.used_bytes(), 0u);
  q.pop();  // harmless
  EXPECT_EQ(q.dropped(), 0u);
}

TEST(MqttQueueTest, FullDropsAndCountsThenTakesAgain) {
  MqttQueue q;
  const std::string payload(100, 'p');
  size_t n = 0;
  while (push(q, {"t" + std::to_string(n), payload, false, false})) ++n;
  EXPECT_EQ(q.dropped(), 1u);
  EXPECT_EQ(q.size(), n);
  EXPECT_LE(q.used_bytes(), MqttQueue::kCapacityBytes);
  EXPECT_GT(q.used_bytes() + MqttQueue::kRecordOverheadBytes + 2 + payload.size(), MqttQueue::kCapacityBytes);
  // Too large ever, and a topic over 255 bytes: dropped as well.
  EXPECT_FALSE(push(q, {"x", std::string(MqttQueue::kCapacityBytes, 'x'), false, false}));
  EXPECT_FALSE(push(q, {std::string(256, 't'), "", false, false}));
  EXPECT_EQ(q.dropped(), 3u);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(front(q).topic, "t" + std::to_string(i));
    q.pop();
  }
  EXPECT_TRUE(q.empty());
  // The largest message the bridge builds always fits an empty queue.
  EXPECT_TRUE(push(q, {std::string(SPORE_MQTT_TOPIC_MAX, 't'), std::string(SPORE_MQTT_PAYLOAD_MAX, 'p'), false, false}));
}

TEST(MqttQueueTest, WrapsWholeMessagesBelowTheOldest) {
  MqttQueue q;
  const size_t record = MqttQueue::kCapacityBytes / 4;  // 4 records fill it exactly
  const std::string payload(record - MqttQueue::kRecordOverheadBytes - 1, 'p');
  for (char t : {'a', 'b', 'c', 'd'}) ASSERT_TRUE(push(q, {std::string(1, t), payload, false, false}));
  EXPECT_EQ(q.used_bytes(), MqttQueue::kCapacityBytes);
  EXPECT_FALSE(push(q, {"e", "", false, false}));
  MqttQueue::Message c_before;
  q.pop();  // a
  q.pop();  // b
  ASSERT_TRUE(q.front(&c_before));
  // No room after d: e and f go to the start, below c, which stays where it is.
  ASSERT_TRUE(push(q, {"e", payload, false, false}));
  ASSERT_TRUE(push(q, {"f", payload, false, false}));
  EXPECT_FALSE(push(q, {"g", "", false, false})) << "full again: nothing overwrites c";
  MqttQueue::Message c_after;
  ASSERT_TRUE(q.front(&c_after));
  EXPECT_EQ(c_after.topic, c_before.topic);
  for (char t : {'c', 'd', 'e', 'f'}) {
    EXPECT_EQ(front(q).topic, std::string(1, t));
    EXPECT_EQ(front(q).payload, payload);
    q.pop();
  }
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.dropped(), 2u);
}

// A model check: random pushes and pops against a std::deque, every front's bytes compared, and
// the front's storage checked unchanged across the pushes made while it is "being published".
TEST(MqttQueueTest, MatchesADequeAndKeepsTheFrontStableAcrossWraps) {
  MqttQueue q;
  std::deque<Msg> model;
  uint32_t seed = 12345;
  auto next = [&seed] {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 16) & 0x7FFF;
  };
  uint32_t drops = 0;
  for (int step = 0; step < 20000; ++step) {
    if (next() % 3 != 0) {
      const size_t len = next() % (MqttQueue::kCapacityBytes / 5);
      Msg m{"topic/" + std::to_string(step), std::string(len, static_cast<char>('a' + step % 26)), (step & 1) != 0,
            (step & 2) != 0};
      MqttQueue::Message before;
      const bool had_front = q.front(&before);
      const std::string front_bytes = had_front ? std::string(reinterpret_cast<const char*>(before.payload),
                                                              before.size_bytes)
                                                : std::string();
      if (push(q, m)) {
        model.push_back(m);
      } else {
        ++drops;
      }
      if (had_front) {
        MqttQueue::Message after;
        ASSERT_TRUE(q.front(&after));
        EXPECT_EQ(after.payload, before.payload) << "the front message did not move";
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(after.payload), after.size_bytes), front_bytes);
      }
    } else if (!model.empty()) {
      const Msg f = front(q);
      EXPECT_EQ(f.topic, model.front().topic);
      EXPECT_EQ(f.payload, model.front().payload);
      EXPECT_EQ(f.retain, model.front().retain);
      EXPECT_EQ(f.event, model.front().event);
      q.pop();
      model.pop_front();
    }
    ASSERT_EQ(q.size(), model.size());
    ASSERT_LE(q.used_bytes(), MqttQueue::kCapacityBytes);
  }
  EXPECT_EQ(q.dropped(), drops);
  EXPECT_GT(drops, 0u);
  q.clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.dropped(), drops) << "clear() is not a drop";
}

}  // namespace
}  // namespace spore
