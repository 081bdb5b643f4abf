// HttpServer's admission control: a full server displaces one of its connections for a new one
// (http_eviction.h: from the address holding the most, the slowest first head first), the
// displaced request is answered 503 overloaded (Retry-After, Connection: close), and connections
// from the node's own address are outside the caps. When nothing can be displaced the new
// connection is answered 503: EventStreamTest.AServerFullOfStreamsAnswersANewConnection503.

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "fakes.h"
#include "posix/http_server.h"
#include "raw_http_client.h"
#include "spore/node_context.h"
#include "spore/rest_api.h"

namespace spore::posix {
namespace {

const std::string kGet = "GET /api/node/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
// Client addresses; the server listens on 127.0.0.1, its own address.
constexpr uint32_t kClientA = 0x7F000002u;
constexpr uint32_t kClientB = 0x7F000003u;
constexpr uint32_t kClientC = 0x7F000004u;

class HttpAdmission : public ::testing::Test {
 protected:
  HttpAdmission() : ctx(Config::default_lan(), clock, rnd, sys, nullptr), api(ctx), server(api, mutex, nullptr) {
    EXPECT_TRUE(ctx.begin({0x42, 1, 0x7F000001u, "admission"}));
    EXPECT_TRUE(api.begin());
  }
  void start(size_t max_connections, size_t per_address = 16) {
    HttpServer::Limits limits;
    limits.max_connections = max_connections;
    limits.max_connections_per_ip = per_address;
    limits.eviction_min_age_ms = 200;
    server.set_limits(limits);
    std::string error;
    ASSERT_TRUE(server.start("127.0.0.1", 0, &error)) << error;
  }
  /// Past eviction_min_age_ms, so the connections opened so far are no longer new.
  static void age() { std::this_thread::sleep_for(std::chrono::milliseconds(400)); }
  size_t count(int status) {
    std::lock_guard<std::mutex> lock(mutex);
    return api.response_counts().count(status);
  }

  testing::FakeClock clock;
  testing::FakeRandom rnd;
  testing::FakeSystemInfo sys;
  NodeContext ctx;
  RestApi api;
  std::mutex mutex;
  HttpServer server;
};

// Regression (issue 15, F2b): a full server refused every new connection with 503, so 256 slow
// heads from 16 addresses, reconnecting when cut off, kept everyone else out for as long as they
// liked. Now the new client is served and the slowest head makes room.
TEST_F(HttpAdmission, AFullServerDisplacesItsSlowestHeadForANewClient) {
  start(2);
  RawClient slowest(server.port(), kClientA);
  age();
  RawClient slow(server.port(), kClientB);
  ASSERT_TRUE(slow.send("GET /api/node/status HTTP/1.1\r\n"));  // a head begun, not finished
  age();
  RawClient fresh(server.port(), kClientC);
  ASSERT_TRUE(fresh.send(kGet));
  const std::string served = fresh.read_all();
  EXPECT_EQ(status_of(served), 200) << served;

  const std::string displaced = slowest.read_all();
  EXPECT_EQ(status_of(displaced), 503) << displaced;
  EXPECT_NE(displaced.find("\"code\":\"overloaded\""), std::string::npos) << displaced;
  EXPECT_NE(displaced.find("Retry-After: 1"), std::string::npos) << displaced;
  EXPECT_NE(displaced.find("Connection: close"), std::string::npos) << displaced;
  EXPECT_EQ(count(503), 1u);
  // The younger slow head kept its connection and is served when it finishes.
  ASSERT_TRUE(slow.send("Host: x\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(status_of(slow.read_all()), 200);
}

// An attacker holds several connections per address; a client making a request holds one. The
// address holding the most gives way first, even when the other client's connection is older.
TEST_F(HttpAdmission, TheAddressHoldingTheMostConnectionsGivesWayFirst) {
  start(3);
  RawClient lone(server.port(), kClientA);  // the oldest
  age();
  RawClient many1(server.port(), kClientB), many2(server.port(), kClientB);
  age();
  RawClient fresh(server.port(), kClientC);
  ASSERT_TRUE(fresh.send(kGet));
  EXPECT_EQ(status_of(fresh.read_all()), 200);
  EXPECT_FALSE(lone.closed_by_server(300));
  EXPECT_TRUE(many1.closed_by_server(2000) || many2.closed_by_server(2000));
  ASSERT_TRUE(lone.send(kGet));
  EXPECT_EQ(status_of(lone.read_all()), 200);
}

// Regression (issue 15, F2b): with every slot taken the OTA trial's REST self-probe (from the
// node's own address) got 503 and a healthy update was rolled back. The node's own address is
// outside both caps (within kSelfConnections) and displaces no one.
TEST_F(HttpAdmission, TheNodesOwnAddressIsOutsideTheCaps) {
  start(1, 1);
  RawClient other(server.port(), kClientA);
  age();
  RawClient self1(server.port()), self2(server.port());  // from 127.0.0.1 to 127.0.0.1
  ASSERT_TRUE(self1.send(kGet));
  ASSERT_TRUE(self2.send(kGet));
  EXPECT_EQ(status_of(self1.read_all()), 200);
  EXPECT_EQ(status_of(self2.read_all()), 200);
  EXPECT_FALSE(other.closed_by_server(300));
  ASSERT_TRUE(other.send(kGet));
  EXPECT_EQ(status_of(other.read_all()), 200);
}

}  // namespace
}  // namespace spore::posix
