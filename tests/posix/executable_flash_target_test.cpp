// ExecutableFlashTarget: ELF magic of this host only, a new executable written beside the old one,
// verified from disk and renamed over it atomically; every failure leaves the old file untouched
// and no temporary file behind.

#include "posix/executable_flash_target.h"

#include <bearssl/bearssl_hash.h>
#include <dirent.h>
#include <elf.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace spore::posix {
namespace {

std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void put(const std::string& path, const std::vector<uint8_t>& bytes, mode_t mode = 0755) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  ::chmod(path.c_str(), mode);
}

void sha256(const std::vector<uint8_t>& bytes, uint8_t (&out)[32]) {
  br_sha256_context c;
  br_sha256_init(&c);
  br_sha256_update(&c, bytes.data(), bytes.size());
  br_sha256_out(&c, out);
}

class ExecutableFlashTargetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/spore-flash-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root = tmpl;
    exe = root + "/spored";
    // The "running executable": this test binary itself, an ELF for this host.
    self = slurp("/proc/self/exe");
    ASSERT_GT(self.size(), 64u);
    put(exe, self);
    // The new image: the same ELF with a changed tail, so old and new differ.
    image = self;
    image.push_back('N');
    image.push_back('E');
    image.push_back('W');
  }
  void TearDown() override { std::system(("rm -rf '" + root + "'").c_str()); }

  /// Files in root besides the executable (leftover temporary files).
  std::vector<std::string> others() const {
    std::vector<std::string> names;
    DIR* d = ::opendir(root.c_str());
    while (dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != ".." && n != "spored") names.push_back(n);
    }
    ::closedir(d);
    return names;
  }

  bool write_chunked(ExecutableFlashTarget& t, const std::vector<uint8_t>& bytes, size_t chunk) {
    for (size_t off = 0; off < bytes.size(); off += chunk) {
      if (!t.write(bytes.data() + off, std::min(chunk, bytes.size() - off))) return false;
    }
    return true;
  }

  std::string root, exe;
  std::vector<uint8_t> self, image;
};

TEST_F(ExecutableFlashTargetTest, MagicIsAnElfOfThisHost) {
  ExecutableFlashTarget t(exe);
  EXPECT_TRUE(t.check_magic(self.data(), 16));
  EXPECT_TRUE(t.check_magic(self.data(), 4));  // a 4-byte image: only the magic can be checked
  EXPECT_FALSE(t.check_magic(self.data(), 3));
  EXPECT_FALSE(t.check_magic(nullptr, 0));
  const uint8_t text[16] = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n', 0, 0, 0, 0};
  EXPECT_FALSE(t.check_magic(text, sizeof text));
  const uint8_t esp[16] = {0xE9, 0x03, 0x02, 0x20};  // an ESP8266 image
  EXPECT_FALSE(t.check_magic(esp, sizeof esp));
  std::vector<uint8_t> other(self.begin(), self.begin() + 16);
  other[EI_CLASS] = other[EI_CLASS] == ELFCLASS64 ? ELFCLASS32 : ELFCLASS64;
  EXPECT_FALSE(t.check_magic(other.data(), 16));
  other = std::vector<uint8_t>(self.begin(), self.begin() + 16);
  other[EI_DATA] = other[EI_DATA] == ELFDATA2LSB ? ELFDATA2MSB : ELFDATA2LSB;
  EXPECT_FALSE(t.check_magic(other.data(), 16));
  // Given 20 bytes, the machine is checked too.
  EXPECT_TRUE(t.check_magic(self.data(), 20));
  other = std::vector<uint8_t>(self.begin(), self.begin() + 20);
  other[18] ^= 0x40;
  EXPECT_TRUE(t.check_magic(other.data(), 16));
  EXPECT_FALSE(t.check_magic(other.data(), 20));
}

TEST_F(ExecutableFlashTargetTest, CommitReplacesTheExecutableAtomically) {
  ExecutableFlashTarget t(exe);
  EXPECT_EQ(t.temp_path(), root + "/.spored.update." + std::to_string(::getpid()));
  EXPECT_GT(t.capacity_bytes(), image.size());
  ASSERT_TRUE(t.begin(image.size() + 300)) << t.last_error();  // an upper bound, like a signed upload's
  EXPECT_TRUE(t.active());
  struct stat st {};
  ASSERT_EQ(::stat(t.temp_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(write_chunked(t, image, 1000)) << t.last_error();
  EXPECT_EQ(slurp(exe), self) << "the executable must not change before commit()";
  uint8_t digest[32];
  sha256(image, digest);
  ASSERT_EQ(t.commit(digest), OtaError::kOk) << t.last_error();
  EXPECT_FALSE(t.active());
  EXPECT_EQ(slurp(exe), image);  // reservation trimmed to the bytes written
  ASSERT_EQ(::stat(exe.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  EXPECT_TRUE(others().empty());

  uint8_t again[32];
  uint64_t size = 0;
  std::string error;
  ASSERT_TRUE(sha256_file(exe, again, &size, &error)) << error;
  EXPECT_EQ(size, image.size());
  EXPECT_EQ(0, std::memcmp(again, digest, 32));
}

TEST_F(ExecutableFlashTargetTest, UnknownSizeIsWrittenWithoutReservation) {
  ExecutableFlashTarget t(exe);
  ASSERT_TRUE(t.begin(0)) << t.last_error();
  ASSERT_TRUE(write_chunked(t, image, 4096));
  uint8_t digest[32];
  sha256(image, digest);
  ASSERT_EQ(t.commit(digest), OtaError::kOk) << t.last_error();
  EXPECT_EQ(slurp(exe), image);
}

TEST_F(ExecutableFlashTargetTest, WrongDigestLeavesTheOldExecutable) {
  ExecutableFlashTarget t(exe);
  ASSERT_TRUE(t.begin(image.size()));
  ASSERT_TRUE(write_chunked(t, image, 777));
  uint8_t digest[32];
  sha256(image, digest);
  digest[5] ^= 1;
  EXPECT_EQ(t.commit(digest), OtaError::kFlashCommit);
  EXPECT_NE(t.last_error().find("SHA-256"), std::string::npos) << t.last_error();
  EXPECT_EQ(slurp(exe), self);
  EXPECT_TRUE(others().empty());
}

TEST_F(ExecutableFlashTargetTest, AbortRemovesTheTemporaryFile) {
  ExecutableFlashTarget t(exe);
  ASSERT_TRUE(t.begin(image.size()));
  ASSERT_TRUE(write_chunked(t, image, 5000));
  t.abort();
  t.abort();  // idempotent
  EXPECT_FALSE(t.active());
  EXPECT_EQ(slurp(exe), self);
  EXPECT_TRUE(others().empty());
  // A new session after an abort works.
  ASSERT_TRUE(t.begin(image.size()));
  ASSERT_TRUE(write_chunked(t, image, 5000));
  uint8_t digest[32];
  sha256(image, digest);
  EXPECT_EQ(t.commit(digest), OtaError::kOk) << t.last_error();
}

TEST_F(ExecutableFlashTargetTest, DestructorAbortsAnOpenSession) {
  {
    ExecutableFlashTarget t(exe);
    ASSERT_TRUE(t.begin(image.size()));
    ASSERT_TRUE(write_chunked(t, image, 5000));
  }
  EXPECT_EQ(slurp(exe), self);
  EXPECT_TRUE(others().empty());
}

TEST_F(ExecutableFlashTargetTest, ElfForAnotherMachineOrNotAnExecutableIsRefused) {
  for (int variant = 0; variant < 2; ++variant) {
    std::vector<uint8_t> bad = image;
    const bool lsb = bad[EI_DATA] == ELFDATA2LSB;
    const size_t at = variant == 0 ? 18 : 16;                  // e_machine, e_type
    const uint16_t value = variant == 0 ? 94 /* xtensa */ : ET_REL;  // an object file
    bad[at + (lsb ? 0 : 1)] = static_cast<uint8_t>(value & 0xFF);
    bad[at + (lsb ? 1 : 0)] = static_cast<uint8_t>(value >> 8);
    ExecutableFlashTarget t(exe);
    ASSERT_TRUE(t.begin(bad.size()));
    // The header arrives in small pieces: the check waits for 20 bytes.
    EXPECT_TRUE(t.write(bad.data(), 7));
    EXPECT_FALSE(write_chunked(t, std::vector<uint8_t>(bad.begin() + 7, bad.end()), 9));
    EXPECT_NE(t.last_error().find(variant == 0 ? "xtensa" : "not an executable"), std::string::npos)
        << t.last_error();
    EXPECT_FALSE(t.active());
    EXPECT_EQ(slurp(exe), self);
    EXPECT_TRUE(others().empty());
  }
}

TEST_F(ExecutableFlashTargetTest, CapacityIsFreeSpaceMinusMarginAndCapped) {
  ExecutableFlashTarget t(exe);
  struct statvfs vfs {};
  ASSERT_EQ(::statvfs(root.c_str(), &vfs), 0);
  const uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  EXPECT_LE(t.capacity_bytes(), ExecutableFlashTarget::kMaxImageBytes);
  if (free_bytes > ExecutableFlashTarget::kSafetyMarginBytes) {
    EXPECT_LE(t.capacity_bytes(), free_bytes - ExecutableFlashTarget::kSafetyMarginBytes);
  }
  t.set_max_image_bytes(100000);
  EXPECT_EQ(t.capacity_bytes(), 100000u);
  EXPECT_FALSE(t.begin(10u * 1000 * 1000));
  EXPECT_NE(t.last_error().find("does not fit"), std::string::npos) << t.last_error();
  EXPECT_TRUE(others().empty());
  t.set_max_image_bytes(0);  // back to the built-in cap
  // A margin larger than the free space leaves nothing.
  t.set_safety_margin_bytes(free_bytes + (1ull << 40));
  EXPECT_EQ(t.capacity_bytes(), 0u);
}

TEST_F(ExecutableFlashTargetTest, ShortImageCannotBeCommitted) {
  ExecutableFlashTarget t(exe);
  ASSERT_TRUE(t.begin(0));
  ASSERT_TRUE(t.write(self.data(), 10));
  uint8_t digest[32];
  sha256(std::vector<uint8_t>(self.begin(), self.begin() + 10), digest);
  EXPECT_EQ(t.commit(digest), OtaError::kFlashCommit);
  EXPECT_EQ(slurp(exe), self);
  EXPECT_TRUE(others().empty());
}

TEST_F(ExecutableFlashTargetTest, UnwritableDirectoryIsAClearError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root may write anywhere";
  ASSERT_EQ(::chmod(root.c_str(), 0555), 0);
  ExecutableFlashTarget t(exe);
  EXPECT_FALSE(t.begin(image.size()));
  EXPECT_NE(t.last_error().find("writable"), std::string::npos) << t.last_error();
  ::chmod(root.c_str(), 0755);
}

TEST_F(ExecutableFlashTargetTest, Sha256OfAMissingFileIsAnError) {
  uint8_t digest[32];
  std::string error;
  EXPECT_FALSE(sha256_file(root + "/missing", digest, nullptr, &error));
  EXPECT_NE(error.find("missing"), std::string::npos);
}

}  // namespace
}  // namespace spore::posix
