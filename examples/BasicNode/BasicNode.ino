// SPORE basic node: joins the cluster on the LAN (UDP 4210) and serves the REST API on port 80
// (GET /api/node/status, GET /api/cluster/members, POST /api/node/restart, POST /api/node/update).
#include <Arduino.h>
#include <ESP8266WiFi.h>

#include "esp8266/node.h"

#ifndef WIFI_SSID
#define WIFI_SSID "your-ssid"
#define WIFI_PASSWORD "your-password"
#endif

spore::esp8266::Node node;

void setup() {
  Serial.begin(115200);
  WiFi.mode(WIFI_STA);
  WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
  while (WiFi.status() != WL_CONNECTED) delay(100);
  if (!node.begin()) Serial.println(F("SPORE did not start (see the lines above)"));
}

void loop() { node.loop(); }
