#pragma once
/// @file ota_guardian_main.h
/// `spored --ota-guardian <node pid> <timeout ms> -- <node argv...>`: the process that watches a
/// new image on trial and restores the previous one if it does not prove healthy
/// (platform/posix/ota_guardian.h, docs/ota.md). Internal: started by the node itself.

namespace spored {

/// Runs the guardian; the exit code when it does not exec() the previous image (2: bad command
/// line).
int guardian_main(int argc, char** argv);

}  // namespace spored
