#include "sim/simulation.h"

#include <algorithm>
#include <limits>

namespace spore::sim {

Cluster::Cluster(size_t n, const Config& config, uint64_t seed, uint64_t start_ms)
    : clock_(start_ms), net_(clock_, seed), seed_(seed) {
  for (size_t i = 0; i < n; ++i) add_node(config);
}

size_t Cluster::add_node(const Config& config) {
  const size_t i = nodes_.size();
  nodes_.push_back(std::make_unique<SimNode>(net_, clock_, config, 0x1000u + static_cast<uint32_t>(i), ip_of(i),
                                             "sim-" + std::to_string(i), seed_ * 1000003u + i + 1));
  nodes_.back()->set_call_hooks(hooks_);
  next_due_.push_back(0);
  return i;
}

void Cluster::set_call_hooks(CallHooks* hooks) {
  hooks_ = hooks;
  for (auto& n : nodes_) n->set_call_hooks(hooks);
}

void Cluster::set_key_hex(const std::string& hex) {
  for (auto& n : nodes_) n->set_key_hex(hex);
}

void Cluster::start_all() {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i]->up()) nodes_[i]->start(1);
    next_due_[i] = clock_.now();
  }
}

void Cluster::run_for(uint64_t ms) {
  run_until([] { return false; }, ms, ms + 1);
}

void Cluster::restart(size_t i) {
  nodes_[i]->restart();
  next_due_[i] = clock_.now();
}

void Cluster::resume(size_t i) {
  nodes_[i]->resume();
  next_due_[i] = clock_.now();
}

void Cluster::start(size_t i, uint32_t incarnation) {
  nodes_[i]->start(incarnation);
  next_due_[i] = clock_.now();
}

bool run_event_loop(SimClock& clock, SimNetwork& net, const std::function<bool(uint64_t now)>& run_due,
                    const std::function<uint64_t()>& next_due, const std::function<bool()>& done, uint64_t max_ms,
                    uint64_t check_every_ms) {
  const uint64_t end = clock.now() + max_ms;
  uint64_t next_check = clock.now();
  for (;;) {
    const uint64_t now = clock.now();
    // Settle this millisecond: deliveries and due work, which may cause more of both.
    for (int pass = 0; pass < 16; ++pass) {
      const size_t delivered = net.deliver_due();
      const bool busy = run_due(now);
      if (delivered == 0 && !busy) break;
    }
    if (now >= next_check || now >= end) {
      if (done()) return true;
      next_check = now + check_every_ms;
    }
    if (now >= end) return false;
    uint64_t next = std::min({end, net.next_delivery_ms(), next_due()});
    next = std::min(next, std::max(next_check, now + 1));
    clock.set(std::max(next, now + 1));
  }
}

bool Cluster::run_until(const std::function<bool()>& done, uint64_t max_ms, uint64_t check_every_ms) {
  const auto run_due = [this](uint64_t now) {
    bool busy = false;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (!nodes_[i]->up()) continue;
      const uint32_t wake_ms = nodes_[i]->take_wake_ms();
      if (wake_ms != UINT32_MAX) next_due_[i] = std::min(next_due_[i], now + nodes_[i]->shared_ms(wake_ms));
      if (next_due_[i] > now) continue;
      const uint32_t wait = nodes_[i]->loop();
      if (wait == 0) busy = true;
      next_due_[i] = wait == UINT32_MAX ? std::numeric_limits<uint64_t>::max() : now + nodes_[i]->shared_ms(wait);
    }
    return busy;
  };
  const auto next_due = [this] {
    uint64_t next = std::numeric_limits<uint64_t>::max();
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i]->up()) next = std::min(next, next_due_[i]);
    }
    return next;
  };
  return run_event_loop(clock_, net_, run_due, next_due, done, max_ms, check_every_ms);
}

int Cluster::status_of(size_t observer, size_t subject) const {
  const SimNode& o = *nodes_[observer];
  if (!o.up()) return -1;
  const Member* m = o.ctx().members().find(nodes_[subject]->node_id());
  return m == nullptr ? -1 : static_cast<int>(m->status);
}

bool Cluster::all_see(size_t subject, MemberStatus status) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (i == subject || !nodes_[i]->up()) continue;
    if (status_of(i, subject) != static_cast<int>(status)) return false;
  }
  return true;
}

bool Cluster::converged() const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i]->up()) continue;
    for (size_t j = 0; j < nodes_.size(); ++j) {
      if (i == j || !nodes_[j]->up()) continue;
      if (status_of(i, j) != static_cast<int>(MemberStatus::kActive)) return false;
    }
  }
  return true;
}

AddressTraffic Cluster::max_amplification() const {
  return net_.max_amplification([this](uint32_t ip, uint16_t port) {
    for (const auto& n : nodes_) {
      if (n->ip() == ip && n->ctx().config().udp_port == port) return false;
    }
    return true;
  });
}

}  // namespace spore::sim
