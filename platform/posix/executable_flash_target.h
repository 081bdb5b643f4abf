#pragma once
/// @file executable_flash_target.h
/// spore::FlashTarget on Linux: an OTA image is a new `spored` executable, written beside the
/// running one, proven, and switched in by an atomic rename (docs/linux-node.md, "Firmware
/// updates"; docs/ota.md, "Linux: proven before the switch, rolled back after it").
///
///   begin()   creates `.<name>.update.<pid>` (mode 0600) in the directory of the running
///             executable (same filesystem, so the final rename is atomic) and reserves the
///             announced size with fallocate(2): a full disk fails here, before any byte is sent.
///   write()   appends; ENOSPC and short writes are errors with a sentence in last_error(). The
///             ELF header is checked once its first 20 bytes are in (e_type executable or shared
///             object, e_machine of this host): an image for another CPU would never exec.
///   commit()  trims the reservation, fsync()s, drops the file's pages from the page cache and
///             re-reads it from disk: its SHA-256 must equal the one computed while streaming
///             (else kFlashCommit). Then the whole ELF structure is checked (elf_image.h; else
///             kBadImage), the file is made executable and, when set_self_test() was called, run
///             as `<image> --self-test <the node's arguments>` with a hard time limit: it must
///             exit 0 and print the self-test line (bounded_run.h, ota_trial_text.h; else
///             kSelfTestFailed). Last the installer moves it into place: by default rename() over
///             the executable and fsync() of the directory; spored stages it for its trial
///             (OtaTrial::stage). A crash at any point leaves the old executable whole.
///   abort()   closes and unlinks the temporary file. Idempotent; also run by the destructor.
///
/// commit() blocks for the trial run (typically tens of ms, at most the self-test timeout plus
/// the reaping of the killed process group); OtaSession calls it under the core mutex.
///
/// The running process keeps its (now unlinked) old image until it exec()s the new file, which is
/// the platform's restart path. Nodes started from one shared executable file share its updates
/// on their next restart: give each node its own copy (the tests and the demo do).
///
/// Capacity: the free space (statvfs f_bavail) of the executable's filesystem minus
/// kSafetyMarginBytes (so an update never fills the disk the state directory and logs live on),
/// at most kMaxImageBytes and at most set_max_image_bytes(). Temporary files of uploads that a
/// crash or kill interrupted hold space until remove_stale_temp_files() runs (spored: at start).
/// Not thread-safe (OtaSession calls it under the core mutex).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "posix/elf_image.h"
#include "spore/ota/ota.h"

namespace spore::posix {

class ExecutableFlashTarget : public spore::FlashTarget {
 public:
  /// Free space left untouched on the executable's filesystem.
  static constexpr uint64_t kSafetyMarginBytes = 16ull * 1024 * 1024;
  /// Upper bound of an image whatever the free space: a spored is a few MB (debug builds ~10 MB);
  /// the cap bounds how much disk and time a bogus upload can take.
  static constexpr uint64_t kMaxImageBytes = 256ull * 1024 * 1024;
  /// Time limit of the trial run. commit() runs under the core mutex, so the node loop stalls
  /// this long at worst (a normal self-test takes tens of ms; docs/ota.md has the figures).
  static constexpr uint32_t kDefaultSelfTestTimeoutMs = 5000;

  /// Moves a checked image (`staged_file`, mode 0755) into place; false with a sentence.
  using Installer = std::function<bool(const std::string& staged_file, std::string* error)>;

  /// `executable`: absolute path of the file to replace, the running executable resolved at
  /// start (readlink /proc/self/exe). The ELF identity (class, byte order, machine) new images
  /// must match is read from it now; when it cannot be read, this host's compile-time values.
  explicit ExecutableFlashTarget(std::string executable);
  ~ExecutableFlashTarget() override;
  ExecutableFlashTarget(const ExecutableFlashTarget&) = delete;
  ExecutableFlashTarget& operator=(const ExecutableFlashTarget&) = delete;

  /// Lowers the cap (spored --ota-max-image-bytes); 0 = kMaxImageBytes.
  void set_max_image_bytes(uint64_t bytes) { max_image_bytes_ = bytes == 0 ? kMaxImageBytes : bytes; }
  /// The cap in force (set_max_image_bytes() or kMaxImageBytes): capacity_bytes() never exceeds it.
  uint64_t max_image_bytes() const { return max_image_bytes_; }
  /// Changes the free-space margin (tests).
  void set_safety_margin_bytes(uint64_t bytes) { margin_bytes_ = bytes; }
  /// Makes commit() run the staged image as `argv0 --self-test args...` first (the node's own
  /// argv[0] and arguments, so the trial loads the same config and state dir). Empty argv0 (the
  /// default) = no trial run.
  void set_self_test(std::string argv0, std::vector<std::string> args, uint32_t timeout_ms = kDefaultSelfTestTimeoutMs);
  /// The trial run is killed as soon as `*flag` reads nonzero (spored's stop signal; run_bounded()),
  /// and commit() fails with kSelfTestFailed: it runs under the node's core mutex, so a SIGTERM
  /// would otherwise wait for the whole self-test timeout. nullptr (the default) = never.
  void set_cancel_flag(const std::atomic<int>* flag) { cancel_ = flag; }
  /// Replaces the default installer (rename over executable()).
  void set_installer(Installer installer) { installer_ = std::move(installer); }
  /// Of the last successful commit() with a trial run: the version its self-test line named and
  /// how long the run took; "" and 0 without one.
  const std::string& new_version() const { return new_version_; }
  uint32_t self_test_ms() const { return self_test_ms_; }

  /// Removes the temporary files `.<name>.update.<pid>` beside the executable that no upload owns
  /// any more: their pid is no running process, or is this process (left by a run before an
  /// exec()). Call it at start, before anything reads capacity_bytes(). Returns the paths removed.
  std::vector<std::string> remove_stale_temp_files() const;

  // ---- spore::FlashTarget ----
  size_t capacity_bytes() const override;
  /// "\x7fELF", then (when present) the class (32/64-bit), byte order and ELF version of the
  /// running executable; with 20 bytes or more also e_type (executable or PIE) and e_machine.
  bool check_magic(const uint8_t* head, size_t size) const override;
  bool begin(size_t max_image_bytes) override;
  bool write(const uint8_t* data, size_t size_bytes) override;
  OtaError commit(const uint8_t (&sha256)[32]) override;
  void abort() override;

  const std::string& executable() const { return executable_; }
  /// The temporary file of the current (or last) session.
  const std::string& temp_path() const { return temp_path_; }
  /// Why the last begin()/write()/commit() failed: one sentence, empty after success.
  const std::string& last_error() const { return last_error_; }
  size_t written_bytes() const { return written_; }
  /// A session is open (between begin() and commit()/abort()).
  bool active() const { return fd_ >= 0; }

 private:
  bool fail(const std::string& message);
  /// commit()'s work: read-back check, ELF check, chmod, trial run, installer.
  OtaError install(const uint8_t (&sha256)[32]);
  OtaError check_structure();
  OtaError run_self_test();
  bool check_elf_header();

  std::string executable_;
  std::string dir_;
  std::string temp_path_;
  std::string last_error_;
  uint64_t max_image_bytes_ = kMaxImageBytes;
  uint64_t margin_bytes_ = kSafetyMarginBytes;
  int fd_ = -1;
  size_t written_ = 0;
  size_t announced_ = 0;  // begin()'s bound, 0 = unknown
  bool reserved_ = false;
  bool created_ = false;  // temp_path_ exists and is ours to unlink
  bool header_checked_ = false;
  uint8_t header_[20] = {};
  ElfIdentity identity_;  // of the running executable
  std::string self_test_argv0_;
  std::vector<std::string> self_test_args_;
  uint32_t self_test_timeout_ms_ = kDefaultSelfTestTimeoutMs;
  const std::atomic<int>* cancel_ = nullptr;
  Installer installer_;
  std::string new_version_;
  uint32_t self_test_ms_ = 0;
};

/// SHA-256 of the file at `path`, read in 64 KiB blocks; `*size_bytes` (may be nullptr) gets its
/// size. False with a sentence in `*error` (may be nullptr) when it cannot be read.
bool sha256_file(const std::string& path, uint8_t (&out)[32], uint64_t* size_bytes, std::string* error);

}  // namespace spore::posix
