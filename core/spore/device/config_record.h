#pragma once
/// @file config_record.h
/// How a device keeps its DeviceConfig text in raw flash: one self-checking record.
///
/// Why not a file: LittleFS alone adds ~30 KB to the ESP-01 image (measured, docs/footprint.md),
/// which the 380 KB budget cannot carry; the SDK's system_param_save_with_protect() already does
/// power-cut-safe writes (two copies plus a flag sector), so the device stores one record with it
/// and this module only frames and checks that record.
///
/// Layout, little-endian, padded with zeros to a multiple of 4 bytes (the SDK reads and writes
/// whole 32-bit words):
///
///     offset 0   4 bytes  magic "SPC1"
///     offset 4   2 bytes  text length L (0..SPORE_DEVICE_CONFIG_MAX_BYTES - 1)
///     offset 6   2 bytes  zero
///     offset 8   4 bytes  first 4 bytes of SHA-256(text)
///     offset 12  L bytes  the DeviceConfig text
///
/// Blank flash (0xFF), a foreign record, a wrong length or a torn write fail decoding. The device
/// tells them apart with config_record_present(): without the magic nothing is stored (a fresh
/// board, or another firmware's bytes), and the device may write its first record; with the
/// magic but failing decode the record is damaged, and the device keeps it untouched and runs
/// read-only until the user saves new settings (platform/esp8266/node.h).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/base/limits.h"

namespace spore {

/// Header bytes before the text.
constexpr size_t kConfigRecordHeaderBytes = 12;
/// The largest record: header plus the longest text, rounded up to 4 bytes.
constexpr size_t kConfigRecordMaxBytes = (kConfigRecordHeaderBytes + SPORE_DEVICE_CONFIG_MAX_BYTES + 3) & ~size_t{3};

/// Frames `text` into `out`. Returns the record size (a multiple of 4), or 0 when the text is
/// longer than SPORE_DEVICE_CONFIG_MAX_BYTES - 1 or `out_bytes` is too small.
size_t encode_config_record(std::string_view text, uint8_t* out, size_t out_bytes);

/// Checks a record read back from flash; on success `*text` points into `record`. False (and
/// `*text` empty) for anything that is not a complete, intact record.
bool decode_config_record(const uint8_t* record, size_t record_bytes, std::string_view* text);

/// True when `record` starts with this format's magic: a SPORE record is there, intact or not.
bool config_record_present(const uint8_t* record, size_t record_bytes);

}  // namespace spore
