#include "posix/atomic_temp_name.h"

#include "posix/ota_trial_text.h"

namespace spore::posix {

namespace {

// 1..10 ASCII digits without a leading zero (the way std::to_string writes it), value 1..max.
bool parse_positive(std::string_view text, uint32_t max, uint32_t* out) {
  return !text.empty() && text[0] != '0' && parse_decimal_u32(text, max, out);
}

}  // namespace

std::string atomic_temp_name(const std::string& path, pid_t pid, uint32_t attempt) {
  std::string name = path + ".tmp." + std::to_string(pid);
  if (attempt != 0) name += "." + std::to_string(attempt);
  return name;
}

bool is_atomic_temp_name(std::string_view name, pid_t* pid) {
  const size_t at = name.rfind(".tmp.");
  if (at == std::string_view::npos || at == 0) return false;
  const std::string_view rest = name.substr(at + 5);
  const size_t dot = rest.find('.');
  uint32_t value = 0, suffix = 0;
  if (!parse_positive(rest.substr(0, dot), 0x7FFFFFFFu, &value)) return false;
  if (dot != std::string_view::npos && !parse_positive(rest.substr(dot + 1), kMaxAtomicTempSuffix, &suffix)) {
    return false;
  }
  *pid = static_cast<pid_t>(value);
  return true;
}

}  // namespace spore::posix
