#pragma once
// A raw TCP client for the HTTP server tests: what httplib::Client cannot do (Expect, half-sent
// heads and bodies, a chosen source address, watching the server close the connection).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdint>
#include <string>

namespace spore::posix {

class RawClient {
 public:
  /// Connects to 127.0.0.1:`port` from `source` (host byte order; 0 = the kernel's choice).
  /// Reads time out after `timeout_s`.
  explicit RawClient(uint16_t port, uint32_t source = 0, int timeout_s = 5) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (source != 0) {
      sockaddr_in s{};
      s.sin_family = AF_INET;
      s.sin_addr.s_addr = htonl(source);
      ::bind(fd_, reinterpret_cast<sockaddr*>(&s), sizeof s);
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    timeval tv{timeout_s, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawClient() { close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  /// False when the server no longer takes bytes (it closed the connection).
  bool send(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  /// One response (head + Content-Length body), or what arrived before EOF / the read timeout.
  std::string response() {
    std::string r;
    char buf[4096];
    for (;;) {
      const size_t end = r.find("\r\n\r\n");
      if (end != std::string::npos) {
        const size_t cl = r.find("Content-Length: ");
        if (cl != std::string::npos && r.size() >= end + 4 + std::stoul(r.substr(cl + 16))) break;
      }
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      r.append(buf, static_cast<size_t>(n));
    }
    return r;
  }
  /// Up to the end of one header section (for "100 Continue", which has no body).
  std::string head() {
    std::string r;
    char c;
    while (r.find("\r\n\r\n") == std::string::npos && ::recv(fd_, &c, 1, 0) == 1) r.push_back(c);
    return r;
  }
  /// Everything until the server closes the connection (or the read timeout).
  std::string read_all() {
    std::string r;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      r.append(buf, static_cast<size_t>(n));
    }
    return r;
  }
  /// True when the server has closed the connection (EOF or reset) within `wait_ms`, without
  /// consuming data it sent before.
  bool closed_by_server(int wait_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    for (;;) {
      pollfd p{fd_, POLLIN | POLLRDHUP, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (::poll(&p, 1, static_cast<int>(std::max<long long>(0, left.count()))) > 0) {
        char c;
        const ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n <= 0 || (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) return true;
        return false;  // data, not an end
      }
      if (std::chrono::steady_clock::now() >= deadline) return false;
    }
  }
  /// True when the server has sent something or closed the connection within `wait_ms`
  /// (nothing is consumed).
  bool readable(int wait_ms) {
    pollfd p{fd_, POLLIN | POLLRDHUP, 0};
    return ::poll(&p, 1, wait_ms) > 0;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

/// The numeric status of a raw response ("HTTP/1.1 431 ..." -> 431), 0 when there is none.
inline int status_of(const std::string& response) {
  if (response.size() < 12 || response.compare(0, 5, "HTTP/") != 0) return 0;
  return std::atoi(response.c_str() + 9);
}

}  // namespace spore::posix
