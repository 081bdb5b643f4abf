// SPORE firmware for ESP-01 / ESP-01S: a cluster node on WiFi. Everything lives in the library;
// this file only connects WiFi (credentials from build flags) and runs the node.
#include <Arduino.h>
#include <ESP8266WiFi.h>

#include "esp8266/node.h"

#ifndef WIFI_SSID
#error "set WIFI_SSID and WIFI_PASSWORD in the environment (or build flags) before building"
#endif

spore::esp8266::Node node;

void setup() {
  Serial.begin(115200);
  WiFi.mode(WIFI_STA);
  WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
  while (WiFi.status() != WL_CONNECTED) delay(100);  // replaced by the WiFi manager (issue 5)
  node.begin();
}

void loop() { node.loop(); }
