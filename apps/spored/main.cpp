// spored: the SPORE node daemon for Linux (docs/linux-node.md).
//
// main() only orders the start: the options, the running image (updates.h), the secrets
// (secrets.h) before the state dir is touched, the state dir and identity (identity.h), then the
// node itself (daemon.h: the posix ports under core's spore::Node) and its loop.

#include <cstring>

#include "daemon.h"
#include "identity.h"
#include "options.h"
#include "ota_guardian_main.h"
#include "posix/ota_guardian.h"
#include "secrets.h"
#include "signals.h"
#include "updates.h"

int main(int argc, char** argv) {
  namespace px = spore::posix;
  if (argc > 1 && std::strcmp(argv[1], px::kGuardianFlag) == 0) return spored::guardian_main(argc, argv);
  spored::Options opt;
  const int parsed = spored::parse_options(argc, argv, &opt);
  if (parsed >= 0) return parsed;

  px::StderrLogSink log(opt.log_level);
  spored::install_signals();
  spored::Updates updates(opt, argc, argv, log, &spored::stop_signal());
  spored::Secrets secrets;
  if (!spored::load_secrets(opt, updates.flash(), log, &secrets)) return 2;
  px::StateStore state;
  spored::Identity id;
  const int identified = spored::load_identity(opt, secrets.api_token, state, log, &id);
  if (identified >= 0) return identified;
  log.set_tag(id.hostname);
  updates.start_trial(id.node.node_id, opt);

  spored::Daemon daemon(opt, log, updates, state, id);
  int code = daemon.begin(secrets);
  if (code >= 0) return code;
  if (opt.self_test) return daemon.self_test();
  code = daemon.start_servers();
  if (code >= 0) return code;
  daemon.run();
  return daemon.finish(argv);
}
