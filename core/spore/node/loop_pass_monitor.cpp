#include "spore/node/loop_pass_monitor.h"

#include <cstdio>

namespace spore {

void LoopPassMonitor::begin(uint32_t now_ms) {
  pass_start_ms_ = now_ms;
  started_ = true;
}

uint32_t LoopPassMonitor::tick(uint32_t now_ms) {
  if (!started_) {
    begin(now_ms);
    return 0;
  }
  const uint32_t pass_ms = elapsed_ms(now_ms, pass_start_ms_);
  pass_start_ms_ = now_ms;
  ++stats_.passes;
  if (pass_ms > stats_.max_pass_ms) stats_.max_pass_ms = pass_ms;
  if (pass_ms <= warn_ms_) return pass_ms;
  ++stats_.long_passes;
  ++long_since_warn_;
  if (pass_ms > worst_since_warn_ms_) worst_since_warn_ms_ = pass_ms;
  if (log_ == nullptr) return pass_ms;
  if (warned_once_ && elapsed_ms(now_ms, last_warn_ms_) < warn_interval_ms_) return pass_ms;
  char line[88];  // the longest line, three 10-digit numbers, is 83 bytes with its NUL
  std::snprintf(line, sizeof line, "long loop: %lu ms (%lu passes over %lu ms since last warning)",
                static_cast<unsigned long>(worst_since_warn_ms_), static_cast<unsigned long>(long_since_warn_),
                static_cast<unsigned long>(warn_ms_));
  log_->write(LogLevel::kWarn, line);
  warned_once_ = true;
  last_warn_ms_ = now_ms;
  worst_since_warn_ms_ = 0;
  long_since_warn_ = 0;
  return pass_ms;
}

}  // namespace spore
