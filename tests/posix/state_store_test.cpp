// StateStore: node id stable across starts, boot counter and incarnation grow on every start,
// atomic writes, a clear error for an unusable directory, one spored per directory.

#include "posix/state_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

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

TEST_F(StateStoreTest, BootCounterSaturates) {
  StateStore s;
  ASSERT_TRUE(s.open(root, nullptr));
  ASSERT_TRUE(s.write_atomic("boot_count", "65535\n", 0644, nullptr));
  NodeState n;
  ASSERT_TRUE(s.start(&n, nullptr));
  EXPECT_EQ(n.boot_count, StateStore::kMaxBootCount);
  EXPECT_EQ(n.incarnation, 0xFFFFu << 16);
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

}  // namespace
}  // namespace spore::posix
