// WifiManager: every transition of its state machine against a fake radio and a test clock.

#include "spore/device/wifi_manager.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fakes.h"

namespace spore {
namespace {

using testing::CapturingLog;
using testing::FakeRandom;

class FakeWifi : public WifiPort {
 public:
  void begin_station(const char* ssid, const char* password, const char* hostname) override {
    ++begins;
    last_ssid = ssid;
    last_password = password;
    last_hostname = hostname;
    status = StationStatus::kConnecting;
  }
  void stop_station() override {
    ++stops;
    status = StationStatus::kIdle;
    ip = 0;
  }
  StationStatus station_status() override { return status; }
  uint32_t station_ip() override { return status == StationStatus::kConnected ? ip : 0; }
  bool start_access_point(const char* name) override {
    ++ap_starts;
    ap_name = name;
    ap_up = ap_ok;
    return ap_ok;
  }
  void stop_access_point() override {
    ++ap_stops;
    ap_up = false;
  }
  uint8_t access_point_clients() override { return clients; }
  void send_gratuitous_arp() override { ++arps; }

  void connect(uint32_t address) {
    status = StationStatus::kConnected;
    ip = address;
  }

  StationStatus status = StationStatus::kIdle;
  uint32_t ip = 0;
  int begins = 0, stops = 0, ap_starts = 0, ap_stops = 0, arps = 0;
  uint8_t clients = 0;
  bool ap_up = false;
  bool ap_ok = true;
  std::string last_ssid, last_password, last_hostname, ap_name;
};

/// Random that returns a fixed value, to pin the jitter to its bounds.
class FixedRandom : public Random {
 public:
  explicit FixedRandom(uint32_t v) : v_(v) {}
  uint32_t next_u32() override { return v_; }

 private:
  uint32_t v_;
};

constexpr uint32_t kIp = 0xC0A8010A;  // 192.168.1.10

struct Fixture {
  explicit Fixture(Random& r, WifiManagerConfig cfg = {}) : m(wifi, r, &log, cfg) {
    m.set_on_ip_change(WifiManager::IpChanged::bind<Fixture, &Fixture::on_ip>(this));
  }
  void on_ip(uint32_t ip) { ips.push_back(ip); }
  void begin(const char* ssid = "home", const char* pass = "password1") {
    m.begin(now, "esp_abcdef", "spore-abcdef", ssid, pass);
  }
  void step(uint32_t ms) {
    now += ms;
    m.loop(now);
  }
  // Lets the current attempt time out.
  void fail_attempt() {
    ASSERT_EQ(m.state(), WifiState::kConnecting);
    step(m.config().connect_timeout_ms);
    ASSERT_EQ(m.state(), WifiState::kWaiting);
  }
  void finish_wait() {
    ASSERT_EQ(m.state(), WifiState::kWaiting);
    step(m.wait_ms());
  }

  FakeWifi wifi;
  CapturingLog log;
  WifiManager m;
  std::vector<uint32_t> ips;
  uint32_t now = 5000;
};

TEST(WifiManager, ConnectsWithCredentialsAndReportsIp) {
  FakeRandom r;
  Fixture f(r);
  EXPECT_EQ(f.m.state(), WifiState::kStopped);
  f.begin();
  EXPECT_EQ(f.m.state(), WifiState::kConnecting);
  EXPECT_EQ(f.wifi.begins, 1);
  EXPECT_EQ(f.wifi.last_ssid, "home");
  EXPECT_EQ(f.wifi.last_password, "password1");
  EXPECT_EQ(f.wifi.last_hostname, "esp_abcdef");
  f.step(100);
  EXPECT_EQ(f.m.state(), WifiState::kConnecting);
  f.wifi.connect(kIp);
  f.step(100);
  EXPECT_TRUE(f.m.connected());
  EXPECT_EQ(f.m.ip(), kIp);
  EXPECT_EQ(f.ips, std::vector<uint32_t>{kIp});
  EXPECT_FALSE(f.m.portal_active());
  EXPECT_EQ(f.wifi.ap_starts, 0);
}

TEST(WifiManager, ConnectedWithoutAddressIsStillConnecting) {
  FakeRandom r;
  Fixture f(r);
  f.begin();
  f.wifi.status = StationStatus::kConnected;  // associated, DHCP not done
  f.step(100);
  EXPECT_EQ(f.m.state(), WifiState::kConnecting);
}

TEST(WifiManager, NoCredentialsOpensPortalOnly) {
  FakeRandom r;
  Fixture f(r);
  f.begin("", "");
  EXPECT_EQ(f.m.state(), WifiState::kUnconfigured);
  EXPECT_TRUE(f.m.portal_active());
  EXPECT_EQ(f.wifi.ap_name, "spore-abcdef");
  EXPECT_EQ(f.wifi.begins, 0);
  f.step(10 * 60 * 1000);
  EXPECT_EQ(f.wifi.begins, 0);  // nothing to retry
  EXPECT_EQ(f.wifi.ap_starts, 1);
}

TEST(WifiManager, NullSsidIsNoCredentials) {
  FakeRandom r;
  Fixture f(r);
  f.begin(nullptr, nullptr);
  EXPECT_EQ(f.m.state(), WifiState::kUnconfigured);
}

TEST(WifiManager, PortalThatFailedToStartIsRetried) {
  FakeRandom r;
  Fixture f(r);
  f.wifi.ap_ok = false;
  f.begin("", "");
  EXPECT_FALSE(f.m.portal_active());
  f.step(1000);
  EXPECT_EQ(f.wifi.ap_starts, 1);  // not hammered every pass
  f.wifi.ap_ok = true;
  f.step(f.m.config().max_backoff_ms);
  EXPECT_TRUE(f.m.portal_active());
  EXPECT_EQ(f.wifi.ap_starts, 2);
}

TEST(WifiManager, RefusedAttemptFailsBeforeTimeout) {
  FakeRandom r;
  Fixture f(r);
  f.begin();
  f.wifi.status = StationStatus::kFailed;
  f.step(10);
  EXPECT_EQ(f.m.state(), WifiState::kWaiting);
  EXPECT_EQ(f.m.failures(), 1u);
  EXPECT_EQ(f.wifi.stops, 1);  // the platform's own retries are stopped
}

TEST(WifiManager, TimeoutIsAFailure) {
  FakeRandom r;
  Fixture f(r);
  f.begin();
  f.step(f.m.config().connect_timeout_ms - 1);
  EXPECT_EQ(f.m.state(), WifiState::kConnecting);
  f.step(1);
  EXPECT_EQ(f.m.state(), WifiState::kWaiting);
}

TEST(WifiManager, BackoffDoublesUpToTheCapWithinJitterBounds) {
  for (uint32_t fixed : {0u, 0xFFFFFFFFu, 12345u}) {
    FixedRandom r(fixed);
    WifiManagerConfig cfg;
    cfg.portal_after_failures = 0;  // keep the portal's minimum interval out of this test
    Fixture f(r, cfg);
    f.begin();
    uint32_t base = cfg.initial_backoff_ms;
    for (int i = 1; i <= 10; ++i) {
      f.fail_attempt();
      EXPECT_EQ(f.m.failures(), static_cast<uint32_t>(i));
      EXPECT_GE(f.m.wait_ms(), base / 2) << i;
      EXPECT_LE(f.m.wait_ms(), base) << i;
      // Not yet: one ms before the wait ends.
      f.step(f.m.wait_ms() - 1);
      EXPECT_EQ(f.m.state(), WifiState::kWaiting);
      f.step(1);
      EXPECT_EQ(f.m.state(), WifiState::kConnecting);
      base = base * 2 > cfg.max_backoff_ms ? cfg.max_backoff_ms : base * 2;
    }
    EXPECT_EQ(base, cfg.max_backoff_ms);
  }
}

TEST(WifiManager, JitterSpreadsDevices) {
  FakeRandom r;
  WifiManagerConfig cfg;
  cfg.portal_after_failures = 0;
  Fixture f(r, cfg);
  f.begin();
  std::vector<uint32_t> waits;
  for (int i = 0; i < 12; ++i) {
    f.fail_attempt();
    waits.push_back(f.m.wait_ms());
    f.finish_wait();
  }
  // At the cap, successive waits are not all equal.
  bool differ = false;
  for (size_t i = 8; i + 1 < waits.size(); ++i) differ = differ || waits[i] != waits[i + 1];
  EXPECT_TRUE(differ);
}

TEST(WifiManager, PortalOpensAfterFailuresAndRetriesSlowly) {
  FakeRandom r;
  Fixture f(r);
  f.begin();
  for (int i = 0; i < 2; ++i) {
    f.fail_attempt();
    EXPECT_FALSE(f.m.portal_active());
    f.finish_wait();
  }
  f.fail_attempt();  // the third
  EXPECT_TRUE(f.m.portal_active());
  EXPECT_EQ(f.m.wait_ms(), f.m.config().portal_retry_interval_ms);
  f.finish_wait();
  EXPECT_EQ(f.m.state(), WifiState::kConnecting);  // still retrying the station
  EXPECT_TRUE(f.m.portal_active());
  f.wifi.connect(kIp);
  f.step(10);
  EXPECT_TRUE(f.m.connected());
  EXPECT_FALSE(f.m.portal_active());  // closed once connected
  EXPECT_EQ(f.wifi.ap_stops, 1);
  EXPECT_EQ(f.m.failures(), 0u);
}

TEST(WifiManager, PortalClientDefersRetryByOneIntervalAtMost) {
  FakeRandom r;
  Fixture f(r);
  f.begin();
  for (int i = 0; i < 3; ++i) {
    f.fail_attempt();
    if (i < 2) f.finish_wait();
  }
  ASSERT_TRUE(f.m.portal_active());
  f.wifi.clients = 1;
  const int begins = f.wifi.begins;
  f.finish_wait();
  EXPECT_EQ(f.m.state(), WifiState::kWaiting);  // someone is typing
  f.step(f.m.config().portal_retry_interval_ms - 1);
  EXPECT_EQ(f.wifi.begins, begins);
  f.step(1);  // but not for ever
  EXPECT_EQ(f.m.state(), WifiState::kConnecting);
  EXPECT_EQ(f.wifi.begins, begins + 1);
}

TEST(WifiManager, PortalClientLeavingLetsTheRetryGo) {
  FakeRandom r;
  Fixture f(r);
  f.begin();
  for (int i = 0; i < 3; ++i) {
    f.fail_attempt();
    if (i < 2) f.finish_wait();
  }
  f.wifi.clients = 2;
  f.finish_wait();
  EXPECT_EQ(f.m.state(), WifiState::kWaiting);
  f.wifi.clients = 0;
  f.step(1);
  EXPECT_EQ(f.m.state(), WifiState::kConnecting);
}

TEST(WifiManager, CredentialsFromPortalAreTriedAtOnce) {
  FakeRandom r;
  Fixture f(r);
  f.begin("", "");
  ASSERT_TRUE(f.m.portal_active());
  f.wifi.clients = 1;  // the user who submitted the form
  f.m.set_credentials(f.now, "new-net", "new-password");
  EXPECT_EQ(f.m.state(), WifiState::kConnecting);
  EXPECT_EQ(f.wifi.last_ssid, "new-net");
  EXPECT_TRUE(f.m.portal_active());  // until it works
  f.wifi.connect(kIp);
  f.step(10);
  EXPECT_TRUE(f.m.connected());
  EXPECT_FALSE(f.m.portal_active());
}

TEST(WifiManager, NewCredentialsResetFailuresAndDropTheLink) {
  FakeRandom r;
  Fixture f(r);
  f.begin();
  f.fail_attempt();
  f.finish_wait();
  f.wifi.connect(kIp);
  f.step(1);
  ASSERT_TRUE(f.m.connected());
  const int stops = f.wifi.stops;
  f.m.set_credentials(f.now, "other", "password2");
  EXPECT_EQ(f.wifi.stops, stops + 1);
  EXPECT_EQ(f.m.state(), WifiState::kConnecting);
  EXPECT_EQ(f.m.failures(), 0u);
}

TEST(WifiManager, WrongPasswordFromPortalKeepsThePortal) {
  FakeRandom r;
  Fixture f(r);
  f.begin("", "");
  f.m.set_credentials(f.now, "net", "wrong-password");
  f.wifi.status = StationStatus::kFailed;
  f.step(1);
  EXPECT_EQ(f.m.state(), WifiState::kWaiting);
  EXPECT_TRUE(f.m.portal_active());
  EXPECT_EQ(f.wifi.ap_starts, 1);
}

TEST(WifiManager, LinkLossReconnectsAtOnceWithoutPortal) {
  FakeRandom r;
  Fixture f(r);
  f.begin();
  f.wifi.connect(kIp);
  f.step(1);
  ASSERT_TRUE(f.m.connected());
  f.wifi.status = StationStatus::kConnecting;  // the platform noticed the loss
  f.step(1);
  EXPECT_EQ(f.m.state(), WifiState::kConnecting);
  EXPECT_EQ(f.wifi.begins, 2);
  EXPECT_EQ(f.m.ip(), kIp);  // kept while down
  EXPECT_FALSE(f.m.portal_active());
  f.wifi.connect(kIp);
  f.step(1);
  EXPECT_EQ(f.ips.size(), 1u);  // same address: no change reported
}

TEST(WifiManager, IpChangeIsReported) {
  FakeRandom r;
  Fixture f(r);
  f.begin();
  f.wifi.connect(kIp);
  f.step(1);
  f.wifi.status = StationStatus::kIdle;
  f.step(1);
  f.wifi.connect(kIp + 1);
  f.step(1);
  EXPECT_EQ(f.ips, (std::vector<uint32_t>{kIp, kIp + 1}));
  f.wifi.ip = kIp + 2;  // DHCP renewal while connected
  f.step(1);
  EXPECT_EQ(f.ips.back(), kIp + 2);
  EXPECT_EQ(f.m.ip(), kIp + 2);
}

TEST(WifiManager, GratuitousArpCadence) {
  FakeRandom r;
  Fixture f(r);
  f.begin();
  f.wifi.connect(kIp);
  f.step(1);
  const uint32_t every = f.m.config().arp_interval_ms;
  f.step(every - 1);
  EXPECT_EQ(f.wifi.arps, 0);
  f.step(1);
  EXPECT_EQ(f.wifi.arps, 1);
  for (int i = 0; i < 10; ++i) f.step(every);
  EXPECT_EQ(f.wifi.arps, 11);
  f.wifi.status = StationStatus::kIdle;  // not while down
  f.step(every);
  f.step(every);
  EXPECT_EQ(f.wifi.arps, 11);
}

TEST(WifiManager, ArpDisabled) {
  FakeRandom r;
  WifiManagerConfig cfg;
  cfg.arp_interval_ms = 0;
  Fixture f(r, cfg);
  f.begin();
  f.wifi.connect(kIp);
  for (int i = 0; i < 100; ++i) f.step(60000);
  EXPECT_EQ(f.wifi.arps, 0);
}

TEST(WifiManager, TimingSurvivesClockWrap) {
  FakeRandom r;
  Fixture f(r);
  f.now = 0xFFFFFFFFu - 5000;  // the attempt starts before the wrap, times out after it
  f.begin();
  f.step(f.m.config().connect_timeout_ms - 1);
  EXPECT_EQ(f.m.state(), WifiState::kConnecting);
  f.step(1);
  EXPECT_EQ(f.m.state(), WifiState::kWaiting);
  f.finish_wait();
  EXPECT_EQ(f.m.state(), WifiState::kConnecting);
  f.wifi.connect(kIp);
  f.step(1);
  f.now = 0xFFFFFFFFu - 10;
  f.m.set_credentials(f.now, "home", "password1");
  f.wifi.connect(kIp);
  f.step(1);
  ASSERT_TRUE(f.m.connected());
  const int arps = f.wifi.arps;
  f.step(f.m.config().arp_interval_ms);
  EXPECT_EQ(f.wifi.arps, arps + 1);
}

TEST(WifiManager, PortalAfterFailuresZeroNeverOpensWithCredentials) {
  FakeRandom r;
  WifiManagerConfig cfg;
  cfg.portal_after_failures = 0;
  Fixture f(r, cfg);
  f.begin();
  for (int i = 0; i < 20; ++i) {
    f.fail_attempt();
    f.finish_wait();
  }
  EXPECT_FALSE(f.m.portal_active());
}

TEST(WifiManager, ForgettingCredentialsOpensPortal) {
  FakeRandom r;
  Fixture f(r);
  f.begin();
  f.wifi.connect(kIp);
  f.step(1);
  f.m.set_credentials(f.now, "", "");
  EXPECT_EQ(f.m.state(), WifiState::kUnconfigured);
  EXPECT_TRUE(f.m.portal_active());
  EXPECT_EQ(f.wifi.status, StationStatus::kIdle);
}

TEST(WifiManager, LogsFailuresWithTheirWait) {
  FakeRandom r;
  Fixture f(r);
  f.begin();
  f.fail_attempt();
  ASSERT_FALSE(f.log.lines.empty());
  EXPECT_NE(f.log.lines.back().find("attempt 1 failed, next in"), std::string::npos);
}

}  // namespace
}  // namespace spore
