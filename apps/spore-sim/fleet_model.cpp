#include "fleet_model.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>

#include "../spore/rollout_waves.h"
#include "sim/simulation.h"
#include "spore/node/config.h"

namespace spore_sim {

namespace {

using spore::sim::Cluster;

constexpr uint64_t kSectorBytes = 4096;  // the Updater's buffer and eboot's copy unit (FLASH_SECTOR_SIZE)
constexpr uint64_t kPageBytes = 256;     // one SPI NOR page program
constexpr uint64_t kHashBlockBytes = 64;  // one SHA-256 block
constexpr const char* kFleetKey = "000102030405060708090a0b0c0d0e0f";
/// How long the cluster may take to converge before the rollout (ESP8266 profile: seconds).
constexpr uint64_t kConvergeMaxMs = 120000;

uint64_t ceil_ms(double ms) { return static_cast<uint64_t>(std::ceil(ms)); }

/// The images the boards run before and after the update, as their SHA-256s; the first 4 bytes
/// are what ANNOUNCE's imageDigest tells the observer.
constexpr uint8_t kOldImage = 1, kNewImage = 2;
void set_image(Cluster& c, size_t i, uint8_t generation) {
  spore::sim::SimNode& n = c.node(i);
  n.with_image = true;
  std::fill(std::begin(n.image_sha256), std::end(n.image_sha256), uint8_t{0});
  n.image_sha256[0] = 0x5a;
  n.image_sha256[3] = generation;
}
constexpr uint32_t kNewImageDigest = 0x5a000000u | kNewImage;

/// What the CLI's health check (wait_back() in apps/spore/ota_node.cpp) sees of board `i`: it
/// answers on the new image, and `watcher`'s members list has it ACTIVE with the new image digest
/// (check_member()). A board in the observer's own wave is checked in its own list, where it
/// lists itself once it answers.
bool confirmed(Cluster& c, size_t i, size_t watcher) {
  if (!c.node(i).up() || c.node(i).ctx().image_digest() != kNewImageDigest) return false;
  if (watcher == i) return true;
  if (!c.node(watcher).up()) return false;
  const spore::Member* m = c.node(watcher).ctx().members().find(c.node(i).node_id());
  return m != nullptr && m->status == spore::MemberStatus::kActive && m->image_digest == kNewImageDigest;
}

/// Timed actions on the cluster, run in time order as the clock passes them.
class Timeline {
 public:
  explicit Timeline(Cluster& c) : c_(c) {}
  void at(uint64_t t, std::function<void()> action) { actions_.emplace_back(t, std::move(action)); }
  /// Runs the cluster until `t`, doing every action due on the way at its time.
  void run_until(uint64_t t) {
    std::stable_sort(actions_.begin(), actions_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    while (!actions_.empty() && actions_.front().first <= t) {
      advance(actions_.front().first);
      actions_.front().second();
      actions_.erase(actions_.begin());
    }
    advance(t);
  }

 private:
  void advance(uint64_t t) {
    if (t > c_.now()) c_.run_for(t - c_.now());
  }
  Cluster& c_;
  std::vector<std::pair<uint64_t, std::function<void()>>> actions_;
};

/// One wave, as run_wave() in apps/spore/ota_rollout.cpp runs it: every board at once, the wave
/// done when the last is confirmed or failed. Returns true when one failed.
bool run_wave(Cluster& c, const FleetParams& p, const FleetPlan& plan, const std::vector<size_t>& wave, int wave_no,
              uint64_t t0, FleetRun& run) {
  const size_t observer = plan.nodes - 1;
  const bool observer_in_wave = std::find(wave.begin(), wave.end(), observer) != wave.end();
  const uint64_t start = c.now();
  const uint64_t accepted = start + ceil_ms(upload_ms(p, wave.size()) + p.verify_ms);
  const uint64_t reset = accepted + ceil_ms(p.restart_wait_ms);
  const uint64_t up = accepted + ceil_ms(reboot_ms(p));
  Timeline timeline(c);
  std::vector<size_t> pending;
  bool failed = false;
  for (size_t i : wave) {
    BoardRun& b = run.boards[i];
    b.wave = wave_no;
    b.started_ms = static_cast<double>(start - t0);
    b.accepted_ms = static_cast<double>(accepted - t0);
    if (static_cast<int>(i) == plan.refused_board) {
      b.outcome = BoardOutcome::kFailed;
      failed = true;
      continue;
    }
    pending.push_back(i);
    timeline.at(reset, [&c, i] { c.crash(i); });
    timeline.at(up, [&c, i] {
      set_image(c, i, kNewImage);
      c.start(i, c.node(i).incarnation() + 1);
    });
  }
  // The CLI polls each board every poll_ms from its accepted answer on.
  uint64_t tick = accepted;
  const uint64_t deadline = accepted + p.back_timeout_ms;
  while (!pending.empty() && tick < deadline) {
    tick += p.poll_ms;
    timeline.run_until(tick);
    for (auto it = pending.begin(); it != pending.end();) {
      if (!confirmed(c, *it, observer_in_wave ? *it : observer)) {
        ++it;
        continue;
      }
      BoardRun& b = run.boards[*it];
      b.outcome = BoardOutcome::kUpdated;
      b.up_ms = static_cast<double>(up - t0);
      b.confirmed_ms = static_cast<double>(tick - t0);
      it = pending.erase(it);
    }
  }
  for (size_t i : pending) run.boards[i].outcome = BoardOutcome::kFailed;  // not back within --timeout
  timeline.run_until(std::max(tick, accepted));
  return failed || !pending.empty();
}

}  // namespace

// The figures and their sources: docs/ota.md §12.
FleetParams fleet_params_fast() { return FleetParams{"fast", 488e3, 4.4e6, 30, 0.7, 100, 0, 2400, 55.7}; }

FleetParams fleet_params_slow() { return FleetParams{"slow", 32e3, 13e6 / 8, 400, 3, 500, 2000, 5000, 111.4}; }

bool fleet_params_named(std::string_view name, FleetParams* out) {
  if (name == "fast") {
    *out = fleet_params_fast();
  } else if (name == "slow") {
    *out = fleet_params_slow();
  } else {
    return false;
  }
  return true;
}

uint64_t image_sectors(const FleetParams& p) { return (p.image_bytes + kSectorBytes - 1) / kSectorBytes; }

double upload_ms(const FleetParams& p, size_t concurrent) {
  const double share = p.channel_cap_bytes_per_s / static_cast<double>(std::max<size_t>(concurrent, 1));
  const double rate = std::min(p.board_rate_bytes_per_s, share);
  // The trailer is received but held back, not written (docs/ota.md §1, step 4).
  const double receive_ms = 1000.0 * static_cast<double>(p.image_bytes + p.trailer_bytes) / rate;
  const uint64_t pages = (p.image_bytes + kPageBytes - 1) / kPageBytes;
  const uint64_t hash_blocks = (p.image_bytes + kHashBlockBytes - 1) / kHashBlockBytes;
  return receive_ms + static_cast<double>(hash_blocks) * p.sha256_us_per_block / 1000.0 +
         static_cast<double>(image_sectors(p)) * p.sector_erase_ms + static_cast<double>(pages) * p.page_program_ms;
}

double reboot_ms(const FleetParams& p) {
  // eboot's copy_raw(): every sector erased and programmed whole (16 pages), then the boot.
  const double copy_ms =
      static_cast<double>(image_sectors(p)) * (p.sector_erase_ms + (kSectorBytes / kPageBytes) * p.page_program_ms);
  return p.restart_wait_ms + copy_ms + p.boot_wifi_ms;
}

FleetRun run_rollout(const FleetParams& p, const FleetPlan& plan) {
  FleetRun run;
  if (plan.nodes == 0) return run;
  Cluster c(plan.nodes, spore::Config::default_esp8266(), plan.seed);
  c.set_key_hex(kFleetKey);
  for (size_t i = 0; i < plan.nodes; ++i) set_image(c, i, kOldImage);
  c.start_all();
  c.run_until([&c] { return c.converged(); }, kConvergeMaxMs, 100);
  const uint64_t t0 = c.now();
  run.boards.resize(plan.nodes);
  const std::vector<std::vector<size_t>> waves = spore::cli::plan_waves(plan.nodes, plan.canary, plan.parallel);
  for (size_t w = 0; w < waves.size(); ++w) {
    ++run.waves_run;
    if (run_wave(c, p, plan, waves[w], static_cast<int>(w), t0, run)) {
      run.stopped = w + 1 < waves.size();
      break;
    }
  }
  run.total_ms = static_cast<double>(c.now() - t0);
  return run;
}

}  // namespace spore_sim
