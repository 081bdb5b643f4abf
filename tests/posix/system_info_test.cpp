// LinuxSystemInfo: the seed's resources on this machine are plausible, and the /proc parsers
// handle the formats they meet.

#include "posix/system_info.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace spore::posix {
namespace {

TEST(SystemInfoTest, LiveValuesArePlausible) {
  LinuxSystemInfo info(0x1234ABCD);
  EXPECT_EQ(info.chip_id(), 0x1234ABCDu);
  EXPECT_GT(info.free_heap_bytes(), 1024u * 1024u) << "less than 1 MiB available?";
  EXPECT_GT(info.flash_chip_size_bytes(), 10000u) << "size of this executable";
  const std::string sdk = info.sdk_version();
  EXPECT_EQ(sdk.rfind("spored ", 0), 0u) << sdk;
  EXPECT_NE(sdk.find(" linux "), std::string::npos) << sdk;
  EXPECT_LE(sdk.size(), static_cast<size_t>(SPORE_MAX_VERSION_LEN));
  // Some VMs and containers expose no frequency at all; then 0 is the honest answer.
  EXPECT_LT(info.cpu_freq_mhz(), 20000u);
}

TEST(SystemInfoTest, ParsesMeminfo) {
  EXPECT_EQ(LinuxSystemInfo::parse_meminfo_available("MemTotal:       16314640 kB\nMemFree:  100 kB\n"
                                                      "MemAvailable:   12345678 kB\nBuffers: 1 kB\n"),
            12345678ull * 1024);
  EXPECT_EQ(LinuxSystemInfo::parse_meminfo_available("MemTotal: 5 kB\nMemFree:    100 kB\n"), 100ull * 1024);
  EXPECT_EQ(LinuxSystemInfo::parse_meminfo_available(""), 0u);
  EXPECT_EQ(LinuxSystemInfo::parse_meminfo_available("MemAvailable: lots\n"), 0u);
  EXPECT_EQ(LinuxSystemInfo::parse_meminfo_available("MemAvailableX: 5 kB\nMemAvailable: 7 kB"), 7u * 1024);
}

TEST(SystemInfoTest, ParsesCpuinfo) {
  EXPECT_EQ(LinuxSystemInfo::parse_cpuinfo_mhz("processor\t: 0\ncpu MHz\t\t: 2399.996\ncache size\t: 1 KB\n"),
            2400u);
  EXPECT_EQ(LinuxSystemInfo::parse_cpuinfo_mhz("processor : 0\nBogoMIPS : 48.00\n"), 0u);  // arm64
  EXPECT_EQ(LinuxSystemInfo::parse_cpuinfo_mhz("cpu MHz : -5\n"), 0u);
}

TEST(SystemInfoTest, ShortKernelRelease) {
  EXPECT_EQ(LinuxSystemInfo::short_kernel_release("6.1.0-18-amd64"), "6.1.0");
  EXPECT_EQ(LinuxSystemInfo::short_kernel_release("5.15.153.1-microsoft-standard-WSL2"), "5.15.153.1");
  EXPECT_EQ(LinuxSystemInfo::short_kernel_release("6.8.0+"), "6.8.0");
  EXPECT_EQ(LinuxSystemInfo::short_kernel_release("6.8.0"), "6.8.0");
}

TEST(SystemInfoTest, SdkVersionIsTruncatedNotOverflowed) {
  LinuxSystemInfo info(1, "a-very-long-program-name-indeed-xyz");
  EXPECT_EQ(std::strlen(info.sdk_version()), static_cast<size_t>(SPORE_MAX_VERSION_LEN));
}

}  // namespace
}  // namespace spore::posix
