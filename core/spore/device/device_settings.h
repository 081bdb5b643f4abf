#pragma once
/// @file device_settings.h
/// What a device does with its stored settings at boot, as one host-tested policy (the ESP8266's
/// Node only logs what it decides):
///
/// | the store holds                  | the node runs on                          | it saves on its own         |
/// | -------------------------------- | ----------------------------------------- | --------------------------- |
/// | nothing (blank or another firmware's bytes) | the sketch's settings, build WiFi | a token it draws, once      |
/// | a record that parses             | the record (unknown keys kept, logged)    | nothing                     |
/// | a record that parse() refuses    | what salvage() keeps, else the sketch's   | **never** (read-only)       |
/// | a damaged record (magic, bad check) | the sketch's settings, build WiFi      | **never** (read-only)       |
/// | unreadable                       | the sketch's settings, build WiFi         | **never**                   |
/// | no flash area in this layout     | the sketch's settings, build WiFi         | **never** (nothing can be)  |
///
/// Degraded (degraded()): a damaged or unreadable record, or one whose cluster_key or no_bearer
/// line salvage() refused, may hold a cluster key or no_bearer=1 this boot does not apply. Running
/// the cluster services on the rest would join keyless and take forged datagrams, or accept
/// bearer tokens the user turned off (review finding 2, the rollback case of issue 16). So such a
/// node runs WiFi, REST and OTA only, as in safe mode, until the user saves new settings (the
/// setup portal; the ESP8266 then restarts onto them). A layout without a flash area for settings
/// is not degraded: it can never have stored a key.
///
/// Read-only: the record stays as it is, byte for byte, however often the node boots, until the
/// user saves new settings (the setup portal); /api/node/status says "settingsReadOnly": true and
/// the serial log says why. Before this policy (issue 16 item 4) a record that did not parse, or
/// that a newer image had written with a key this one did not know, was replaced with a fresh
/// token at the next boot: WiFi, cluster key and token gone, the board reachable only by serial.
///
/// The token: when neither the settings nor the sketch give one, the node must not run an open
/// API, but the radio is still off at begin() and the ESP8266's RNG is then pseudo-random
/// (spore/device/token_drbg.h). So begin() only marks the token pending; the platform locks the API
/// meanwhile (RestApi::lock_until_token(): 503, no token compared) and calls draw_token() once
/// WiFi runs (station connected or access point up). The drawn token is saved when the table
/// above allows it, else used for this boot only (and kept in config(), so that a save by the
/// user stores the token they were shown).
/// A record that parses but holds no token (the sketch passed one when it was saved) gets a new
/// token every boot until one is saved: "generate and save only when no record exists".

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/device/device_config.h"

namespace spore {

class EntropySource;

/// What a settings store found.
enum class StoredSettings : uint8_t {
  kNone,        ///< nothing stored (blank flash, or bytes that are no SPORE record)
  kText,        ///< an intact record; its text is in the caller's buffer
  kDamaged,     ///< a SPORE record that fails its check (a bit flip, a foreign write)
  kUnreadable,  ///< the flash read failed (what is stored is unknown)
  kNoArea,      ///< this flash layout has no room for settings: nothing can be stored
};

/// What one read of a settings record found (config_record.h): the SDK's load of the current
/// copy, or one of its two copies read directly.
enum class RecordRead : uint8_t {
  kFailed,   ///< the flash read reported an error: contents unknown
  kNoMagic,  ///< read; no SPORE record (blank flash, another firmware's bytes)
  kMagic,    ///< read; the SPORE magic, but the record fails its check
  kIntact,   ///< read; a record that decodes
};

/// A store that keeps two copies (the ESP8266 SDK's system_param_save_with_protect(): copies in
/// sectors 0 and 1, a flag sector naming the current one) decides what it holds from the SDK's
/// load of the current copy (`loaded`) and its own reads of both copies (`copy0`, `copy1`; only
/// their magic is looked at). kText when `loaded` is intact; kNone only when all three were read
/// and none has the magic: a failed read (system_param_load() ignores spi_flash_read()'s result
/// and gives a zero buffer, which has no magic) must never look like an empty store, which the
/// node would fill with a fresh record over the user's. Everything else is kDamaged (kept,
/// read-only, degraded), also an intact copy the SDK's load did not return: which of two copies
/// is current only the flag sector says.
StoredSettings stored_settings_from(RecordRead loaded, RecordRead copy0, RecordRead copy1);

/// The persistent store of the settings text (ESP8266: esp8266/config_store.h).
class SettingsStore {
 public:
  /// Reads the stored record; on kText copies its text into `out`, NUL-terminated, and sets
  /// `*size_bytes` (0 otherwise). `out_bytes` >= SPORE_DEVICE_CONFIG_MAX_BYTES.
  virtual StoredSettings load(char* out, size_t out_bytes, size_t* size_bytes) = 0;
  /// Replaces the record with `text`; false (previous record still in place) when refused.
  virtual bool save(const char* text, size_t size_bytes) = 0;

 protected:
  ~SettingsStore() = default;
};

/// How the node may treat its stored settings this boot (the table above).
enum class SettingsAccess : uint8_t { kNoRecord, kStored, kReadOnly, kUnavailable };

class DeviceSettings {
 public:
  explicit DeviceSettings(SettingsStore& store) : store_(store) {}

  /// Loads the settings (the table above), takes the build's WiFi credentials when none are
  /// stored (DeviceConfig::use_build_wifi; their error in build_wifi_error()), and decides
  /// whether a token must be drawn: when the settings hold none and `sketch_token` is empty or
  /// not a valid API token. Saves nothing.
  void begin(std::string_view build_ssid, std::string_view build_password, std::string_view sketch_token);

  SettingsAccess access() const { return access_; }
  /// The node runs without saving anything on its own (the "settingsReadOnly" status field).
  bool read_only() const { return access_ == SettingsAccess::kReadOnly || access_ == SettingsAccess::kUnavailable; }
  /// The record may hold a cluster key or no_bearer=1 that this boot lacks (the table above):
  /// the node must run WiFi, REST and OTA only, never the cluster services without them.
  bool degraded() const { return degraded_; }
  /// Lines of the stored text that salvage() left out (kReadOnly from a text), and the first.
  uint16_t bad_lines() const { return bad_lines_; }
  const DeviceConfigError& first_error() const { return first_error_; }
  /// The reason the build's WIFI_SSID / WIFI_PASSWORD were not used, nullptr when they were (or none).
  const char* build_wifi_error() const { return build_wifi_error_; }

  /// A token must be drawn (draw_token()) before the API can be used.
  bool token_pending() const { return token_pending_; }
  /// The sketch passed a token that is not a valid API token (it is not used).
  bool sketch_token_invalid() const { return sketch_token_invalid_; }
  /// Draws the token (DeviceConfig::generate_api_token) and saves the settings when nothing was
  /// stored (kNoRecord) and the sketch passed no token; otherwise the token is for this boot
  /// (and for a save by the user). Returns true when it was saved. Call once WiFi runs; does
  /// nothing (false) unless token_pending().
  bool draw_token(EntropySource& entropy, const uint8_t (&mac)[6]);

  /// The token the API runs with (valid once !token_pending()): the stored or drawn one, else the sketch's.
  std::string_view api_token() const;

  /// The user saved new settings (the setup portal wrote config() to the store): from now on
  /// they are the node's own record.
  void saved_by_user() {
    access_ = SettingsAccess::kStored;
    degraded_ = false;
  }

  DeviceConfig& config() { return config_; }
  const DeviceConfig& config() const { return config_; }

 private:
  SettingsStore& store_;
  DeviceConfig config_;
  std::string_view sketch_token_;
  DeviceConfigError first_error_;
  const char* build_wifi_error_ = nullptr;
  uint16_t bad_lines_ = 0;
  SettingsAccess access_ = SettingsAccess::kUnavailable;
  bool token_pending_ = false;
  bool sketch_token_invalid_ = false;
  bool degraded_ = false;
};

}  // namespace spore
