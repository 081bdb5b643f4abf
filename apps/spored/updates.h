#pragma once
/// @file updates.h
/// spored's side of OTA (docs/ota.md): the running image (path, SHA-256), the flash target new
/// images are written to, the trial a new image runs on until it proves healthy, the rollback an
/// earlier run may have left to report, and the exec() into the next image at a restart.

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "options.h"
#include "posix/executable_flash_target.h"
#include "posix/log_sink.h"
#include "posix/ota_trial.h"
#include "spore/node/node_root.h"

namespace spored {

class Updates {
 public:
  /// Resolves the running image and hashes it (not for --self-test); sets up the flash target.
  /// `stop_signal` cancels a self-test run of a new image (a SIGTERM kills it).
  Updates(const Options& opt, int argc, char** argv, spore::posix::StderrLogSink& log, std::atomic<int>* stop_signal);
  Updates(const Updates&) = delete;
  Updates& operator=(const Updates&) = delete;

  spore::posix::ExecutableFlashTarget& flash() { return flash_; }
  spore::FirmwareIdentity firmware() const;

  /// With the state dir locked: removes what an interrupted upload left, finishes or rolls back
  /// an earlier trial (OtaTrial::start()); new images are staged by the trial from now on.
  void start_trial(uint32_t node_id, const Options& opt);
  bool on_trial() const { return trial_->on_trial(); }

  /// Once the node began: says why the flash target refused an image and what it accepted.
  void attach(spore::Node& node);
  /// After the membership started (its cluster events forward the event): a rollback an earlier
  /// run left, logged and fired as ota_rolled_back.
  void report_rollback(spore::NodeContext& ctx);
  /// The start log line about the image and what updates it takes.
  void log_image(const Options& opt, const spore::OtaSession& session) const;

  /// From the loop, with the core mutex held: whether a REST self-probe of an image on trial is
  /// due now (TrialHealth); probe_done() with its outcome, with the mutex held again.
  bool probe_due(const spore::NodeContext& ctx);
  void probe_done(spore::NodeContext& ctx, bool answered);

  /// The path a restart exec()s: the image on trial, else the node's executable (the proven one).
  std::string restart_path() const;
  /// Stopped (not restarted): an image on trial is set aside by its guardian.
  void stopped();
  /// A new image was installed: launches its trial (guardian + marker). The path to exec().
  std::string launch_new_image(const spore::OtaSession& session, size_t peers_at_update, const Options& opt);
  /// Stopped during a restart: no exec.
  void restart_cancelled() { trial_->mark_stopped(); }
  const std::string& trial_file() const { return trial_->paths().trial_file; }

 private:
  void on_ota_failed(const spore::Event& e);
  void on_ota_finished(const spore::Event& e);

  spore::posix::StderrLogSink& log_;
  std::vector<std::string> node_argv_;
  std::string running_exe_;  ///< the file exec()ed for this run (a trial's own copy while on trial)
  bool from_trial_ = false;  ///< set while self_exe_ is initialized: declared before it
  std::string self_exe_;     ///< the node's executable, the proven image
  uint8_t image_sha256_[32] = {};
  uint64_t image_bytes_ = 0;
  spore::posix::ExecutableFlashTarget flash_;
  std::optional<spore::posix::OtaTrial> trial_;
  std::optional<spore::posix::TrialHealth> health_;
  spore::posix::TrialRecord rolled_back_;
  bool report_rollback_ = false;
  uint32_t probe_uptime_ms_ = 0;  ///< the node's uptime when probe_due() last decided
};

/// ACTIVE members other than this node.
size_t active_peers(const spore::NodeContext& ctx);

}  // namespace spored
