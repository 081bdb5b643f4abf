#include "seed_model.h"

#include <algorithm>
#include <limits>

#include "sim/simulation.h"
#include "spore/cluster/member_table.h"

namespace spore_sim {

namespace {

constexpr uint16_t kSeedPort = 4210;
constexpr uint32_t kSeedFirstIp = 0x0A000001u;
constexpr uint32_t kSeedFirstNodeId = 0x1000;  // as spore::sim::Cluster numbers its nodes
constexpr int kActive = static_cast<int>(spore::MemberStatus::kActive);
constexpr int kInactive = static_cast<int>(spore::MemberStatus::kInactive);
constexpr int kDead = static_cast<int>(spore::MemberStatus::kDead);
// Client states.
constexpr int kSynSent = 0, kRequestSent = 1, kDone = 2;
// Server states.
constexpr int kListening = 0, kSynReceived = 1, kAnswered = 2, kClosed = 3;

}  // namespace

SeedModel::SeedModel(uint32_t nodes, uint64_t seed, const SeedParams& params, uint64_t start_ms)
    : params_(params), clock_(start_ms), net_(clock_, seed), rng_(seed * 0x9E3779B97F4A7C15ull + 7), nodes_(nodes) {
  for (uint32_t i = 0; i < nodes; ++i) {
    Node& n = nodes_[i];
    n.clock = std::make_unique<spore::sim::DriftClock>(clock_);
    n.polling.assign(nodes, 0);
    n.endpoint = net_.add_endpoint(kSeedFirstIp + i, kSeedPort);
    net_.set_up(n.endpoint, false);
    net_.set_receiver(n.endpoint, [this, i](uint32_t, uint16_t, const uint8_t* data, size_t size) {
      on_datagram(i, data, size);
    });
  }
}

uint32_t SeedModel::wire_size(const SeedParams& p, Kind kind) {
  switch (kind) {
    case kDiscovery: return kUdpIpHeaderBytes + p.discovery_payload;
    case kResponse: return kUdpIpHeaderBytes + p.response_payload;
    case kRequest: return kTcpIpHeaderBytes + p.request_payload;
    case kStatus: return kTcpIpHeaderBytes + p.status_payload;
    default: return kTcpIpHeaderBytes;  // SYN, SYN-ACK, ACK, FIN/ACK
  }
}

uint64_t SeedModel::shared_ms(uint32_t i, uint32_t local_ms) const {
  const int32_t ppm = nodes_[i].clock->drift_ppm();
  if (ppm == 0) return local_ms;
  const uint64_t shared = uint64_t{local_ms} * 1000000u / static_cast<uint64_t>(1000000 + ppm);
  return std::max<uint64_t>(shared, 1);
}

void SeedModel::start(uint32_t i) {
  Node& n = nodes_[i];
  n.up = true;
  n.members.clear();
  n.inbox.clear();
  net_.set_up(n.endpoint, true);
  const uint64_t now = clock_.now();
  // Boots are never simultaneous to the millisecond: each node's tasks run at its own phase.
  const auto phase = [&](uint32_t interval) {
    return std::uniform_int_distribution<uint64_t>(0, interval - 1)(rng_);
  };
  n.next_discovery = now;  // the first broadcast leaves at boot
  n.next_listen = now + phase(params_.listen_interval_ms);
  n.next_poll = now + phase(params_.poll_interval_ms);
  n.next_status = now + phase(params_.status_interval_ms);
}

std::map<uint32_t, SeedModel::Conn>::iterator SeedModel::erase_conn(std::map<uint32_t, Conn>::iterator it) {
  nodes_[it->second.client].polling[it->second.server] = 0;
  return conns_.erase(it);
}

void SeedModel::drop_connections(uint32_t i) {
  // A crashed or rebooted node's sockets are gone; its peers' ends time out or finish alone.
  for (auto it = conns_.begin(); it != conns_.end();) {
    if (it->second.client == i) {
      it = erase_conn(it);
      continue;
    }
    if (it->second.server == i) {
      it->second.server_state = kClosed;
      it->second.server_rto = 0;
    }
    ++it;
  }
}

void SeedModel::crash(uint32_t i) {
  Node& n = nodes_[i];
  n.up = false;
  n.inbox.clear();
  net_.set_up(n.endpoint, false);
  drop_connections(i);
}

void SeedModel::restart(uint32_t i) {
  crash(i);
  start(i);
}

int SeedModel::status_of(uint32_t observer, uint32_t subject) const {
  const Node& n = nodes_[observer];
  if (!n.up) return -1;
  for (const SeedMember& m : n.members)
    if (m.index == subject) return m.status;
  return -1;
}

void SeedModel::for_each_member(uint32_t i, const std::function<void(uint32_t, int)>& f) const {
  for (const SeedMember& m : nodes_[i].members) f(m.index, m.status);
}

NodeTraffic SeedModel::traffic(uint32_t i) const {
  const spore::sim::TrafficCounters& c = net_.counters(nodes_[i].endpoint);
  NodeTraffic t;
  t.datagrams_sent = c.datagrams_sent;
  t.wire_bytes_sent = c.bytes_sent;
  t.bytes_sent = c.bytes_sent - nodes_[i].header_bytes_sent;
  t.datagrams_received = c.datagrams_received;
  t.wire_bytes_received = c.bytes_received;
  t.bytes_received = c.bytes_received - nodes_[i].header_bytes_received;
  return t;
}

void SeedModel::send(uint32_t from, uint32_t to, Kind kind, uint32_t conn) {
  // Kind and connection id in the first bytes, padded to the packet's size on the wire.
  uint8_t buf[1024] = {};
  const uint32_t size = wire_size(params_, kind);
  buf[0] = kind;
  for (int b = 0; b < 4; ++b) buf[1 + b] = static_cast<uint8_t>(conn >> (8 * b));
  const size_t n = std::min<size_t>(size, sizeof buf);
  const bool sent = kind == kDiscovery ? net_.broadcast(nodes_[from].endpoint, kSeedPort, buf, n)
                                       : net_.send(nodes_[from].endpoint, kSeedFirstIp + to, kSeedPort, buf, n);
  if (sent) nodes_[from].header_bytes_sent += kind <= kResponse ? kUdpIpHeaderBytes : kTcpIpHeaderBytes;
}

void SeedModel::on_datagram(uint32_t to, const uint8_t* data, size_t size) {
  if (size < 5 || !nodes_[to].up) return;
  const auto kind = static_cast<Kind>(data[0]);
  uint32_t id = 0;
  for (int b = 0; b < 4; ++b) id |= uint32_t{data[1 + b]} << (8 * b);
  nodes_[to].header_bytes_received += kind <= kResponse ? kUdpIpHeaderBytes : kTcpIpHeaderBytes;
  if (kind == kDiscovery || kind == kResponse) {
    nodes_[to].inbox.emplace_back(id, kind);  // id carries the sender for UDP
    return;
  }
  on_segment(to, kind, id);
}

void SeedModel::on_segment(uint32_t to, Kind kind, uint32_t conn_id) {
  auto it = conns_.find(conn_id);
  if (it == conns_.end()) return;  // its connection is gone (timed out, or an end rebooted)
  Conn& c = it->second;
  const uint64_t now = clock_.now();
  if (to == c.server) {
    if (kind == kSyn && c.server_state <= kSynReceived) {
      c.server_state = kSynReceived;
      send(c.server, c.client, kSynAck, conn_id);  // every SYN, so a lost SYN-ACK is recovered
    } else if (kind == kRequest && c.server_state <= kSynReceived) {
      c.server_state = kAnswered;  // ESPAsyncWebServer answers at once
      send(c.server, c.client, kStatus, conn_id);
      c.server_rto = now + params_.rto_ms;
    } else if ((kind == kAck || kind == kClientFin) && c.server_state == kAnswered) {
      c.server_state = kClosed;
      c.server_rto = 0;
      send(c.server, c.client, kServerFin, conn_id);
    }
  } else if (to == c.client) {
    if (kind == kSynAck && c.client_state == kSynSent) {
      c.client_state = kRequestSent;
      send(c.client, c.server, kRequest, conn_id);
      c.client_rto = now + params_.rto_ms;
    } else if (kind == kStatus && c.client_state == kRequestSent) {
      c.client_state = kDone;
      c.client_rto = 0;
      ++polls_succeeded_;
      add_or_touch(c.client, c.server, true);
      send(c.client, c.server, kAck, conn_id);
      send(c.client, c.server, kClientFin, conn_id);  // HTTPClient::end()
    } else if (kind == kStatus && c.client_state == kDone) {
      send(c.client, c.server, kAck, conn_id);  // the server resent the answer: our ACK was lost
    }
  }
  if (c.client_state == kDone && c.server_state == kClosed) erase_conn(it);
}

void SeedModel::set_status(uint32_t i, SeedMember& m, int status) {
  if (m.status == status) return;
  m.status = status;
  const char* topic = status == kActive ? "node_active" : status == kInactive ? "node_inactive" : "node_dead";
  nodes_[i].events.push_back(spore::sim::EventRecord{clock_.now(), topic, kSeedFirstNodeId + m.index, 0, false});
}

void SeedModel::add_or_touch(uint32_t i, uint32_t j, bool contact) {
  Node& n = nodes_[i];
  for (SeedMember& m : n.members) {
    if (m.index != j) continue;
    if (contact) {
      m.last_seen_local = local_now(i);
      set_status(i, m, kActive);
    }
    return;
  }
  n.members.push_back(SeedMember{j, local_now(i), kActive});
  n.events.push_back(spore::sim::EventRecord{clock_.now(), "node_discovered", kSeedFirstNodeId + j, 0, false});
}

void SeedModel::run_tasks(uint32_t i, uint64_t now) {
  Node& n = nodes_[i];
  if (n.next_listen <= now) {
    // Discovery datagrams are read by the listen task, not on arrival.
    std::vector<std::pair<uint32_t, Kind>> inbox;
    inbox.swap(n.inbox);
    for (const auto& [from, kind] : inbox) {
      if (from >= nodes_.size() || from == i) continue;
      add_or_touch(i, from, false);  // a new member is ACTIVE; health of known ones is the poll's job
      if (kind == kDiscovery) send(i, from, kResponse, i);
    }
    n.next_listen = now + shared_ms(i, params_.listen_interval_ms);
  }
  if (n.next_discovery <= now) {
    send(i, 0, kDiscovery, i);
    n.next_discovery = now + shared_ms(i, params_.discovery_interval_ms);
  }
  if (n.next_poll <= now) {
    for (const SeedMember& m : n.members) {
      // One poll per member at a time (a slow one is not overlapped by the next round).
      if (n.polling[m.index]) continue;
      n.polling[m.index] = 1;
      const uint32_t id = next_conn_++;
      Conn c{i, m.index, now + params_.poll_timeout_ms};
      c.client_rto = now + params_.rto_ms;
      conns_.emplace(id, c);
      ++polls_started_;
      send(i, m.index, kSyn, id);
    }
    n.next_poll = now + shared_ms(i, params_.poll_interval_ms);
  }
  if (n.next_status <= now) {
    const uint64_t local = local_now(i);
    for (SeedMember& m : n.members) {
      const uint64_t silent = local - m.last_seen_local;
      if (silent >= params_.dead_after_ms) {
        set_status(i, m, kDead);
      } else if (silent >= params_.inactive_after_ms) {
        set_status(i, m, kInactive);
      }
    }
    n.next_status = now + shared_ms(i, params_.status_interval_ms);
  }
}

bool SeedModel::run_timers(uint64_t now) {
  bool any = false;
  for (auto it = conns_.begin(); it != conns_.end();) {
    Conn& c = it->second;
    if (c.deadline <= now) {
      it = erase_conn(it);  // the client gave up (or the server's retries ran out): the poll failed
      any = true;
      continue;
    }
    if (c.client_rto != 0 && c.client_rto <= now) {
      // Resend the SYN, or the request unless the server has it (its ACK rides on the answer).
      if (c.client_state == kSynSent) {
        send(c.client, c.server, kSyn, it->first);
        c.client_rto = now + params_.rto_ms;
      } else if (c.client_state == kRequestSent && c.server_state < kAnswered) {
        send(c.client, c.server, kRequest, it->first);
        c.client_rto = now + params_.rto_ms;
      } else {
        c.client_rto = 0;
      }
      any = true;
    }
    if (c.server_rto != 0 && c.server_rto <= now && c.server_state == kAnswered) {
      send(c.server, c.client, kStatus, it->first);
      c.server_rto = now + params_.rto_ms;
      any = true;
    }
    ++it;
  }
  return any;
}

bool SeedModel::run_until(const std::function<bool()>& done, uint64_t max_ms, uint64_t check_every_ms) {
  const auto run_due = [this](uint64_t now) {
    bool busy = run_timers(now);
    for (uint32_t i = 0; i < nodes_.size(); ++i) {
      const Node& n = nodes_[i];
      if (!n.up) continue;
      if (std::min({n.next_discovery, n.next_listen, n.next_poll, n.next_status}) <= now) {
        run_tasks(i, now);
        busy = true;
      }
    }
    return busy;
  };
  const auto next_due = [this] {
    uint64_t next = std::numeric_limits<uint64_t>::max();
    for (const Node& n : nodes_)
      if (n.up) next = std::min({next, n.next_discovery, n.next_listen, n.next_poll, n.next_status});
    for (const auto& [id, c] : conns_) {
      next = std::min(next, c.deadline);
      if (c.client_rto != 0) next = std::min(next, c.client_rto);
      if (c.server_rto != 0) next = std::min(next, c.server_rto);
    }
    return next;
  };
  return spore::sim::run_event_loop(clock_, net_, run_due, next_due, done, max_ms, check_every_ms);
}

}  // namespace spore_sim
