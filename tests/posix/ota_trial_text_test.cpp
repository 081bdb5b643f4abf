// The texts of a Linux node's OTA trial: the self-test line and the trial record (marker and
// rollback record) round-trip exactly, and anything malformed is refused with a sentence.

#include "posix/ota_trial_text.h"

#include <gtest/gtest.h>

#include <string>

namespace spore::posix {
namespace {

TrialRecord sample() {
  TrialRecord r;
  r.id = 0x6f1c0e2ab4d39a10ull;
  for (int i = 0; i < 32; ++i) {
    r.image_sha256[i] = static_cast<uint8_t>(i);
    r.previous_sha256[i] = static_cast<uint8_t>(0xF0 + i / 4);
  }
  r.image_version = "9.9.9";
  r.previous_version = "0.1.0-dev";
  r.peers = 3;
  r.guardian_pid = 4242;
  r.reason = "the new image's process ended 310 ms after the switch, before it proved healthy";
  return r;
}

TEST(OtaTrialText, SelfTestLineRoundTrips) {
  EXPECT_EQ(self_test_line("0.2.0"), "spored 0.2.0 self-test ok");
  std::string v;
  EXPECT_TRUE(parse_self_test_line("spored 0.2.0 self-test ok\n", &v));
  EXPECT_EQ(v, "0.2.0");
  EXPECT_TRUE(parse_self_test_line("spored 1.0-rc1+g1234 self-test ok\r\nmore output\n", &v));
  EXPECT_EQ(v, "1.0-rc1+g1234");
  EXPECT_TRUE(parse_self_test_line("spored x self-test ok", nullptr));
  for (const char* bad : {"", "\n", "spored  self-test ok", "spored self-test ok", "spored 1.0 self-test ok?",
                          " spored 1.0 self-test ok", "spored 1 0 self-test ok", "spored 1.0 self-test failed",
                          "hello\nspored 1.0 self-test ok", "spored 12345678901234567890123456789 self-test ok",
                          "SPORED 1.0 self-test ok", "spored \x01 self-test ok"}) {
    EXPECT_FALSE(parse_self_test_line(bad, &v)) << bad;
  }
  EXPECT_TRUE(parse_self_test_line("spored 1234567890123456789012345678 self-test ok", &v));  // 28: the slot's limit
}

TEST(OtaTrialText, RecordRoundTrips) {
  const TrialRecord r = sample();
  const std::string text = format_trial_record(r);
  EXPECT_EQ(text.rfind("spore-ota-trial 1\nid 6f1c0e2ab4d39a10\nimage 000102", 0), 0u) << text;
  EXPECT_NE(text.find("\nstate trial\n"), std::string::npos);
  TrialRecord back;
  std::string error;
  ASSERT_TRUE(parse_trial_record(text, &back, &error)) << error;
  EXPECT_TRUE(back == r);
  TrialRecord stopped = r;
  stopped.stopped = true;
  stopped.reason.clear();
  ASSERT_TRUE(parse_trial_record(format_trial_record(stopped), &back, &error)) << error;
  EXPECT_TRUE(back == stopped);
  EXPECT_EQ(short_sha(r.image_sha256), "000102030405");
}

TEST(OtaTrialText, FormatKeepsOnlyWhatParses) {
  TrialRecord r = sample();
  r.image_version = "9 9\t9";
  r.reason = std::string("line\nbreak   ") + std::string(400, 'x');
  r.peers = 1u << 30;
  r.guardian_pid = 1u << 30;
  TrialRecord back;
  std::string error;
  ASSERT_TRUE(parse_trial_record(format_trial_record(r), &back, &error)) << error;
  EXPECT_EQ(back.image_version, "999");
  EXPECT_EQ(back.reason.size(), kMaxTrialReasonBytes);
  EXPECT_EQ(back.reason.rfind("linebreak   xxx", 0), 0u);
  EXPECT_EQ(back.peers, kMaxTrialPeers);
  EXPECT_EQ(back.guardian_pid, kMaxTrialPid);
  r.reason = "ends in spaces   ";
  ASSERT_TRUE(parse_trial_record(format_trial_record(r), &back, &error)) << error;
  EXPECT_EQ(back.reason, "ends in spaces");
}

TEST(OtaTrialText, UnknownKeysAreSkippedAndOnlyIdAndImageAreRequired) {
  const std::string minimal = "spore-ota-trial 1\nid 0000000000000001\nimage " + std::string(64, 'a') + "\n";
  TrialRecord r;
  std::string error;
  ASSERT_TRUE(parse_trial_record(minimal + "future-key whatever\n\n", &r, &error)) << error;
  EXPECT_EQ(r.id, 1u);
  EXPECT_EQ(r.image_sha256[0], 0xAA);
  EXPECT_EQ(r.peers, 0u);
  EXPECT_FALSE(r.stopped);
}

TEST(OtaTrialText, MalformedRecordsAreRefusedWithASentence) {
  const std::string good = format_trial_record(sample());
  const std::string head = "spore-ota-trial 1\nid 0000000000000001\nimage " + std::string(64, 'a') + "\n";
  const struct {
    std::string text;
    const char* says;
  } cases[] = {
      {"", "empty"},
      {"spore-ota-trial 2\n", "does not start"},
      {"spore-ota-trial 1\nimage " + std::string(64, 'a') + "\n", "lacks"},
      {"spore-ota-trial 1\nid 0000000000000001\n", "lacks"},
      {"spore-ota-trial 1\nid 0000000000000000\nimage " + std::string(64, 'a'), "'id'"},
      {"spore-ota-trial 1\nid 00000000000001\nimage " + std::string(64, 'a'), "'id'"},
      {"spore-ota-trial 1\nid 000000000000000g\nimage " + std::string(64, 'a'), "'id'"},
      {"spore-ota-trial 1\nid 0000000000000001\nimage " + std::string(63, 'a'), "'image'"},
      {head + "peers -1\n", "'peers'"},
      {head + "peers 65536\n", "'peers'"},
      {head + "guardian 99999999999\n", "'guardian'"},
      {head + "state running\n", "'state'"},
      {head + "image-version a b\n", "'image-version'"},
      {head + "previous xyz\n", "'previous'"},
      {head + "reason trailing \n", "'reason'"},
      {head + "reason " + std::string(301, 'r') + "\n", "'reason'"},
      {head + "peers 1\npeers 2\n", "twice"},
      {head + "reason a\rb\n", "control character"},
      {good + std::string(kMaxTrialRecordBytes, ' '), "longer than"},
  };
  for (const auto& c : cases) {
    TrialRecord r = sample();
    std::string error;
    EXPECT_FALSE(parse_trial_record(c.text, &r, &error)) << c.text;
    EXPECT_NE(error.find(c.says), std::string::npos) << c.text << " -> " << error;
    EXPECT_TRUE(r == sample()) << "written although refused";
  }
}

TEST(OtaTrialText, DecimalParser) {
  uint32_t v = 7;
  EXPECT_TRUE(parse_decimal_u32("0", 10, &v));
  EXPECT_EQ(v, 0u);
  EXPECT_TRUE(parse_decimal_u32("4294967295", UINT32_MAX, &v));
  EXPECT_EQ(v, UINT32_MAX);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "4294967296", "12345678901", "1a", "11"}) {
    EXPECT_FALSE(parse_decimal_u32(bad, 10, &v)) << bad;
  }
}

}  // namespace
}  // namespace spore::posix
