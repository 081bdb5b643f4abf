// SPORE sensor node: samples the ADC every 5 s with a scheduler task, fires a "sensor_reading"
// event (local subscribers today; issue 8 carries events cluster-wide) and serves the last
// reading at GET /api/sensor.
#include <Arduino.h>

#include "esp8266/node.h"

struct SensorReading {
  uint32_t at_ms;
  uint16_t raw;  // 0..1023 from A0 (0..1 V on the bare ESP8266)
};

constexpr std::string_view kSensorTopic = "sensor_reading";

spore::esp8266::Node node;
SensorReading last{0, 0};

void sample(uint32_t now_ms) {
  last = SensorReading{now_ms, static_cast<uint16_t>(analogRead(A0))};
  node.context().fire(kSensorTopic, last);
}
spore::Task sample_task("sensor", 5000, &sample);

void on_reading(const spore::Event& e) {
  if (const SensorReading* r = e.get<SensorReading>()) {
    node.context().log(spore::LogLevel::kDebug, "sensor: %u", static_cast<unsigned>(r->raw));
  }
}

int get_sensor(const spore::HttpRequest&, spore::JsonWriter& w) {
  w.begin_object().field("raw", static_cast<uint32_t>(last.raw)).field("atMs", last.at_ms).end_object();
  return 200;
}

void setup() {
  Serial.begin(115200);
  node.begin();
  node.context().on(kSensorTopic, spore::EventHandler(&on_reading));
  node.context().scheduler().add(sample_task);
  node.api().add_route("/api/sensor", spore::HttpMethod::kGet, spore::RouteAuth::kPublic, &get_sensor);
}

void loop() { node.loop(); }
