// HMAC-SHA256 over BearSSL: RFC 4231 vectors, HmacKey's length policy, truncation, compare.

#include "spore/auth/hmac_sha256.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace spore {
namespace {

std::vector<uint8_t> repeat(uint8_t byte, size_t n) { return std::vector<uint8_t>(n, byte); }
std::vector<uint8_t> bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

std::string hex(const uint8_t* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

struct Rfc4231Case {
  const char* name;
  std::vector<uint8_t> key;
  std::vector<uint8_t> data;
  const char* mac_hex;  // full or, for case 5, truncated to 128 bits
};

std::vector<Rfc4231Case> rfc4231_cases() {
  std::vector<uint8_t> key4;
  for (uint8_t b = 1; b <= 25; ++b) key4.push_back(b);
  return {
      {"case1", repeat(0x0b, 20), bytes("Hi There"),
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"case2", bytes("Jefe"), bytes("what do ya want for nothing?"),
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {"case3", repeat(0xaa, 20), repeat(0xdd, 50),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {"case4", key4, repeat(0xcd, 50), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {"case5", repeat(0x0c, 20), bytes("Test With Truncation"), "a3b6167473100ee06e0c796c2955552b"},
      {"case6", repeat(0xaa, 131), bytes("Test Using Larger Than Block-Size Key - Hash Key First"),
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {"case7", repeat(0xaa, 131),
       bytes("This is a test using a larger than block-size key and a larger than block-size data. The key "
             "needs to be hashed before being used by the HMAC algorithm."),
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
}

TEST(HmacSha256, Rfc4231VectorsOneshot) {
  for (const auto& c : rfc4231_cases()) {
    uint8_t mac[kHmacSha256Bytes];
    hmac_sha256_oneshot(c.key.data(), c.key.size(), c.data.data(), c.data.size(), mac);
    const std::string expected = c.mac_hex;
    EXPECT_EQ(hex(mac, expected.size() / 2), expected) << c.name;
  }
}

// The keyed holder must agree with the one-shot path for every vector whose key it accepts
// (16..SPORE_MAX_KEY_BYTES bytes), including truncated outputs as the wire tag uses them.
TEST(HmacSha256, Rfc4231VectorsThroughHmacKey) {
  size_t checked = 0;
  for (const auto& c : rfc4231_cases()) {
    HmacKey key;
    const bool in_policy = c.key.size() >= HmacKey::kMinKeyBytes && c.key.size() <= SPORE_MAX_KEY_BYTES;
    ASSERT_EQ(key.set(c.key.data(), c.key.size()), in_policy) << c.name;
    if (!in_policy) continue;
    const std::string expected = c.mac_hex;
    uint8_t mac[kHmacSha256Bytes] = {};
    const size_t n = hmac_sha256(key, c.data.data(), c.data.size(), mac, expected.size() / 2);
    EXPECT_EQ(n, expected.size() / 2);
    EXPECT_EQ(hex(mac, n), expected) << c.name;
    ++checked;
  }
  EXPECT_EQ(checked, 4u);  // cases 1, 3, 4, 5
}

TEST(HmacSha256, TruncationKeepsLeftmostBytesAndClamps) {
  const auto k = repeat(0x0b, 20);
  HmacKey key;
  ASSERT_TRUE(key.set(k.data(), k.size()));
  const auto data = bytes("Hi There");
  uint8_t full[kHmacSha256Bytes];
  uint8_t big[64] = {};
  uint8_t tag[16];
  EXPECT_EQ(hmac_sha256(key, data.data(), data.size(), full, sizeof full), 32u);
  EXPECT_EQ(hmac_sha256(key, data.data(), data.size(), tag, sizeof tag), 16u);
  EXPECT_EQ(0, std::memcmp(full, tag, sizeof tag));
  EXPECT_EQ(hmac_sha256(key, data.data(), data.size(), big, sizeof big), 32u);
  EXPECT_EQ(0, std::memcmp(full, big, sizeof full));
  EXPECT_EQ(big[32], 0);  // nothing written past the natural length
}

TEST(HmacSha256, EmptyKeyProducesNothing) {
  HmacKey key;
  EXPECT_TRUE(key.empty());
  uint8_t out[16] = {};
  EXPECT_EQ(hmac_sha256(key, reinterpret_cast<const uint8_t*>("x"), 1, out, sizeof out), 0u);
}

TEST(HmacKey, LengthPolicy) {
  HmacKey key;
  const auto k = repeat(0x42, 64);
  EXPECT_FALSE(key.set(k.data(), HmacKey::kMinKeyBytes - 1));
  EXPECT_TRUE(key.empty());
  EXPECT_FALSE(key.set(k.data(), SPORE_MAX_KEY_BYTES + 1));
  EXPECT_TRUE(key.set(k.data(), HmacKey::kMinKeyBytes));
  EXPECT_EQ(key.size_bytes(), HmacKey::kMinKeyBytes);
  EXPECT_TRUE(key.set(k.data(), SPORE_MAX_KEY_BYTES));
  // A refused set() leaves the previous key in place.
  EXPECT_FALSE(key.set(k.data(), 3));
  EXPECT_EQ(key.size_bytes(), static_cast<size_t>(SPORE_MAX_KEY_BYTES));
  EXPECT_FALSE(key.set(nullptr, 20));
  EXPECT_TRUE(key.set(k.data(), 0));
  EXPECT_TRUE(key.empty());
}

TEST(HmacKey, SetHexMatchesRawBytes) {
  HmacKey from_hex;
  HmacKey from_raw;
  ASSERT_TRUE(from_hex.set_hex("000102030405060708090A0B0C0D0E0f"));
  uint8_t raw[16];
  for (uint8_t i = 0; i < 16; ++i) raw[i] = i;
  ASSERT_TRUE(from_raw.set(raw, sizeof raw));
  const auto data = bytes("payload");
  uint8_t a[32], b[32];
  hmac_sha256(from_hex, data.data(), data.size(), a, sizeof a);
  hmac_sha256(from_raw, data.data(), data.size(), b, sizeof b);
  EXPECT_EQ(hex(a, 32), hex(b, 32));

  EXPECT_FALSE(from_hex.set_hex("000102030405060708090a0b0c0d0e0"));    // odd length
  EXPECT_FALSE(from_hex.set_hex("000102030405060708090a0b0c0d0e0g"));   // not hex
  EXPECT_FALSE(from_hex.set_hex("0001020304050607"));                   // 8 bytes: too short
  EXPECT_FALSE(from_hex.set_hex(std::string(2 * SPORE_MAX_KEY_BYTES + 2, 'a')));  // too long
  EXPECT_EQ(from_hex.size_bytes(), 16u);  // unchanged by the refusals
  EXPECT_TRUE(from_hex.set_hex(""));
  EXPECT_TRUE(from_hex.empty());
}

TEST(ConstantTimeEqual, ComparesAllBytes) {
  uint8_t a[16] = {};
  uint8_t b[16] = {};
  EXPECT_TRUE(constant_time_equal(a, b, sizeof a));
  for (size_t i = 0; i < sizeof a; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      b[i] = static_cast<uint8_t>(1u << bit);
      EXPECT_FALSE(constant_time_equal(a, b, sizeof a)) << i << ":" << bit;
      b[i] = 0;
    }
  }
  EXPECT_TRUE(constant_time_equal(a, b, 0));
}

}  // namespace
}  // namespace spore
