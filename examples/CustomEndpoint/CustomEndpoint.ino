// SPORE node with its own endpoint: GET /api/led reports the LED, POST /api/led toggles it
// (token-protected when the node has an API token). Both appear in the node's "api" list, so
// the cluster and the dashboard know this node serves them.
#include <Arduino.h>

#include "esp8266/node.h"

#ifndef SPORE_LED_PIN
#define SPORE_LED_PIN 1  // ESP-01: GPIO1 (TX); ESP-01S: GPIO2. Active low.
#endif

spore::esp8266::Node node;
bool led_on = false;

int get_led(const spore::HttpRequest&, spore::JsonWriter& w) {
  w.begin_object().field("led", led_on).end_object();
  return 200;
}

int toggle_led(const spore::HttpRequest&, spore::JsonWriter& w) {
  led_on = !led_on;
  digitalWrite(SPORE_LED_PIN, led_on ? LOW : HIGH);
  w.begin_object().field("led", led_on).end_object();
  return 200;
}

void setup() {
  pinMode(SPORE_LED_PIN, OUTPUT);
  digitalWrite(SPORE_LED_PIN, HIGH);
  node.begin();
  node.api().add_route("/api/led", spore::HttpMethod::kGet, spore::RouteAuth::kPublic, &get_led);
  node.api().add_route("/api/led", spore::HttpMethod::kPost, spore::RouteAuth::kToken, &toggle_led);
}

void loop() { node.loop(); }
