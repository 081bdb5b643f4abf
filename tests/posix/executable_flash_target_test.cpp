// ExecutableFlashTarget: ELF magic of this host only, a new executable written beside the old one,
// verified from disk, checked whole as an ELF executable, run once with --self-test and renamed
// over the old one atomically; every failure leaves the old file untouched and no temporary file
// behind. Temporary files of interrupted uploads are found and removed.
//
// The "new images" are copies of this test binary. Run with --self-test (as commit() does), it
// acts as an image would, as SPORE_FAKE_IMAGE in its environment says (see act_as_image below).

#include "posix/executable_flash_target.h"

#include <bearssl/bearssl_hash.h>
#include <dirent.h>
#include <elf.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "posix/ota_trial_text.h"

namespace spore::posix {
namespace {

// Before main(): when this binary is started as `<copy> --self-test ...`, it plays the new image.
//   ok      prints the self-test line with version "<argc>-<last argument>", exits 0
//   crash   dies of SIGSEGV (raised)
//   fail    says why on stderr, exits 3
//   wrong   prints something else, exits 0
//   hang    starts a helper that writes its pid to $SPORE_FAKE_IMAGE_PIDFILE, then both sleep
const bool kActedAsImage = [] {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (size_t at = 0; at < cmdline.size();) {
    const size_t end = cmdline.find('\0', at);
    args.push_back(cmdline.substr(at, end - at));
    at = end == std::string::npos ? cmdline.size() : end + 1;
  }
  if (args.size() < 2 || args[1] != "--self-test") return false;
  const char* mode = std::getenv("SPORE_FAKE_IMAGE");
  const std::string m = mode ? mode : "ok";
  if (m == "ok") {
    std::printf("%s\n", self_test_line(std::to_string(args.size()) + "-" + args.back()).c_str());
    std::exit(0);
  }
  if (m == "crash") {
    ::signal(SIGSEGV, SIG_DFL);  // a sanitizer's handler would turn the crash into exit(1)
    ::raise(SIGSEGV);
  }
  if (m == "fail") {
    std::fprintf(stderr, "spored: state dir is corrupt\n");
    std::exit(3);
  }
  if (m == "wrong") {
    std::printf("hello\n");
    std::exit(0);
  }
  if (m == "hang") {
    if (::fork() == 0) {
      std::FILE* f = std::fopen(std::getenv("SPORE_FAKE_IMAGE_PIDFILE"), "w");
      std::fprintf(f, "%d\n", static_cast<int>(::getpid()));
      std::fclose(f);
    }
    for (;;) ::pause();
  }
  std::exit(99);
}();

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

TEST_F(ExecutableFlashTargetTest, ShortImageIsABadImage) {
  ExecutableFlashTarget t(exe);
  ASSERT_TRUE(t.begin(0));
  ASSERT_TRUE(t.write(self.data(), 10));
  uint8_t digest[32];
  sha256(std::vector<uint8_t>(self.begin(), self.begin() + 10), digest);
  EXPECT_EQ(t.commit(digest), OtaError::kBadImage);
  EXPECT_EQ(slurp(exe), self);
  EXPECT_TRUE(others().empty());
}

// The finding of issue 15: the first 1,000 bytes of an executable were installed and exec()ed.
TEST_F(ExecutableFlashTargetTest, TruncatedOrCorruptElfIsABadImage) {
  std::vector<uint8_t> corrupt = self;
  // e_phoff (64-bit: at 32; 32-bit: at 28) pointing past the end of the file.
  const bool is64 = self[EI_CLASS] == ELFCLASS64;
  const uint64_t past = self.size() + 64;
  for (size_t i = 0; i < (is64 ? 8u : 4u); ++i) corrupt[(is64 ? 32 : 28) + i] = static_cast<uint8_t>(past >> (8 * i));
  const std::vector<std::vector<uint8_t>> bad = {std::vector<uint8_t>(self.begin(), self.begin() + 1000),
                                                 std::vector<uint8_t>(self.begin(), self.end() - 1), corrupt};
  for (const std::vector<uint8_t>& image_bytes : bad) {
    ExecutableFlashTarget t(exe);
    t.set_self_test("spored", {});  // never reached: the structure check comes first
    ASSERT_TRUE(t.begin(image_bytes.size()));
    ASSERT_TRUE(write_chunked(t, image_bytes, 4096));
    uint8_t digest[32];
    sha256(image_bytes, digest);
    EXPECT_EQ(t.commit(digest), OtaError::kBadImage);
    EXPECT_NE(t.last_error().find("cannot run here"), std::string::npos) << t.last_error();
    EXPECT_NE(t.last_error().find("beyond the image's"), std::string::npos) << t.last_error();
    EXPECT_EQ(slurp(exe), self);
    EXPECT_TRUE(others().empty());
  }
}

/// commit() of `image` with a trial run in mode `mode` (SPORE_FAKE_IMAGE).
OtaError commit_with_self_test(ExecutableFlashTarget& t, const std::vector<uint8_t>& image_bytes, const char* mode,
                               uint32_t timeout_ms = ExecutableFlashTarget::kDefaultSelfTestTimeoutMs) {
  ::setenv("SPORE_FAKE_IMAGE", mode, 1);
  t.set_self_test("spored", {"--state-dir", "/tmp/the-nodes-own"}, timeout_ms);
  if (!t.begin(image_bytes.size())) return OtaError::kFlashBegin;
  for (size_t off = 0; off < image_bytes.size(); off += 65536) {
    if (!t.write(image_bytes.data() + off, std::min<size_t>(65536, image_bytes.size() - off))) return OtaError::kFlashWrite;
  }
  uint8_t digest[32];
  sha256(image_bytes, digest);
  const OtaError e = t.commit(digest);
  ::unsetenv("SPORE_FAKE_IMAGE");
  return e;
}

TEST_F(ExecutableFlashTargetTest, TheImageMustPassItsSelfTestWithTheNodesArguments) {
  ExecutableFlashTarget t(exe);
  ASSERT_EQ(commit_with_self_test(t, image, "ok"), OtaError::kOk) << t.last_error();
  // "<argc>-<last argument>": argv was spored --self-test --state-dir /tmp/the-nodes-own.
  EXPECT_EQ(t.new_version(), "4-/tmp/the-nodes-own");
  EXPECT_LT(t.self_test_ms(), ExecutableFlashTarget::kDefaultSelfTestTimeoutMs);
  EXPECT_EQ(slurp(exe), image);
  EXPECT_TRUE(others().empty());
}

TEST_F(ExecutableFlashTargetTest, AFailedSelfTestLeavesTheOldExecutable) {
  const struct {
    const char* mode;
    const char* says;
  } cases[] = {{"crash", "killed by signal 11"},
               {"fail", "exited with status 3; its last words: spored: state dir is corrupt"},
               {"wrong", "printed 'hello' instead of 'spored <version> self-test ok'"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.mode);
    ExecutableFlashTarget t(exe);
    EXPECT_EQ(commit_with_self_test(t, image, c.mode), OtaError::kSelfTestFailed);
    EXPECT_NE(t.last_error().find(c.says), std::string::npos) << t.last_error();
    EXPECT_EQ(t.new_version(), "");
    EXPECT_EQ(slurp(exe), self);
    EXPECT_TRUE(others().empty());
  }
}

TEST_F(ExecutableFlashTargetTest, AHangingSelfTestIsKilledWithItsProcessGroup) {
  const std::string pidfile = root + "-helper.pid";
  ::setenv("SPORE_FAKE_IMAGE_PIDFILE", pidfile.c_str(), 1);
  ExecutableFlashTarget t(exe);
  EXPECT_EQ(commit_with_self_test(t, image, "hang", 500), OtaError::kSelfTestFailed);
  EXPECT_NE(t.last_error().find("did not finish within 500 ms"), std::string::npos) << t.last_error();
  EXPECT_EQ(slurp(exe), self);
  EXPECT_TRUE(others().empty());
  std::ifstream in(pidfile);
  int helper = 0;
  ASSERT_TRUE(in >> helper) << "the hanging image's helper never started";
  // Killed with the group; reparented to init (or a subreaper), so it may linger as a zombie for
  // a moment: wait until it is gone or a zombie.
  bool dead = false;
  for (int i = 0; i < 100 && !dead; ++i) {
    std::ifstream stat("/proc/" + std::to_string(helper) + "/stat");
    std::string pid_field, comm, state;
    dead = !(stat >> pid_field >> comm >> state) || state == "Z";
    if (!dead) ::usleep(20 * 1000);
  }
  EXPECT_TRUE(dead) << "helper " << helper << " of the killed self-test still runs";
  ::unlink(pidfile.c_str());
  ::unsetenv("SPORE_FAKE_IMAGE_PIDFILE");
}

// Issue 18 (ota-fix): the trial runs under spored's core mutex, so a SIGTERM (the cancel flag)
// kills it rather than wait for the self-test timeout (60 s here: the result must say cancelled,
// not timed out).
TEST_F(ExecutableFlashTargetTest, ASelfTestIsCancelledByTheStopFlag) {
  ExecutableFlashTarget t(exe);
  std::atomic<int> stop{0};
  t.set_cancel_flag(&stop);
  std::thread signaller([&stop] {
    ::usleep(200 * 1000);  // the trial has started (or not yet: cancelled at its first look either way)
    stop.store(SIGTERM);
  });
  const OtaError e = commit_with_self_test(t, image, "hang", 60000);
  signaller.join();
  EXPECT_EQ(e, OtaError::kSelfTestFailed);
  EXPECT_NE(t.last_error().find("was cancelled: the node is stopping"), std::string::npos) << t.last_error();
  EXPECT_EQ(slurp(exe), self);
  EXPECT_TRUE(others().empty());
}

TEST_F(ExecutableFlashTargetTest, AnInstallerTakesTheCheckedImageInsteadOfTheRename) {
  ExecutableFlashTarget t(exe);
  std::string got;
  const std::string staged = root + "/staged";
  t.set_installer([&](const std::string& file, std::string*) {
    got = file;
    return ::rename(file.c_str(), staged.c_str()) == 0;
  });
  ASSERT_EQ(commit_with_self_test(t, image, "ok"), OtaError::kOk) << t.last_error();
  EXPECT_EQ(got, t.temp_path());
  EXPECT_EQ(slurp(exe), self) << "the executable is the installer's business now";
  EXPECT_EQ(slurp(staged), image);
  struct stat st {};
  ASSERT_EQ(::stat(staged.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  // An installer that fails: kFlashCommit with its sentence, nothing left.
  t.set_installer([](const std::string&, std::string* why) {
    *why = "no room at the inn";
    return false;
  });
  ::unlink(staged.c_str());
  EXPECT_EQ(commit_with_self_test(t, image, "ok"), OtaError::kFlashCommit);
  EXPECT_EQ(t.last_error(), "no room at the inn");
  EXPECT_TRUE(others().empty());
}

TEST_F(ExecutableFlashTargetTest, StaleTemporaryFilesOfDeadUploadersAreRemoved) {
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ASSERT_GT(dead, 0);
  ::waitpid(dead, nullptr, 0);
  const pid_t alive = ::fork();
  if (alive == 0) {
    ::pause();
    ::_exit(0);
  }
  const std::vector<std::string> stale = {root + "/.spored.update." + std::to_string(dead),
                                          root + "/.spored.update." + std::to_string(::getpid())};
  const std::vector<std::string> kept = {root + "/.spored.update." + std::to_string(alive), root + "/.spored.update.x1",
                                         root + "/.other.update." + std::to_string(dead), root + "/.spored.update."};
  for (const auto& f : stale) put(f, {1, 2, 3}, 0600);
  for (const auto& f : kept) put(f, {1, 2, 3}, 0600);
  ExecutableFlashTarget t(exe);
  std::vector<std::string> removed = t.remove_stale_temp_files();
  std::sort(removed.begin(), removed.end());
  std::vector<std::string> want = stale;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(removed, want);
  for (const auto& f : stale) EXPECT_NE(::access(f.c_str(), F_OK), 0) << f;
  for (const auto& f : kept) EXPECT_EQ(::access(f.c_str(), F_OK), 0) << f;
  ::kill(alive, SIGKILL);
  ::waitpid(alive, nullptr, 0);
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
