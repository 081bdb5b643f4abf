// HeadCheck: the header-field count and head size limits, and unambiguous body framing
// (RFC 9112 §6.1-6.3) of a request head as libmicrohttpd parsed it.

#include "posix/http_head_check.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace spore::posix {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

HeadCheck check_of(const Fields& fields, size_t max_count = 100) {
  HeadCheck c(max_count);
  for (const auto& f : fields) c.add(f.first, f.second);
  return c;
}

HeadVerdict verdict_of(const Fields& fields, size_t head_bytes = 100) {
  return check_of(fields).verdict(head_bytes, 16384);
}

TEST(HeadCheck, PlainHeadsAndSingleFramingAreAccepted) {
  EXPECT_EQ(verdict_of({{"Host", "x"}, {"Accept", "*/*"}}), HeadVerdict::kOk);
  HeadCheck c = check_of({{"Host", "x"}, {"content-LENGTH", "1234"}});
  EXPECT_EQ(c.verdict(100, 16384), HeadVerdict::kOk);
  EXPECT_TRUE(c.has_content_length());
  EXPECT_EQ(c.content_length(), 1234u);
  EXPECT_FALSE(c.chunked());
  c = check_of({{"Transfer-Encoding", " Chunked\t"}});
  EXPECT_EQ(c.verdict(100, 16384), HeadVerdict::kOk);
  EXPECT_TRUE(c.chunked());
  EXPECT_FALSE(c.has_content_length());
  c = check_of({{"Content-Length", "18446744073709551615"}});  // UINT64_MAX fits
  EXPECT_EQ(c.verdict(100, 16384), HeadVerdict::kOk);
  EXPECT_EQ(c.content_length(), UINT64_MAX);
  EXPECT_EQ(*c.framing_problem(), '\0');
}

TEST(HeadCheck, AmbiguousFramingIsRefused) {
  // The request-smuggling pairs and everything a second parser could read differently.
  for (const Fields& f : std::vector<Fields>{
           {{"Content-Length", "2"}, {"Content-Length", "3"}},
           {{"Content-Length", "2"}, {"Content-Length", "2"}},  // equal duplicates too: one is enough
           {{"Content-Length", "2"}, {"Transfer-Encoding", "chunked"}},
           {{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}},
           {{"Transfer-Encoding", "gzip, chunked"}},
           {{"Transfer-Encoding", "identity"}},
           {{"Transfer-Encoding", ""}},
           {{"Content-Length", "-1"}},
           {{"Content-Length", "+5"}},
           {{"Content-Length", "5, 5"}},
           {{"Content-Length", "0x10"}},
           {{"Content-Length", ""}},
           {{"Content-Length", "18446744073709551616"}},  // UINT64_MAX + 1
       }) {
    HeadCheck c = check_of(f);
    EXPECT_EQ(c.verdict(100, 16384), HeadVerdict::kBadFraming) << f[0].second;
    EXPECT_NE(*c.framing_problem(), '\0');
  }
}

TEST(HeadCheck, HeaderNamesWithSpacesOrControlsAreRefused) {
  EXPECT_EQ(verdict_of({{"Content-Length ", "5"}}), HeadVerdict::kBadHeader);
  EXPECT_EQ(verdict_of({{"X\tY", "1"}}), HeadVerdict::kBadHeader);
  EXPECT_EQ(verdict_of({{std::string("X\x01", 2), "1"}}), HeadVerdict::kBadHeader);
  EXPECT_EQ(verdict_of({{"", "1"}}), HeadVerdict::kBadHeader);
}

TEST(HeadCheck, CountAndSizeLimitsComeFirst) {
  Fields many;
  for (int i = 0; i < 101; ++i) many.push_back({"X-" + std::to_string(i), "v"});
  EXPECT_EQ(check_of(many).verdict(100, 16384), HeadVerdict::kTooManyHeaders);
  many.pop_back();
  EXPECT_EQ(check_of(many).verdict(100, 16384), HeadVerdict::kOk);
  EXPECT_EQ(check_of(many).verdict(16385, 16384), HeadVerdict::kTooLarge);
  EXPECT_EQ(check_of(many).verdict(16384, 16384), HeadVerdict::kOk);
  // A head that is both too large and badly framed is refused as too large (431 before 400).
  EXPECT_EQ(check_of({{"Content-Length", "1"}, {"Content-Length", "2"}}).verdict(20000, 16384), HeadVerdict::kTooLarge);
}

}  // namespace
}  // namespace spore::posix
