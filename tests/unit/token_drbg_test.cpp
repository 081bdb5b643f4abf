// draw_api_token: a fresh board's API token from BearSSL's HMAC-DRBG over spaced hardware samples,
// the microsecond clock and the MAC.

#include "spore/device/token_drbg.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "spore/http/rest_api.h"

namespace spore {
namespace {

// Samples from a list (repeated), the clock counting up: a deterministic EntropySource.
class ScriptedEntropy final : public EntropySource {
 public:
  explicit ScriptedEntropy(uint32_t first_sample, uint32_t clock_start = 5000)
      : next_(first_sample), micros_(clock_start) {}
  uint32_t hardware_sample_u32() override {
    ++samples_;
    return next_ = next_ * 1664525u + 1013904223u;
  }
  uint32_t micros_now() override {
    ++clock_reads_;
    return micros_ += 51;
  }
  size_t samples_ = 0;
  size_t clock_reads_ = 0;

 private:
  uint32_t next_;
  uint32_t micros_;
};

constexpr uint8_t kMac[6] = {0x5c, 0xcf, 0x7f, 0xaa, 0xbb, 0xcc};

std::string token_of(ScriptedEntropy&& source, const uint8_t (&mac)[6] = kMac) {
  char token[kGeneratedTokenChars];
  draw_api_token(source, mac, token);
  return std::string(token, sizeof token);
}

TEST(TokenDrbg, TakesEverySampleWithAClockReading) {
  ScriptedEntropy source(1);
  char token[kGeneratedTokenChars];
  draw_api_token(source, kMac, token);
  EXPECT_EQ(source.samples_, kTokenEntropySamples);
  EXPECT_EQ(source.clock_reads_, kTokenEntropySamples);
}

TEST(TokenDrbg, SameSeedSameToken) {
  EXPECT_EQ(token_of(ScriptedEntropy(1)), token_of(ScriptedEntropy(1)));
}

TEST(TokenDrbg, TheTokenIsLowerCaseHexAndAValidApiToken) {
  const std::string t = token_of(ScriptedEntropy(1));
  ASSERT_EQ(t.size(), 32u);
  EXPECT_EQ(t.find_first_not_of("0123456789abcdef"), std::string::npos) << t;
  EXPECT_TRUE(RestApi::valid_api_token(t));
}

TEST(TokenDrbg, EveryInputChangesTheToken) {
  const std::string base = token_of(ScriptedEntropy(1));
  EXPECT_NE(token_of(ScriptedEntropy(2)), base);            // other samples
  EXPECT_NE(token_of(ScriptedEntropy(1, 5001)), base);      // other clock readings
  const uint8_t other_mac[6] = {0x5c, 0xcf, 0x7f, 0xaa, 0xbb, 0xcd};
  EXPECT_NE(token_of(ScriptedEntropy(1), other_mac), base);  // another board, same samples
}

// Not the old way: the samples themselves never appear in the token (the DRBG's output is a hash).
TEST(TokenDrbg, TheTokenIsNotTheSamplesInHex) {
  ScriptedEntropy source(1);
  const std::string t = token_of(ScriptedEntropy(1));
  char hex[9];
  for (int i = 0; i < 4; ++i) {
    std::snprintf(hex, sizeof hex, "%08x", source.hardware_sample_u32());
    EXPECT_EQ(t.find(hex), std::string::npos);
  }
}

}  // namespace
}  // namespace spore
