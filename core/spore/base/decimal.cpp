#include "spore/base/decimal.h"

namespace spore {

bool parse_decimal(std::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (max - digit) / 10) return false;  // v * 10 + digit > max, without overflowing
    v = v * 10 + digit;
  }
  *out = v;
  return true;
}

}  // namespace spore
