#pragma once
/// @file keyed_cluster.h
/// The simulation tests' cluster: every cluster here runs with a key, as a deployed one should
/// (sizes and CPU then include the tag).

#include "sim/simulation.h"

namespace spore::sim::testing {

constexpr const char* kKey = "000102030405060708090a0b0c0d0e0f";

struct KeyedCluster : Cluster {
  KeyedCluster(size_t n, const Config& cfg, uint64_t seed) : Cluster(n, cfg, seed) { set_key_hex(kKey); }
};

/// Status events (inactive/dead) of any kind on any node: a false alarm where nobody failed.
inline size_t failure_events(Cluster& c) {
  size_t n = 0;
  for (size_t i = 0; i < c.size(); ++i)
    n += c.node(i).count_events("node_inactive") + c.node(i).count_events("node_dead");
  return n;
}

}  // namespace spore::sim::testing
