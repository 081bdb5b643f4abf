#include "esp8266/loop_monitor.h"

#include <Arduino.h>

namespace spore::esp8266 {

void LoopMonitor::feed() { ESP.wdtFeed(); }

void LoopMonitor::begin() {
  feed();
  passes_.begin(static_cast<uint32_t>(millis()));
}

void LoopMonitor::tick() {
  feed();
  passes_.tick(static_cast<uint32_t>(millis()));
}

}  // namespace spore::esp8266
