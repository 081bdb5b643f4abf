#pragma once
/// @file simulation.h
/// A cluster of SimNodes on one SimNetwork and one SimClock, and the loop that runs them:
/// jump the virtual clock to the next thing that happens (a task due on some node, or a datagram
/// due), run it, repeat. Nothing sleeps and nothing depends on wall-clock speed.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sim/sim_clock.h"
#include "sim/sim_network.h"
#include "sim/sim_node.h"

namespace spore::sim {

/// The discrete-event loop every simulated protocol runs on (Cluster below, spore-sim's model of
/// the seed's design): settle the current virtual millisecond (deliver due datagrams, run due
/// work, again while either did something, at most 16 passes), check `done` every
/// `check_every_ms`, then jump the clock to the next delivery, the next due work or the next
/// check. `run_due(now)` runs what is due and returns whether it did anything; `next_due()` is
/// the earliest time work other than a delivery falls due. Returns whether `done` held before
/// `max_ms` passed.
bool run_event_loop(SimClock& clock, SimNetwork& net, const std::function<bool(uint64_t now)>& run_due,
                    const std::function<uint64_t()>& next_due, const std::function<bool()>& done, uint64_t max_ms,
                    uint64_t check_every_ms);

class Cluster {
 public:
  /// `n` nodes with `config`, not started. Node i has id 0x1000 + i, IP 10.0.x.y (10.0.0.1 for
  /// i = 0), hostname "sim-<i>". Everything random derives from `seed`.
  Cluster(size_t n, const Config& config, uint64_t seed, uint64_t start_ms = 1000);
  // Nodes refer to the clock and network inside: neither copied nor moved.
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  /// Sets the same cluster key (hex) on nodes [0, size()) for their next start.
  void set_key_hex(const std::string& hex);

  /// Adds a node (not started), e.g. an outsider with another key. Returns its index.
  size_t add_node(const Config& config);
  /// Brackets calls into every node's core, present and added later (nullptr: none).
  void set_call_hooks(CallHooks* hooks);

  /// Starts every node that is not up, with incarnation 1, at the current virtual time.
  void start_all();
  /// Runs for `ms` virtual milliseconds.
  void run_for(uint64_t ms);
  /// Runs until `done()` holds or `max_ms` passes; returns whether it held. `done` is checked
  /// every `check_every_ms` of virtual time (it may be costly, e.g. converged() is O(N^2)).
  bool run_until(const std::function<bool()>& done, uint64_t max_ms, uint64_t check_every_ms = 10);

  /// Crash, restart (incarnation + 1), graceful leave of node i, effective at once.
  void crash(size_t i) { nodes_[i]->crash(); }
  void restart(size_t i);
  void leave(size_t i) { nodes_[i]->leave(); }
  /// Node i, crashed before, comes back with its state (SimNode::resume()).
  void resume(size_t i);
  /// Starts node i (not up) with `incarnation`.
  void start(size_t i, uint32_t incarnation = 1);

  size_t size() const { return nodes_.size(); }
  SimNode& node(size_t i) { return *nodes_[i]; }
  SimNetwork& net() { return net_; }
  SimClock& clock() { return clock_; }
  uint64_t now() const { return clock_.now(); }

  /// Status of `subject` in `observer`'s table, or -1 when it is not there.
  int status_of(size_t observer, size_t subject) const;
  /// Every up node other than `subject` shows it with `status`.
  bool all_see(size_t subject, MemberStatus status) const;
  /// Every up node shows every other up node ACTIVE.
  bool converged() const;
  /// The worst anti-amplification ratio (SimNetwork::max_amplification) over every address that
  /// is not one of this cluster's nodes: spoofed and adversary addresses. The bound is <= 1.
  AddressTraffic max_amplification() const;

 private:
  static uint32_t ip_of(size_t i) { return 0x0A000000u + static_cast<uint32_t>(i) + 1; }

  SimClock clock_;
  SimNetwork net_;
  uint64_t seed_;
  CallHooks* hooks_ = nullptr;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::vector<uint64_t> next_due_;
};

}  // namespace spore::sim
