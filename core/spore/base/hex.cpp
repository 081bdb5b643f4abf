#include "spore/base/hex.h"

namespace spore {

void hex_encode(const uint8_t* data, size_t size_bytes, char* out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (size_t i = 0; i < size_bytes; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0x0F];
  }
  out[2 * size_bytes] = '\0';
}

bool hex_decode(std::string_view hex, uint8_t* out, size_t size_bytes) {
  if (hex.size() != 2 * size_bytes) return false;
  for (size_t i = 0; i < size_bytes; ++i) {
    const int hi = hex_digit_value(hex[2 * i]);
    const int lo = hex_digit_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return true;
}

}  // namespace spore
