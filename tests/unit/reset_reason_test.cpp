// The ESP8266 reset reason names the firmware logs and serves.

#include "spore/device/reset_reason.h"

#include <gtest/gtest.h>

#include <string>

namespace spore {
namespace {

TEST(ResetReasonTest, EverySdkCodeHasItsName) {
  // Values of user_interface.h's rst_reason (REASON_DEFAULT_RST = 0 .. REASON_EXT_SYS_RST = 6).
  const char* expected[] = {"power_on",         "hardware_watchdog", "exception",     "software_watchdog",
                            "software_restart", "deep_sleep_wake",   "external_reset"};
  for (uint32_t code = 0; code < 7; ++code) EXPECT_EQ(std::string(esp_reset_reason_name(code)), expected[code]);
}

TEST(ResetReasonTest, OtherCodesAreUnknown) {
  EXPECT_STREQ(esp_reset_reason_name(7), "unknown");
  EXPECT_STREQ(esp_reset_reason_name(0xFFFFFFFFu), "unknown");  // no rst_info
}

}  // namespace
}  // namespace spore
