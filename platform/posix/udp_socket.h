#pragma once
/// @file udp_socket.h
/// spore::UdpPort on Linux sockets, built so that several nodes can share one host and one port.
///
/// A node bound to a specific address (127.0.0.2:4210) cannot receive broadcasts on that socket:
/// Linux delivers a datagram sent to 127.255.255.255 only to sockets bound to that broadcast
/// address or to 0.0.0.0. So open() binds two sockets: the unicast one on bind_ip:port, and a
/// broadcast receiver on <broadcast address of bind_ip>:port. Both use SO_REUSEADDR and
/// SO_REUSEPORT, and Linux hands a broadcast to *every* socket bound to the broadcast address,
/// so nodes on 127.0.0.2, 127.0.0.3, ... all on port 4210 each get exactly one copy, while a
/// unicast to 127.0.0.3:4210 reaches only the node bound there (tests/posix/udp_socket_test.cpp).
///
/// Broadcast address chosen for a bind address:
///   - 127.x.y.z          -> 127.255.255.255 (loopback has no IFF_BROADCAST, but the kernel
///                           treats 127.255.255.255 as broadcast on lo, so this works unprivileged)
///   - 0.0.0.0            -> no second socket (the wildcard socket already receives broadcasts);
///                           broadcast() sends to every IFF_BROADCAST interface's broadcast
///                           address found by getifaddrs() at open(), or 255.255.255.255 if none
///   - any other address  -> the broadcast address of the interface holding it (getifaddrs),
///                           or 255.255.255.255 if it is not found
///
/// All addresses are IPv4 as uint32_t, most significant byte first (192.168.1.2 = 0xC0A80102),
/// the convention of core. Not thread-safe: one thread (the node loop) owns the socket.
///
/// Receiving: a node's loop waits with wait_readable() and lets its UdpIntake (through the
/// UdpPort receive side: next_datagram(), read()) take the datagrams; tools that only listen use
/// receive().

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "spore/base/limits.h"
#include "spore/base/ports.h"

namespace spore::posix {

class UdpSocket : public spore::UdpPort {
 public:
  /// At most this many broadcast targets are remembered for a 0.0.0.0 bind.
  static constexpr size_t kMaxBroadcastTargets = 8;

  UdpSocket() = default;
  ~UdpSocket() override;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  /// A node's socket: unicast on `bind_ip`:`port` (SO_REUSEADDR, SO_REUSEPORT, SO_BROADCAST)
  /// plus the broadcast receiver described above. `port` 0 binds an ephemeral port (see port())
  /// and opens no broadcast receiver (useful for a client that sends a probe and reads replies).
  /// Returns false with a sentence in `*error` (may be nullptr) if a socket cannot be created or
  /// bound (address not local, port taken by a socket without SO_REUSEPORT, ...); the object is
  /// then closed. Calling open() on an open socket closes it first.
  bool open(uint32_t bind_ip, uint16_t port, std::string* error);

  /// A listen-only socket for observers such as `spore discover`: one socket bound to
  /// `listen_ip`:`port` with SO_REUSEADDR/SO_REUSEPORT, nothing else. Bind it to a broadcast
  /// address (127.255.255.255, or broadcast_address_for(some_ip)) to receive a copy of every
  /// broadcast on that port next to the nodes that already use it, or to 0.0.0.0. send_to() and
  /// broadcast() on a listen-only socket return false.
  bool open_listener(uint32_t listen_ip, uint16_t port, std::string* error);

  void close();
  bool is_open() const { return unicast_fd_ >= 0 || broadcast_fd_ >= 0; }
  bool listen_only() const { return listen_only_; }

  // ---- spore::UdpPort ----
  /// Unicast from bind_ip:port. False if closed, listen-only, `size_bytes` exceeds
  /// SPORE_MAX_DATAGRAM_BYTES, or the kernel refuses at once (the caller counts it: Membership).
  bool send_to(uint32_t ip, uint16_t port, const uint8_t* data, size_t size_bytes) override;
  /// To broadcast_ip():`port` (for a 0.0.0.0 bind: to every remembered broadcast target; true
  /// if at least one send succeeded).
  bool broadcast(uint16_t port, const uint8_t* data, size_t size_bytes) override;
  /// The next queued datagram on either socket, without waiting: its whole length (more than
  /// SPORE_MAX_DATAGRAM_BYTES for one UdpIntake drops as oversize), 0 when none. Datagrams this
  /// socket sent itself are skipped (counted in self_dropped()).
  size_t next_datagram() override;
  size_t read(uint8_t* buffer, size_t size_bytes) override;
  uint32_t remote_ip() override { return rx_ip_; }
  uint16_t remote_port() override { return rx_port_; }

  /// Waits up to `timeout_ms` (0 = do not wait, < 0 = forever) until a datagram is queued on
  /// either socket. False on timeout, a signal (EINTR) or a closed socket.
  bool wait_readable(int timeout_ms);

  /// Waits up to `timeout_ms` (0 = do not wait, < 0 = forever) for a datagram on either socket
  /// and copies the first one into `buf`. Returns its size, or 0 if none arrived (timeout, EINTR,
  /// closed). A datagram larger than SPORE_MAX_DATAGRAM_BYTES or than `cap` is dropped whole
  /// (never truncated: a truncated datagram would fail authentication anyway) and counted in
  /// oversized_dropped(); receive() then goes on with the next one, within the same deadline.
  /// Datagrams this socket sent itself (source == bind_ip:port, looped back by a broadcast) are
  /// dropped and counted in self_dropped(). `src_ip`/`src_port` may be nullptr.
  size_t receive(uint8_t* buf, size_t cap, uint32_t* src_ip, uint16_t* src_port, int timeout_ms);

  /// File descriptors for an external poll() loop; -1 when absent. Readable either one -> call
  /// receive(..., 0) until it returns 0.
  int unicast_fd() const { return unicast_fd_; }
  int broadcast_fd() const { return broadcast_fd_; }

  uint32_t bind_ip() const { return bind_ip_; }
  /// The bound port (the kernel's choice when open() was given 0).
  uint16_t port() const { return port_; }
  /// Where broadcast() sends (the first target for a 0.0.0.0 bind); 0 when closed.
  uint32_t broadcast_ip() const { return broadcast_count_ > 0 ? broadcast_targets_[0] : 0; }

  uint32_t oversized_dropped() const { return oversized_dropped_; }
  uint32_t self_dropped() const { return self_dropped_; }

  /// The broadcast address that fits `bind_ip` by the rules above (0.0.0.0 -> 255.255.255.255).
  static uint32_t broadcast_address_for(uint32_t bind_ip);

 private:
  bool fail(std::string* error, const std::string& message);
  size_t read_one(int fd, uint8_t* buf, size_t cap, uint32_t* src_ip, uint16_t* src_port, bool* got);

  int unicast_fd_ = -1;
  int broadcast_fd_ = -1;
  uint32_t bind_ip_ = 0;
  uint16_t port_ = 0;
  bool listen_only_ = false;
  uint32_t broadcast_targets_[kMaxBroadcastTargets] = {};
  size_t broadcast_count_ = 0;
  uint32_t oversized_dropped_ = 0;
  uint32_t self_dropped_ = 0;
  // The datagram next_datagram() took, until the next one.
  uint8_t rx_[SPORE_MAX_DATAGRAM_BYTES];
  size_t rx_size_ = 0;
  uint32_t rx_ip_ = 0;
  uint16_t rx_port_ = 0;
};

/// Parses dotted-quad IPv4 ("127.0.0.2") into MSB-first form. Strict: four decimal parts 0..255,
/// no spaces, no leading '+'. Returns false and leaves `*out` untouched otherwise.
bool parse_ipv4(std::string_view text, uint32_t* out);

/// Dotted-quad text of an MSB-first IPv4 address.
std::string ipv4_to_string(uint32_t ip);

}  // namespace spore::posix
