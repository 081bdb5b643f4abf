#include "sim/sim_node.h"

namespace spore::sim {

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
    if (!up_ || !membership_) return;
    CoreScope core(*this);
    membership_->on_datagram(src_ip, src_port, data, size);
  });
}

SimNode::~SimNode() { stop(); }

bool SimNode::set_key_hex(const std::string& hex) { return key_.set_hex(hex); }

void SimNode::stop() {
  membership_.reset();  // it refers to ctx_
  ctx_.reset();
}

void SimNode::start(uint32_t incarnation) {
  stop();
  incarnation_ = incarnation;
  ctx_ = std::make_unique<NodeContext>(config_, local_clock_, random_, system_, nullptr);
  membership_ = std::make_unique<Membership>(*ctx_, *this, random_);
  ctx_->on("*", EventHandler::bind<SimNode, &SimNode::on_event>(this));
  if (!ctx_->begin({node_id_, incarnation, ip_, hostname_})) {
    ctx_.reset();
    membership_.reset();
    return;
  }
  for (const auto& [uri, method] : endpoints) ctx_->api().add(uri, method);
  membership_->set_cluster_key(key_);
  membership_->begin();
  up_ = true;
  net_.set_up(endpoint_, true);
}

void SimNode::crash() {
  up_ = false;
  net_.set_up(endpoint_, false);
}

void SimNode::restart() {
  crash();
  start(incarnation_ + 1);
}

void SimNode::leave() {
  if (up_ && membership_) {
    CoreScope core(*this);
    membership_->leave();
  }
  crash();
}

uint32_t SimNode::loop() {
  if (!up_ || !ctx_) return UINT32_MAX;
  CoreScope core(*this);
  return ctx_->loop();
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
