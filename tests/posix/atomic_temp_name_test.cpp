// The temporary files' names: what write_file_atomic() makes is what the start-up clean-up
// recognises, and nothing else (a user's "notes.tmp.x" is never removed).

#include "posix/atomic_temp_name.h"

#include <gtest/gtest.h>

namespace spore::posix {
namespace {

TEST(AtomicTempName, WhatIsMadeIsRecognisedWithItsPid) {
  for (pid_t writer : {1, 123, 4194304, 0x7FFFFFFF}) {
    for (uint32_t attempt = 0; attempt <= kMaxAtomicTempSuffix; ++attempt) {
      const std::string name = atomic_temp_name("/var/lib/spored/boot_count", writer, attempt);
      const std::string base = name.substr(name.rfind('/') + 1);
      pid_t pid = 0;
      EXPECT_TRUE(is_atomic_temp_name(base, &pid)) << base;
      EXPECT_EQ(pid, writer) << base;
    }
  }
  EXPECT_EQ(atomic_temp_name("d/node_id", 42, 0), "d/node_id.tmp.42");
  EXPECT_EQ(atomic_temp_name("d/node_id", 42, 3), "d/node_id.tmp.42.3");
}

TEST(AtomicTempName, OnlyItsOwnNamingMatches) {
  pid_t pid = 77;
  for (const char* name : {"boot_count", ".tmp.5", "x.tmp.", "x.tmp.0", "x.tmp.05", "x.tmp.-1", "x.tmp.12a",
                           "x.tmp.5.", "x.tmp.5.0", "x.tmp.5.8", "x.tmp.5.1234", "x.tmp.99999999999",
                           "x.tmp.2147483648", "x.tmp.4294967295", "notes.tmp.x", "x.tmp.5.2.1", "x.tmp 5"}) {
    EXPECT_FALSE(is_atomic_temp_name(name, &pid)) << name;
  }
  EXPECT_EQ(pid, 77);  // untouched when false
}

}  // namespace
}  // namespace spore::posix
