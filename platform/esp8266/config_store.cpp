#include "esp8266/config_store.h"

#include <Arduino.h>
#include <flash_hal.h>
#include <user_interface.h>

#include <cstring>
#include <string_view>

#include "spore/config_record.h"

namespace spore::esp8266 {

namespace {
constexpr uint32_t kSectorBytes = 4096;
// One record buffer for load() and save(), off the 4 KB loop stack; both run in loop context.
alignas(4) uint8_t g_record[kConfigRecordMaxBytes];
}  // namespace

bool ConfigStore::begin() {
  const uint32_t start = FS_PHYS_ADDR;
  const uint32_t size = FS_PHYS_SIZE;
  usable_ = start % kSectorBytes == 0 && size >= kSettingsSectors * kSectorBytes;
  first_sector_ = static_cast<uint16_t>(start / kSectorBytes);
  return usable_;
}

StoredSettings ConfigStore::load(char* out, size_t out_bytes, size_t* size_bytes) {
  *size_bytes = 0;
  if (out_bytes > 0) out[0] = '\0';
  if (!usable_ || out_bytes == 0) return StoredSettings::kUnreadable;
  // The SDK reads the copy its flag sector (first_sector_ + 2) names; on blank flash that is
  // copy 1, all 0xFF: no magic, kNone.
  if (!system_param_load(first_sector_, 0, g_record, sizeof g_record)) return StoredSettings::kUnreadable;
  std::string_view text;
  if (!decode_config_record(g_record, sizeof g_record, &text)) {
    return config_record_present(g_record, sizeof g_record) ? StoredSettings::kDamaged : StoredSettings::kNone;
  }
  if (text.size() >= out_bytes) return StoredSettings::kUnreadable;
  std::memcpy(out, text.data(), text.size());
  out[text.size()] = '\0';
  *size_bytes = text.size();
  return StoredSettings::kText;
}

bool ConfigStore::save(const char* text, size_t size_bytes) {
  if (!usable_) return false;
  const size_t n = encode_config_record(std::string_view(text, size_bytes), g_record, sizeof g_record);
  if (n == 0) return false;
  if (!system_param_save_with_protect(first_sector_, g_record, static_cast<uint16_t>(n))) return false;
  if (saves_ < UINT16_MAX) ++saves_;
  return true;
}

}  // namespace spore::esp8266
