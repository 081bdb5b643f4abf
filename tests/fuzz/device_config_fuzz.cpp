// libFuzzer target for the persisted settings parser (core/spore/device/device_config.h).
//
// Input: the settings file text, as read from flash; the same bytes are also decoded as a raw
// flash record (core/spore/device/config_record.h), the frame the ESP8266 stores that text in.
//
// Properties checked on every input, abort() on violation:
// - parse() never crashes or reads out of bounds (ASan/UBSan in the fuzz preset);
// - a rejected text leaves the previous settings exactly as they were, and says why and where
//   (a reason, a line no further than the text has);
// - an accepted text round-trips: serialize() fits SPORE_DEVICE_CONFIG_MAX_BYTES, and parsing its
//   output gives the same settings (same serialization), the kept lines of unknown keys included
//   (as many as were read, less the ones over SPORE_DEVICE_CONFIG_UNKNOWN_BYTES);
// - salvage() never fails to give settings that serialize and parse again; it reports no bad line
//   exactly when parse() accepts, and then gives the same settings as parse(); unless it says
//   guard_refused(), every cluster_key= and no_bearer= line of the text is in its settings;
// - a record that decodes re-encodes to the same bytes (up to its word padding), and a record
//   that decodes is present (config_record_present()).
//
// Seed corpus: tests/fuzz/corpus/device_config/ (valid files, near misses).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "spore/device/config_record.h"
#include "spore/device/device_config.h"

namespace {

using spore::DeviceConfig;
using spore::DeviceConfigError;

size_t dump(const DeviceConfig& c, char (&out)[SPORE_DEVICE_CONFIG_MAX_BYTES]) {
  const size_t n = c.serialize(out, sizeof out);
  if (n == 0) std::abort();  // every valid config fits
  return n;
}

void check_record(const uint8_t* data, size_t size) {
  std::string_view text;
  if (!spore::decode_config_record(data, size, &text)) {
    if (!text.empty()) std::abort();
    return;
  }
  if (!spore::config_record_present(data, size)) std::abort();
  uint8_t again[spore::kConfigRecordMaxBytes];
  const size_t n = spore::encode_config_record(text, again, sizeof again);
  if (n == 0 || n > size + 3 || std::memcmp(again, data, spore::kConfigRecordHeaderBytes + text.size()) != 0) {
    std::abort();
  }
}

// Without guard_refused() every cluster_key / no_bearer line of the text is in the settings: a
// node never runs without the key or the bearer refusal its record holds (review finding 2).
void check_guards_kept(std::string_view text, const DeviceConfig& s) {
  size_t p = 0;
  while (p <= text.size()) {
    size_t nl = text.find('\n', p);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(p, nl - p);
    p = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.rfind("cluster_key=", 0) == 0 && line.substr(12) != s.cluster_key_hex()) std::abort();
    if (line.rfind("no_bearer=", 0) == 0 && (line.substr(10) == "1") != s.no_bearer()) std::abort();
  }
}

// salvage(): settings that always serialize and parse again; no bad line exactly when parse()
// accepts, and then the same settings.
void check_salvage(std::string_view text, bool parsed, const char (&parsed_dump)[SPORE_DEVICE_CONFIG_MAX_BYTES],
                   size_t parsed_n) {
  DeviceConfig s;
  DeviceConfigError e;
  const uint16_t bad = s.salvage(text, &e);
  if ((bad == 0) != parsed || (bad != 0 && (e.reason == nullptr || e.reason[0] == '\0'))) std::abort();
  if (s.guard_refused() && bad == 0) std::abort();
  if (!s.guard_refused()) check_guards_kept(text, s);
  char out[SPORE_DEVICE_CONFIG_MAX_BYTES];
  const size_t n = dump(s, out);
  DeviceConfig again;
  if (!again.parse(std::string_view(out, n), &e)) std::abort();
  if (parsed && (n != parsed_n || std::memcmp(out, parsed_dump, n) != 0)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check_record(data, size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  DeviceConfig c;
  DeviceConfigError e;
  if (!c.parse("wifi_ssid=prev\nwifi_password=previous\napi_token=t\n", &e)) std::abort();
  char before[SPORE_DEVICE_CONFIG_MAX_BYTES];
  const size_t before_n = dump(c, before);

  if (!c.parse(text, &e)) {
    if (e.reason == nullptr || e.reason[0] == '\0') std::abort();
    size_t lines = 1;
    for (char ch : text) lines += ch == '\n' ? 1 : 0;
    if (e.line > lines) std::abort();
    char after[SPORE_DEVICE_CONFIG_MAX_BYTES];
    const size_t after_n = dump(c, after);
    if (after_n != before_n || std::memcmp(before, after, before_n) != 0) std::abort();
    check_salvage(text, false, before, 0);
    return 0;
  }
  if (e.reason != nullptr) std::abort();
  char once[SPORE_DEVICE_CONFIG_MAX_BYTES];
  const size_t once_n = dump(c, once);
  check_salvage(text, true, once, once_n);
  DeviceConfig again;
  if (!again.parse(std::string_view(once, once_n), &e)) std::abort();
  // (The counters saturate at 255 lines.)
  if (c.unknown_keys() < UINT8_MAX &&
      (again.unknown_keys() != c.unknown_keys() - c.unknown_keys_dropped() || again.unknown_keys_dropped() != 0)) {
    std::abort();
  }
  char twice[SPORE_DEVICE_CONFIG_MAX_BYTES];
  const size_t twice_n = dump(again, twice);
  if (once_n != twice_n || std::memcmp(once, twice, once_n) != 0) std::abort();
  return 0;
}
