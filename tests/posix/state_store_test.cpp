// StateStore: node id stable across starts, boot counter and incarnation grow on every start,
// atomic writes, a clear error for an unusable directory, one spored per directory.

#include "posix/state_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace spore::posix {
namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/spore-state-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root = tmpl;
  }
  void TearDown() override { std::system(("rm -rf '" + root + "'").c_str()); }

  static std::string slurp(const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  std::string root;
};

TEST_F(StateStoreTest, IdIsStableAndIncarnationGrowsOnEveryStart) {
  const std::string dir = root + "/a/b/state";  // parents are created
  NodeState first, second, third;
  std::string error;
  {
    StateStore s;
    ASSERT_TRUE(s.open(dir, &error)) << error;
    ASSERT_TRUE(s.start(&first, &error)) << error;
  }
  EXPECT_TRUE(first.first_start);
  EXPECT_NE(first.node_id, 0u);
  EXPECT_EQ(first.boot_count, 1u);
  EXPECT_EQ(first.incarnation, 1u << 16);
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  {
    StateStore s;
    ASSERT_TRUE(s.open(dir, &error)) << error;
    ASSERT_TRUE(s.start(&second, &error)) << error;
  }
  {
    StateStore s;
    ASSERT_TRUE(s.open(dir + "/", &error)) << error;
    ASSERT_TRUE(s.start(&third, &error)) << error;
  }
  EXPECT_FALSE(second.first_start);
  EXPECT_EQ(second.node_id, first.node_id);
  EXPECT_EQ(third.node_id, first.node_id);
  EXPECT_EQ(second.boot_count, 2u);
  EXPECT_EQ(third.boot_count, 3u);
  // Every start is above anything the previous run could announce after 65535 refutations.
  EXPECT_GT(second.incarnation, first.incarnation + 0xFFFF);
  EXPECT_GT(third.incarnation, second.incarnation + 0xFFFF);
  EXPECT_EQ(slurp(dir + "/boot_count"), "3\n");
}

TEST_F(StateStoreTest, DifferentDirectoriesGetDifferentIds) {
  StateStore a, b;
  NodeState na, nb;
  ASSERT_TRUE(a.open(root + "/a", nullptr));
  ASSERT_TRUE(b.open(root + "/b", nullptr));
  ASSERT_TRUE(a.start(&na, nullptr));
  ASSERT_TRUE(b.start(&nb, nullptr));
  EXPECT_NE(na.node_id, nb.node_id);
}

// Issue 18, finding 2: the count used to stop at 65535, so every later start reused incarnation
// 0xFFFF0000 and peers dropped its datagrams and events as replays.
TEST_F(StateStoreTest, BootsPastTheOld16BitLimitStayNewer) {
  StateStore s;
  ASSERT_TRUE(s.open(root, nullptr));
  ASSERT_TRUE(s.write_atomic("boot_count", "65534\n", 0644, nullptr));
  NodeState before, after, later;
  ASSERT_TRUE(s.start(&before, nullptr));
  ASSERT_TRUE(s.start(&after, nullptr));
  ASSERT_TRUE(s.start(&later, nullptr));
  EXPECT_EQ(before.boot_count, 65535u);
  EXPECT_EQ(after.boot_count, 65536u);
  EXPECT_EQ(later.boot_count, 65537u);
  EXPECT_EQ(slurp(root + "/boot_count"), "65537\n");
  // Newer than anything the previous run could announce (65535 refutations), wrap or not.
  EXPECT_TRUE(incarnation_newer(after.incarnation, before.incarnation + 0xFFFF));
  EXPECT_TRUE(incarnation_newer(later.incarnation, after.incarnation + 0xFFFF));
  // The 32-bit count wraps too, and still moves on.
  ASSERT_TRUE(s.write_atomic("boot_count", "4294967295\n", 0644, nullptr));
  NodeState wrapped;
  ASSERT_TRUE(s.start(&wrapped, nullptr));
  EXPECT_EQ(wrapped.boot_count, 0u);
  EXPECT_TRUE(incarnation_newer(wrapped.incarnation, incarnation_for_boot(0xFFFFFFFFu) + 0xFFFF));
}

TEST_F(StateStoreTest, CorruptFilesAreReportedNotReplaced) {
  StateStore s;
  std::string error;
  ASSERT_TRUE(s.open(root, &error));
  ASSERT_TRUE(s.write_atomic("node_id", "not hex\n", 0644, nullptr));
  NodeState n;
  EXPECT_FALSE(s.start(&n, &error));
  EXPECT_NE(error.find("node_id is corrupt"), std::string::npos) << error;
  EXPECT_EQ(slurp(root + "/node_id"), "not hex\n");  // an identity is never silently replaced

  ASSERT_TRUE(s.write_atomic("node_id", "00000000\n", 0644, nullptr));
  EXPECT_FALSE(s.start(&n, &error));

  ASSERT_TRUE(s.write_atomic("node_id", "0badcafe\n", 0644, nullptr));
  ASSERT_TRUE(s.write_atomic("boot_count", "-3\n", 0644, nullptr));
  EXPECT_FALSE(s.start(&n, &error));
  EXPECT_NE(error.find("boot_count is corrupt"), std::string::npos) << error;
  ASSERT_TRUE(s.write_atomic("boot_count", "41\n", 0644, nullptr));
  ASSERT_TRUE(s.start(&n, &error)) << error;
  EXPECT_EQ(n.node_id, 0x0badcafeu);
  EXPECT_EQ(n.boot_count, 42u);
}

TEST_F(StateStoreTest, AtomicWriteReplacesWholeFileAndLeavesNoTemp) {
  StateStore s;
  ASSERT_TRUE(s.open(root, nullptr));
  ASSERT_TRUE(s.write_atomic("f", std::string(100000, 'x'), 0644, nullptr));
  ASSERT_TRUE(s.write_atomic("f", "short", 0644, nullptr));
  EXPECT_EQ(slurp(root + "/f"), "short");
  const std::string listing = [&] {
    std::string out;
    FILE* p = ::popen(("ls -a '" + root + "'").c_str(), "r");
    char line[256];
    while (p != nullptr && std::fgets(line, sizeof line, p) != nullptr) out += line;
    if (p != nullptr) ::pclose(p);
    return out;
  }();
  EXPECT_EQ(listing.find(".tmp."), std::string::npos) << listing;
}

TEST_F(StateStoreTest, TokenIsCreatedOnceWithMode0600) {
  StateStore s;
  ASSERT_TRUE(s.open(root, nullptr));
  ::umask(022);
  std::string token, again, error;
  bool created = false;
  ASSERT_TRUE(s.load_or_create_token(&token, &created, &error)) << error;
  EXPECT_TRUE(created);
  EXPECT_EQ(token.size(), 32u);
  EXPECT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat((root + "/api_token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(s.load_or_create_token(&again, &created, &error));
  EXPECT_FALSE(created);
  EXPECT_EQ(again, token);
}

TEST_F(StateStoreTest, OneProcessPerDirectory) {
  StateStore a, b;
  std::string error;
  ASSERT_TRUE(a.open(root, &error)) << error;
  // flock() locks belong to the open file description, so a second open in the same process
  // conflicts just like a second spored would.
  EXPECT_FALSE(b.open(root, &error));
  EXPECT_NE(error.find("in use by another spored"), std::string::npos) << error;
  EXPECT_NE(error.find(std::to_string(::getpid())), std::string::npos) << error;
  a.close();
  EXPECT_TRUE(b.open(root, &error)) << error;
}

TEST_F(StateStoreTest, UnusableDirectoryGivesAClearError) {
  std::string error;
  StateStore s;
  // A regular file where the directory should be.
  ASSERT_TRUE(write_file_atomic(root + "/file", "x", 0644, nullptr));
  EXPECT_FALSE(s.open(root + "/file", &error));
  EXPECT_NE(error.find(root + "/file"), std::string::npos) << error;
  EXPECT_FALSE(s.open(root + "/file/sub", &error));
  EXPECT_NE(error.find("state dir"), std::string::npos) << error;
  EXPECT_FALSE(s.open("", &error));

  if (::geteuid() != 0) {  // root ignores permission bits
    ASSERT_EQ(::mkdir((root + "/ro").c_str(), 0500), 0);
    EXPECT_FALSE(s.open(root + "/ro", &error));
    EXPECT_NE(error.find("not writable"), std::string::npos) << error;
  }
  EXPECT_FALSE(write_file_atomic(root + "/missing/dir/f", "x", 0644, &error));
  EXPECT_NE(error.find("cannot write"), std::string::npos) << error;
}

// ---- local state a neighbour cannot abuse (issue 18, findings 8 and 9) -------------------------

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_F(StateStoreTest, ADirectoryOthersCanWriteIsRefusedNamingPathOwnerAndMode) {
  const std::string dir = root + "/state";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 0777), 0);
  StateStore s;
  std::string error;
  EXPECT_FALSE(s.open(dir, &error));
  EXPECT_TRUE(has(error, dir)) << error;
  EXPECT_TRUE(has(error, "owner uid " + std::to_string(::geteuid()))) << error;
  EXPECT_TRUE(has(error, "mode 0777")) << error;
  EXPECT_TRUE(has(error, "writable by group/others")) << error;
  EXPECT_NE(::access((dir + "/lock").c_str(), F_OK), 0) << "nothing is created in a refused directory";
  ASSERT_EQ(::chmod(dir.c_str(), 0770), 0);  // group-writable is refused too
  EXPECT_FALSE(s.open(dir, &error));
  EXPECT_TRUE(has(error, "mode 0770")) << error;
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);  // readable is fine
  EXPECT_TRUE(s.open(dir, &error)) << error;
  s.close();
  if (::geteuid() == 0) {  // only root can give a directory away
    ASSERT_EQ(::chown(dir.c_str(), 65534, 65534), 0);
    EXPECT_FALSE(s.open(dir, &error));
    EXPECT_TRUE(has(error, "owner uid 65534")) << error;
    EXPECT_TRUE(has(error, "belongs to another user")) << error;
  }
}

TEST_F(StateStoreTest, AnApiTokenOthersCanWriteIsRefusedNotUsedNorReplaced) {
  StateStore s;
  std::string error, token;
  bool created = false;
  ASSERT_TRUE(write_file_atomic(root + "/api_token", "planted\n", 0666, nullptr));
  EXPECT_FALSE(s.open(root, &error));  // every entry is checked at open
  EXPECT_TRUE(has(error, root + "/api_token")) << error;
  EXPECT_TRUE(has(error, "mode 0666")) << error;
  ASSERT_EQ(::chmod((root + "/api_token").c_str(), 0600), 0);
  ASSERT_TRUE(s.open(root, &error)) << error;
  ASSERT_EQ(::chmod((root + "/api_token").c_str(), 0666), 0);  // changed while running
  EXPECT_FALSE(s.load_or_create_token(&token, &created, &error));
  EXPECT_TRUE(has(error, "mode 0666")) << error;
  EXPECT_TRUE(token.empty());
  EXPECT_EQ(slurp(root + "/api_token"), "planted\n");
}

TEST_F(StateStoreTest, ASymlinkedApiTokenIsNotFollowed) {
  const std::string target = root + "/elsewhere";
  ASSERT_EQ(::mkdir(target.c_str(), 0700), 0);
  ASSERT_TRUE(write_file_atomic(target + "/secret", "0123456789abcdef0123456789abcdef\n", 0600, nullptr));
  const std::string dir = root + "/state";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(::symlink((target + "/secret").c_str(), (dir + "/api_token").c_str()), 0);
  StateStore s;
  std::string error, token;
  bool created = false;
  EXPECT_FALSE(s.open(dir, &error));
  EXPECT_TRUE(has(error, dir + "/api_token is a symbolic link")) << error;
  // Planted after open: the read itself refuses it (O_NOFOLLOW), and no new token replaces it.
  ASSERT_EQ(::unlink((dir + "/api_token").c_str()), 0);
  ASSERT_TRUE(s.open(dir, &error)) << error;
  ASSERT_EQ(::symlink((target + "/secret").c_str(), (dir + "/api_token").c_str()), 0);
  EXPECT_FALSE(s.load_or_create_token(&token, &created, &error));
  EXPECT_TRUE(has(error, "symbolic link")) << error;
  EXPECT_TRUE(token.empty());
  std::string out;
  EXPECT_FALSE(s.read("api_token", &out));
  EXPECT_EQ(slurp(target + "/secret"), "0123456789abcdef0123456789abcdef\n");
}

TEST_F(StateStoreTest, APreCreatedFileOrHardLinkAtTheTempNameIsNeverWrittenThrough) {
  const std::string victim = root + "/victim";
  ASSERT_TRUE(write_file_atomic(victim, "victim's data\n", 0644, nullptr));
  const std::string dir = root + "/state";
  StateStore s;
  std::string error;
  ASSERT_TRUE(s.open(dir, &error)) << error;
  const std::string tmp = dir + "/boot_count.tmp." + std::to_string(::getpid());
  ASSERT_EQ(::link(victim.c_str(), tmp.c_str()), 0);
  ASSERT_EQ(::symlink(victim.c_str(), (dir + "/node_id.tmp." + std::to_string(::getpid())).c_str()), 0);
  NodeState n;
  ASSERT_TRUE(s.start(&n, &error)) << error;  // takes another temp name
  EXPECT_EQ(slurp(victim), "victim's data\n");
  EXPECT_EQ(slurp(tmp), "victim's data\n");
  EXPECT_EQ(slurp(dir + "/boot_count"), "1\n");
  struct stat st {};
  ASSERT_EQ(::lstat((dir + "/node_id").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST_F(StateStoreTest, StaleTempFilesOfItsOwnNamingAreRemovedAtOpen) {
  const std::string dir = root + "/state";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  const std::string mine = "boot_count.tmp." + std::to_string(::getpid());  // before an execv() restart
  const std::vector<std::string> stale = {mine, "node_id.tmp.999999999", "ota_trial.tmp.999999999.3"};
  const std::vector<std::string> kept = {"api_token.tmp.1",  // pid 1 runs: a live writer's
                                         "notes.tmp.x", "tmp.5"};
  for (const std::string& name : stale) ASSERT_TRUE(write_file_atomic(dir + "/" + name, "x", 0600, nullptr));
  for (const std::string& name : kept) ASSERT_TRUE(write_file_atomic(dir + "/" + name, "x", 0600, nullptr));
  StateStore s;
  std::string error;
  ASSERT_TRUE(s.open(dir, &error)) << error;
  for (const std::string& name : stale) EXPECT_NE(::access((dir + "/" + name).c_str(), F_OK), 0) << name;
  for (const std::string& name : kept) EXPECT_EQ(::access((dir + "/" + name).c_str(), F_OK), 0) << name;
  std::vector<std::string> removed = s.removed_temp_files();
  std::sort(removed.begin(), removed.end());
  std::vector<std::string> expected = stale;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(removed, expected);
}

// Issue 18 (state-fix, finding 2): a state dir path that is a link (e.g. planted by another user
// in a sticky /tmp) was followed: spored truncated `lock`, removed `*.tmp.*` files and created
// files in the directory it pointed to.
TEST_F(StateStoreTest, AStateDirThatIsALinkIsRefusedAndItsTargetUntouched) {
  const std::string target = root + "/elsewhere";
  ASSERT_EQ(::mkdir(target.c_str(), 0700), 0);
  ASSERT_TRUE(write_file_atomic(target + "/lock", "IMPORTANT\n", 0600, nullptr));
  ASSERT_TRUE(write_file_atomic(target + "/backup.tmp.999999999", "precious\n", 0600, nullptr));
  const std::string link = root + "/state";
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  StateStore s;
  std::string error;
  EXPECT_FALSE(s.open(link, &error));
  EXPECT_NE(error.find("symbolic link"), std::string::npos) << error;
  EXPECT_EQ(slurp(target + "/lock"), "IMPORTANT\n");
  EXPECT_EQ(slurp(target + "/backup.tmp.999999999"), "precious\n");
  EXPECT_NE(::access((target + "/node_id").c_str(), F_OK), 0);
  NodeState n;
  EXPECT_FALSE(StateStore::peek(link, &n, &error));
}

// The directory is used through the descriptor open() checked: swapping its path for a link
// afterwards (the race of toctou_race.sh) redirects no write.
TEST_F(StateStoreTest, WritesGoToTheDirectoryThatWasCheckedEvenIfItsPathIsSwapped) {
  const std::string dir = root + "/state", moved = root + "/moved", target = root + "/victim";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(::mkdir(target.c_str(), 0700), 0);
  StateStore s;
  std::string error;
  ASSERT_TRUE(s.open(dir, &error)) << error;
  ASSERT_EQ(::rename(dir.c_str(), moved.c_str()), 0);
  ASSERT_EQ(::symlink(target.c_str(), dir.c_str()), 0);
  NodeState n;
  ASSERT_TRUE(s.start(&n, &error)) << error;
  EXPECT_EQ(slurp(moved + "/boot_count"), "1\n");
  EXPECT_NE(::access((target + "/boot_count").c_str(), F_OK), 0);
  EXPECT_NE(::access((target + "/node_id").c_str(), F_OK), 0);
}

// Issue 18 (state-fix, finding 6): a refused start removed a stale temp file and created `lock`.
TEST_F(StateStoreTest, ARefusedOpenChangesNothing) {
  const std::string dir = root + "/state";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_TRUE(write_file_atomic(dir + "/boot_count.tmp.999999999", "old\n", 0600, nullptr));
  ASSERT_TRUE(write_file_atomic(dir + "/zz", "x", 0666, nullptr));
  StateStore s;
  std::string error;
  EXPECT_FALSE(s.open(dir, &error));
  EXPECT_NE(error.find("writable by group/others"), std::string::npos) << error;
  EXPECT_EQ(slurp(dir + "/boot_count.tmp.999999999"), "old\n");
  EXPECT_NE(::access((dir + "/lock").c_str(), F_OK), 0);
  EXPECT_TRUE(s.removed_temp_files().empty());
}

// A run whose incarnation went past its boot's range (only a sequence wrap after the last
// refutation can) stores a boot count whose next start is newer.
TEST_F(StateStoreTest, ARunPastItsBootsRangeRaisesTheNextStart) {
  const std::string dir = root + "/state";
  StateStore s;
  NodeState n;
  std::string error;
  ASSERT_TRUE(s.open(dir, &error) && s.start(&n, &error)) << error;
  ASSERT_TRUE(s.record_incarnation(n, n.incarnation + kIncarnationRunSteps, &error)) << error;
  EXPECT_EQ(slurp(dir + "/boot_count"), "1\n");  // within the range: nothing to do
  const uint32_t beyond = n.incarnation + kIncarnationRunSteps + 3;
  ASSERT_TRUE(s.record_incarnation(n, beyond, &error)) << error;
  s.close();
  StateStore again;
  NodeState next;
  ASSERT_TRUE(again.open(dir, &error) && again.start(&next, &error)) << error;
  EXPECT_TRUE(incarnation_newer(next.incarnation, beyond));
}

TEST_F(StateStoreTest, WorksUnderUmask000WithPrivateModes) {
  const mode_t old = ::umask(0);
  const std::string dir = root + "/fresh/state";
  StateStore s;
  NodeState n;
  std::string error, token;
  bool created = false;
  const bool opened = s.open(dir, &error);
  const bool started = opened && s.start(&n, &error);
  const bool tokened = started && s.load_or_create_token(&token, &created, &error);
  ::umask(old);
  ASSERT_TRUE(opened && started && tokened) << error;
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  for (const char* name : {"lock", "api_token"}) {
    ASSERT_EQ(::stat((dir + "/" + name).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << name;
  }
  s.close();
  EXPECT_TRUE(s.open(dir, &error)) << error;  // and it trusts what it made
}

}  // namespace
}  // namespace spore::posix
