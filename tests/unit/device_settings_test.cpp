// DeviceSettings: what a device does at boot with its stored settings record (issue 16 item 4):
// a record that exists is never written over by the node itself, whatever it holds.

#include "spore/device/device_settings.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "spore/device/token_drbg.h"

namespace spore {
namespace {

class FakeStore final : public SettingsStore {
 public:
  StoredSettings what = StoredSettings::kNone;
  std::string text;
  int saves = 0;
  bool refuse = false;

  StoredSettings load(char* out, size_t out_bytes, size_t* size_bytes) override {
    *size_bytes = 0;
    if (what != StoredSettings::kText) return what;
    if (text.size() >= out_bytes) return StoredSettings::kUnreadable;
    text.copy(out, text.size());
    out[text.size()] = '\0';
    *size_bytes = text.size();
    return what;
  }
  bool save(const char* t, size_t n) override {
    if (refuse) return false;
    ++saves;
    text.assign(t, n);
    what = StoredSettings::kText;
    return true;
  }
};

class StepEntropy final : public EntropySource {
 public:
  uint32_t hardware_sample_u32() override { return s_ += 0x9E3779B9u; }
  uint32_t micros_now() override { return t_ += 50; }

 private:
  uint32_t s_ = 1;
  uint32_t t_ = 0;
};

constexpr uint8_t kMac[6] = {1, 2, 3, 4, 5, 6};
constexpr const char* kGood =
    "wifi_ssid=Home\nwifi_password=correct horse\napi_token=stored-token\ncluster_key=00112233445566778899aabbccddeeff\n";

// Boots `boots` times: begin(), then the radio comes up and the pending token is drawn.
void boot(DeviceSettings& s, StepEntropy& e, std::string_view sketch_token = {}, int boots = 1) {
  for (int i = 0; i < boots; ++i) {
    s.begin("", "", sketch_token);
    s.draw_token(e, kMac);
  }
}

// A store holding `what` (and `text`), booted `boots` times.
class DeviceSettingsBoots : public ::testing::Test {
 protected:
  void boot_with(StoredSettings what, std::string text = {}, int boots = 1) {
    store.what = what;
    store.text = std::move(text);
    boot(s, e, {}, boots);
  }
  FakeStore store;
  DeviceSettings s{store};
  StepEntropy e;
};

TEST(DeviceSettings, AnEmptyStoreGetsATokenSavedOnceTheRadioIsUp) {
  FakeStore store;
  DeviceSettings s(store);
  StepEntropy e;
  s.begin("BuildNet", "buildpass", "");
  EXPECT_EQ(s.access(), SettingsAccess::kNoRecord);
  EXPECT_FALSE(s.read_only());
  EXPECT_TRUE(s.token_pending());
  EXPECT_EQ(store.saves, 0);  // nothing before the radio is up
  EXPECT_TRUE(s.draw_token(e, kMac));
  EXPECT_EQ(store.saves, 1);
  EXPECT_FALSE(s.token_pending());
  const std::string token(s.api_token());
  EXPECT_EQ(token.size(), kGeneratedTokenChars);
  EXPECT_NE(store.text.find("api_token=" + token), std::string::npos);
  // The next boot runs on the record and saves nothing.
  s.begin("", "", "");
  EXPECT_EQ(s.access(), SettingsAccess::kStored);
  EXPECT_FALSE(s.token_pending());
  EXPECT_FALSE(s.draw_token(e, kMac));
  EXPECT_EQ(s.api_token(), token);
  EXPECT_EQ(store.saves, 1);
}

TEST_F(DeviceSettingsBoots, ADamagedRecordIsNeverWrittenOverByTheNode) {
  boot_with(StoredSettings::kDamaged, {}, 3);
  EXPECT_EQ(s.access(), SettingsAccess::kReadOnly);
  EXPECT_TRUE(s.read_only());
  EXPECT_EQ(store.saves, 0);
  EXPECT_EQ(store.what, StoredSettings::kDamaged);
  // The API is never open: a token for this boot, which a save by the user would store.
  EXPECT_EQ(s.api_token().size(), kGeneratedTokenChars);
  EXPECT_EQ(s.config().api_token(), s.api_token());
}

TEST_F(DeviceSettingsBoots, ARecordThatDoesNotParseRunsReadOnlyOnWhatDoes) {
  const std::string before = std::string(kGood) + "no_bearer=maybe\n";  // say, a newer image's value
  boot_with(StoredSettings::kText, before, 3);
  EXPECT_EQ(s.access(), SettingsAccess::kReadOnly);
  EXPECT_EQ(s.bad_lines(), 1u);
  EXPECT_EQ(s.first_error().line, 5u);
  EXPECT_STREQ(s.config().wifi_ssid(), "Home");
  EXPECT_EQ(s.api_token(), "stored-token");
  EXPECT_EQ(store.saves, 0);
  EXPECT_EQ(store.text, before);
  EXPECT_TRUE(s.degraded());  // no_bearer=1 may have been meant
  // Until the user saves new settings.
  s.saved_by_user();
  EXPECT_FALSE(s.read_only());
}

// Review finding 2: a refused cluster_key (here 33 bytes) and no_bearer line left WiFi and the
// token valid, so the node ran its cluster services keyless with bearer tokens back on.
TEST_F(DeviceSettingsBoots, ARecordWhoseKeyOrNoBearerIsRefusedRunsDegraded) {
  const std::string refused_key = "wifi_ssid=Home\nwifi_password=correct horse\napi_token=tok\ncluster_key=" +
                                  std::string(66, 'a') + "\nno_bearer=yes\n";
  for (const std::string& text :
       {refused_key, std::string(kGood) + "no_bearer=yes\n", std::string(kGood) + "no_bearer=1\nno_bearer=1\n",
        std::string("wifi_ssid=Home\ncluster_key 00112233445566778899aabbccddeeff\n"),
        std::string(kGood) + "cluster_key=00112233445566778899aabbccddeeff\n"}) {
    SCOPED_TRACE(text);
    boot_with(StoredSettings::kText, text);
    EXPECT_EQ(s.access(), SettingsAccess::kReadOnly);
    EXPECT_TRUE(s.degraded());
    EXPECT_EQ(store.saves, 0);
  }
  boot_with(StoredSettings::kText, refused_key);
  EXPECT_TRUE(s.config().cluster_key_hex().empty());  // what the cluster services would have run on
  s.saved_by_user();  // the portal saved: the user's settings now
  EXPECT_FALSE(s.degraded());
}

TEST_F(DeviceSettingsBoots, ARecordOfUnknownStateRunsDegradedOneWithoutAreaDoesNot) {
  boot_with(StoredSettings::kDamaged);
  EXPECT_TRUE(s.degraded());
  boot_with(StoredSettings::kUnreadable);
  EXPECT_TRUE(s.degraded());
  boot_with(StoredSettings::kNoArea);
  EXPECT_EQ(s.access(), SettingsAccess::kUnavailable);
  EXPECT_FALSE(s.degraded());
  EXPECT_EQ(store.saves, 0);
  boot_with(StoredSettings::kNone);
  EXPECT_FALSE(s.degraded());
  boot_with(StoredSettings::kText, kGood);
  EXPECT_FALSE(s.degraded());
  // A refused line that protects nothing keeps the services: the key is there.
  boot_with(StoredSettings::kText, std::string(kGood) + "not a setting\n");
  EXPECT_EQ(s.access(), SettingsAccess::kReadOnly);
  EXPECT_FALSE(s.degraded());
  EXPECT_EQ(s.config().cluster_key_hex(), "00112233445566778899aabbccddeeff");
}

TEST_F(DeviceSettingsBoots, ANewerImagesKeysAreNoReasonToRefuseOrRewrite) {
  boot_with(StoredSettings::kText, std::string(kGood) + "mqtt_host=broker\n");
  EXPECT_EQ(s.access(), SettingsAccess::kStored);
  EXPECT_FALSE(s.read_only());
  EXPECT_EQ(s.config().unknown_keys(), 1u);
  EXPECT_EQ(s.api_token(), "stored-token");
  EXPECT_EQ(store.saves, 0);
}

TEST_F(DeviceSettingsBoots, AnUnreadableStoreIsNeverWritten) {
  boot_with(StoredSettings::kUnreadable);
  EXPECT_EQ(s.access(), SettingsAccess::kUnavailable);
  EXPECT_TRUE(s.read_only());
  EXPECT_EQ(store.saves, 0);
  EXPECT_FALSE(s.api_token().empty());
}

// Review finding 3: system_param_load() returns true after a failed flash read, with a zero
// buffer; the store called that kNone and the node saved a fresh record over the user's. Only
// reads that all succeed and all lack the magic mean an empty store.
TEST(StoredSettingsFrom, AnEmptyStoreIsOnlyOneReadWholeWithoutAnyRecord) {
  using R = RecordRead;
  const R all[] = {R::kFailed, R::kNoMagic, R::kMagic, R::kIntact};
  int none = 0;
  for (R loaded : all) {
    for (R a : all) {
      for (R b : all) {
        const StoredSettings got = stored_settings_from(loaded, a, b);
        if (loaded == R::kIntact) {
          EXPECT_EQ(got, StoredSettings::kText);
        } else if (loaded == R::kNoMagic && a == R::kNoMagic && b == R::kNoMagic) {
          EXPECT_EQ(got, StoredSettings::kNone);
          ++none;
        } else {
          EXPECT_EQ(got, StoredSettings::kDamaged) << int(loaded) << int(a) << int(b);
        }
      }
    }
  }
  EXPECT_EQ(none, 1);
  // The finding's case: the load's read failed (a zero buffer), the copies hold the user's record.
  EXPECT_EQ(stored_settings_from(R::kNoMagic, R::kIntact, R::kNoMagic), StoredSettings::kDamaged);
  EXPECT_EQ(stored_settings_from(R::kNoMagic, R::kFailed, R::kNoMagic), StoredSettings::kDamaged);
}

TEST(DeviceSettings, TheSketchsTokenMeansNoDraw) {
  FakeStore store;
  DeviceSettings s(store);
  StepEntropy e;
  boot(s, e, "sketch-token");
  EXPECT_FALSE(s.token_pending());
  EXPECT_EQ(s.api_token(), "sketch-token");
  EXPECT_EQ(store.saves, 0);
}

TEST(DeviceSettings, AnInvalidSketchTokenGetsATokenForThisBootOnly) {
  FakeStore store;
  DeviceSettings s(store);
  StepEntropy e;
  s.begin("", "", "has space");
  EXPECT_TRUE(s.sketch_token_invalid());
  EXPECT_TRUE(s.token_pending());
  EXPECT_FALSE(s.draw_token(e, kMac));
  EXPECT_EQ(store.saves, 0);
  EXPECT_EQ(s.api_token().size(), kGeneratedTokenChars);
}

TEST(DeviceSettings, ARefusedSaveIsReportedAndTheTokenStillRuns) {
  FakeStore store;
  store.refuse = true;
  DeviceSettings s(store);
  StepEntropy e;
  s.begin("", "", "");
  EXPECT_FALSE(s.draw_token(e, kMac));
  EXPECT_EQ(s.api_token().size(), kGeneratedTokenChars);
}

TEST(DeviceSettings, BuildWifiFillsOnlyWhatIsNotStored) {
  FakeStore store;
  store.what = StoredSettings::kText;
  store.text = kGood;
  DeviceSettings s(store);
  s.begin("BuildNet", "buildpass", "");
  EXPECT_STREQ(s.config().wifi_ssid(), "Home");
  store.what = StoredSettings::kNone;
  s.begin("BuildNet", "short", "");
  EXPECT_NE(s.build_wifi_error(), nullptr);
  EXPECT_FALSE(s.config().has_wifi());
}

}  // namespace
}  // namespace spore
