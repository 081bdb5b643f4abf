#include "posix/ota_guardian.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "posix/bounded_run.h"
#include "posix/executable_flash_target.h"
#include "posix/private_file.h"
#include "posix/system_info.h"

namespace spore::posix {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// Watches one process: through a pidfd (exact, immune to pid reuse), or by kill(pid, 0) on
/// kernels before 5.3.
class ProcessWatch {
 public:
  explicit ProcessWatch(pid_t pid) : pid_(pid), fd_(open_pidfd(pid)) {}
  ~ProcessWatch() {
    if (fd_ >= 0) ::close(fd_);
  }
  ProcessWatch(const ProcessWatch&) = delete;
  ProcessWatch& operator=(const ProcessWatch&) = delete;
  /// False when the process was already gone at construction.
  bool valid() const { return fd_ >= 0 || ::kill(pid_, 0) == 0; }
  /// Waits up to `wait_ms` for the process to end; true once it has.
  bool ended(int wait_ms) const {
    if (fd_ >= 0) {
      pollfd p{fd_, POLLIN, 0};
      return ::poll(&p, 1, wait_ms) > 0;
    }
    ::usleep(static_cast<useconds_t>(wait_ms) * 1000);
    return ::kill(pid_, 0) != 0 && errno == ESRCH;
  }
  void kill_now() const {
    if (fd_ < 0 || ::syscall(SYS_pidfd_send_signal, fd_, SIGKILL, nullptr, 0) != 0) ::kill(pid_, SIGKILL);
  }

 private:
  pid_t pid_;
  int fd_;
};

}  // namespace

std::vector<std::string> guardian_argv(uint32_t node_pid, uint32_t timeout_ms, const std::vector<std::string>& node_argv) {
  std::vector<std::string> a;
  a.push_back(node_argv.empty() ? std::string("spored") : node_argv[0]);
  a.push_back(kGuardianFlag);
  a.push_back(std::to_string(node_pid));
  a.push_back(std::to_string(timeout_ms));
  a.push_back("--");
  a.insert(a.end(), node_argv.begin(), node_argv.end());
  return a;
}

bool parse_guardian_command(int argc, const char* const* argv, GuardianCommand* out) {
  GuardianCommand c;
  if (argc < 6 || std::strcmp(argv[1], kGuardianFlag) != 0 || std::strcmp(argv[4], "--") != 0) return false;
  if (!parse_decimal_u32(argv[2], kMaxTrialPid, &c.node_pid) || c.node_pid == 0) return false;
  if (!parse_decimal_u32(argv[3], UINT32_MAX, &c.timeout_ms) || c.timeout_ms == 0) return false;
  for (int i = 5; i < argc; ++i) c.node_argv.emplace_back(argv[i]);
  *out = std::move(c);
  return true;
}

int run_guardian(const GuardianCommand& command, OtaTrial& trial, StderrLogSink& log) {
  const TrialPaths& paths = trial.paths();
  const ProcessWatch node(static_cast<pid_t>(command.node_pid));
  if (!node.valid()) {
    log.logf(LogLevel::kError, "ota guardian: node pid %u is not running", command.node_pid);
    return 1;
  }
  // Detach: the node exec()s and would never reap us; our parent (spawned by the node) exits at
  // once and is reaped by the node's launch().
  const pid_t child = ::fork();
  if (child < 0) {
    log.logf(LogLevel::kError, "ota guardian: fork: %s", std::strerror(errno));
    return 1;
  }
  if (child > 0) ::_exit(0);
  const uint32_t self = static_cast<uint32_t>(::getpid());
  const std::string ready = std::to_string(self) + "\n";
  if (::write(3, ready.data(), ready.size()) != static_cast<ssize_t>(ready.size())) return 1;
  ::close(3);

  const int64_t started = now_ms();
  const int64_t deadline = started + command.timeout_ms;
  bool seen = false;
  TrialRecord record;
  bool gone = false;
  for (;;) {
    gone = node.ended(static_cast<int>(kGuardianPollMs));
    std::string text;
    TrialRecord now;
    const bool mine = read_state_file(paths.marker, &text, kMaxTrialRecordBytes + 1) &&
                      parse_trial_record(text, &now, nullptr) && now.guardian_pid == self;
    if (mine) {
      seen = true;
      record = now;
    } else if (seen) {
      return 0;  // promoted, or a newer update has its own guardian
    }
    if (gone || now_ms() >= deadline) break;
  }

  // Claim the trial: promote() renames the same file, so only one of us can win.
  if (::rename(paths.trial_file.c_str(), paths.rejected.c_str()) != 0) {
    if (errno == ENOENT) return 0;  // it promoted itself just now
    log.logf(LogLevel::kError, "ota guardian: cannot set %s aside: %s", paths.trial_file.c_str(), std::strerror(errno));
    return 1;
  }
  const int64_t elapsed = now_ms() - started;
  std::string reason;
  if (record.stopped) {
    reason = "the new image was stopped before it proved healthy";
  } else if (gone) {
    reason = "the new image's process ended " + std::to_string(elapsed) + " ms after the switch, before it proved healthy";
  } else {
    reason = "the new image was not healthy (REST answering, back in the cluster) within " +
             std::to_string(command.timeout_ms) + " ms of the switch; the guardian killed it";
    node.kill_now();
    for (int i = 0; i < 50 && !node.ended(static_cast<int>(kGuardianPollMs)); ++i) {
    }
  }
  if (!seen) {
    // The node died before it wrote the marker: name the images from the files themselves.
    sha256_file(paths.rejected, record.image_sha256, nullptr, nullptr);
    sha256_file(paths.executable, record.previous_sha256, nullptr, nullptr);
  }
  std::string why;
  if (!trial.record_rollback(record, reason, &why)) log.logf(LogLevel::kWarn, "ota guardian: %s", why.c_str());
  log.logf(LogLevel::kWarn, "ota guardian: rolled back image %s%s%s: %s%s", short_sha(record.image_sha256).c_str(),
           record.image_version.empty() ? "" : " version ", record.image_version.c_str(), reason.c_str(),
           record.stopped ? "; the node stays stopped" : ("; restarting " + paths.executable).c_str());
  if (record.stopped) return 0;
  std::vector<char*> argv;
  for (const std::string& a : command.node_argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execv(paths.executable.c_str(), argv.data());
  log.logf(LogLevel::kError, "ota guardian: execv(%s) failed: %s", paths.executable.c_str(), std::strerror(errno));
  return 1;
}

}  // namespace spore::posix
