// http_accepts_gzip(): when GET / may answer with the gzip bytes (the dashboard), else identity.

#include <gtest/gtest.h>

#include "spore/http/http_text.h"

namespace spore {
namespace {

TEST(HttpAcceptsGzip, BrowsersAndCurlCompressedDo) {
  EXPECT_TRUE(http_accepts_gzip("gzip, deflate, br, zstd"));  // Chromium
  EXPECT_TRUE(http_accepts_gzip("deflate, gzip"));            // curl --compressed
  EXPECT_TRUE(http_accepts_gzip("GZIP"));
  EXPECT_TRUE(http_accepts_gzip("x-gzip"));
  EXPECT_TRUE(http_accepts_gzip("br;q=1.0, gzip;q=0.8, *;q=0.1"));
  EXPECT_TRUE(http_accepts_gzip("*"));
  EXPECT_TRUE(http_accepts_gzip(" gzip ; q=0.001"));
  EXPECT_TRUE(http_accepts_gzip("gzip;q=abc"));  // not a number: counts as accepted
}

TEST(HttpAcceptsGzip, NoHeaderIdentityOrQZeroDoNot) {
  EXPECT_FALSE(http_accepts_gzip(""));  // curl without --compressed
  EXPECT_FALSE(http_accepts_gzip("identity"));
  EXPECT_FALSE(http_accepts_gzip("br, deflate"));
  EXPECT_FALSE(http_accepts_gzip("gzip;q=0"));
  EXPECT_FALSE(http_accepts_gzip("gzip;Q=0.000"));
  EXPECT_FALSE(http_accepts_gzip("*;q=0"));
  EXPECT_FALSE(http_accepts_gzip("*, gzip;q=0"));  // the named coding wins over "*"
  EXPECT_FALSE(http_accepts_gzip("gzipx, agzip"));
  EXPECT_FALSE(http_accepts_gzip(",,,;"));
}

}  // namespace
}  // namespace spore
