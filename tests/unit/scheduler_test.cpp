#include "spore/base/scheduler.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "fakes.h"

namespace spore {
namespace {

using testing::CapturingLog;
using testing::FakeClock;
using testing::FakeRandom;

struct Counter {
  int runs = 0;
  uint32_t last_ms = 0;
  uint32_t block_ms = 0;  // how long each run "takes"
  FakeClock* clock = nullptr;
  void run(uint32_t now_ms) {
    ++runs;
    last_ms = now_ms;
    if (clock != nullptr) clock->advance(block_ms);
  }
  Task::Callback cb() { return Task::Callback::bind<Counter, &Counter::run>(this); }
};

// Drives the scheduler in 1 ms steps for `duration_ms`.
void run_for(Scheduler& s, FakeClock& clock, uint32_t duration_ms) {
  for (uint32_t i = 0; i < duration_ms; ++i) {
    s.tick();
    clock.advance(1);
  }
}

TEST(Scheduler, RunsEachTaskAtItsInterval) {
  FakeClock clock;
  FakeRandom rnd;
  Scheduler s(clock, rnd, nullptr);
  Counter fast, slow;
  Task listen("listen", 100, fast.cb());
  Task heartbeat("heartbeat", 2000, slow.cb());
  s.add(listen);
  s.add(heartbeat);
  s.begin(0, 0);
  run_for(s, clock, 10000);
  EXPECT_EQ(fast.runs, 100);  // at 0, 100, ..., 9900
  EXPECT_EQ(slow.runs, 5);    // at 0, 2000, ..., 8000
}

TEST(Scheduler, JitterDelaysTheFirstRunWithinBounds) {
  FakeClock clock(0);
  FakeRandom rnd(7);
  Scheduler s(clock, rnd, nullptr);
  Counter c[8];
  std::vector<std::unique_ptr<Task>> tasks;
  for (int i = 0; i < 8; ++i) {
    tasks.push_back(std::make_unique<Task>("t", 1000, c[i].cb()));
    s.add(*tasks.back());
  }
  s.begin(500, 0);
  run_for(s, clock, 501);
  bool all_same = true;
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(c[i].runs, 1) << i;  // every first run lands in [0, 500]
    EXPECT_LE(c[i].last_ms, 500u);
    if (c[i].last_ms != c[0].last_ms) all_same = false;
  }
  EXPECT_FALSE(all_same) << "jitter should spread first runs";
}

TEST(Scheduler, ReturnsTimeUntilNextDueTask) {
  FakeClock clock(0);
  FakeRandom rnd;
  Scheduler s(clock, rnd, nullptr);
  Counter a;
  Task t("t", 250, a.cb());
  s.add(t);
  s.begin(0, 0);
  EXPECT_EQ(s.tick(), 250u);
  clock.advance(100);
  EXPECT_EQ(s.tick(), 150u);
}

TEST(Scheduler, RecordsTheLongestRunAndWarnsAboutBlockingTasks) {
  FakeClock clock(0);
  FakeRandom rnd;
  CapturingLog log;
  Scheduler s(clock, rnd, &log);
  Counter quick, hog;
  hog.clock = &clock;
  hog.block_ms = 300;
  quick.clock = &clock;
  quick.block_ms = 2;
  Task a("quick", 100, quick.cb());
  Task b("hog", 1000, hog.cb());
  s.add(a);
  s.add(b);
  s.begin(0, 100);
  s.tick();
  EXPECT_EQ(s.max_run_ms(), 300u);
  EXPECT_STREQ(s.max_run_task(), "hog");
  EXPECT_EQ(b.max_run_ms(), 300u);
  EXPECT_EQ(a.max_run_ms(), 2u);
  EXPECT_EQ(s.long_runs(), 1u);
  ASSERT_EQ(log.lines.size(), 1u);
  EXPECT_NE(log.lines[0].find("hog"), std::string::npos);
  EXPECT_NE(log.lines[0].find("300 ms"), std::string::npos);
}

TEST(Scheduler, SkipsMissedRunsInsteadOfBursting) {
  // Root cause guarded: after a long block, a catch-up loop would run a 100 ms task 50 times in a
  // row and block the loop again.
  FakeClock clock(0);
  FakeRandom rnd;
  Scheduler s(clock, rnd, nullptr);
  Counter c;
  Task t("t", 100, c.cb());
  s.add(t);
  s.begin(0, 0);
  s.tick();
  EXPECT_EQ(c.runs, 1);
  clock.advance(5000);
  s.tick();
  s.tick();
  EXPECT_EQ(c.runs, 2);
  clock.advance(100);
  s.tick();
  EXPECT_EQ(c.runs, 3);
}

TEST(Scheduler, DisabledTaskDoesNotRunAndRunsAgainWhenEnabled) {
  FakeClock clock(0);
  FakeRandom rnd;
  Scheduler s(clock, rnd, nullptr);
  Counter c;
  Task t("t", 100, c.cb());
  s.add(t);
  s.begin(0, 0);
  t.disable();
  run_for(s, clock, 1000);
  EXPECT_EQ(c.runs, 0);
  t.enable();
  s.tick();
  EXPECT_EQ(c.runs, 1);
}

TEST(Scheduler, TaskAddedAfterBeginAndTwiceAddedIsRejected) {
  FakeClock clock(0);
  FakeRandom rnd;
  Scheduler s(clock, rnd, nullptr);
  s.begin(0, 0);
  Counter c;
  Task t("late", 50, c.cb());
  EXPECT_TRUE(s.add(t));
  EXPECT_FALSE(s.add(t));
  run_for(s, clock, 200);
  EXPECT_EQ(c.runs, 4);
}

TEST(Scheduler, KeepsCadenceAcrossClockWrap) {
  FakeClock clock(0xFFFFFF00u);
  FakeRandom rnd;
  Scheduler s(clock, rnd, nullptr);
  Counter c;
  Task t("t", 100, c.cb());
  s.add(t);
  s.begin(0, 0);
  run_for(s, clock, 1000);  // crosses 0xFFFFFFFF -> 0
  EXPECT_EQ(c.runs, 10);
}

// A delayed answer between two periodic runs (Membership's join answers): run_by() brings the
// next run forward, never back, and the period goes on from the run it chose; run_at() set
// before begin() replaces the start jitter. A task that moves its own next run while running
// (it still has answers pending) keeps that time rather than the period's.
TEST(Scheduler, RunByBringsTheNextRunForwardAndRunAtReplacesTheStartJitter) {
  FakeClock clock(0);
  FakeRandom rnd(3);
  Scheduler s(clock, rnd, nullptr);
  Counter c, first;
  Task tick("tick", 100, c.cb());
  Task join("join", 1000, first.cb());
  join.run_at(7);
  s.add(tick);
  s.add(join);
  s.begin(0, 0);  // no jitter: tick at 0, 100, ...
  run_for(s, clock, 10);
  EXPECT_EQ(first.runs, 1);
  EXPECT_EQ(first.last_ms, 7u);  // run_at() before begin() kept, not replaced by the first run at 0
  tick.run_by(150);  // later than the next run (100): nothing changes
  tick.run_by(42);
  run_for(s, clock, 50);  // to 60
  EXPECT_EQ(c.runs, 2);
  EXPECT_EQ(c.last_ms, 42u);
  run_for(s, clock, 90);  // to 150: the period goes on from 42
  EXPECT_EQ(c.runs, 3);
  EXPECT_EQ(c.last_ms, 142u);
}

struct SelfMover {
  Task* task = nullptr;
  int runs = 0;
  uint32_t last_ms = 0;
  void run(uint32_t now_ms) {
    ++runs;
    last_ms = now_ms;
    if (runs == 1) task->run_by(now_ms + 5);
  }
};

TEST(Scheduler, ATaskMayMoveItsOwnNextRunWhileRunning) {
  FakeClock clock(0);
  FakeRandom rnd(3);
  Scheduler s(clock, rnd, nullptr);
  SelfMover m;
  Task t("self", 100, Task::Callback::bind<SelfMover, &SelfMover::run>(&m));
  m.task = &t;
  s.add(t);
  s.begin(0, 0);
  run_for(s, clock, 20);
  EXPECT_EQ(m.runs, 2);
  EXPECT_EQ(m.last_ms, 5u);  // not 100: the run at 0 asked for 5
}

}  // namespace
}  // namespace spore
