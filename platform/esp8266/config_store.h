#pragma once
/// @file config_store.h
/// Where the DeviceConfig text lives on the ESP8266: one record (core/spore/device/config_record.h) in
/// the first three sectors of the filesystem area of the linker script (eagle.flash.1m64.ld:
/// 0xEB000, 64 KB), written with the SDK's system_param_save_with_protect().
///
/// Why not LittleFS: linking it costs ~30 KB of the 380 KB image budget (docs/footprint.md) to
/// store one short text. Why the SDK call: it keeps two copies and a flag sector, so a power cut
/// during a save leaves the old record or the new one, never half of one. Storage only; the
/// format and its checks are core's (device_config.h, config_record.h), and what the node does
/// with a record that is missing, damaged or does not parse is core's DeviceSettings.

#include <cstddef>
#include <cstdint>

#include "spore/device/device_settings.h"

namespace spore::esp8266 {

/// Sectors of the filesystem area the settings record takes (two copies + the SDK's flag sector);
/// the boot counter's log follows them (EspBootLogFlash, system_ports.h).
constexpr uint32_t kSettingsSectors = 3;

class ConfigStore final : public SettingsStore {
 public:
  /// Finds the three sectors; false when the linker script leaves no filesystem area for them
  /// (load() then says kNoArea, save() fails, and the node runs on its build-time settings).
  bool begin();

  /// Reads the record: kText (its text copied into `out`, NUL-terminated, `*size_bytes` = its
  /// length), kNone (no SPORE record), kDamaged (anything else: kept, never written over by the
  /// node, which runs read-only and degraded; core/spore/device/device_settings.h), kUnreadable (`out`
  /// too small) or kNoArea (no room in this layout).
  ///
  /// What the SDK does (NONOSDK22x_190703 libmain, disassembled): system_param_load() reads the
  /// copy the flag sector names but ignores spi_flash_read()'s result and always returns true, so
  /// a failed read gives a zero buffer, not an error. kNone is therefore decided only after both
  /// copies, read with ESP.flashRead() (which reports errors), lack the SPC1 magic
  /// (spore::stored_settings_from()).
  StoredSettings load(char* out, size_t out_bytes, size_t* size_bytes) override;

  /// Replaces the record with `text`. True only when the record read back (system_param_load +
  /// decode) is `text`. False when the text is too long, the largest free heap block is under
  /// 1 KB, or the read-back differs; the previous record may then be gone (the SDK switched to
  /// the other copy), which the next load() reports as kDamaged, never as kNone.
  ///
  /// What the SDK does: system_param_save_with_protect() returns true whenever the length is
  /// acceptable, whatever wifi_param_save_protect_with_check() did. That helper pvPortZalloc()s a
  /// buffer of the record's length and, when that fails, writes nothing yet switches the flag
  /// sector (hence the heap check first); on an erase, write or read-back mismatch it retries the
  /// erase forever, which only the soft watchdog ends (a reset; a flash that keeps failing is not
  /// recoverable from here).
  bool save(const char* text, size_t size_bytes) override;

  /// Successful save() calls since boot (the node notices a save by the setup portal with it).
  uint16_t saves() const { return saves_; }

 private:
  uint16_t first_sector_ = 0;
  uint16_t saves_ = 0;
  bool usable_ = false;
};

}  // namespace spore::esp8266
