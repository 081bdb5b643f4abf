#include "spore/http/chunked_answer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fakes.h"
#include "spore/integrations/metrics.h"
#include "spore/node/node_context.h"
#include "spore/http/rest_api.h"

namespace spore {
namespace {

using testing::FakeClock;
using testing::FakeRandom;
using testing::FakeSystemInfo;
using testing::StringOutput;

/// Everything a ChunkedAnswer hands out, `size` bytes asked for at a time (sizes[i % n]).
std::string drain(ChunkedAnswer& a, const std::vector<size_t>& sizes) {
  std::string out;
  std::vector<char> buf(4096);
  for (size_t i = 0;; ++i) {
    const size_t want = sizes[i % sizes.size()];
    const size_t n = a.fill(buf.data(), want);
    EXPECT_LE(n, want);
    if (n == 0) break;
    out.append(buf.data(), n);
  }
  return out;
}

class ChunkedAnswerTest : public ::testing::Test {
 protected:
  ChunkedAnswerTest() : ctx(cfg(), clock, rnd, sys, nullptr), api(ctx), metrics(ctx, api) {}
  static Config cfg() {
    Config c = Config::default_lan();
    c.start_jitter_max_ms = 0;
    return c;
  }
  void SetUp() override {
    ASSERT_TRUE(ctx.begin({0x50000, 3, 0x7F000001, "self-node"}));
    ASSERT_TRUE(api.begin());
    ASSERT_TRUE(metrics.begin());
    // Nothing changes status by itself during a test; a member that left is forgotten at the
    // next update().
    ctx.members().set_thresholds({1000000000, 2000000000, 1});
    clock.advance(1234);
  }

  /// A member with resources and a 3-entry API list.
  void add_member(uint32_t node_id, uint32_t api_digest = 77) {
    char host[32];
    std::snprintf(host, sizeof host, "esp_%08x", static_cast<unsigned>(node_id));
    ASSERT_NE(ctx.members().observe({node_id, 1, 0xC0A80100u + node_id % 250, 80, host}, clock.now_ms()), nullptr);
    ctx.members().set_latency(node_id, node_id % 50);
    ctx.members().set_resources(node_id, MemberResources{30000 + node_id, node_id, 1048576, 80}, "3.1.2");
    ApiEndpoint e[3]{};
    const char* uris[] = {"/api/node/status", "/api/cluster/members", "/api/node/restart"};
    for (size_t k = 0; k < 3; ++k) {
      e[k].method = k == 2 ? HttpMethod::kPost : HttpMethod::kGet;
      std::strcpy(e[k].uri, uris[k]);
    }
    ctx.members().set_api(node_id, api_digest, e, 3);
  }
  /// `n` members (n <= 64), inserted out of node-id order so that slot order is not node-id order.
  void add_members(size_t n) {
    for (size_t i = 0; i < n; ++i) add_member(static_cast<uint32_t>(1000 + 7 * ((i * 37) % 64)));
    ASSERT_EQ(ctx.members().size(), n);
  }

  /// The answer to GET `path` written whole (the Linux server's way).
  std::string one_shot(std::string_view path, int* status = nullptr) {
    StringOutput out;
    HttpRequest req;
    req.method = HttpMethod::kGet;
    req.path = path;
    const int s = api.handle(req, out);
    if (status != nullptr) *status = s;
    return out.text;
  }
  /// Every member leaves and is forgotten.
  void clear_members() {
    std::vector<std::pair<uint32_t, uint32_t>> ids;
    ctx.members().for_each([&](const Member& m) { ids.emplace_back(m.node_id, m.incarnation); });
    for (const auto& [id, incarnation] : ids) ctx.members().mark_left(id, incarnation, clock.now_ms());
    ctx.members().update(clock.now_ms() + 1);
    ASSERT_EQ(ctx.members().size(), 0u);
  }
  std::string metrics_text() {
    StringOutput out;
    metrics.write(out);
    return out.text;
  }
  /// GET `path` answered through a ChunkedAnswer (the ESP8266 adapter's way).
  int start_chunked(std::string_view path, ChunkedAnswer& a, HttpResponseHeaders* h = nullptr) {
    HttpRequest req;
    req.method = HttpMethod::kGet;
    req.path = path;
    return api.handle(req, a, h);
  }

  FakeClock clock{0};
  FakeRandom rnd;
  FakeSystemInfo sys;
  NodeContext ctx;
  RestApi api;
  Metrics metrics;
};

TEST_F(ChunkedAnswerTest, EveryBufferSizeGivesTheOneShotBytes) {
  // N = 0, 1, 32 members; every fill size from 1 byte to 1500 (ESPAsyncWebServer asks for 260 to
  // 1064); members, status and /metrics, byte for byte.
  for (size_t n : {size_t{0}, size_t{1}, size_t{32}}) {
    SCOPED_TRACE(n);
    add_members(n);
    for (const char* path : {"/api/cluster/members", "/api/node/status", "/metrics"}) {
      SCOPED_TRACE(path);
      int status = 0;
      const std::string whole = one_shot(path, &status);
      ASSERT_EQ(status, 200);
      if (std::string_view(path) != "/metrics") {
        EXPECT_TRUE(nlohmann::json::accept(whole));
      }
      if (n == 32 && std::string_view(path) == "/api/cluster/members") {
        EXPECT_GT(whole.size(), 10000u);  // the answer that cannot be built whole on an ESP-01
      }
      for (size_t size = 1; size <= 1500; ++size) {
        ChunkedAnswer a;
        HttpResponseHeaders h;
        ASSERT_EQ(start_chunked(path, a, &h), 200);
        // /metrics counts every answer, this one included: its expected text is taken now.
        const std::string expected = std::string_view(path) == "/metrics" ? metrics_text() : whole;
        const std::string chunked = drain(a, {size});
        ASSERT_TRUE(a.finished()) << size;
        ASSERT_FALSE(a.failed()) << size;
        ASSERT_EQ(chunked, expected) << "fill size " << size;
        EXPECT_EQ(a.sent_bytes(), expected.size());
        EXPECT_EQ(a.fill(nullptr, 0), 0u);
      }
    }
    // Next N: a fresh table.
    clear_members();
  }
}

TEST_F(ChunkedAnswerTest, MembersAreWrittenInNodeIdOrderWithSelfFirst) {
  add_members(5);
  const nlohmann::json j = nlohmann::json::parse(one_shot("/api/cluster/members"));
  ASSERT_EQ(j["members"].size(), 6u);
  EXPECT_EQ(j["members"][0]["self"], true);
  for (size_t i = 2; i < 6; ++i) EXPECT_LT(j["members"][i - 1]["nodeId"], j["members"][i]["nodeId"]);
}

/// Every field of a member entry as the seed's README names them, plus SPORE's own: the same in
/// the self entry and every peer's (docs/api.md).
const std::set<std::string> kMemberKeys = {"hostname",      "ip",   "lastSeen",  "latency",          "status",
                                           "resources",     "api",  "nodeId",    "incarnation",      "httpPort",
                                           "self",          "left", "apiDigest", "detailsTruncated", "imageDigest",
                                           "lastSeenAgoMs", "firmwareVersion"};

std::set<std::string> keys_of(const nlohmann::json& object) {
  std::set<std::string> keys;
  for (auto it = object.begin(); it != object.end(); ++it) keys.insert(it.key());
  return keys;
}

TEST_F(ChunkedAnswerTest, TableChangesBetweenChunksKeepTheDocumentWhole) {
  // Random fill sizes; between two fills members join, leave, restart or change their API list.
  // The document must parse, list each member at most once in node-id order with every field,
  // and members nobody touched must be exactly as in a one-shot rendering.
  std::mt19937 gen(16);
  size_t changes = 0, cut_lists = 0;
  for (int round = 0; round < 300; ++round) {
    SCOPED_TRACE(round);
    clear_members();
    add_members(1 + gen() % 31);
    std::set<uint32_t> touched;
    const nlohmann::json before = nlohmann::json::parse(one_shot("/api/cluster/members"));
    ChunkedAnswer a;
    ASSERT_EQ(start_chunked("/api/cluster/members", a), 200);
    std::string text;
    char buf[1500];
    for (;;) {
      const size_t n = a.fill(buf, 1 + gen() % 600);
      if (n == 0) break;
      text.append(buf, n);
      std::vector<uint32_t> ids;
      ctx.members().for_each([&](const Member& m) { ids.push_back(m.node_id); });
      switch (gen() % 5) {
        case 0: {  // a newcomer, with a node id anywhere in the order
          const uint32_t id = 5000 + static_cast<uint32_t>(gen() % 64);
          if (ctx.members().find(id) == nullptr && ctx.members().size() < SPORE_MAX_MEMBERS) {
            add_member(id);
            touched.insert(id);
          }
          break;
        }
        case 1:  // a member leaves and is forgotten
          if (!ids.empty()) {
            const uint32_t id = ids[gen() % ids.size()];
            ctx.members().mark_left(id, ctx.members().find(id)->incarnation, clock.now_ms());
            ctx.members().update(clock.now_ms() + 1);
            touched.insert(id);
          }
          break;
        case 2:  // a member announces another API list
          if (!ids.empty()) {
            const uint32_t id = ids[gen() % ids.size()];
            ApiEndpoint e{};
            e.method = HttpMethod::kGet;
            std::strcpy(e.uri, "/other");
            ctx.members().set_api(id, 1234 + round, &e, 1);
            touched.insert(id);
          }
          break;
        case 3:  // a member restarts
          if (!ids.empty()) {
            const uint32_t id = ids[gen() % ids.size()];
            const Member* m = ctx.members().find(id);
            const std::string host = m->hostname;
            ctx.members().observe({id, m->incarnation + 1, m->ip, m->http_port, host}, clock.now_ms());
            touched.insert(id);
          }
          break;
        default:
          break;
      }
    }
    ASSERT_TRUE(a.finished());
    changes += touched.size();
    nlohmann::json j;
    ASSERT_NO_THROW(j = nlohmann::json::parse(text)) << text;
    const nlohmann::json& members = j["members"];
    ASSERT_GE(members.size(), 1u);
    EXPECT_EQ(members[0]["self"], true);
    EXPECT_EQ(keys_of(members[0]), kMemberKeys) << members[0].dump();
    for (size_t i = 1; i < members.size(); ++i) {
      const nlohmann::json& m = members[i];
      EXPECT_EQ(keys_of(m), kMemberKeys) << m.dump();
      if (i > 1) {
        EXPECT_LT(members[i - 1]["nodeId"], m["nodeId"]);  // none twice, none out of order
      }
      const uint32_t id = m["nodeId"];
      if (m["detailsTruncated"] == true) ++cut_lists;
      if (touched.count(id) == 0) {
        bool found = false;
        for (const nlohmann::json& b : before["members"]) {
          if (b["nodeId"] == id) {
            EXPECT_EQ(b, m);
            found = true;
          }
        }
        EXPECT_TRUE(found) << id;
      }
    }
  }
  // The run did change the table under answers, API lists included.
  EXPECT_GT(changes, 300u);
  EXPECT_GT(cut_lists, 10u);
}

TEST_F(ChunkedAnswerTest, AnApiListChangedMidEntryEndsAndSaysTruncated) {
  add_member(1000);
  ChunkedAnswer a;
  ASSERT_EQ(start_chunked("/api/cluster/members", a), 200);
  std::string text;
  char buf[64];
  // Up to the peer's first API entry.
  while (text.find("\"api\":[{\"uri\"", text.find("esp_000003e8")) == std::string::npos) {
    const size_t n = a.fill(buf, 1);
    ASSERT_NE(n, 0u);
    text.append(buf, n);
  }
  ApiEndpoint e{};
  e.method = HttpMethod::kGet;
  std::strcpy(e.uri, "/new");
  ctx.members().set_api(1000, 999, &e, 1);
  std::vector<size_t> one{1};
  text += drain(a, one);
  ASSERT_TRUE(a.finished());
  const nlohmann::json m = nlohmann::json::parse(text)["members"][1];
  EXPECT_EQ(m["api"].size(), 1u);  // the entry already started, then no more
  EXPECT_EQ(m["api"][0]["uri"], "/api/node/status");
  EXPECT_EQ(m["detailsTruncated"], true);
  EXPECT_EQ(m["apiDigest"], 77);  // the copy's: the entry is the member as it was when it began
}

TEST_F(ChunkedAnswerTest, WorstCaseUnitsFitTheCarry) {
  // Every string at its longest and made only of bytes JSON escapes as \u00XX (6 bytes each;
  // the node's own URIs, printable by rule, of '"'): no unit of members, status or /metrics may outgrow SPORE_ANSWER_CARRY_BYTES.
  const std::string ctl_host(SPORE_MAX_HOSTNAME_LEN, '\x01');
  NodeContext big(cfg(), clock, rnd, sys, nullptr);
  ASSERT_TRUE(big.begin({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, ctl_host}));
  const uint8_t sha[32] = {1};
  big.set_firmware(std::string(SPORE_MAX_VERSION_LEN, '\x01'), sha);
  RestApi big_api(big);
  ASSERT_TRUE(big_api.begin());
  Metrics big_metrics(big, big_api);
  ASSERT_TRUE(big_metrics.begin());
  while (big.api().size() < SPORE_MAX_APIS) {
    // The registry takes printable ASCII only: '"' is the byte that grows most (2 bytes).
    std::string uri(SPORE_MAX_URI_LEN, '"');
    uri[0] = '/';
    uri[1] = static_cast<char>('a' + big.api().size());
    ASSERT_EQ(big.api().add(uri, HttpMethod::kDelete), ApiAddResult::kAdded);
  }
  static const char kSdk[] = "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01";
  sys.sdk = kSdk;
  for (uint32_t id = 0xFFFFFF00; id < 0xFFFFFF03; ++id) {
    ASSERT_NE(big.members().observe({id, 0xFFFFFFFF, 0xFFFFFFFF, 65535, ctl_host}, clock.now_ms()), nullptr);
    big.members().set_resources(id, MemberResources{0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 65535},
                                std::string(SPORE_MAX_VERSION_LEN, '\x01'));
    big.members().append_api(id, HttpMethod::kDelete, std::string(SPORE_MAX_URI_LEN, '\x01'));
    big.members().complete_api(id, 0xFFFFFFFF);
  }
  for (const char* path : {"/api/cluster/members", "/api/node/status", "/metrics"}) {
    SCOPED_TRACE(path);
    ChunkedAnswer a;
    HttpRequest req;
    req.method = HttpMethod::kGet;
    req.path = path;
    ASSERT_EQ(big_api.handle(req, a), 200);
    const std::string text = drain(a, {1});
    EXPECT_FALSE(a.failed());
    EXPECT_TRUE(a.finished());
    if (std::string_view(path) != "/metrics") {
      nlohmann::json j;
      ASSERT_NO_THROW(j = nlohmann::json::parse(text));
      if (std::string_view(path) == "/api/cluster/members") {
        ASSERT_EQ(j["members"].size(), 4u);
        EXPECT_EQ(j["members"][1]["api"][0]["uri"], std::string(SPORE_MAX_URI_LEN, '\x01'));
      }
    }
  }
}

TEST_F(ChunkedAnswerTest, AOnePieceAnswerLongerThanTheCarryIsA500NotATruncatedBody) {
  static int (*const kLong)(const HttpRequest&, JsonWriter&) = [](const HttpRequest&, JsonWriter& w) {
    w.begin_object().field("text", std::string_view(std::string(SPORE_ANSWER_CARRY_BYTES, 'x'))).end_object();
    return 200;
  };
  ASSERT_TRUE(api.add_route("/long", HttpMethod::kGet, RouteAuth::kPublic, kLong));
  ChunkedAnswer a;
  EXPECT_EQ(start_chunked("/long", a), 500);
  EXPECT_TRUE(a.failed());
  char buf[64];
  EXPECT_EQ(a.fill(buf, sizeof buf), 0u);
  EXPECT_FALSE(a.finished());
  EXPECT_EQ(api.response_counts().count(500), 1u);
  // The same route through a plain output is written whole, as before.
  int status = 0;
  EXPECT_EQ(nlohmann::json::parse(one_shot("/long", &status))["text"].get<std::string>().size(),
            size_t{SPORE_ANSWER_CARRY_BYTES});
  EXPECT_EQ(status, 200);
}

TEST_F(ChunkedAnswerTest, SmallAnswersGoOutWholeAndErrorsKeepTheirStatus) {
  for (const char* path : {"/api/node/challenge", "/nope"}) {
    ChunkedAnswer a;
    const int status = start_chunked(path, a);
    int whole_status = 0;
    const std::string whole = one_shot(path, &whole_status);
    EXPECT_EQ(status, whole_status);
    if (std::string_view(path) == "/nope") {
      EXPECT_EQ(drain(a, {7}), whole);
    } else {
      EXPECT_TRUE(nlohmann::json::accept(drain(a, {7})));
    }
    EXPECT_TRUE(a.finished());
  }
}

/// AsyncResponseStream's body buffer (ESPAsyncWebServer 3.12.0 WebResponses.cpp:908-948 over
/// core 3.1.2's cbuf): starts at 256 B; a write longer than room() (size - used - 1,
/// cbuf.cpp:81-86) first grows it by the shortfall (resizeAdd(), cbuf.cpp:33-67: a new buffer of
/// the new size, the old one freed only after the copy, so both are allocated at once).
class CbufGrowthModel : public JsonOutput {
 public:
  void write(const char*, size_t n) override {
    const size_t room = size - used - 1;
    if (n > room) {
      const size_t new_size = size + (n - room);
      if (size + new_size > peak) peak = size + new_size;
      copied += used;
      ++resizes;
      size = new_size;
    }
    used += n;
  }
  size_t size = 256, used = 0, peak = 256, copied = 0, resizes = 0;
};

TEST_F(ChunkedAnswerTest, HeapPerMembersAnswerAt32Members) {
  // The figures of platform/esp8266/README.md, "Answers in chunks": 32 members shaped like the
  // default ESP-01 image (its 9 endpoints, the core's SDK string), rendered whole into the old
  // response's growth model, and through a ChunkedAnswer in ESPAsyncWebServer's fill size.
  const char* uris[] = {"/api/node/status",    "/api/cluster/members", "/api/node/restart",
                        "/api/node/challenge", "/metrics",             "/api/cluster/events",
                        "/api/cluster/events/stream", "/api/node/update", "/"};
  const HttpMethod methods[] = {HttpMethod::kGet,  HttpMethod::kGet, HttpMethod::kPost,
                                HttpMethod::kGet,  HttpMethod::kGet, HttpMethod::kPost,
                                HttpMethod::kGet,  HttpMethod::kPost, HttpMethod::kGet};
  ApiEndpoint e[9]{};
  for (size_t k = 0; k < 9; ++k) {
    e[k].method = methods[k];
    std::strcpy(e[k].uri, uris[k]);
  }
  for (uint32_t i = 0; i < 32; ++i) {
    const uint32_t id = 0x00A1B2C3 + i * 0x1111;
    char host[32];
    std::snprintf(host, sizeof host, "esp_%08x", static_cast<unsigned>(id));
    ASSERT_NE(ctx.members().observe({id, 12, 0xC0A80164 + i, 80, host}, clock.now_ms()), nullptr);
    ctx.members().set_latency(id, 12);
    ctx.members().set_resources(id, MemberResources{31000, id, 1048576, 80}, "2.2.2-dev(38a443e)");
    ctx.members().set_api(id, 0x5EED5EED, e, 9);
  }
  CbufGrowthModel before;
  JsonWriter w(before);
  ctx.write_members_json(w);
  ASSERT_TRUE(w.complete());
  ChunkedAnswer after;
  ASSERT_EQ(start_chunked("/api/cluster/members", after), 200);
  // ESPAsyncWebServer's chunk: min(2 x TCP_MSS, TCP space) - 8 = 1064 B with lwIP's 536-B MSS.
  EXPECT_EQ(drain(after, {1064}).size(), before.used);
  std::printf("members answer at 32 members: %zu B (%zu B per member)\n", before.used, before.used / 33);
  std::printf("before (AsyncResponseStream): body buffer %zu B at the end, %zu B allocated at once during its last "
              "growth, %zu growths copying %zu B in all\n",
              before.size, before.peak, before.resizes, before.copied);
  std::printf("after (ChunkedAnswer): %zu B on this host, the same for any number of members\n", sizeof(ChunkedAnswer));
  EXPECT_GT(before.used, 20000u);
  EXPECT_GT(before.peak, 40000u);  // more than an ESP-01's whole free heap
}

bool incomplete_source(AnswerCursor& c, JsonWriter& w) {
  if (c.part++ == 0) {
    w.begin_object().field("a", 1);
    return true;
  }
  return false;  // never closes its object: a bug
}

bool oversized_source(AnswerCursor& c, JsonWriter& w) {
  if (c.part++ < 3) {
    w.begin_array();
    return true;
  }
  const std::string big(SPORE_ANSWER_CARRY_BYTES + 1, 'y');
  w.value(std::string_view(big));
  return false;
}

TEST(ChunkedAnswer, ASourceThatFailsNeverLooksComplete) {
  for (AnswerSource source : {AnswerSource(&incomplete_source), AnswerSource(&oversized_source)}) {
    ChunkedAnswer a;
    a.start(source, true);
    char buf[4096];
    size_t total = 0;
    for (size_t n; (n = a.fill(buf, 2)) != 0;) total += n;
    EXPECT_TRUE(a.failed());
    EXPECT_FALSE(a.finished());
    EXPECT_EQ(a.sent_bytes(), total);
    StringOutput whole;
    EXPECT_FALSE(write_whole_answer(source, whole, true));
  }
  ChunkedAnswer twice;
  twice.start(AnswerSource(&incomplete_source), false);
  twice.start(AnswerSource(&incomplete_source), false);
  EXPECT_TRUE(twice.failed());
}

}  // namespace
}  // namespace spore
