#pragma once
/// @file mqtt_inbound.h
/// Follows the MQTT control packets in the bytes a client reads from the broker, to tell the
/// RETAIN flag of the last PUBLISH (MQTT 3.1.1 §2.2, §3.3.1.3: a broker sets it on messages it
/// sends because of a new subscription, i.e. the retained ones). For clients that do not hand
/// the flag to their message callback: arduino-mqtt 2.5.3 decodes it (lwmqtt's
/// lwmqtt_message_t::retained, src/lwmqtt/lwmqtt.h:78) but its MQTTClientHandler passes only
/// topic, bytes and length on (src/MQTTClient.cpp:102-121). lwmqtt reads a whole packet, exactly
/// its bytes, before it calls back (src/lwmqtt/client.c:247-273), so inside the callback the
/// last PUBLISH seen here is the message being handled (platform/esp8266/mqtt_client.h).
/// No allocation; a few bytes of state.

#include <cstddef>
#include <cstdint>

namespace spore {

class MqttInboundFlags {
 public:
  /// A new connection: the stream starts with a packet.
  void reset() { *this = MqttInboundFlags(); }
  /// The next `size_bytes` bytes read from the connection, in order (any split).
  void feed(const uint8_t* data, size_t size_bytes);
  /// The RETAIN bit of the last PUBLISH header fed; true once the stream broke (a Remaining
  /// Length longer than 4 bytes, which no broker sends): fail closed until reset().
  bool last_publish_retained() const { return broken_ || retained_; }
  /// PUBLISH headers seen since reset() (tests).
  uint32_t publishes() const { return publishes_; }

 private:
  enum class State : uint8_t { kHeader, kLength, kBody };
  State state_ = State::kHeader;
  bool retained_ = false;
  bool broken_ = false;
  uint8_t shift_ = 0;
  uint32_t remaining_ = 0;
  uint32_t publishes_ = 0;
};

}  // namespace spore
