// ReplayWindow: one sender's sliding window with incarnation reset (one per MemberTable slot).

#include "spore/wire/replay_window.h"

#include <gtest/gtest.h>

namespace spore {
namespace {

// check() then commit(), as DatagramChannel does for a member's authenticated datagram.
ReplayVerdict accept(ReplayWindow& w, uint32_t inc, uint32_t seq) {
  const ReplayVerdict v = w.check(inc, seq);
  if (v == ReplayVerdict::kFresh) w.commit(inc, seq);
  return v;
}

TEST(ReplayWindow, AnUnstartedWindowFindsEverythingFresh) {
  ReplayWindow w;
  EXPECT_EQ(w.check(3, 12345), ReplayVerdict::kFresh);
  EXPECT_FALSE(w.started());  // check alone records nothing
}

TEST(ReplayWindow, SameDatagramTwiceIsReplayed) {
  ReplayWindow w;
  EXPECT_EQ(accept(w, 1, 0), ReplayVerdict::kFresh);
  EXPECT_EQ(accept(w, 1, 0), ReplayVerdict::kReplayed);
  EXPECT_EQ(accept(w, 1, 1), ReplayVerdict::kFresh);
  EXPECT_EQ(accept(w, 1, 1), ReplayVerdict::kReplayed);
  EXPECT_EQ(accept(w, 1, 0), ReplayVerdict::kReplayed);
}

TEST(ReplayWindow, ReorderedWithinWindowAcceptedOnceEach) {
  ReplayWindow w;
  const uint32_t order[] = {10, 5, 9, 11, 6, 7, 8, 12, 63 + 10, 40};
  for (uint32_t seq : order) EXPECT_EQ(accept(w, 1, seq), ReplayVerdict::kFresh) << seq;
  for (uint32_t seq : order) EXPECT_EQ(accept(w, 1, seq), ReplayVerdict::kReplayed) << seq;
  // 73 is the newest; 73 - 63 = 10 is the oldest still inside the 64-wide window, 9 just left it.
  EXPECT_EQ(accept(w, 1, 13), ReplayVerdict::kFresh);
  EXPECT_EQ(w.check(1, 73 - 64), ReplayVerdict::kReplayed);
}

TEST(ReplayWindow, OlderThanWindowIsRejected) {
  ReplayWindow w;
  accept(w, 1, 1000);
  EXPECT_EQ(w.check(1, 1000 - 63), ReplayVerdict::kFresh);
  EXPECT_EQ(w.check(1, 1000 - 64), ReplayVerdict::kReplayed);
  EXPECT_EQ(w.check(1, 0), ReplayVerdict::kReplayed);
}

TEST(ReplayWindow, LargeJumpClearsTheBitmap) {
  ReplayWindow w;
  for (uint32_t s = 0; s < 64; ++s) accept(w, 1, s);
  EXPECT_EQ(accept(w, 1, 1000), ReplayVerdict::kFresh);
  EXPECT_EQ(accept(w, 1, 999), ReplayVerdict::kFresh);  // never seen, within window
  EXPECT_EQ(accept(w, 1, 1000 - 63), ReplayVerdict::kFresh);
  EXPECT_EQ(accept(w, 1, 63), ReplayVerdict::kReplayed);
}

TEST(ReplayWindow, ExactWindowShiftKeepsBits) {
  ReplayWindow w;
  accept(w, 1, 0);
  accept(w, 1, 63);  // shift by 63: seq 0 is the oldest bit, still remembered
  EXPECT_EQ(w.check(1, 0), ReplayVerdict::kReplayed);
  accept(w, 1, 64);  // 0 leaves the window
  EXPECT_EQ(w.check(1, 0), ReplayVerdict::kReplayed);
  EXPECT_EQ(w.check(1, 1), ReplayVerdict::kFresh);
}

TEST(ReplayWindow, OldIncarnationIsStaleNewIncarnationResets) {
  ReplayWindow w;
  accept(w, 5, 100);
  EXPECT_EQ(w.check(4, 1000), ReplayVerdict::kStale);
  EXPECT_EQ(accept(w, 6, 0), ReplayVerdict::kFresh);  // restart: sequence starts over
  EXPECT_EQ(w.check(5, 101), ReplayVerdict::kStale);
  EXPECT_EQ(accept(w, 6, 0), ReplayVerdict::kReplayed);
  EXPECT_EQ(accept(w, 6, 1), ReplayVerdict::kFresh);
}

TEST(ReplayWindow, CommitOfNonFreshTripleIsIgnored) {
  ReplayWindow w;
  accept(w, 5, 10);
  w.commit(4, 99);  // stale: must not roll the incarnation back
  EXPECT_EQ(w.check(4, 100), ReplayVerdict::kStale);
  EXPECT_EQ(w.check(5, 11), ReplayVerdict::kFresh);
}

TEST(ReplayWindow, StartCountsTheAdmittingDatagramAndClearForgetsAll) {
  ReplayWindow w;
  w.start(4, 17);  // admission: the handshake's ANNOUNCE was (4, 17)
  EXPECT_TRUE(w.started());
  EXPECT_EQ(w.check(4, 17), ReplayVerdict::kReplayed);
  EXPECT_EQ(w.check(4, 16), ReplayVerdict::kFresh);  // reordered, inside the window
  EXPECT_EQ(w.check(3, 99), ReplayVerdict::kStale);
  w.clear();  // the member was forgotten: the slot's next member starts afresh
  EXPECT_FALSE(w.started());
  EXPECT_EQ(w.check(3, 99), ReplayVerdict::kFresh);
}

TEST(ReplayWindow, AWindowStartedByAdmissionCountsEveryEarlierSeqAsSeen) {
  // Issue 20 review F7: what a node sent while still a stranger (refused then) must not be taken
  // once each after its admission.
  ReplayWindow w;
  w.start(4, 17, true);
  EXPECT_EQ(w.check(4, 16), ReplayVerdict::kReplayed);
  EXPECT_EQ(w.check(4, 1), ReplayVerdict::kReplayed);
  EXPECT_EQ(w.check(4, 18), ReplayVerdict::kFresh);
}

TEST(ReplayWindow, VerdictNames) {
  EXPECT_STREQ(replay_verdict_name(ReplayVerdict::kFresh), "fresh");
  EXPECT_STREQ(replay_verdict_name(ReplayVerdict::kReplayed), "replayed");
  EXPECT_STREQ(replay_verdict_name(ReplayVerdict::kStale), "stale");
}

}  // namespace
}  // namespace spore
