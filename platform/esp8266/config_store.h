#pragma once
/// @file config_store.h
/// Where the DeviceConfig text lives on the ESP8266: one record (core/spore/config_record.h) in
/// the first three sectors of the filesystem area of the linker script (eagle.flash.1m64.ld:
/// 0xEB000, 64 KB), written with the SDK's system_param_save_with_protect().
///
/// Why not LittleFS: linking it costs ~30 KB of the 380 KB image budget (docs/footprint.md) to
/// store one short text. Why the SDK call: it keeps two copies and a flag sector, so a power cut
/// during a save leaves the old record or the new one, never half of one. Storage only; the
/// format and its checks are core's (device_config.h, config_record.h).

#include <cstddef>
#include <cstdint>

namespace spore::esp8266 {

class ConfigStore {
 public:
  enum class Load : unsigned char {
    kLoaded,   ///< the text is in the buffer
    kMissing,  ///< no intact record (first boot, never saved, or foreign/torn contents)
    kError,    ///< no room in this flash layout, or the flash read failed
  };

  /// Finds the three sectors; false when the linker script leaves no filesystem area for them
  /// (load() and save() then fail and the node runs on its build-time settings).
  bool begin();

  /// Reads the record and copies its text into `out`, NUL-terminated; `*size_bytes` = its length.
  Load load(char* out, size_t out_bytes, size_t* size_bytes);

  /// Replaces the record with `text`. False when the text is too long or the flash refused; the
  /// previous record is then still in place.
  bool save(const char* text, size_t size_bytes);

 private:
  uint16_t first_sector_ = 0;
  bool usable_ = false;
};

}  // namespace spore::esp8266
