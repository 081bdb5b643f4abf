#pragma once
/// @file mqtt_client.h
/// The MQTT bridge on Linux (docs/mqtt.md): spore::MqttPort over libmosquitto, driven from the
/// node loop without a thread of its own.
///
/// Why no mosquitto_loop_start(): core is single-threaded and spored calls it only under
/// `core_mutex` from the node loop. libmosquitto's own thread would call back (connect,
/// messages) from elsewhere; instead poll() runs one non-blocking pass (mosquitto_loop with a
/// zero timeout) from the node loop, so the callbacks, and the bridge they call, run there. The
/// connect is non-blocking too (mosquitto_connect_async, the same path loop_start uses), except
/// for the name lookup of a broker given by hostname; a lost or refused connection is retried
/// with exponential backoff (1 s doubling to 30 s; back to 1 s only after a connection that
/// stayed up for a minute, so a client kicked right after each connect does not retry every
/// second).

#include <cstdint>
#include <string>

#include "spore/mqtt/mqtt_bridge.h"

struct mosquitto;
struct mosquitto_message;

namespace spore::posix {

class StderrLogSink;

/// Where and how to connect.
struct MqttSettings {
  std::string host;
  uint16_t port = 1883;
  std::string username;  ///< empty = anonymous
  std::string password;  ///< used only with a username
  /// MQTT keepalive, seconds: the broker declares the node gone (and publishes its last will)
  /// after 1.5 x this without traffic when the TCP connection does not close by itself (power
  /// loss, network cut). Shorter = faster offline, more pings.
  int keepalive_s = 30;
};

/// Parses `mqtt://host[:port]` (port default 1883). False with a sentence in `*error` otherwise
/// (other schemes, mqtts:// included, are not supported yet).
bool parse_mqtt_url(const std::string& url, std::string* host, uint16_t* port, std::string* error);

class MqttClient : public spore::MqttPort {
 public:
  static constexpr uint32_t kMinBackoffMs = 1000;
  static constexpr uint32_t kMaxBackoffMs = 30000;

  /// `log` may be nullptr and must outlive the client.
  explicit MqttClient(StderrLogSink* log);
  ~MqttClient() override;
  MqttClient(const MqttClient&) = delete;
  MqttClient& operator=(const MqttClient&) = delete;

  /// Creates the libmosquitto client with `bridge`'s client id and last will (retained, QoS 1),
  /// and remembers `bridge` (after bridge.begin(); must outlive the client). Does not connect
  /// yet: poll() does. False with the reason in `*error`.
  bool start(const MqttSettings& settings, spore::MqttBridge& bridge, std::string* error);

  /// One non-blocking pass from the node loop, with the core mutex held: connects or reconnects
  /// when due, exchanges what the socket allows, hands connects and messages to the bridge and
  /// runs bridge.loop().
  void poll(uint32_t now_ms);

  /// Clean shutdown: bridge.leave() (retained "offline"), flush for at most `timeout_ms`, then
  /// DISCONNECT (which does not fire the will).
  void leave(uint32_t timeout_ms = 1000);

  // spore::MqttPort
  bool connected() const override { return connected_; }
  bool publish(const char* topic, const uint8_t* payload, size_t size_bytes, bool retain) override;
  bool subscribe(const char* topic) override;

  uint32_t connects() const { return connects_; }

 private:
  static void on_connect_cb(struct mosquitto* m, void* self, int rc);
  static void on_disconnect_cb(struct mosquitto* m, void* self, int rc);
  static void on_message_cb(struct mosquitto* m, void* self, const struct mosquitto_message* msg);
  static void on_publish_cb(struct mosquitto* m, void* self, int mid);
  void lost(uint32_t now_ms, const char* why);

  StderrLogSink* log_;
  struct mosquitto* mosq_ = nullptr;
  spore::MqttBridge* bridge_ = nullptr;
  MqttSettings settings_;
  bool connected_ = false;
  bool connecting_ = false;
  bool ever_attempted_ = false;
  bool left_ = false;
  uint32_t next_attempt_ms_ = 0;
  uint32_t backoff_ms_ = kMinBackoffMs;
  uint32_t now_ms_ = 0;
  uint32_t connects_ = 0;
  uint32_t connected_at_ms_ = 0;  ///< when the current connection's CONNACK came
  uint32_t messages_ = 0;         ///< messages received (poll() reads on while they come)
  int last_qos1_mid_ = 0;         ///< the last retained (QoS 1) message handed to libmosquitto...
  bool last_qos1_acked_ = true;   ///< ...and whether the broker acknowledged it (leave() waits)
  std::string last_error_;  ///< logged once per distinct failure, not on every retry
};

}  // namespace spore::posix
