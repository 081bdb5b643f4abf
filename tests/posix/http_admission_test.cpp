// HttpServer's admission control: a connection accepted while the queue of connections waiting
// for a worker is full is answered 503 overloaded at once (Retry-After, Connection: close); the
// ones queued before it are served normally once a worker is free.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "fakes.h"
#include "posix/http_server.h"
#include "spore/node_context.h"
#include "spore/rest_api.h"

namespace spore::posix {
namespace {

int connect_to(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  return fd;
}

void send_get(int fd) {
  const std::string req = "GET /api/node/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

TEST(HttpAdmission, ConnectionsBeyondTheQueueAreAnswered503AndTheQueuedOnesServed) {
  testing::FakeClock clock;
  testing::FakeRandom rnd;
  testing::FakeSystemInfo sys;
  NodeContext ctx(Config::default_lan(), clock, rnd, sys, nullptr);
  ASSERT_TRUE(ctx.begin({0x42, 1, 0x7F000001u, "admission"}));
  RestApi api(ctx);
  ASSERT_TRUE(api.begin());
  std::mutex mutex;
  HttpServer server(api, mutex, nullptr);
  server.set_threads(1);
  server.set_max_queued_connections(1);
  std::string error;
  ASSERT_TRUE(server.start("127.0.0.1", 0, &error)) << error;

  // The only worker is busy with a connection that has not sent its request yet.
  const int busy = connect_to(server.port());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the worker picks it up
  const int queued = connect_to(server.port());                 // waits: the queue was empty
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // accepted and queued
  const int refused = connect_to(server.port());                // the queue is full: overloaded
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  send_get(queued);
  send_get(refused);
  send_get(busy);  // frees the worker; it then serves the queue in order

  const std::string a = read_all(busy), b = read_all(queued), c = read_all(refused);
  EXPECT_EQ(a.rfind("HTTP/1.1 200", 0), 0u) << a;
  EXPECT_EQ(b.rfind("HTTP/1.1 200", 0), 0u) << b;
  EXPECT_EQ(c.rfind("HTTP/1.1 503", 0), 0u) << c;
  EXPECT_NE(c.find("\"code\":\"overloaded\""), std::string::npos) << c;
  EXPECT_NE(c.find("Retry-After: 1"), std::string::npos) << c;
  ::close(busy);
  ::close(queued);
  ::close(refused);
  {
    std::lock_guard<std::mutex> lock(mutex);
    EXPECT_EQ(api.response_counts().count(503), 1u);
  }
  server.stop();
}

}  // namespace
}  // namespace spore::posix
