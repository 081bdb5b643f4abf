// GET /openapi.json (platform/posix/openapi_route.h): spored serves the embedded docs/openapi.json,
// and the document describes exactly the routes a Linux node serves: every METHOD path in the
// node's route table (its api list, after everything spored registers) is an operation of the
// document and every operation is a route, OPTIONS (the CORS preflight RestApi answers on every
// path) on every path. tests/integration/openapi_test.sh validates the document against the
// OpenAPI 3.1 schema and checks a live spored the same way.

#include "posix/openapi_route.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "fakes.h"
#include "ota_test_support.h"
#include "posix/http_server.h"
#include "spore/node/node_root.h"

namespace spore {
namespace {

struct LinuxNode {
  testing::FakeClock clock;
  testing::FakeRandom random;
  testing::FakeSystemInfo system;
  testing::FakeUdp udp;
  testing::FakeFlashTarget flash;
  Node node{Config::default_lan(), NodePorts{clock, random, system, udp, flash, nullptr, nullptr, 4}};

  /// The routes spored registers, in its order (apps/spored/daemon.cpp).
  bool begin() {
    static const uint8_t kPage[20] = {0x1F, 0x8B, 0x08};  // a gzip member's head (RestApi checks it)
    NodeServices services;
    services.dashboard_gzip = kPage;
    services.dashboard_bytes = sizeof kPage;
    return node.begin({0x1234, 1, 0x0A000002u, "n1"}, FirmwareIdentity{}) && node.begin_services(services) &&
           posix::serve_openapi(node.api());
  }
};

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

TEST(OpenApiRouteTest, ServesTheEmbeddedDocumentAsPublicJson) {
  LinuxNode n;
  ASSERT_TRUE(n.begin());
  std::string body;
  posix::StringJsonOutput out(body);
  HttpResponseHeaders h;
  EXPECT_EQ(n.node.api().handle(HttpRequest{HttpMethod::kGet, "/openapi.json", {}, {}, {}, {}}, out, &h), 200);
  EXPECT_STREQ(h.content_type, "application/json");
  EXPECT_STREQ(h.allow_origin, "*");
  EXPECT_EQ(body, posix::openapi_document());
  const nlohmann::json doc = nlohmann::json::parse(body);
  EXPECT_EQ(doc.at("openapi"), "3.1.0");
}

TEST(OpenApiRouteTest, DocumentHasExactlyTheRoutesALinuxNodeServes) {
  LinuxNode n;
  ASSERT_TRUE(n.begin());
  std::set<std::string> served;
  std::set<std::string> paths;
  for (const ApiEndpoint& e : n.node.context().api()) {
    served.insert(std::string(http_method_name(e.method)) + " " + std::string(e.uri_view()));
    paths.insert(std::string(e.uri_view()));
  }
  for (const std::string& p : paths) served.insert("OPTIONS " + p);  // RestApi's preflight

  const nlohmann::json doc = nlohmann::json::parse(posix::openapi_document());
  std::set<std::string> described;
  static const std::set<std::string> kOperations = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};
  for (const auto& [path, item] : doc.at("paths").items()) {
    for (const auto& [key, operation] : item.items()) {
      if (kOperations.count(key) != 0) described.insert(upper(key) + " " + path);
    }
  }
  EXPECT_EQ(described, served);
  EXPECT_GE(served.size(), 20u);  // 10 routes and their preflights: the comparison saw them
}

}  // namespace
}  // namespace spore
