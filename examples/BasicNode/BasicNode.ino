// SPORE basic node: joins the cluster on the LAN (UDP 4210) and serves the REST API on port 80
// (GET /api/node/status, GET /api/cluster/members, POST /api/node/restart, POST /api/node/update).
// WiFi: on first boot the node opens the open access point "spore-<chipid>"; join it with a phone
// and enter your network in the page that appears. The credentials are kept in flash.
#include <Arduino.h>

#include "esp8266/node.h"

spore::esp8266::Node node;

void setup() {
  Serial.begin(115200);
  if (!node.begin()) Serial.println(F("SPORE did not start (see the lines above)"));
}

void loop() { node.loop(); }
