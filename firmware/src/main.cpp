// SPORE firmware for ESP-01 / ESP-01S: a cluster node on WiFi. Everything lives in the library.
// WiFi credentials: the settings stored in flash, else the WIFI_SSID / WIFI_PASSWORD build flags (plain
// strings in the image: anyone with the .bin can read them), else the setup portal (join the open
// access point "spore-<chipid>"): see platform/esp8266/README.md. No API token is passed: the node
// draws its own once WiFi runs and prints it once on the serial log ("Settings" there).
#include <Arduino.h>

#include "esp8266/node.h"

spore::esp8266::Node node;

void setup() {
  Serial.begin(115200);
  if (!node.begin()) Serial.println(F("SPORE did not start (see the lines above)"));
}

void loop() { node.loop(); }
