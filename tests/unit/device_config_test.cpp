// DeviceConfig: the persisted settings file. Every rejection leaves the previous settings as
// they were and names the line; serialize() and parse() round-trip.

#include "spore/device/device_config.h"

#include "spore/http/rest_api.h"
#include "spore/device/token_drbg.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace spore {
namespace {

constexpr const char* kKey32 = "00112233445566778899aabbccddeeff";
constexpr const char* kFull =
    "# written by hand\n"
    "wifi_ssid=My Network\n"
    "wifi_password=correct horse\n"
    "\n"
    "api_token=s3cret-token\n"
    "cluster_key=00112233445566778899aabbccddeeff\n";

DeviceConfig parsed(std::string_view text) {
  DeviceConfig c;
  DeviceConfigError e;
  EXPECT_TRUE(c.parse(text, &e)) << e.line << ": " << (e.reason ? e.reason : "");
  return c;
}

// Parses `text` into a config holding kFull and expects the error at `line`, nothing changed.
void expect_rejected(std::string_view text, uint16_t line) {
  DeviceConfig c = parsed(kFull);
  DeviceConfigError e;
  EXPECT_FALSE(c.parse(text, &e)) << text;
  EXPECT_EQ(e.line, line) << text;
  ASSERT_NE(e.reason, nullptr);
  EXPECT_STRNE(e.reason, "");
  EXPECT_STREQ(c.wifi_ssid(), "My Network");
  EXPECT_STREQ(c.wifi_password(), "correct horse");
  EXPECT_EQ(c.api_token(), "s3cret-token");
  EXPECT_EQ(c.cluster_key_hex(), kKey32);
}

TEST(DeviceConfig, ParsesEveryField) {
  const DeviceConfig c = parsed(kFull);
  EXPECT_TRUE(c.has_wifi());
  EXPECT_STREQ(c.wifi_ssid(), "My Network");
  EXPECT_STREQ(c.wifi_password(), "correct horse");
  EXPECT_EQ(c.api_token(), "s3cret-token");
  EXPECT_EQ(c.cluster_key_hex(), kKey32);
}

TEST(DeviceConfig, EmptyTextIsAnEmptyConfig) {
  DeviceConfig c = parsed(kFull);
  DeviceConfigError e;
  ASSERT_TRUE(c.parse("", &e));
  EXPECT_EQ(e.reason, nullptr);
  EXPECT_FALSE(c.has_wifi());
  EXPECT_STREQ(c.wifi_password(), "");
  EXPECT_TRUE(c.api_token().empty());
  EXPECT_TRUE(c.cluster_key_hex().empty());
}

TEST(DeviceConfig, CrLfCommentsBlankLinesAndMissingFinalNewline) {
  const DeviceConfig c = parsed("#c\r\n\r\nwifi_ssid= spaced \r\nwifi_password=12345678");
  EXPECT_STREQ(c.wifi_ssid(), " spaced ");  // nothing trimmed but the \r
  EXPECT_STREQ(c.wifi_password(), "12345678");
}

TEST(DeviceConfig, ValueMayContainEqualsAndHash) {
  const DeviceConfig c = parsed("wifi_ssid=a=b#c\napi_token=abc==\n");
  EXPECT_STREQ(c.wifi_ssid(), "a=b#c");
  EXPECT_EQ(c.api_token(), "abc==");
}

TEST(DeviceConfig, EmptyValueMeansUnset) {
  const DeviceConfig c = parsed("wifi_ssid=\nwifi_password=\napi_token=\ncluster_key=\n");
  EXPECT_FALSE(c.has_wifi());
  EXPECT_TRUE(c.api_token().empty());
}

TEST(DeviceConfig, OpenNetworkHasEmptyPassword) {
  const DeviceConfig c = parsed("wifi_ssid=cafe\n");
  EXPECT_TRUE(c.has_wifi());
  EXPECT_STREQ(c.wifi_password(), "");
}

TEST(DeviceConfig, RejectsWithLineAndChangesNothing) {
  expect_rejected("wifi_ssid=x\nwifi_ssid=y\n", 2);                   // twice
  expect_rejected("\n\njust text\n", 3);                              // no '='
  expect_rejected("=x\n", 1);                                         // no key
  expect_rejected("wifi_ssid=" + std::string(33, 'a') + "\n", 1);     // SSID too long
  expect_rejected("wifi_ssid=a\tb\n", 1);                             // control character
  expect_rejected("wifi_ssid=x\nwifi_password=short\n", 2);           // < 8
  expect_rejected("wifi_ssid=x\nwifi_password=" + std::string(65, 'a') + "\n", 2);
  expect_rejected("wifi_ssid=x\nwifi_password=" + std::string(64, 'g') + "\n", 2);  // not a PSK
  expect_rejected("wifi_ssid=x\nwifi_password=caf\xc3\xa9 au lait\n", 2);  // WPA2 is ASCII
  expect_rejected("#\nwifi_password=12345678\n", 2);                  // password without SSID
  expect_rejected("api_token=has space\n", 1);
  expect_rejected("api_token=" + std::string(65, 'a') + "\n", 1);
  expect_rejected("cluster_key=abc\n", 1);                            // odd length
  expect_rejected("cluster_key=00112233445566778899aabbccddee\n", 1);  // 15 bytes
  expect_rejected("cluster_key=" + std::string(66, 'a') + "\n", 1);   // 33 bytes
  expect_rejected("cluster_key=00112233445566778899aabbccddeezz\n", 1);
  expect_rejected("no_bearer=yes\n", 1);
  expect_rejected("no_bearer=2\n", 1);
}

TEST(DeviceConfig, NoBearerRoundTrips) {
  EXPECT_FALSE(parsed(kFull).no_bearer());
  EXPECT_FALSE(parsed("no_bearer=0\n").no_bearer());
  EXPECT_FALSE(parsed("no_bearer=\n").no_bearer());
  const DeviceConfig c = parsed(std::string(kFull) + "no_bearer=1\n");
  EXPECT_TRUE(c.no_bearer());
  char text[512];
  ASSERT_GT(c.serialize(text, sizeof text), 0u);
  EXPECT_NE(std::string(text).find("no_bearer=1\n"), std::string::npos);
  EXPECT_TRUE(parsed(text).no_bearer());
}

// liveness= picks how the board's liveness evidence travels; broadcast (the ESP8266 profile's)
// unless set, written back as given, and a bad value changes nothing.
TEST(DeviceConfig, LivenessRoundTripsAndRefusesOtherValues) {
  EXPECT_FALSE(parsed(kFull).digest_liveness());
  EXPECT_FALSE(parsed("liveness=broadcast\n").digest_liveness());
  EXPECT_FALSE(parsed("liveness=\n").digest_liveness());
  const DeviceConfig c = parsed(std::string(kFull) + "liveness=digest\n");
  EXPECT_TRUE(c.digest_liveness());
  char text[512];
  ASSERT_GT(c.serialize(text, sizeof text), 0u);
  EXPECT_NE(std::string(text).find("liveness=digest\n"), std::string::npos);
  EXPECT_TRUE(parsed(text).digest_liveness());
  // An explicit broadcast stays explicit; none is written when none was given.
  ASSERT_GT(parsed("liveness=broadcast\n").serialize(text, sizeof text), 0u);
  EXPECT_NE(std::string(text).find("liveness=broadcast\n"), std::string::npos);
  ASSERT_GT(parsed(kFull).serialize(text, sizeof text), 0u);
  EXPECT_EQ(std::string(text).find("liveness"), std::string::npos);

  DeviceConfig d = parsed(std::string(kFull) + "liveness=digest\n");
  DeviceConfigError e;
  for (const char* bad : {"liveness=Digest\n", "liveness=chain\n", "liveness=digest \n", "liveness=1\n"}) {
    EXPECT_FALSE(d.parse(std::string(kFull) + bad, &e)) << bad;
    EXPECT_EQ(e.line, 7) << bad;
    EXPECT_STREQ(e.reason, "liveness: broadcast or digest");
    EXPECT_TRUE(d.digest_liveness()) << bad;  // unchanged
  }
  EXPECT_FALSE(d.parse("liveness=digest\nliveness=broadcast\n", &e));
  EXPECT_EQ(e.line, 2);
  EXPECT_TRUE(d.digest_liveness());
  expect_rejected("liveness=gossip\n", 1);
  // salvage() keeps the rest of a record whose liveness line is bad, and runs the default mode.
  EXPECT_EQ(d.salvage(std::string(kFull) + "liveness=fast\n", &e), 1u);
  EXPECT_FALSE(d.digest_liveness());
  EXPECT_EQ(d.api_token(), "s3cret-token");
  EXPECT_FALSE(d.guard_refused());
}

// Issue 16 item 4: an older image run after a newer one that added a setting must neither refuse
// the settings (the node would lose WiFi, token and key) nor drop the newer line when it saves.
TEST(DeviceConfig, UnknownKeysAreKeptAndWrittenBack) {
  DeviceConfig c;
  DeviceConfigError e;
  ASSERT_TRUE(c.parse(std::string(kFull) + "mqtt_host=broker.lan\n wifi_ssid=typo\nfuture=a=b\r\n", &e));
  EXPECT_EQ(e.reason, nullptr);
  EXPECT_STREQ(c.wifi_ssid(), "My Network");  // the typo's line is not the SSID
  EXPECT_EQ(c.unknown_keys(), 3u);
  EXPECT_EQ(c.unknown_keys_dropped(), 0u);
  char text[SPORE_DEVICE_CONFIG_MAX_BYTES];
  const size_t n = c.serialize(text, sizeof text);
  ASSERT_GT(n, 0u);
  // As read, a line's '\r' included: the text reads back to the same lines.
  EXPECT_NE(std::string(text).find("\nmqtt_host=broker.lan\n wifi_ssid=typo\nfuture=a=b\r\n"), std::string::npos) << text;
  // A save after a change in the portal keeps them too.
  ASSERT_EQ(c.set_wifi("Other", "12345678"), nullptr);
  ASSERT_GT(c.serialize(text, sizeof text), 0u);
  DeviceConfig again = parsed(text);
  EXPECT_STREQ(again.wifi_ssid(), "Other");
  EXPECT_EQ(again.unknown_keys(), 3u);
  char twice[SPORE_DEVICE_CONFIG_MAX_BYTES];
  ASSERT_GT(again.serialize(twice, sizeof twice), 0u);
  EXPECT_STREQ(twice, text);
}

TEST(DeviceConfig, UnknownLinesOverTheBudgetAreCountedAndLeftOut) {
  const std::string line = "k" + std::string(SPORE_DEVICE_CONFIG_UNKNOWN_BYTES / 2 - 5, 'v');  // "a" + line + "=1\n": 64 bytes, 2 fit, not 3
  const DeviceConfig c = parsed("a" + line + "=1\nb" + line + "=2\nc" + line + "=3\n");
  EXPECT_EQ(c.unknown_keys(), 3u);
  EXPECT_EQ(c.unknown_keys_dropped(), 1u);
  char text[SPORE_DEVICE_CONFIG_MAX_BYTES];
  ASSERT_GT(c.serialize(text, sizeof text), 0u);
  EXPECT_NE(std::string(text).find("b" + line), std::string::npos);
  EXPECT_EQ(std::string(text).find("c" + line), std::string::npos);
}

TEST(DeviceConfig, EverySettingAtItsLongestWithTheUnknownBudgetFits) {
  DeviceConfig c = parsed("wifi_ssid=" + std::string(32, 's') + "\nwifi_password=" + std::string(64, 'a') +
                          "\napi_token=" + std::string(64, 't') + "\ncluster_key=" + std::string(64, 'f') +
                          "\nno_bearer=1\nx=" + std::string(SPORE_DEVICE_CONFIG_UNKNOWN_BYTES - 4, 'u') + "\n");
  EXPECT_EQ(c.unknown_keys_dropped(), 0u);
  char text[SPORE_DEVICE_CONFIG_MAX_BYTES];
  EXPECT_GT(c.serialize(text, sizeof text), 0u);
}

TEST(DeviceConfig, SalvageKeepsWhatIsValidOnItsOwn) {
  DeviceConfig c = parsed(kFull);
  DeviceConfigError e;
  const uint16_t bad = c.salvage(
      "wifi_ssid=Net\nwifi_password=short\napi_token=good-token\njunk\napi_token=second\ncluster_key=zz\nnew_key=1\n", &e);
  EXPECT_EQ(bad, 4u);  // junk, the second api_token, the bad key, the short password
  EXPECT_EQ(e.line, 4u);
  ASSERT_NE(e.reason, nullptr);
  EXPECT_EQ(c.api_token(), "good-token");
  EXPECT_FALSE(c.has_wifi());  // SSID and password are taken together
  EXPECT_TRUE(c.cluster_key_hex().empty());
  EXPECT_EQ(c.unknown_keys(), 1u);
  // A text parse() accepts salvages to the same settings.
  DeviceConfig d;
  EXPECT_EQ(d.salvage(kFull, &e), 0u);
  EXPECT_EQ(d.api_token(), "s3cret-token");
  EXPECT_STREQ(d.wifi_ssid(), "My Network");
}

TEST(DeviceConfig, NullErrorPointerIsAllowed) {
  DeviceConfig c;
  EXPECT_FALSE(c.parse("nope\n", nullptr));
  EXPECT_TRUE(c.parse("wifi_ssid=x\n", nullptr));
}

TEST(DeviceConfig, AcceptsLimits) {
  const std::string psk(64, 'A');
  const DeviceConfig c = parsed("wifi_ssid=" + std::string(32, 's') + "\nwifi_password=" + psk +
                                "\napi_token=" + std::string(64, 't') + "\ncluster_key=" + std::string(64, 'f') +
                                "\n");
  EXPECT_EQ(std::string(c.wifi_ssid()).size(), 32u);
  EXPECT_EQ(c.wifi_password(), psk);
  EXPECT_EQ(c.api_token().size(), 64u);
  EXPECT_EQ(c.cluster_key_hex().size(), 64u);
  EXPECT_EQ(parsed("wifi_ssid=\xe2\x98\x95 caf\xc3\xa9\n").wifi_ssid(), std::string("\xe2\x98\x95 caf\xc3\xa9"));
}

TEST(DeviceConfig, RoundTrip) {
  const DeviceConfig a = parsed(kFull);
  char text[SPORE_DEVICE_CONFIG_MAX_BYTES];
  const size_t n = a.serialize(text, sizeof text);
  ASSERT_GT(n, 0u);
  EXPECT_EQ(std::strlen(text), n);
  const DeviceConfig b = parsed(std::string_view(text, n));
  EXPECT_STREQ(b.wifi_ssid(), a.wifi_ssid());
  EXPECT_STREQ(b.wifi_password(), a.wifi_password());
  EXPECT_EQ(b.api_token(), a.api_token());
  EXPECT_EQ(b.cluster_key_hex(), a.cluster_key_hex());
}

TEST(DeviceConfig, LongestConfigFitsTheLimit) {
  const DeviceConfig a = parsed("wifi_ssid=" + std::string(32, 's') + "\nwifi_password=" + std::string(64, 'a') +
                                "\napi_token=" + std::string(64, 't') + "\ncluster_key=" + std::string(64, 'f') +
                                "\n");
  char text[SPORE_DEVICE_CONFIG_MAX_BYTES];
  EXPECT_GT(a.serialize(text, sizeof text), 0u);
}

TEST(DeviceConfig, SerializeRefusesASmallBuffer) {
  const DeviceConfig a = parsed(kFull);
  char text[40];
  std::memset(text, 'x', sizeof text);
  EXPECT_EQ(a.serialize(text, sizeof text), 0u);
  EXPECT_STREQ(text, "");
  EXPECT_EQ(a.serialize(nullptr, 0), 0u);
}

TEST(DeviceConfig, EmptyConfigSerializesToJustTheComment) {
  char text[64];
  const size_t n = DeviceConfig().serialize(text, sizeof text);
  ASSERT_GT(n, 0u);
  EXPECT_EQ(parsed(text).has_wifi(), false);
}

TEST(DeviceConfig, SetWifiValidatesAndKeepsOtherFields) {
  DeviceConfig c = parsed(kFull);
  EXPECT_NE(c.set_wifi("", "12345678"), nullptr);
  EXPECT_NE(c.set_wifi("x", "1234567"), nullptr);
  EXPECT_NE(c.set_wifi(std::string_view("a\0b", 3), ""), nullptr);
  EXPECT_STREQ(c.wifi_ssid(), "My Network");
  EXPECT_EQ(c.set_wifi("Other", "87654321"), nullptr);
  EXPECT_STREQ(c.wifi_ssid(), "Other");
  EXPECT_STREQ(c.wifi_password(), "87654321");
  EXPECT_EQ(c.api_token(), "s3cret-token");
  EXPECT_EQ(c.set_wifi("", ""), nullptr);  // forget
  EXPECT_FALSE(c.has_wifi());
}

TEST(DeviceConfig, ShorterValueLeavesNoTailOfTheLongerOne) {
  DeviceConfig c;
  ASSERT_EQ(c.set_wifi("a-long-network-name", "a-long-password"), nullptr);
  ASSERT_EQ(c.set_wifi("ab", "12345678"), nullptr);
  EXPECT_STREQ(c.wifi_ssid(), "ab");
  EXPECT_STREQ(c.wifi_password(), "12345678");
}


// Firmware precedence: stored settings > build flags > setup portal; stored token > sketch's.
TEST(DeviceConfigPrecedence, BuildWifiFillsOnlyWhenNothingIsStored) {
  DeviceConfig none;
  EXPECT_EQ(none.use_build_wifi("Build", "build-password"), nullptr);
  EXPECT_STREQ(none.wifi_ssid(), "Build");
  EXPECT_STREQ(none.wifi_password(), "build-password");

  DeviceConfig stored = parsed(kFull);
  EXPECT_EQ(stored.use_build_wifi("Build", "build-password"), nullptr);
  EXPECT_STREQ(stored.wifi_ssid(), "My Network");
  EXPECT_STREQ(stored.wifi_password(), "correct horse");
}

TEST(DeviceConfigPrecedence, EmptyBuildSsidIsNoCredentials) {
  DeviceConfig none;
  EXPECT_EQ(none.use_build_wifi("", ""), nullptr);
  EXPECT_FALSE(none.has_wifi());
}

TEST(DeviceConfigPrecedence, InvalidBuildWifiIsReportedAndChangesNothing) {
  DeviceConfig none;
  const char* error = none.use_build_wifi("Build", "short");
  ASSERT_NE(error, nullptr);
  EXPECT_GT(std::strlen(error), 5u);
  EXPECT_FALSE(none.has_wifi());
}

TEST(DeviceConfigPrecedence, StoredTokenWinsOverTheSketchs) {
  DeviceConfig none;
  EXPECT_EQ(none.effective_api_token("from-sketch"), "from-sketch");
  EXPECT_EQ(none.effective_api_token(""), "");
  DeviceConfig stored = parsed(kFull);
  EXPECT_EQ(stored.effective_api_token("from-sketch"), "s3cret-token");
}

}  // namespace
}  // namespace spore

namespace spore {
namespace {

// Hardware samples and clock readings that count up from a start: a deterministic EntropySource.
class CountingEntropy final : public EntropySource {
 public:
  explicit CountingEntropy(uint32_t start) : sample_(start) {}
  uint32_t hardware_sample_u32() override { return ++samples_, sample_ += 0x01234567u; }
  uint32_t micros_now() override { return micros_ += 53; }
  size_t samples() const { return samples_; }

 private:
  uint32_t sample_;
  uint32_t micros_ = 1000;
  size_t samples_ = 0;
};

constexpr uint8_t kMac[6] = {0x5c, 0xcf, 0x7f, 0x01, 0x02, 0x03};

TEST(DeviceConfig, AFreshBoardDrawsItsTokenFromTheDrbg) {
  DeviceConfig c;
  ASSERT_TRUE(c.needs_generated_token(""));
  CountingEntropy entropy(7);
  c.generate_api_token(entropy, kMac);
  EXPECT_EQ(entropy.samples(), kTokenEntropySamples);
  EXPECT_EQ(c.api_token().size(), kGeneratedTokenChars);
  EXPECT_TRUE(RestApi::valid_api_token(c.api_token()));
  EXPECT_FALSE(c.needs_generated_token(""));  // kept: the next boot finds it stored
  const std::string first(c.api_token());
  char text[SPORE_DEVICE_CONFIG_MAX_BYTES];
  ASSERT_GT(c.serialize(text, sizeof text), 0u);
  DeviceConfig again;
  ASSERT_TRUE(again.parse(text, nullptr));
  EXPECT_EQ(again.api_token(), first);
}

TEST(DeviceConfig, NoTokenIsNeededWhenTheSketchPassesOne) {
  DeviceConfig c;
  EXPECT_FALSE(c.needs_generated_token("from-the-sketch"));
  EXPECT_TRUE(c.api_token().empty());
  EXPECT_EQ(c.effective_api_token("from-the-sketch"), "from-the-sketch");
}

}  // namespace
}  // namespace spore
