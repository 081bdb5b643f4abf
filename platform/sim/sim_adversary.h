#pragma once
/// @file sim_adversary.h
/// A hostile host on the simulated LAN (issue 20): it has an address of its own, hears what is
/// sent to it and every broadcast on its port, may read every frame on the medium (tap_all(): a
/// mirror port, or a Wi-Fi station that knows the PSK), and sends what it likes: captured
/// datagrams replayed anywhere, datagrams built with wire::encode (so a change of the wire format
/// flows into the attacks), junk, all from its own address or a forged one. It never holds the
/// cluster key unless a test hands it one. Several instances make several hosts, e.g. victims of a
/// reflection attack that only count what reaches them.
///
/// Host-only (platform/sim): uses the standard library freely.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "sim/sim_clock.h"
#include "sim/sim_network.h"
#include "spore/auth/hmac_sha256.h"
#include "spore/wire/wire_codec.h"

namespace spore::sim {

/// One datagram the adversary saw, as it travelled.
struct Captured {
  uint64_t at_ms = 0;
  uint32_t src_ip = 0;
  uint16_t src_port = 0;
  uint32_t dst_ip = 0;  ///< for a broadcast: the receiver it was seen reaching
  uint16_t dst_port = 0;
  bool broadcast = false;
  std::vector<uint8_t> bytes;

  /// Header fields, read without any check (0 when the bytes are too short).
  uint8_t type() const { return bytes.size() > 3 ? bytes[3] : 0; }
  uint32_t sender() const { return wire::peek_sender(bytes.data(), bytes.size()); }
  bool is(wire::MessageType t) const { return type() == static_cast<uint8_t>(t); }
};

class SimAdversary {
 public:
  /// An endpoint at ip:port on `net` (port: the cluster's UDP port to hear broadcasts, another
  /// one for a host that only receives unicast).
  SimAdversary(SimNetwork& net, const SimClock& clock, uint32_t ip, uint16_t port);
  ~SimAdversary();
  SimAdversary(const SimAdversary&) = delete;
  SimAdversary& operator=(const SimAdversary&) = delete;

  /// Captures every datagram delivered between any two endpoints from now on (SimNetwork::taps).
  void tap_all();

  uint32_t ip() const { return ip_; }
  uint16_t port() const { return port_; }
  size_t endpoint() const { return endpoint_; }

  /// Everything captured, oldest first: what reached this endpoint and, after tap_all(), the rest.
  /// A deque: references to what was captured stay valid while more arrives.
  const std::deque<Captured>& captured() const { return captured_; }
  std::vector<const Captured*> captured_where(const std::function<bool(const Captured&)>& pred) const;
  /// Bytes and datagrams that reached this endpoint (not the tapped ones).
  uint64_t bytes_received() const { return bytes_received_; }
  uint64_t datagrams_received() const { return datagrams_received_; }
  /// Bytes this adversary sent with `src_ip` as source (its own or forged).
  uint64_t bytes_sent_as(uint32_t src_ip) const;
  uint64_t bytes_sent() const { return bytes_sent_; }

  /// Sends bytes to ip:port from this host's own address, or from a forged src_ip:src_port;
  /// `extra_delay_ms`: see SimNetwork::send_spoofed.
  bool send(uint32_t ip, uint16_t port, const std::vector<uint8_t>& bytes);
  bool send_as(uint32_t src_ip, uint16_t src_port, uint32_t ip, uint16_t port, const std::vector<uint8_t>& bytes,
               uint32_t extra_delay_ms = 0);
  /// A captured datagram, byte for byte, to ip:port (from its own address, or forged).
  bool replay(const Captured& c, uint32_t ip, uint16_t port) { return send(ip, port, c.bytes); }
  bool replay_as(const Captured& c, uint32_t src_ip, uint16_t src_port, uint32_t ip, uint16_t port) {
    return send_as(src_ip, src_port, ip, port, c.bytes);
  }

  /// `msg` encoded with wire::encode (tagged when `key` is not empty), header fields as the
  /// caller set them; empty when encode refuses.
  static std::vector<uint8_t> encode(const wire::Message& msg, const HmacKey& key = HmacKey{});
  /// Sets the header's destination node id when the wire format has one (v2's dest_id); a no-op
  /// for a format without it, so the same attack code runs against both.
  static void address_to(wire::Header& h, uint32_t dest_id);

 private:
  void record(const SimNetwork::Delivery& d);

  SimNetwork& net_;
  const SimClock& clock_;
  uint32_t ip_;
  uint16_t port_;
  size_t endpoint_;
  size_t tap_;  // index in net_.taps
  bool tap_all_ = false;
  std::deque<Captured> captured_;
  std::vector<std::pair<uint32_t, uint64_t>> sent_as_;  // (source ip, bytes)
  uint64_t bytes_received_ = 0, datagrams_received_ = 0, bytes_sent_ = 0;
};

}  // namespace spore::sim
