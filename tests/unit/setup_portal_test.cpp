#include "spore/device/setup_portal.h"

#include <gtest/gtest.h>

#include "fakes.h"
#include "spore/node/node_context.h"

namespace spore {
namespace {

using testing::FakeClock;
using testing::FakeRandom;
using testing::FakeSystemInfo;
using Route = SetupPortal::Route;

constexpr std::string_view kForm = SetupPortal::kFormContentType;

TEST(SetupPortalRoute, ClosedPortalTakesNothing) {
  EXPECT_EQ(SetupPortal::route(false, HttpMethod::kGet, "/", "", 0), Route::kNotMine);
  EXPECT_EQ(SetupPortal::route(false, HttpMethod::kPost, "/wifi", kForm, 40), Route::kNotMine);
}

TEST(SetupPortalRoute, OpenPortalAnswersEveryGetButTheApi) {
  for (const char* path : {"/", "/generate_204", "/hotspot-detect.html", "/connecttest.txt", "/wifi", "/api"}) {
    EXPECT_EQ(SetupPortal::route(true, HttpMethod::kGet, path, "", 0), Route::kPage) << path;
  }
  EXPECT_EQ(SetupPortal::route(true, HttpMethod::kGet, "/api/node/status", "", 0), Route::kNotMine);
  EXPECT_EQ(SetupPortal::route(true, HttpMethod::kPost, "/api/node/update", kForm, 100), Route::kNotMine);
}

TEST(SetupPortalRoute, OnlyPostWifiSubmits) {
  EXPECT_EQ(SetupPortal::route(true, HttpMethod::kPost, "/wifi", kForm, 40), Route::kSubmit);
  EXPECT_EQ(SetupPortal::route(true, HttpMethod::kPost, "/wifi", "Application/X-Spore-Setup-Form; charset=utf-8", 40),
            Route::kSubmit);
  EXPECT_EQ(SetupPortal::route(true, HttpMethod::kPost, "/wifi/", kForm, 40), Route::kNotMine);
  EXPECT_EQ(SetupPortal::route(true, HttpMethod::kPut, "/wifi", kForm, 40), Route::kNotMine);
}

// Issue 16 item 1: the portal took 512-byte form bodies on any non-/api/ path (parsed by the
// library into a heap list); now only POST /wifi has a body, in its own type, read by SPORE.
TEST(SetupPortalRoute, BodiesOutsidePostWifiAreNotThePortals) {
  EXPECT_EQ(SetupPortal::route(true, HttpMethod::kPost, "/", "application/x-www-form-urlencoded", 500),
            Route::kNotMine);
  EXPECT_EQ(SetupPortal::route(true, HttpMethod::kPost, "/generate_204", kForm, 40), Route::kNotMine);
  EXPECT_EQ(SetupPortal::route(true, HttpMethod::kGet, "/", "", 10), Route::kNotMine);
}

TEST(SetupPortalRoute, OtherPostsToWifiAreBadSubmits) {
  // A browser without script posts the plain form: refused with the form, never parsed.
  EXPECT_EQ(SetupPortal::route(true, HttpMethod::kPost, "/wifi", "application/x-www-form-urlencoded", 40),
            Route::kBadSubmit);
  EXPECT_EQ(SetupPortal::route(true, HttpMethod::kPost, "/wifi", kForm, 0), Route::kBadSubmit);
  EXPECT_EQ(SetupPortal::route(true, HttpMethod::kPost, "/wifi", kForm, SetupPortal::kMaxBodyBytes), Route::kSubmit);
  EXPECT_EQ(SetupPortal::route(true, HttpMethod::kPost, "/wifi", kForm, SetupPortal::kMaxBodyBytes + 1),
            Route::kBadSubmit);
}

class SetupPortalSubmit : public ::testing::Test {
 protected:
  SetupPortalSubmit() : ctx(Config::default_esp8266(), clock, rnd, sys, nullptr), api(ctx) {
    EXPECT_TRUE(ctx.begin({0x00ABCDEFu, 1, 0, "esp_abcdef"}));
    EXPECT_TRUE(api.begin());
    DeviceConfigError e;
    EXPECT_TRUE(config.parse("wifi_ssid=Old\nwifi_password=old-password\n", &e));
  }
  FakeClock clock{1000};
  FakeRandom rnd;
  FakeSystemInfo sys;
  NodeContext ctx;
  RestApi api;
  DeviceConfig config;
  SetupPortal portal;
};

TEST_F(SetupPortalSubmit, GoodCredentialsAreStoredAndAppliedAfterTheDelay) {
  const auto out = portal.submit(config, api, "Home", "correct horse", "", 5000);
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(out.error, nullptr);
  EXPECT_STREQ(config.wifi_ssid(), "Home");
  EXPECT_STREQ(config.wifi_password(), "correct horse");
  EXPECT_TRUE(portal.pending());
  EXPECT_FALSE(portal.apply_due(5000));
  EXPECT_FALSE(portal.apply_due(5000 + SetupPortal::kApplyDelayMs - 1));
  EXPECT_TRUE(portal.apply_due(5000 + SetupPortal::kApplyDelayMs));
  EXPECT_FALSE(portal.apply_due(5000 + SetupPortal::kApplyDelayMs + 1)) << "only once";
  EXPECT_FALSE(portal.pending());
}

TEST_F(SetupPortalSubmit, ApplyDelayIsWrapSafe) {
  const uint32_t near_wrap = 0xFFFFFF00u;
  ASSERT_EQ(portal.submit(config, api, "Home", "", "", near_wrap).status, 200);
  EXPECT_FALSE(portal.apply_due(near_wrap + 0x80));  // wrapped past 0, 128 ms later
  EXPECT_TRUE(portal.apply_due(near_wrap + SetupPortal::kApplyDelayMs));
}

TEST_F(SetupPortalSubmit, BadCredentialsChangeNothing) {
  for (const auto& [ssid, password] : {std::pair<std::string_view, std::string_view>{"Home", "short"},
                                       {"", "correct horse"},
                                       {"this network name is far too long to be an ssid", ""},
                                       {"Home", "bad\x01password"}}) {
    const auto out = portal.submit(config, api, ssid, password, "", 5000);
    EXPECT_EQ(out.status, 400) << ssid;
    ASSERT_NE(out.error, nullptr);
    EXPECT_GT(std::string_view(out.error).size(), 5u);
    EXPECT_STREQ(config.wifi_ssid(), "Old");
    EXPECT_STREQ(config.wifi_password(), "old-password");
    EXPECT_FALSE(portal.pending());
  }
}

TEST_F(SetupPortalSubmit, TokenIsRequiredWhenTheDeviceHasOne) {
  ASSERT_TRUE(api.set_api_token("s3cret"));
  for (std::string_view wrong : {"", "s3cre", "s3cret2", "S3CRET"}) {
    const auto out = portal.submit(config, api, "Home", "correct horse", wrong, 5000);
    EXPECT_EQ(out.status, 403) << wrong;
    EXPECT_STREQ(config.wifi_ssid(), "Old");
    EXPECT_FALSE(portal.pending());
  }
  EXPECT_EQ(portal.submit(config, api, "Home", "correct horse", "s3cret", 5000).status, 200);
  EXPECT_STREQ(config.wifi_ssid(), "Home");
}

TEST_F(SetupPortalSubmit, ALaterSubmitRestartsTheWait) {
  ASSERT_EQ(portal.submit(config, api, "Home", "", "", 5000).status, 200);
  ASSERT_EQ(portal.submit(config, api, "Work", "", "", 5600).status, 200);
  EXPECT_FALSE(portal.apply_due(6000));
  EXPECT_TRUE(portal.apply_due(6600));
  EXPECT_STREQ(config.wifi_ssid(), "Work");
}

TEST_F(SetupPortalSubmit, FormBodyIsReadWithSporesOwnReader) {
  const auto out =
      portal.submit_form(config, api, "ssid=My+Home%21&password=correct%20horse+battery&extra=1", 5000);
  EXPECT_EQ(out.status, 200);
  EXPECT_STREQ(config.wifi_ssid(), "My Home!");
  EXPECT_STREQ(config.wifi_password(), "correct horse battery");
}

TEST_F(SetupPortalSubmit, MalformedOrOverlongFieldsAre400AndChangeNothing) {
  for (const char* body : {"ssid=%zz&password=longenough", "ssid=a%00b&password=longenough",
                           "ssid=0123456789012345678901234567890123&password=longenough"}) {
    const auto out = portal.submit_form(config, api, body, 5000);
    EXPECT_EQ(out.status, 400) << body;
    EXPECT_STREQ(config.wifi_ssid(), "Old") << body;
    EXPECT_FALSE(portal.pending());
  }
  EXPECT_EQ(portal.submit_form(config, api, "password=longenough", 5000).status, 400);  // no ssid
}

TEST_F(SetupPortalSubmit, FormTokenIsChecked) {
  ASSERT_TRUE(api.set_api_token("s3cr3t"));
  EXPECT_EQ(portal.submit_form(config, api, "ssid=Home&password=longenough&token=nope", 5000).status, 403);
  EXPECT_EQ(portal.submit_form(config, api, "ssid=Home&password=longenough&token=s3cr3t", 5000).status, 200);
  EXPECT_STREQ(config.wifi_ssid(), "Home");
}

// Review finding 8: a POST /wifi trickling a byte every 2 s (Content-Length <= 512) kept the one
// body buffer for good, so every real submission got 503 "busy".
TEST(SetupPortalBody, AStaleHolderLosesTheBufferToANewSubmission) {
  SetupPortal p;
  int a = 0, b = 0, c = 0;
  ASSERT_TRUE(p.claim_body(&a, 1000));
  EXPECT_TRUE(p.owns_body(&a));
  EXPECT_FALSE(p.claim_body(&b, 1000 + SetupPortal::kBodyHoldMs));  // still fresh: busy
  EXPECT_TRUE(p.owns_body(&a));
  EXPECT_TRUE(p.claim_body(&b, 1001 + SetupPortal::kBodyHoldMs));   // taken over
  EXPECT_FALSE(p.owns_body(&a));
  EXPECT_TRUE(p.owns_body(&b));
  p.release_body(&a);  // the old holder going away frees nothing
  EXPECT_TRUE(p.owns_body(&b));
  EXPECT_FALSE(p.claim_body(&c, 1002 + SetupPortal::kBodyHoldMs));
  p.release_body(&b);
  EXPECT_FALSE(p.owns_body(&b));
  EXPECT_TRUE(p.claim_body(&c, 1003 + SetupPortal::kBodyHoldMs));  // free again
  EXPECT_FALSE(p.owns_body(nullptr));
}

TEST(SetupPortalBody, HoldIsWrapSafe) {
  SetupPortal p;
  int a = 0, b = 0;
  ASSERT_TRUE(p.claim_body(&a, 0xFFFFFF00u));
  EXPECT_FALSE(p.claim_body(&b, 0x00000100u));  // 512 ms later across the wrap
  EXPECT_TRUE(p.claim_body(&b, 0xFFFFFF00u + SetupPortal::kBodyHoldMs + 1));
}

// Review finding 6: every page allocates a 1,460-B cbuf with a throwing new.
TEST(SetupPortalBody, PagesNeedHeapForTheirBuffers) {
  EXPECT_TRUE(SetupPortal::heap_allows(SetupPortal::kMinFreeHeapBytes, SetupPortal::kMinFreeBlockBytes));
  EXPECT_FALSE(SetupPortal::heap_allows(SetupPortal::kMinFreeHeapBytes - 1, 30000));
  EXPECT_FALSE(SetupPortal::heap_allows(30000, SetupPortal::kMinFreeBlockBytes - 1));
  EXPECT_GT(SetupPortal::kMinFreeBlockBytes, 1460u + 8u);
}

}  // namespace
}  // namespace spore
