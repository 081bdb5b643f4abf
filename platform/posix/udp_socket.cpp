#include "posix/udp_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "spore/base/limits.h"
#include "spore/cluster/member_table.h"

namespace spore::posix {
namespace {

constexpr uint32_t kLimitedBroadcast = 0xFFFFFFFFu;

sockaddr_in make_addr(uint32_t ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(ip);
  a.sin_port = htons(port);
  return a;
}

std::string errno_text(int err) { return std::strerror(err); }

int64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

bool is_loopback(uint32_t ip) { return (ip >> 24) == 127; }

/// Opens a UDP socket with the options every SPORE socket shares and binds it.
int open_bound(uint32_t ip, uint16_t port, bool want_broadcast, std::string* what) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    *what = "socket(): " + errno_text(errno);
    return -1;
  }
  int one = 1;
  // REUSEADDR + REUSEPORT: several nodes (and `spore discover`) share port 4210 on one host.
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
      (want_broadcast && ::setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) != 0)) {
    *what = "setsockopt(): " + errno_text(errno);
    ::close(fd);
    return -1;
  }
  sockaddr_in a = make_addr(ip, port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    *what = "bind(" + ipv4_to_string(ip) + ":" + std::to_string(port) + "): " + errno_text(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

UdpSocket::~UdpSocket() { close(); }

void UdpSocket::close() {
  if (unicast_fd_ >= 0) ::close(unicast_fd_);
  if (broadcast_fd_ >= 0) ::close(broadcast_fd_);
  unicast_fd_ = broadcast_fd_ = -1;
  bind_ip_ = 0;
  port_ = 0;
  listen_only_ = false;
  broadcast_count_ = 0;
}

bool UdpSocket::fail(std::string* error, const std::string& message) {
  if (error != nullptr) *error = message;
  close();
  return false;
}

uint32_t UdpSocket::broadcast_address_for(uint32_t bind_ip) {
  if (bind_ip == 0) return kLimitedBroadcast;
  if (is_loopback(bind_ip)) return 0x7FFFFFFFu;  // 127.255.255.255
  uint32_t result = kLimitedBroadcast;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return result;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    if ((i->ifa_flags & IFF_BROADCAST) == 0 || i->ifa_broadaddr == nullptr) continue;
    const uint32_t ip = ntohl(reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr);
    if (ip != bind_ip) continue;
    result = ntohl(reinterpret_cast<const sockaddr_in*>(i->ifa_broadaddr)->sin_addr.s_addr);
    break;
  }
  ::freeifaddrs(list);
  return result;
}

bool UdpSocket::open(uint32_t bind_ip, uint16_t port, std::string* error) {
  close();
  std::string what;
  unicast_fd_ = open_bound(bind_ip, port, true, &what);
  if (unicast_fd_ < 0) return fail(error, "UDP socket: " + what);
  sockaddr_in actual{};
  socklen_t len = sizeof actual;
  if (::getsockname(unicast_fd_, reinterpret_cast<sockaddr*>(&actual), &len) != 0) {
    return fail(error, "UDP socket: getsockname(): " + errno_text(errno));
  }
  bind_ip_ = bind_ip;
  port_ = ntohs(actual.sin_port);

  if (bind_ip == 0) {
    // The wildcard socket receives broadcasts itself; send to every broadcast-capable interface.
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) == 0) {
      for (ifaddrs* i = list; i != nullptr && broadcast_count_ < kMaxBroadcastTargets; i = i->ifa_next) {
        if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
        if ((i->ifa_flags & IFF_BROADCAST) == 0 || (i->ifa_flags & IFF_UP) == 0 || i->ifa_broadaddr == nullptr)
          continue;
        const uint32_t b = ntohl(reinterpret_cast<const sockaddr_in*>(i->ifa_broadaddr)->sin_addr.s_addr);
        bool seen = false;
        for (size_t k = 0; k < broadcast_count_; ++k) seen = seen || broadcast_targets_[k] == b;
        if (!seen) broadcast_targets_[broadcast_count_++] = b;
      }
      ::freeifaddrs(list);
    }
    if (broadcast_count_ == 0) broadcast_targets_[broadcast_count_++] = kLimitedBroadcast;
    return true;
  }

  const uint32_t bcast = broadcast_address_for(bind_ip);
  broadcast_targets_[0] = bcast;
  broadcast_count_ = 1;
  if (port_ == 0 || port == 0) return true;  // ephemeral client socket: no broadcast receiver
  broadcast_fd_ = open_bound(bcast, port_, false, &what);
  if (broadcast_fd_ < 0) return fail(error, "UDP broadcast receiver: " + what);
  return true;
}

bool UdpSocket::open_listener(uint32_t listen_ip, uint16_t port, std::string* error) {
  close();
  std::string what;
  broadcast_fd_ = open_bound(listen_ip, port, false, &what);
  if (broadcast_fd_ < 0) return fail(error, "UDP listener: " + what);
  bind_ip_ = listen_ip;
  port_ = port;
  listen_only_ = true;
  return true;
}

bool UdpSocket::send_to(uint32_t ip, uint16_t port, const uint8_t* data, size_t size_bytes) {
  if (unicast_fd_ < 0 || listen_only_ || size_bytes > SPORE_MAX_DATAGRAM_BYTES) return false;
  sockaddr_in a = make_addr(ip, port);
  const ssize_t n = ::sendto(unicast_fd_, data, size_bytes, MSG_DONTWAIT | MSG_NOSIGNAL,
                             reinterpret_cast<sockaddr*>(&a), sizeof a);
  return n == static_cast<ssize_t>(size_bytes);
}

bool UdpSocket::broadcast(uint16_t port, const uint8_t* data, size_t size_bytes) {
  if (unicast_fd_ < 0 || listen_only_) return false;
  // True when some target took it: one logical broadcast, one failure at most (Membership's count).
  bool any = false;
  for (size_t k = 0; k < broadcast_count_; ++k) any = send_to(broadcast_targets_[k], port, data, size_bytes) || any;
  return any;
}

size_t UdpSocket::read_one(int fd, uint8_t* buf, size_t cap, uint32_t* src_ip, uint16_t* src_port, bool* got) {
  *got = false;
  sockaddr_in from{};
  socklen_t len = sizeof from;
  // MSG_TRUNC makes recvfrom return the datagram's real length even when it did not fit.
  const ssize_t n = ::recvfrom(fd, buf, cap, MSG_DONTWAIT | MSG_TRUNC, reinterpret_cast<sockaddr*>(&from), &len);
  if (n < 0) return 0;
  *got = true;
  const size_t size = static_cast<size_t>(n);
  if (size > SPORE_MAX_DATAGRAM_BYTES || size > cap) {
    ++oversized_dropped_;
    return 0;
  }
  const uint32_t ip = ntohl(from.sin_addr.s_addr);
  const uint16_t port = ntohs(from.sin_port);
  if (!listen_only_ && bind_ip_ != 0 && ip == bind_ip_ && port == port_) {
    ++self_dropped_;
    return 0;
  }
  if (src_ip != nullptr) *src_ip = ip;
  if (src_port != nullptr) *src_port = port;
  return size;
}

size_t UdpSocket::receive(uint8_t* buf, size_t cap, uint32_t* src_ip, uint16_t* src_port, int timeout_ms) {
  if (!is_open()) return 0;
  const int64_t deadline = timeout_ms > 0 ? monotonic_ms() + timeout_ms : 0;
  for (;;) {
    pollfd fds[2];
    nfds_t count = 0;
    if (unicast_fd_ >= 0) fds[count++] = {unicast_fd_, POLLIN, 0};
    if (broadcast_fd_ >= 0) fds[count++] = {broadcast_fd_, POLLIN, 0};
    int wait_ms = timeout_ms < 0 ? -1 : 0;
    if (timeout_ms > 0) {
      const int64_t left = deadline - monotonic_ms();
      wait_ms = left > 0 ? static_cast<int>(left) : 0;
    }
    const int ready = ::poll(fds, count, wait_ms);
    if (ready <= 0) return 0;  // timeout or EINTR (a signal: let the caller look at its flags)
    bool any_read = false;
    for (nfds_t k = 0; k < count; ++k) {
      if ((fds[k].revents & (POLLIN | POLLERR)) == 0) continue;
      bool got = false;
      const size_t n = read_one(fds[k].fd, buf, cap, src_ip, src_port, &got);
      any_read = any_read || got;
      if (n > 0) return n;
    }
    if (!any_read && timeout_ms == 0) return 0;
    if (timeout_ms == 0) continue;  // drained a dropped datagram; look again without waiting
    if (timeout_ms > 0 && monotonic_ms() >= deadline) {
      // Deadline passed while discarding: one last non-blocking look.
      timeout_ms = 0;
    }
  }
}

bool UdpSocket::wait_readable(int timeout_ms) {
  pollfd fds[2];
  nfds_t count = 0;
  if (unicast_fd_ >= 0) fds[count++] = {unicast_fd_, POLLIN, 0};
  if (broadcast_fd_ >= 0) fds[count++] = {broadcast_fd_, POLLIN, 0};
  if (count == 0) return false;
  return ::poll(fds, count, timeout_ms) > 0;  // 0: timeout; < 0: EINTR (a signal: the caller looks at its flags)
}

size_t UdpSocket::next_datagram() {
  rx_size_ = 0;
  const int fds[2] = {unicast_fd_, broadcast_fd_};
  for (int fd : fds) {
    if (fd < 0) continue;
    for (;;) {
      sockaddr_in from{};
      socklen_t len = sizeof from;
      // MSG_TRUNC: the datagram's real length even when it did not fit (UdpIntake drops it).
      const ssize_t n = ::recvfrom(fd, rx_, sizeof rx_, MSG_DONTWAIT | MSG_TRUNC, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 0) break;  // nothing queued on this socket
      rx_ip_ = ntohl(from.sin_addr.s_addr);
      rx_port_ = ntohs(from.sin_port);
      if (n == 0) continue;  // an empty datagram carries nothing; 0 would end the caller's drain
      if (!listen_only_ && bind_ip_ != 0 && rx_ip_ == bind_ip_ && rx_port_ == port_) {
        ++self_dropped_;  // our own broadcast, looped back
        continue;
      }
      rx_size_ = std::min(static_cast<size_t>(n), sizeof rx_);
      return static_cast<size_t>(n);
    }
  }
  return 0;
}

size_t UdpSocket::read(uint8_t* buffer, size_t size_bytes) {
  const size_t n = std::min(size_bytes, rx_size_);
  std::memcpy(buffer, rx_, n);
  return n;
}

bool parse_ipv4(std::string_view text, uint32_t* out) {
  uint32_t result = 0;
  size_t i = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (i >= text.size() || text[i] != '.') return false;
      ++i;
    }
    size_t digits = 0;
    uint32_t value = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && digits < 4) {
      value = value * 10 + static_cast<uint32_t>(text[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0 || digits > 3 || value > 255) return false;
    result = (result << 8) | value;
  }
  if (i != text.size()) return false;
  *out = result;
  return true;
}

std::string ipv4_to_string(uint32_t ip) {
  char text[16];
  format_ipv4(ip, text, sizeof text);
  return text;
}

}  // namespace spore::posix
