#include "ota_guardian_main.h"

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "options.h"
#include "posix/log_sink.h"
#include "posix/ota_guardian.h"
#include "posix/ota_trial.h"
#include "posix/state_store.h"

namespace spored {

int guardian_main(int argc, char** argv) {
  namespace px = spore::posix;
  px::GuardianCommand command;
  if (!px::parse_guardian_command(argc, argv, &command)) {
    std::fprintf(stderr, "spored: %s is internal (spored starts it during an update)\n", px::kGuardianFlag);
    return 2;
  }
  // The node's own command line says where its state lives and how it logs.
  std::vector<char*> node_args;
  for (std::string& a : command.node_argv) node_args.push_back(a.data());
  node_args.push_back(nullptr);
  Options opt;
  if (parse_options(static_cast<int>(command.node_argv.size()), node_args.data(), &opt) >= 0) return 2;
  px::StderrLogSink log(opt.log_level);
  log.set_tag("ota-guardian");
  px::NodeState node;
  std::string error;
  if (!px::StateStore::peek(opt.state_dir, &node, &error)) {
    log.logf(spore::LogLevel::kError, "ota guardian: %s", error.c_str());
    return 1;
  }
  // Started from the node's executable, the proven image.
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) {
    log.logf(spore::LogLevel::kError, "ota guardian: cannot resolve /proc/self/exe");
    return 1;
  }
  bool from_trial = false;
  const std::string executable = px::canonical_executable(std::string(path, static_cast<size_t>(n)), &from_trial);
  px::OtaTrial trial(px::TrialPaths::make(executable, node.node_id, opt.state_dir), &log);
  return px::run_guardian(command, trial, log);
}

}  // namespace spored
