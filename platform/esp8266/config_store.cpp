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
constexpr uint32_t kSectorsNeeded = 3;  // two copies + the flag sector of the SDK's protected save
// One record buffer for load() and save(), off the 4 KB loop stack; both run in loop context.
alignas(4) uint8_t g_record[kConfigRecordMaxBytes];
}  // namespace

bool ConfigStore::begin() {
  const uint32_t start = FS_PHYS_ADDR;
  const uint32_t size = FS_PHYS_SIZE;
  usable_ = start % kSectorBytes == 0 && size >= kSectorsNeeded * kSectorBytes;
  first_sector_ = static_cast<uint16_t>(start / kSectorBytes);
  return usable_;
}

ConfigStore::Load ConfigStore::load(char* out, size_t out_bytes, size_t* size_bytes) {
  *size_bytes = 0;
  if (out_bytes > 0) out[0] = '\0';
  if (!usable_ || out_bytes == 0) return Load::kError;
  if (!system_param_load(first_sector_, 0, g_record, sizeof g_record)) return Load::kError;
  std::string_view text;
  if (!decode_config_record(g_record, sizeof g_record, &text)) return Load::kMissing;
  if (text.size() >= out_bytes) return Load::kError;
  std::memcpy(out, text.data(), text.size());
  out[text.size()] = '\0';
  *size_bytes = text.size();
  return Load::kLoaded;
}

bool ConfigStore::save(const char* text, size_t size_bytes) {
  if (!usable_) return false;
  const size_t n = encode_config_record(std::string_view(text, size_bytes), g_record, sizeof g_record);
  if (n == 0) return false;
  return system_param_save_with_protect(first_sector_, g_record, static_cast<uint16_t>(n));
}

}  // namespace spore::esp8266
