#include "spore/node/node_root.h"

#include "spore/mqtt/mqtt_bridge.h"

namespace spore {

Node::Node(const Config& config, const NodePorts& ports)
    : clock_(ports.clock),
      udp_(ports.udp),
      watchdog_(ports.watchdog),
      ctx_(config, ports.clock, ports.random, ports.system, ports.log),
      api_(ctx_),
      ota_session_(ports.flash),
      ota_(ctx_, api_, ota_session_),
      membership_(ctx_, ports.udp, ports.random),
      metrics_(ctx_, api_),
      events_(ctx_, api_),
      intake_(ports.datagrams_per_pass),
      passes_(ports.log) {}

bool Node::begin(const NodeIdentity& self, const FirmwareIdentity& firmware, NodeRest rest) {
  bool ok = ctx_.begin(self);  // logged why
  // The firmware identity, once: NodeContext shows it, start_membership() announces its digest.
  if (firmware.sha256 != nullptr) ctx_.set_firmware(firmware.version, *firmware.sha256);
  // Signed images older than this one are refused (docs/ota.md, "Downgrades").
  ota_session_.set_running_version(firmware.version);
  if (ota_session_.has_public_key() && !ota_session_.running_version().valid) {
    SPORE_LOG(ctx_, LogLevel::kWarn,
              "ota: version '%.*s' has no MAJOR.MINOR.PATCH: signed images are not checked for downgrades",
              static_cast<int>(firmware.version.size()), firmware.version.data());
  }
  if (rest != NodeRest::kNone) ok = api_.begin() && ok;  // logged why; the routes that fit are served
  serves_update_ = rest == NodeRest::kRoutesAndUpdate && ota_.begin();  // logged why
  if (rest == NodeRest::kRoutesAndUpdate) ok = serves_update_ && ok;
  return ok;
}

bool Node::begin_services(const NodeServices& services) {
  // GET /: the web dashboard (docs/dashboard.md), after the seed's routes in the api list.
  if (services.dashboard_gzip != nullptr &&
      !api_.set_dashboard(services.dashboard_gzip, services.dashboard_bytes, services.dashboard_csp)) {
    SPORE_LOG(ctx_, LogLevel::kWarn, "web dashboard not served: the api registry is full");
  }
  // GET /metrics (docs/metrics.md): public, like GET /api/node/status.
  metrics_.set_membership(&membership_);
  metrics_.set_udp_stats(&intake_.stats());
  if (!metrics_.begin()) SPORE_LOG(ctx_, LogLevel::kWarn, "GET /metrics not served: the api registry is full");
  // POST /api/cluster/events and the SSE stream (docs/events.md); EventApi logs why it cannot.
  return events_.begin(services.event_sink);
}

void Node::start_membership() {
  if (membership_.begun()) return;
  membership_.set_image_digest(ctx_.image_digest());
  membership_.begin();
}

bool Node::begin_mqtt(MqttBridge& bridge, const MqttBridgeConfig& config, Delegate<void()> restart) {
  metrics_.set_mqtt_stats(&bridge.stats());
  bridge.set_restart_handler(restart);
  return bridge.begin(config);  // logged why
}

size_t Node::receive() {
  return intake_.poll(udp_, DatagramHandler::bind<Membership, &Membership::on_datagram>(&membership_));
}

uint32_t Node::loop(bool receive_datagrams) {
  if (watchdog_ != nullptr) watchdog_->feed();
  const uint32_t now_ms = clock_.now_ms();
  passes_.tick(now_ms);
  if (receive_datagrams) receive();
  const uint32_t wait_ms = ctx_.loop();
  ota_.poll(now_ms);
  return wait_ms;
}

}  // namespace spore
