// core/spore/base/heap_size.h: the 32-bit code of free memory that peers keep and send (issue 21).

#include "spore/base/heap_size.h"

#include <gtest/gtest.h>

namespace spore {
namespace {

// Below 2 GiB the code is the byte count: every ESP8266 value, and every older node's, reads as before.
TEST(HeapSize, BelowTwoGiBTheCodeIsTheByteCount) {
  for (uint64_t bytes : {0ULL, 1ULL, 31337ULL, 4294967295ULL / 2}) {
    EXPECT_EQ(heap_code_from_bytes(bytes), bytes);
    EXPECT_EQ(heap_bytes_from_code(heap_code_from_bytes(bytes)), bytes);
  }
}

// From 2 GiB: KiB, rounded down (never more than the node has), so 23 GiB is no longer 4294967295.
TEST(HeapSize, FromTwoGiBTheCodeCountsKiB) {
  EXPECT_EQ(heap_code_from_bytes(2147483648ULL), 0x80000000u | (2147483648u >> 10));
  for (uint64_t bytes : {2147483648ULL, 4294967295ULL, 4294967296ULL, 25125558682ULL, (1ULL << 41) - 1024}) {
    const uint64_t back = heap_bytes_from_code(heap_code_from_bytes(bytes));
    EXPECT_LE(back, bytes) << bytes;
    EXPECT_GT(back + 1024, bytes) << bytes;
  }
}

TEST(HeapSize, SaturatesAtTwoTiBLessOneKiB) {
  const uint64_t top = ((1ULL << 31) - 1) << 10;
  EXPECT_EQ(heap_bytes_from_code(heap_code_from_bytes(top)), top);
  EXPECT_EQ(heap_code_from_bytes(1ULL << 41), 0xFFFFFFFFu);
  EXPECT_EQ(heap_code_from_bytes(UINT64_MAX), 0xFFFFFFFFu);
  EXPECT_EQ(heap_bytes_from_code(0xFFFFFFFFu), top);
}

}  // namespace
}  // namespace spore
