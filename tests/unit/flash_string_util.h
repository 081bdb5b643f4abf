#pragma once
// Test helper: a FlashStr (spore/base/flash_string.h) as a std::string, read the way the target must.
#include <string>

#include "spore/base/flash_string.h"

namespace spore {

inline std::string to_std_string(FlashStr s) {
  std::string out(s.length(), '\0');
  if (!out.empty()) s.copy_to(out.data(), out.size() + 1);
  return out;
}

}  // namespace spore
