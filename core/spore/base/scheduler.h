#pragma once
/// @file scheduler.h
/// Cooperative scheduler for the seed's background tasks (cf. TaskScheduler): each Task runs at
/// its interval from the node's single loop. Tasks are owned by their users and chained
/// intrusively, so the scheduler allocates nothing and has no capacity limit of its own.
///
/// Because every task shares one loop, one slow task delays all the others; on the ESP8266 a loop
/// blocked for a few seconds starves WiFi and trips the watchdog. The scheduler therefore times
/// every run, keeps the longest, and logs runs over the configured warning threshold.

#include <cstdint>

#include "spore/base/delegate.h"
#include "spore/base/ports.h"

namespace spore {

/// One periodic job. Construct it, then Scheduler::add() it; it must outlive the scheduler.
class Task {
 public:
  using Callback = Delegate<void(uint32_t now_ms)>;

  /// @param name static string used in logs and stats, never copied.
  /// @param interval_ms period between the starts of two runs; 0 means "every tick".
  Task(const char* name, uint32_t interval_ms, Callback callback)
      : name_(name), interval_ms_(interval_ms), callback_(callback) {}
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;

  const char* name() const { return name_; }
  uint32_t interval_ms() const { return interval_ms_; }
  /// Takes effect from the next run.
  void set_interval_ms(uint32_t interval_ms) { interval_ms_ = interval_ms; }

  /// A disabled task keeps its place but does not run. Enabling runs it at the next tick.
  void enable() {
    if (!enabled_) restart_ = true;
    enabled_ = true;
  }
  void disable() { enabled_ = false; }
  /// Moves the next run to `due_ms` (the Clock's ms), earlier or later; the interval goes on from
  /// there. Before Scheduler::begin() it replaces the start jitter of the first run.
  void run_at(uint32_t due_ms) {
    next_run_ms_ = due_ms;
    scheduled_ = true;
    restart_ = false;
  }
  /// Runs the task no later than `due_ms`: like run_at() when that is earlier than the next run,
  /// else nothing. For work with a deadline between two periodic runs (a delayed answer).
  void run_by(uint32_t due_ms) {
    if (!scheduled_ || static_cast<int32_t>(due_ms - next_run_ms_) < 0) run_at(due_ms);
  }
  bool enabled() const { return enabled_; }

  uint32_t run_count() const { return run_count_; }
  /// Longest single run of this task so far, ms.
  uint32_t max_run_ms() const { return max_run_ms_; }

 private:
  friend class Scheduler;
  const char* name_;
  uint32_t interval_ms_;
  Callback callback_;
  Task* next_ = nullptr;
  uint32_t next_run_ms_ = 0;
  uint32_t run_count_ = 0;
  uint32_t max_run_ms_ = 0;
  bool enabled_ = true;
  bool restart_ = false;
  bool scheduled_ = false;  // next_run_ms_ is meaningful
  bool added_ = false;
};

class Scheduler {
 public:
  /// @param log may be nullptr (no blocking-loop warnings).
  Scheduler(const Clock& clock, Random& random, LogSink* log) : clock_(clock), random_(random), log_(log) {}

  /// Chains `task` in. Works before and after begin(). Returns false if it was already added.
  bool add(Task& task);

  /// Fixes every task's first run at now + a random 0..min(interval, start_jitter_max_ms) ms,
  /// so nodes powered on together spread their broadcasts. Tasks added later get the same jitter;
  /// a task given its first run already (Task::run_at()) keeps it.
  void begin(uint32_t start_jitter_max_ms, uint32_t long_task_warn_ms);

  /// Runs every enabled task that is due, each at most once. Returns ms until the next task is
  /// due (0 if one already is), so a host loop may sleep that long. A task that fell behind by
  /// more than one interval skips the missed runs instead of running in a burst.
  uint32_t tick();
  /// What tick() returns, without running anything: ms until the next task is due (0 if one is).
  uint32_t ms_until_next() const;

  /// Longest single task run observed, ms, and the task it was (nullptr before any run).
  uint32_t max_run_ms() const { return max_run_ms_; }
  const char* max_run_task() const { return max_run_task_; }
  /// Runs that exceeded long_task_warn_ms.
  uint32_t long_runs() const { return long_runs_; }
  uint32_t tick_count() const { return tick_count_; }

 private:
  void schedule_first(Task& task, uint32_t now_ms);
  void run(Task& task);

  const Clock& clock_;
  Random& random_;
  LogSink* log_;
  Task* head_ = nullptr;
  Task* tail_ = nullptr;
  bool begun_ = false;
  uint32_t start_jitter_max_ms_ = 0;
  uint32_t long_task_warn_ms_ = 0;
  uint32_t max_run_ms_ = 0;
  const char* max_run_task_ = nullptr;
  uint32_t long_runs_ = 0;
  uint32_t tick_count_ = 0;
};

}  // namespace spore
