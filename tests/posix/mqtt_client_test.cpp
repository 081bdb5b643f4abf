// parse_mqtt_url (spored --mqtt): what is accepted, and that everything else is refused with a
// sentence. The client itself runs against a real broker in tests/integration/mqtt_test.sh.

#include "posix/mqtt_client.h"

#include <gtest/gtest.h>

#include <string>

namespace spore::posix {
namespace {

TEST(ParseMqttUrl, HostAndOptionalPort) {
  std::string host, error;
  uint16_t port = 0;
  ASSERT_TRUE(parse_mqtt_url("mqtt://broker.lan", &host, &port, &error)) << error;
  EXPECT_EQ(host, "broker.lan");
  EXPECT_EQ(port, 1883);
  ASSERT_TRUE(parse_mqtt_url("mqtt://10.0.0.2:1884/", &host, &port, &error)) << error;
  EXPECT_EQ(host, "10.0.0.2");
  EXPECT_EQ(port, 1884);
}

TEST(ParseMqttUrl, EverythingElseIsRefusedWithAReason) {
  for (const char* bad : {"", "broker", "http://broker", "mqtts://broker", "mqtt://", "mqtt://:1883", "mqtt://h:0",
                          "mqtt://h:65536", "mqtt://h:x", "mqtt://user:pw@h", "mqtt://h/path", "mqtt://h:1883/x",
                          "mqtt://h h"}) {
    std::string host = "unchanged", error;
    uint16_t port = 7;
    EXPECT_FALSE(parse_mqtt_url(bad, &host, &port, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
    EXPECT_EQ(host, "unchanged") << bad;
    EXPECT_EQ(port, 7) << bad;
  }
}

}  // namespace
}  // namespace spore::posix
