#include "sim/sim_network.h"

#include <limits>
#include <utility>

namespace spore::sim {

size_t SimNetwork::add_endpoint(uint32_t ip, uint16_t port) {
  Endpoint e;
  e.ip = ip;
  e.port = port;
  endpoints_.push_back(std::move(e));
  return endpoints_.size() - 1;
}

void SimNetwork::set_receiver(size_t endpoint, Receiver receiver) { endpoints_[endpoint].receiver = std::move(receiver); }

void SimNetwork::set_up(size_t endpoint, bool up) { endpoints_[endpoint].up = up; }

void SimNetwork::partition(const std::vector<std::vector<size_t>>& groups) {
  for (Endpoint& e : endpoints_) e.group = -1;  // not named: alone
  int g = 0;
  for (const auto& group : groups) {
    for (size_t i : group) endpoints_[i].group = g;
    ++g;
  }
  for (size_t i = 0; i < endpoints_.size(); ++i)
    if (endpoints_[i].group == -1) endpoints_[i].group = static_cast<int>(1000 + i);
}

void SimNetwork::heal() {
  for (Endpoint& e : endpoints_) e.group = 0;
}

bool SimNetwork::chance(double p) {
  if (p <= 0.0) return false;
  if (p >= 1.0) return true;
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < p;
}

uint32_t SimNetwork::uniform(uint32_t max_inclusive) {
  if (max_inclusive == 0) return 0;
  return std::uniform_int_distribution<uint32_t>(0, max_inclusive)(rng_);
}

void SimNetwork::enqueue(size_t from, uint32_t src_ip, uint16_t src_port, size_t to, bool broadcast,
                         const uint8_t* data, size_t size, uint32_t extra_delay_ms) {
  Endpoint& dst = endpoints_[to];
  if (!reachable(from, to) || chance(profile_.loss)) {
    ++dst.counters.dropped;
    return;
  }
  const int copies = chance(profile_.duplicate) ? 2 : 1;
  for (int c = 0; c < copies; ++c) {
    uint64_t delay = uint64_t{profile_.delay_ms} + extra_delay_ms + uniform(profile_.jitter_ms);
    if (chance(profile_.reorder)) delay += 1 + uniform(profile_.reorder_ms);
    queue_.push(Pending{clock_.now() + delay, order_++, from, to, src_ip, src_port, broadcast,
                        std::vector<uint8_t>(data, data + size)});
  }
}

double AddressTraffic::ratio() const {
  if (bytes_from == 0) return bytes_to == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return static_cast<double>(bytes_to) / static_cast<double>(bytes_from);
}

AddressTraffic& SimNetwork::traffic_of(uint32_t ip, uint16_t port) {
  AddressTraffic& t = traffic_[(static_cast<uint64_t>(ip) << 16) | port];
  t.ip = ip;
  t.port = port;
  return t;
}

AddressTraffic SimNetwork::address_traffic(uint32_t ip, uint16_t port) const {
  const auto it = traffic_.find((static_cast<uint64_t>(ip) << 16) | port);
  if (it != traffic_.end()) return it->second;
  AddressTraffic none;
  none.ip = ip;
  none.port = port;
  return none;
}

AddressTraffic SimNetwork::max_amplification(const std::function<bool(uint32_t ip, uint16_t port)>& counted) const {
  AddressTraffic worst;
  for (const auto& [key, t] : traffic_) {
    if (!counted(t.ip, t.port)) continue;
    const double r = t.ratio(), w = worst.ratio();
    if (r > w || (r == w && t.bytes_to > worst.bytes_to)) worst = t;
  }
  return worst;
}

bool SimNetwork::count_sent(size_t from, size_t size) {
  Endpoint& src = endpoints_[from];
  if (!src.up) return false;
  ++src.counters.datagrams_sent;
  src.counters.bytes_sent += size;
  return true;
}

bool SimNetwork::send(size_t from, uint32_t ip, uint16_t port, const uint8_t* data, size_t size) {
  return send_spoofed(from, endpoints_[from].ip, endpoints_[from].port, ip, port, data, size);
}

bool SimNetwork::send_spoofed(size_t from, uint32_t src_ip, uint16_t src_port, uint32_t ip, uint16_t port,
                              const uint8_t* data, size_t size, uint32_t extra_delay_ms) {
  if (!count_sent(from, size)) return false;
  traffic_of(ip, port).bytes_to += size;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    if (endpoints_[i].ip == ip && endpoints_[i].port == port) {
      enqueue(from, src_ip, src_port, i, false, data, size, extra_delay_ms);
      break;
    }
  }
  return true;
}

bool SimNetwork::broadcast(size_t from, uint16_t port, const uint8_t* data, size_t size) {
  if (!count_sent(from, size)) return false;
  const Endpoint& src = endpoints_[from];
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    if (i != from && endpoints_[i].port == port) enqueue(from, src.ip, src.port, i, true, data, size);
  }
  return true;
}

size_t SimNetwork::deliver_due() {
  size_t delivered = 0;
  while (!queue_.empty() && queue_.top().at_ms <= clock_.now()) {
    // Copy out before popping: the receiver may send, which pushes onto the queue.
    Pending p = queue_.top();
    queue_.pop();
    Endpoint& dst = endpoints_[p.to];
    if (!dst.up || !reachable(p.from, p.to) || (filter && !filter(p.from, p.to, p.data.data(), p.data.size()))) {
      ++dst.counters.dropped;
      continue;
    }
    ++dst.counters.datagrams_received;
    dst.counters.bytes_received += p.data.size();
    ++delivered;
    const Delivery d{p.from, p.to, p.src_ip, p.src_port, dst.ip, dst.port, p.broadcast, p.data.data(), p.data.size()};
    traffic_of(p.src_ip, p.src_port).bytes_from += p.data.size();
    for (const auto& tap : taps)
      if (tap) tap(d);
    if (dst.receiver) dst.receiver(p.src_ip, p.src_port, p.data.data(), p.data.size());
  }
  return delivered;
}

uint64_t SimNetwork::next_delivery_ms() const {
  return queue_.empty() ? std::numeric_limits<uint64_t>::max() : queue_.top().at_ms;
}

void SimNetwork::reset_counters() {
  for (Endpoint& e : endpoints_) e.counters = TrafficCounters{};
  traffic_.clear();
}

}  // namespace spore::sim
