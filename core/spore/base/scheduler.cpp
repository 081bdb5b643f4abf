#include "spore/base/scheduler.h"

#include <cstdio>

namespace spore {

bool Scheduler::add(Task& task) {
  if (task.added_) return false;
  task.added_ = true;
  task.next_ = nullptr;
  if (tail_ != nullptr) {
    tail_->next_ = &task;
  } else {
    head_ = &task;
  }
  tail_ = &task;
  if (begun_) schedule_first(task, clock_.now_ms());
  return true;
}

void Scheduler::begin(uint32_t start_jitter_max_ms, uint32_t long_task_warn_ms) {
  start_jitter_max_ms_ = start_jitter_max_ms;
  long_task_warn_ms_ = long_task_warn_ms;
  begun_ = true;
  const uint32_t now_ms = clock_.now_ms();
  for (Task* t = head_; t != nullptr; t = t->next_) schedule_first(*t, now_ms);
}

void Scheduler::schedule_first(Task& task, uint32_t now_ms) {
  if (task.scheduled_) return;  // Task::run_at() chose it
  uint32_t span_ms = task.interval_ms_ < start_jitter_max_ms_ ? task.interval_ms_ : start_jitter_max_ms_;
  uint32_t jitter_ms = span_ms == 0 ? 0 : random_.next_u32() % (span_ms + 1);
  task.next_run_ms_ = now_ms + jitter_ms;
  task.scheduled_ = true;
  task.restart_ = false;
}

uint32_t Scheduler::tick() {
  ++tick_count_;
  if (!begun_) return 0;
  for (Task* t = head_; t != nullptr; t = t->next_) {
    if (!t->enabled_) continue;
    uint32_t now_ms = clock_.now_ms();
    if (t->restart_ || !t->scheduled_) {
      t->next_run_ms_ = now_ms;
      t->restart_ = false;
      t->scheduled_ = true;
    }
    if (!deadline_reached(now_ms, t->next_run_ms_)) continue;
    // Planned before the run, so that the task may move its own next run (Task::run_by()).
    const uint32_t planned_ms = t->next_run_ms_ + t->interval_ms_;
    t->next_run_ms_ = planned_ms;
    run(*t);
    // Behind by a whole interval (the loop was blocked): skip the missed runs rather than
    // running them back to back, which would block the loop even longer.
    const uint32_t after_ms = clock_.now_ms();
    if (t->next_run_ms_ == planned_ms && t->interval_ms_ != 0 && deadline_reached(after_ms, planned_ms)) {
      t->next_run_ms_ = after_ms + t->interval_ms_;
    }
  }
  return ms_until_next();
}

uint32_t Scheduler::ms_until_next() const {
  const uint32_t now_ms = clock_.now_ms();
  uint32_t wait_ms = UINT32_MAX;
  for (const Task* t = head_; t != nullptr; t = t->next_) {
    if (!t->enabled_) continue;
    if (t->restart_ || deadline_reached(now_ms, t->next_run_ms_)) return 0;
    uint32_t until_ms = t->next_run_ms_ - now_ms;
    if (until_ms < wait_ms) wait_ms = until_ms;
  }
  return wait_ms == UINT32_MAX ? 0 : wait_ms;
}

void Scheduler::run(Task& task) {
  const uint32_t start_ms = clock_.now_ms();
  if (task.callback_) task.callback_(start_ms);
  const uint32_t took_ms = elapsed_ms(clock_.now_ms(), start_ms);
  ++task.run_count_;
  if (took_ms > task.max_run_ms_) task.max_run_ms_ = took_ms;
  if (took_ms > max_run_ms_ || max_run_task_ == nullptr) {
    max_run_ms_ = took_ms;
    max_run_task_ = task.name_;
  }
  if (long_task_warn_ms_ != 0 && took_ms > long_task_warn_ms_) {
    ++long_runs_;
    if (log_ != nullptr) {
      char line[96];
      std::snprintf(line, sizeof line, "task '%s' blocked the loop for %lu ms (warn at %lu ms)", task.name_,
                    static_cast<unsigned long>(took_ms), static_cast<unsigned long>(long_task_warn_ms_));
      log_->write(LogLevel::kWarn, line);
    }
  }
}

}  // namespace spore
