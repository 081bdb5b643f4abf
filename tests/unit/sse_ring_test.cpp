// SseRing: the event stream's cursor ("<epoch>-<n>") and what a Last-Event-ID replays.

#include "spore/integrations/sse_ring.h"

#include <gtest/gtest.h>

#include <string>

namespace spore {
namespace {

std::string held(const SseRing& ring, uint32_t n) {
  std::string_view topic, data;
  if (!ring.get(n, &topic, &data)) return "-";
  return std::string(topic) + ":" + std::string(data);
}

std::string id(const SseRing& ring, uint32_t n) {
  char buf[SseRing::kIdMaxBytes];
  return std::string(buf, ring.format_id(n, buf));
}

TEST(SseRing, NumbersEveryMessageAndFormatsTheId) {
  SseRing ring;
  ring.begin(131072);
  EXPECT_EQ(ring.last(), 0u);
  EXPECT_EQ(ring.oldest(), 1u);
  EXPECT_EQ(ring.push("light", "{\"a\":1}"), 1u);
  EXPECT_EQ(ring.push("node_dead", "{}"), 2u);
  EXPECT_EQ(id(ring, 2), "131072-2");
  EXPECT_EQ(held(ring, 1), "light:{\"a\":1}");
  EXPECT_EQ(held(ring, 2), "node_dead:{}");
  EXPECT_EQ(held(ring, 3), "-");
  ring.begin(UINT32_MAX);
  EXPECT_EQ(id(ring, UINT32_MAX), "4294967295-4294967295");  // kIdMaxBytes is enough
  EXPECT_EQ(held(ring, 1), "-");                              // a new stream holds nothing
}

TEST(SseRing, ReplayFromFollowsTheDocumentedRules) {
  SseRing ring;
  ring.begin(7);
  for (int i = 0; i < 5; ++i) ring.push("t", "{}");
  uint32_t missed = 99;
  EXPECT_EQ(ring.replay_from("7-3", &missed), 4u);  // this boot: after the id
  EXPECT_EQ(missed, 0u);
  EXPECT_EQ(ring.replay_from("7-0", nullptr), 1u);
  EXPECT_EQ(ring.replay_from("7-5", nullptr), 6u);  // up to date: nothing
  EXPECT_EQ(ring.replay_from("7-9", nullptr), 6u);  // ahead of the stream: nothing
  EXPECT_EQ(ring.replay_from("6-3", nullptr), 1u);  // another boot: the whole ring
  EXPECT_EQ(ring.replay_from("8-1", nullptr), 1u);
  for (const char* bad : {"", "7", "7-", "-3", "7-3x", "x-3", "7-99999999999", "7--3", " 7-3"}) {
    EXPECT_EQ(ring.replay_from(bad, &missed), 6u) << bad;  // not an id of ours: the present only
    EXPECT_EQ(missed, 0u);
  }
}

TEST(SseRing, KeepsTheNewestWithinItsCountAndBytes) {
  SseRing ring;
  ring.begin(1);
  const uint32_t total = SPORE_SSE_REPLAY_EVENTS + 5;
  for (uint32_t i = 1; i <= total; ++i) ring.push("t", std::to_string(i));
  EXPECT_EQ(ring.oldest(), total - SPORE_SSE_REPLAY_EVENTS + 1);
  EXPECT_EQ(held(ring, ring.oldest() - 1), "-");
  EXPECT_EQ(held(ring, total), "t:" + std::to_string(total));
  uint32_t missed = 0;
  EXPECT_EQ(ring.replay_from("1-0", &missed), ring.oldest());  // gone are counted, not replayed
  EXPECT_EQ(missed, 5u);
  EXPECT_EQ(ring.replay_from("2-0", &missed), ring.oldest());
  EXPECT_EQ(missed, 5u);

  // Large messages: the bytes bound, not the count; every held one intact across the wrap.
  const std::string big(SPORE_SSE_REPLAY_BYTES / 3, 'x');
  for (int i = 0; i < 7; ++i) ring.push("big", big + std::to_string(i));
  EXPECT_EQ(ring.last() - ring.oldest() + 1, 2u);  // three do not fit (topic and digits)
  EXPECT_EQ(held(ring, ring.last()), "big:" + big + "6");
  EXPECT_EQ(held(ring, ring.last() - 1), "big:" + big + "5");

  // Larger than the ring: numbered, not kept; the rest stays.
  const uint32_t n = ring.push("huge", std::string(SPORE_SSE_REPLAY_BYTES, 'y'));
  EXPECT_EQ(n, ring.last());
  EXPECT_EQ(held(ring, n), "-");
  EXPECT_EQ(held(ring, n - 1), "big:" + big + "6");
}

TEST(SseRing, SmallAfterLargeWrapsWithoutOverwritingHeldBytes) {
  SseRing ring;
  ring.begin(3);
  const std::string half(SPORE_SSE_REPLAY_BYTES / 2 - 8, 'h');
  ring.push("a", half);
  ring.push("b", half);
  for (int i = 0; i < 40; ++i) {
    const uint32_t n = ring.push("s", std::to_string(i));
    EXPECT_EQ(held(ring, n), "s:" + std::to_string(i));
    for (uint32_t k = ring.oldest(); k <= ring.last(); ++k) EXPECT_NE(held(ring, k), "-") << k;
  }
}

}  // namespace
}  // namespace spore
