// HttpServer's admission control: a connection accepted while Limits::max_connections are open
// is answered 503 overloaded at once (Retry-After, Connection: close); the ones accepted before it
// are served normally, and capacity comes back when connections close.

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

TEST(HttpAdmission, ConnectionsBeyondCapacityAreAnswered503AndTheOthersServed) {
  testing::FakeClock clock;
  testing::FakeRandom rnd;
  testing::FakeSystemInfo sys;
  NodeContext ctx(Config::default_lan(), clock, rnd, sys, nullptr);
  ASSERT_TRUE(ctx.begin({0x42, 1, 0x7F000001u, "admission"}));
  RestApi api(ctx);
  ASSERT_TRUE(api.begin());
  std::mutex mutex;
  HttpServer server(api, mutex, nullptr);
  server.set_max_connections(2);
  std::string error;
  ASSERT_TRUE(server.start("127.0.0.1", 0, &error)) << error;

  // Two connections fill the capacity without sending anything yet (slow clients, or browsers'
  // idle pre-connections); the third is accepted beyond it.
  RawClient first(server.port()), second(server.port());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // both accepted
  RawClient refused(server.port());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  refused.send(kGet);
  first.send(kGet);
  second.send(kGet);

  const std::string a = first.read_all(), b = second.read_all(), c = refused.read_all();
  EXPECT_EQ(a.rfind("HTTP/1.1 200", 0), 0u) << a;
  EXPECT_EQ(b.rfind("HTTP/1.1 200", 0), 0u) << b;
  EXPECT_EQ(c.rfind("HTTP/1.1 503", 0), 0u) << c;
  EXPECT_NE(c.find("\"code\":\"overloaded\""), std::string::npos) << c;
  EXPECT_NE(c.find("Retry-After: 1"), std::string::npos) << c;
  EXPECT_NE(c.find("Connection: close"), std::string::npos) << c;
  first.close();
  second.close();
  refused.close();
  {
    std::lock_guard<std::mutex> lock(mutex);
    EXPECT_EQ(api.response_counts().count(503), 1u);
  }
  // Once those are closed, capacity is free again.
  for (int i = 0; i < 50; ++i) {
    RawClient again(server.port());
    again.send(kGet);
    const std::string r = again.read_all();
    if (r.rfind("HTTP/1.1 200", 0) == 0) break;
    ASSERT_LT(i, 49) << "capacity never came back: " << r;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  server.stop();
}

}  // namespace
}  // namespace spore::posix
