// HttpServer: cpp-httplib in front of RestApi on loopback. Every answer is JSON, headers RestApi
// asks for are sent, the body limit holds, a taken port is a clear error.

#include "posix/http_server.h"
#include "spore/http/http_text.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "fakes.h"
#include "raw_http_client.h"
#include "spore/integrations/metrics.h"
#include "spore/node/node_context.h"
#include "spore/http/rest_api.h"

namespace spore::posix {
namespace {

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() : ctx(Config::default_lan(), clock, rnd, sys, nullptr), api(ctx), server(api, mutex, nullptr) {
    EXPECT_TRUE(ctx.begin({0x42, 1, 0x7F000001u, "http-test"}));
    EXPECT_TRUE(api.begin());
    EXPECT_TRUE(api.set_api_token("tok"));
    api.set_restart_handler(Delegate<void()>::bind<HttpServerTest, &HttpServerTest::on_restart>(this));
  }
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(server.start("127.0.0.1", 0, &error)) << error;
    ASSERT_NE(server.port(), 0);
    client = std::make_unique<httplib::Client>("127.0.0.1", server.port());
  }
  void on_restart() { ++restarts; }

  static nlohmann::json json_of(const httplib::Result& r) {
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    return nlohmann::json::parse(r->body);
  }

  testing::FakeClock clock;
  testing::FakeRandom rnd;
  testing::FakeSystemInfo sys;
  NodeContext ctx;
  RestApi api;
  std::mutex mutex;
  HttpServer server;
  std::unique_ptr<httplib::Client> client;
  std::atomic<int> restarts{0};
};

TEST_F(HttpServerTest, ServesStatusAndMembers) {
  auto r = client->Get("/api/node/status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto j = json_of(r);
  EXPECT_EQ(j.at("chipId"), 0x00ABCDEFu);
  EXPECT_EQ(j.at("hostname"), "http-test");
  EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store");

  r = client->Get("/api/cluster/members?x=1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json_of(r).at("members").size(), 1u);
}

TEST_F(HttpServerTest, UnknownPathAndWrongMethodAreJson) {
  auto r = client->Get("/nope");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(json_of(r).at("code"), "not_found");

  r = client->Post("/api/node/status", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->get_header_value("Allow"), "GET");
  EXPECT_EQ(json_of(r).at("code"), "method_not_allowed");

  // OPTIONS is a CORS preflight (a node with a token: its protected routes may be called).
  r = client->Options("/api/node/restart");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->get_header_value("Allow"), "POST, OPTIONS");
  EXPECT_TRUE(r->body.empty());
  EXPECT_FALSE(r->has_header("Content-Type"));
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Methods"), "POST, OPTIONS");
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Headers"), kCorsAllowHeaders);
  EXPECT_EQ(r->get_header_value("Access-Control-Max-Age"), kCorsMaxAgeS);

  r = client->Head("/api/node/status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->body.empty());

  r = client->Delete("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

// GET / sends the dashboard's gzip bytes exactly once encoded to a client that accepts gzip, and
// the page itself to one that does not (issue 21: plain curl printed binary), Vary on both.
// Regression: Debian's httplib (built with zlib and brotli) compressed a set_content() text/html
// body a second time for clients sending Accept-Encoding (every browser), adding a second
// Content-Encoding: the page arrived as garbage. Fix: a fixed-length content provider.
TEST_F(HttpServerTest, DashboardIsSentAsStoredGzip) {
  // gzip.compress(b"<!doctype html><p>SPORE</p>", 9, mtime=0)
  static const uint8_t kPage[] = {0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xB3, 0x51,
                                  0x4C, 0xC9, 0x4F, 0x2E, 0xA9, 0x2C, 0x48, 0x55, 0xC8, 0x28, 0xC9, 0xCD,
                                  0xB1, 0xB3, 0x29, 0xB0, 0x0B, 0x0E, 0xF0, 0x0F, 0x72, 0xB5, 0xD1, 0x2F,
                                  0xB0, 0x03, 0x00, 0x30, 0xB7, 0x24, 0x93, 0x1B, 0x00, 0x00, 0x00};
  {
    std::lock_guard<std::mutex> lock(mutex);
    ASSERT_TRUE(api.set_dashboard(kPage, sizeof kPage));
  }
  const std::string stored(reinterpret_cast<const char*>(kPage), sizeof kPage);
  client->set_decompress(false);
  for (const char* accept : {"", "gzip, deflate, br", "br", "gzip;q=0"}) {
    const bool gzip = http_accepts_gzip(accept);
    httplib::Headers h;
    if (*accept != '\0') h.emplace("Accept-Encoding", accept);
    auto r = client->Get("/", h);
    ASSERT_TRUE(r) << accept;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(r->get_header_value_count("Content-Encoding"), gzip ? 1u : 0u) << accept;
    EXPECT_EQ(r->get_header_value("Content-Encoding"), gzip ? "gzip" : "") << accept;
    EXPECT_EQ(r->get_header_value("Vary"), "Accept-Encoding") << accept;
    // Not to be framed by another site, nor sniffed into another type (issue 15).
    EXPECT_EQ(r->get_header_value("X-Frame-Options"), "DENY");
    EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(r->body, gzip ? stored : "<!doctype html><p>SPORE</p>") << accept;
  }
  // Decoded by the client, it is the page.
  client->set_decompress(true);
  auto r = client->Get("/?from=test", {{"Accept-Encoding", "gzip"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "<!doctype html><p>SPORE</p>");
  // Public GETs carry the CORS header the dashboard needs to read its peers' status.
  r = client->Get("/api/node/status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), "*");
}

TEST_F(HttpServerTest, RestartNeedsTokenAndClosesTheConnection) {
  auto r = client->Post("/api/node/restart", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Spore realm=\"spore\", Bearer realm=\"spore\"");
  EXPECT_EQ(json_of(r).at("code"), "auth_required");
  EXPECT_EQ(restarts.load(), 0);

  httplib::Headers wrong = {{"Authorization", "Bearer nope"}};
  r = client->Post("/api/node/restart", wrong, "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(json_of(r).at("code"), "auth_invalid");
  EXPECT_EQ(restarts.load(), 0);

  httplib::Headers right = {{"Authorization", "Bearer tok"}};
  r = client->Post("/api/node/restart", right, "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(json_of(r).at("status"), "restarting");
  EXPECT_EQ(r->get_header_value("Connection"), "close");
  EXPECT_EQ(restarts.load(), 1);
}

/// What `curl -X POST url` sends: no Content-Length, no body. It must be answered at once.
std::string raw_request(uint16_t port, const std::string& request) {
  RawClient client(port, 0, 2);
  client.send(request);
  return client.response();
}

TEST_F(HttpServerTest, PostWithoutContentLengthIsServedAtOnce) {
  const auto start = std::chrono::steady_clock::now();
  const std::string r = raw_request(server.port(),
                                    "POST /api/node/restart HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\n\r\n");
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.rfind("HTTP/1.1 202", 0), 0u) << r;
  EXPECT_NE(r.find("\"restarting\""), std::string::npos) << r;
  EXPECT_LT(took, std::chrono::seconds(1));  // not httplib's 5 s read timeout
  EXPECT_EQ(restarts.load(), 1);
  const std::string unauth =
      raw_request(server.port(), "POST /api/node/restart HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(unauth.rfind("HTTP/1.1 401", 0), 0u) << unauth;
  EXPECT_NE(unauth.find("WWW-Authenticate: Spore realm=\"spore\", Bearer"), std::string::npos) << unauth;
  EXPECT_EQ(restarts.load(), 1);
}

TEST_F(HttpServerTest, OversizedBodyIs413Json) {
  const std::string big(HttpServer::kDefaultMaxBodyBytes + 1, 'x');
  auto r = client->Post("/api/node/restart", big, "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(json_of(r).at("code"), "payload_too_large");
  EXPECT_EQ(restarts.load(), 0);
}

/// The value of the sample `series` in Prometheus text, or -1 when absent.
long long prometheus_value(const std::string& text, const std::string& series) {
  const std::string key = "\n" + series + " ";
  const size_t at = ("\n" + text).find(key);
  return at == std::string::npos ? -1 : std::stoll(text.substr(at + key.size() - 1));
}

TEST_F(HttpServerTest, MetricsAreServedAsPrometheusTextAndCountEveryAnswer) {
  Metrics metrics(ctx, api);
  {
    std::lock_guard<std::mutex> lock(mutex);
    ASSERT_TRUE(metrics.begin());
  }
  // Answers from RestApi (401, 404), from httplib's own error path (413) and a scrape.
  httplib::Headers wrong = {{"Authorization", "Bearer nope"}};
  ASSERT_TRUE(client->Post("/api/node/restart", wrong, "", "application/json"));
  ASSERT_TRUE(client->Get("/nope"));
  ASSERT_TRUE(client->Post("/api/node/restart", std::string(HttpServer::kDefaultMaxBodyBytes + 1, 'x'),
                           "application/octet-stream"));
  ASSERT_TRUE(client->Get("/metrics"));

  auto r = client->Get("/metrics");  // no token needed, though one is set
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store");
  // Every line is a comment or `name{labels} value`; every sample's family has a TYPE line.
  ASSERT_FALSE(r->body.empty());
  ASSERT_EQ(r->body.back(), '\n');
  std::set<std::string> typed;
  size_t samples = 0;
  size_t start = 0;
  while (start < r->body.size()) {
    const size_t end = r->body.find('\n', start);
    const std::string line = r->body.substr(start, end - start);
    start = end + 1;
    if (line.rfind("# TYPE ", 0) == 0) {
      const std::string rest = line.substr(7);
      const std::string type = rest.substr(rest.find(' ') + 1);
      EXPECT_TRUE(type == "counter" || type == "gauge") << line;
      typed.insert(rest.substr(0, rest.find(' ')));
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) continue;
    ASSERT_NE(line.front(), '#') << line;
    const size_t name_end = line.find_first_of("{ ");
    ASSERT_NE(name_end, std::string::npos) << line;
    const std::string name = line.substr(0, name_end);
    EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_:0123456789"), std::string::npos) << line;
    EXPECT_TRUE(typed.count(name)) << line;
    size_t value_at = name_end + 1;
    if (line[name_end] == '{') {
      const size_t close = line.find("} ", name_end);
      ASSERT_NE(close, std::string::npos) << line;
      value_at = close + 2;
    }
    const std::string value = line.substr(value_at);
    ASSERT_FALSE(value.empty()) << line;
    EXPECT_EQ(value.find_first_not_of("0123456789"), std::string::npos) << line;
    ++samples;
  }
  EXPECT_GE(samples, 10u);
  EXPECT_EQ(prometheus_value(r->body, "spore_members{status=\"active\"}"), 1);
  EXPECT_EQ(prometheus_value(r->body, "spore_http_requests_total{code=\"401\"}"), 1);
  EXPECT_EQ(prometheus_value(r->body, "spore_http_requests_total{code=\"404\"}"), 1);
  EXPECT_EQ(prometheus_value(r->body, "spore_http_requests_total{code=\"413\"}"), 1);
  EXPECT_EQ(prometheus_value(r->body, "spore_http_requests_total{code=\"200\"}"), 1);  // the first scrape

  // HEAD like GET, without a body; other methods get the JSON 405.
  r = client->Head("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = client->Post("/metrics", "", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(json_of(r).at("code"), "method_not_allowed");
}

TEST_F(HttpServerTest, PortInUseIsAClearError) {
  HttpServer second(api, mutex, nullptr);
  std::string error;
  EXPECT_FALSE(second.start("127.0.0.1", server.port(), &error));
  EXPECT_NE(error.find("127.0.0.1:" + std::to_string(server.port())), std::string::npos) << error;
  EXPECT_NE(error.find("in use"), std::string::npos) << error;
  EXPECT_FALSE(second.start("not-an-ip", 8080, &error));
  EXPECT_NE(error.find("not an IPv4"), std::string::npos) << error;
}

// Regression: httplib's default listener options (SO_REUSEPORT without SO_REUSEADDR) made the
// re-exec'ed spored fail with EADDRINUSE, because connections the old server closed first were
// still in FIN_WAIT/TIME_WAIT on the port. Scenario: a client holds a connection open while the
// server stops; a new server must bind the same address at once.
TEST_F(HttpServerTest, PortCanBeReboundRightAfterStopWithConnectionsOpen) {
  const uint16_t port = server.port();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(0x7F000001u);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_TRUE(client->Get("/api/node/status"));  // and an idle keep-alive connection
  server.stop();                                  // the server closes both first
  HttpServer again(api, mutex, nullptr);
  std::string error;
  EXPECT_TRUE(again.start("127.0.0.1", port, &error)) << error;
  ::close(fd);
  // But a second live server on the same address is still refused.
  HttpServer third(api, mutex, nullptr);
  EXPECT_FALSE(third.start("127.0.0.1", port, &error));
}

TEST_F(HttpServerTest, StopIsIdempotentAndFast) {
  ASSERT_TRUE(client->Get("/api/node/status"));  // leaves a keep-alive connection open
  server.stop();
  server.stop();
  EXPECT_FALSE(server.running());
  auto r = client->Get("/api/node/status");
  EXPECT_FALSE(r);
}

// stop() answers what is in flight: here a request waits for the core mutex (the node loop is
// busy) when stop() begins, and still gets its 200 once the mutex is free.
TEST_F(HttpServerTest, StopAnswersTheRequestInFlight) {
  std::unique_lock<std::mutex> core(mutex);
  int status = 0;
  std::thread request([&] {
    auto r = client->Get("/api/node/status");
    if (r) status = r->status;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // it reached the adapter
  std::thread stopper([&] { server.stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // stop() is waiting for it
  core.unlock();
  stopper.join();
  request.join();
  EXPECT_EQ(status, 200);
  EXPECT_FALSE(server.running());
}

}  // namespace
}  // namespace spore::posix
