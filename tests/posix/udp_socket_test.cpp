// UdpSocket on loopback: several nodes share one port on 127.0.0.x, each gets one copy of every
// broadcast, unicast reaches only its target, oversized datagrams are dropped and counted.
// Ports 4310+ so the tests never meet a real cluster on 4210.

#include "posix/udp_socket.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "spore/base/limits.h"
#include "spore/node/udp_intake.h"

namespace spore::posix {
namespace {

constexpr uint32_t ip4(uint32_t a, uint32_t b, uint32_t c, uint32_t d) { return a << 24 | b << 16 | c << 8 | d; }

/// Drains everything that arrives within `wait_ms`; returns the payloads.
std::vector<std::string> drain(UdpSocket& s, int wait_ms, std::vector<uint32_t>* sources = nullptr) {
  std::vector<std::string> got;
  uint8_t buf[2048];
  for (;;) {
    uint32_t ip = 0;
    uint16_t port = 0;
    const size_t n = s.receive(buf, sizeof buf, &ip, &port, wait_ms);
    if (n == 0) break;
    got.emplace_back(reinterpret_cast<const char*>(buf), n);
    if (sources != nullptr) sources->push_back(ip);
  }
  return got;
}

bool send_str(UdpSocket& s, uint32_t ip, uint16_t port, const std::string& text) {
  return s.send_to(ip, port, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

TEST(UdpSocketTest, ParsesAndFormatsIpv4) {
  uint32_t ip = 0;
  EXPECT_TRUE(parse_ipv4("127.0.0.2", &ip));
  EXPECT_EQ(ip, ip4(127, 0, 0, 2));
  EXPECT_EQ(ipv4_to_string(ip), "127.0.0.2");
  EXPECT_TRUE(parse_ipv4("0.0.0.0", &ip));
  EXPECT_EQ(ip, 0u);
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.4 ", " 1.2.3.4", "1..2.3", "a.b.c.d",
                          "1.2.3.0004", "+1.2.3.4", "1.2.3.-4"}) {
    ip = 7;
    EXPECT_FALSE(parse_ipv4(bad, &ip)) << bad;
    EXPECT_EQ(ip, 7u) << bad;
  }
}

TEST(UdpSocketTest, BroadcastAddressForLoopbackAndAny) {
  EXPECT_EQ(UdpSocket::broadcast_address_for(ip4(127, 0, 0, 2)), ip4(127, 255, 255, 255));
  EXPECT_EQ(UdpSocket::broadcast_address_for(0), 0xFFFFFFFFu);
  // An address no interface holds falls back to the limited broadcast.
  EXPECT_EQ(UdpSocket::broadcast_address_for(ip4(203, 0, 113, 77)), 0xFFFFFFFFu);
}

TEST(UdpSocketTest, BroadcastFansOutToEveryNodeOnOnePortExactlyOnce) {
  constexpr uint16_t kPort = 4311;
  std::vector<std::unique_ptr<UdpSocket>> nodes;
  for (uint32_t host = 2; host <= 6; ++host) {
    auto s = std::make_unique<UdpSocket>();
    std::string error;
    ASSERT_TRUE(s->open(ip4(127, 0, 0, host), kPort, &error)) << error;
    EXPECT_EQ(s->port(), kPort);
    EXPECT_EQ(s->broadcast_ip(), ip4(127, 255, 255, 255));
    EXPECT_GE(s->unicast_fd(), 0);
    EXPECT_GE(s->broadcast_fd(), 0);
    nodes.push_back(std::move(s));
  }
  // A listen-only observer (what `spore discover` does) beside the nodes.
  UdpSocket observer;
  std::string error;
  ASSERT_TRUE(observer.open_listener(ip4(127, 255, 255, 255), kPort, &error)) << error;

  const std::string hello = "hello from .2";
  ASSERT_TRUE(nodes[0]->broadcast(kPort, reinterpret_cast<const uint8_t*>(hello.data()), hello.size()));

  for (size_t i = 1; i < nodes.size(); ++i) {
    std::vector<uint32_t> sources;
    const auto got = drain(*nodes[i], 200, &sources);
    ASSERT_EQ(got.size(), 1u) << "node 127.0.0." << i + 2;
    EXPECT_EQ(got[0], hello);
    EXPECT_EQ(sources[0], ip4(127, 0, 0, 2));
  }
  // The sender does not hear itself: its own broadcast is filtered (and counted).
  EXPECT_TRUE(drain(*nodes[0], 50).empty());
  EXPECT_EQ(nodes[0]->self_dropped(), 1u);
  // The observer hears it once too.
  const auto seen = drain(observer, 200);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], hello);
  // And a listen-only socket cannot send.
  EXPECT_FALSE(send_str(observer, ip4(127, 0, 0, 2), kPort, "x"));
}

TEST(UdpSocketTest, UnicastReachesOnlyItsTarget) {
  constexpr uint16_t kPort = 4312;
  std::vector<std::unique_ptr<UdpSocket>> nodes;
  for (uint32_t host = 2; host <= 5; ++host) {
    auto s = std::make_unique<UdpSocket>();
    std::string error;
    ASSERT_TRUE(s->open(ip4(127, 0, 0, host), kPort, &error)) << error;
    nodes.push_back(std::move(s));
  }
  UdpSocket observer;
  ASSERT_TRUE(observer.open_listener(ip4(127, 255, 255, 255), kPort, nullptr));

  ASSERT_TRUE(send_str(*nodes[0], ip4(127, 0, 0, 3), kPort, "for .3 only"));
  for (size_t i = 0; i < nodes.size(); ++i) {
    const auto got = drain(*nodes[i], i == 1 ? 200 : 50);
    if (i == 1) {
      ASSERT_EQ(got.size(), 1u);
      EXPECT_EQ(got[0], "for .3 only");
    } else {
      EXPECT_TRUE(got.empty()) << "node 127.0.0." << i + 2 << " got a unicast meant for .3";
    }
  }
  EXPECT_TRUE(drain(observer, 50).empty());
}

TEST(UdpSocketTest, OversizedDatagramIsDroppedAndCountedNextOneStillArrives) {
  constexpr uint16_t kPort = 4313;
  UdpSocket a, b;
  ASSERT_TRUE(a.open(ip4(127, 0, 0, 2), kPort, nullptr));
  ASSERT_TRUE(b.open(ip4(127, 0, 0, 3), kPort, nullptr));

  // send_to refuses to send more than SPORE_MAX_DATAGRAM_BYTES itself ...
  std::vector<uint8_t> big(SPORE_MAX_DATAGRAM_BYTES + 1, 0xAB);
  EXPECT_FALSE(a.send_to(ip4(127, 0, 0, 3), kPort, big.data(), big.size()));
  // ... so send one with a raw peer socket (another UdpSocket bypass: a plain POSIX send).
  UdpSocket raw;
  ASSERT_TRUE(raw.open(ip4(127, 0, 0, 4), 0, nullptr));
  ASSERT_NE(raw.port(), 0);
  // Exactly SPORE_MAX_DATAGRAM_BYTES is fine.
  std::vector<uint8_t> max(SPORE_MAX_DATAGRAM_BYTES, 0xCD);
  ASSERT_TRUE(raw.send_to(ip4(127, 0, 0, 3), kPort, max.data(), max.size()));
  uint8_t buf[2048];
  EXPECT_EQ(b.receive(buf, sizeof buf, nullptr, nullptr, 200), max.size());

  // An oversized datagram from outside (sent with sendto directly) is dropped whole.
  int fd = raw.unicast_fd();
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(kPort);
  to.sin_addr.s_addr = htonl(ip4(127, 0, 0, 3));
  ASSERT_EQ(::sendto(fd, big.data(), big.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
            static_cast<ssize_t>(big.size()));
  ASSERT_TRUE(send_str(raw, ip4(127, 0, 0, 3), kPort, "after"));
  uint32_t src = 0;
  uint16_t src_port = 0;
  const size_t n = b.receive(buf, sizeof buf, &src, &src_port, 200);
  ASSERT_EQ(n, 5u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), n), "after");
  EXPECT_EQ(src, ip4(127, 0, 0, 4));
  EXPECT_EQ(src_port, raw.port());
  EXPECT_EQ(b.oversized_dropped(), 1u);

  // A datagram larger than the caller's buffer is dropped too, never truncated.
  ASSERT_TRUE(send_str(raw, ip4(127, 0, 0, 3), kPort, "0123456789"));
  EXPECT_EQ(b.receive(buf, 4, nullptr, nullptr, 100), 0u);
  EXPECT_EQ(b.oversized_dropped(), 2u);
}

/// The node's receive path over real sockets (the UdpPort receive side UdpIntake drains): a
/// unicast and a broadcast are handed on with their sender, an oversized datagram reaches the
/// intake with its real size and is dropped there unread, the node's own broadcast is skipped.
TEST(UdpSocketTest, IntakeDrainsBothSocketsAndDropsOversizeAndSelfEcho) {
  constexpr uint16_t kPort = 4317;
  UdpSocket node, peer;
  ASSERT_TRUE(node.open(ip4(127, 0, 0, 2), kPort, nullptr));
  ASSERT_TRUE(peer.open(ip4(127, 0, 0, 3), kPort, nullptr));
  EXPECT_FALSE(node.wait_readable(0));
  ASSERT_TRUE(send_str(peer, ip4(127, 0, 0, 2), kPort, "unicast"));
  ASSERT_TRUE(peer.broadcast(kPort, reinterpret_cast<const uint8_t*>("bcast"), 5));
  ASSERT_TRUE(node.broadcast(kPort, reinterpret_cast<const uint8_t*>("self"), 4));  // looped back to node
  std::vector<uint8_t> big(SPORE_MAX_DATAGRAM_BYTES + 1, 0xAB);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(kPort);
  to.sin_addr.s_addr = htonl(ip4(127, 0, 0, 2));
  ASSERT_EQ(::sendto(peer.unicast_fd(), big.data(), big.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
            static_cast<ssize_t>(big.size()));
  ASSERT_TRUE(node.wait_readable(500));

  struct Sink {
    void on(uint32_t ip, uint16_t, const uint8_t* data, size_t size) {
      got.emplace_back(reinterpret_cast<const char*>(data), size);
      sources.push_back(ip);
    }
    std::vector<std::string> got;
    std::vector<uint32_t> sources;
  } sink;
  UdpIntake intake(64);
  // Loopback delivers at once, but give the kernel a moment to queue all four.
  for (int i = 0; i < 50 && sink.got.size() + intake.stats().dropped_oversize < 3; ++i) {
    intake.poll(node, DatagramHandler::bind<Sink, &Sink::on>(&sink));
    node.wait_readable(10);
  }
  ASSERT_EQ(sink.got.size(), 2u);
  EXPECT_NE(std::find(sink.got.begin(), sink.got.end(), "unicast"), sink.got.end());
  EXPECT_NE(std::find(sink.got.begin(), sink.got.end(), "bcast"), sink.got.end());
  EXPECT_EQ(sink.sources, (std::vector<uint32_t>{ip4(127, 0, 0, 3), ip4(127, 0, 0, 3)}));
  EXPECT_EQ(intake.stats().dropped_oversize, 1u);
  EXPECT_EQ(node.self_dropped(), 1u);
  EXPECT_EQ(node.next_datagram(), 0u);
}

TEST(UdpSocketTest, ReceiveTimesOutAndClosedSocketIsInert) {
  UdpSocket s;
  uint8_t buf[16];
  EXPECT_EQ(s.receive(buf, sizeof buf, nullptr, nullptr, 10), 0u);
  EXPECT_FALSE(s.send_to(ip4(127, 0, 0, 1), 4314, buf, 1));
  ASSERT_TRUE(s.open(ip4(127, 0, 0, 2), 4314, nullptr));
  EXPECT_EQ(s.receive(buf, sizeof buf, nullptr, nullptr, 20), 0u);
  EXPECT_EQ(s.receive(buf, sizeof buf, nullptr, nullptr, 0), 0u);
  s.close();
  EXPECT_FALSE(s.is_open());
}

TEST(UdpSocketTest, BindToForeignAddressFailsWithClearError) {
  UdpSocket s;
  std::string error;
  EXPECT_FALSE(s.open(ip4(203, 0, 113, 77), 4315, &error));
  EXPECT_NE(error.find("203.0.113.77:4315"), std::string::npos) << error;
  EXPECT_FALSE(s.is_open());
}

TEST(UdpSocketTest, WildcardBindReceivesLoopbackBroadcast) {
  constexpr uint16_t kPort = 4316;
  UdpSocket any, sender;
  ASSERT_TRUE(any.open(0, kPort, nullptr));
  EXPECT_EQ(any.broadcast_fd(), -1);
  ASSERT_TRUE(sender.open(ip4(127, 0, 0, 2), kPort, nullptr));
  const std::string msg = "to all";
  ASSERT_TRUE(sender.broadcast(kPort, reinterpret_cast<const uint8_t*>(msg.data()), msg.size()));
  const auto got = drain(any, 200);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], msg);
}

}  // namespace
}  // namespace spore::posix
