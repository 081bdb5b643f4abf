#pragma once
/// @file system_ports.h
/// The small ports of core/spore/base/ports.h on the ESP8266 Arduino core 3.1.x: millis() clock,
/// hardware random numbers, Serial log sink and ESP.* system information; and the safe-mode
/// counter's store in RTC memory. Adapters only: no logic the host tests cannot reach lives here.

#include <cstddef>
#include <cstdint>

#include "spore/device/boot_counter.h"
#include "spore/base/ports.h"
#include "spore/device/safe_mode.h"
#include "spore/device/token_drbg.h"

/// First of the three RTC user-memory blocks (4 bytes each, 0..127) that hold the safe-mode
/// counter. Default: the last three, away from eboot's command (blocks 0..31: Update.end() writes
/// it at 0x60001200, the first user block; eboot_command.h) and from low offsets sketches tend to
/// use. The SDK's own RTC data is below the user blocks (system_rtc_mem_read blocks 0..63).
#ifndef SPORE_ESP_SAFE_MODE_RTC_BLOCK
#define SPORE_ESP_SAFE_MODE_RTC_BLOCK 125
#endif

namespace spore::esp8266 {

/// millis(): wraps after ~49.7 days, which core tolerates (elapsed_ms()).
class EspClock final : public Clock {
 public:
  uint32_t now_ms() const override;
};

/// The ESP8266 hardware random number generator (os_random(), i.e. RANDOM_REG32). Used by core for
/// jitter, probe order and nonces; the API token comes from EspEntropy through a DRBG instead.
class EspRandom final : public Random {
 public:
  uint32_t next_u32() override;
};

/// Seed material for the first-boot API token (core/spore/device/token_drbg.h): RANDOM_REG32 read
/// kTokenSampleSpacingUs after the previous read (delayMicroseconds, loop context only), and
/// micros(). Only worth anything once WiFi runs: the core's own comment says the register gives
/// pseudo-random numbers with the radio off (cores/esp8266/Esp.cpp:536-557 in core 3.1.2).
class EspEntropy final : public EntropySource {
 public:
  uint32_t hardware_sample_u32() override;
  uint32_t micros_now() override;
};

/// The boot counter's two log sectors (core/spore/device/boot_counter.h) in the filesystem area of the
/// linker script, right after the settings record's three (config_store.h). With
/// eagle.flash.1m64.ld (filesystem 0xEB000..0xFB000, EEPROM 0xFB000, RF calibration 0xFC000, the
/// SDK's WiFi settings 0xFD000..0xFFFFF): settings 0xEB000..0xEDFFF, boot log 0xEE000 and 0xEF000.
/// Not the EEPROM sector: erasing it would blank a sketch's EEPROM bytes; not the OTA area: the
/// Updater stages images below FS_start (Updater.cpp:124); not RTC memory (safe mode's blocks,
/// lost at power-off). Reads and programs go through ESP.flashRead / ESP.flashWrite (aligned
/// 32-bit words; on PUYA chips, common on ESP-01S boards, flashWrite reads only the range being
/// written, at most 256 bytes at a time, ANDs the new words in and writes that range back,
/// Esp.cpp:745-757, so a program still only clears bits; its 256-byte buffer is malloc'ed once,
/// at the first write, which is this boot's in begin(), Esp.cpp:727-734),
/// erases through ESP.flashEraseSector.
class EspBootLogFlash final : public BootLogFlash {
 public:
  /// False when the layout has no room for the log (filesystem area under 5 sectors); the node
  /// then counts from the EEPROM firmware's value + 1 every boot (logged).
  bool begin();
  bool read(uint8_t sector, uint32_t offset, uint8_t* out, size_t size_bytes) override;
  bool program(uint8_t sector, uint32_t offset, const uint8_t* data, size_t size_bytes) override;
  bool erase(uint8_t sector) override;
  /// The counter the EEPROM firmware kept in the first 8 bytes of the EEPROM sector
  /// (legacy_boot_count()), read, never written; 0 when there is none.
  uint32_t legacy_count() const;
  /// Flash address of the log's first sector (for the log line).
  uint32_t address() const { return first_sector_ * kBootLogSectorBytes; }

 private:
  uint32_t first_sector_ = 0;
  bool usable_ = false;
};

/// Writes "E: ", "W: ", "I: ", "D: " (from flash) and the message to Serial, one line each.
/// Lines above `max_level` are dropped before they reach the UART. Serial must be begun by the
/// sketch (Serial.begin(115200)); without it the writes are lost, nothing breaks.
class EspLogSink final : public LogSink {
 public:
  explicit EspLogSink(LogLevel max_level = LogLevel::kInfo) : max_level_(max_level) {}
  void set_max_level(LogLevel level) { max_level_ = level; }
  void write(LogLevel level, const char* message) override;

 private:
  LogLevel max_level_;
};

/// ESP.* values for the seed's "resources" plus what the firmware logs and serves besides.
class EspSystemInfo final : public SystemInfo {
 public:
  uint64_t free_heap_bytes() const override;
  uint32_t chip_id() const override;
  const char* sdk_version() const override;
  uint16_t cpu_freq_mhz() const override;
  /// The size the flash chip reports (ESP.getFlashChipRealSize()), not the size the build assumed.
  uint32_t flash_chip_size_bytes() const override;
  /// The station link's RSSI (wifi_station_get_rssi()); 0 while not associated (the SDK's 31).
  int8_t wifi_rssi_dbm() const override;

  // ESP8266 extras (not part of the port).
  /// Largest block malloc() can return now (ESP.getMaxFreeBlockSize()).
  uint32_t max_free_block_bytes() const;
  /// 0..100 % (ESP.getHeapFragmentation()).
  uint8_t heap_fragmentation_percent() const;
  /// rst_info::reason of the last reset (REASON_DEFAULT_RST .. REASON_EXT_SYS_RST).
  uint32_t reset_reason_code() const;
  /// esp_reset_reason_name(reset_reason_code()) (spore/device/reset_reason.h, host-tested): "power_on",
  /// "hardware_watchdog", "exception", "software_watchdog", "software_restart",
  /// "deep_sleep_wake", "external_reset", "unknown". No String is built (ESP.getResetReason()
  /// would).
  const char* reset_reason_name() const;
  /// Free space for an OTA image (ESP.getFreeSketchSpace()).
  uint32_t free_sketch_space_bytes() const;
  /// Size of the running sketch (ESP.getSketchSize()).
  uint32_t sketch_size_bytes() const;
};

/// SafeModeStore in RTC user memory (ESP.rtcUserMemoryRead/Write at SPORE_ESP_SAFE_MODE_RTC_BLOCK):
/// kept across every reset but a power cut, and no flash wear however often the node restarts.
class EspRtcSafeModeStore final : public SafeModeStore {
 public:
  bool load(uint32_t (&words)[kWords]) override;
  bool save(const uint32_t (&words)[kWords]) override;
};

}  // namespace spore::esp8266
