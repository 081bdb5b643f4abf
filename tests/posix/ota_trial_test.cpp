// A Linux node's image on trial (OtaTrial, TrialHealth, the guardian): staging, promotion, what
// start() makes of what a crash or power loss left, and the guardian's verdicts against real
// processes (a `sleep` plays the node, a shell script the previous image it restarts).

#include "posix/ota_trial.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "posix/ota_guardian.h"
#include "posix/state_store.h"
#include "posix/system_info.h"

namespace spore::posix {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void put(const std::string& path, const std::string& content, mode_t mode = 0644) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  ::chmod(path.c_str(), mode);
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

/// Waits up to `ms` for `cond`.
template <typename Cond>
bool eventually(Cond cond, int ms = 5000) {
  for (int i = 0; i < ms / 10; ++i) {
    if (cond()) return true;
    ::usleep(10 * 1000);
  }
  return cond();
}

/// A process that is gone, or a zombie waiting for a parent that is not us.
bool gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string p, comm, state;
  return !(stat >> p >> comm >> state) || state == "Z";
}

constexpr uint32_t kNodeId = 0x1a2b3c4d;

class OtaTrialTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/spore-trial-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root = tmpl;
    ASSERT_EQ(::mkdir((root + "/bin").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((root + "/state").c_str(), 0700), 0);
    exe = root + "/bin/spored";
    // The "previous image": records how it was restarted.
    put(exe, "#!/bin/sh\necho \"$@\" > " + root + "/restarted\n", 0755);
    paths = TrialPaths::make(exe, kNodeId, root + "/state");
    for (int i = 0; i < 32; ++i) {
      old_sha[i] = static_cast<uint8_t>(i);
      new_sha[i] = static_cast<uint8_t>(0x80 + i);
    }
  }
  void TearDown() override { std::system(("rm -rf '" + root + "'").c_str()); }

  /// Stages `content` as the image on trial, like commit() + OtaTrial::stage().
  void stage(OtaTrial& trial, const std::string& content = "new image") {
    const std::string staged = root + "/bin/.spored.update.1";
    put(staged, content, 0755);
    std::string error;
    ASSERT_TRUE(trial.stage(staged, &error)) << error;
  }

  TrialRecord marker(uint32_t guardian = 0, bool stopped = false) const {
    TrialRecord r;
    r.id = 7;
    std::memcpy(r.image_sha256, new_sha, 32);
    std::memcpy(r.previous_sha256, old_sha, 32);
    r.image_version = "9.9.9";
    r.previous_version = "0.1.0";
    r.guardian_pid = guardian;
    r.stopped = stopped;
    return r;
  }
  void write_marker(const TrialRecord& r) const { put(paths.marker, format_trial_record(r)); }

  /// What the node leaves when it switches: the image staged and its marker (the guardian is
  /// GuardianTest's business).
  void stage_and_mark(bool stopped = false) {
    OtaTrial node(paths, nullptr);
    node.start(false, old_sha, "0.1.0");
    stage(node);
    write_marker(marker(4242, stopped));
  }

  std::string root, exe;
  TrialPaths paths;
  uint8_t old_sha[32] = {}, new_sha[32] = {};
};

TEST_F(OtaTrialTest, PathsAndTheCanonicalExecutable) {
  EXPECT_EQ(paths.trial_dir, root + "/bin/.spored.trial-1a2b3c4d");
  EXPECT_EQ(paths.trial_file, root + "/bin/.spored.trial-1a2b3c4d/spored");
  EXPECT_EQ(paths.marker, root + "/state/ota_trial");
  bool from_trial = true;
  EXPECT_EQ(canonical_executable(exe, &from_trial), exe);
  EXPECT_FALSE(from_trial);
  EXPECT_EQ(canonical_executable(paths.trial_file, &from_trial), exe);
  EXPECT_TRUE(from_trial);
  for (const std::string& other : {root + "/bin/.spored.trial-1a2b3c4/spored", root + "/bin/.spored.trial-1A2B3C4D/spored",
                                  root + "/bin/.other.trial-1a2b3c4d/spored", std::string("spored"),
                                  root + "/bin/spored.trial-1a2b3c4d/spored"}) {
    EXPECT_EQ(canonical_executable(other, &from_trial), other);
    EXPECT_FALSE(from_trial) << other;
  }
}

TEST(TrialHealth, StablePeriodThenPeerThenProbe) {
  TrialHealth h(3000, true);
  EXPECT_FALSE(h.probe_due(2999, 5));
  EXPECT_FALSE(h.probe_due(3000, 0)) << "the node had peers: one must be ACTIVE again";
  EXPECT_TRUE(h.probe_due(3000, 1));
  h.probe_done(3000, false);
  EXPECT_FALSE(h.probe_due(3999, 1)) << "probes are a second apart";
  EXPECT_TRUE(h.probe_due(4000, 1));
  h.probe_done(4000, true);
  EXPECT_TRUE(h.healthy());
  EXPECT_FALSE(h.probe_due(9000, 1));
  TrialHealth alone(2000, false);
  EXPECT_TRUE(alone.probe_due(2000, 0));
}

/// A listening socket on `ip` (host byte order), any port; its address in `*a`. -1 on failure.
int listen_on(uint32_t ip, sockaddr_in* a) {
  const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  *a = sockaddr_in{};
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(ip);
  socklen_t len = sizeof *a;
  if (::bind(server, reinterpret_cast<sockaddr*>(a), sizeof *a) != 0 ||
      ::getsockname(server, reinterpret_cast<sockaddr*>(a), &len) != 0 || ::listen(server, 1) != 0) {
    ::close(server);
    return -1;
  }
  return server;
}

TEST(HttpGetOk, OnlyA200Counts) {
  for (const char* answer : {"HTTP/1.1 200 OK\r\n\r\n", "HTTP/1.1 404 Not Found\r\n\r\n", "garbage", ""}) {
    sockaddr_in a{};
    const int server = listen_on(0x7F000001, &a);
    ASSERT_GE(server, 0);
    std::thread t([&] {
      const int c = ::accept(server, nullptr, nullptr);
      char buf[256];
      (void)::recv(c, buf, sizeof buf, 0);
      (void)::send(c, answer, std::strlen(answer), MSG_NOSIGNAL);
      ::close(c);
    });
    EXPECT_EQ(http_get_ok(0x7F000001, ntohs(a.sin_port), "/api/node/status", 2000), std::strstr(answer, " 200 ") != nullptr)
        << answer;
    t.join();
    ::close(server);
  }
  // Nobody listening: false at once.
  EXPECT_FALSE(http_get_ok(0x7F000001, 1, "/", 500));
}

// The self-probe comes from the node's own address (not the kernel's 127.0.0.1 for a 127.x
// target), so spored's HTTP server keeps a place for it however many clients hold it full.
TEST(HttpGetOk, ConnectsFromTheAddressItProbes) {
  sockaddr_in a{};
  const int server = listen_on(0x7F000009, &a);
  ASSERT_GE(server, 0);
  uint32_t peer_ip = 0;
  std::thread t([&] {
    sockaddr_in peer{};
    socklen_t peer_len = sizeof peer;
    const int c = ::accept(server, reinterpret_cast<sockaddr*>(&peer), &peer_len);
    peer_ip = ntohl(peer.sin_addr.s_addr);
    char buf[256];
    (void)::recv(c, buf, sizeof buf, 0);
    (void)::send(c, "HTTP/1.1 200 OK\r\n\r\n", 19, MSG_NOSIGNAL);
    ::close(c);
  });
  EXPECT_TRUE(http_get_ok(0x7F000009, ntohs(a.sin_port), "/api/node/status", 2000));
  t.join();
  ::close(server);
  EXPECT_EQ(peer_ip, 0x7F000009u);
}

TEST_F(OtaTrialTest, StagedImageIsPromotedWhenHealthy) {
  OtaTrial node(paths, nullptr);
  node.start(false, old_sha, "0.1.0");
  EXPECT_FALSE(node.on_trial());
  stage(node);
  EXPECT_EQ(slurp(paths.trial_file), "new image");
  EXPECT_NE(slurp(exe), "new image") << "the executable keeps the proven image";
  // What launch() leaves: the marker (the guardian itself is the guardian tests' business).
  write_marker(marker(4242));
  // The new run, exec()ed from the trial file.
  OtaTrial trial_run(paths, nullptr);
  trial_run.start(true, new_sha, "9.9.9");
  ASSERT_TRUE(trial_run.on_trial());
  EXPECT_EQ(trial_run.record().guardian_pid, 4242u);
  std::string error;
  ASSERT_TRUE(trial_run.promote(&error)) << error;
  EXPECT_EQ(slurp(exe), "new image");
  EXPECT_FALSE(exists(paths.marker));
  EXPECT_FALSE(exists(paths.trial_dir));
  EXPECT_FALSE(trial_run.on_trial());
  TrialRecord r;
  EXPECT_FALSE(trial_run.take_rollback(&r));
}

// Issue 18 (state-fix, finding 3): a FIFO at <state>/ota_trial blocked spored's start in open().
TEST_F(OtaTrialTest, AFifoOrLinkAtTheMarkerIsRefusedAtOnce) {
  ASSERT_EQ(::mkfifo(paths.marker.c_str(), 0600), 0);
  ::alarm(5);  // the old open() blocked for good: fail (SIGALRM) instead of hanging
  OtaTrial node(paths, nullptr);
  node.start(true, new_sha, "9.9.9");
  EXPECT_FALSE(node.on_trial());
  TrialRecord r;
  EXPECT_FALSE(node.take_rollback(&r));
  ASSERT_EQ(::unlink(paths.marker.c_str()), 0);
  // A link to a valid marker elsewhere is not followed either.
  const std::string elsewhere = root + "/marker-elsewhere";
  put(elsewhere, format_trial_record(marker(4242)));
  ASSERT_EQ(::symlink(elsewhere.c_str(), paths.marker.c_str()), 0);
  OtaTrial linked(paths, nullptr);
  linked.start(true, new_sha, "9.9.9");
  ::alarm(0);
  EXPECT_FALSE(linked.on_trial());
}

TEST_F(OtaTrialTest, PromotionLosesToAGuardianThatClaimedTheTrial) {
  stage_and_mark();
  OtaTrial trial_run(paths, nullptr);
  trial_run.start(true, new_sha, "9.9.9");
  ASSERT_EQ(::rename(paths.trial_file.c_str(), paths.rejected.c_str()), 0);  // the guardian's claim
  std::string error;
  EXPECT_FALSE(trial_run.promote(&error));
  EXPECT_NE(error.find("guardian"), std::string::npos) << error;
  EXPECT_NE(slurp(exe), "new image");
}

TEST_F(OtaTrialTest, AStartAfterAnInterruptedTrialRecordsARollback) {
  stage_and_mark();
  // Power loss: the host comes back and starts the executable, the previous image.
  OtaTrial after(paths, nullptr);
  after.start(false, old_sha, "0.1.0");
  EXPECT_FALSE(after.on_trial());
  EXPECT_FALSE(exists(paths.marker));
  EXPECT_FALSE(exists(paths.trial_dir));
  TrialRecord r;
  ASSERT_TRUE(after.take_rollback(&r));
  EXPECT_EQ(0, std::memcmp(r.image_sha256, new_sha, 32));
  EXPECT_EQ(r.image_version, "9.9.9");
  EXPECT_NE(r.reason.find("interrupted"), std::string::npos) << r.reason;
  EXPECT_FALSE(after.take_rollback(&r)) << "reported once";
  EXPECT_TRUE(exists(paths.rollback_reported));
  // A stopped trial says so.
  stage_and_mark(true);
  OtaTrial later(paths, nullptr);
  later.start(false, old_sha, "0.1.0");
  ASSERT_TRUE(later.take_rollback(&r));
  EXPECT_NE(r.reason.find("stopped"), std::string::npos) << r.reason;
}

TEST_F(OtaTrialTest, AStartFinishesAPromotionAndCleansLeftovers) {
  // Promoted (renamed) but stopped before the marker went: the running image is the marker's.
  write_marker(marker(4242));
  OtaTrial promoted(paths, nullptr);
  promoted.start(false, new_sha, "9.9.9");
  EXPECT_FALSE(exists(paths.marker));
  TrialRecord r;
  EXPECT_FALSE(promoted.take_rollback(&r));
  // Staged but never launched: removed.
  stage(promoted);
  OtaTrial fresh(paths, nullptr);
  fresh.start(false, new_sha, "9.9.9");
  EXPECT_FALSE(exists(paths.trial_dir));
  // An unreadable marker: removed with whatever was staged.
  stage(fresh);
  put(paths.marker, "garbage");
  OtaTrial unreadable(paths, nullptr);
  unreadable.start(false, new_sha, "9.9.9");
  EXPECT_FALSE(exists(paths.marker));
  EXPECT_FALSE(exists(paths.trial_dir));
  // Running from the trial path without a marker: not on trial, never promoted.
  stage(unreadable);
  OtaTrial orphan(paths, nullptr);
  orphan.start(true, new_sha, "9.9.9");
  EXPECT_FALSE(orphan.on_trial());
}

TEST_F(OtaTrialTest, StagingWhileOnTrialRemovesTheMarkerAndStopMarksIt) {
  stage_and_mark();
  OtaTrial trial_run(paths, nullptr);
  trial_run.start(true, new_sha, "9.9.9");
  ASSERT_TRUE(trial_run.on_trial());
  trial_run.mark_stopped();
  TrialRecord r;
  ASSERT_TRUE(parse_trial_record(slurp(paths.marker), &r, nullptr));
  EXPECT_TRUE(r.stopped);
  write_marker(marker(4242));
  stage(trial_run, "third image");  // a second update while the first is on trial
  EXPECT_FALSE(exists(paths.marker)) << "the first trial's guardian must stand down";
  EXPECT_FALSE(trial_run.on_trial());
  EXPECT_EQ(slurp(paths.trial_file), "third image");
}

// ---- the guardian, in a child process (it forks and exits like the real one) --------------------

class GuardianTest : public OtaTrialTest {
 protected:
  void TearDown() override {
    if (node > 0) {
      ::kill(node, SIGKILL);
      ::waitpid(node, nullptr, 0);
    }
    if (guardian > 0 && !gone(guardian)) ::kill(guardian, SIGKILL);
    OtaTrialTest::TearDown();
  }

  /// Starts the stand-in node (`sleep`), stages an image and runs a guardian for it with
  /// `timeout_ms`; returns once the guardian reported its pid (in `guardian`).
  void start_guardian(uint32_t timeout_ms) {
    node = ::fork();
    if (node == 0) {
      ::execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    OtaTrial staging(paths, nullptr);
    staging.start(false, old_sha, "0.1.0");
    stage(staging);
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t spawner = ::fork();
    if (spawner == 0) {
      ::dup2(ready[1], 3);
      GuardianCommand c;
      c.node_pid = static_cast<uint32_t>(node);
      c.timeout_ms = timeout_ms;
      c.node_argv = {exe, "--state-dir", root + "/state"};
      StderrLogSink log(LogLevel::kInfo);
      OtaTrial trial(paths, &log);
      ::_exit(run_guardian(c, trial, log));
    }
    ::close(ready[1]);
    char buf[32] = {};
    ASSERT_GT(::read(ready[0], buf, sizeof buf - 1), 0);
    ::close(ready[0]);
    ::waitpid(spawner, nullptr, 0);
    guardian = std::atoi(buf);
    ASSERT_GT(guardian, 0);
  }

  pid_t node = -1;
  pid_t guardian = -1;
};

TEST_F(GuardianTest, TheNodeDiesAndThePreviousImageIsRestarted) {
  start_guardian(30000);
  write_marker(marker(static_cast<uint32_t>(guardian)));
  ::usleep(3 * kGuardianPollMs * 1000);  // it has seen its marker
  ::kill(node, SIGKILL);
  ::waitpid(node, nullptr, 0);
  node = -1;
  ASSERT_TRUE(eventually([&] { return exists(root + "/restarted"); })) << "the previous image was not restarted";
  EXPECT_EQ(slurp(root + "/restarted"), "--state-dir " + root + "/state\n");
  EXPECT_FALSE(exists(paths.marker));
  EXPECT_FALSE(exists(paths.trial_dir));
  TrialRecord r;
  ASSERT_TRUE(parse_trial_record(slurp(paths.rollback), &r, nullptr));
  EXPECT_EQ(0, std::memcmp(r.image_sha256, new_sha, 32));
  EXPECT_NE(r.reason.find("process ended"), std::string::npos) << r.reason;
}

TEST_F(GuardianTest, AtTheDeadlineTheNodeIsKilledAndThePreviousImageRestarted) {
  start_guardian(600);
  write_marker(marker(static_cast<uint32_t>(guardian)));
  int status = 0;
  ASSERT_EQ(::waitpid(node, &status, 0), node);  // killed by the guardian, not by us
  node = -1;
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ASSERT_TRUE(eventually([&] { return exists(root + "/restarted"); }));
  TrialRecord r;
  ASSERT_TRUE(parse_trial_record(slurp(paths.rollback), &r, nullptr));
  EXPECT_NE(r.reason.find("not healthy"), std::string::npos) << r.reason;
}

TEST_F(GuardianTest, AStoppedTrialIsSetAsideWithoutARestart) {
  start_guardian(30000);
  write_marker(marker(static_cast<uint32_t>(guardian), true));
  ::usleep(3 * kGuardianPollMs * 1000);
  ::kill(node, SIGTERM);
  ::waitpid(node, nullptr, 0);
  node = -1;
  ASSERT_TRUE(eventually([&] { return gone(guardian); }));
  EXPECT_FALSE(exists(root + "/restarted"));
  EXPECT_FALSE(exists(paths.trial_dir));
  TrialRecord r;
  ASSERT_TRUE(parse_trial_record(slurp(paths.rollback), &r, nullptr));
  EXPECT_TRUE(r.stopped);
}

TEST_F(GuardianTest, ItStandsDownWhenTheImagePromotesItselfOrIsSuperseded) {
  for (bool superseded : {false, true}) {
    SCOPED_TRACE(superseded ? "superseded" : "promoted");
    start_guardian(30000);
    write_marker(marker(static_cast<uint32_t>(guardian)));
    ::usleep(3 * kGuardianPollMs * 1000);
    if (superseded) {
      write_marker(marker(static_cast<uint32_t>(guardian) + 1));  // a newer trial's guardian
    } else {
      OtaTrial trial_run(paths, nullptr);
      trial_run.start(true, new_sha, "9.9.9");
      std::string error;
      ASSERT_TRUE(trial_run.promote(&error)) << error;
    }
    ASSERT_TRUE(eventually([&] { return gone(guardian); }));
    ::kill(node, SIGKILL);
    ::waitpid(node, nullptr, 0);
    node = -1;
    ::usleep(3 * kGuardianPollMs * 1000);
    EXPECT_FALSE(exists(root + "/restarted"));
    EXPECT_FALSE(exists(paths.rollback));
    ::unlink(paths.marker.c_str());
    OtaTrial cleanup(paths, nullptr);
    cleanup.remove_trial_dir();
  }
}

TEST(GuardianCommandLine, RoundTripsAndRefusesAnythingElse) {
  const std::vector<std::string> argv = guardian_argv(1234, 60000, {"/usr/bin/spored", "--bind", "127.0.0.2"});
  std::vector<const char*> c;
  for (const auto& a : argv) c.push_back(a.c_str());
  GuardianCommand g;
  ASSERT_TRUE(parse_guardian_command(static_cast<int>(c.size()), c.data(), &g));
  EXPECT_EQ(g.node_pid, 1234u);
  EXPECT_EQ(g.timeout_ms, 60000u);
  EXPECT_EQ(g.node_argv, (std::vector<std::string>{"/usr/bin/spored", "--bind", "127.0.0.2"}));
  const char* no_dashes[] = {"spored", "--ota-guardian", "1", "2", "x", "spored"};
  const char* zero_pid[] = {"spored", "--ota-guardian", "0", "2", "--", "spored"};
  const char* bad_timeout[] = {"spored", "--ota-guardian", "1", "-2", "--", "spored"};
  const char* no_node[] = {"spored", "--ota-guardian", "1", "2", "--"};
  EXPECT_FALSE(parse_guardian_command(6, no_dashes, &g));
  EXPECT_FALSE(parse_guardian_command(6, zero_pid, &g));
  EXPECT_FALSE(parse_guardian_command(6, bad_timeout, &g));
  EXPECT_FALSE(parse_guardian_command(5, no_node, &g));
}

}  // namespace
}  // namespace spore::posix
