#include "posix/bounded_run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

extern char** environ;

namespace spore::posix {

namespace {

using Clock = std::chrono::steady_clock;

int64_t ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

/// Reads what `fd` has now into `into` (up to kMaxCaptureBytes kept); false at EOF or error.
bool drain(int fd, std::string& into) {
  char buf[4096];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  const size_t room = kMaxCaptureBytes - std::min(into.size(), kMaxCaptureBytes);
  into.append(buf, std::min(static_cast<size_t>(n), room));
  return true;
}

/// Closes both ends of a pipe pair that are still open.
void close_pair(int (&p)[2]) {
  for (int& fd : p) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
}

}  // namespace

// Through syscall(): Debian 12's <sys/pidfd.h> lacks the C++ linkage of its declarations.
int open_pidfd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int spawn_process(const std::string& path, const std::vector<std::string>& argv, const SpawnOptions& options, pid_t* pid) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (options.out_fd >= 0) posix_spawn_file_actions_adddup2(&actions, options.out_fd, 1);
  if (options.err_fd >= 0) posix_spawn_file_actions_adddup2(&actions, options.err_fd, 2);
  if (options.fd3 >= 0) posix_spawn_file_actions_adddup2(&actions, options.fd3, 3);
  posix_spawn_file_actions_addclosefrom_np(&actions, options.fd3 >= 0 ? 4 : 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (options.own_group) flags |= POSIX_SPAWN_SETPGROUP;
  if (options.own_session) flags |= POSIX_SPAWN_SETSID;
  posix_spawnattr_setflags(&attr, flags);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, defaults;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int rc = posix_spawn(pid, path.c_str(), &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return rc;
}

std::string BoundedRunResult::describe(uint32_t timeout_ms) const {
  if (!started) return "could not be started: " + error;
  if (cancelled) return "was cancelled: the node is stopping (its process group was killed)";
  if (timed_out) return "did not finish within " + std::to_string(timeout_ms) + " ms (its process group was killed)";
  if (signal != 0) return "was killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  return "exited with status " + std::to_string(exit_status);
}

namespace {

/// A child run_bounded() started: its pid, its pidfd (-1: polled instead) and the read ends of
/// its stdout and stderr pipes (-1 once closed).
struct Child {
  pid_t pid = -1;
  int pidfd = -1;
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  Clock::time_point start;
  bool ended = false;     // it exited (still a zombie: reaped by run_bounded)
  int64_t ended_ms = -1;  // when, since start
};

/// Starts `path` in its own process group with its output on two pipes. False (r.error set,
/// nothing left open) when it could not be started.
bool start_child(const std::string& path, const std::vector<std::string>& argv, Child& c, BoundedRunResult& r) {
  if (::pipe2(c.out, O_CLOEXEC) != 0 || ::pipe2(c.err, O_CLOEXEC) != 0) {
    r.error = std::string("pipe: ") + std::strerror(errno);
    close_pair(c.out);
    close_pair(c.err);
    return false;
  }
  SpawnOptions options;
  options.out_fd = c.out[1];
  options.err_fd = c.err[1];
  options.own_group = true;  // killed as one at the deadline
  c.start = Clock::now();
  const int rc = spawn_process(path, argv, options, &c.pid);
  ::close(c.out[1]);
  ::close(c.err[1]);
  c.out[1] = c.err[1] = -1;
  if (rc != 0) {
    r.error = path + ": " + std::strerror(rc);
    close_pair(c.out);
    close_pair(c.err);
    return false;
  }
  r.started = true;
  c.pidfd = open_pidfd(c.pid);  // -1 on kernels before 5.3: polled instead
  return true;
}

/// Collects the child's output into r.out / r.err until it has ended and closed both pipes, the
/// deadline passes or `cancel` is set (r.cancelled). When it ends, kills what it left running in
/// its group.
void follow_child(Child& c, uint32_t timeout_ms, const std::atomic<int>* cancel, BoundedRunResult& r) {
  for (;;) {
    const int64_t left_ms = static_cast<int64_t>(timeout_ms) - ms_since(c.start);
    if (left_ms <= 0) break;
    if (!c.ended && cancel != nullptr && cancel->load() != 0) {
      r.cancelled = true;
      break;  // killed by run_bounded, as at the deadline
    }
    pollfd fds[3];
    nfds_t n = 0;
    if (c.out[0] >= 0) fds[n++] = {c.out[0], POLLIN, 0};
    if (c.err[0] >= 0) fds[n++] = {c.err[0], POLLIN, 0};
    if (!c.ended && c.pidfd >= 0) fds[n++] = {c.pidfd, POLLIN, 0};
    int wait_ms = static_cast<int>(std::min<int64_t>(left_ms, 1000));
    if (!c.ended && c.pidfd < 0) wait_ms = std::min(wait_ms, 10);
    if (!c.ended && cancel != nullptr) wait_ms = std::min(wait_ms, static_cast<int>(kCancelPollMs));
    if (n == 0) break;  // ended and both pipes closed
    if (::poll(fds, n, wait_ms) < 0 && errno != EINTR) break;
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0 || fds[i].fd == c.pidfd) continue;
      int(&p)[2] = fds[i].fd == c.out[0] ? c.out : c.err;
      if (!drain(p[0], fds[i].fd == c.out[0] ? r.out : r.err)) close_pair(p);
    }
    if (!c.ended) {
      siginfo_t info{};
      // WNOWAIT: the child stays a zombie, so its pid (= the group id) cannot be reused before
      // the group is killed below.
      c.ended =
          ::waitid(P_PID, static_cast<id_t>(c.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == c.pid;
      if (c.ended) {
        c.ended_ms = ms_since(c.start);
        ::kill(-c.pid, SIGKILL);  // whatever it left running in its group
      }
    }
    if (c.ended && c.out[0] < 0 && c.err[0] < 0) break;
  }
}

}  // namespace

BoundedRunResult run_bounded(const std::string& path, const std::vector<std::string>& argv, uint32_t timeout_ms,
                             const std::atomic<int>* cancel) {
  BoundedRunResult r;
  Child c;
  if (!start_child(path, argv, c, r)) return r;
  follow_child(c, timeout_ms, cancel, r);
  if (!c.ended) {
    r.timed_out = !r.cancelled;
    ::kill(-c.pid, SIGKILL);
  }
  int status = 0;
  while (::waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.elapsed_ms = static_cast<uint32_t>(c.ended ? c.ended_ms : ms_since(c.start));
  if (WIFEXITED(status)) {
    r.exited = true;
    r.exit_status = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
  }
  if (c.pidfd >= 0) ::close(c.pidfd);
  close_pair(c.out);
  close_pair(c.err);
  return r;
}

}  // namespace spore::posix
