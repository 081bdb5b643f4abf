// HttpServer streaming POST /api/node/update into core's OtaUploadHandler: multipart bodies reach
// core raw (httplib 0.11 would parse them itself), raw bodies too; other routes keep their 64 KiB
// limit; Expect: 100-continue refusals cost no body; a dropped connection frees the upload slot.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bearssl/bearssl_hash.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fakes.h"
#include "posix/http_server.h"
#include "raw_http_client.h"
#include "spore/node/node_context.h"
#include "spore/ota/ota.h"
#include "spore/ota/ota_upload.h"
#include "spore/http/rest_api.h"

namespace spore::posix {
namespace {

/// Keeps what it is given in memory; images start with "\x7fELF".
class MemoryFlashTarget : public FlashTarget {
 public:
  size_t capacity_bytes() const override { return capacity; }
  bool check_magic(const uint8_t* head, size_t size) const override {
    return size >= 4 && std::memcmp(head, "\x7f" "ELF", 4) == 0;
  }
  bool begin(size_t) override {
    staged.clear();
    ++begins;
    return true;
  }
  bool write(const uint8_t* data, size_t size) override {
    staged.insert(staged.end(), data, data + size);
    ++writes;
    return true;
  }
  OtaError commit(const uint8_t (&)[32]) override {
    committed = staged;
    return OtaError::kOk;
  }
  void abort() override {
    staged.clear();
    ++aborts;
  }

  size_t capacity = 1 << 20;
  std::vector<uint8_t> staged, committed;
  int begins = 0, writes = 0, aborts = 0;
};

std::string image_of(size_t size) {
  std::string s = "\x7f" "ELF";
  for (size_t i = s.size(); i < size; ++i) s.push_back(static_cast<char>('a' + i % 26));
  return s;
}

std::string sha256_hex(const std::string& data) {
  br_sha256_context c;
  br_sha256_init(&c);
  br_sha256_update(&c, data.data(), data.size());
  uint8_t d[32];
  br_sha256_out(&c, d);
  char hex[65];
  ota_sha256_hex(d, hex);
  return hex;
}

class HttpServerOtaTest : public ::testing::Test {
 protected:
  HttpServerOtaTest()
      : ctx(Config::default_lan(), clock, rnd, sys, nullptr),
        api(ctx),
        session(flash),
        ota(ctx, api, session),
        server(api, mutex, nullptr) {
    EXPECT_TRUE(ctx.begin({0x42, 1, 0x7F000001u, "ota-test"}));
    EXPECT_TRUE(api.begin());
    EXPECT_TRUE(api.set_api_token("tok"));
    EXPECT_TRUE(ota.begin());
  }
  void SetUp() override {
    server.set_ota(&ota, &clock, flash.capacity + OtaSession::kTailBytes + OtaUploadHandler::kMultipartOverheadBytes);
    std::string error;
    ASSERT_TRUE(server.start("127.0.0.1", 0, &error)) << error;
    client = std::make_unique<httplib::Client>("127.0.0.1", server.port());
  }

  bool busy() {
    std::lock_guard<std::mutex> lock(mutex);
    return ota.busy();
  }

  testing::FakeClock clock;
  testing::FakeRandom rnd;
  testing::FakeSystemInfo sys;
  NodeContext ctx;
  RestApi api;
  MemoryFlashTarget flash;
  OtaSession session;
  OtaUploadHandler ota;
  std::mutex mutex;
  HttpServer server;
  std::unique_ptr<httplib::Client> client;
  httplib::Headers auth = {{"Authorization", "Bearer tok"}};
};

TEST_F(HttpServerOtaTest, MultipartBodyArrivesRawAndIsParsedByCore) {
  const std::string image = image_of(300000);  // several 64 KiB blocks
  httplib::MultipartFormDataItems items = {{"note", "not the firmware", "", "text/plain"},
                                          {"firmware", image, "spore.bin", "application/octet-stream"}};
  auto r = client->Post("/api/node/update", auth, items);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  const auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j.at("size"), image.size());
  EXPECT_EQ(j.at("sha256"), sha256_hex(image));
  EXPECT_EQ(r->get_header_value("Connection"), "close");  // the node restarts next
  EXPECT_EQ(std::string(flash.committed.begin(), flash.committed.end()), image);
  EXPECT_LE(flash.writes, 10);  // blocks, not httplib's 4 KiB reads
  std::lock_guard<std::mutex> lock(mutex);
  EXPECT_TRUE(ota.restart_pending());
}

TEST_F(HttpServerOtaTest, RawBodyIsStreamed) {
  const std::string image = image_of(100000);
  auto r = client->Post("/api/node/update", auth, image, "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(nlohmann::json::parse(r->body).at("sha256"), sha256_hex(image));
  EXPECT_EQ(std::string(flash.committed.begin(), flash.committed.end()), image);
}

TEST_F(HttpServerOtaTest, BrokenMultipartAndBadMagicAreCoreErrors) {
  auto r = client->Post("/api/node/update", auth, "--xyz\r\nno headers end", "multipart/form-data; boundary=xyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(nlohmann::json::parse(r->body).at("code"), "bad_request");
  r = client->Post("/api/node/update", auth, std::string(200000, 'x'), "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422) << r->body;
  EXPECT_EQ(nlohmann::json::parse(r->body).at("code"), "bad_magic");
  // The connection was drained: the same client goes on.
  r = client->Get("/api/node/status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(flash.committed.empty());
  EXPECT_FALSE(busy());
}

TEST_F(HttpServerOtaTest, TokenIsRequired) {
  auto r = client->Post("/api/node/update", image_of(1000), "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Spore realm=\"spore\", Bearer realm=\"spore\"");
  EXPECT_EQ(nlohmann::json::parse(r->body).at("code"), "auth_required");
  EXPECT_EQ(flash.begins, 0);
  // Without a body at all (curl -X POST): answered by RestApi's path, still JSON.
  RawClient raw(server.port());
  raw.send("POST /api/node/update HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\n\r\n");
  const std::string resp = raw.response();
  EXPECT_EQ(resp.rfind("HTTP/1.1 400", 0), 0u) << resp;
  EXPECT_NE(resp.find("\"empty\""), std::string::npos) << resp;
}

TEST_F(HttpServerOtaTest, OtherRoutesKeepTheir64KiBLimit) {
  const std::string big(HttpServer::kDefaultMaxBodyBytes + 1, 'x');
  auto r = client->Post("/api/node/restart", auth, big, "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(nlohmann::json::parse(r->body).at("code"), "payload_too_large");
  // A multipart body on another route reaches RestApi as bytes (no httplib multipart parsing).
  r = client->Post("/api/node/restart", auth, "--b\r\n\r\n--b--\r\n", "multipart/form-data; boundary=b");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 501);  // RestApi's answer: this test installed no restart handler
  EXPECT_EQ(nlohmann::json::parse(r->body).at("code"), "not_supported");
}

// Regression (issue 15, F2a): an upload refused before its body (here 401, no token) with a
// chunked body was read and dropped up to 1 MiB before the answer, at one chunk byte every few
// seconds for hours. Its length is unknown: it is answered at once and the connection closed.
TEST_F(HttpServerOtaTest, ARefusedChunkedUploadIsAnsweredAtOnce) {
  RawClient raw(server.port(), 0, 2);
  ASSERT_TRUE(raw.send("POST /api/node/update HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n1\r\nA\r\n"));
  const std::string resp = raw.read_all();  // and closed: read_all() returns before its 2 s
  EXPECT_EQ(resp.rfind("HTTP/1.1 401", 0), 0u) << resp;
  EXPECT_NE(resp.find("\"auth_required\""), std::string::npos) << resp;
  EXPECT_NE(resp.find("Connection: close"), std::string::npos) << resp;
  EXPECT_EQ(flash.begins, 0);
}

TEST_F(HttpServerOtaTest, ExpectContinueRefusalNeedsNoBody) {
  {
    RawClient raw(server.port());
    ASSERT_TRUE(raw.connected());
    raw.send("POST /api/node/update HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n"
             "Content-Type: application/octet-stream\r\nContent-Length: 500000\r\nExpect: 100-continue\r\n\r\n");
    const std::string resp = raw.response();
    EXPECT_EQ(resp.rfind("HTTP/1.1 401", 0), 0u) << resp;
    EXPECT_NE(resp.find("Content-Length: "), std::string::npos) << resp;  // curl needs it to stop sending
    EXPECT_NE(resp.find("\"auth_invalid\""), std::string::npos) << resp;
    // The body was never asked for, so the connection is not in sync for another request: closed.
    EXPECT_NE(resp.find("Connection: close"), std::string::npos) << resp;
  }
  {
    // Too large for the capacity: 413 before the body.
    RawClient raw(server.port());
    raw.send("POST /api/node/update HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\n"
             "Content-Type: application/octet-stream\r\nContent-Length: 50000000\r\nExpect: 100-continue\r\n\r\n");
    const std::string resp = raw.response();
    EXPECT_EQ(resp.rfind("HTTP/1.1 413", 0), 0u) << resp;
    EXPECT_NE(resp.find("\"too_large\""), std::string::npos) << resp;
  }
  EXPECT_EQ(flash.begins, 0);
  EXPECT_FALSE(busy());
  // Admitted: 100 Continue, then the body, then 200.
  RawClient raw(server.port());
  const std::string image = image_of(70000);
  raw.send("POST /api/node/update HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\n"
           "Content-Type: application/octet-stream\r\nContent-Length: " +
           std::to_string(image.size()) + "\r\nExpect: 100-continue\r\n\r\n");
  const std::string cont = raw.head();
  EXPECT_EQ(cont.rfind("HTTP/1.1 100", 0), 0u) << cont;
  raw.send(image);
  const std::string resp = raw.response();
  EXPECT_EQ(resp.rfind("HTTP/1.1 200", 0), 0u) << resp.substr(0, 300);
  EXPECT_TRUE(std::string(flash.committed.begin(), flash.committed.end()) == image);
}

TEST_F(HttpServerOtaTest, SecondUploadWhileOneStreamsIs409AndADroppedOneFreesTheSlot) {
  const std::string image = image_of(200000);
  {
    RawClient first(server.port());
    first.send("POST /api/node/update HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\n"
               "Content-Type: application/octet-stream\r\nContent-Length: " +
               std::to_string(image.size()) + "\r\n\r\n");
    first.send(image.substr(0, 1000));
    for (int i = 0; i < 200 && !busy(); ++i) usleep(10000);
    ASSERT_TRUE(busy());
    auto r = client->Post("/api/node/update", auth, image, "application/octet-stream");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 409) << r->body;
    EXPECT_EQ(nlohmann::json::parse(r->body).at("code"), "busy");
    first.close();  // dropped mid-upload
  }
  for (int i = 0; i < 300 && busy(); ++i) usleep(10000);
  EXPECT_FALSE(busy());
  EXPECT_TRUE(flash.committed.empty());
  EXPECT_GE(flash.aborts, 1);
  auto r = client->Post("/api/node/update", auth, image, "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

}  // namespace
}  // namespace spore::posix
