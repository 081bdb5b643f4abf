#include "esp8266/mqtt_client.h"

#ifdef SPORE_WITH_MQTT

#include <cstring>

namespace spore::esp8266 {

namespace {

constexpr uint32_t kFirstBackoffMs = 1000;
constexpr uint32_t kMaxBackoffMs = 60000;
// A connection that lived this long was a real one: the next loss starts the backoff over.
constexpr uint32_t kStableConnectionMs = 60000;

bool empty(const char* s) { return s == nullptr || *s == '\0'; }

}  // namespace

EspMqttClient::EspMqttClient(Random& random)
    : random_(random), mqtt_(SPORE_MQTT_READ_BUFFER_BYTES, SPORE_MQTT_WRITE_BUFFER_BYTES) {}

bool EspMqttClient::begin(const Settings& settings, MqttBridge& bridge) {
  settings_ = settings;
  bridge_ = &bridge;
  if (empty(settings_.host)) return false;
  have_address_ = address_.fromString(settings_.host);  // a dotted address needs no DNS
  tcp_.setTimeout(settings_.timeout_ms);                // bounds DNS and the TCP connect
  mqtt_.begin(tcp_);
  mqtt_.setOptions(settings_.keep_alive_s, true, static_cast<int>(settings_.timeout_ms));
  mqtt_.setWill(bridge.will_topic(), MqttBridge::kWillPayload, true, 1);
  mqtt_.dropOverflow(true);  // an oversized message is dropped, not a reason to disconnect
  mqtt_.ref = this;
  mqtt_.onMessageAdvanced(&EspMqttClient::on_message);
  return true;
}

bool EspMqttClient::connected() const { return mqtt_.connected(); }

bool EspMqttClient::enter() {
  if (busy_) {
    ++reentrant_refusals_;
    return false;
  }
  busy_ = true;
  return true;
}

bool EspMqttClient::publish(const char* topic, const uint8_t* payload, size_t size_bytes, bool retain) {
  // The library's write buffer is checked by the library too; refusing here keeps an oversized
  // message from closing the connection.
  if (size_bytes + 8 + strlen(topic) > SPORE_MQTT_WRITE_BUFFER_BYTES) return false;
  if (!enter()) return false;
  const bool ok = mqtt_.publish(topic, reinterpret_cast<const char*>(payload), static_cast<int>(size_bytes), retain,
                                retain ? 1 : 0);
  busy_ = false;
  return ok;
}

bool EspMqttClient::subscribe(const char* topic) {
  if (!enter()) return false;
  // QoS 0 (MqttPort::subscribe): MQTTClient::subscribe(topic, qos) sends it as asked
  // (arduino-mqtt 2.5.3 src/MQTTClient.cpp:426-442, lwmqtt_subscribe_one; it waits for the SUBACK).
  const bool ok = mqtt_.subscribe(topic, 0);
  busy_ = false;
  return ok;
}

void EspMqttClient::on_message(MQTTClient* client, char topic[], char bytes[], int length) {
  auto* self = static_cast<EspMqttClient*>(client->ref);
  if (self == nullptr || self->bridge_ == nullptr || length < 0) return;
  self->bridge_->on_message(topic, reinterpret_cast<const uint8_t*>(bytes), static_cast<size_t>(length),
                            self->tcp_.flags.last_publish_retained());
}

bool EspMqttClient::try_connect() {
  ++attempts_;
  if (!have_address_) {
    // Bounded by the WiFiClient timeout; the address is kept until a connect fails.
    if (WiFi.hostByName(settings_.host, address_, settings_.timeout_ms) != 1) return false;
    have_address_ = true;
  }
  mqtt_.setHost(address_, settings_.port);
  if (!id_drawn_) {
    bridge_->draw_client_id();  // begin() ran before the radio: draw it again now that it runs
    id_drawn_ = true;
  }
  tcp_.flags.reset();  // a new connection: the stream starts with CONNACK
  busy_ = true;
  const bool ok = mqtt_.connect(bridge_->client_id(), empty(settings_.user) ? nullptr : settings_.user,
                                empty(settings_.password) ? nullptr : settings_.password);
  busy_ = false;
  if (!ok) {
    IPAddress literal;
    if (!literal.fromString(settings_.host)) have_address_ = false;  // resolve again next time
  }
  return ok;
}

void EspMqttClient::schedule_retry(uint32_t now_ms) {
  backoff_ms_ = backoff_ms_ == 0 ? kFirstBackoffMs : (backoff_ms_ >= kMaxBackoffMs / 2 ? kMaxBackoffMs : backoff_ms_ * 2);
  // 50-100 % of the backoff, so that nodes that lost one broker do not come back in lock step.
  const uint32_t half = backoff_ms_ / 2;
  next_attempt_ms_ = now_ms + half + random_.next_u32() % (half + 1);
}

void EspMqttClient::loop(uint32_t now_ms, bool network_up) {
  if (bridge_ == nullptr || empty(settings_.host) || left_) return;
  if (busy_) return;  // called from inside one of the client's own waits: never nested
  if (mqtt_.connected()) {
    busy_ = true;
    mqtt_.loop();  // reads what arrived (on_message: the bridge queues its answers), sends PINGREQ when due
    busy_ = false;
    if (mqtt_.connected()) return;
  }
  if (was_connected_) {  // just lost: the bridge notices through connected()
    was_connected_ = false;
    if (now_ms - connected_since_ms_ >= kStableConnectionMs) backoff_ms_ = 0;
    schedule_retry(now_ms);
    return;
  }
  if (!network_up || !deadline_reached(now_ms, next_attempt_ms_)) return;
  if (!try_connect()) {
    ++failures_;
    schedule_retry(now_ms);
    return;
  }
  was_connected_ = true;
  connected_since_ms_ = now_ms;
  bridge_->on_connected(now_ms);
}

void EspMqttClient::leave() {
  if (bridge_ == nullptr) return;
  bridge_->leave();
  if (busy_) return;  // inside a client call (cannot happen from loop()): the will tells the broker
  mqtt_.disconnect();  // the DISCONNECT packet: the broker does not send the will
  left_ = true;
}

}  // namespace spore::esp8266

#endif  // SPORE_WITH_MQTT
