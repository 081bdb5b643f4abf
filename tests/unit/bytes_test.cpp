// core/spore/base/bytes.h: byte orders and FNV-1a, against published values.

#include "spore/base/bytes.h"

#include <gtest/gtest.h>

namespace spore {
namespace {

TEST(Bytes, BigAndLittleEndianRoundTrip) {
  uint8_t b[4];
  store_be32(0x01020304u, b);
  EXPECT_EQ(b[0], 0x01);
  EXPECT_EQ(b[3], 0x04);
  EXPECT_EQ(load_be32(b), 0x01020304u);
  EXPECT_EQ(load_le32(b), 0x04030201u);
  store_le32(0xA0B0C0D0u, b);
  EXPECT_EQ(b[0], 0xD0);
  EXPECT_EQ(load_le32(b), 0xA0B0C0D0u);
}

TEST(Bytes, Fnv1aMatchesTheReferenceVectors) {
  // Test vectors of the FNV reference (Fowler, Noll, Vo: draft-eastlake-fnv, FNV-1a 32 bit).
  EXPECT_EQ(fnv1a(kFnv1aOffset, ""), 0x811C9DC5u);
  EXPECT_EQ(fnv1a(kFnv1aOffset, "a"), 0xE40C292Cu);
  EXPECT_EQ(fnv1a(kFnv1aOffset, "foobar"), 0xBF9CF968u);
  // Pieces chain: the digest of "foo" then "bar" is the digest of "foobar".
  EXPECT_EQ(fnv1a(fnv1a(kFnv1aOffset, "foo"), "bar"), 0xBF9CF968u);
  const uint8_t bytes[] = {'f', 'o', 'o', 'b', 'a', 'r'};
  EXPECT_EQ(fnv1a(kFnv1aOffset, bytes, sizeof bytes), 0xBF9CF968u);
}

}  // namespace
}  // namespace spore
