#include "posix/ota_trial.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "posix/bounded_run.h"
#include "posix/ota_guardian.h"
#include "posix/private_file.h"
#include "posix/random.h"
#include "posix/state_store.h"
#include "posix/system_info.h"

namespace spore::posix {

namespace {

constexpr const char* kTrialDirInfix = ".trial-";
/// How long launch() waits for the guardian to report that it watches this process.
constexpr int kGuardianReadyTimeoutMs = 3000;

std::string dir_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

std::string base_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

std::string errno_text() { return std::strerror(errno); }

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// Waits until `fd` is ready for `events` or `deadline_ms` (steady clock) passes.
bool wait_fd(int fd, short events, int64_t deadline_ms) {
  for (;;) {
    const int64_t left = deadline_ms - now_ms();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

}  // namespace

TrialPaths TrialPaths::make(const std::string& executable, uint32_t node_id, const std::string& state_dir) {
  TrialPaths p;
  p.executable = executable;
  const std::string name = base_of(executable);
  char id[16];
  std::snprintf(id, sizeof id, "%08x", static_cast<unsigned>(node_id));
  p.trial_dir = dir_of(executable) + "/." + name + kTrialDirInfix + id;
  p.trial_file = p.trial_dir + "/" + name;
  p.rejected = p.trial_dir + "/rejected";
  p.marker = state_dir + "/ota_trial";
  p.rollback = state_dir + "/ota_rollback";
  p.rollback_reported = state_dir + "/ota_rollback.last";
  return p;
}

std::string canonical_executable(const std::string& running_path, bool* from_trial) {
  *from_trial = false;
  const std::string name = base_of(running_path);
  const std::string dir = dir_of(running_path);
  const std::string dir_name = base_of(dir);
  const std::string prefix = "." + name + kTrialDirInfix;
  if (running_path.find('/') == std::string::npos || dir_name.size() != prefix.size() + 8 ||
      dir_name.compare(0, prefix.size(), prefix) != 0 ||
      dir_name.find_first_not_of("0123456789abcdef", prefix.size()) != std::string::npos) {
    return running_path;
  }
  *from_trial = true;
  return dir_of(dir) + "/" + name;
}

// ---- TrialHealth --------------------------------------------------------------------------------

bool TrialHealth::probe_due(uint32_t uptime_ms, size_t active_peers) const {
  if (healthy_ || uptime_ms < stable_ms_ || (need_peer_ && active_peers == 0)) return false;
  return !probed_ || uptime_ms - last_probe_ms_ >= kProbeIntervalMs;
}

void TrialHealth::probe_done(uint32_t uptime_ms, bool answered) {
  probed_ = true;
  last_probe_ms_ = uptime_ms;
  if (answered) healthy_ = true;
}

bool http_get_ok(uint32_t ip, uint16_t port, const char* path, uint32_t timeout_ms) {
  const int64_t deadline = now_ms() + timeout_ms;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(ip == 0 ? 0x7F000001u : ip);
  // From the address it connects to (the kernel would pick 127.0.0.1 for any 127.x target).
  sockaddr_in self = addr;
  self.sin_port = 0;
  (void)::bind(fd, reinterpret_cast<const sockaddr*>(&self), sizeof self);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 || errno == EINPROGRESS) {
    int err = 0;
    socklen_t len = sizeof err;
    const std::string request = std::string("GET ") + path + " HTTP/1.1\r\nHost: spored\r\nConnection: close\r\n\r\n";
    if (wait_fd(fd, POLLOUT, deadline) && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0 &&
        ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
      // "HTTP/1.1 200": the status line's first 12 bytes are all this needs.
      char head[12];
      size_t have = 0;
      while (have < sizeof head && wait_fd(fd, POLLIN, deadline)) {
        const ssize_t n = ::recv(fd, head + have, sizeof head - have, 0);
        if (n <= 0) break;
        have += static_cast<size_t>(n);
      }
      ok = have == sizeof head && std::memcmp(head, "HTTP/1.", 7) == 0 && std::memcmp(head + 8, " 200", 4) == 0;
    }
  }
  ::close(fd);
  return ok;
}

// ---- OtaTrial -----------------------------------------------------------------------------------

void OtaTrial::log(LogLevel level, const std::string& line) const {
  if (log_ != nullptr) log_->logf(level, "ota: %s", line.c_str());
}

void OtaTrial::remove_trial_dir() const {
  ::unlink(paths_.trial_file.c_str());
  ::unlink(paths_.rejected.c_str());
  ::rmdir(paths_.trial_dir.c_str());
}

bool OtaTrial::record_rollback(TrialRecord record, const std::string& reason, std::string* error) const {
  record.reason = reason;
  const bool written = write_file_atomic(paths_.rollback, format_trial_record(record), 0644, error);
  ::unlink(paths_.marker.c_str());
  remove_trial_dir();
  return written;
}

void OtaTrial::start(bool from_trial, const uint8_t (&running_sha256)[32], const std::string& running_version) {
  on_trial_ = false;
  std::memcpy(proven_sha256_, running_sha256, sizeof proven_sha256_);
  proven_version_ = running_version;
  std::string text, why;
  const bool has_marker = read_state_file(paths_.marker, &text, kMaxTrialRecordBytes + 1);
  TrialRecord marker;
  const bool parsed = has_marker && parse_trial_record(text, &marker, &why);
  const bool ours = parsed && std::memcmp(marker.image_sha256, running_sha256, 32) == 0;
  if (from_trial) {
    // exec()ed from the trial directory by the node that took the update (or by our own restart).
    if (ours && !marker.stopped) {
      on_trial_ = true;
      record_ = marker;
      std::memcpy(proven_sha256_, marker.previous_sha256, sizeof proven_sha256_);
      proven_version_ = marker.previous_version;
      log(LogLevel::kInfo, "this image (" + short_sha(running_sha256) + ") is on trial under guardian pid " +
                               std::to_string(marker.guardian_pid) + "; it replaces " + paths_.executable +
                               " once it proves healthy");
    } else {
      log(LogLevel::kWarn, "running from " + paths_.trial_file + " without a trial marker for this image; it stays on " +
                               "trial forever (restart " + paths_.executable + " to leave it)");
    }
    return;
  }
  if (has_marker && !parsed) {
    log(LogLevel::kWarn, "unreadable trial marker " + paths_.marker + " (" + why + "): removed with the staged image");
    ::unlink(paths_.marker.c_str());
    remove_trial_dir();
    return;
  }
  if (ours) {
    // The image promoted itself (rename) and stopped before it removed the marker.
    log(LogLevel::kInfo, "finished the promotion of this image (" + short_sha(running_sha256) + ")");
    ::unlink(paths_.marker.c_str());
    remove_trial_dir();
    return;
  }
  if (parsed) {
    // A trial ended without proof and without its guardian finishing (host restart, service
    // stop, guardian killed): the executable never stopped holding the proven image, which this
    // is. The staged image is set aside and the rollback reported.
    const bool claimed = ::rename(paths_.trial_file.c_str(), paths_.rejected.c_str()) == 0 || errno == ENOENT;
    if (claimed &&
        !record_rollback(marker,
                         marker.stopped ? "the new image was stopped before it proved healthy"
                                        : "its trial was interrupted (host restart, service stop or guardian gone) "
                                          "before the new image proved healthy",
                         &why)) {
      log(LogLevel::kWarn, "cannot record the rollback: " + why);
    }
    return;
  }
  struct stat st {};
  if (::stat(paths_.trial_dir.c_str(), &st) == 0) {
    log(LogLevel::kInfo, "removed " + paths_.trial_dir + ": an image staged but never started");
    remove_trial_dir();
  }
}

bool OtaTrial::take_rollback(TrialRecord* out) {
  std::string text, why;
  if (!read_state_file(paths_.rollback, &text, kMaxTrialRecordBytes + 1)) return false;
  const bool parsed = parse_trial_record(text, out, &why);
  if (!parsed) log(LogLevel::kWarn, "unreadable rollback record " + paths_.rollback + " (" + why + ")");
  ::rename(paths_.rollback.c_str(), paths_.rollback_reported.c_str());
  return parsed;
}

bool OtaTrial::stage(const std::string& staged_file, std::string* error) {
  if (on_trial_) {
    // This image is unproven and about to be replaced by another unproven one: its guardian
    // stands down when the marker goes; launch() starts one for the next image.
    ::unlink(paths_.marker.c_str());
    on_trial_ = false;
  }
  if (::mkdir(paths_.trial_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    if (error) *error = "cannot create " + paths_.trial_dir + ": " + errno_text();
    return false;
  }
  ::unlink(paths_.rejected.c_str());
  if (::rename(staged_file.c_str(), paths_.trial_file.c_str()) != 0) {
    if (error) *error = "cannot move " + staged_file + " to " + paths_.trial_file + ": " + errno_text();
    return false;
  }
  fsync_dir(paths_.trial_dir);
  fsync_dir(dir_of(paths_.trial_dir));
  return true;
}

bool OtaTrial::launch(TrialRecord* in_out, const std::vector<std::string>& node_argv, uint32_t timeout_ms,
                      std::string* error) {
  TrialRecord& record = *in_out;
  std::memcpy(record.previous_sha256, proven_sha256_, sizeof record.previous_sha256);
  record.previous_version = proven_version_;
  record.stopped = false;
  record.reason.clear();
  auto give_up = [&](const std::string& why) {
    if (error) *error = why;
    remove_trial_dir();
    return false;
  };
  while (record.id == 0) {
    if (!random_bytes(&record.id, sizeof record.id)) return give_up("getrandom() failed");
  }
  // fd 3 of the guardian: it writes its pid there once it watches this process (pidfd), then
  // closes it. Everything else but stdout/stderr (the node's log) is closed.
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return give_up("pipe: " + errno_text());
  SpawnOptions options;
  options.fd3 = ready[1];
  options.own_session = true;  // a Ctrl-C meant for the node's terminal does not reach it
  pid_t pid = -1;
  const int rc = spawn_process(paths_.executable, guardian_argv(static_cast<uint32_t>(::getpid()), timeout_ms, node_argv),
                               options, &pid);
  ::close(ready[1]);
  if (rc != 0) {
    ::close(ready[0]);
    return give_up("cannot start the guardian " + paths_.executable + ": " + std::strerror(rc));
  }
  std::string answer;
  const int64_t deadline = now_ms() + kGuardianReadyTimeoutMs;
  while (answer.size() < 16 && wait_fd(ready[0], POLLIN, deadline)) {
    char buf[16];
    const ssize_t n = ::read(ready[0], buf, sizeof buf);
    if (n <= 0 && !(n < 0 && errno == EINTR)) break;
    if (n > 0) answer.append(buf, static_cast<size_t>(n));
  }
  ::close(ready[0]);
  // The spawned process forks the guardian and exits, so the guardian is nobody's zombie here.
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  uint32_t guardian = 0;
  if (answer.empty() || answer.back() != '\n' || !parse_decimal_u32(answer.substr(0, answer.size() - 1), kMaxTrialPid, &guardian) ||
      guardian == 0) {
    return give_up("the guardian did not report within " + std::to_string(kGuardianReadyTimeoutMs) + " ms (" +
                   (WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status)) : std::string("killed")) + ")");
  }
  record.guardian_pid = guardian;
  std::string why;
  if (!write_file_atomic(paths_.marker, format_trial_record(record), 0644, &why)) {
    ::kill(static_cast<pid_t>(guardian), SIGTERM);
    return give_up("cannot write the trial marker: " + why);
  }
  record_ = record;
  return true;
}

bool OtaTrial::promote(std::string* error) {
  if (!on_trial_) {
    if (error) *error = "not on trial";
    return false;
  }
  // The commit point: the guardian claims a failed trial by renaming the same file, so exactly
  // one of the two renames wins.
  if (::rename(paths_.trial_file.c_str(), paths_.executable.c_str()) != 0) {
    if (error) {
      *error = errno == ENOENT ? "the guardian has already set this image aside (deadline passed)"
                               : "cannot rename " + paths_.trial_file + " over " + paths_.executable + ": " + errno_text();
    }
    return false;
  }
  fsync_dir(dir_of(paths_.executable));
  ::unlink(paths_.marker.c_str());
  remove_trial_dir();
  on_trial_ = false;
  std::memcpy(proven_sha256_, record_.image_sha256, sizeof proven_sha256_);
  proven_version_ = record_.image_version;
  return true;
}

void OtaTrial::mark_stopped() {
  if (!on_trial_) return;
  record_.stopped = true;
  std::string why;
  if (!write_file_atomic(paths_.marker, format_trial_record(record_), 0644, &why)) {
    log(LogLevel::kWarn, "cannot mark the trial stopped: " + why);
  }
}

}  // namespace spore::posix
