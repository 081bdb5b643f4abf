#include "esp8266/updater_flash_target.h"

#include <Arduino.h>
#include <Updater.h>

#include "spore/esp_flash.h"
#include "spore/node_context.h"

namespace spore::esp8266 {

size_t UpdaterFlashTarget::capacity_bytes() const { return esp_ota_capacity_bytes(ESP.getFreeSketchSpace()); }

bool UpdaterFlashTarget::check_magic(const uint8_t* head, size_t size) const { return esp_image_magic_ok(head, size); }

bool UpdaterFlashTarget::begin(size_t max_image_bytes) {
  if (running_) abort();
  last_error_ = 0;
  const size_t begin_bytes = esp_updater_begin_bytes(max_image_bytes, capacity_bytes());
  if (begin_bytes == 0) return false;
  walker_.begin(trailer_allowed_);
  Update.runAsync(true);
  // One byte more than OtaSession will ever write (esp_updater_begin_bytes()): abort()'s
  // end(false) can then only discard the image, never install it.
  if (!Update.begin(begin_bytes, U_FLASH)) {
    last_error_ = Update.getError();
    Update.clearError();
    return false;
  }
  running_ = true;
  return true;
}

bool UpdaterFlashTarget::write(const uint8_t* data, size_t size_bytes) {
  if (!running_) return false;
  if (size_bytes == 0) return true;
  // A refused image is never installed: no need to erase and write flash for the rest of it.
  if (!walker_.feed(data, size_bytes)) return true;
  // UpdaterClass::write() copies into its own sector buffer; it takes a non-const pointer only
  // for historical reasons.
  if (Update.write(const_cast<uint8_t*>(data), size_bytes) != size_bytes) {
    last_error_ = Update.getError();
    return false;
  }
  return true;
}

OtaError UpdaterFlashTarget::commit(const uint8_t (&sha256)[32]) {
  (void)sha256;  // verified by OtaSession while streaming; see the header about read-back
  if (!running_) return OtaError::kFlashCommit;
  const EspImageError verdict = walker_.finish();
  if (verdict != EspImageError::kOk) {
    // Before Update.end(): eboot's command is never written. running_ stays set, so OtaSession's
    // abort() resets the Updater.
    if (log_ != nullptr) {
      char why[80];
      esp_image_error_message(verdict).copy_to(why, sizeof why);
      SPORE_LOG(*log_, LogLevel::kError, "OTA: image refused after %lu of %lu bytes: %s",
                static_cast<unsigned long>(walker_.error_offset()), static_cast<unsigned long>(walker_.offset()), why);
    }
    return OtaError::kBadImage;
  }
  running_ = false;
  if (!Update.end(true)) {
    last_error_ = Update.getError();
    Update.clearError();
    return OtaError::kFlashCommit;
  }
  return OtaError::kOk;
}

void UpdaterFlashTarget::abort() {
  if (!running_) return;  // harmless after a failed begin()
  running_ = false;
  // end(false) on an unfinished image (always: begin() asked for one byte more than can come)
  // fails and resets the Updater without writing eboot's command: the running firmware stays.
  Update.end(false);
  Update.clearError();
}

}  // namespace spore::esp8266
