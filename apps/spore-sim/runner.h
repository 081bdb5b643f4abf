#pragma once
/// @file runner.h
/// Runs one Scenario on platform/sim and checks its invariants every `check-every` of virtual time
/// (docs/simulation.md, "Invariants"):
///
/// - convergence: within the bound after the start, and after every heal, restart and start, every
///   running node shows every running node it can reach ACTIVE (or, when there are more peers than
///   SPORE_MAX_MEMBERS, its table is full of them, all ACTIVE);
/// - no false alarm: a node_inactive / node_dead event about a peer that was running and reachable
///   from the observer for the whole inactive_after_ms before it is false, whatever the loss;
/// - detection: a crashed node is INACTIVE (or DEAD) at every running peer that showed it ACTIVE
///   at the crash, within the bound;
/// - bounded tables: no member table above SPORE_MAX_MEMBERS;
/// - no allocation: SPORE's core allocates nothing on the heap once a node has begun (DESIGN.md
///   §2), counted around every call into a node (core_alloc.h); protocol spore only.
///
/// Host only; deterministic from the scenario's seed (same seed, same result, any machine).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scenario.h"
#include "seed_model.h"

namespace spore_sim {

/// One broken invariant.
struct Violation {
  std::string invariant;  ///< "convergence", "false-alarm", "detection", "table-bound", "core-allocation"
  uint64_t at_ms = 0;     ///< virtual time since the scenario began
  int node = -1;          ///< the observer
  int subject = -1;       ///< the node it is about, if any
  std::string detail;
};

struct ScenarioResult {
  std::string name;
  uint32_t nodes = 0;
  std::string profile;
  std::string protocol = "spore";  ///< spore | seed (Scenario::protocol)
  std::string liveness;            ///< broadcast | digest (Scenario::liveness); empty for protocol seed
  uint64_t seed = 0;
  uint64_t virtual_ms = 0;
  uint64_t converge_bound_ms = 0;
  uint64_t detect_bound_ms = 0;
  std::optional<uint64_t> converge_ms;      ///< from the start until converged
  std::optional<uint64_t> reconverge_max_ms;  ///< slowest after a heal / restart / start
  std::optional<uint64_t> detect_min_ms, detect_max_ms;  ///< crash to INACTIVE, over all observers
  uint32_t crashes = 0;
  uint32_t false_inactive = 0, false_dead = 0;
  size_t max_table = 0;
  /// Heap allocations by core after begin(), whole run; nullopt for protocol seed (not core).
  std::optional<uint64_t> core_allocations;
  // Per node per second of virtual time, whole run (TrafficCounters of SimNetwork).
  // Bytes are payloads (UDP payload; for the seed model UDP + TCP payloads); wire bytes add the
  // IPv4 + UDP (28 B) or TCP (40 B) headers of every datagram / segment.
  double sent_datagrams_per_s = 0, sent_bytes_per_s = 0, received_datagrams_per_s = 0, received_bytes_per_s = 0;
  double sent_wire_bytes_per_s = 0, received_wire_bytes_per_s = 0;
  /// Anti-amplification (DESIGN.md budget <= 1): the address that is not a node's (spoofed or an
  /// adversary's) with the largest bytes-sent-to / bytes-received-from ratio; nullopt when none.
  std::optional<spore::sim::AddressTraffic> amplification;
  double wall_s = 0;  ///< real seconds the run took (not deterministic; for the curious)
  std::vector<Violation> violations;  ///< at most kMaxViolations kept ...
  uint32_t violation_count = 0;       ///< ... out of this many
  bool passed() const { return violation_count == 0; }
};

constexpr size_t kMaxViolations = 20;

/// The run's profile for tables: "seed" (protocol seed), else the profile ("lan"), followed by
/// " digest" when its liveness is.
std::string profile_label(const ScenarioResult& result);

/// Convergence bound when the scenario sets none: a joining node's first ANNOUNCE leaves within
/// the start jitter and its peers' replies within a discovery interval, and a healed or restarted
/// peer is heard at its next heartbeat, so max(discovery, heartbeat) twice plus the jitter.
uint64_t default_converge_bound_ms(const spore::Config& cfg);
/// Detection bound when the scenario sets none: the last datagram of the victim arrives at most
/// one worst-case network delay after the crash, so it is silent for inactive_after_ms by then,
/// and the next status pass (status_interval_ms) marks it.
uint64_t default_detect_bound_ms(const spore::Config& cfg, const LinkSettings& link);

/// The same bounds for protocol seed (SeedModel): two discovery rounds plus a poll (interval +
/// timeout); inactive_after_ms + status pass + poll interval + poll timeout + worst one-way delay.
uint64_t seed_converge_bound_ms(const SeedParams& params);
uint64_t seed_detect_bound_ms(const SeedParams& params, const LinkSettings& link);

ScenarioResult run_scenario(const Scenario& scenario);

}  // namespace spore_sim
