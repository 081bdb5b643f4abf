#include "posix/atomic_temp_name.h"

namespace spore::posix {

namespace {

// 1..10 ASCII digits, no leading zero, value in 1..max.
bool parse_positive(std::string_view text, uint64_t max, uint64_t* out) {
  if (text.empty() || text.size() > 10 || text[0] == '0') return false;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value > max) return false;
  *out = value;
  return true;
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
  uint64_t value = 0, suffix = 0;
  if (!parse_positive(rest.substr(0, dot), 0x7FFFFFFFu, &value)) return false;
  if (dot != std::string_view::npos && !parse_positive(rest.substr(dot + 1), kMaxAtomicTempSuffix, &suffix)) {
    return false;
  }
  *pid = static_cast<pid_t>(value);
  return true;
}

}  // namespace spore::posix
