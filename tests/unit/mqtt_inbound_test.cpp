// MqttInboundFlags (core/spore/mqtt/mqtt_inbound.h): the RETAIN bit of the last PUBLISH in the bytes a
// client reads, as the ESP8266's client feeds them (any split), across other packets and long
// Remaining Lengths; a broken stream fails closed.

#include "spore/mqtt/mqtt_inbound.h"

#include <gtest/gtest.h>

#include <vector>

namespace spore {
namespace {

std::vector<uint8_t> packet(uint8_t header, size_t body_bytes) {
  std::vector<uint8_t> p{header};
  size_t len = body_bytes;
  do {
    uint8_t b = len % 128;
    len /= 128;
    if (len > 0) b |= 0x80;
    p.push_back(b);
  } while (len > 0);
  p.insert(p.end(), body_bytes, 0x31);  // body bytes that look like a retained PUBLISH header
  return p;
}

TEST(MqttInboundFlagsTest, FollowsTheLastPublish) {
  MqttInboundFlags f;
  EXPECT_FALSE(f.last_publish_retained());
  const auto connack = packet(0x20, 2);
  f.feed(connack.data(), connack.size());
  EXPECT_FALSE(f.last_publish_retained());
  const auto retained = packet(0x31, 20);  // PUBLISH QoS 0, RETAIN
  f.feed(retained.data(), retained.size());
  EXPECT_TRUE(f.last_publish_retained());
  const auto suback = packet(0x90, 3);  // not a PUBLISH: the last PUBLISH still counts
  f.feed(suback.data(), suback.size());
  EXPECT_TRUE(f.last_publish_retained());
  const auto live = packet(0x32, 20000);  // PUBLISH QoS 1, not retained, 3 length bytes
  for (uint8_t b : live) f.feed(&b, 1);   // a byte at a time
  EXPECT_FALSE(f.last_publish_retained());
  EXPECT_EQ(f.publishes(), 2u);
  const auto ping = packet(0xD0, 0);
  f.feed(ping.data(), ping.size());
  const auto retained_qos1 = packet(0x33, 300);
  f.feed(retained_qos1.data(), 1);
  EXPECT_TRUE(f.last_publish_retained());  // known from the header byte on
  f.feed(retained_qos1.data() + 1, retained_qos1.size() - 1);
  EXPECT_TRUE(f.last_publish_retained());
  f.reset();
  EXPECT_FALSE(f.last_publish_retained());
  EXPECT_EQ(f.publishes(), 0u);
}

TEST(MqttInboundFlagsTest, ABrokenStreamFailsClosed) {
  MqttInboundFlags f;
  const uint8_t five_length_bytes[] = {0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
  f.feed(five_length_bytes, sizeof five_length_bytes);
  EXPECT_TRUE(f.last_publish_retained());
  const auto live = packet(0x30, 2);
  f.feed(live.data(), live.size());
  EXPECT_TRUE(f.last_publish_retained());  // until the next connection
  f.reset();
  f.feed(live.data(), live.size());
  EXPECT_FALSE(f.last_publish_retained());
}

}  // namespace
}  // namespace spore
