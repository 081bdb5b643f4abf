// parse_decimal(): the one reader of decimal numbers in core (HTTP lengths, SSE ids, path ids).
#include "spore/base/decimal.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace spore {
namespace {

TEST(Decimal, DigitsUpToTheLimitAreRead) {
  uint64_t v = 7;
  ASSERT_TRUE(parse_decimal("0", UINT32_MAX, &v));
  EXPECT_EQ(v, 0u);
  ASSERT_TRUE(parse_decimal("004660", UINT32_MAX, &v));
  EXPECT_EQ(v, 4660u);
  ASSERT_TRUE(parse_decimal("4294967295", UINT32_MAX, &v));
  EXPECT_EQ(v, UINT32_MAX);
  ASSERT_TRUE(parse_decimal("18446744073709551615", UINT64_MAX, &v));
  EXPECT_EQ(v, UINT64_MAX);
}

TEST(Decimal, AnythingElseIsRefusedAndLeavesTheOutputAlone) {
  for (const char* bad : {"", "4294967296", "99999999999999999999999", "-1", "+1", " 1", "1 ", "0x10", "1a", "%31"}) {
    uint64_t v = 7;
    EXPECT_FALSE(parse_decimal(bad, UINT32_MAX, &v)) << bad;
    EXPECT_EQ(v, 7u) << bad;
  }
  uint64_t v = 7;
  EXPECT_FALSE(parse_decimal("18446744073709551616", UINT64_MAX, &v));
  EXPECT_EQ(v, 7u);
}

}  // namespace
}  // namespace spore
