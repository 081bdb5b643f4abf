#pragma once
/// @file reset_reason.h
/// Names of the ESP8266 SDK's reset reasons (rst_info::reason, REASON_DEFAULT_RST ..
/// REASON_EXT_SYS_RST in user_interface.h), as the firmware logs and serves them. Pure, so the
/// table is host-tested (tests/unit/reset_reason_test.cpp) and no String is built
/// (ESP.getResetReason() would).

#include <cstdint>

namespace spore {

/// The SDK's values (NONOS SDK 2.2.x, stable since 1.x).
enum class EspResetReason : uint32_t {
  kPowerOn = 0,           ///< REASON_DEFAULT_RST
  kHardwareWatchdog = 1,  ///< REASON_WDT_RST
  kException = 2,         ///< REASON_EXCEPTION_RST
  kSoftwareWatchdog = 3,  ///< REASON_SOFT_WDT_RST
  kSoftwareRestart = 4,   ///< REASON_SOFT_RESTART
  kDeepSleepWake = 5,     ///< REASON_DEEP_SLEEP_AWAKE
  kExternalReset = 6,     ///< REASON_EXT_SYS_RST
};

/// A static snake_case name: "power_on", "hardware_watchdog", "exception", "software_watchdog",
/// "software_restart", "deep_sleep_wake", "external_reset"; "unknown" for any other code
/// (including 0xFFFFFFFF, what the adapter reports when the SDK gives no rst_info).
const char* esp_reset_reason_name(uint32_t code);

}  // namespace spore
