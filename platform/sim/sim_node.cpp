#include "sim/sim_node.h"

#include <algorithm>
#include <cstring>

namespace spore::sim {

bool SimFlashTarget::begin(size_t max_image_bytes) {
  if (max_image_bytes > capacity) return false;
  staging_.clear();
  return true;
}

bool SimFlashTarget::write(const uint8_t* data, size_t size_bytes) {
  if (staging_.size() + size_bytes > capacity) return false;
  staging_.insert(staging_.end(), data, data + size_bytes);
  return true;
}

OtaError SimFlashTarget::commit(const uint8_t (&sha256)[32]) {
  installed.swap(staging_);
  staging_.clear();
  std::memcpy(installed_sha256, sha256, sizeof installed_sha256);
  ++commits;
  return OtaError::kOk;
}

SimNode::SimNode(SimNetwork& net, SimClock& clock, const Config& config, uint32_t node_id, uint32_t ip,
                 std::string hostname, uint64_t seed)
    : net_(net),
      clock_(clock),
      local_clock_(clock),
      config_(config),
      node_id_(node_id),
      ip_(ip),
      hostname_(std::move(hostname)),
      random_(seed),
      endpoint_(net.add_endpoint(ip, config.udp_port)) {
  system_.chip = node_id;
  net_.set_up(endpoint_, false);
  net_.set_receiver(endpoint_, [this](uint32_t src_ip, uint16_t src_port, const uint8_t* data, size_t size) {
    on_delivery(src_ip, src_port, data, size);
  });
}

void SimNode::on_delivery(uint32_t src_ip, uint16_t src_port, const uint8_t* data, size_t size) {
  if (!up_ || !node_) return;
  inbox_.assign(data, data + size);
  inbox_ip_ = src_ip;
  inbox_port_ = src_port;
  inbox_full_ = true;
  CoreScope core(*this);
  node_->receive();  // the one intake path, as spored's and the ESP8266's loop passes take theirs
  delivered_ = true;
}

size_t SimNode::next_datagram() {
  if (!inbox_full_) return 0;
  inbox_full_ = false;  // taken: the next call finds the inbox empty
  return inbox_.size();
}

size_t SimNode::read(uint8_t* buffer, size_t size_bytes) {
  const size_t n = std::min(size_bytes, inbox_.size());
  std::memcpy(buffer, inbox_.data(), n);
  return n;
}

SimNode::~SimNode() { stop(); }

bool SimNode::set_key_hex(const std::string& hex) { return key_.set_hex(hex); }

void SimNode::stop() { node_.reset(); }

void SimNode::start(uint32_t incarnation) {
  stop();
  incarnation_ = incarnation;
  inbox_full_ = false;
  node_ = std::make_unique<Node>(config_, NodePorts{local_clock_, random_, system_, *this, flash_});
  node_->context().on("*", EventHandler::bind<SimNode, &SimNode::on_event>(this));
  if (with_rest && !node_->api().set_api_token(api_token)) {
    node_.reset();
    return;
  }
  FirmwareIdentity firmware;
  if (with_image) firmware.sha256 = &image_sha256;
  if (!node_->begin({node_id_, incarnation, ip_, hostname_}, firmware,
                    with_rest ? NodeRest::kRoutesAndUpdate : NodeRest::kNone)) {
    node_.reset();
    return;
  }
  for (const auto& [uri, method] : endpoints) node_->context().api().add(uri, method);
  if (with_rest) node_->begin_services(NodeServices{});
  node_->set_cluster_key(key_);
  node_->start_membership();
  up_ = true;
  net_.set_up(endpoint_, true);
}

void SimNode::crash() {
  up_ = false;
  net_.set_up(endpoint_, false);
}

void SimNode::resume() {
  if (!node_) return;
  up_ = true;
  net_.set_up(endpoint_, true);
}

void SimNode::restart() {
  crash();
  start(incarnation_ + 1);
}

void SimNode::leave() {
  if (up_ && node_) {
    CoreScope core(*this);
    node_->membership().leave();
  }
  crash();
}

uint32_t SimNode::take_wake_ms() {
  if (!delivered_ || !up_ || !node_) return UINT32_MAX;
  delivered_ = false;
  return node_->context().scheduler().ms_until_next();
}

uint32_t SimNode::loop() {
  if (!up_ || !node_) return UINT32_MAX;
  CoreScope core(*this);
  return node_->loop();
}

void SimNode::on_event(const Event& event) {
  if (const ClusterEvent* c = event.get<ClusterEvent>()) {
    cluster_events.push_back(ClusterEventRecord{clock_.now(), incarnation_, c->sender_id, c->epoch, c->seq,
                                                std::string(c->topic), std::string(c->payload_text())});
    return;
  }
  const Member* m = event.get<Member>();
  events.push_back(EventRecord{clock_.now(), std::string(event.topic()), m ? m->node_id : 0u,
                               m ? m->incarnation : 0u, m ? m->left : false});
}

size_t SimNode::count_events(const std::string& topic, uint32_t about_node_id) const {
  size_t n = 0;
  for (const EventRecord& e : events) {
    if (!topic.empty() && e.topic != topic) continue;
    if (about_node_id != 0 && e.node_id != about_node_id) continue;
    ++n;
  }
  return n;
}

bool SimNode::send_to(uint32_t ip, uint16_t port, const uint8_t* data, size_t size_bytes) {
  SimulatorScope simulator(hooks_);
  return net_.send(endpoint_, ip, port, data, size_bytes);
}

bool SimNode::broadcast(uint16_t port, const uint8_t* data, size_t size_bytes) {
  SimulatorScope simulator(hooks_);
  return net_.broadcast(endpoint_, port, data, size_bytes);
}

}  // namespace spore::sim
