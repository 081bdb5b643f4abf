#pragma once
/// @file identity.h
/// Who this spored is: its node id, incarnation and boot count from the state dir
/// (posix/state_store.h), its API token (a file named by a flag, or the one the state dir keeps),
/// its hostname and the address peers see.

#include <cstdint>
#include <string>

#include "options.h"
#include "posix/log_sink.h"
#include "posix/state_store.h"

namespace spored {

struct Identity {
  spore::posix::NodeState node;
  std::string hostname;
  uint32_t self_ip = 0;  ///< --bind, or the primary IPv4 address for 0.0.0.0
  std::string token;     ///< "" with --no-api-token
  std::string token_where;  ///< for the start log line
  std::string token_path;   ///< where a 401 says the token is ("" = not said)
};

/// Opens and locks the state dir (--self-test: reads it only), then the token and the hostname.
/// `token_from_file` is the content of --api-token-file, if given. Returns -1 to go on, else
/// spored's exit code (the reason on stderr).
int load_identity(const Options& opt, std::string token_from_file, spore::posix::StateStore& state,
                  spore::posix::StderrLogSink& log, Identity* out);

}  // namespace spored
