#pragma once
/// @file ota_guardian.h
/// The guardian of a Linux node's image on trial (docs/ota.md, "Linux: proven before the switch,
/// rolled back after it"; the trial itself: ota_trial.h).
///
/// Started by OtaTrial::launch() just before the node exec()s the staged image, from the node's
/// executable, i.e. from the proven image:
///
///     <argv0> --ota-guardian <node pid> <timeout ms> -- <the node's argv...>
///
/// It detaches (a fork, so it is nobody's zombie), takes a pidfd of the node (same pid before
/// and after the exec), reports its own pid on fd 3 and then, every kPollMs:
///  - the marker gone, or naming another guardian: the image proved healthy (promote()) or a newer
///    update replaced it; the guardian exits;
///  - the node process ended, or `timeout ms` passed since the switch without the marker going:
///    it claims the trial (renames the image on trial to `rejected`; if the image promoted itself
///    first that rename fails and the guardian exits), kills the node if it still runs, writes
///    the rollback record `ota_rollback` to the state dir, removes the marker and the trial
///    directory and exec()s the node's executable with the node's arguments: the node is back on
///    its previous image, with a new pid (the guardian's);
///  - the marker says `stopped` (the image on trial got SIGTERM/SIGINT): the same, without the
///    restart.

#include <cstdint>
#include <string>
#include <vector>

#include "posix/log_sink.h"
#include "posix/ota_trial.h"

namespace spore::posix {

/// The flag that makes spored a guardian; it must be argv[1].
constexpr const char* kGuardianFlag = "--ota-guardian";

struct GuardianCommand {
  uint32_t node_pid = 0;
  uint32_t timeout_ms = 0;
  std::vector<std::string> node_argv;  ///< argv[0] included
};

/// The guardian's argv (argv[0] is the node's).
std::vector<std::string> guardian_argv(uint32_t node_pid, uint32_t timeout_ms, const std::vector<std::string>& node_argv);

/// Parses guardian_argv()'s output; false for anything else (pid and timeout decimal and
/// non-zero, "--" and at least argv[0] of the node after them).
bool parse_guardian_command(int argc, const char* const* argv, GuardianCommand* out);

/// How often the guardian looks at the node and the marker.
constexpr uint32_t kGuardianPollMs = 100;

/// Runs the guardian for `trial`'s paths (see the file comment). Returns an exit code when it
/// does not exec() the previous image: 0 after standing down or a stopped trial, 1 on errors.
int run_guardian(const GuardianCommand& command, OtaTrial& trial, StderrLogSink& log);

}  // namespace spore::posix
