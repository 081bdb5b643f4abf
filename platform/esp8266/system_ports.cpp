#include "esp8266/system_ports.h"

#include <Arduino.h>
#include <flash_hal.h>
#include <user_interface.h>

#include "esp8266/config_store.h"  // kSettingsSectors

#include "spore/device/reset_reason.h"

extern "C" {
// SDK: hardware random number (RANDOM_REG32), declared in osapi.h on some SDKs only.
unsigned long os_random(void);
}

namespace spore::esp8266 {

uint32_t EspClock::now_ms() const { return static_cast<uint32_t>(millis()); }

uint32_t EspRandom::next_u32() { return static_cast<uint32_t>(os_random()); }

uint32_t EspEntropy::hardware_sample_u32() {
  delayMicroseconds(kTokenSampleSpacingUs);
  return static_cast<uint32_t>(os_random());
}

uint32_t EspEntropy::micros_now() { return static_cast<uint32_t>(micros()); }

bool EspBootLogFlash::begin() {
  const uint32_t start = FS_PHYS_ADDR;
  usable_ = start % kBootLogSectorBytes == 0 && FS_PHYS_SIZE >= (kSettingsSectors + 2) * kBootLogSectorBytes;
  first_sector_ = start / kBootLogSectorBytes + kSettingsSectors;
  return usable_;
}

bool EspBootLogFlash::read(uint8_t sector, uint32_t offset, uint8_t* out, size_t size_bytes) {
  if (!usable_ || sector > 1) return false;
  // The uint8_t overload reads an unaligned buffer through an aligned one (Esp.cpp:889).
  return ESP.flashRead((first_sector_ + sector) * kBootLogSectorBytes + offset, out, size_bytes);
}

bool EspBootLogFlash::program(uint8_t sector, uint32_t offset, const uint8_t* data, size_t size_bytes) {
  if (!usable_ || sector > 1) return false;
  // The uint8_t overload copies an unaligned buffer through an aligned one (Esp.cpp:874).
  return ESP.flashWrite((first_sector_ + sector) * kBootLogSectorBytes + offset, data, size_bytes);
}

bool EspBootLogFlash::erase(uint8_t sector) {
  if (!usable_ || sector > 1) return false;
  return ESP.flashEraseSector(first_sector_ + sector);
}

uint32_t EspBootLogFlash::legacy_count() const {
  // Where the EEPROM library keeps its sector (libraries/EEPROM/EEPROM.cpp:42).
  alignas(4) uint8_t record[kBootCounterBytes];
  if (!ESP.flashRead(EEPROM_start - 0x40200000, reinterpret_cast<uint32_t*>(record), sizeof record)) return 0;
  return legacy_boot_count(record);
}

namespace {
// Level prefixes live in flash; Serial.print(__FlashStringHelper*) reads them 4 bytes at a time.
const char kPrefixError[] PROGMEM = "E: ";
const char kPrefixWarn[] PROGMEM = "W: ";
const char kPrefixInfo[] PROGMEM = "I: ";
const char kPrefixDebug[] PROGMEM = "D: ";

const __FlashStringHelper* prefix_of(LogLevel level) {
  const char* p = kPrefixDebug;
  switch (level) {
    case LogLevel::kError: p = kPrefixError; break;
    case LogLevel::kWarn: p = kPrefixWarn; break;
    case LogLevel::kInfo: p = kPrefixInfo; break;
    case LogLevel::kDebug: p = kPrefixDebug; break;
  }
  return reinterpret_cast<const __FlashStringHelper*>(p);
}
}  // namespace

void EspLogSink::write(LogLevel level, const char* message) {
  if (!log_level_enabled(level, max_level_)) return;
  Serial.print(prefix_of(level));
  Serial.println(message != nullptr ? message : "");
}

uint64_t EspSystemInfo::free_heap_bytes() const { return ESP.getFreeHeap(); }
uint32_t EspSystemInfo::chip_id() const { return ESP.getChipId(); }
const char* EspSystemInfo::sdk_version() const { return ESP.getSdkVersion(); }
uint16_t EspSystemInfo::cpu_freq_mhz() const { return ESP.getCpuFreqMHz(); }
uint32_t EspSystemInfo::flash_chip_size_bytes() const { return ESP.getFlashChipRealSize(); }
int8_t EspSystemInfo::wifi_rssi_dbm() const {
  const sint8 rssi = wifi_station_get_rssi();
  return rssi < 0 ? rssi : 0;
}
uint32_t EspSystemInfo::max_free_block_bytes() const { return ESP.getMaxFreeBlockSize(); }
uint8_t EspSystemInfo::heap_fragmentation_percent() const { return ESP.getHeapFragmentation(); }
uint32_t EspSystemInfo::free_sketch_space_bytes() const { return ESP.getFreeSketchSpace(); }
uint32_t EspSystemInfo::sketch_size_bytes() const { return ESP.getSketchSize(); }

uint32_t EspSystemInfo::reset_reason_code() const {
  const rst_info* info = system_get_rst_info();
  return info != nullptr ? info->reason : 0xFFFFFFFFu;
}

const char* EspSystemInfo::reset_reason_name() const { return esp_reset_reason_name(reset_reason_code()); }

static_assert(SPORE_ESP_SAFE_MODE_RTC_BLOCK >= 32 && SPORE_ESP_SAFE_MODE_RTC_BLOCK + SafeModeStore::kWords <= 128,
              "SPORE_ESP_SAFE_MODE_RTC_BLOCK: user blocks 0..31 are eboot's command, 128 blocks in all");

bool EspRtcSafeModeStore::load(uint32_t (&words)[kWords]) {
  return ESP.rtcUserMemoryRead(SPORE_ESP_SAFE_MODE_RTC_BLOCK, words, sizeof words);
}

bool EspRtcSafeModeStore::save(const uint32_t (&words)[kWords]) {
  // rtcUserMemoryWrite() takes a non-const pointer but only reads it.
  return ESP.rtcUserMemoryWrite(SPORE_ESP_SAFE_MODE_RTC_BLOCK, const_cast<uint32_t*>(words), sizeof words);
}

}  // namespace spore::esp8266
