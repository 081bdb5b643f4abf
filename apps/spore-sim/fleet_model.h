#pragma once
/// @file fleet_model.h
/// The ESP-01 fleet rollout model (issue 22; docs/ota.md §12): `spore ota all` over N boards in
/// virtual time. The waves are the CLI's own plan (apps/spore/rollout_waves.h: a canary, then
/// waves of at most `parallel`); each board of a wave uploads the image over the WiFi channel its
/// wave-mates share, writes it into flash as the ESP8266 core's Updater does (a 4 KB buffer: erase
/// the sector, program its 16 pages, while no more bytes are taken in), verifies it, restarts,
/// has eboot copy it over the running image, boots and joins the WiFi; from then on the board is
/// a real SPORE node of the simulator (ESP8266 profile, keyed) that restarts with a new
/// incarnation and the new image digest, and the CLI's health check (a poll every 100 ms)
/// confirms it once the observer lists it ACTIVE with that digest, as check_member() requires.
///
/// The parameters are figures from datasheets, the core's sources and published measurements;
/// each has its source in docs/ota.md §12, and the two presets are their favourable and their
/// unfavourable ends. Host only; deterministic from the seed.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace spore_sim {

/// One board's and the channel's figures (docs/ota.md §12 gives the source of every value).
/// An aggregate: the presets list the eight uncertain figures in this order.
struct FleetParams {
  std::string name;
  double board_rate_bytes_per_s = 0;    ///< one ESP8266's TCP receive rate, alone on the channel
  double channel_cap_bytes_per_s = 0;   ///< what one 2.4 GHz channel carries to all boards together
  double sector_erase_ms = 0;           ///< one 4 KB flash sector erase
  double page_program_ms = 0;           ///< one 256 B flash page program
  double verify_ms = 0;                 ///< the RSA-2048 verify at the end of the upload
  double restart_wait_ms = 0;           ///< from the accepted answer until the board resets
  double boot_wifi_ms = 0;              ///< from the reset (after eboot's copy) to WiFi up with an address
  double sha256_us_per_block = 0;       ///< SHA-256 of one 64 B block while the image streams in
  uint64_t image_bytes = 420976;  ///< esp01_1m (docs/footprint.md)
  uint32_t trailer_bytes = 260;   ///< signature trailer: RSA-2048 signature + 4 B length (docs/ota.md §2)
  uint32_t poll_ms = 100;               ///< the CLI's health check period (apps/spore/ota_node.cpp)
  uint64_t back_timeout_ms = 60000;     ///< the CLI's --timeout default (apps/spore/ota_cmd.h)
};

/// Every figure at its favourable end / at its unfavourable end.
FleetParams fleet_params_fast();
FleetParams fleet_params_slow();
/// "fast" or "slow"; false for any other name.
bool fleet_params_named(std::string_view name, FleetParams* out);

/// Flash sectors the image fills (the Updater erases each before programming it).
uint64_t image_sectors(const FleetParams& p);
/// Milliseconds from the first byte of the upload to the end of its last flash write, for one of
/// `concurrent` boards uploading at once: each gets min(board rate, channel cap / concurrent)
/// while it receives, and receives nothing while it hashes the bytes (OtaSession's SHA-256) or
/// erases and programs a sector. Boards of one
/// wave start together and stay in step, so this is also the wave's upload phase (an upper
/// bound: boards that drift apart leave the channel less idle).
double upload_ms(const FleetParams& p, size_t concurrent);
/// Milliseconds from the accepted answer until the board's WiFi is up on the new image: the
/// restart wait, eboot's copy of the staged image (erase and program every sector again) and
/// the boot with its WiFi association.
double reboot_ms(const FleetParams& p);

/// One rollout: `nodes` boards in a cluster, in rollout order (the observer, the CLI's --node,
/// last, as rollout_targets() orders them), updated `canary` first, then `parallel` at a time.
struct FleetPlan {
  size_t nodes = 20;
  size_t canary = 1;
  size_t parallel = 4;
  uint64_t seed = 1;
  /// Index (rollout order) of a board that refuses the image at the end of its upload (a bad
  /// signature, say): its wave fails and the rollout stops; -1: none.
  int refused_board = -1;
};

enum class BoardOutcome : uint8_t { kNotReached, kUpdated, kFailed };

/// One board's run; times in ms since the rollout began, -1 when it did not happen.
struct BoardRun {
  int wave = -1;
  BoardOutcome outcome = BoardOutcome::kNotReached;
  double started_ms = -1;    ///< upload began
  double accepted_ms = -1;   ///< upload written and verified (or refused)
  double up_ms = -1;         ///< WiFi up on the new image, SPORE started
  double confirmed_ms = -1;  ///< the CLI saw it back, ACTIVE with the new image
};

struct FleetRun {
  double total_ms = 0;  ///< from the first upload until the CLI is done (last wave confirmed or stopped)
  size_t waves_run = 0;
  bool stopped = false;  ///< a wave failed: the boards after it were not reached
  std::vector<BoardRun> boards;
};

/// Runs `plan` with `p` on a simulated cluster (converged before the rollout begins).
FleetRun run_rollout(const FleetParams& p, const FleetPlan& plan);

}  // namespace spore_sim
