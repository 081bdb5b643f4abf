#pragma once
/// @file fleet_report.h
/// `spore-sim fleet`: runs the ESP-01 fleet rollout model (fleet_model.h) over fleet sizes, wave
/// sizes, parameter presets and seeds, and prints each rollout's time and its ratio to one node
/// (a fleet of 1: `spore ota update`'s case) as a table or JSON.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fleet_model.h"

namespace spore_sim {

struct FleetOptions {
  std::vector<std::string> params{"fast", "slow"};
  std::vector<size_t> nodes{1, 5, 10, 20};
  std::vector<size_t> parallel{1, 4, 8, 20};
  size_t canary = 1;
  uint64_t first_seed = 1;
  size_t seeds = 5;
  bool json = false;
};

/// One (N, W) cell over the seeds: the median time, and the ratio of each seed's time to the
/// same seed's one-node time (median, min, max).
struct FleetCell {
  size_t nodes = 0, parallel = 0, waves = 0;
  double median_s = 0;
  double ratio_median = 0, ratio_min = 0, ratio_max = 0;
  std::vector<double> seconds;  ///< per seed
};

/// Runs every cell of `o` for `p`; `one_node_s` gets the per-seed one-node times.
std::vector<FleetCell> run_fleet_cells(const FleetParams& p, const FleetOptions& o, std::vector<double>* one_node_s);

/// `spore-sim fleet ARGS` (argv[0] is "fleet"). Exit 0, or 2 on a bad flag.
int fleet_main(int argc, char** argv);

}  // namespace spore_sim
