#pragma once
/// @file sim_node.h
/// One simulated SPORE node: a spore::Node (core/spore/node/node_root.h, the composition root spored and
/// the ESP8266 use) on the virtual clock, with a fake SystemInfo, a SimFlashTarget for OTA and a
/// UdpPort into SimNetwork. It can crash (stops sending and receiving, state kept for inspection)
/// and restart (a fresh Node, same node id, incarnation+1). Every event the node fires is recorded
/// with its virtual time.
///
/// REST and OTA (`with_rest`): the node's RestApi routes, POST /api/node/update into its
/// SimFlashTarget, /metrics and cluster events over HTTP, reached through api().handle() and
/// node().ota(). Off by default: the routes would enter every node's api list, which the cluster
/// protocol carries, and the REST API draws its nonce secret from the node's random source, so the
/// scenarios' traffic and timings would no longer be those of the nodes they were measured with.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sim/sim_clock.h"
#include "sim/sim_network.h"
#include "spore/node/config.h"
#include "spore/auth/hmac_sha256.h"
#include "spore/cluster/membership.h"
#include "spore/node/node_root.h"
#include "spore/node/node_context.h"

namespace spore::sim {

class SimSystemInfo : public SystemInfo {
 public:
  uint64_t free_heap_bytes() const override { return free_heap; }
  uint32_t chip_id() const override { return chip; }
  const char* sdk_version() const override { return sdk.c_str(); }
  uint16_t cpu_freq_mhz() const override { return cpu_mhz; }
  uint32_t flash_chip_size_bytes() const override { return flash; }

  uint32_t free_heap = 41000;
  uint32_t chip = 0;
  std::string sdk = "sim-1.0";
  uint16_t cpu_mhz = 80;
  uint32_t flash = 1048576;
};

/// An in-memory image store for OTA: accepts an ESP8266-style image (magic 0xE9) up to
/// `capacity` bytes; commit() keeps it as `installed`.
class SimFlashTarget : public FlashTarget {
 public:
  size_t capacity_bytes() const override { return capacity; }
  bool check_magic(const uint8_t* head, size_t size) const override { return size > 0 && head[0] == 0xE9; }
  bool begin(size_t max_image_bytes) override;
  bool write(const uint8_t* data, size_t size_bytes) override;
  OtaError commit(const uint8_t (&sha256)[32]) override;
  void abort() override { staging_.clear(); }

  size_t capacity = 256 * 1024;
  std::vector<uint8_t> installed;     ///< the last committed image
  uint8_t installed_sha256[32] = {};  ///< its SHA-256 as OtaSession computed it
  uint32_t commits = 0;

 private:
  std::vector<uint8_t> staging_;
};

/// One event as a node's handlers saw it.
struct EventRecord {
  uint64_t at_ms;
  std::string topic;
  uint32_t node_id;      ///< the member the event is about
  uint32_t incarnation;  ///< its incarnation then
  bool left;
};

/// One cluster event (ClusterEvent payload) as a node's subscribers saw it.
struct ClusterEventRecord {
  uint64_t at_ms;
  uint32_t receiver_incarnation;  ///< the receiving node's life it was delivered in
  uint32_t sender_id;
  uint32_t epoch;
  uint32_t seq;
  std::string topic;
  std::string payload;
};

class SimNode;

/// Brackets the work a harness wants to attribute (spore-sim counts the core's heap allocations
/// with it): every call into a begun node's core (a loop pass, a delivered datagram, a graceful
/// leave), and inside one every call the core makes back into the simulated network, whose queues
/// are the simulator's, not the core's. All calls happen on the simulation's one thread.
class CallHooks {
 public:
  virtual ~CallHooks() = default;
  virtual void enter_core(SimNode& node) = 0;
  virtual void leave_core(SimNode& node) = 0;
  virtual void enter_simulator() = 0;
  virtual void leave_simulator() = 0;
};

class SimNode : public UdpPort {
 public:
  SimNode(SimNetwork& net, SimClock& clock, const Config& config, uint32_t node_id, uint32_t ip, std::string hostname,
          uint64_t seed);
  ~SimNode() override;

  /// Sets the cluster key (hex) used from the next start(); "" = none.
  bool set_key_hex(const std::string& hex);
  /// Endpoints registered at every start (default: GET /api/node/status).
  std::vector<std::pair<std::string, HttpMethod>> endpoints{{"/api/node/status", HttpMethod::kGet}};
  /// Serve REST and OTA from the next start() on (see the file comment); `api_token` protects
  /// them ("" = an open API).
  bool with_rest = false;
  std::string api_token;
  /// The running image from the next start() on, when `with_image`: its SHA-256, whose first 4
  /// bytes every ANNOUNCE carries as imageDigest (the fleet model boots a board into its new image
  /// with it). Off by default: the nodes then announce no image, as before.
  bool with_image = false;
  uint8_t image_sha256[32] = {};

  /// Fresh NodeContext + Membership with `incarnation`, begun at the current virtual time.
  void start(uint32_t incarnation);
  /// Stops sending, receiving and running; the state stays readable.
  void crash();
  /// start(incarnation + 1) after a crash (or while running: a reboot).
  void restart();
  /// Back after a crash() with the state it had (a paused process, SIGSTOP then SIGCONT, or a
  /// board whose Wi-Fi dropped for a while): same incarnation, same tables, timers overdue.
  void resume();
  /// Graceful leave, then down.
  void leave();
  bool up() const { return up_; }
  /// The node's clock runs `ppm` parts per million fast (> 0) or slow (< 0) from now on, across
  /// restarts; its timers and thresholds all follow it. Event times stay on the shared clock.
  void set_clock_drift_ppm(int32_t ppm) { local_clock_.set_drift_ppm(ppm); }
  int32_t clock_drift_ppm() const { return local_clock_.drift_ppm(); }
  /// `local_ms` of this node's clock in shared-clock ms, rounded down (waking a node a little
  /// early costs one idle pass; late would stretch its timers).
  uint64_t shared_ms(uint32_t local_ms) const {
    const int32_t ppm = local_clock_.drift_ppm();
    if (ppm == 0) return local_ms;
    const uint64_t shared = uint64_t{local_ms} * 1000000u / static_cast<uint64_t>(1000000 + ppm);
    return shared == 0 && local_ms > 0 ? 1 : shared;
  }

  /// One pass of the node's loop if it is up; ms until its next task (UINT32_MAX when down).
  uint32_t loop();
  /// Once after each delivery: ms (on this node's clock) until its next task, which the datagram
  /// may have moved earlier (a delayed answer, Task::run_by()); UINT32_MAX when nothing arrived.
  /// The cluster then runs the node's loop by that time, as spored's and the ESP8266's loops run
  /// a pass after every receive.
  uint32_t take_wake_ms();
  /// Calls into this node's core and back out are bracketed by `hooks` (nullptr: none).
  void set_call_hooks(CallHooks* hooks) { hooks_ = hooks; }

  /// The node's parts; valid after start() (and after a crash, for inspection).
  Node& node() { return *node_; }
  NodeContext& ctx() { return node_->context(); }
  const NodeContext& ctx() const { return node_->context(); }
  Membership& membership() { return node_->membership(); }
  const Membership& membership() const { return node_->membership(); }
  RestApi& api() { return node_->api(); }
  SimFlashTarget& flash() { return flash_; }
  SimSystemInfo& system() { return system_; }
  uint32_t node_id() const { return node_id_; }
  uint32_t ip() const { return ip_; }
  uint32_t incarnation() const { return incarnation_; }
  size_t endpoint() const { return endpoint_; }
  const std::string& hostname() const { return hostname_; }

  /// Events since construction, across restarts.
  std::vector<EventRecord> events;
  /// Cluster events (docs/events.md) delivered to this node's subscribers, across restarts.
  std::vector<ClusterEventRecord> cluster_events;
  /// Events about `node_id` with `topic` (both optional: 0 / "" match all).
  size_t count_events(const std::string& topic, uint32_t about_node_id = 0) const;

  // UdpPort: sends go into SimNetwork; a datagram it delivers waits in a one-datagram inbox
  // that the node's intake (Node::receive()) empties at once, at its arrival time.
  bool send_to(uint32_t ip, uint16_t port, const uint8_t* data, size_t size_bytes) override;
  bool broadcast(uint16_t port, const uint8_t* data, size_t size_bytes) override;
  size_t next_datagram() override;
  size_t read(uint8_t* buffer, size_t size_bytes) override;
  uint32_t remote_ip() override { return inbox_ip_; }
  uint16_t remote_port() override { return inbox_port_; }

 private:
  void on_event(const Event& event);
  void on_delivery(uint32_t src_ip, uint16_t src_port, const uint8_t* data, size_t size);
  void stop();

  // RAII brackets for CallHooks.
  class CoreScope {
   public:
    explicit CoreScope(SimNode& node) : node_(node) {
      if (node_.hooks_) node_.hooks_->enter_core(node_);
    }
    ~CoreScope() {
      if (node_.hooks_) node_.hooks_->leave_core(node_);
    }
    CoreScope(const CoreScope&) = delete;
    CoreScope& operator=(const CoreScope&) = delete;

   private:
    SimNode& node_;
  };
  class SimulatorScope {
   public:
    explicit SimulatorScope(CallHooks* hooks) : hooks_(hooks) {
      if (hooks_) hooks_->enter_simulator();
    }
    ~SimulatorScope() {
      if (hooks_) hooks_->leave_simulator();
    }
    SimulatorScope(const SimulatorScope&) = delete;
    SimulatorScope& operator=(const SimulatorScope&) = delete;

   private:
    CallHooks* hooks_;
  };

  CallHooks* hooks_ = nullptr;

  SimNetwork& net_;
  SimClock& clock_;
  DriftClock local_clock_;  // what the node's core sees (drift 0 unless set)
  Config config_;
  uint32_t node_id_;
  uint32_t ip_;
  std::string hostname_;
  SimRandom random_;
  SimSystemInfo system_;
  HmacKey key_;
  size_t endpoint_;
  uint32_t incarnation_ = 0;
  bool up_ = false;
  SimFlashTarget flash_;
  std::unique_ptr<Node> node_;
  // The inbox: the datagram SimNetwork delivered, until the intake takes it.
  std::vector<uint8_t> inbox_;
  uint32_t inbox_ip_ = 0;
  uint16_t inbox_port_ = 0;
  bool inbox_full_ = false;
  bool delivered_ = false;
};

}  // namespace spore::sim
