#pragma once
/// @file backend.h
/// What the runner (runner.h) needs from a simulated cluster, whichever protocol runs it: SPORE's
/// real core on platform/sim (runner.cpp), or the model of the seed's design (seed_model.h). Both
/// run on the same SimNetwork, so loss, partitions and traffic counters mean the same thing.
///
/// Host only (apps/spore-sim).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "sim/sim_network.h"
#include "sim/sim_node.h"

namespace spore_sim {

/// Traffic of one node since the start, whole run.
struct NodeTraffic {
  uint64_t datagrams_sent = 0, bytes_sent = 0, wire_bytes_sent = 0;
  uint64_t datagrams_received = 0, bytes_received = 0, wire_bytes_received = 0;
};

/// UDP + IPv4 headers: what a datagram costs on the wire beyond its payload.
constexpr uint32_t kUdpIpHeaderBytes = 28;
/// TCP + IPv4 headers without options.
constexpr uint32_t kTcpIpHeaderBytes = 40;

class Backend {
 public:
  virtual ~Backend() = default;
  /// Shared virtual time, ms (the runner subtracts the start).
  virtual uint64_t now() const = 0;
  virtual spore::sim::SimNetwork& net() = 0;

  virtual void start(uint32_t i) = 0;    ///< first boot
  virtual void crash(uint32_t i) = 0;    ///< stops dead
  virtual void restart(uint32_t i) = 0;  ///< boots again (fresh state)
  virtual void leave(uint32_t i) = 0;    ///< graceful leave where the protocol has one, then down
  virtual void set_drift_ppm(uint32_t i, int32_t ppm) = 0;
  virtual bool up(uint32_t i) const = 0;

  /// Status (spore::MemberStatus as int) of node `subject` in `observer`'s table; -1 absent.
  virtual int status_of(uint32_t observer, uint32_t subject) const = 0;
  virtual size_t table_size(uint32_t i) const = 0;
  /// Largest table the protocol allows (SIZE_MAX: unbounded).
  virtual size_t table_capacity() const = 0;
  /// Every member of i's table that is one of the scenario's nodes: (index, status).
  virtual void for_each_member(uint32_t i, const std::function<void(uint32_t subject, int status)>& f) const = 0;
  /// Events node i fired (node_inactive / node_dead are judged), node ids 0x1000 + index.
  virtual const std::vector<spore::sim::EventRecord>& events(uint32_t i) const = 0;

  /// As spore::sim::Cluster::run_until.
  virtual bool run_until(const std::function<bool()>& done, uint64_t max_ms, uint64_t check_every_ms) = 0;
  virtual NodeTraffic traffic(uint32_t i) const = 0;
  /// Heap allocations the protocol's own code made after its nodes began (core_alloc.h); nullopt
  /// where that is not checked (the seed model is the simulator's code, not core).
  virtual std::optional<uint64_t> core_allocations() const { return std::nullopt; }
  /// The address that is not a node's with the worst anti-amplification ratio
  /// (spore::sim::Cluster::max_amplification()); nullopt when no such address sent or got
  /// anything, or the protocol has no such rule (seed).
  virtual std::optional<spore::sim::AddressTraffic> max_amplification() const { return std::nullopt; }
};

}  // namespace spore_sim
