#pragma once
/// @file private_file.h
/// What spored trusts on disk (docs/security.md, "Local state"): its state directory, the files in
/// it and the secret files named by flags must not be writable by another user, and secrets are
/// never read through a symbolic link. A path breaks the rule when it is
///   - owned by a uid other than spored's effective uid and other than root (root can write
///     anything anyway, so a root-owned /etc/spore or /var/lib/spored is fine),
///   - writable by group or others (mode & 022), or
///   - (files) not a regular file: a symbolic link, a FIFO, a device.
/// Checks are made on the open descriptor (fstat after open with O_NOFOLLOW), so a file swapped
/// between the check and the read cannot slip through. O_NOFOLLOW applies to the last path
/// component only: links among the parent directories are followed and their owners and modes
/// are not checked (docs/security.md, "Local state").

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace spore::posix {

/// Empty when `st` (of `path`, a `what`, e.g. "state dir") is owned by this process's euid or root
/// and not writable by group/others; otherwise a sentence naming the path, the owner, the mode
/// and the fix.
std::string untrusted_reason(const std::string& what, const std::string& path, const struct stat& st);

/// Opens the directory `dir` (a `what`, e.g. "state dir") with O_DIRECTORY | O_NOFOLLOW and checks
/// the open handle (fstat) with untrusted_reason(). The descriptor (O_CLOEXEC, the caller closes
/// it), or -1 with a sentence in `*error` when `dir` is missing, not a directory, a symbolic link
/// itself, or breaks the rule. Only the last component is checked this way: links in the parents
/// (/var -> /data/var) are followed, and the parents' owners and modes are not checked.
int open_private_dir(const std::string& what, const std::string& dir, std::string* error);

/// open_private_dir() without keeping the descriptor.
bool check_private_dir(const std::string& what, const std::string& dir, std::string* error);

enum class PrivateRead : uint8_t {
  kOk,       ///< read (at most max_bytes)
  kMissing,  ///< no such file: not an error for files spored creates
  kRefused,  ///< exists but breaks the rule, or cannot be read: `*error` says why
};

/// Reads `path` (a `what`, e.g. "API token file") opened with O_NOFOLLOW | O_NONBLOCK: a regular
/// file that passes untrusted_reason(). At most `max_bytes` are kept. O_NOFOLLOW covers the last
/// component only: a link among the parent directories is followed.
PrivateRead read_private_file(const std::string& what, const std::string& path, std::string* out, size_t max_bytes,
                              std::string* error);

/// read_private_file() of `name` (one path component, no '/') in the directory open at `dir_fd`
/// (openat(): the directory is not looked up by path again); `path` names it in messages.
PrivateRead read_private_file_at(int dir_fd, const char* name, const std::string& what, const std::string& path,
                                 std::string* out, size_t max_bytes, std::string* error);

/// A state file spored wrote (the OTA trial marker and rollback record): read_private_file()'s
/// rules, so a FIFO, device or link planted at `path` is refused at once instead of blocking or
/// being followed. False when missing or refused.
bool read_state_file(const std::string& path, std::string* out, size_t max_bytes);

}  // namespace spore::posix
