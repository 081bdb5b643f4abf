#pragma once
/// @file rollout_waves.h
/// How `spore ota all` cuts a fleet into a canary and waves. Header only and free of the CLI's
/// other parts, so the simulator's fleet model (apps/spore-sim/fleet_model.cpp, docs/ota.md §12)
/// plans its waves with this very function.

#include <algorithm>
#include <cstddef>
#include <vector>

namespace spore {
namespace cli {

/// Waves over `count` targets in order: the first min(canary, count) form the canary wave (updated
/// together), the rest waves of at most `parallel` (>= 1). Indices into the targets, in order.
/// With rollout_targets' order the observer is in the last wave: it is updated last, and while
/// it restarts its wave-mates are confirmed by their own members lists instead.
inline std::vector<std::vector<size_t>> plan_waves(size_t count, size_t canary, size_t parallel) {
  std::vector<std::vector<size_t>> waves;
  if (parallel == 0) parallel = 1;
  size_t i = 0;
  const size_t first = std::min(canary, count);
  if (first > 0) {
    waves.emplace_back();
    for (; i < first; ++i) waves.back().push_back(i);
  }
  while (i < count) {
    waves.emplace_back();
    for (size_t n = 0; n < parallel && i < count; ++n, ++i) waves.back().push_back(i);
  }
  return waves;
}

}  // namespace cli
}  // namespace spore
