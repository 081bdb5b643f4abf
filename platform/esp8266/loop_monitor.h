#pragma once
/// @file loop_monitor.h
/// The one place the firmware feeds the watchdog and notices long loops. Call tick() once at the
/// top of every loop(); call feed() inside anything that may legitimately run long (flash erase
/// loops, big JSON documents) — never yield() from async (lwIP) callbacks.
///
/// A loop pass longer than `warn_ms` is counted and, at most once per `warn_interval_ms`, logged
/// with the longest pass seen since the last warning. The ESP8266's software watchdog fires after
/// ~3.2 s without a feed / return to the SDK, the hardware one after ~8 s; warn_ms defaults well
/// below both. The measuring and the warning rule are spore::LoopPassMonitor's (host-tested in
/// tests/unit/loop_pass_monitor_test.cpp); this class adds ESP.wdtFeed() and millis().

#include <cstdint>

#include "spore/device/loop_pass_monitor.h"
#include "spore/base/ports.h"

namespace spore::esp8266 {

class LoopMonitor {
 public:
  static constexpr uint32_t kDefaultWarnMs = LoopPassMonitor::kDefaultWarnMs;
  static constexpr uint32_t kDefaultWarnIntervalMs = LoopPassMonitor::kDefaultWarnIntervalMs;

  explicit LoopMonitor(LogSink* log = nullptr, uint32_t warn_ms = kDefaultWarnMs,
                       uint32_t warn_interval_ms = kDefaultWarnIntervalMs)
      : passes_(log, warn_ms, warn_interval_ms) {}

  /// Starts measuring (call at the end of setup(): setup's own length is not a loop pass).
  void begin();
  /// Top of loop(): feeds the watchdog, measures the previous pass, warns when it was long.
  void tick();
  /// Feeds the watchdog only (ESP.wdtFeed()).
  static void feed();

  /// passes, long_passes, max_pass_ms (spore::LoopStats).
  const LoopStats& stats() const { return passes_.stats(); }

 private:
  LoopPassMonitor passes_;
};

}  // namespace spore::esp8266
