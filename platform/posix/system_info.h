#pragma once
/// @file system_info.h
/// The seed's `resources` mapped onto Linux (docs/linux-node.md, "Resources"):
///
/// | seed field     | Linux value                                                             |
/// | -------------- | ----------------------------------------------------------------------- |
/// | freeHeap       | MemAvailable from /proc/meminfo, bytes, 64-bit (not saturated)           |
/// | chipId         | random non-zero 32-bit id made on first start, kept in the state dir     |
/// | sdkVersion     | "spored <version> linux <kernel release up to its first '-'>", <= 31 B  |
/// | cpuFreqMHz     | cpu0 cpufreq cpuinfo_max_freq, else /proc/cpuinfo "cpu MHz", else 0      |
/// | flashChipSize  | size in bytes of the running executable (/proc/self/exe), saturated     |
///
/// freeHeap is read on every call (it changes, as on the ESP8266); the other values are read once
/// at construction, so the resources digest the membership protocol exchanges stays stable.

#include <cstdint>
#include <string>
#include <string_view>

#include "spore/base/limits.h"
#include "spore/base/ports.h"

namespace spore::posix {

class LinuxSystemInfo : public spore::SystemInfo {
 public:
  /// `chip_id` comes from the StateStore (stable across restarts); `program` names the daemon in
  /// sdkVersion ("spored").
  explicit LinuxSystemInfo(uint32_t chip_id, std::string_view program = "spored");

  uint64_t free_heap_bytes() const override;
  uint32_t chip_id() const override { return chip_id_; }
  const char* sdk_version() const override { return sdk_version_; }
  uint16_t cpu_freq_mhz() const override { return cpu_freq_mhz_; }
  uint32_t flash_chip_size_bytes() const override { return flash_size_bytes_; }

  // Building blocks, exposed for tests.
  /// MemAvailable (or MemFree when absent) in bytes from the text of /proc/meminfo; 0 if missing.
  static uint64_t parse_meminfo_available(std::string_view meminfo);
  /// The first "cpu MHz" value of /proc/cpuinfo text, rounded; 0 if missing.
  static uint16_t parse_cpuinfo_mhz(std::string_view cpuinfo);
  /// "6.1.0-18-amd64" -> "6.1.0".
  static std::string short_kernel_release(std::string_view release);

 private:
  uint32_t chip_id_;
  uint16_t cpu_freq_mhz_ = 0;
  uint32_t flash_size_bytes_ = 0;
  char sdk_version_[SPORE_MAX_VERSION_LEN + 1] = {};
};

/// Whole file as a string; empty (and false) if it cannot be read.
bool read_small_file(const std::string& path, std::string* out, size_t max_bytes = 1 << 20);

}  // namespace spore::posix
