// HttpServer's event stream (GET /api/cluster/events/stream) on loopback: events published in
// core reach open streams in order and filtered, the slot limit answers 503, a client that goes
// away or stops reading frees its slot, and stop() ends open streams.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "fakes.h"
#include "posix/http_server.h"
#include "raw_http_client.h"
#include "spore/integrations/event_api.h"
#include "spore/cluster/membership.h"
#include "spore/node/node_context.h"

namespace spore::posix {
namespace {

using Clock = std::chrono::steady_clock;

/// One client reading a stream on its own thread into `text`.
class StreamReader {
 public:
  StreamReader(uint16_t port, std::string path, httplib::Headers headers = {}) {
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port);
    client_->set_read_timeout(30, 0);
    thread_ = std::thread([this, path, headers] {
      auto r = client_->Get(path.c_str(), headers, [this](const char* data, size_t n) {
        std::lock_guard<std::mutex> lock(mutex_);
        text_.append(data, n);
        return !stop_.load();
      });
      std::lock_guard<std::mutex> lock(mutex_);
      status_ = r ? r->status : -1;
      if (r) body_ = r->body;
      done_.store(true);
    });
  }
  ~StreamReader() {
    stop();
    if (thread_.joinable()) thread_.join();
  }
  std::string text() {
    std::lock_guard<std::mutex> lock(mutex_);
    return text_;
  }
  /// Waits (bounded) until the text contains `needle`.
  bool wait_for(const std::string& needle, int seconds = 10) {
    const auto deadline = Clock::now() + std::chrono::seconds(seconds);
    while (Clock::now() < deadline) {
      if (text().find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
  bool wait_done(int seconds = 10) {
    const auto deadline = Clock::now() + std::chrono::seconds(seconds);
    while (Clock::now() < deadline && !done_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return done_.load();
  }
  /// Hangs up now (closes the socket under the reading thread), as a client that goes away.
  void stop() {
    stop_.store(true);
    client_->stop();
  }
  int status() {
    std::lock_guard<std::mutex> lock(mutex_);
    return status_;
  }
  std::string body() {
    std::lock_guard<std::mutex> lock(mutex_);
    return body_;
  }

 private:
  std::mutex mutex_;
  std::string text_, body_;
  int status_ = 0;
  std::atomic<bool> stop_{false}, done_{false};
  std::unique_ptr<httplib::Client> client_;
  std::thread thread_;
};

class EventStreamTest : public ::testing::Test {
 protected:
  EventStreamTest()
      : ctx(Config::fast(), clock, rnd, sys, nullptr), api(ctx), mem(ctx, udp, rnd), events(ctx, api),
        server(api, mutex, nullptr) {
    EXPECT_TRUE(ctx.begin({0x42, 3, 0x7F000001u, "stream-test"}));
    EXPECT_TRUE(api.begin());
    mem.begin();
    EXPECT_TRUE(events.begin(EventApi::Sink::bind<HttpServer, &HttpServer::send_event>(&server)));
    server.set_event_api(&events);
  }
  void SetUp() override {
    // httplib's clients all connect from 127.0.0.1: one address may hold every stream here.
    HttpServer::Limits limits;
    limits.max_streams_per_ip = SPORE_MAX_EVENT_STREAMS;
    restart(limits);
  }
  void restart(const HttpServer::Limits& limits) {
    server.stop();
    server.set_limits(limits);
    std::string error;
    ASSERT_TRUE(server.start("127.0.0.1", 0, &error)) << error;
  }
  /// A raw stream request from `source`; its first line once the preamble (or a refusal) arrived.
  static std::string open_raw_stream(RawClient& client) {
    if (!client.send("GET /api/cluster/events/stream HTTP/1.1\r\nHost: x\r\n\r\n")) return "";
    const std::string head = client.head();
    return head.substr(0, head.find("\r\n"));
  }
  void publish(const std::string& topic, const std::string& data) {
    std::lock_guard<std::mutex> lock(mutex);
    ASSERT_TRUE(ctx.publish(topic, data));
  }
  size_t open_streams() {
    std::lock_guard<std::mutex> lock(mutex);
    return events.open_streams();
  }
  /// Waits (bounded) for `n` open streams; with `poke`, publishes an event every 50 ms meanwhile,
  /// since a server learns that a client is gone only when it writes to it.
  bool wait_open_streams(size_t n, bool poke = false) {
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    for (int i = 0; Clock::now() < deadline && open_streams() != n; ++i) {
      if (poke && i % 10 == 0) publish("poke", "");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return open_streams() == n;
  }

  testing::FakeClock clock;
  testing::FakeRandom rnd;
  testing::FakeSystemInfo sys;
  testing::FakeUdp udp;
  NodeContext ctx;
  RestApi api;
  Membership mem;
  EventApi events;
  std::mutex mutex;
  HttpServer server;
};

TEST_F(EventStreamTest, EventsArriveInOrderAndFiltered) {
  StreamReader all(server.port(), "/api/cluster/events/stream");
  StreamReader only_b(server.port(), "/api/cluster/events/stream?topic=b");
  ASSERT_TRUE(all.wait_for("retry: 2000\n\n"));
  ASSERT_TRUE(only_b.wait_for("retry: 2000\n\n"));
  EXPECT_EQ(all.text().rfind(": spore events 66\n", 0), 0u);
  ASSERT_TRUE(wait_open_streams(2));
  publish("a", "1");
  publish("b", "2");
  publish("a", "3");
  ASSERT_TRUE(all.wait_for("id: 3-3\n"));
  ASSERT_TRUE(only_b.wait_for("id: 3-2\n"));
  const std::string t = all.text();
  // Unnamed events (EventSource's onmessage gets them), the topic in the data.
  const size_t p1 = t.find("id: 3-1\ndata: {\"topic\":\"a\"");
  const size_t p2 = t.find("id: 3-2\ndata: {\"topic\":\"b\"");
  const size_t p3 = t.find("id: 3-3\ndata: {\"topic\":\"a\"");
  ASSERT_NE(p1, std::string::npos);
  EXPECT_LT(p1, p2);
  EXPECT_LT(p2, p3);
  EXPECT_NE(t.find("\"data\":\"3\"}\n\n"), std::string::npos);
  EXPECT_EQ(t.find("event:"), std::string::npos);
  EXPECT_EQ(only_b.text().find("\"topic\":\"a\""), std::string::npos);
}

TEST_F(EventStreamTest, LastEventIdReplaysWhatTheClientMissedBeforeLiveEvents) {
  publish("a", "1");
  publish("a", "2");
  publish("b", "3");
  // Reconnecting after 3-1: 3-2 and 3-3 first (filtered by topic for the second), then live.
  StreamReader resumed(server.port(), "/api/cluster/events/stream", {{"Last-Event-ID", "3-1"}});
  StreamReader resumed_b(server.port(), "/api/cluster/events/stream?topic=b", {{"Last-Event-ID", "3-1"}});
  StreamReader fresh(server.port(), "/api/cluster/events/stream");
  ASSERT_TRUE(wait_open_streams(3));
  publish("a", "4");
  ASSERT_TRUE(resumed.wait_for("id: 3-4\n"));
  ASSERT_TRUE(fresh.wait_for("id: 3-4\n"));
  const std::string t = resumed.text();
  EXPECT_EQ(t.find("id: 3-1\n"), std::string::npos);
  const size_t p2 = t.find("id: 3-2\n"), p3 = t.find("id: 3-3\n"), p4 = t.find("id: 3-4\n");
  ASSERT_NE(p2, std::string::npos);
  EXPECT_LT(p2, p3);
  EXPECT_LT(p3, p4);
  EXPECT_EQ(fresh.text().find("id: 3-3\n"), std::string::npos);  // no Last-Event-ID: the present only
  ASSERT_TRUE(resumed_b.wait_for("id: 3-3\n"));
  EXPECT_EQ(resumed_b.text().find("id: 3-2\n"), std::string::npos);
}

TEST_F(EventStreamTest, StreamsBeyondTheLimitGet503AndSlotsComeBack) {
  std::vector<std::unique_ptr<StreamReader>> readers;
  for (int i = 0; i < SPORE_MAX_EVENT_STREAMS; ++i) {
    readers.push_back(std::make_unique<StreamReader>(server.port(), "/api/cluster/events/stream"));
  }
  for (auto& r : readers) ASSERT_TRUE(r->wait_for("retry:"));
  ASSERT_TRUE(wait_open_streams(SPORE_MAX_EVENT_STREAMS));

  httplib::Client c("127.0.0.1", server.port());
  auto r = c.Get("/api/cluster/events/stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(nlohmann::json::parse(r->body).at("code"), "too_many_streams");
  // Ordinary requests still have worker threads of their own.
  r = c.Get("/api/node/status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);

  // Clients that go away free their slots at the next write (an event or a keep-alive).
  for (auto& reader : readers) reader->stop();
  for (auto& reader : readers) ASSERT_TRUE(reader->wait_done(20));
  readers.clear();
  ASSERT_TRUE(wait_open_streams(0, true));
  StreamReader again(server.port(), "/api/cluster/events/stream");
  EXPECT_TRUE(again.wait_for("retry:"));
}

// Only a restart's 202 closes its connection: a client publishing events keeps one (with
// `Connection: close` on every 202, 8 publishers churned connections faster than the node cleaned
// them up and hit the per-address cap).
TEST_F(EventStreamTest, APublishKeepsItsConnection) {
  httplib::Client c("127.0.0.1", server.port());
  c.set_keep_alive(true);
  for (int i = 0; i < 2; ++i) {
    auto r = c.Post("/api/cluster/events?topic=t", "x", "application/octet-stream");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 202) << r->body;
    EXPECT_NE(r->get_header_value("Connection"), "close");
  }
}

TEST_F(EventStreamTest, ABadFilterIs400AndTakesNoSlot) {
  httplib::Client c("127.0.0.1", server.port());
  auto r = c.Get("/api/cluster/events/stream?topic=%20");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(r->body).at("code"), "bad_topic");
  EXPECT_EQ(open_streams(), 0u);
}

TEST_F(EventStreamTest, StopEndsOpenStreams) {
  StreamReader reader(server.port(), "/api/cluster/events/stream");
  ASSERT_TRUE(reader.wait_for("retry:"));
  server.stop();  // returns although the stream never ends by itself
  EXPECT_TRUE(reader.wait_done());
  EXPECT_EQ(open_streams(), 0u);
}

TEST_F(EventStreamTest, AClientThatStopsReadingIsCutOffAndMemoryStaysBounded) {
  // A raw connection that sends the request and never reads: the kernel's buffers fill, then the
  // stream's queue (kStreamQueueMessages), then the server gives up on it.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(server.port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const std::string req = "GET /api/cluster/events/stream HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  ASSERT_TRUE(wait_open_streams(1));
  const std::string data(1000, 'x');
  for (size_t i = 0; i < 2 * HttpServer::kStreamQueueMessages && open_streams() == 1; ++i) {
    std::lock_guard<std::mutex> lock(mutex);
    server.send_event(SseMessage{"id", "flood", data});
  }
  EXPECT_TRUE(wait_open_streams(0));
  ::close(fd);
}

// Regression (issue 15, F5): one address could open every stream slot (8), and every other client
// got 503 too_many_streams for as long as it held them. One address now gets at most
// Limits::max_streams_per_ip (2 by default) and the other slots stay open to others.
TEST_F(EventStreamTest, OneAddressGetsAtMostItsShareOfStreams) {
  restart(HttpServer::Limits{});
  RawClient a1(server.port(), 0x7F000005u), a2(server.port(), 0x7F000005u), a3(server.port(), 0x7F000005u);
  EXPECT_EQ(open_raw_stream(a1), "HTTP/1.1 200 OK");
  EXPECT_EQ(open_raw_stream(a2), "HTTP/1.1 200 OK");
  EXPECT_EQ(open_raw_stream(a3), "HTTP/1.1 503 Service Unavailable");
  const std::string refusal = a3.response();
  EXPECT_NE(refusal.find("\"code\":\"too_many_streams\""), std::string::npos) << refusal;
  EXPECT_NE(refusal.find("2 event streams"), std::string::npos) << refusal;
  RawClient b(server.port(), 0x7F000006u);
  EXPECT_EQ(open_raw_stream(b), "HTTP/1.1 200 OK");
  EXPECT_TRUE(wait_open_streams(3));
  // The address gets its share back when one of its streams ends.
  a1.close();
  ASSERT_TRUE(wait_open_streams(2, true));
  RawClient a4(server.port(), 0x7F000005u);
  EXPECT_EQ(open_raw_stream(a4), "HTTP/1.1 200 OK");
}

// When every connection of a full server is busy (streams are never displaced), a request on a
// new connection is answered 503 overloaded rather than taking a stream's place.
TEST_F(EventStreamTest, AServerFullOfStreamsAnswersANewConnection503) {
  HttpServer::Limits limits;
  limits.max_connections = 2;
  restart(limits);
  RawClient s1(server.port(), 0x7F000005u), s2(server.port(), 0x7F000006u);
  ASSERT_EQ(open_raw_stream(s1), "HTTP/1.1 200 OK");
  ASSERT_EQ(open_raw_stream(s2), "HTTP/1.1 200 OK");
  RawClient refused(server.port(), 0x7F000007u);
  ASSERT_TRUE(refused.send("GET /api/node/status HTTP/1.1\r\nHost: x\r\n\r\n"));
  const std::string answer = refused.read_all();
  EXPECT_EQ(status_of(answer), 503) << answer;
  EXPECT_NE(answer.find("\"code\":\"overloaded\""), std::string::npos) << answer;
  EXPECT_NE(answer.find("Retry-After: 1"), std::string::npos) << answer;
  EXPECT_EQ(open_streams(), 2u);
}

}  // namespace
}  // namespace spore::posix
