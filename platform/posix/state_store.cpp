#include "posix/state_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "posix/atomic_temp_name.h"
#include "posix/private_file.h"
#include "posix/random.h"

namespace spore::posix {

namespace {

std::string errno_text() { return std::strerror(errno); }

bool mkdir_p(const std::string& dir, std::string* error) {
  std::string partial;
  size_t pos = 0;
  while (pos <= dir.size()) {
    size_t next = dir.find('/', pos);
    if (next == std::string::npos) next = dir.size();
    partial = dir.substr(0, next);
    pos = next + 1;
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      *error = "cannot create directory " + partial + ": " + errno_text();
      return false;
    }
  }
  return true;
}

bool parse_u32(std::string_view text, int base, uint32_t* out) {
  text = trim_ascii(text);
  if (text.empty() || text.size() > 10) return false;
  const std::string s(text);
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, base);
  if (errno != 0 || end != s.c_str() + s.size() || v > 0xFFFFFFFFull || s[0] == '-' || s[0] == '+') return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

std::string_view trim_ascii(std::string_view text) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

bool write_file_atomic_at(int dir_fd, const std::string& name, const std::string& shown_dir, std::string_view content,
                          mode_t mode, std::string* error) {
  const std::string shown = shown_dir + "/" + name;
  // O_EXCL: whatever sits at the name (a planted file, a hard link to another user's file, a
  // link) is never opened, so never truncated or written through (issue 18, finding 9). A name
  // taken by a stale file of a previous life of this pid moves on to the next one.
  std::string tmp;
  int fd = -1;
  for (uint32_t k = 0; k <= kMaxAtomicTempSuffix && fd < 0; ++k) {
    tmp = atomic_temp_name(name, ::getpid(), k);
    fd = ::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0 && errno != EEXIST) break;
  }
  const std::string shown_tmp = shown_dir + "/" + tmp;
  if (fd < 0) {
    if (error) *error = "cannot write " + shown_tmp + ": " + errno_text();
    return false;
  }
  // O_CREAT's mode is filtered by the umask; the token file must be 0600 whatever the umask.
  ::fchmod(fd, mode);
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (error) *error = "cannot write " + shown_tmp + ": " + errno_text();
      ::close(fd);
      ::unlinkat(dir_fd, tmp.c_str(), 0);
      return false;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    if (error) *error = "cannot flush " + shown_tmp + ": " + errno_text();
    ::unlinkat(dir_fd, tmp.c_str(), 0);
    return false;
  }
  if (::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0) {
    if (error) *error = "cannot rename " + shown_tmp + " to " + shown + ": " + errno_text();
    ::unlinkat(dir_fd, tmp.c_str(), 0);
    return false;
  }
  // The rename itself is durable only once the directory entry is on disk.
  ::fsync(dir_fd);
  return true;
}

bool write_file_atomic(const std::string& path, std::string_view content, mode_t mode, std::string* error) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    if (error) *error = "cannot write " + path + ": " + errno_text();
    return false;
  }
  const bool ok = write_file_atomic_at(dir_fd, name, dir, content, mode, error);
  ::close(dir_fd);
  return ok;
}

StateStore::~StateStore() { close(); }

void StateStore::close() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
  lock_fd_ = -1;
  if (dir_fd_ >= 0) ::close(dir_fd_);
  dir_fd_ = -1;
}

std::string StateStore::path(std::string_view name) const { return dir_ + "/" + std::string(name); }

bool StateStore::open(const std::string& dir, std::string* error) {
  close();
  std::string err;
  if (dir.empty()) {
    if (error) *error = "state dir: empty path";
    return false;
  }
  dir_ = dir;
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  if (!mkdir_p(dir_, &err)) {
    if (error) *error = "state dir " + dir_ + ": " + err;
    return false;
  }
  // From here on the directory is used only through this handle (openat() and friends), so a
  // path swapped for a link after the check cannot redirect a write (issue 18, state-fix 2).
  dir_fd_ = open_private_dir("state dir", dir_, error);
  if (dir_fd_ < 0) return false;
  if (::faccessat(dir_fd_, ".", W_OK | X_OK, 0) != 0) {
    if (error) *error = "state dir " + dir_ + " is not writable: " + errno_text();
    close();
    return false;
  }
  // Every check before the first change: a refused directory is left exactly as it was.
  std::vector<std::string> stale;
  if (!scan(&stale, error)) {
    close();
    return false;
  }
  // O_CLOEXEC: a restart by execv() drops the lock so that the new image can take it.
  const std::string lock_path = path("lock");
  lock_fd_ = ::openat(dir_fd_, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
  if (lock_fd_ < 0) {
    if (error) {
      *error = errno == ELOOP ? "state dir " + dir_ + ": " + lock_path + " is a symbolic link; remove it"
                              : "state dir " + dir_ + " is not writable: cannot create " + lock_path + ": " + errno_text();
    }
    close();
    return false;
  }
  // The lock file is truncated and written in place: it must be this directory's own file, not
  // a hard link to someone else's.
  struct stat st {};
  std::string why;
  if (::fstat(lock_fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    why = lock_path + " is not a regular file";
  } else if (st.st_nlink != 1) {
    why = lock_path + " has " + std::to_string(st.st_nlink) + " hard links; remove it";
  } else {
    why = untrusted_reason("state file", lock_path, st);
  }
  if (!why.empty()) {
    if (error) *error = "state dir " + dir_ + ": " + why;
    close();
    return false;
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    std::string holder;
    read("lock", &holder);
    holder = std::string(trim_ascii(holder));
    if (error)
      *error = "state dir " + dir_ + " is in use by another spored" + (holder.empty() ? "" : " (pid " + holder + ")") +
               "; give each node its own --state-dir";
    close();
    return false;
  }
  // We hold the lock, so no other spored writes here: the stale temp files can go.
  removed_temp_files_.clear();
  for (const std::string& name : stale) {
    if (::unlinkat(dir_fd_, name.c_str(), 0) == 0) removed_temp_files_.push_back(name);
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) == 0) {
    ssize_t ignored = ::pwrite(lock_fd_, pid.data(), pid.size(), 0);
    (void)ignored;
  }
  return true;
}

bool StateStore::scan(std::vector<std::string>* stale, std::string* error) const {
  const int list_fd = ::dup(dir_fd_);  // closedir() closes the descriptor it was given
  DIR* d = list_fd >= 0 ? ::fdopendir(list_fd) : nullptr;
  if (d == nullptr) {
    if (error) *error = "state dir " + dir_ + ": cannot list: " + errno_text();
    if (list_fd >= 0) ::close(list_fd);
    return false;
  }
  std::string why;
  while (const dirent* entry = ::readdir(d)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(dir_fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
    pid_t writer = 0;
    if (!S_ISDIR(st.st_mode) && is_atomic_temp_name(name, &writer)) {
      // Stale: its writer no longer runs, or was this process before an execv() restart (same
      // pid). A live writer's (the OTA guardian's) is left alone. Removed by open() once the
      // lock is held, after every check passed.
      const bool running = writer != ::getpid() && (::kill(writer, 0) == 0 || errno == EPERM);
      if (!running) {
        stale->push_back(name);
        continue;
      }
    }
    if (S_ISLNK(st.st_mode)) {
      why = path(name) + " is a symbolic link; spored never follows links in its state dir: remove it";
    } else {
      why = untrusted_reason("state file", path(name), st);
    }
    if (!why.empty()) break;
  }
  ::closedir(d);
  if (why.empty()) return true;
  if (error) *error = "state dir " + dir_ + ": " + why;
  return false;
}

bool StateStore::read(std::string_view name, std::string* out) const {
  return read_file(name, out, nullptr) == PrivateRead::kOk;
}

PrivateRead StateStore::read_file(std::string_view name, std::string* out, std::string* error) const {
  if (dir_fd_ < 0) return PrivateRead::kMissing;  // peek() of a directory not made yet
  const std::string n(name);
  return read_private_file_at(dir_fd_, n.c_str(), "state file", path(name), out, 64 * 1024, error);
}

bool StateStore::write_atomic(std::string_view name, std::string_view content, mode_t mode, std::string* error) {
  return write_file_atomic_at(dir_fd_, std::string(name), dir_, content, mode, error);
}

bool StateStore::load(NodeState* out, uint32_t* previous_boots, std::string* error) const {
  NodeState state;
  std::string text;
  PrivateRead got = read_file("node_id", &text, error);
  if (got == PrivateRead::kRefused) return false;
  if (got == PrivateRead::kOk && (!parse_u32(text, 16, &state.node_id) || state.node_id == 0)) {
    if (error) *error = path("node_id") + " is corrupt (expected 8 hex digits, not 0); delete it to make a new node id";
    return false;
  }
  *previous_boots = 0;
  got = read_file("boot_count", &text, error);
  if (got == PrivateRead::kRefused) return false;
  if (got == PrivateRead::kOk && !parse_u32(text, 10, previous_boots)) {
    if (error) *error = path("boot_count") + " is corrupt (expected a decimal number); delete it to count from 0";
    return false;
  }
  state.first_start = state.node_id == 0;
  *out = state;
  return true;
}

bool StateStore::peek(const std::string& dir, NodeState* out, std::string* error) {
  StateStore reader;
  reader.dir_ = dir;
  // Read-only, no lock: the running node's directory is checked, not its entries' temp files.
  // A directory that does not exist yet reads as a first start.
  struct stat st {};
  if (::lstat(dir.c_str(), &st) == 0) {
    reader.dir_fd_ = open_private_dir("state dir", dir, error);
    if (reader.dir_fd_ < 0) return false;
  }
  uint32_t previous = 0;
  if (!reader.load(out, &previous, error)) return false;
  out->boot_count = previous;
  out->incarnation = incarnation_for_boot(previous);
  return true;
}

bool StateStore::start(NodeState* out, std::string* error) {
  NodeState state;
  uint32_t previous = 0;
  if (!load(&state, &previous, error)) return false;
  if (state.first_start) {
    while (state.node_id == 0) {
      if (!random_bytes(&state.node_id, sizeof state.node_id)) {
        if (error) *error = "getrandom() failed: cannot make a node id";
        return false;
      }
    }
    char hex[16];
    std::snprintf(hex, sizeof hex, "%08x\n", static_cast<unsigned>(state.node_id));
    if (!write_atomic("node_id", hex, 0644, error)) return false;
  }
  // Wraps after 2^32 - 1 starts: the incarnation is compared with serial arithmetic (incarnation.h).
  state.boot_count = previous + 1;
  if (!write_atomic("boot_count", std::to_string(state.boot_count) + "\n", 0644, error)) return false;
  state.incarnation = incarnation_for_boot(state.boot_count);
  *out = state;
  return true;
}

bool StateStore::record_incarnation(const NodeState& node, uint32_t incarnation, std::string* error) {
  // Only a run that went past its boot's range (incarnation.h: refutations are capped, so only
  // datagram sequence wraps get here) needs it: the next start must still be newer.
  if (incarnation - node.incarnation <= kIncarnationRunSteps) return true;
  const uint32_t boots = incarnation >> kIncarnationBootShift;
  if (boots == recorded_boots_) return true;
  recorded_boots_ = boots;  // one try (and one warning) per value, not one per loop pass
  return write_atomic("boot_count", std::to_string(boots) + "\n", 0644, error);
}

bool StateStore::load_or_create_token(std::string* token, bool* created, std::string* error) {
  std::string text;
  *created = false;
  // O_NOFOLLOW, a regular file of ours that nobody else can write (issue 18, finding 8); a
  // refused one is an error, never replaced by a new token.
  const std::string n = "api_token";
  const PrivateRead got = read_private_file_at(dir_fd_, n.c_str(), "API token file", path(n), &text, 4096, error);
  if (got == PrivateRead::kRefused) return false;
  if (got == PrivateRead::kOk) {
    *token = std::string(trim_ascii(text));
    if (!token->empty()) return true;
  }
  *token = random_hex(16);
  if (token->empty()) {
    if (error) *error = "getrandom() failed: cannot make an API token";
    return false;
  }
  if (!write_atomic("api_token", *token + "\n", 0600, error)) return false;
  *created = true;
  return true;
}

}  // namespace spore::posix
