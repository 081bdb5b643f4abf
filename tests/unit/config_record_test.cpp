#include "spore/device/config_record.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace spore {
namespace {

constexpr std::string_view kText = "wifi_ssid=Home\nwifi_password=correct horse\n";

TEST(ConfigRecord, RoundTripsAndPadsToWords) {
  uint8_t buf[kConfigRecordMaxBytes];
  const size_t size = encode_config_record(kText, buf, sizeof buf);
  ASSERT_GT(size, kText.size());
  EXPECT_EQ(size % 4, 0u);
  EXPECT_EQ(std::memcmp(buf, "SPC1", 4), 0);
  std::string_view text;
  ASSERT_TRUE(decode_config_record(buf, size, &text));
  EXPECT_EQ(text, kText);
}

TEST(ConfigRecord, EmptyTextIsAValidRecord) {
  uint8_t buf[kConfigRecordMaxBytes];
  const size_t size = encode_config_record("", buf, sizeof buf);
  ASSERT_EQ(size, kConfigRecordHeaderBytes);
  std::string_view text = "x";
  ASSERT_TRUE(decode_config_record(buf, size, &text));
  EXPECT_TRUE(text.empty());
}

TEST(ConfigRecord, RefusesTextsThatDoNotFit) {
  uint8_t buf[kConfigRecordMaxBytes];
  const std::string longest(SPORE_DEVICE_CONFIG_MAX_BYTES - 1, 'a');
  EXPECT_GT(encode_config_record(longest, buf, sizeof buf), 0u);
  const std::string too_long(SPORE_DEVICE_CONFIG_MAX_BYTES, 'a');
  EXPECT_EQ(encode_config_record(too_long, buf, sizeof buf), 0u);
  EXPECT_EQ(encode_config_record(kText, buf, 8), 0u);
  EXPECT_EQ(encode_config_record(kText, nullptr, sizeof buf), 0u);
}

TEST(ConfigRecord, BlankFlashIsNoRecord) {
  uint8_t blank[kConfigRecordMaxBytes];
  std::memset(blank, 0xFF, sizeof blank);
  std::string_view text = "x";
  EXPECT_FALSE(decode_config_record(blank, sizeof blank, &text));
  EXPECT_TRUE(text.empty());
  EXPECT_FALSE(config_record_present(blank, sizeof blank));  // nothing stored: a first boot
  std::memset(blank, 0, sizeof blank);
  EXPECT_FALSE(decode_config_record(blank, sizeof blank, &text));
  EXPECT_FALSE(config_record_present(blank, sizeof blank));
}

// A record with the magic that fails its check is damaged, not absent: the node keeps it
// (core/spore/device/device_settings.h) instead of writing a first-boot record over it.
TEST(ConfigRecord, ADamagedRecordIsStillPresent) {
  uint8_t rec[kConfigRecordMaxBytes];
  const size_t size = encode_config_record(kText, rec, sizeof rec);
  EXPECT_TRUE(config_record_present(rec, size));
  rec[kConfigRecordHeaderBytes] ^= 0x20;
  std::string_view text;
  EXPECT_FALSE(decode_config_record(rec, size, &text));
  EXPECT_TRUE(config_record_present(rec, size));
  EXPECT_FALSE(config_record_present(rec, 3));
  EXPECT_FALSE(config_record_present(nullptr, size));
}

TEST(ConfigRecord, EveryCorruptedByteIsDetected) {
  uint8_t good[kConfigRecordMaxBytes];
  const size_t size = encode_config_record(kText, good, sizeof good);
  // The padding after the text is not covered; every byte before it is.
  const size_t covered = kConfigRecordHeaderBytes + kText.size();
  for (size_t i = 0; i < covered; ++i) {
    uint8_t bad[kConfigRecordMaxBytes];
    std::memcpy(bad, good, size);
    bad[i] ^= 0x01;
    std::string_view text;
    EXPECT_FALSE(decode_config_record(bad, size, &text)) << "byte " << i;
  }
}

TEST(ConfigRecord, TruncatedRecordsAreRefused) {
  uint8_t good[kConfigRecordMaxBytes];
  const size_t size = encode_config_record(kText, good, sizeof good);
  std::string_view text;
  for (size_t n = 0; n < kConfigRecordHeaderBytes + kText.size(); ++n) {
    EXPECT_FALSE(decode_config_record(good, n, &text)) << n;
  }
  EXPECT_TRUE(decode_config_record(good, size, &text));
  EXPECT_FALSE(decode_config_record(nullptr, size, &text));
}

TEST(ConfigRecord, LengthBeyondTheLimitIsRefusedEvenWithRoom) {
  uint8_t buf[kConfigRecordHeaderBytes + SPORE_DEVICE_CONFIG_MAX_BYTES + 4] = {};
  std::memcpy(buf, "SPC1", 4);
  buf[4] = static_cast<uint8_t>(SPORE_DEVICE_CONFIG_MAX_BYTES);
  buf[5] = static_cast<uint8_t>(SPORE_DEVICE_CONFIG_MAX_BYTES >> 8);
  std::string_view text;
  EXPECT_FALSE(decode_config_record(buf, sizeof buf, &text));
}

}  // namespace
}  // namespace spore
