#pragma once
/// @file mqtt_client.h
/// spore::MqttPort on the ESP8266: 256dpi/arduino-mqtt (lwmqtt) over a WiFiClient, for the MQTT
/// bridge (core/spore/mqtt/mqtt_bridge.h, docs/mqtt.md). Built only with -DSPORE_WITH_MQTT (the
/// PlatformIO env `esp01_1m_mqtt`, which also adds the library): the default image carries none
/// of it.
///
/// Connection: client id MqttBridge::client_id() (its random part drawn again before the first
/// connect, when the radio runs and the RNG is good), last will MqttBridge::will_topic() =
/// MqttBridge::kWillPayload (retained, QoS 1), clean session, keep-alive 30 s. After every
/// (re)connect MqttBridge::on_connected(); every received message goes to MqttBridge::on_message().
/// Reconnects back off 1 s, 2 s, 4 s ... 60 s, each a random 50-100 % of that (nodes that lost
/// the same broker do not return in lock step); the backoff restarts after a connection that
/// lasted a minute.
///
/// Blocking (arduino-mqtt is synchronous; the library's calls wait with delay(), which lets the
/// SDK, WiFi and lwIP run, but not the node loop): every wait is bounded by
/// Settings::timeout_ms (default 500 ms):
///  - a connect attempt: DNS (a host name, not an address; cached until a connect fails) + TCP
///    connect + CONNACK, each <= timeout_ms: at most ~1.5 s, on a LAN a few ms; then
///    on_connected(): SUBACK and one PUBACK per retained message (status, 4 discovery documents,
///    state, one per member: ~6 + members round trips, ~0.1-0.3 s on a LAN for 32 members). A
///    broker that stops answering fails the first wait, which closes the connection; what follows
///    returns at once. Worst case ~2 s, then the backoff.
///  - a retained (QoS 1) publish from loop(): one round trip for its PUBACK, <= timeout_ms;
///    QoS 0 publishes (events, command results) do not wait.
///  - reading a message: until the whole packet is in, <= timeout_ms.
///
/// Re-entrancy: arduino-mqtt (lwmqtt) is not re-entrant, and its waits (ClientContext's
/// _write_from_source() and lwmqtt's read loop call esp_delay()/delay(), core 3.1.2
/// libraries/ESP8266WiFi/src/include/ClientContext.h 463-494) let the SDK run web-server and UDP
/// callbacks, and lwmqtt hands a message that arrives while it waits for a PUBACK to
/// on_message(). A publish from any of those would enter the client mid-packet; one from the
/// system context itself (an ESPAsyncWebServer callback) cannot wait at all: esp_delay() cannot
/// suspend there (core_esp8266_main.cpp 126-130, 152-164), so the write spins for its whole
/// timeout_ms with lwIP stopped under it and sends whatever part of the packet fit. So the
/// bridge publishes only from its loop(), on_connected() and leave(), and queues what callbacks
/// build (MqttBridge's outbox, core/spore/mqtt/mqtt_bridge.h); the payload it hands publish() is
/// always outbox memory, which those callbacks never write (lwmqtt sends the payload from the
/// caller's buffer after the header: src/lwmqtt/client.c 497-505). This client adds a guard: a
/// publish, subscribe, loop() or disconnect that begins while another of its calls is in
/// progress is refused (counted in reentrant_refusals(), which Node logs when it grows), never
/// run nested.
///
/// Retained commands: arduino-mqtt 2.5.3 does not hand the RETAIN flag to the message callback
/// (src/MQTTClient.cpp:102-121 passes topic, bytes and length; lwmqtt decoded the flag into
/// lwmqtt_message_t::retained, src/lwmqtt/lwmqtt.h:78). The connection is therefore a
/// WiFiClient whose reads also feed MqttInboundFlags (core/spore/mqtt/mqtt_inbound.h), which follows
/// the packet framing and keeps the last PUBLISH header's RETAIN bit: lwmqtt reads exactly one
/// whole packet before it calls back (src/lwmqtt/client.c:247-273, reads through
/// Client::read(uint8_t*, size_t), src/MQTTClient.cpp:46-80), so that is the message's flag.
///
/// Memory: the library's read and write buffers are allocated once, in the constructor
/// (SPORE_MQTT_READ_BUFFER_BYTES, SPORE_MQTT_WRITE_BUFFER_BYTES below); the will once in
/// begin(); WiFiClient's connection state on each connect (as any TCP client). Incoming messages
/// larger than the read buffer are dropped (counted), not a reason to disconnect.

#ifdef SPORE_WITH_MQTT

#include <ESP8266WiFi.h>
#include <MQTT.h>

#include <cstddef>
#include <cstdint>

#include "spore/base/limits.h"
#include "spore/mqtt/mqtt_bridge.h"
#include "spore/mqtt/mqtt_inbound.h"
#include "spore/mqtt/mqtt_proof.h"
#include "spore/base/ports.h"

/// The library's write buffer: the largest packet the bridge sends (topic, payload and a 5-byte
/// MQTT header with the 2-byte topic length and packet id).
#ifndef SPORE_MQTT_WRITE_BUFFER_BYTES
#define SPORE_MQTT_WRITE_BUFFER_BYTES (SPORE_MQTT_TOPIC_MAX + SPORE_MQTT_PAYLOAD_MAX + 8)
#endif
/// The library's read buffer: the largest command the bridge accepts, a `<base>/cmd/publish`
/// topic with the payload `nonce=<32 hex> proof=<64 hex> <topic> <data>` (kMqttProofPrefixLen
/// bytes, topic <= 31, data <= SPORE_EVENT_PAYLOAD_MAX), plus the packet's own header. A larger
/// message is dropped.
#ifndef SPORE_MQTT_READ_BUFFER_BYTES
#define SPORE_MQTT_READ_BUFFER_BYTES \
  (SPORE_MQTT_TOPIC_MAX + spore::kMqttProofPrefixLen + 1 + 31 + 1 + SPORE_EVENT_PAYLOAD_MAX + 16)
#endif

namespace spore::esp8266 {

/// The broker connection: a WiFiClient that shows every byte lwmqtt reads to MqttInboundFlags.
class FlagTrackingClient final : public WiFiClient {
 public:
  int read() override {
    const int c = WiFiClient::read();
    if (c >= 0) {
      const auto b = static_cast<uint8_t>(c);
      flags.feed(&b, 1);
    }
    return c;
  }
  int read(uint8_t* buf, size_t size) override {
    const int n = WiFiClient::read(buf, size);
    if (n > 0) flags.feed(buf, static_cast<size_t>(n));
    return n;
  }
  MqttInboundFlags flags;
};

class EspMqttClient final : public MqttPort {
 public:
  struct Settings {
    /// Broker host name or dotted address; nullptr or "" = the client stays off.
    const char* host = nullptr;
    uint16_t port = 1883;
    /// nullptr or "" = no user name / password.
    const char* user = nullptr;
    const char* password = nullptr;
    /// Bound of every wait of a connect, publish or read (see the file comment).
    uint32_t timeout_ms = 500;
    uint16_t keep_alive_s = 30;
  };

  explicit EspMqttClient(Random& random);
  EspMqttClient(const EspMqttClient&) = delete;
  EspMqttClient& operator=(const EspMqttClient&) = delete;

  /// After bridge.begin() (which makes the client id and will topic). The strings of `settings`
  /// must outlive the client (build-time literals). False when no host is set: the client
  /// stays off and loop() does nothing.
  bool begin(const Settings& settings, MqttBridge& bridge);
  /// From the node loop. `network_up`: the station has an address. Connects when due, reads
  /// what arrived, keeps the connection alive, notices when it is gone.
  void loop(uint32_t now_ms, bool network_up);
  /// Clean shutdown: the bridge publishes "offline", then the client disconnects.
  void leave();

  bool connected() const override;
  bool publish(const char* topic, const uint8_t* payload, size_t size_bytes, bool retain) override;
  bool subscribe(const char* topic) override;

  /// Connect attempts, and of those the ones that failed; incoming messages dropped because they
  /// did not fit the read buffer.
  uint32_t connect_attempts() const { return attempts_; }
  uint32_t connect_failures() const { return failures_; }
  uint32_t dropped_messages() const { return mqtt_.droppedMessages(); }
  /// Publishes and subscribes refused because another client call was in progress (0 unless a
  /// caller breaks the bridge's rule; see the file comment).
  uint32_t reentrant_refusals() const { return reentrant_refusals_; }

 private:
  bool try_connect();
  /// Marks a client call in progress; false (counted) when one already is.
  bool enter();
  void schedule_retry(uint32_t now_ms);
  static void on_message(MQTTClient* client, char topic[], char bytes[], int length);

  Random& random_;
  MqttBridge* bridge_ = nullptr;
  Settings settings_{};
  FlagTrackingClient tcp_;
  mutable MQTTClient mqtt_;  // its connected() is not const
  IPAddress address_;
  bool have_address_ = false;
  bool was_connected_ = false;
  bool left_ = false;
  bool id_drawn_ = false;  // the client id's random part drawn with the radio on
  bool busy_ = false;  // a call into the library is in progress
  uint32_t next_attempt_ms_ = 0;
  uint32_t backoff_ms_ = 0;
  uint32_t connected_since_ms_ = 0;
  uint32_t attempts_ = 0;
  uint32_t failures_ = 0;
  uint32_t reentrant_refusals_ = 0;
};

}  // namespace spore::esp8266

#endif  // SPORE_WITH_MQTT
