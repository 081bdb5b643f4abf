#pragma once
/// @file ota_trial.h
/// A Linux node's new image runs on trial before it replaces anything (docs/ota.md, "Linux:
/// proven before the switch, rolled back after it").
///
/// The node's executable (the path it was started as, and what a service manager starts) always
/// holds a proven image. An update that passed its checks and its trial run (--self-test) is
/// staged as `<dir>/.<name>.trial-<node id>/<name>` and exec()ed from there under a guardian
/// process (ota_guardian.h), with a marker `<state dir>/ota_trial` (ota_trial_text.h). The image
/// becomes the node's executable only when it proves healthy: it answers its own REST API after
/// a stable period and, when the node had peers at the update, sees one ACTIVE again. Then it
/// renames itself over the executable (promote()) and removes the marker. If it dies, stalls past
/// the deadline or is stopped first, the guardian moves it aside and exec()s the executable,
/// which never stopped holding the previous image.
///
///   proven ──stage()──► staged ──launch()+exec──► on trial ──promote()──► proven (new image)
///                                                    │
///                         died / deadline / stopped ─┴─► guardian: rejected, ota_rollback,
///                                                         exec of <dir>/<name> (old image)
///
/// At start (state dir locked), start() finishes what a crash or power loss interrupted: a marker
/// whose image is the running one completes its promotion; any other marker means the trial ended
/// without proof, so the staged image is set aside and a rollback record written; a trial
/// directory without a marker is removed.
///
/// Not thread-safe: the node loop (and commit(), under the core mutex) call it.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "posix/log_sink.h"
#include "posix/ota_trial_text.h"

namespace spore::posix {

/// Local event fired (OtaEvent payload: error kSelfTestFailed, sha256 of the rejected image) when a
/// node starts again on its previous image after a rollback; the cluster events bridge forwards
/// it to the other nodes like ota_failed.
constexpr std::string_view kOtaRolledBackTopic = "ota_rolled_back";

/// Where one node's trial lives.
struct TrialPaths {
  std::string executable;  ///< the proven image: <dir>/<name>
  std::string trial_dir;   ///< <dir>/.<name>.trial-<node id, 8 hex>
  std::string trial_file;  ///< <trial_dir>/<name>: the image on trial, exec()ed from here
  std::string rejected;    ///< <trial_dir>/rejected: where a rollback moves it (the claim)
  std::string marker;      ///< <state dir>/ota_trial
  std::string rollback;    ///< <state dir>/ota_rollback: the last rollback, until reported
  std::string rollback_reported;  ///< <state dir>/ota_rollback.last: the last reported rollback

  static TrialPaths make(const std::string& executable, uint32_t node_id, const std::string& state_dir);
};

/// The executable a running image stands for: for a path inside a trial directory
/// (`<dir>/.<name>.trial-<8 hex>/<name>`) that is `<dir>/<name>` and `*from_trial` is set;
/// any other path is returned unchanged.
std::string canonical_executable(const std::string& running_path, bool* from_trial);

/// Whether an image on trial is healthy yet. Pure logic; the node loop feeds it.
class TrialHealth {
 public:
  /// Probes are at least this far apart.
  static constexpr uint32_t kProbeIntervalMs = 1000;

  /// `stable_ms`: the image must run this long first; `need_peer`: the node had ACTIVE peers
  /// when it took the update, so the new image must see one ACTIVE too.
  TrialHealth(uint32_t stable_ms, bool need_peer) : stable_ms_(stable_ms), need_peer_(need_peer) {}
  /// True when a REST self-probe should run now: the stable period is over, the peer condition
  /// holds, no probe succeeded yet and none ran in the last kProbeIntervalMs.
  bool probe_due(uint32_t uptime_ms, size_t active_peers) const;
  /// The outcome of the probe started at `uptime_ms`.
  void probe_done(uint32_t uptime_ms, bool answered);
  bool healthy() const { return healthy_; }

 private:
  uint32_t stable_ms_;
  bool need_peer_;
  bool probed_ = false;
  bool healthy_ = false;
  uint32_t last_probe_ms_ = 0;
};

/// True when an HTTP server at `ip`:`port` (0.0.0.0 = 127.0.0.1) answers `GET path` with status
/// 200 within `timeout_ms` (connect, send and first bytes each bounded by it). The connection
/// comes from `ip` itself (from 127.0.0.1 for 0.0.0.0), so spored's server counts it as the
/// node's own (HttpServer::kSelfConnections): a node held full by clients still answers it.
bool http_get_ok(uint32_t ip, uint16_t port, const char* path, uint32_t timeout_ms);

class OtaTrial {
 public:
  /// `log` may be nullptr (tests).
  OtaTrial(TrialPaths paths, StderrLogSink* log) : paths_(std::move(paths)), log_(log) {}

  const TrialPaths& paths() const { return paths_; }

  /// At start, with the state dir locked. `from_trial`: this run was exec()ed from
  /// paths().trial_file; `running_sha256` and `running_version`: its image. Finishes or rolls
  /// back what an earlier run left (see the file comment); on_trial() tells whether this run is an
  /// image on trial.
  void start(bool from_trial, const uint8_t (&running_sha256)[32], const std::string& running_version);
  bool on_trial() const { return on_trial_; }
  /// The marker of the running trial (valid while on_trial()).
  const TrialRecord& record() const { return record_; }

  /// A rollback record not reported yet (written by a guardian or by start()): true and `*out`
  /// filled once; the file is then kept as paths().rollback_reported.
  bool take_rollback(TrialRecord* out);

  /// ExecutableFlashTarget's installer: moves the checked image `staged_file` to
  /// paths().trial_file. When this run is itself on trial, its marker is removed first, so its
  /// guardian stands down (the new image gets its own at launch()).
  bool stage(const std::string& staged_file, std::string* error);

  /// Before exec()ing the staged image: starts the guardian (`spored --ota-guardian`, from
  /// paths().executable, the proven image), waits until it watches this process, and writes
  /// `*record` as the marker (its id, guardian pid and previous image are filled here: the proven
  /// image, which is this one unless this one is itself on trial). False with a sentence when the
  /// guardian could not start; the staged image is then discarded.
  bool launch(TrialRecord* record, const std::vector<std::string>& node_argv, uint32_t timeout_ms, std::string* error);

  /// The image on trial proved healthy: it becomes paths().executable. False when the guardian
  /// claimed the trial first (deadline passed) or the rename failed.
  bool promote(std::string* error);
  /// SIGTERM/SIGINT while on trial: the guardian sets the image aside and does not restart.
  void mark_stopped();

  /// Removes the trial directory's files and the directory (missing ones are fine).
  void remove_trial_dir() const;
  /// Writes a rollback record (marker content + `reason`) and removes the marker and the trial
  /// directory. Used by start() and the guardian.
  bool record_rollback(TrialRecord record, const std::string& reason, std::string* error) const;

 private:
  void log(LogLevel level, const std::string& line) const;

  TrialPaths paths_;
  StderrLogSink* log_;
  TrialRecord record_;
  bool on_trial_ = false;
  uint8_t proven_sha256_[32] = {};  // what paths().executable holds
  std::string proven_version_;
};

}  // namespace spore::posix
