#pragma once
/// @file loop_monitor.h
/// The one place the firmware feeds the watchdog and notices long loops. Call tick() once at the
/// top of every loop(); call feed() inside anything that may legitimately run long (flash erase
/// loops, big JSON documents) — never yield() from async (lwIP) callbacks.
///
/// A loop pass longer than `warn_ms` is counted and, at most once per `warn_interval_ms`, logged
/// with the longest pass seen since the last warning. The ESP8266's software watchdog fires after
/// ~3.2 s without a feed / return to the SDK, the hardware one after ~8 s; warn_ms defaults well
/// below both.

#include <cstdint>

#include "spore/ports.h"

namespace spore::esp8266 {

struct LoopStats {
  uint32_t passes = 0;
  uint32_t long_passes = 0;  ///< passes above warn_ms
  uint32_t max_pass_ms = 0;  ///< longest pass since begin()
};

class LoopMonitor {
 public:
  static constexpr uint32_t kDefaultWarnMs = 500;
  static constexpr uint32_t kDefaultWarnIntervalMs = 10000;

  explicit LoopMonitor(LogSink* log = nullptr, uint32_t warn_ms = kDefaultWarnMs,
                       uint32_t warn_interval_ms = kDefaultWarnIntervalMs)
      : log_(log), warn_ms_(warn_ms), warn_interval_ms_(warn_interval_ms) {}

  /// Starts measuring (call at the end of setup(): setup's own length is not a loop pass).
  void begin();
  /// Top of loop(): feeds the watchdog, measures the previous pass, warns when it was long.
  void tick();
  /// Feeds the watchdog only (ESP.wdtFeed()).
  static void feed();

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

}  // namespace spore::esp8266
