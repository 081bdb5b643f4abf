#include "posix/executable_flash_target.h"

#include <bearssl/bearssl_hash.h>
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "posix/bounded_run.h"
#include "posix/ota_trial_text.h"

namespace spore::posix {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

/// Up to `max` bytes of a program's output for a log line: control characters become '?'.
std::string printable_excerpt(std::string_view text, size_t max) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  std::string s(text.substr(0, max));
  for (char& c : s)
    if (c < 0x20 || c > 0x7E) c = '?';
  return s;
}

/// The last non-empty line of `text`.
std::string_view last_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  const size_t nl = text.rfind('\n');
  return nl == std::string_view::npos ? text : text.substr(nl + 1);
}

uint16_t read_u16(const uint8_t* p, uint8_t elf_data) {
  return elf_data == ELFDATA2MSB ? static_cast<uint16_t>((p[0] << 8) | p[1]) : static_cast<uint16_t>(p[0] | (p[1] << 8));
}

/// Writes all of `size` bytes (retrying short writes and EINTR); errno set on failure.
bool write_all(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) {
      errno = EIO;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

/// SHA-256 of what `fd` holds from offset 0 (pread, so the file offset is left alone).
bool sha256_fd(int fd, uint8_t (&out)[32], uint64_t* size_bytes) {
  br_sha256_context sha;
  br_sha256_init(&sha);
  static thread_local uint8_t buf[64 * 1024];
  uint64_t offset = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) break;
    br_sha256_update(&sha, buf, static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  br_sha256_out(&sha, out);
  if (size_bytes != nullptr) *size_bytes = offset;
  return true;
}

}  // namespace

bool sha256_file(const std::string& path, uint8_t (&out)[32], uint64_t* size_bytes, std::string* error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (error) *error = "cannot open " + path + ": " + errno_text(errno);
    return false;
  }
  const bool ok = sha256_fd(fd, out, size_bytes);
  const int err = errno;
  ::close(fd);
  if (!ok && error) *error = "cannot read " + path + ": " + errno_text(err);
  return ok;
}

ExecutableFlashTarget::ExecutableFlashTarget(std::string executable) : executable_(std::move(executable)) {
  const size_t slash = executable_.rfind('/');
  dir_ = slash == std::string::npos ? "." : (slash == 0 ? "/" : executable_.substr(0, slash));
  const std::string base = slash == std::string::npos ? executable_ : executable_.substr(slash + 1);
  temp_path_ = dir_ + "/." + base + ".update." + std::to_string(::getpid());

  // What this host runs; overwritten by the running executable's own header when readable.
  identity_ = host_elf_identity();
  const int fd = ::open(executable_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    uint8_t h[20] = {};
    if (::pread(fd, h, sizeof h, 0) == static_cast<ssize_t>(sizeof h)) read_elf_identity(h, sizeof h, &identity_);
    ::close(fd);
  }
}

void ExecutableFlashTarget::set_self_test(std::string argv0, std::vector<std::string> args, uint32_t timeout_ms) {
  self_test_argv0_ = std::move(argv0);
  self_test_args_ = std::move(args);
  self_test_timeout_ms_ = timeout_ms;
}

std::vector<std::string> ExecutableFlashTarget::remove_stale_temp_files() const {
  std::vector<std::string> removed;
  const size_t slash = executable_.rfind('/');
  const std::string prefix = "." + (slash == std::string::npos ? executable_ : executable_.substr(slash + 1)) + ".update.";
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) return removed;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    uint32_t pid = 0;
    if (name.compare(0, prefix.size(), prefix) != 0 || !parse_decimal_u32(name.substr(prefix.size()), kMaxTrialPid, &pid)) continue;
    // A live pid other than ours may be another node's upload in progress (nodes sharing a
    // directory); ours is from before an exec(): no upload survives one.
    const bool owner_alive = pid != 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
    if (pid == static_cast<uint32_t>(::getpid()) || !owner_alive) {
      const std::string path = dir_ + "/" + name;
      if (::unlink(path.c_str()) == 0) removed.push_back(path);
    }
  }
  ::closedir(d);
  return removed;
}

ExecutableFlashTarget::~ExecutableFlashTarget() { abort(); }

size_t ExecutableFlashTarget::capacity_bytes() const {
  struct statvfs vfs {};
  if (::statvfs(dir_.c_str(), &vfs) != 0) return 0;
  const uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  uint64_t cap = free_bytes > margin_bytes_ ? free_bytes - margin_bytes_ : 0;
  cap = std::min(cap, std::min<uint64_t>(max_image_bytes_, kMaxImageBytes));
  return static_cast<size_t>(std::min<uint64_t>(cap, SIZE_MAX));
}

bool ExecutableFlashTarget::check_magic(const uint8_t* head, size_t size) const {
  if (head == nullptr || size < SELFMAG || std::memcmp(head, ELFMAG, SELFMAG) != 0) return false;
  if (size > EI_CLASS && head[EI_CLASS] != identity_.elf_class) return false;
  if (size > EI_DATA && head[EI_DATA] != identity_.data) return false;
  if (size > EI_VERSION && head[EI_VERSION] != EV_CURRENT) return false;
  // OtaSession passes 16 bytes today; should it pass the 20 of the header's start, an executable
  // for another CPU is refused here as bad magic (422) instead of at the first write() (500).
  if (size >= 20) {
    const uint16_t type = read_u16(head + 16, identity_.data);
    if ((type != ET_EXEC && type != ET_DYN) || read_u16(head + 18, identity_.data) != identity_.machine) return false;
  }
  return true;
}

bool ExecutableFlashTarget::fail(const std::string& message) {
  last_error_ = message;
  return false;
}

bool ExecutableFlashTarget::begin(size_t max_image_bytes) {
  abort();  // a previous session that was never closed
  last_error_.clear();
  written_ = 0;
  announced_ = max_image_bytes;
  reserved_ = false;
  header_checked_ = false;
  const size_t capacity = capacity_bytes();
  // An upper bound (it may include a signature trailer); OtaSession enforces the image size, this
  // only stops a reservation that cannot fit.
  if (max_image_bytes > capacity + 4096) {
    return fail("an image of up to " + std::to_string(max_image_bytes) + " bytes does not fit: " +
                std::to_string(capacity) + " bytes available beside " + executable_);
  }
  fd_ = ::open(temp_path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  created_ = fd_ >= 0;
  if (fd_ < 0) {
    const int err = errno;
    return fail("cannot create " + temp_path_ + ": " + errno_text(err) +
                (err == EACCES || err == EROFS ? " (the directory of the executable must be writable by spored)" : ""));
  }
  if (max_image_bytes > 0) {
    // Reserve now so that a full disk is a clear error before the upload, not in its middle.
    // Filesystems without fallocate (EOPNOTSUPP) are simply written without a reservation.
    if (::fallocate(fd_, 0, 0, static_cast<off_t>(max_image_bytes)) == 0) {
      reserved_ = true;
    } else if (errno == ENOSPC || errno == EDQUOT) {
      const int err = errno;
      abort();
      return fail("no space for an image of " + std::to_string(max_image_bytes) + " bytes beside " + executable_ +
                  ": " + errno_text(err));
    }
  }
  return true;
}

bool ExecutableFlashTarget::check_elf_header() {
  const uint16_t type = read_u16(header_ + 16, identity_.data);
  const uint16_t machine = read_u16(header_ + 18, identity_.data);
  if (type != ET_EXEC && type != ET_DYN) {
    return fail("the image is an ELF file but not an executable (e_type " + std::to_string(type) + ")");
  }
  if (machine != identity_.machine) {
    return fail(std::string("the image is an executable for ") + elf_machine_name(machine) + " (e_machine " +
                std::to_string(machine) + "), this node runs " + elf_machine_name(identity_.machine) + " (e_machine " +
                std::to_string(identity_.machine) + ")");
  }
  return true;
}

bool ExecutableFlashTarget::write(const uint8_t* data, size_t size_bytes) {
  if (fd_ < 0) return fail("write without begin");
  if (size_bytes == 0) return true;
  if (data == nullptr) return fail("write of a null buffer");
  if (!header_checked_) {
    const size_t have = std::min(written_, sizeof header_);
    const size_t take = std::min(sizeof header_ - have, size_bytes);
    std::memcpy(header_ + have, data, take);
    if (have + take == sizeof header_) {
      header_checked_ = true;
      if (!check_elf_header()) {
        const std::string why = last_error_;
        abort();
        return fail(why);
      }
    }
  }
  if (!write_all(fd_, data, size_bytes)) {
    const int err = errno;
    const std::string why = "cannot write " + temp_path_ + " after " + std::to_string(written_) + " bytes: " +
                            errno_text(err) + (err == ENOSPC ? " (the disk is full)" : "");
    abort();
    return fail(why);
  }
  written_ += size_bytes;
  return true;
}

OtaError ExecutableFlashTarget::commit(const uint8_t (&sha256)[32]) {
  new_version_.clear();
  self_test_ms_ = 0;
  const OtaError e = install(sha256);
  if (e == OtaError::kOk) last_error_.clear();
  return e;
}

OtaError ExecutableFlashTarget::install(const uint8_t (&sha256)[32]) {
  if (fd_ < 0) {
    fail("commit without begin");
    return OtaError::kFlashCommit;
  }
  auto give_up = [this](OtaError code, const std::string& why) {  // `why` is built before abort() changes errno
    abort();
    fail(why);
    return code;
  };
  if (!header_checked_) return give_up(OtaError::kBadImage, "the image is shorter than an ELF header");
  if (reserved_ && ::ftruncate(fd_, static_cast<off_t>(written_)) != 0) {
    return give_up(OtaError::kFlashCommit, "cannot trim " + temp_path_ + ": " + errno_text(errno));
  }
  if (::fsync(fd_) != 0) return give_up(OtaError::kFlashCommit, "cannot flush " + temp_path_ + " to disk: " + errno_text(errno));
  // The pages are clean after fsync(): dropping them makes the re-read below come from the disk,
  // so the check covers what the next exec() will load, not just the page cache.
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_DONTNEED);
  uint8_t on_disk[32];
  uint64_t size = 0;
  if (!sha256_fd(fd_, on_disk, &size)) {
    return give_up(OtaError::kFlashCommit, "cannot re-read " + temp_path_ + ": " + errno_text(errno));
  }
  if (size != written_ || std::memcmp(on_disk, sha256, sizeof on_disk) != 0) {
    return give_up(OtaError::kFlashCommit, "verification failed: " + temp_path_ + " read back " + std::to_string(size) +
                                               " bytes whose SHA-256 differs from the " + std::to_string(written_) +
                                               " bytes received");
  }
  const OtaError structure = check_structure();
  if (structure != OtaError::kOk) return give_up(structure, last_error_);
  if (::fchmod(fd_, 0755) != 0) return give_up(OtaError::kFlashCommit, "cannot chmod " + temp_path_ + ": " + errno_text(errno));
  // Closed before the trial run: a file open for writing cannot be executed (ETXTBSY).
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return give_up(OtaError::kFlashCommit, "cannot close " + temp_path_ + ": " + errno_text(errno));
  const OtaError trial = run_self_test();
  if (trial != OtaError::kOk) return give_up(trial, last_error_);
  if (installer_) {
    std::string why;
    if (!installer_(temp_path_, &why)) return give_up(OtaError::kFlashCommit, why);
    created_ = false;
    return OtaError::kOk;
  }
  if (::rename(temp_path_.c_str(), executable_.c_str()) != 0) {
    return give_up(OtaError::kFlashCommit, "cannot rename " + temp_path_ + " over " + executable_ + ": " + errno_text(errno));
  }
  created_ = false;
  const int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    // The rename is done and cannot be undone; a failed directory fsync only weakens durability.
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return OtaError::kOk;
}

OtaError ExecutableFlashTarget::check_structure() {
  void* map = ::mmap(nullptr, written_, PROT_READ, MAP_PRIVATE, fd_, 0);
  if (map == MAP_FAILED) {
    fail("cannot map " + temp_path_ + " to check it: " + errno_text(errno));
    return OtaError::kFlashCommit;
  }
  const ElfCheck check = check_elf_image(static_cast<const uint8_t*>(map), written_, identity_);
  ::munmap(map, written_);
  if (!check.ok) {
    fail("the image cannot run here: " + check.error);
    return OtaError::kBadImage;
  }
  return OtaError::kOk;
}

OtaError ExecutableFlashTarget::run_self_test() {
  if (self_test_argv0_.empty()) return OtaError::kOk;
  std::vector<std::string> argv{self_test_argv0_, "--self-test"};
  argv.insert(argv.end(), self_test_args_.begin(), self_test_args_.end());
  const BoundedRunResult run = run_bounded(temp_path_, argv, self_test_timeout_ms_, cancel_);
  std::string version;
  if (run.succeeded() && parse_self_test_line(run.out, &version)) {
    new_version_ = version;
    self_test_ms_ = run.elapsed_ms;
    return OtaError::kOk;
  }
  std::string why = "the new image failed its trial run (--self-test): it ";
  if (run.succeeded()) {
    why += "printed '" + printable_excerpt(run.out.substr(0, run.out.find('\n')), 80) + "' instead of '" +
           self_test_line("<version>") + "'";
  } else {
    why += run.describe(self_test_timeout_ms_);
    const std::string err = printable_excerpt(last_line(run.err), 160);
    if (!err.empty()) why += "; its last words: " + err;
  }
  fail(why);
  return OtaError::kSelfTestFailed;
}

void ExecutableFlashTarget::abort() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (created_) {
    ::unlink(temp_path_.c_str());
    created_ = false;
  }
}

}  // namespace spore::posix
