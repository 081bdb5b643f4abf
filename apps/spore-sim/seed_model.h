#pragma once
/// @file seed_model.h
/// A model of the seed's cluster design (/work/shared/seed README, docs/simulation.md "The seed's
/// design as a baseline") on the same SimNetwork as SPORE, so spore-sim reports the same figures
/// for both:
///
/// - discovery: every node broadcasts "CLUSTER_DISCOVERY" on UDP 4210 at boot and every second;
///   every receiver answers each one with a unicast response (hostname); both add the other as an
///   ACTIVE member. Received datagrams wait for the 100 ms listen task.
/// - health: every second each node polls every member it knows with GET /api/node/status over a
///   new TCP connection, modelled packet by packet (SYN, SYN-ACK, ACK+request, response, ACK,
///   FIN/ACK x2), each one subject to the network's loss, delay, partitions; a lost SYN, request or
///   response is sent again after a 200 ms RTO until the 2 s client timeout.
/// - status: ACTIVE while the last successful poll is < 10 s old, INACTIVE from 10 s, DEAD from 60 s,
///   evaluated by a status pass every second; a successful poll makes a member ACTIVE at once.
///
/// Each simulated datagram's size is its size on the wire (IPv4 + UDP/TCP headers + payload);
/// traffic() also gives the payload alone, as SPORE's figures count it.
///
/// Host only; deterministic from the seed.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "backend.h"
#include "sim/sim_clock.h"

namespace spore_sim {

/// The model's constants, each with its source or reason in docs/simulation.md.
struct SeedParams {
  uint32_t discovery_interval_ms = 1000;  ///< README: "Discovery Tasks: Send ... (1s)"
  uint32_t listen_interval_ms = 100;      ///< README: "... / listen for discovery packets (100ms)"
  uint32_t poll_interval_ms = 1000;       ///< README: "Status Updates: Monitor cluster member health (1s)"
  uint32_t status_interval_ms = 1000;     ///< the same task classifies members
  uint32_t inactive_after_ms = 10000;     ///< README: ACTIVE "Responding within 10 seconds"
  uint32_t dead_after_ms = 60000;         ///< README: DEAD "No response for over 60 seconds"
  uint32_t rto_ms = 200;                  ///< TCP retransmission timeout (fixed, no backoff)
  uint32_t poll_timeout_ms = 2000;        ///< HTTP client timeout per poll
  uint32_t discovery_payload = 17;        ///< "CLUSTER_DISCOVERY"
  uint32_t response_payload = 27;         ///< "CLUSTER_RESPONSE:esp_123456"
  uint32_t request_payload = 120;         ///< GET /api/node/status with Host, User-Agent, Connection
  uint32_t status_payload = 663;          ///< spored's measured answer: 127 B headers + 536 B JSON
};

class SeedModel final : public Backend {
 public:
  SeedModel(uint32_t nodes, uint64_t seed, const SeedParams& params = SeedParams{}, uint64_t start_ms = 1000);
  SeedModel(const SeedModel&) = delete;
  SeedModel& operator=(const SeedModel&) = delete;

  const SeedParams& params() const { return params_; }

  // Backend
  uint64_t now() const override { return clock_.now(); }
  spore::sim::SimNetwork& net() override { return net_; }
  void start(uint32_t i) override;
  void crash(uint32_t i) override;
  void restart(uint32_t i) override;
  void leave(uint32_t i) override { crash(i); }  // the seed has no graceful leave
  void set_drift_ppm(uint32_t i, int32_t ppm) override { nodes_[i].clock->set_drift_ppm(ppm); }
  bool up(uint32_t i) const override { return nodes_[i].up; }
  int status_of(uint32_t observer, uint32_t subject) const override;
  size_t table_size(uint32_t i) const override { return nodes_[i].members.size(); }
  size_t table_capacity() const override { return SIZE_MAX; }  // the seed's member map grows with the cluster
  void for_each_member(uint32_t i, const std::function<void(uint32_t subject, int status)>& f) const override;
  const std::vector<spore::sim::EventRecord>& events(uint32_t i) const override { return nodes_[i].events; }
  bool run_until(const std::function<bool()>& done, uint64_t max_ms, uint64_t check_every_ms) override;
  NodeTraffic traffic(uint32_t i) const override;

  /// Polls begun / succeeded, all nodes (tests).
  uint64_t polls_started() const { return polls_started_; }
  uint64_t polls_succeeded() const { return polls_succeeded_; }

 private:
  enum Kind : uint8_t { kDiscovery = 1, kResponse, kSyn, kSynAck, kRequest, kStatus, kAck, kClientFin, kServerFin };

  struct SeedMember {
    uint32_t index;
    uint64_t last_seen_local;  // node's own clock
    int status;                // spore::MemberStatus as int
  };
  struct Node {
    std::unique_ptr<spore::sim::DriftClock> clock;
    size_t endpoint = 0;
    bool up = false;
    std::vector<SeedMember> members;
    std::vector<std::pair<uint32_t, Kind>> inbox;  // UDP datagrams waiting for the listen task
    uint64_t next_discovery = 0, next_listen = 0, next_poll = 0, next_status = 0;  // shared ms
    std::vector<spore::sim::EventRecord> events;
    std::vector<uint8_t> polling;  // per peer: a poll of it is in flight
    uint64_t header_bytes_sent = 0, header_bytes_received = 0;
  };
  // One poll: client's and server's side of its TCP connection.
  struct Conn {
    uint32_t client, server;
    uint64_t deadline;     // shared ms: the client gives up
    int client_state = 0;  // 0 SYN sent, 1 request sent, 2 done
    int server_state = 0;  // 0 listening, 1 SYN-ACK sent, 2 answered, 3 closed
    uint64_t client_rto = 0, server_rto = 0;  // next retransmission, shared ms (0: none)
  };

  uint64_t shared_ms(uint32_t i, uint32_t local_ms) const;
  uint64_t local_now(uint32_t i) const { return nodes_[i].clock->now(); }
  void send(uint32_t from, uint32_t to, Kind kind, uint32_t conn);
  void on_datagram(uint32_t to, const uint8_t* data, size_t size);
  void on_segment(uint32_t to, Kind kind, uint32_t conn_id);
  void run_tasks(uint32_t i, uint64_t now);
  bool run_timers(uint64_t now);
  void add_or_touch(uint32_t i, uint32_t j, bool contact);
  void set_status(uint32_t i, SeedMember& m, int status);
  void drop_connections(uint32_t i);
  std::map<uint32_t, Conn>::iterator erase_conn(std::map<uint32_t, Conn>::iterator it);
  static uint32_t wire_size(const SeedParams& p, Kind kind);

  SeedParams params_;
  spore::sim::SimClock clock_;
  spore::sim::SimNetwork net_;
  std::mt19937_64 rng_;
  std::vector<Node> nodes_;
  std::map<uint32_t, Conn> conns_;
  uint32_t next_conn_ = 1;
  uint64_t polls_started_ = 0, polls_succeeded_ = 0;
};

}  // namespace spore_sim
