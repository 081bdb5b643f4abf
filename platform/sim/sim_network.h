#pragma once
/// @file sim_network.h
/// An in-process datagram network between simulated nodes: loss, delay + jitter, duplication,
/// reordering, partitions, broadcast, crash. Deterministic from one seed: every random choice
/// comes from one std::mt19937_64, and datagrams wait in one queue ordered by delivery time, ties
/// broken by the order they were sent.
///
/// Host-only (platform/sim): uses the standard library freely.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <queue>
#include <random>
#include <vector>

#include "sim/sim_clock.h"

namespace spore::sim {

/// How the network treats every datagram (per receiver for a broadcast).
struct LinkProfile {
  double loss = 0.0;           ///< probability a datagram is dropped, 0..1
  uint32_t delay_ms = 1;       ///< one-way base delay
  uint32_t jitter_ms = 0;      ///< plus uniform 0..jitter_ms
  double duplicate = 0.0;      ///< probability a second copy is delivered (with its own delay)
  double reorder = 0.0;        ///< probability a datagram is held back by up to reorder_ms extra
  uint32_t reorder_ms = 20;
};

/// Per-node traffic counters. A broadcast counts once on the sender (one frame on the medium)
/// and once on each receiver it reaches.
struct TrafficCounters {
  uint64_t datagrams_sent = 0, bytes_sent = 0;
  uint64_t datagrams_received = 0, bytes_received = 0;
  uint64_t dropped = 0;  ///< addressed to this node but lost, partitioned away, or it was down
};

/// Bytes between the nodes and one address (ip:port), for the anti-amplification bound
/// (docs/protocol.md §11.11): `from` = UDP payload bytes delivered to any endpoint with that
/// source address (spoofed or not), `to` = bytes any endpoint sent there by unicast (broadcasts
/// are aimed at no one and not counted).
struct AddressTraffic {
  uint32_t ip = 0;
  uint16_t port = 0;
  uint64_t bytes_from = 0, bytes_to = 0;
  /// bytes_to / bytes_from: <= 1 when the address got at most what it sent; infinity when it
  /// was sent bytes without ever sending any, 0 when it was sent none.
  double ratio() const;
};

class SimNetwork {
 public:
  using Receiver = std::function<void(uint32_t src_ip, uint16_t src_port, const uint8_t* data, size_t size)>;

  SimNetwork(SimClock& clock, uint64_t seed) : clock_(clock), rng_(seed) {}

  /// Adds an endpoint (a node's UDP socket); returns its index.
  size_t add_endpoint(uint32_t ip, uint16_t port);
  void set_receiver(size_t endpoint, Receiver receiver);
  /// A down endpoint (crashed node) sends nothing and receives nothing; in-flight datagrams to it
  /// are dropped on arrival.
  void set_up(size_t endpoint, bool up);
  bool is_up(size_t endpoint) const { return endpoints_[endpoint].up; }

  void set_profile(const LinkProfile& profile) { profile_ = profile; }
  const LinkProfile& profile() const { return profile_; }

  /// Endpoints in different groups cannot reach each other (checked when sent and when due).
  void partition(const std::vector<std::vector<size_t>>& groups);
  /// Everyone in one group again.
  void heal();
  bool reachable(size_t a, size_t b) const { return endpoints_[a].group == endpoints_[b].group; }

  /// Unicast from `from` to ip:port; false if `from` is down (like a socket error). A datagram
  /// to an address nobody has is silently lost, as on a LAN.
  bool send(size_t from, uint32_t ip, uint16_t port, const uint8_t* data, size_t size);
  /// To every other endpoint listening on `port`.
  bool broadcast(size_t from, uint16_t port, const uint8_t* data, size_t size);
  /// Unicast from endpoint `from` that arrives as if sent by src_ip:src_port (a forged source
  /// address, as any LAN host can put in a raw IP header). Counted on `from`; the receiver sees
  /// only the forged source, and answers go there. `extra_delay_ms` is added to the link's delay:
  /// an attacker sending now for a later millisecond is queued ahead of what the nodes send for
  /// that millisecond in between (it wins the tie, as a sender timing its frames would).
  bool send_spoofed(size_t from, uint32_t src_ip, uint16_t src_port, uint32_t ip, uint16_t port, const uint8_t* data,
                    size_t size, uint32_t extra_delay_ms = 0);

  /// Delivers every datagram due at or before now; returns how many were handed to receivers.
  size_t deliver_due();
  /// Virtual time of the next pending delivery, or UINT64_MAX.
  uint64_t next_delivery_ms() const;
  size_t in_flight() const { return queue_.size(); }

  const TrafficCounters& counters(size_t endpoint) const { return endpoints_[endpoint].counters; }
  /// Resets the per-endpoint counters and the per-address traffic.
  void reset_counters();

  /// Traffic with ip:port so far (zeros when none).
  AddressTraffic address_traffic(uint32_t ip, uint16_t port) const;
  /// The address with the largest ratio() among those `counted` accepts (e.g. not a node's own
  /// address: Cluster::max_amplification()); ties go to the larger bytes_to. All zeros when none.
  AddressTraffic max_amplification(const std::function<bool(uint32_t ip, uint16_t port)>& counted) const;
  size_t size() const { return endpoints_.size(); }

  /// Optional filter run on every datagram before delivery: return false to drop it (tests use it
  /// to count or block particular message types).
  std::function<bool(size_t from, size_t to, const uint8_t* data, size_t size)> filter;

  /// A datagram as it is delivered: who sent it (endpoint and the source address it carries,
  /// forged or not) and where it goes.
  struct Delivery {
    size_t from, to;
    uint32_t src_ip;
    uint16_t src_port;
    uint32_t dst_ip;  ///< the receiving endpoint's address (also for a broadcast)
    uint16_t dst_port;
    bool broadcast;
    const uint8_t* data;
    size_t size;
  };
  /// Observers of every datagram delivered (after `filter`), unicast between other endpoints
  /// included: a mirror port, or a Wi-Fi station that knows the network's PSK and so reads every
  /// frame. SimAdversary captures with them; an empty function is skipped.
  std::vector<std::function<void(const Delivery&)>> taps;

 private:
  struct Endpoint {
    uint32_t ip = 0;
    uint16_t port = 0;
    bool up = true;
    int group = 0;
    Receiver receiver;
    TrafficCounters counters;
  };
  struct Pending {
    uint64_t at_ms;
    uint64_t order;
    size_t from;
    size_t to;
    uint32_t src_ip;  // the source the receiver sees (the sender's own, unless forged)
    uint16_t src_port;
    bool broadcast;
    std::vector<uint8_t> data;
  };
  struct Later {
    bool operator()(const Pending& a, const Pending& b) const {
      return a.at_ms != b.at_ms ? a.at_ms > b.at_ms : a.order > b.order;
    }
  };

  void enqueue(size_t from, uint32_t src_ip, uint16_t src_port, size_t to, bool broadcast, const uint8_t* data,
               size_t size, uint32_t extra_delay_ms = 0);
  bool count_sent(size_t from, size_t size);
  AddressTraffic& traffic_of(uint32_t ip, uint16_t port);
  bool chance(double p);
  uint32_t uniform(uint32_t max_inclusive);

  SimClock& clock_;
  std::mt19937_64 rng_;
  LinkProfile profile_;
  std::vector<Endpoint> endpoints_;
  std::priority_queue<Pending, std::vector<Pending>, Later> queue_;
  std::map<uint64_t, AddressTraffic> traffic_;  // by ip << 16 | port
  uint64_t order_ = 0;
};

}  // namespace spore::sim
