// choose_eviction(): which connection a full HTTP server closes for a new one.

#include "posix/http_eviction.h"

#include <gtest/gtest.h>

#include <vector>

namespace spore::posix {
namespace {

using State = EvictionCandidate::State;

EvictionCandidate make(State state, uint32_t age_ms, size_t address_connections) {
  EvictionCandidate c;
  c.state = state;
  c.age_ms = age_ms;
  c.address_connections = address_connections;
  return c;
}

size_t choose(const std::vector<EvictionCandidate>& c, uint32_t min_age_ms = 500) {
  return choose_eviction(c.data(), c.size(), min_age_ms);
}

TEST(HttpEvictionTest, NoCandidateIsNoVictim) { EXPECT_EQ(choose({}), 0u); }

TEST(HttpEvictionTest, TheAddressHoldingTheMostGoesFirstWhateverItsState) {
  // A client's old slow head on its own address outlives an attacker's young idle body.
  EXPECT_EQ(choose({make(State::kHead, 9000, 1), make(State::kBody, 600, 16)}), 1u);
}

TEST(HttpEvictionTest, AgedBeforeYoungThenHeadIdleBodyThenOldest) {
  // Same address weight: a connection past min_age goes before a young one...
  EXPECT_EQ(choose({make(State::kHead, 100, 2), make(State::kBody, 600, 2)}), 1u);
  // ...then a slow first head before an idle keep-alive connection before a body...
  EXPECT_EQ(choose({make(State::kBody, 900, 2), make(State::kIdle, 800, 2), make(State::kHead, 700, 2)}), 2u);
  EXPECT_EQ(choose({make(State::kBody, 900, 2), make(State::kIdle, 800, 2)}), 1u);
  // ...then the longest in its state.
  EXPECT_EQ(choose({make(State::kHead, 700, 2), make(State::kHead, 9000, 2), make(State::kHead, 800, 2)}), 1u);
  // All young: still the oldest (the new connection itself is never a candidate).
  EXPECT_EQ(choose({make(State::kHead, 10, 1), make(State::kHead, 30, 1)}), 1u);
}

}  // namespace
}  // namespace spore::posix
