#pragma once
/// @file device_config.h
/// The settings a device keeps across restarts (on the ESP8266: one record in flash, see config_record.h): WiFi
/// credentials, REST API token, cluster key, whether bearer tokens are refused, how liveness evidence travels. Timing and
/// capacities are not here: they are the firmware's Config profile and limits.h, fixed at build time (the liveness mode picks
/// the timers that go with it, Config::with_digest_liveness()).
///
/// Text format, one setting per line, so a user can read and write the file by hand:
///
///     # comment
///     wifi_ssid=My Network
///     wifi_password=correct horse
///     api_token=s3cret-token
///     cluster_key=00112233445566778899aabbccddeeff
///     no_bearer=1
///     liveness=digest
///
/// `key=value` with nothing trimmed (an SSID may begin or end with a space), an optional '\r'
/// before '\n', blank lines and '#' comment lines allowed. An empty value means "not set". Every
/// known key may appear once.
///
/// A key this image does not know (a newer image's setting, or a typo) is not an error: its line
/// is kept verbatim, counted (unknown_keys(), which the firmware logs), and written back by
/// serialize() after the known ones, so an older image run after a newer one neither rejects the
/// settings nor drops the newer image's lines when it saves. At most
/// SPORE_DEVICE_CONFIG_UNKNOWN_BYTES of such lines are kept, whole lines in order; the ones after
/// that are counted in unknown_keys_dropped() and are missing from the next save.
///
/// Bad input changes nothing: parse() checks the whole text before it replaces a single field.
/// salvage() is the lenient reading of a stored record that parse() refuses: it keeps every setting
/// that is valid by itself. No allocation; fixed buffers sized by limits.h.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/base/limits.h"

namespace spore {

class EntropySource;

/// Where parse() stopped and why.
struct DeviceConfigError {
  uint16_t line = 0;             ///< 1-based line of the offending setting; 0 = the text as a whole
  const char* reason = nullptr;  ///< static English sentence, nullptr when there was no error
};

class DeviceConfig {
 public:
  /// Nothing set.
  DeviceConfig();

  /// Replaces every setting with the ones in `text` (settings absent from it become unset), the
  /// lines of unknown keys included. On any error returns false, fills `error` (when not null)
  /// and leaves this object untouched.
  bool parse(std::string_view text, DeviceConfigError* error);

  /// For a stored text that parse() refuses: replaces every setting with the ones of `text` that
  /// are valid on their own and leaves the others unset (a line without '=', a repeated known
  /// key, a bad value; the WiFi SSID and password are taken or left together). Returns how many
  /// lines were left out and puts the first in `first_error` (when not null). The firmware runs
  /// on the result without saving it (read-only) until the user saves new settings.
  uint16_t salvage(std::string_view text, DeviceConfigError* first_error);

  /// Writes the text parse() reads into `out`, NUL-terminated: the known settings, then the kept
  /// lines of unknown keys as they were read. Returns the length without the NUL, or 0 (out left
  /// empty) when it does not fit in `out_bytes` (SPORE_DEVICE_CONFIG_MAX_BYTES always fits).
  /// Secrets are written as is: the file is as sensitive as the device's flash.
  size_t serialize(char* out, size_t out_bytes) const;

  /// Sets the WiFi credentials, or returns a static sentence saying what is wrong with them and
  /// changes nothing. SSID: 1..SPORE_MAX_SSID_LEN bytes without control characters (empty =
  /// forget the credentials; the password must then be empty too). Password: empty (open
  /// network), 8..63 printable ASCII characters (WPA2 passphrase) or 64 hex digits (raw PSK).
  const char* set_wifi(std::string_view ssid, std::string_view password);
  /// As RestApi::set_api_token(): empty or 1..SPORE_MAX_TOKEN_LEN token68 characters.
  const char* set_api_token(std::string_view token);
  /// Hex text as HmacKey::set_hex() takes it: empty, or 2 x (16..SPORE_MAX_KEY_BYTES) hex digits.
  const char* set_cluster_key_hex(std::string_view hex);

  /// "1": the REST API refuses bearer tokens and takes request proofs only (RestApi::set_bearer_allowed);
  /// "0" or empty: bearer tokens are accepted too (the default). Anything else is refused.
  const char* set_no_bearer(std::string_view value);
  /// "digest": the node runs the DIGEST chain (Config::liveness kDigest with its timers,
  /// docs/protocol.md §11.12); "broadcast" or empty: it broadcasts its heartbeats (the ESP8266
  /// profile's default). Anything else is refused.
  const char* set_liveness(std::string_view value);

  /// Precedence of the firmware's settings (stored > build flags > setup portal): takes the
  /// credentials compiled into the image (WIFI_SSID / WIFI_PASSWORD) only when none are stored,
  /// without saving them. Returns set_wifi()'s sentence when the build's values are invalid
  /// (nothing changes then), nullptr otherwise, also when there was nothing to take.
  const char* use_build_wifi(std::string_view ssid, std::string_view password);
  /// True when no token is stored and the sketch passed none (`fallback` empty): the node must
  /// not run an open API, so it draws one (generate_api_token()) once the radio is up.
  bool needs_generated_token(std::string_view fallback) const { return token_len_ == 0 && fallback.empty(); }
  /// Sets a new random token: 32 hex digits from draw_api_token() (spore/device/token_drbg.h) over
  /// `entropy` and `mac`. When to call it and whether to save is DeviceSettings' decision
  /// (spore/device/device_settings.h: saved only into an empty store).
  void generate_api_token(EntropySource& entropy, const uint8_t (&mac)[6]);
  /// The token a node runs with: the stored one, else `fallback` (what the sketch passed).
  std::string_view effective_api_token(std::string_view fallback) const {
    return token_len_ > 0 ? api_token() : fallback;
  }

  bool has_wifi() const { return ssid_len_ > 0; }
  /// NUL-terminated views into this object; valid while it lives and is not changed.
  const char* wifi_ssid() const { return ssid_; }
  const char* wifi_password() const { return password_; }
  std::string_view api_token() const { return {token_, token_len_}; }
  std::string_view cluster_key_hex() const { return {key_hex_, key_hex_len_}; }
  bool no_bearer() const { return no_bearer_; }
  /// liveness=digest is set: the firmware applies Config::with_digest_liveness() before begin().
  bool digest_liveness() const { return liveness_ == kLivenessDigest; }
  /// The last salvage() left out a cluster_key or no_bearer line (a bad value, the key given
  /// twice, or such a line without '='): the record asks for protection these settings lack, so
  /// a node must not run cluster services on them (DeviceSettings::degraded()). False after parse().
  bool guard_refused() const { return guard_refused_; }
  /// Lines with keys this image does not know that the last parse()/salvage() read, kept or not.
  uint8_t unknown_keys() const { return unknown_count_; }
  /// Of those, the lines that did not fit SPORE_DEVICE_CONFIG_UNKNOWN_BYTES: a save loses them.
  uint8_t unknown_keys_dropped() const { return unknown_dropped_; }

 private:
  /// parse() (`lenient` false: stops at the first error) and salvage() (skips what is bad) in one
  /// pass; fills `next` and returns the number of errors, the first in `first`.
  static uint16_t read_text(std::string_view text, bool lenient, DeviceConfig& next, DeviceConfigError& first);
  /// Keeps one line of an unknown key (counted; dropped when SPORE_DEVICE_CONFIG_UNKNOWN_BYTES is full).
  void keep_unknown(std::string_view line);

  // Zeroed by the constructor (not member initializers: GCC -Os would copy a 232-byte zero
  // image out of .rodata for them).
  char ssid_[SPORE_MAX_SSID_LEN + 1];
  char password_[SPORE_MAX_WIFI_PASSWORD_LEN + 1];
  char token_[SPORE_MAX_TOKEN_LEN + 1];
  char key_hex_[2 * SPORE_MAX_KEY_BYTES + 1];
  char unknown_[SPORE_DEVICE_CONFIG_UNKNOWN_BYTES];  // "key=value\n" lines, not NUL-terminated
  uint8_t unknown_len_;
  uint8_t unknown_count_;
  uint8_t unknown_dropped_;
  uint8_t ssid_len_;
  uint8_t password_len_;
  uint8_t token_len_;
  uint8_t key_hex_len_;
  bool no_bearer_;
  bool guard_refused_;
  // kLivenessUnset (no line: the profile's mode), or the value given, written back as given.
  enum : uint8_t { kLivenessUnset, kLivenessBroadcast, kLivenessDigest };
  uint8_t liveness_;
};

}  // namespace spore
