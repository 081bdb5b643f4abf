#pragma once
/// @file state_store.h
/// What a Linux node keeps across restarts, as small files in its state directory
/// (docs/linux-node.md, "State directory"):
///
///   node_id     8 hex digits: the node id and chipId, random non-zero, made on first start
///   boot_count  decimal: how many times the node started; +1 on every start
///   api_token   the generated REST API token (mode 0600), when no token file was given
///   lock        flock()ed while a spored uses the directory (holds its pid)
///
/// Incarnation: spore::incarnation_for_boot(boot_count) = boot_count << 16 (mod 2^32,
/// core/spore/base/incarnation.h). The membership protocol raises the incarnation by one on every
/// in-run refutation (SWIM), at most 65,535 times per run (core Membership refuses more), so a run
/// never reaches the next boot's incarnation; should one get there anyway (a datagram sequence
/// wrap after that), record_incarnation() raises the stored boot count past it. The boot count is
/// 32 bits and wraps (after 4,294,967,295 starts, to 0); the incarnation wraps every 65,536 starts
/// and peers compare incarnations with serial number arithmetic, so a start is newer than what
/// the previous run announced while peers compare values less than 2^31 apart (docs/protocol.md
/// §7, "Incarnations that never saturate": 32,767 starts unheard by a peer that still remembers
/// the node).
///
/// Writes are atomic: a temporary file `<name>.tmp.<pid>` in the same directory is created with
/// O_CREAT | O_EXCL | O_NOFOLLOW (never an existing file or link), written, fsync()ed and
/// rename()d over the old one, then the directory is fsync()ed, so a crash or power loss leaves
/// either the old or the new content, never a torn file. open() removes such temporary files
/// left by a process that no longer runs.
///
/// Trust (docs/security.md, "Local state"): open() refuses a directory, and any file in it, that
/// another user could write (posix/private_file.h), a state dir that is itself a symbolic link, and
/// a symbolic link in the directory; files are read with O_NOFOLLOW and checked on the open
/// descriptor. The directory is opened once (O_DIRECTORY | O_NOFOLLOW) and every later operation
/// is relative to that descriptor (openat, fstatat, unlinkat, renameat), so swapping the path for
/// a link after the check redirects nothing. open() makes no change (no lock file, no removal)
/// before every check has passed.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "posix/private_file.h"
#include "spore/base/incarnation.h"

namespace spore::posix {

struct NodeState {
  uint32_t node_id = 0;
  uint32_t boot_count = 0;   ///< this start included (1 on the first start)
  uint32_t incarnation = 0;  ///< incarnation_for_boot(boot_count)
  bool first_start = false;  ///< node_id was created by this start
};

class StateStore {
 public:
  StateStore() = default;
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  /// Creates `dir` (and parents, mode 0700) if needed, opens it (not through a link), checks it is
  /// writable, that no other user can write it and every entry the same way, then takes its lock
  /// and removes stale temporary files (removed_temp_files()). False with a sentence in `*error`
  /// when it is a symbolic link, not a directory, not writable, writable or owned by another user
  /// (the sentence names the path, the owner and the mode), holds a symbolic link or such a file,
  /// or is locked by another running spored; nothing in it is changed then.
  bool open(const std::string& dir, std::string* error);
  /// Names of the stale `<name>.tmp.<pid>` files open() removed (their writer no longer runs, or
  /// was this process before an execv() restart).
  const std::vector<std::string>& removed_temp_files() const { return removed_temp_files_; }
  void close();
  const std::string& dir() const { return dir_; }
  std::string path(std::string_view name) const;

  /// Loads (or creates) the node id, bumps and persists the boot counter. Call once per start.
  bool start(NodeState* out, std::string* error);
  /// What start() would load from `dir`, read-only (spored --self-test, the OTA guardian): no
  /// directory created, no lock taken, nothing written. A missing `node_id` gives node_id 0 and
  /// first_start; boot_count and incarnation are those of the last start. False with a sentence
  /// when a file is corrupt.
  static bool peek(const std::string& dir, NodeState* out, std::string* error);

  /// After a run's incarnation (`incarnation`, this node's now) went past the range of its boot
  /// (`node`, from start()): stores a boot count whose next start is newer than it. Nothing when
  /// it did not. False with a sentence when the write fails.
  bool record_incarnation(const NodeState& node, uint32_t incarnation, std::string* error);

  /// The generated API token: read from `api_token`, or created (32 random hex characters, mode
  /// 0600) when absent. `*created` tells which.
  bool load_or_create_token(std::string* token, bool* created, std::string* error);

  /// Content of file `name` in the directory; false if it does not exist, cannot be read, or is
  /// refused (a link, not a regular file, writable by another user: private_file.h).
  bool read(std::string_view name, std::string* out) const;
  /// Replaces file `name` atomically (see above) with `content`, created with `mode`.
  bool write_atomic(std::string_view name, std::string_view content, mode_t mode, std::string* error);

  static uint32_t incarnation_for_boot(uint32_t boot_count) { return spore::incarnation_for_boot(boot_count); }

 private:
  /// Parses node_id (0 when absent) and boot_count (the previous starts, 0 when absent).
  bool load(NodeState* out, uint32_t* previous_boots, std::string* error) const;
  /// Lists stale temporary files into `*stale` and checks every other entry (open()).
  bool scan(std::vector<std::string>* stale, std::string* error) const;
  /// read_private_file_at() of `name` in the directory; kMissing when it is not open.
  PrivateRead read_file(std::string_view name, std::string* out, std::string* error) const;

  std::string dir_;
  int dir_fd_ = -1;  ///< the state dir, O_DIRECTORY | O_NOFOLLOW (open(), peek())
  int lock_fd_ = -1;
  uint32_t recorded_boots_ = 0;
  std::vector<std::string> removed_temp_files_;
};


/// write_file_atomic() of `name` (one path component) in the directory open at `dir_fd`; every
/// step (openat, renameat, unlinkat, fsync) uses that descriptor. `shown_dir` names it in messages.
bool write_file_atomic_at(int dir_fd, const std::string& name, const std::string& shown_dir, std::string_view content,
                          mode_t mode, std::string* error);

/// Writes `content` to `path` atomically (temp file in the same directory, fsync, rename, fsync
/// of the directory), creating it with `mode`. The temp file is `<path>.tmp.<pid>`, or
/// `<path>.tmp.<pid>.<n>` when that name exists (atomic_temp_name.h): an existing file or link is
/// never opened. False with a sentence in `*error` otherwise.
bool write_file_atomic(const std::string& path, std::string_view content, mode_t mode, std::string* error);

/// `text` without leading and trailing ASCII whitespace.
std::string_view trim_ascii(std::string_view text);

}  // namespace spore::posix
