#include "spore/device/device_settings.h"

#include "spore/http/rest_api.h"

namespace spore {

StoredSettings stored_settings_from(RecordRead loaded, RecordRead copy0, RecordRead copy1) {
  if (loaded == RecordRead::kIntact) return StoredSettings::kText;
  const bool none = loaded == RecordRead::kNoMagic && copy0 == RecordRead::kNoMagic && copy1 == RecordRead::kNoMagic;
  return none ? StoredSettings::kNone : StoredSettings::kDamaged;
}

void DeviceSettings::begin(std::string_view build_ssid, std::string_view build_password,
                           std::string_view sketch_token) {
  config_ = DeviceConfig();
  bad_lines_ = 0;
  first_error_ = DeviceConfigError();
  degraded_ = false;
  char text[SPORE_DEVICE_CONFIG_MAX_BYTES];
  size_t size = 0;
  switch (store_.load(text, sizeof text, &size)) {
    case StoredSettings::kNone:
      access_ = SettingsAccess::kNoRecord;
      break;
    case StoredSettings::kText:
      if (size > sizeof text) size = 0;  // a store that broke its contract gives nothing
      if (config_.parse(std::string_view(text, size), &first_error_)) {
        access_ = SettingsAccess::kStored;
      } else {
        // Kept as it is: run on what is valid, never write over it.
        bad_lines_ = config_.salvage(std::string_view(text, size), &first_error_);
        access_ = SettingsAccess::kReadOnly;
        degraded_ = config_.guard_refused();
      }
      break;
    case StoredSettings::kDamaged:
      access_ = SettingsAccess::kReadOnly;
      degraded_ = true;
      break;
    case StoredSettings::kUnreadable:
      access_ = SettingsAccess::kUnavailable;
      degraded_ = true;
      break;
    case StoredSettings::kNoArea:
      access_ = SettingsAccess::kUnavailable;
      break;
  }
  build_wifi_error_ = config_.use_build_wifi(build_ssid, build_password);
  sketch_token_invalid_ = !sketch_token.empty() && !RestApi::valid_api_token(sketch_token);
  sketch_token_ = sketch_token_invalid_ ? std::string_view() : sketch_token;
  token_pending_ = config_.needs_generated_token(sketch_token_);
}

bool DeviceSettings::draw_token(EntropySource& entropy, const uint8_t (&mac)[6]) {
  if (!token_pending_) return false;
  config_.generate_api_token(entropy, mac);
  token_pending_ = false;
  // Saved only into an empty store: an existing record is the user's, whatever it holds, and a
  // sketch that passed an invalid token meant one of its own. Otherwise for this boot only.
  if (access_ != SettingsAccess::kNoRecord || sketch_token_invalid_) return false;
  char text[SPORE_DEVICE_CONFIG_MAX_BYTES];
  const size_t n = config_.serialize(text, sizeof text);
  if (n == 0 || !store_.save(text, n)) return false;
  access_ = SettingsAccess::kStored;
  return true;
}

std::string_view DeviceSettings::api_token() const { return config_.effective_api_token(sketch_token_); }

}  // namespace spore
