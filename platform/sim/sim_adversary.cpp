#include "sim/sim_adversary.h"

#include <utility>

namespace spore::sim {

namespace {

// Detection idiom: the first overload exists only when Header has dest_id.
template <typename H>
auto set_dest(H& h, uint32_t dest_id, int) -> decltype(h.dest_id = dest_id, void()) {
  h.dest_id = dest_id;
}
template <typename H>
void set_dest(H&, uint32_t, long) {}

}  // namespace

SimAdversary::SimAdversary(SimNetwork& net, const SimClock& clock, uint32_t ip, uint16_t port)
    : net_(net), clock_(clock), ip_(ip), port_(port), endpoint_(net.add_endpoint(ip, port)) {
  // What reaches this endpoint is captured; after tap_all() everything else too.
  tap_ = net_.taps.size();
  net_.taps.push_back([this](const SimNetwork::Delivery& d) {
    if (tap_all_ || d.to == endpoint_) record(d);
  });
  net_.set_receiver(endpoint_, [this](uint32_t, uint16_t, const uint8_t*, size_t size) {
    ++datagrams_received_;
    bytes_received_ += size;
  });
}

SimAdversary::~SimAdversary() {
  net_.taps[tap_] = nullptr;
  net_.set_receiver(endpoint_, nullptr);
  net_.set_up(endpoint_, false);
}

void SimAdversary::tap_all() { tap_all_ = true; }

void SimAdversary::record(const SimNetwork::Delivery& d) {
  captured_.push_back(Captured{clock_.now(), d.src_ip, d.src_port, d.dst_ip, d.dst_port, d.broadcast,
                               std::vector<uint8_t>(d.data, d.data + d.size)});
}

std::vector<const Captured*> SimAdversary::captured_where(const std::function<bool(const Captured&)>& pred) const {
  std::vector<const Captured*> out;
  for (const Captured& c : captured_)
    if (pred(c)) out.push_back(&c);
  return out;
}

uint64_t SimAdversary::bytes_sent_as(uint32_t src_ip) const {
  for (const auto& [ip, bytes] : sent_as_)
    if (ip == src_ip) return bytes;
  return 0;
}

bool SimAdversary::send(uint32_t ip, uint16_t port, const std::vector<uint8_t>& bytes) {
  return send_as(ip_, port_, ip, port, bytes);
}

bool SimAdversary::send_as(uint32_t src_ip, uint16_t src_port, uint32_t ip, uint16_t port,
                           const std::vector<uint8_t>& bytes, uint32_t extra_delay_ms) {
  if (bytes.empty()) return false;
  bytes_sent_ += bytes.size();
  auto it = sent_as_.begin();
  while (it != sent_as_.end() && it->first != src_ip) ++it;
  if (it == sent_as_.end()) it = sent_as_.insert(it, {src_ip, 0});
  it->second += bytes.size();
  return net_.send_spoofed(endpoint_, src_ip, src_port, ip, port, bytes.data(), bytes.size(), extra_delay_ms);
}

std::vector<uint8_t> SimAdversary::encode(const wire::Message& msg, const HmacKey& key) {
  std::vector<uint8_t> out(SPORE_MAX_DATAGRAM_BYTES);
  const wire::EncodeResult r = wire::encode(msg, key, out.data(), out.size());
  out.resize(r.ok() ? r.size_bytes : 0);
  return out;
}

void SimAdversary::address_to(wire::Header& h, uint32_t dest_id) { set_dest(h, dest_id, 0); }

}  // namespace spore::sim
