// ReplayWindow: per-sender sliding window with incarnation reset and LRU eviction.

#include "spore/wire/replay_window.h"

#include <gtest/gtest.h>

namespace spore {
namespace {

// check() then commit(), as the decoder does for an authenticated datagram.
ReplayVerdict accept(ReplayWindow& w, uint32_t node, uint32_t inc, uint32_t seq) {
  const ReplayVerdict v = w.check(node, inc, seq);
  if (v == ReplayVerdict::kFresh) w.commit(node, inc, seq);
  return v;
}

TEST(ReplayWindow, FirstDatagramOfAnySenderIsFresh) {
  ReplayWindow w;
  EXPECT_EQ(w.check(7, 3, 12345), ReplayVerdict::kFresh);
  EXPECT_EQ(w.size(), 0u);  // check alone records nothing
}

TEST(ReplayWindow, SameDatagramTwiceIsReplayed) {
  ReplayWindow w;
  EXPECT_EQ(accept(w, 7, 1, 0), ReplayVerdict::kFresh);
  EXPECT_EQ(accept(w, 7, 1, 0), ReplayVerdict::kReplayed);
  EXPECT_EQ(accept(w, 7, 1, 1), ReplayVerdict::kFresh);
  EXPECT_EQ(accept(w, 7, 1, 1), ReplayVerdict::kReplayed);
  EXPECT_EQ(accept(w, 7, 1, 0), ReplayVerdict::kReplayed);
}

TEST(ReplayWindow, ReorderedWithinWindowAcceptedOnceEach) {
  ReplayWindow w;
  const uint32_t order[] = {10, 5, 9, 11, 6, 7, 8, 12, 63 + 10, 40};
  for (uint32_t seq : order) EXPECT_EQ(accept(w, 1, 1, seq), ReplayVerdict::kFresh) << seq;
  for (uint32_t seq : order) EXPECT_EQ(accept(w, 1, 1, seq), ReplayVerdict::kReplayed) << seq;
  // 73 is the newest; 73 - 63 = 10 is the oldest still inside the 64-wide window, 9 just left it.
  EXPECT_EQ(accept(w, 1, 1, 13), ReplayVerdict::kFresh);
  EXPECT_EQ(w.check(1, 1, 73 - 64), ReplayVerdict::kReplayed);
}

TEST(ReplayWindow, OlderThanWindowIsRejected) {
  ReplayWindow w;
  accept(w, 1, 1, 1000);
  EXPECT_EQ(w.check(1, 1, 1000 - 63), ReplayVerdict::kFresh);
  EXPECT_EQ(w.check(1, 1, 1000 - 64), ReplayVerdict::kReplayed);
  EXPECT_EQ(w.check(1, 1, 0), ReplayVerdict::kReplayed);
}

TEST(ReplayWindow, LargeJumpClearsTheBitmap) {
  ReplayWindow w;
  for (uint32_t s = 0; s < 64; ++s) accept(w, 1, 1, s);
  EXPECT_EQ(accept(w, 1, 1, 1000), ReplayVerdict::kFresh);
  EXPECT_EQ(accept(w, 1, 1, 999), ReplayVerdict::kFresh);  // never seen, within window
  EXPECT_EQ(accept(w, 1, 1, 1000 - 63), ReplayVerdict::kFresh);
  EXPECT_EQ(accept(w, 1, 1, 63), ReplayVerdict::kReplayed);
}

TEST(ReplayWindow, ExactWindowShiftKeepsBits) {
  ReplayWindow w;
  accept(w, 1, 1, 0);
  accept(w, 1, 1, 63);  // shift by 63: seq 0 is the oldest bit, still remembered
  EXPECT_EQ(w.check(1, 1, 0), ReplayVerdict::kReplayed);
  accept(w, 1, 1, 64);  // 0 leaves the window
  EXPECT_EQ(w.check(1, 1, 0), ReplayVerdict::kReplayed);
  EXPECT_EQ(w.check(1, 1, 1), ReplayVerdict::kFresh);
}

TEST(ReplayWindow, OldIncarnationIsStaleNewIncarnationResets) {
  ReplayWindow w;
  accept(w, 9, 5, 100);
  EXPECT_EQ(w.check(9, 4, 1000), ReplayVerdict::kStale);
  EXPECT_EQ(accept(w, 9, 6, 0), ReplayVerdict::kFresh);  // restart: sequence starts over
  EXPECT_EQ(w.check(9, 5, 101), ReplayVerdict::kStale);
  EXPECT_EQ(accept(w, 9, 6, 0), ReplayVerdict::kReplayed);
  EXPECT_EQ(accept(w, 9, 6, 1), ReplayVerdict::kFresh);
}

TEST(ReplayWindow, SendersAreIndependent) {
  ReplayWindow w;
  accept(w, 1, 1, 5);
  EXPECT_EQ(accept(w, 2, 1, 5), ReplayVerdict::kFresh);
  EXPECT_EQ(w.check(1, 1, 5), ReplayVerdict::kReplayed);
  EXPECT_EQ(w.size(), 2u);
}

TEST(ReplayWindow, CommitOfNonFreshTripleIsIgnored) {
  ReplayWindow w;
  accept(w, 1, 5, 10);
  w.commit(1, 4, 99);  // stale: must not roll the incarnation back
  EXPECT_EQ(w.check(1, 4, 100), ReplayVerdict::kStale);
  EXPECT_EQ(w.check(1, 5, 11), ReplayVerdict::kFresh);
}

TEST(ReplayWindow, EvictsLeastRecentlyCommittedWhenFull) {
  ReplayWindow w;
  const uint32_t cap = static_cast<uint32_t>(ReplayWindow::capacity());
  for (uint32_t id = 1; id <= cap; ++id) accept(w, id, 1, 0);
  EXPECT_EQ(w.size(), cap);
  accept(w, 1, 1, 1);  // node 1 is now the most recent; node 2 the least
  EXPECT_EQ(accept(w, cap + 1, 1, 0), ReplayVerdict::kFresh);
  EXPECT_EQ(w.size(), cap);
  EXPECT_EQ(w.evictions(), 1u);
  // Node 2 was forgotten: its old datagram is "first seen" again (the documented consequence).
  EXPECT_EQ(w.check(2, 1, 0), ReplayVerdict::kFresh);
  // Everyone else is still remembered.
  EXPECT_EQ(w.check(1, 1, 1), ReplayVerdict::kReplayed);
  EXPECT_EQ(w.check(3, 1, 0), ReplayVerdict::kReplayed);
  EXPECT_EQ(w.check(cap + 1, 1, 0), ReplayVerdict::kReplayed);
}

TEST(ReplayWindow, ForgetAndClear) {
  ReplayWindow w;
  accept(w, 1, 9, 0);
  accept(w, 2, 1, 0);
  w.forget(1);
  EXPECT_EQ(w.check(1, 0, 0), ReplayVerdict::kFresh);  // restarted without persisted incarnation
  EXPECT_EQ(w.size(), 1u);
  w.clear();
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.check(2, 1, 0), ReplayVerdict::kFresh);
}

TEST(ReplayWindow, NodeIdZeroIsNeverRecorded) {
  ReplayWindow w;
  w.commit(0, 1, 1);  // 0 marks a free slot internally; the decoder never passes it
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.check(0, 1, 1), ReplayVerdict::kFresh);
}

TEST(ReplayWindow, VerdictNames) {
  EXPECT_STREQ(replay_verdict_name(ReplayVerdict::kFresh), "fresh");
  EXPECT_STREQ(replay_verdict_name(ReplayVerdict::kReplayed), "replayed");
  EXPECT_STREQ(replay_verdict_name(ReplayVerdict::kStale), "stale");
}

}  // namespace
}  // namespace spore
