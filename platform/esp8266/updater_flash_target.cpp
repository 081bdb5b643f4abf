#include "esp8266/updater_flash_target.h"

#include <Arduino.h>
#include <Updater.h>

namespace spore::esp8266 {

namespace {
constexpr uint32_t kSector = 0x1000;  // FLASH_SECTOR_SIZE
}

size_t UpdaterFlashTarget::capacity_bytes() const {
  const uint32_t free_space = ESP.getFreeSketchSpace();
  if (free_space <= kSector) return 0;
  return static_cast<size_t>((free_space - kSector) & ~(kSector - 1));
}

bool UpdaterFlashTarget::check_magic(const uint8_t* head, size_t size) const {
  if (head == nullptr || size == 0) return false;
  if (head[0] == 0xE9) return true;
  return size >= 2 && head[0] == 0x1F && head[1] == 0x8B;
}

bool UpdaterFlashTarget::begin(size_t max_image_bytes) {
  if (running_) abort();
  last_error_ = 0;
  const size_t cap = capacity_bytes();
  const size_t size = (max_image_bytes == 0 || max_image_bytes > cap) ? cap : max_image_bytes;
  if (size == 0) return false;
  Update.runAsync(true);
  // One byte more than OtaSession will ever write: the Updater then never considers the image
  // "finished" by itself, so abort()'s end(false) can only discard (an end(false) after exactly
  // `size` bytes would install the image). capacity_bytes() keeps a sector of slack for it.
  if (!Update.begin(size + 1, U_FLASH)) {
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
  // UpdaterClass::write() copies into its own sector buffer; it takes a non-const pointer only
  // for historical reasons.
  if (Update.write(const_cast<uint8_t*>(data), size_bytes) != size_bytes) {
    last_error_ = Update.getError();
    return false;
  }
  return true;
}

bool UpdaterFlashTarget::commit(const uint8_t (&sha256)[32]) {
  (void)sha256;  // verified by OtaSession while streaming; see the header about read-back
  if (!running_) return false;
  running_ = false;
  if (!Update.end(true)) {
    last_error_ = Update.getError();
    Update.clearError();
    return false;
  }
  return true;
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
