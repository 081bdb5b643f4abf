#pragma once
/// @file node_root.h
/// spore::Node, the composition root: one object that owns every engine part of a node and wires
/// them in one order. spored (apps/spored), the ESP8266 firmware (platform/esp8266/node.h) and the
/// simulator's nodes (platform/sim/sim_node.h) build their ports, hand them over in a NodePorts
/// and call the steps below; none of them wires a core part itself.
///
/// Owned: NodeContext (events, scheduler, member table, API registry), RestApi, OtaSession with
/// its OtaUploadHandler (POST /api/node/update), Membership (and through it ClusterEvents),
/// Metrics (GET /metrics), EventApi (cluster events over HTTP), the UdpIntake (the one receive
/// path) and the LoopPassMonitor (blocking-pass warnings). The MQTT bridge is optional at build
/// time (the ESP8266 links it only in its MQTT environment), so the platform owns it next to its
/// client and hands it to begin_mqtt(), which wires it.
///
/// The order, and why:
///  1. Construction: every part, nothing started. Before begin() the platform may configure the
///     parts through the accessors (api(): token, bearer, restart handler; ota_session(): public
///     key; set_cluster_key(); membership(): accept key, join list).
///  2. begin(): NodeContext (identity, scheduler), the firmware identity (set once: NodeContext
///     keeps it, Membership announces its digest), the REST routes, then the update route, so the
///     node's api list starts with the seed's routes. A failed step does not stop the next: the
///     ESP8266 keeps REST and OTA up on a bad setting (safe mode) where spored exits.
///  3. begin_services(): the dashboard (GET /), /metrics, cluster events over HTTP, in this order
///     (the api list's order). Left out in safe mode.
///  4. start_membership(): the cluster protocol (UDP). The ESP8266 starts it at its first IP
///     address, after the services; spored at once, before them; the order of their event
///     subscriptions and scheduler tasks is each platform's, as it was.
///  5. begin_mqtt(): optional, last.
/// Then loop() once per pass.
///
/// Nothing is allocated: every part is a member, sized at compile time.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/base/delegate.h"
#include "spore/base/ports.h"
#include "spore/cluster/membership.h"
#include "spore/http/rest_api.h"
#include "spore/integrations/event_api.h"
#include "spore/integrations/metrics.h"
#include "spore/node/config.h"
#include "spore/node/loop_pass_monitor.h"
#include "spore/node/node_context.h"
#include "spore/node/udp_intake.h"
#include "spore/ota/ota.h"
#include "spore/ota/ota_upload.h"

namespace spore {

class MqttBridge;
struct MqttBridgeConfig;

/// The platform's ports (core/spore/base/ports.h, core/spore/ota/ota.h). All must outlive the
/// Node.
struct NodePorts {
  const Clock& clock;
  Random& random;
  const SystemInfo& system;
  /// Both ways: Membership sends through it, loop() takes the queued datagrams from it.
  UdpPort& udp;
  /// Where OtaSession writes an image.
  FlashTarget& flash;
  LogSink* log = nullptr;
  /// Fed once every loop() pass (the ESP8266 node calls loop() after its radio, WiFi and portal
  /// polling); nullptr where there is none.
  Watchdog* watchdog = nullptr;
  /// Datagrams one loop() pass takes at most (limits.h, SPORE_UDP_DATAGRAMS_PER_PASS).
  uint16_t datagrams_per_pass = SPORE_UDP_DATAGRAMS_PER_PASS;
};

/// The running image, as NodeContext::set_firmware() takes it.
struct FirmwareIdentity {
  std::string_view version;
  const uint8_t (*sha256)[32] = nullptr;  ///< nullptr: unknown (could not be hashed)
};

/// What begin() registers in the RestApi.
enum class NodeRest : uint8_t {
  kNone,             ///< no routes (the simulator's nodes unless asked: see sim_node.h)
  kRoutes,           ///< the seed's routes and the challenge (RestApi::begin())
  kRoutesAndUpdate,  ///< and POST /api/node/update (OtaUploadHandler::begin())
};

/// What begin_services() serves besides the REST API.
struct NodeServices {
  /// GET / (RestApi::set_dashboard()); nullptr: none.
  const uint8_t* dashboard_gzip = nullptr;
  size_t dashboard_bytes = 0;
  const char* dashboard_csp = nullptr;
  /// The adapter's stream writer for GET /api/cluster/events/stream (EventApi::begin()).
  EventApi::Sink event_sink;
};

class Node {
 public:
  /// `config` is copied. Nothing starts until begin().
  Node(const Config& config, const NodePorts& ports);
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  /// Step 2 (see the file comment): NodeContext, firmware identity, then the REST routes `rest`
  /// names. Every step runs; false (each logged why) when one failed.
  bool begin(const NodeIdentity& self, const FirmwareIdentity& firmware, NodeRest rest = NodeRest::kRoutesAndUpdate);
  /// Step 3: dashboard, /metrics and cluster events over HTTP; each logs a warning when it
  /// cannot be served (a full table) and the node runs on without it. True when cluster events
  /// are served (the adapter then routes their stream to event_api()).
  bool begin_services(const NodeServices& services);
  /// Step 4: Membership (announces the image digest begin() recorded). Once; later calls do
  /// nothing.
  void start_membership();
  /// Step 5: wires `bridge` (its counters into /metrics, cmd/restart to `restart`) and begins
  /// it; false (logged why) when its config is refused.
  bool begin_mqtt(MqttBridge& bridge, const MqttBridgeConfig& config, Delegate<void()> restart);

  /// The cluster key (empty: open mode, datagrams untagged and unchecked) for Membership, and
  /// "clusterAuth" in /api/node/status to match. Before start_membership().
  void set_cluster_key(const HmacKey& key) {
    membership_.set_cluster_key(key);
    ctx_.set_cluster_keyed(!key.empty());
  }

  /// One pass of the node's loop (ESPHome's Application::loop): feeds the watchdog, measures the
  /// previous pass (warns when it blocked, LoopPassMonitor), takes the queued datagrams when
  /// `receive` (a platform without a network yet, or in safe mode, passes false), runs the due
  /// tasks and the OTA stall check. Returns ms until a task is next due.
  uint32_t loop(bool receive = true);
  /// The receive step of loop() alone, for a port that learns of datagrams between passes (the
  /// simulator delivers each at its arrival time). Returns how many were delivered.
  size_t receive();

  /// begin() registered POST /api/node/update (the adapter then streams uploads to ota()).
  bool serves_update() const { return serves_update_; }

  NodeContext& context() { return ctx_; }
  const NodeContext& context() const { return ctx_; }
  RestApi& api() { return api_; }
  Membership& membership() { return membership_; }
  const Membership& membership() const { return membership_; }
  OtaSession& ota_session() { return ota_session_; }
  OtaUploadHandler& ota() { return ota_; }
  Metrics& metrics() { return metrics_; }
  EventApi& event_api() { return events_; }
  UdpIntake& intake() { return intake_; }
  const UdpStats& udp_stats() const { return intake_.stats(); }
  const LoopStats& loop_stats() const { return passes_.stats(); }

 private:
  const Clock& clock_;
  UdpPort& udp_;
  Watchdog* watchdog_;
  NodeContext ctx_;
  RestApi api_;
  OtaSession ota_session_;
  OtaUploadHandler ota_;
  Membership membership_;
  Metrics metrics_;
  EventApi events_;
  UdpIntake intake_;
  LoopPassMonitor passes_;
  bool serves_update_ = false;
};

}  // namespace spore
