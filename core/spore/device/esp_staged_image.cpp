#include "spore/device/esp_staged_image.h"

#include <cstring>

namespace spore {

void EspStagedImageCheck::begin(const uint8_t (&expected_sha256)[32], size_t image_bytes, uint8_t uploaded_mode_byte,
                                uint8_t chip_mode) {
  std::memcpy(expected_, expected_sha256, sizeof expected_);
  image_bytes_ = image_bytes;
  read_ = 0;
  uploaded_mode_ = uploaded_mode_byte;
  chip_mode_ = chip_mode;
  staged_mode_ = 0;
  mode_ok_ = false;
  br_sha256_init(&sha_);
}

void EspStagedImageCheck::update(const uint8_t* data, size_t size_bytes) {
  if (data == nullptr || size_bytes == 0) return;
  if (read_ <= kFlashModeOffset && kFlashModeOffset < read_ + size_bytes) {
    const size_t at = kFlashModeOffset - read_;
    staged_mode_ = data[at];
    mode_ok_ = staged_mode_ == uploaded_mode_ || staged_mode_ == chip_mode_;
    // Hashed as uploaded: the digest to match is the upload's.
    br_sha256_update(&sha_, data, at);
    br_sha256_update(&sha_, &uploaded_mode_, 1);
    br_sha256_update(&sha_, data + at + 1, size_bytes - at - 1);
  } else {
    br_sha256_update(&sha_, data, size_bytes);
  }
  read_ += size_bytes;
}

void EspStagedImageCheck::digest(uint8_t (&out)[32]) const {
  br_sha256_out(&sha_, out);  // leaves the context as it is: more bytes may follow
}

bool EspStagedImageCheck::matches() const {
  if (read_ != image_bytes_ || read_ <= kFlashModeOffset || !mode_ok_) return false;
  uint8_t d[32];
  digest(d);
  return std::memcmp(d, expected_, sizeof d) == 0;
}

}  // namespace spore
