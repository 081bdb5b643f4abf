// private_file: what spored trusts on disk (issue 18, finding 8). A secret is read only from a
// regular file, never through a link, never one another user can write; a FIFO planted at the
// path does not block the read.

#include "posix/private_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace spore::posix {
namespace {

class PrivateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/spore-private-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root = tmpl;
  }
  void TearDown() override { std::system(("rm -rf '" + root + "'").c_str()); }
  std::string file(const std::string& name, const std::string& content, mode_t mode) {
    const std::string path = root + "/" + name;
    std::ofstream(path) << content;
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }
  std::string root;
};

TEST_F(PrivateFileTest, ReadsAPrivateRegularFile) {
  std::string out, error;
  EXPECT_EQ(read_private_file("key", file("k", "abc\n", 0600), &out, 4096, &error), PrivateRead::kOk) << error;
  EXPECT_EQ(out, "abc\n");
  // Readable by others is a warning for the caller, not a refusal: nobody else can change it.
  EXPECT_EQ(read_private_file("key", file("r", "abc", 0644), &out, 2, &error), PrivateRead::kOk) << error;
  EXPECT_EQ(out, "ab");  // at most max_bytes
  EXPECT_EQ(read_private_file("key", root + "/missing", &out, 4096, &error), PrivateRead::kMissing);
}

TEST_F(PrivateFileTest, RefusesWhatAnotherUserCouldWriteOrRedirect) {
  std::string out, error;
  const std::string writable = file("w", "abc", 0620);
  EXPECT_EQ(read_private_file("key", writable, &out, 4096, &error), PrivateRead::kRefused);
  EXPECT_NE(error.find(writable + " (owner uid " + std::to_string(::geteuid()) + ", mode 0620)"), std::string::npos)
      << error;
  EXPECT_TRUE(out.empty());

  const std::string link = root + "/link";
  ASSERT_EQ(::symlink(file("target", "abc", 0600).c_str(), link.c_str()), 0);
  EXPECT_EQ(read_private_file("key", link, &out, 4096, &error), PrivateRead::kRefused);
  EXPECT_NE(error.find("symbolic link"), std::string::npos) << error;

  const std::string fifo = root + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(read_private_file("key", fifo, &out, 4096, &error), PrivateRead::kRefused);  // and returns at once
  EXPECT_NE(error.find("not a regular file"), std::string::npos) << error;

  EXPECT_EQ(read_private_file("key", root, &out, 4096, &error), PrivateRead::kRefused);  // a directory

  if (::geteuid() == 0) {
    const std::string foreign = file("foreign", "abc", 0600);
    ASSERT_EQ(::chown(foreign.c_str(), 65534, 65534), 0);
    EXPECT_EQ(read_private_file("key", foreign, &out, 4096, &error), PrivateRead::kRefused);
    EXPECT_NE(error.find("belongs to another user"), std::string::npos) << error;
  }
}

TEST_F(PrivateFileTest, DirectoriesOfThisUserOrRootPassOthersDoNot) {
  std::string error;
  EXPECT_TRUE(check_private_dir("state dir", root, &error)) << error;
  ASSERT_EQ(::chmod(root.c_str(), 0757), 0);
  EXPECT_FALSE(check_private_dir("state dir", root, &error));
  EXPECT_NE(error.find("mode 0757"), std::string::npos) << error;
  ASSERT_EQ(::chmod(root.c_str(), 0700), 0);
  // A root-owned system directory is trusted (root can write anything anyway); /tmp is not (1777).
  EXPECT_TRUE(check_private_dir("state dir", "/usr", &error)) << error;
  EXPECT_FALSE(check_private_dir("state dir", "/tmp", &error));
  EXPECT_NE(error.find("mode 1777"), std::string::npos) << error;
  EXPECT_FALSE(check_private_dir("state dir", root + "/missing", &error));
  // The directory itself must not be a link (issue 18 state-fix 2); a link among its parents is
  // followed (documented).
  const std::string link = root + "/link";
  ASSERT_EQ(::mkdir((root + "/real").c_str(), 0700), 0);
  ASSERT_EQ(::symlink((root + "/real").c_str(), link.c_str()), 0);
  EXPECT_FALSE(check_private_dir("state dir", link, &error));
  EXPECT_NE(error.find("is a symbolic link"), std::string::npos) << error;
  ASSERT_EQ(::mkdir((root + "/real/sub").c_str(), 0700), 0);
  EXPECT_TRUE(check_private_dir("state dir", link + "/sub", &error)) << error;
}

}  // namespace
}  // namespace spore::posix
