#include "spore/device/esp_flash.h"

namespace spore {

size_t esp_ota_capacity_bytes(uint32_t free_sketch_space_bytes) {
  if (free_sketch_space_bytes <= kEspFlashSectorBytes) return 0;
  return static_cast<size_t>((free_sketch_space_bytes - kEspFlashSectorBytes) & ~(kEspFlashSectorBytes - 1));
}

bool esp_image_magic_ok(const uint8_t* head, size_t size) { return head != nullptr && size > 0 && head[0] == 0xE9; }

size_t esp_updater_begin_bytes(size_t max_image_bytes, size_t capacity_bytes) {
  const size_t size = (max_image_bytes == 0 || max_image_bytes > capacity_bytes) ? capacity_bytes : max_image_bytes;
  return size == 0 ? 0 : size + 1;
}

}  // namespace spore
