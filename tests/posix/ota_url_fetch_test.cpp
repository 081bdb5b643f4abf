// OtaUrlFetch::parse_url: which URLs the MQTT cmd/ota download accepts (http:// only).

#include "posix/ota_url_fetch.h"

#include <gtest/gtest.h>

#include <string>

namespace spore::posix {
namespace {

TEST(OtaUrlFetch, ParsesHttpUrls) {
  std::string host, path;
  uint16_t port = 0;
  ASSERT_TRUE(OtaUrlFetch::parse_url("http://10.0.0.2:8000/fw/spore.bin", &host, &port, &path));
  EXPECT_EQ(host, "10.0.0.2");
  EXPECT_EQ(port, 8000);
  EXPECT_EQ(path, "/fw/spore.bin");
  ASSERT_TRUE(OtaUrlFetch::parse_url("http://files.lan", &host, &port, &path));
  EXPECT_EQ(host, "files.lan");
  EXPECT_EQ(port, 80);
  EXPECT_EQ(path, "/");
}

TEST(OtaUrlFetch, RefusesWhatItCannotFetch) {
  std::string host, path;
  uint16_t port = 0;
  for (const char* url : {"https://10.0.0.2/fw.bin", "ftp://x/y", "http://", "http:///path", "http://host:/p",
                          "http://host:0/p", "http://host:65536/p", "http://host:8o/p", "http://user@host/p",
                          "http://[fe80::1]:80/p", "10.0.0.2/fw.bin", ""}) {
    EXPECT_FALSE(OtaUrlFetch::parse_url(url, &host, &port, &path)) << url;
  }
}

}  // namespace
}  // namespace spore::posix
