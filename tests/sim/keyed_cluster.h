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

}  // namespace spore::sim::testing
