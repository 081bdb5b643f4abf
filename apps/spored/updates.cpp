#include "updates.h"

#include <unistd.h>

#include <cstring>

#include "posix/ota_trial_text.h"
#include "posix/version.h"

namespace spored {

namespace {

using spore::LogLevel;
namespace px = spore::posix;

/// The path to re-execute on a restart, resolved now: exec'ing "/proc/self/exe" itself would
/// rename the process "exe" in ps/top/pkill.
std::string resolve_self_exe() {
  std::string self_exe = "/proc/self/exe";
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n > 0) self_exe.assign(path, static_cast<size_t>(n));
  return self_exe;
}

}  // namespace

size_t active_peers(const spore::NodeContext& ctx) {
  size_t n = 0;
  ctx.members().for_each([&](const spore::Member& m) {
    if (m.status == spore::MemberStatus::kActive && m.node_id != ctx.self().node_id) ++n;
  });
  return n;
}

Updates::Updates(const Options& opt, int argc, char** argv, px::StderrLogSink& log, std::atomic<int>* stop_signal)
    : log_(log),
      node_argv_(argv, argv + argc),
      running_exe_(resolve_self_exe()),
      // An image on trial runs from its trial directory; the node's executable is still the
      // proven image, which updates replace and a restart after the trial starts (docs/ota.md).
      self_exe_(px::canonical_executable(running_exe_, &from_trial_)),
      flash_(self_exe_) {
  // What this process runs: /proc/self/exe is the image exec()ed, even if the file was replaced
  // or removed since (nodes sharing one executable file, an update in progress).
  std::string why;
  if (!opt.self_test && !px::sha256_file("/proc/self/exe", image_sha256_, &image_bytes_, &why)) {
    log_.logf(LogLevel::kWarn, "cannot hash the running executable (%s); imageSha256 stays empty", why.c_str());
  }
  flash_.set_max_image_bytes(opt.ota_max_image_bytes);
  // Every image runs `--self-test` with this node's arguments before it is accepted.
  flash_.set_self_test(argv[0], std::vector<std::string>(argv + 1, argv + argc));
  // The trial runs under the core mutex (OtaSession::finish() -> commit()): a SIGTERM kills it.
  flash_.set_cancel_flag(stop_signal);
}

spore::FirmwareIdentity Updates::firmware() const {
  spore::FirmwareIdentity f{px::firmware_version()};
  f.sha256 = &image_sha256_;
  return f;
}

void Updates::start_trial(uint32_t node_id, const Options& opt) {
  trial_.emplace(px::TrialPaths::make(self_exe_, node_id, opt.state_dir), &log_);
  if (!opt.self_test) {
    for (const std::string& path : flash_.remove_stale_temp_files()) {
      log_.logf(LogLevel::kInfo, "ota: removed %s, the temporary file of an interrupted upload", path.c_str());
    }
    trial_->start(from_trial_, image_sha256_, px::firmware_version());
    report_rollback_ = trial_->take_rollback(&rolled_back_);
  }
  px::OtaTrial* trial = &*trial_;
  flash_.set_installer([trial](const std::string& staged, std::string* why) { return trial->stage(staged, why); });
  // An image on trial proves itself in the loop (docs/ota.md): up for the stable period, a peer
  // ACTIVE when the node had peers at the update, then its own REST API answering.
  health_.emplace(opt.ota_trial_stable_ms, trial_->on_trial() && trial_->record().peers > 0);
}

void Updates::on_ota_failed(const spore::Event& e) {
  // Only this node's own events carry an OtaEvent; the other nodes' arrive as cluster events.
  if (e.get<spore::OtaEvent>() != nullptr && !flash_.last_error().empty()) {
    log_.logf(LogLevel::kWarn, "ota: %s", flash_.last_error().c_str());
  }
}

void Updates::on_ota_finished(const spore::Event& e) {
  if (e.get<spore::OtaEvent>() == nullptr) return;
  log_.logf(LogLevel::kInfo, "ota: the new image passed its checks and its trial run ('%s', %u ms)",
            px::self_test_line(flash_.new_version()).c_str(), static_cast<unsigned>(flash_.self_test_ms()));
}

void Updates::attach(spore::Node& node) {
  spore::NodeContext& ctx = node.context();
  ctx.set_ota_trial(trial_->on_trial());
  ctx.on(spore::topics::kOtaFailed, spore::EventHandler::bind<Updates, &Updates::on_ota_failed>(this));
  ctx.on(spore::topics::kOtaFinished, spore::EventHandler::bind<Updates, &Updates::on_ota_finished>(this));
}

void Updates::report_rollback(spore::NodeContext& ctx) {
  if (!report_rollback_) return;
  log_.logf(LogLevel::kWarn, "ota: rolled back: image %s%s%s did not prove healthy: %s; running %s (version %s) again",
            px::short_sha(rolled_back_.image_sha256).c_str(), rolled_back_.image_version.empty() ? "" : " version ",
            rolled_back_.image_version.c_str(), rolled_back_.reason.c_str(), px::short_sha(image_sha256_).c_str(),
            px::firmware_version());
  spore::OtaEvent event;
  event.error = spore::OtaError::kSelfTestFailed;
  std::memcpy(event.sha256, rolled_back_.image_sha256, sizeof event.sha256);
  ctx.fire(px::kOtaRolledBackTopic, event);
}

void Updates::log_image(const Options& opt, const spore::OtaSession& session) const {
  char sha_hex[65];
  spore::ota_sha256_hex(image_sha256_, sha_hex);
  log_.logf(LogLevel::kInfo, "image %s (%llu bytes, sha256 %s); updates: %s, up to %zu bytes now", running_exe_.c_str(),
            static_cast<unsigned long long>(image_bytes_), sha_hex,
            session.has_public_key() ? ("signed only, key " + opt.ota_public_key_file).c_str()
                                     : "unsigned accepted (no --ota-public-key-file)",
            flash_.capacity_bytes());
}

bool Updates::probe_due(const spore::NodeContext& ctx) {
  probe_uptime_ms_ = ctx.uptime_ms();
  return trial_->on_trial() && health_->probe_due(probe_uptime_ms_, active_peers(ctx));
}

void Updates::probe_done(spore::NodeContext& ctx, bool answered) {
  const uint32_t uptime_ms = probe_uptime_ms_;  // when the probe was decided
  health_->probe_done(uptime_ms, answered);
  std::string why;
  if (!answered || !trial_->on_trial()) {
    log_.logf(LogLevel::kDebug, "ota: trial: the REST self-probe got no 200 yet");
  } else if (trial_->promote(&why)) {
    ctx.set_ota_trial(false);
    log_.logf(LogLevel::kInfo, "ota: this image proved healthy after %u ms (REST answering, %zu peers ACTIVE): it is now %s",
              static_cast<unsigned>(uptime_ms), active_peers(ctx), self_exe_.c_str());
  } else {
    log_.logf(LogLevel::kWarn, "ota: cannot promote this image: %s", why.c_str());
  }
}

std::string Updates::restart_path() const { return trial_->on_trial() ? trial_->paths().trial_file : self_exe_; }

void Updates::stopped() {
  if (!trial_->on_trial()) return;
  trial_->mark_stopped();
  log_.logf(LogLevel::kWarn, "ota: stopped before this image proved healthy: its guardian sets it aside; the next "
                             "start runs %s (the previous image)", self_exe_.c_str());
}

std::string Updates::launch_new_image(const spore::OtaSession& session, size_t peers_at_update, const Options& opt) {
  px::TrialRecord record;
  std::memcpy(record.image_sha256, session.result().sha256, sizeof record.image_sha256);
  record.image_version = flash_.new_version();
  record.peers = static_cast<uint32_t>(peers_at_update);
  std::string error;
  if (trial_->launch(&record, node_argv_, opt.ota_trial_timeout_s * 1000, &error)) return trial_->paths().trial_file;
  log_.logf(LogLevel::kError, "ota: not switching to the new image: %s; restarting %s", error.c_str(), self_exe_.c_str());
  trial_->record_rollback(record, "the guardian could not start: " + error, nullptr);
  return self_exe_;
}

}  // namespace spored
