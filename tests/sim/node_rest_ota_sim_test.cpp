// The simulator's nodes are assembled by core's spore::Node, as spored and the ESP8266 firmware
// are, so a simulated node serves the REST API and takes an OTA update: asked through RestApi's
// request entry point (what every HTTP adapter calls) and OtaUploadHandler's streaming one, on
// virtual time.

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "sim/simulation.h"
#include "spore/ota/ota.h"

namespace spore::sim {
namespace {

struct Answer {
  int status = 0;
  std::string body;
};

Answer request(SimNode& node, HttpMethod method, std::string_view path, std::string_view authorization = {}) {
  static char buffer[16 * 1024];
  BufferJsonOutput out(buffer, sizeof buffer);
  HttpRequest req;
  req.method = method;
  req.path = path;
  req.authorization = authorization;
  const int status = node.api().handle(req, out);
  EXPECT_FALSE(out.overflowed());
  return {status, std::string(out.c_str(), out.size())};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// Three nodes serving REST, converged.
void start_rest_cluster(Cluster& c) {
  for (size_t i = 0; i < c.size(); ++i) {
    c.node(i).with_rest = true;
    c.node(i).api_token = "sim-token-" + std::to_string(i);
  }
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 30000));
}

TEST(NodeRestSimTest, StatusAndMembersThroughTheRestApi) {
  Cluster c(3, Config::fast(), 41);
  start_rest_cluster(c);
  const Answer status = request(c.node(0), HttpMethod::kGet, "/api/node/status");
  EXPECT_EQ(status.status, 200);
  EXPECT_TRUE(contains(status.body, "\"hostname\":\"sim-0\"")) << status.body;
  EXPECT_TRUE(contains(status.body, "/api/node/update")) << "the update route is in the api list: " << status.body;
  EXPECT_TRUE(contains(status.body, "/metrics")) << status.body;

  const Answer members = request(c.node(1), HttpMethod::kGet, "/api/cluster/members");
  EXPECT_EQ(members.status, 200);
  for (const char* host : {"sim-0", "sim-1", "sim-2"}) EXPECT_TRUE(contains(members.body, host)) << members.body;
  EXPECT_TRUE(contains(members.body, "\"status\":\"ACTIVE\"")) << members.body;

  // A protected route: refused without the token, served with it (a restart request).
  EXPECT_EQ(request(c.node(2), HttpMethod::kPost, "/api/node/restart").status, 401);
}

TEST(NodeRestSimTest, WithoutRestTheNodeRegistersOnlyItsEndpoints) {
  Cluster c(2, Config::fast(), 42);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 30000));
  EXPECT_EQ(c.node(0).ctx().api().size(), 1u);  // GET /api/node/status, the scenarios' default
}

/// An image in chunks, one every `gap_ms` of virtual time; the answer's status.
int upload(Cluster& c, SimNode& node, const std::vector<uint8_t>& image, uint64_t gap_ms, size_t chunks_sent,
           const std::string& token) {
  static char buffer[1024];
  BufferJsonOutput out(buffer, sizeof buffer);
  OtaUploadHandler& ota = node.node().ota();
  const std::string auth = "Bearer " + token;
  const int started = ota.start("application/octet-stream", image.size(), auth, node.ctx().clock().now_ms(), out);
  if (started != 0) return started;
  const size_t chunk = (image.size() + 3) / 4;
  for (size_t k = 0; k < chunks_sent && k * chunk < image.size(); ++k) {
    const size_t n = std::min(chunk, image.size() - k * chunk);
    if (!ota.body(image.data() + k * chunk, n, node.ctx().clock().now_ms())) break;
    c.run_for(gap_ms);
  }
  if (chunks_sent < 4) return 0;  // left hanging
  out.clear();
  return ota.finish(true, node.ctx().clock().now_ms(), out);
}

TEST(NodeOtaSimTest, AnUploadStreamsIntoTheSimFlashOnVirtualTime) {
  Cluster c(3, Config::fast(), 43);
  start_rest_cluster(c);
  SimNode& n = c.node(1);
  std::vector<uint8_t> image(20000);
  for (size_t i = 0; i < image.size(); ++i) image[i] = static_cast<uint8_t>(i * 7 + 3);
  image[0] = 0xE9;  // the ESP8266 image magic SimFlashTarget checks

  // Wrong token: refused before a byte is written.
  EXPECT_EQ(upload(c, n, image, 100, 4, "wrong"), 401);
  EXPECT_EQ(n.flash().commits, 0u);

  // Chunks 100 ms apart of virtual time, well inside the stall timeout: installed.
  EXPECT_EQ(upload(c, n, image, 100, 4, "sim-token-1"), 200);
  EXPECT_EQ(n.flash().commits, 1u);
  EXPECT_EQ(n.flash().installed, image);
  EXPECT_EQ(std::memcmp(n.flash().installed_sha256, n.node().ota_session().result().sha256, 32), 0);
  EXPECT_TRUE(n.node().ota().restart_pending());
  EXPECT_EQ(n.count_events(std::string(topics::kOtaFinished)), 1u);
}

TEST(NodeOtaSimTest, AStalledUploadIsAbortedByTheNodeLoop) {
  Cluster c(2, Config::fast(), 44);
  start_rest_cluster(c);
  SimNode& n = c.node(0);
  std::vector<uint8_t> image(8000, 0x11);
  image[0] = 0xE9;
  // One chunk, then silence past the stall timeout: the node's loop (Node::loop -> OTA poll) ends it.
  EXPECT_EQ(upload(c, n, image, 10, 1, "sim-token-0"), 0);
  ASSERT_TRUE(n.node().ota().busy());
  c.run_for(n.ctx().config().ota_stall_timeout_ms + 2000);
  EXPECT_FALSE(n.node().ota().busy());
  EXPECT_EQ(n.node().ota().last_error(), OtaError::kStalled);
  EXPECT_EQ(n.flash().commits, 0u);
  EXPECT_FALSE(n.node().ota().restart_pending());
}

}  // namespace
}  // namespace spore::sim
