// spored's timer flags (apps/spored/options.cpp): the thresholds derive the timers
// (Config::derive()), explicit timer flags override them, and an inconsistent set is refused with
// a message naming the flags to change.
//
// tests/posix/*_test.cpp link spore_posix only, not the apps, so options.cpp is compiled into this
// test by including its source (as tests/fuzz/spored_options_fuzz.cpp does).
#include "../../apps/spored/options.cpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace spored {
namespace {

struct Parsed {
  int code = 0;
  Options options;
  std::string error;
};

// Flags only from the arguments (and `env`, NAME=VALUE, set for this parse only), not the
// caller's environment.
Parsed parse(std::vector<std::string> args, const char* env = nullptr) {
  for (const char* name : {"SPORED_PROFILE", "SPORED_INACTIVE_AFTER_MS", "SPORED_DEAD_AFTER_MS",
                           "SPORED_HEARTBEAT_INTERVAL_MS", "SPORED_CONFIG", "SPORED_LIVENESS"}) {
    unsetenv(name);
  }
  std::string env_name;
  if (env != nullptr) {
    const std::string kv(env);
    env_name = kv.substr(0, kv.find('='));
    setenv(env_name.c_str(), kv.substr(kv.find('=') + 1).c_str(), 1);
  }
  args.insert(args.begin(), "spored");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  Parsed p;
  testing::internal::CaptureStderr();
  p.code = parse_options(static_cast<int>(argv.size()), argv.data(), &p.options);
  p.error = testing::internal::GetCapturedStderr();
  if (!env_name.empty()) unsetenv(env_name.c_str());
  return p;
}

TEST(SporedOptions, ShortInactiveThresholdIsAcceptedWithDerivedTimers) {
  // Refused before timers were derived: "inactive_after_ms must be at least 2 x heartbeat_interval_ms".
  const Parsed p = parse({"--inactive-after-ms", "3000"});
  ASSERT_EQ(p.code, -1) << p.error;
  const spore::Config want = spore::Config::derive(spore::Profile::kLan, 3000);
  EXPECT_EQ(p.options.config.inactive_after_ms, 3000u);
  EXPECT_EQ(p.options.config.heartbeat_interval_ms, want.heartbeat_interval_ms);
  EXPECT_LT(p.options.config.heartbeat_interval_ms, spore::Config::default_lan().heartbeat_interval_ms);
  EXPECT_EQ(p.options.config.suspect_after_ms, want.suspect_after_ms);
  EXPECT_EQ(p.options.config.probe_timeout_ms, want.probe_timeout_ms);
}

TEST(SporedOptions, ProfilesAndTheirOwnThresholdsGiveTheProfileTables) {
  // What the integration tests pass: the result must be the profile's timers with that DEAD
  // threshold, as before the derivation.
  const Parsed p = parse({"--profile", "fast", "--inactive-after-ms", "1500", "--dead-after-ms", "9000"});
  ASSERT_EQ(p.code, -1) << p.error;
  spore::Config want = spore::Config::fast();
  want.dead_after_ms = 9000;
  EXPECT_EQ(p.options.config.heartbeat_interval_ms, want.heartbeat_interval_ms);
  EXPECT_EQ(p.options.config.suspect_after_ms, want.suspect_after_ms);
  EXPECT_EQ(p.options.config.probe_timeout_ms, want.probe_timeout_ms);
  EXPECT_EQ(p.options.config.listen_interval_ms, want.listen_interval_ms);
  EXPECT_EQ(p.options.config.status_interval_ms, want.status_interval_ms);
  EXPECT_EQ(p.options.config.dead_after_ms, 9000u);
  EXPECT_EQ(p.options.config.dead_retention_ms, want.dead_retention_ms);

  const Parsed lan = parse({});
  ASSERT_EQ(lan.code, -1) << lan.error;
  EXPECT_EQ(lan.options.profile, "lan");
  EXPECT_EQ(lan.options.config.heartbeat_interval_ms, spore::Config::default_lan().heartbeat_interval_ms);
  EXPECT_EQ(lan.options.config.inactive_after_ms, 10000u);
  EXPECT_EQ(lan.options.config.dead_after_ms, 60000u);
}

TEST(SporedOptions, ExplicitTimerFlagsOverrideTheDerivation) {
  const Parsed p = parse({"--inactive-after-ms", "3000", "--heartbeat-interval-ms", "1000", "--membership-tick-ms",
                          "10", "--dead-retention-ms", "5000"});
  ASSERT_EQ(p.code, -1) << p.error;
  EXPECT_EQ(p.options.config.heartbeat_interval_ms, 1000u);
  EXPECT_EQ(p.options.config.listen_interval_ms, 10u);
  EXPECT_EQ(p.options.config.dead_retention_ms, 5000u);
  EXPECT_EQ(p.options.config.probe_timeout_ms, spore::Config::derive(spore::Profile::kLan, 3000).probe_timeout_ms);
}

TEST(SporedOptions, InconsistentExplicitTimersAreRefusedNamingTheFlags) {
  const Parsed p = parse({"--inactive-after-ms", "3000", "--heartbeat-interval-ms", "2500"});
  EXPECT_EQ(p.code, 2);
  EXPECT_NE(p.error.find("--heartbeat-interval-ms must be at most --inactive-after-ms / 2"), std::string::npos)
      << p.error;
  EXPECT_NE(p.error.find("--heartbeat-interval-ms 2500 given"), std::string::npos) << p.error;

  const Parsed derived = parse({"--inactive-after-ms", "3000", "--suspect-after-ms", "2900"});
  EXPECT_EQ(derived.code, 2);
  EXPECT_NE(derived.error.find("--suspect-after-ms 2900 given, --probe-timeout-ms 200 derived"), std::string::npos)
      << derived.error;

  const Parsed dead = parse({"--inactive-after-ms", "9000", "--dead-after-ms", "5000"});
  EXPECT_EQ(dead.code, 2);
  EXPECT_NE(dead.error.find("--dead-after-ms must be greater than --inactive-after-ms"), std::string::npos)
      << dead.error;
}

// --liveness (issue 22): the profile's by default (digest for lan and fast, broadcast for esp8266),
// either from the flag, the config file or the environment; anything else is refused naming the
// flag and the two values.
TEST(SporedOptions, LivenessComesFromFlagConfigFileOrEnvironment) {
  const Parsed plain = parse({});
  ASSERT_EQ(plain.code, -1) << plain.error;
  EXPECT_EQ(plain.options.config.liveness, spore::Liveness::kDigest);
  EXPECT_EQ(plain.options.config.heartbeat_interval_ms, spore::Config::default_lan().heartbeat_interval_ms);
  const Parsed fast = parse({"--profile", "fast"});
  ASSERT_EQ(fast.code, -1) << fast.error;
  EXPECT_EQ(fast.options.config.liveness, spore::Liveness::kDigest);
  const Parsed esp = parse({"--profile", "esp8266"});
  ASSERT_EQ(esp.code, -1) << esp.error;
  EXPECT_EQ(esp.options.config.liveness, spore::Liveness::kBroadcast);
  EXPECT_EQ(esp.options.config.heartbeat_interval_ms, 2500u);
  const Parsed digest = parse({"--profile", "fast", "--liveness", "digest"});
  ASSERT_EQ(digest.code, -1) << digest.error;
  EXPECT_EQ(digest.options.config.liveness, spore::Liveness::kDigest);
  EXPECT_EQ(digest.options.config.heartbeat_interval_ms, spore::Config::fast().with_digest_liveness().heartbeat_interval_ms);
  const Parsed broadcast = parse({"--liveness", "broadcast"});
  ASSERT_EQ(broadcast.code, -1) << broadcast.error;
  EXPECT_EQ(broadcast.options.config.liveness, spore::Liveness::kBroadcast);
  // ... with the broadcast timers: lan's 2.5 s heartbeat, fast's 250 ms, also for given thresholds.
  EXPECT_EQ(broadcast.options.config.heartbeat_interval_ms, 2500u);
  EXPECT_EQ(broadcast.options.config.suspect_after_ms, 4000u);
  const Parsed fast_broadcast = parse({"--profile", "fast", "--liveness", "broadcast"});
  ASSERT_EQ(fast_broadcast.code, -1) << fast_broadcast.error;
  EXPECT_EQ(fast_broadcast.options.config.heartbeat_interval_ms, 250u);
  const Parsed short_broadcast = parse({"--liveness", "broadcast", "--inactive-after-ms", "3000"});
  ASSERT_EQ(short_broadcast.code, -1) << short_broadcast.error;
  EXPECT_EQ(short_broadcast.options.config.heartbeat_interval_ms, 750u);
  const Parsed short_digest = parse({"--inactive-after-ms", "3000"});
  ASSERT_EQ(short_digest.code, -1) << short_digest.error;
  EXPECT_EQ(short_digest.options.config.heartbeat_interval_ms, 1000u);

  const std::string file = testing::TempDir() + "spored_options_liveness.ini";
  std::FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("profile = lan\nliveness = broadcast\n", f);
  std::fclose(f);
  const Parsed from_file = parse({"--config", file});
  std::remove(file.c_str());
  ASSERT_EQ(from_file.code, -1) << from_file.error;
  EXPECT_EQ(from_file.options.config.liveness, spore::Liveness::kBroadcast);

  const Parsed from_env = parse({}, "SPORED_LIVENESS=broadcast");
  ASSERT_EQ(from_env.code, -1) << from_env.error;
  EXPECT_EQ(from_env.options.config.liveness, spore::Liveness::kBroadcast);
  const Parsed esp_env = parse({"--profile", "esp8266"}, "SPORED_LIVENESS=digest");
  ASSERT_EQ(esp_env.code, -1) << esp_env.error;
  EXPECT_EQ(esp_env.options.config.liveness, spore::Liveness::kDigest);

  for (const char* bad : {"gossip", "Digest", ""}) {
    const Parsed p = parse({"--liveness", bad});
    EXPECT_EQ(p.code, 2) << bad;
    EXPECT_NE(p.error.find("--liveness"), std::string::npos) << p.error;
    EXPECT_NE(p.error.find("broadcast,digest"), std::string::npos) << p.error;
  }
}

}  // namespace
}  // namespace spored
