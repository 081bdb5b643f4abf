// The ESP-01 fleet rollout model (apps/spore-sim/fleet_model.cpp, docs/ota.md §12): the shared
// channel makes waves cost airtime, a refused canary stops the rollout before anyone else is
// touched, and every board is confirmed only once the observer lists it ACTIVE with the new image.
// Virtual time; each rollout runs in milliseconds.

#include "../../apps/spore-sim/fleet_model.cpp"

#include <gtest/gtest.h>

namespace spore_sim {
namespace {

double receive_ms(const FleetParams& p, size_t boards) {
  return 1000.0 * static_cast<double>(boards) * static_cast<double>(p.image_bytes + p.trailer_bytes) /
         p.channel_cap_bytes_per_s;
}

TEST(FleetModel, OneWaveOfTwentyTakesAtLeastTwentyImagesOverTheChannelCap) {
  const FleetParams p = fleet_params_fast();
  // 20 boards at 488 kB/s would want 9.8 MB/s of a 4.4 MB/s channel: the cap binds.
  ASSERT_GT(20 * p.board_rate_bytes_per_s, p.channel_cap_bytes_per_s);
  const FleetRun run = run_rollout(p, FleetPlan{20, 0, 20, 1, -1});
  ASSERT_EQ(run.waves_run, 1u);
  // 20 images through the cap, plus the flash writes during which a board takes no bytes in.
  const double flash_ms = static_cast<double>(image_sectors(p)) * p.sector_erase_ms +
                          std::ceil(static_cast<double>(p.image_bytes) / 256) * p.page_program_ms;
  for (const BoardRun& b : run.boards) {
    EXPECT_EQ(b.outcome, BoardOutcome::kUpdated);
    EXPECT_GE(b.accepted_ms, receive_ms(p, 20) + flash_ms);
  }
  // Alone on the channel a board is done sooner: the wave is not free.
  EXPECT_GT(upload_ms(p, 20), upload_ms(p, 1));
  const FleetRun one = run_rollout(p, FleetPlan{1, 0, 20, 1, -1});
  EXPECT_GT(run.total_ms, one.total_ms);
}

TEST(FleetModel, ARefusedCanaryStopsTheRolloutBeforeAnyOtherBoardIsTouched) {
  const FleetRun run = run_rollout(fleet_params_fast(), FleetPlan{10, 1, 4, 1, 0});
  EXPECT_TRUE(run.stopped);
  EXPECT_EQ(run.waves_run, 1u);
  EXPECT_EQ(run.boards[0].outcome, BoardOutcome::kFailed);
  for (size_t i = 1; i < run.boards.size(); ++i) {
    EXPECT_EQ(run.boards[i].outcome, BoardOutcome::kNotReached) << i;
    EXPECT_LT(run.boards[i].started_ms, 0) << i;
  }
  EXPECT_LE(run.total_ms, run.boards[0].accepted_ms + 1);
}

TEST(FleetModel, ARefusalInAWaveLetsItsMatesFinishAndStopsTheNextWaves) {
  // canary 0, then waves 1-4, 5-8, 9: board 3 refuses in the second wave.
  const FleetRun run = run_rollout(fleet_params_fast(), FleetPlan{10, 1, 4, 2, 3});
  EXPECT_TRUE(run.stopped);
  EXPECT_EQ(run.waves_run, 2u);
  for (size_t i : {0u, 1u, 2u, 4u}) EXPECT_EQ(run.boards[i].outcome, BoardOutcome::kUpdated) << i;
  EXPECT_EQ(run.boards[3].outcome, BoardOutcome::kFailed);
  for (size_t i = 5; i < 10; ++i) EXPECT_EQ(run.boards[i].outcome, BoardOutcome::kNotReached) << i;
}

TEST(FleetModel, EachBoardIsConfirmedAfterItsRebootAndEachWaveAfterThePreviousOne) {
  const FleetParams p = fleet_params_slow();
  const FleetRun run = run_rollout(p, FleetPlan{10, 1, 4, 3, -1});
  EXPECT_FALSE(run.stopped);
  EXPECT_EQ(run.waves_run, 4u);  // canary, 4, 4, 1
  std::vector<double> wave_done(run.waves_run, 0), wave_start(run.waves_run, 1e18);
  for (const BoardRun& b : run.boards) {
    ASSERT_EQ(b.outcome, BoardOutcome::kUpdated);
    // Confirmed at a poll once it is up on the new image (SPORE's rejoin is the simulator's).
    EXPECT_GE(b.up_ms, b.accepted_ms + reboot_ms(p) - 1);
    EXPECT_GE(b.confirmed_ms, b.up_ms);
    wave_done[b.wave] = std::max(wave_done[b.wave], b.confirmed_ms);
    wave_start[b.wave] = std::min(wave_start[b.wave], b.started_ms);
  }
  for (size_t w = 1; w < run.waves_run; ++w) EXPECT_GE(wave_start[w], wave_done[w - 1]) << w;
  EXPECT_DOUBLE_EQ(run.total_ms, wave_done.back());
}

TEST(FleetModel, AnObserverDownWhileItsWaveMatesReturnIsNotAskedAboutThem) {
  // 3 boards, no canary, one wave: the observer (board 2) restarts with the others, so each is
  // confirmed by its own list, as apps/spore/ota_rollout.cpp does; all come back.
  const FleetRun run = run_rollout(fleet_params_fast(), FleetPlan{3, 0, 3, 1, -1});
  for (const BoardRun& b : run.boards) EXPECT_EQ(b.outcome, BoardOutcome::kUpdated);
}

TEST(FleetModel, SameSeedSameRollout) {
  const FleetRun a = run_rollout(fleet_params_fast(), FleetPlan{8, 1, 4, 7, -1});
  const FleetRun b = run_rollout(fleet_params_fast(), FleetPlan{8, 1, 4, 7, -1});
  EXPECT_EQ(a.total_ms, b.total_ms);
  for (size_t i = 0; i < a.boards.size(); ++i) EXPECT_EQ(a.boards[i].confirmed_ms, b.boards[i].confirmed_ms);
}

}  // namespace
}  // namespace spore_sim
