#include "esp8266/config_store.h"

#include <Arduino.h>
#include <flash_hal.h>
#include <user_interface.h>

#include <cstring>
#include <string_view>

#include "spore/device/config_record.h"

namespace spore::esp8266 {

namespace {
constexpr uint32_t kSectorBytes = 4096;
// The largest free heap block save() needs (config_store.h): the SDK's read-back buffer,
// pvPortZalloc(len) of the record's length (wifi_param_save_protect_with_check in libmain's
// user_interface.o, NONOSDK22x_190703, disassembled), and room for what else allocates meanwhile.
constexpr uint32_t kSaveMinFreeBlockBytes = 1024;
static_assert(kConfigRecordMaxBytes + 256 <= kSaveMinFreeBlockBytes, "");
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

namespace {

// What g_record holds after a load: the record's state, its text in `*text` when intact.
RecordRead record_state(size_t record_bytes, std::string_view* text) {
  if (decode_config_record(g_record, record_bytes, text)) return RecordRead::kIntact;
  return config_record_present(g_record, record_bytes) ? RecordRead::kMagic : RecordRead::kNoMagic;
}

// One copy's magic, read with ESP.flashRead(), which reports spi_flash_read()'s result
// (Esp.cpp:928-933); only the magic decides kNone, so 4 bytes are enough.
RecordRead copy_state(uint32_t sector) {
  alignas(4) uint8_t head[4];
  if (!ESP.flashRead(sector * kSectorBytes, reinterpret_cast<uint32_t*>(head), sizeof head)) return RecordRead::kFailed;
  return config_record_present(head, sizeof head) ? RecordRead::kMagic : RecordRead::kNoMagic;
}

}  // namespace

StoredSettings ConfigStore::load(char* out, size_t out_bytes, size_t* size_bytes) {
  *size_bytes = 0;
  if (out_bytes > 0) out[0] = '\0';
  if (!usable_) return StoredSettings::kNoArea;
  if (out_bytes == 0) return StoredSettings::kUnreadable;
  // The SDK reads the copy its flag sector (first_sector_ + 2) names. It ignores spi_flash_read()'s
  // result and returns true anyway (review of NONOSDK22x_190703 libmain), so a failed read looks
  // like a zero buffer: no magic. Hence both copies are read directly before "nothing stored".
  std::memset(g_record, 0, sizeof g_record);
  std::string_view text;
  RecordRead loaded = RecordRead::kFailed;
  if (system_param_load(first_sector_, 0, g_record, sizeof g_record)) loaded = record_state(sizeof g_record, &text);
  RecordRead copy0 = RecordRead::kFailed;
  RecordRead copy1 = RecordRead::kFailed;
  if (loaded != RecordRead::kIntact) {
    copy0 = copy_state(first_sector_);
    copy1 = copy_state(first_sector_ + 1u);
  }
  const StoredSettings found = stored_settings_from(loaded, copy0, copy1);
  if (found != StoredSettings::kText) return found;
  if (text.size() >= out_bytes) return StoredSettings::kUnreadable;
  std::memcpy(out, text.data(), text.size());
  out[text.size()] = '\0';
  *size_bytes = text.size();
  return StoredSettings::kText;
}

bool ConfigStore::save(const char* text, size_t size_bytes) {
  if (!usable_) return false;
  const std::string_view wanted(text, size_bytes);
  const size_t n = encode_config_record(wanted, g_record, sizeof g_record);
  if (n == 0) return false;
  // The SDK's helper allocates its buffer with pvPortZalloc(); when that fails it writes nothing
  // but still switches the flag sector (config_store.h), so it must not be called short of heap.
  if (ESP.getMaxFreeBlockSize() < kSaveMinFreeBlockBytes) return false;
  // Its result says only that the length was acceptable: the write is checked by reading it back.
  if (!system_param_save_with_protect(first_sector_, g_record, static_cast<uint16_t>(n))) return false;
  std::memset(g_record, 0, sizeof g_record);
  std::string_view stored;
  if (!system_param_load(first_sector_, 0, g_record, sizeof g_record) ||
      record_state(sizeof g_record, &stored) != RecordRead::kIntact || stored != wanted) {
    return false;
  }
  if (saves_ < UINT16_MAX) ++saves_;
  return true;
}

}  // namespace spore::esp8266
