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

/// The id of the member add_ghost() puts in one table.
constexpr uint32_t kGhostId = 0x0FFFFFFF;

/// Puts a member nobody else knows (kGhostId, incarnation 1, never heard) in node `i`'s table, as
/// after gossip that reached only it: node i's table then differs from every other's. True when it
/// is there.
inline bool add_ghost(Cluster& c, size_t i) {
  MemberHello ghost;
  ghost.node_id = kGhostId;
  ghost.incarnation = 1;
  ghost.ip = 0x0A00FFFE;
  ghost.hostname = "ghost";
  return c.node(i).ctx().members().observe(ghost, static_cast<uint32_t>(c.now())) != nullptr;
}

}  // namespace spore::sim::testing
