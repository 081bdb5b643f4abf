#include "spore/device/device_config.h"

#include <cstring>
#include <type_traits>

#include "spore/auth/hmac_sha256.h"  // HmacKey::kMinKeyBytes, secure_wipe
#include "spore/http/rest_api.h"
#include "spore/device/token_drbg.h"

namespace spore {

static_assert(std::is_trivially_copyable_v<DeviceConfig>, "the constructor zeroes it with memset");
static_assert(SPORE_MAX_SSID_LEN <= 255 && SPORE_MAX_WIFI_PASSWORD_LEN <= 255 && SPORE_MAX_TOKEN_LEN <= 255 &&
                  2 * SPORE_MAX_KEY_BYTES <= 255,
              "DeviceConfig keeps its lengths in uint8_t");

namespace {

constexpr const char* kKeys[] = {"wifi_ssid", "wifi_password", "api_token", "cluster_key", "no_bearer", "liveness"};
enum Key : uint8_t { kSsid, kPassword, kToken, kClusterKey, kNoBearer, kLiveness, kKeyCount };
// Indexed by DeviceConfig's liveness_ (kLivenessUnset: no line).
constexpr const char* kLivenessValues[] = {"", "broadcast", "digest"};

// The longest text serialize() writes: the header comment, every known key at its longest
// ("key=value\n"), the kept unknown lines; plus the NUL.
constexpr size_t kLongestTextBytes = 8 + (9 + 2 + SPORE_MAX_SSID_LEN) + (13 + 2 + SPORE_MAX_WIFI_PASSWORD_LEN) +
                                     (9 + 2 + SPORE_MAX_TOKEN_LEN) + (11 + 2 + 2 * SPORE_MAX_KEY_BYTES) + (9 + 3) + (8 + 2 + 9) +
                                     SPORE_DEVICE_CONFIG_UNKNOWN_BYTES + 1;
static_assert(kLongestTextBytes <= SPORE_DEVICE_CONFIG_MAX_BYTES,
              "SPORE_DEVICE_CONFIG_UNKNOWN_BYTES: every setting at its longest must fit SPORE_DEVICE_CONFIG_MAX_BYTES");
static_assert(SPORE_DEVICE_CONFIG_UNKNOWN_BYTES <= 255, "DeviceConfig keeps unknown_len_ in uint8_t");
static_assert(kGeneratedTokenChars <= SPORE_MAX_TOKEN_LEN, "");

constexpr const char* kBadSsid = "wifi_ssid: 1-32 bytes, no control characters";
constexpr const char* kBadPassword = "wifi_password: 8-63 printable ASCII characters or 64 hex digits";

bool all_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'))) return false;
  }
  return true;
}

// Copies `value` and clears the rest of `dst` (N = its size), so no tail of a longer old value
// stays behind the NUL.
template <size_t N>
void store(char (&dst)[N], uint8_t& len, std::string_view value) {
  std::memset(dst, 0, N);
  if (!value.empty()) std::memcpy(dst, value.data(), value.size());  // an unset view's data() is null
  len = static_cast<uint8_t>(value.size());
}

}  // namespace

DeviceConfig::DeviceConfig() { std::memset(static_cast<void*>(this), 0, sizeof *this); }

const char* DeviceConfig::use_build_wifi(std::string_view ssid, std::string_view password) {
  if (has_wifi() || ssid.empty()) return nullptr;
  return set_wifi(ssid, password);
}

const char* DeviceConfig::set_wifi(std::string_view ssid, std::string_view password) {
  if (ssid.size() > SPORE_MAX_SSID_LEN) return kBadSsid;
  for (char c : ssid) {
    // Control characters cannot be typed into a form and would break the line format.
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return kBadSsid;
  }
  if (ssid.empty() && !password.empty()) return "wifi_password without wifi_ssid";
  if (password.size() == 64) {
    if (!all_hex(password)) return kBadPassword;  // a raw PSK
  } else if (!password.empty()) {
    if (password.size() < 8 || password.size() > 63) return kBadPassword;
    for (char c : password) {
      if (c < 0x20 || c > 0x7e) return kBadPassword;  // WPA2 passphrases are printable ASCII
    }
  }
  store(ssid_, ssid_len_, ssid);
  store(password_, password_len_, password);
  return nullptr;
}

const char* DeviceConfig::set_api_token(std::string_view token) {
  if (!RestApi::valid_api_token(token)) return "api_token: 1-64 of A-Z a-z 0-9 - . _ ~ + / =";
  store(token_, token_len_, token);
  return nullptr;
}

void DeviceConfig::generate_api_token(EntropySource& entropy, const uint8_t (&mac)[6]) {
  char token[kGeneratedTokenChars];
  draw_api_token(entropy, mac, token);
  store(token_, token_len_, std::string_view(token, sizeof token));
  secure_wipe(token, sizeof token);
}

const char* DeviceConfig::set_cluster_key_hex(std::string_view hex) {
  const bool length_ok = hex.empty() || (hex.size() % 2 == 0 && hex.size() >= 2 * HmacKey::kMinKeyBytes &&
                                         hex.size() <= 2 * SPORE_MAX_KEY_BYTES);
  if (!length_ok || !all_hex(hex)) return "cluster_key: 32-64 hex digits";
  store(key_hex_, key_hex_len_, hex);
  return nullptr;
}

const char* DeviceConfig::set_no_bearer(std::string_view value) {
  if (!value.empty() && value != "0" && value != "1") return "no_bearer: 1 (request proofs only) or 0";
  no_bearer_ = value == "1";
  return nullptr;
}

const char* DeviceConfig::set_liveness(std::string_view value) {
  uint8_t v = 0;
  while (v < sizeof kLivenessValues / sizeof kLivenessValues[0] && value != kLivenessValues[v]) ++v;
  if (v == sizeof kLivenessValues / sizeof kLivenessValues[0]) return "liveness: broadcast or digest";
  liveness_ = v;
  return nullptr;
}

void DeviceConfig::keep_unknown(std::string_view line) {
  if (unknown_count_ < UINT8_MAX) ++unknown_count_;
  if (line.size() + 1 > sizeof unknown_ - unknown_len_) {
    if (unknown_dropped_ < UINT8_MAX) ++unknown_dropped_;
    return;
  }
  std::memcpy(unknown_ + unknown_len_, line.data(), line.size());
  unknown_[unknown_len_ + line.size()] = '\n';
  unknown_len_ = static_cast<uint8_t>(unknown_len_ + line.size() + 1);
}

uint16_t DeviceConfig::read_text(std::string_view text, bool lenient, DeviceConfig& next, DeviceConfigError& first) {
  std::string_view values[kKeyCount];
  uint16_t lines[kKeyCount] = {};
  uint16_t errors = 0;
  // `guard`: a refused line of the keys that protect the node (the cluster key, no_bearer=1).
  auto fail = [&](uint16_t line, const char* reason, bool guard) {
    if (errors == 0) first = {line, reason};
    if (errors < UINT16_MAX) ++errors;
    if (guard) next.guard_refused_ = true;
  };
  const char* p = text.data();
  const char* const end = p + text.size();
  uint16_t line_no = 0;
  while (p < end && (lenient || errors == 0)) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    const char* line_end = nl != nullptr ? nl : end;
    const std::string_view raw(p, static_cast<size_t>(line_end - p));
    std::string_view line = raw;
    p = line_end + 1;
    if (line_no < UINT16_MAX) ++line_no;  // saturates: only a > 64 K-line text gets a wrong number
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const size_t eq = line.find('=');
    uint8_t k = 0;
    while (eq != std::string_view::npos && k < kKeyCount && std::string_view(line.data(), eq) != kKeys[k]) ++k;
    if (eq == std::string_view::npos || eq == 0) {
      // "cluster_key 0011..." may well be meant as the key.
      const bool guard = line.rfind(kKeys[kClusterKey], 0) == 0 || line.rfind(kKeys[kNoBearer], 0) == 0;
      fail(line_no, "expected key=value", guard);
    } else if (k == kKeyCount) {
      // A newer image's setting: kept for the next save as it was, its '\r' included, so that
      // reading the saved text gives the same line again.
      next.keep_unknown(raw);
    } else if (lines[k] != 0) {
      fail(line_no, "key given twice", k == kClusterKey || k == kNoBearer);
    } else {
      values[k] = std::string_view(line.data() + eq + 1, line.size() - eq - 1);
      lines[k] = line_no;
    }
  }
  if (!lenient && errors != 0) return errors;
  // Each setting on its own: a lenient read keeps the others when one is bad.
  if (const char* r = next.set_api_token(values[kToken])) fail(lines[kToken], r, false);
  if (const char* r = next.set_cluster_key_hex(values[kClusterKey])) fail(lines[kClusterKey], r, true);
  if (const char* r = next.set_no_bearer(values[kNoBearer])) fail(lines[kNoBearer], r, true);
  if (const char* r = next.set_liveness(values[kLiveness])) fail(lines[kLiveness], r, false);
  if (const char* r = next.set_wifi(values[kSsid], values[kPassword])) {
    fail(lines[r == kBadSsid ? kSsid : kPassword], r, false);
  }
  return errors;
}

bool DeviceConfig::parse(std::string_view text, DeviceConfigError* error) {
  DeviceConfig next;
  DeviceConfigError e;
  const bool ok = read_text(text, false, next, e) == 0;
  if (error != nullptr) *error = ok ? DeviceConfigError() : e;
  if (ok) *this = next;
  return ok;
}

uint16_t DeviceConfig::salvage(std::string_view text, DeviceConfigError* first_error) {
  DeviceConfig next;
  DeviceConfigError e;
  const uint16_t errors = read_text(text, true, next, e);
  if (first_error != nullptr) *first_error = e;
  *this = next;
  return errors;
}

size_t DeviceConfig::serialize(char* out, size_t out_bytes) const {
  if (out_bytes == 0) return 0;
  const std::string_view values[kKeyCount] = {{ssid_, ssid_len_}, {password_, password_len_}, api_token(),
                                              cluster_key_hex(), no_bearer_ ? "1" : "", kLivenessValues[liveness_]};
  size_t n = 0;
  bool fits = true;
  auto put = [&](const char* s, size_t size) {
    fits = fits && size < out_bytes - n;  // keeps room for the NUL
    if (fits) std::memcpy(out + n, s, size);
    if (fits) n += size;
  };
  put("# spore\n", 8);
  for (uint8_t k = 0; k < kKeyCount; ++k) {
    if (values[k].empty()) continue;
    put(kKeys[k], std::strlen(kKeys[k]));
    put("=", 1);
    put(values[k].data(), values[k].size());
    put("\n", 1);
  }
  put(unknown_, unknown_len_);
  if (!fits) n = 0;
  out[n] = '\0';
  return n;
}

}  // namespace spore
