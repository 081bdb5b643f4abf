#pragma once
/// @file safe_mode.h
/// Boot-loop protection, as ESPHome's `safe_mode` component does it: a node whose last
/// `boot_attempts` boots in a row each ended (crash, watchdog, reset) before it had been up for
/// `stable_after_ms` starts the next time in safe mode: the platform then brings up only WiFi, the
/// REST API (status, update, restart) and OTA, so that a bad image can always be replaced over
/// the air. Safe mode ends by itself after `timeout_ms` (the platform restarts into a normal boot),
/// so a transient fault does not keep a node out of its cluster for good.
///
/// The counter lives in a few words that survive a reset but not a power cut (on the ESP8266 RTC
/// user memory: no flash wear however fast a node restarts), checked by a magic and a check word.
/// Rules (as esphome/components/safe_mode/safe_mode.cpp, ESPHome 2024.11.0-dev at 33fdbbe30c):
///  - begin(): a record that is missing, foreign or torn, or a power-on boot, counts as 0 failed
///    boots. With count >= boot_attempts this boot is safe mode and the count is stored as 0
///    (after the timeout the node gets boot_attempts more tries); otherwise count + 1 is stored.
///  - poll(): after stable_after_ms of uptime (normal mode) the count is stored as 0: the boot
///    was good. In safe mode, after timeout_ms and when no update runs, poll() asks for a restart.
///  - clear(): a restart the node decides itself (REST or MQTT restart, a new image after a
///    successful OTA) stores 0 first: only boots that die count.
///
/// Host-tested with a fake store in tests/unit/safe_mode_test.cpp; no allocation.

#include <cstddef>
#include <cstdint>

namespace spore {

/// Where the counter is kept: a few 32-bit words that keep their value across a reset.
class SafeModeStore {
 public:
  static constexpr size_t kWords = 3;
  virtual ~SafeModeStore() = default;
  /// False when the words cannot be read (then they count as blank).
  virtual bool load(uint32_t (&words)[kWords]) = 0;
  virtual bool save(const uint32_t (&words)[kWords]) = 0;
};

/// Safe-mode thresholds; the defaults are ESPHome's.
struct SafeModeConfig {
  /// Boots in a row that die early before the next one is safe mode; 0 = safe mode off. Low
  /// catches a boot loop sooner; high lets a node ride out a few unrelated resets (power glitches
  /// during a WiFi outage) without dropping out of its cluster.
  uint8_t boot_attempts = 10;
  /// Uptime after which a boot counts as good and the counter is cleared. Long enough for WiFi,
  /// the cluster join and the first REST requests, where a bad image would fail.
  uint32_t stable_after_ms = 60000;
  /// How long safe mode lasts before the node restarts into a normal boot, unless an update is
  /// running. Long enough to upload an image by hand (~40 s for 400 KB over WiFi).
  uint32_t timeout_ms = 300000;
};

/// What poll() saw.
enum class SafeModeEvent : uint8_t {
  kNone,
  kBootStable,  ///< normal mode, up for stable_after_ms: the counter was cleared (once per boot)
  kTimeout,     ///< safe mode lasted timeout_ms: restart now (once per boot)
};

class SafeMode {
 public:
  explicit SafeMode(SafeModeStore& store, const SafeModeConfig& config = SafeModeConfig())
      : store_(store), config_(config) {}

  /// Once, as early in the boot as possible (a crash before it is not counted). `power_on`: the
  /// reset was a power-up, after which the store's words are undefined. Returns active().
  bool begin(uint32_t now_ms, bool power_on);
  /// This boot is safe mode.
  bool active() const { return active_; }
  /// Early deaths counted when this boot began (how many boots in a row ended before
  /// stable_after_ms), saturated at 255.
  uint8_t failed_boots() const { return failed_boots_; }
  /// From the node loop. `busy`: an update is running (safe mode does not time out under it).
  SafeModeEvent poll(uint32_t now_ms, bool busy);
  /// Stores a count of 0: call before a restart the node decided itself and after an image was
  /// committed. No-op before begin().
  void clear();

  const SafeModeConfig& config() const { return config_; }

 private:
  void store_count(uint32_t count);

  SafeModeStore& store_;
  SafeModeConfig config_;
  uint32_t started_ms_ = 0;
  uint8_t failed_boots_ = 0;
  bool begun_ = false;
  bool active_ = false;
  bool stable_ = false;
  bool timed_out_ = false;
};

}  // namespace spore
