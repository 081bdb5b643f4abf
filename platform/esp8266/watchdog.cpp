#include "esp8266/watchdog.h"

#include <Arduino.h>

namespace spore::esp8266 {

void EspWatchdog::feed_now() { ESP.wdtFeed(); }

}  // namespace spore::esp8266
