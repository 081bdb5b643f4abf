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
/// between the check and the read cannot slip through.

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace spore::posix {

/// Empty when `st` (of `path`, a `what`, e.g. "state dir") is owned by this process's euid or root
/// and not writable by group/others; otherwise a sentence naming the path, the owner, the mode
/// and the fix.
std::string untrusted_reason(const std::string& what, const std::string& path, const struct stat& st);

/// The directory at `dir` (symbolic links in the path are followed: a state dir may live
/// elsewhere) passes untrusted_reason(). False with the sentence in `*error` otherwise, or when it
/// cannot be stat()ed or is not a directory.
bool check_private_dir(const std::string& what, const std::string& dir, std::string* error);

enum class PrivateRead : uint8_t {
  kOk,       ///< read (at most max_bytes)
  kMissing,  ///< no such file: not an error for files spored creates
  kRefused,  ///< exists but breaks the rule, or cannot be read: `*error` says why
};

/// Reads `path` (a `what`, e.g. "API token file") opened with O_NOFOLLOW | O_NONBLOCK: a regular
/// file that passes untrusted_reason(). At most `max_bytes` are kept.
PrivateRead read_private_file(const std::string& what, const std::string& path, std::string* out, size_t max_bytes,
                              std::string* error);

}  // namespace spore::posix
