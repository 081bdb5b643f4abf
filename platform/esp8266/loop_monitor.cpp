#include "esp8266/loop_monitor.h"

#include <Arduino.h>

#include <cstdio>

namespace spore::esp8266 {

void LoopMonitor::feed() { ESP.wdtFeed(); }

void LoopMonitor::begin() {
  feed();
  pass_start_ms_ = millis();
  started_ = true;
}

void LoopMonitor::tick() {
  feed();
  const uint32_t now = millis();
  if (!started_) {
    begin();
    return;
  }
  const uint32_t pass_ms = elapsed_ms(now, pass_start_ms_);
  pass_start_ms_ = now;
  ++stats_.passes;
  if (pass_ms > stats_.max_pass_ms) stats_.max_pass_ms = pass_ms;
  if (pass_ms <= warn_ms_) return;
  ++stats_.long_passes;
  ++long_since_warn_;
  if (pass_ms > worst_since_warn_ms_) worst_since_warn_ms_ = pass_ms;
  if (log_ == nullptr) return;
  if (warned_once_ && elapsed_ms(now, last_warn_ms_) < warn_interval_ms_) return;
  char line[80];
  // snprintf_P: the format stays in flash.
  snprintf_P(line, sizeof line, PSTR("long loop: %lu ms (%lu passes over %lu ms since last warning)"),
             static_cast<unsigned long>(worst_since_warn_ms_), static_cast<unsigned long>(long_since_warn_),
             static_cast<unsigned long>(warn_ms_));
  log_->write(LogLevel::kWarn, line);
  warned_once_ = true;
  last_warn_ms_ = now;
  worst_since_warn_ms_ = 0;
  long_since_warn_ = 0;
}

}  // namespace spore::esp8266
