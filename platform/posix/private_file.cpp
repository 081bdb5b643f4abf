#include "posix/private_file.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace spore::posix {

namespace {

std::string octal_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

std::string owner_and_mode(const struct stat& st) {
  return "owner uid " + std::to_string(st.st_uid) + ", mode " + octal_mode(st.st_mode);
}

}  // namespace

std::string untrusted_reason(const std::string& what, const std::string& path, const struct stat& st) {
  const uid_t euid = ::geteuid();
  if (st.st_uid != euid && st.st_uid != 0) {
    return what + " " + path + " (" + owner_and_mode(st) + ") belongs to another user; spored runs as uid " +
           std::to_string(euid) + " and trusts only its own or root's files: chown it";
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return what + " " + path + " (" + owner_and_mode(st) +
           ") is writable by group/others, so another user could change or replace what spored trusts: chmod go-w it";
  }
  return std::string();
}

int open_private_dir(const std::string& what, const std::string& dir, std::string* error) {
  // O_NOFOLLOW: a link as the directory itself (another user's, pointing anywhere) is refused
  // rather than followed; the checks below and every later operation use this one handle, so
  // the directory cannot be swapped between the check and the use.
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    if (error) {
      struct stat st {};
      // Linux answers ENOTDIR (O_DIRECTORY first) for a link, some systems ELOOP.
      const bool link = e == ELOOP || (e == ENOTDIR && ::lstat(dir.c_str(), &st) == 0 && S_ISLNK(st.st_mode));
      if (link) {
        *error = what + " " + dir + " is a symbolic link; spored uses only the directory itself: give the real path";
      } else if (e == ENOTDIR) {
        *error = what + " " + dir + " is not a directory";
      } else {
        *error = what + " " + dir + ": " + std::strerror(e);
      }
    }
    return -1;
  }
  struct stat st {};
  std::string why;
  if (::fstat(fd, &st) != 0) {
    why = what + " " + dir + ": cannot stat: " + std::strerror(errno);
  } else {
    why = untrusted_reason(what, dir, st);
  }
  if (why.empty()) return fd;
  ::close(fd);
  if (error) *error = std::move(why);
  return -1;
}

bool check_private_dir(const std::string& what, const std::string& dir, std::string* error) {
  const int fd = open_private_dir(what, dir, error);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

PrivateRead read_private_file(const std::string& what, const std::string& path, std::string* out, size_t max_bytes,
                              std::string* error) {
  return read_private_file_at(AT_FDCWD, path.c_str(), what, path, out, max_bytes, error);
}

bool read_state_file(const std::string& path, std::string* out, size_t max_bytes) {
  return read_private_file("state file", path, out, max_bytes, nullptr) == PrivateRead::kOk;
}

PrivateRead read_private_file_at(int dir_fd, const char* name, const std::string& what, const std::string& path,
                                 std::string* out, size_t max_bytes, std::string* error) {
  out->clear();
  // O_NONBLOCK: a FIFO planted at the path must not block the open; it is refused below.
  const int fd = ::openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT) return PrivateRead::kMissing;
    if (error) {
      *error = what + " " + path +
               (e == ELOOP ? " is a symbolic link; spored never opens a secret or state file that is itself a "
                             "link (/dev/fd/N of a <(...) too): give the file's real path"
                           : ": cannot read: " + std::string(std::strerror(e)));
    }
    return PrivateRead::kRefused;
  }
  struct stat st {};
  std::string why;
  if (::fstat(fd, &st) != 0) {
    why = what + " " + path + ": cannot stat: " + std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    why = what + " " + path + " is not a regular file (" + owner_and_mode(st) + ")";
  } else {
    why = untrusted_reason(what, path, st);
  }
  if (!why.empty()) {
    ::close(fd);
    if (error) *error = std::move(why);
    return PrivateRead::kRefused;
  }
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (error) *error = what + " " + path + ": cannot read: " + std::strerror(errno);
      ::close(fd);
      out->clear();
      return PrivateRead::kRefused;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() >= max_bytes) {
      out->resize(max_bytes);
      break;
    }
  }
  ::close(fd);
  return PrivateRead::kOk;
}

}  // namespace spore::posix
