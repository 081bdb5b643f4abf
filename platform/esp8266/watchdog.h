#pragma once
/// @file watchdog.h
/// spore::Watchdog on the ESP8266: ESP.wdtFeed(). spore::Node::loop() feeds it once every
/// pass and measures the passes (core's LoopPassMonitor warns about blocking ones, host-tested in
/// tests/unit/loop_pass_monitor_test.cpp); code that may legitimately run long (flash erase
/// loops, big JSON documents) calls feed_now() itself — never yield() from async (lwIP) callbacks.
///
/// The ESP8266's software watchdog fires after ~3.2 s without a feed / return to the SDK, the
/// hardware one after ~8 s; LoopPassMonitor's 500 ms warning sits well below both.

#include "spore/base/ports.h"

namespace spore::esp8266 {

class EspWatchdog final : public Watchdog {
 public:
  void feed() override { feed_now(); }
  /// ESP.wdtFeed().
  static void feed_now();
};

}  // namespace spore::esp8266
