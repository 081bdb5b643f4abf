#pragma once
/// @file bounded_run.h
/// Runs a program to completion with a hard time limit and bounded output capture: the trial run
/// of a new image (`<image> --self-test ...`, docs/ota.md) before a Linux node switches to it.
///
/// The child gets its own process group, stdin from /dev/null, stdout and stderr into pipes, no
/// other inherited descriptor, and default signal dispositions. At the deadline the whole process
/// group is killed (SIGKILL) and reaped, so nothing the program started outlives the call; the
/// group is also killed when the program exits, for any helper it left behind. posix_spawn() (no
/// fork of the calling process's memory), so it is safe from a multi-threaded process.
///
/// Blocking: returns after the program ended or `timeout_ms`, whichever comes first (plus the
/// reaping of a killed group). Thread-safe (no shared state); it waits only for its own child.

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace spore::posix {

struct BoundedRunResult {
  bool started = false;    ///< the program was spawned (else `error` says why)
  bool timed_out = false;  ///< killed at the deadline
  bool cancelled = false;  ///< killed because `cancel` became nonzero (run_bounded())
  bool exited = false;     ///< ended by exit(): exit_status is valid
  int exit_status = -1;
  int signal = 0;          ///< the signal that ended it (SIGKILL after a timeout), 0 if it exited
  uint32_t elapsed_ms = 0;
  std::string out;         ///< stdout, at most kMaxCaptureBytes
  std::string err;         ///< stderr, at most kMaxCaptureBytes
  std::string error;       ///< spawn failure
  /// Exit status 0 within the time limit.
  bool succeeded() const { return started && exited && exit_status == 0 && !timed_out; }
  /// One sentence: "exited with status 2", "killed by signal 11 (Segmentation fault)", "did not
  /// finish within 5000 ms", "could not be started: ...".
  std::string describe(uint32_t timeout_ms) const;
};

/// Bytes of stdout and of stderr kept; more output is read and dropped.
constexpr size_t kMaxCaptureBytes = 4096;

/// How spawn_process() sets up the child. stdin is always /dev/null; every descriptor of the
/// caller but those named here is closed; SIGPIPE, SIGTERM, SIGINT, SIGHUP and SIGCHLD get their
/// default dispositions and no signal is blocked.
struct SpawnOptions {
  int out_fd = -1;           ///< becomes the child's stdout; -1 = the caller's
  int err_fd = -1;           ///< becomes the child's stderr; -1 = the caller's
  int fd3 = -1;              ///< becomes the child's fd 3; -1 = none
  bool own_group = false;    ///< a process group of its own (killed as one)
  bool own_session = false;  ///< a session of its own (no terminal signals reach it)
};

/// posix_spawn() of `path` with `argv` (argv[0] included) and the caller's environment: no fork
/// of the caller's memory, so safe from a multi-threaded process. 0 and `*pid`, or an errno.
int spawn_process(const std::string& path, const std::vector<std::string>& argv, const SpawnOptions& options, pid_t* pid);

/// pidfd_open(2) of `pid` (close-on-exec): a descriptor that polls readable once the process has
/// ended and cannot be confused with a later process of the same pid. -1 with errno set (ESRCH:
/// no such process; ENOSYS: kernel before 5.3).
int open_pidfd(pid_t pid);

/// Runs `path` with `argv` (argv[0] included) and the caller's environment and working directory.
/// `cancel` (may be nullptr): once it reads nonzero (spored's stop signal) the process group is
/// killed within kCancelPollMs and the result says `cancelled`, so a SIGTERM never waits for the
/// whole `timeout_ms` of a trial run.
BoundedRunResult run_bounded(const std::string& path, const std::vector<std::string>& argv, uint32_t timeout_ms,
                             const std::atomic<int>* cancel = nullptr);

/// How often run_bounded() looks at its `cancel` flag while the program runs.
constexpr uint32_t kCancelPollMs = 50;

}  // namespace spore::posix
