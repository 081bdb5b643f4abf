#include "spore/device/reset_reason.h"

namespace spore {

const char* esp_reset_reason_name(uint32_t code) {
  // Short literals (< 120 B in all): the caller gets a plain char* it can hand to JsonWriter or
  // printf without _P variants.
  switch (static_cast<EspResetReason>(code)) {
    case EspResetReason::kPowerOn: return "power_on";
    case EspResetReason::kHardwareWatchdog: return "hardware_watchdog";
    case EspResetReason::kException: return "exception";
    case EspResetReason::kSoftwareWatchdog: return "software_watchdog";
    case EspResetReason::kSoftwareRestart: return "software_restart";
    case EspResetReason::kDeepSleepWake: return "deep_sleep_wake";
    case EspResetReason::kExternalReset: return "external_reset";
  }
  return "unknown";
}

}  // namespace spore
