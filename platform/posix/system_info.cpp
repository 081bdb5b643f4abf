#include "posix/system_info.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "posix/version.h"

namespace spore::posix {

namespace {

uint32_t saturate_u32(uint64_t v) {
  return v > std::numeric_limits<uint32_t>::max() ? std::numeric_limits<uint32_t>::max() : static_cast<uint32_t>(v);
}

/// Value after "key:" on its own line in /proc-style text, as the remaining text of that line.
std::string_view field_value(std::string_view text, std::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.size() <= key.size() || line.substr(0, key.size()) != key) continue;
    std::string_view rest = line.substr(key.size());
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    if (rest.empty() || rest.front() != ':') continue;
    rest.remove_prefix(1);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    return rest;
  }
  return {};
}

}  // namespace

bool read_small_file(const std::string& path, std::string* out, size_t max_bytes) {
  out->clear();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      ::close(fd);
      out->clear();
      return false;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > max_bytes) {
      out->resize(max_bytes);
      break;
    }
  }
  ::close(fd);
  return true;
}

uint64_t LinuxSystemInfo::parse_meminfo_available(std::string_view meminfo) {
  std::string_view v = field_value(meminfo, "MemAvailable");
  if (v.empty()) v = field_value(meminfo, "MemFree");
  if (v.empty()) return 0;
  uint64_t kib = 0;
  size_t i = 0;
  for (; i < v.size() && v[i] >= '0' && v[i] <= '9'; ++i) {
    if (kib > (std::numeric_limits<uint64_t>::max() / 10) - 10) return std::numeric_limits<uint64_t>::max();
    kib = kib * 10 + static_cast<uint64_t>(v[i] - '0');
  }
  if (i == 0) return 0;
  // /proc/meminfo says "kB" but means KiB.
  return kib > std::numeric_limits<uint64_t>::max() / 1024 ? std::numeric_limits<uint64_t>::max() : kib * 1024;
}

uint16_t LinuxSystemInfo::parse_cpuinfo_mhz(std::string_view cpuinfo) {
  const std::string_view v = field_value(cpuinfo, "cpu MHz");
  if (v.empty()) return 0;
  const std::string text(v);
  char* end = nullptr;
  const double mhz = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || !(mhz > 0) || mhz > 65535) return 0;
  return static_cast<uint16_t>(std::lround(mhz));
}

std::string LinuxSystemInfo::short_kernel_release(std::string_view release) {
  const size_t cut = release.find_first_of("-+ ");
  return std::string(release.substr(0, cut));
}

LinuxSystemInfo::LinuxSystemInfo(uint32_t chip_id, std::string_view program) : chip_id_(chip_id) {
  std::string text;
  if (read_small_file("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", &text)) {
    const unsigned long khz = std::strtoul(text.c_str(), nullptr, 10);
    if (khz > 0 && khz / 1000 <= 65535) cpu_freq_mhz_ = static_cast<uint16_t>(khz / 1000);
  }
  if (cpu_freq_mhz_ == 0 && read_small_file("/proc/cpuinfo", &text)) cpu_freq_mhz_ = parse_cpuinfo_mhz(text);

  struct stat st {};
  if (::stat("/proc/self/exe", &st) == 0) flash_size_bytes_ = saturate_u32(static_cast<uint64_t>(st.st_size));

  utsname u{};
  std::string release = "?";
  if (::uname(&u) == 0) release = short_kernel_release(u.release);
  std::snprintf(sdk_version_, sizeof sdk_version_, "%.*s %s linux %s", static_cast<int>(program.size()),
                program.data(), firmware_version(), release.c_str());
}

uint64_t LinuxSystemInfo::free_heap_bytes() const {
  std::string text;
  if (!read_small_file("/proc/meminfo", &text, 64 * 1024)) return 0;
  return parse_meminfo_available(text);
}

}  // namespace spore::posix
