#pragma once
/// @file loop_pass_monitor.h
/// Measures the node loop's passes and warns about long ones: a pass longer than `warn_ms` is
/// counted and, at most once per `warn_interval_ms`, logged with the longest pass and the number
/// of long passes since the last warning (so a loop that is slow all the time costs one log line
/// per interval, not one per pass). Times come from the caller and are compared through
/// elapsed_ms(), so the 32-bit millis() wrap is harmless.
///
/// spore::Node::loop() ticks it and feeds the platform's Watchdog port in the same place (ESPHome's
/// Application::loop); this class decides only. Host-tested in tests/unit/loop_pass_monitor_test.cpp.

#include <cstdint>

#include "spore/base/ports.h"

namespace spore {

struct LoopStats {
  uint32_t passes = 0;       ///< passes measured since begin()
  uint32_t long_passes = 0;  ///< passes above warn_ms
  uint32_t max_pass_ms = 0;  ///< longest pass since begin()
};

class LoopPassMonitor {
 public:
  /// Well below the ESP8266's software watchdog (~3.2 s) and hardware one (~8 s).
  static constexpr uint32_t kDefaultWarnMs = 500;
  static constexpr uint32_t kDefaultWarnIntervalMs = 10000;

  explicit LoopPassMonitor(LogSink* log = nullptr, uint32_t warn_ms = kDefaultWarnMs,
                           uint32_t warn_interval_ms = kDefaultWarnIntervalMs)
      : log_(log), warn_ms_(warn_ms), warn_interval_ms_(warn_interval_ms) {}

  /// Starts measuring at `now_ms` (the end of setup(): setup's own length is not a pass).
  void begin(uint32_t now_ms);
  /// Top of every loop pass: measures the previous pass and warns when it was long. The first
  /// call without begin() only starts measuring. Returns the pass length in ms (0 then).
  uint32_t tick(uint32_t now_ms);

  const LoopStats& stats() const { return stats_; }

 private:
  LogSink* log_;
  uint32_t warn_ms_;
  uint32_t warn_interval_ms_;
  uint32_t pass_start_ms_ = 0;
  uint32_t last_warn_ms_ = 0;
  uint32_t worst_since_warn_ms_ = 0;
  uint32_t long_since_warn_ = 0;
  bool started_ = false;
  bool warned_once_ = false;
  LoopStats stats_{};
};

}  // namespace spore
