// Tests for spore::ApiRegistry: validation, capacity, the order-independent digest peers compare
// every heartbeat, and the seed's JSON shape.

#include "spore/cluster/api_registry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <initializer_list>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "spore/base/json_writer.h"

namespace spore {
namespace {

using nlohmann::json;

class StringOutput : public JsonOutput {
 public:
  void write(const char* data, size_t size_bytes) override { text.append(data, size_bytes); }
  std::string text;
};

std::string uri_n(size_t n) { return "/" + std::string(n - 1, 'a'); }

TEST(HttpMethodTest, NamesRoundTrip) {
  const HttpMethod all[] = {HttpMethod::kGet, HttpMethod::kPost, HttpMethod::kPut, HttpMethod::kDelete,
                            HttpMethod::kPatch};
  const char* names[] = {"GET", "POST", "PUT", "DELETE", "PATCH"};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_STREQ(http_method_name(all[i]), names[i]);
    HttpMethod parsed = HttpMethod::kGet;
    ASSERT_TRUE(parse_http_method(names[i], &parsed)) << names[i];
    EXPECT_EQ(parsed, all[i]);
  }
}

TEST(HttpMethodTest, OutOfRangeAndUnknown) {
  EXPECT_STREQ(http_method_name(static_cast<HttpMethod>(0)), "?");
  EXPECT_STREQ(http_method_name(static_cast<HttpMethod>(6)), "?");
  EXPECT_STREQ(http_method_name(static_cast<HttpMethod>(255)), "?");
  HttpMethod m = HttpMethod::kPatch;
  for (const char* bad : {"get", "Get", "", " GET", "GET ", "GETS", "HEAD", "OPTIONS", "?"}) {
    EXPECT_FALSE(parse_http_method(bad, &m)) << bad;
    EXPECT_EQ(m, HttpMethod::kPatch);  // untouched on failure
  }
  EXPECT_FALSE(parse_http_method(std::string_view("GET\0", 4), &m));
}

TEST(ApiRegistryTest, AddKeepsRegistrationOrder) {
  ApiRegistry r;
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(r.begin(), r.end());
  EXPECT_EQ(r.add("/api/node/status", HttpMethod::kGet), ApiAddResult::kAdded);
  EXPECT_EQ(r.add("/api/node/update", HttpMethod::kPost), ApiAddResult::kAdded);
  EXPECT_EQ(r.add("/api/node/status", HttpMethod::kPost), ApiAddResult::kAdded);  // other method
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r.at(0).uri_view(), "/api/node/status");
  EXPECT_EQ(r.at(0).method, HttpMethod::kGet);
  EXPECT_EQ(r.at(1).uri_view(), "/api/node/update");
  EXPECT_EQ(r.at(2).method, HttpMethod::kPost);
  EXPECT_STREQ(r.at(1).uri, "/api/node/update");
  size_t n = 0;
  for (const ApiEndpoint& e : r) {
    EXPECT_EQ(&e, &r.at(n));
    ++n;
  }
  EXPECT_EQ(n, 3u);
}

TEST(ApiRegistryTest, DuplicateIsIgnored) {
  ApiRegistry r;
  ASSERT_EQ(r.add("/a", HttpMethod::kGet), ApiAddResult::kAdded);
  uint32_t d = r.digest();
  EXPECT_EQ(r.add("/a", HttpMethod::kGet), ApiAddResult::kDuplicate);
  EXPECT_EQ(r.size(), 1u);
  EXPECT_EQ(r.digest(), d);
}

TEST(ApiRegistryTest, FullRefusesNewButStillReportsDuplicates) {
  ApiRegistry r;
  for (int i = 0; i < SPORE_MAX_APIS; ++i) {
    ASSERT_EQ(r.add("/e" + std::to_string(i), HttpMethod::kGet), ApiAddResult::kAdded) << i;
  }
  uint32_t d = r.digest();
  EXPECT_EQ(r.add("/one-more", HttpMethod::kGet), ApiAddResult::kFull);
  EXPECT_EQ(r.add("/e0", HttpMethod::kGet), ApiAddResult::kDuplicate);
  EXPECT_EQ(r.add("bad", HttpMethod::kGet), ApiAddResult::kBadUri);
  EXPECT_EQ(r.size(), static_cast<size_t>(SPORE_MAX_APIS));
  EXPECT_EQ(r.digest(), d);
}

TEST(ApiRegistryTest, BadUrisAreRefused) {
  ApiRegistry r;
  const std::string bad[] = {
      "",                            // empty
      "api/node/status",             // no leading slash
      "/api/node status",            // space
      "/api/\tx",                    // control
      std::string("/a\0b", 4),       // embedded NUL
      "/api/\x7f",                   // DEL
      "/caf\xC3\xA9",                // non-ASCII
      uri_n(SPORE_MAX_URI_LEN + 1),  // one byte too long
      uri_n(200),
  };
  for (const std::string& u : bad) {
    EXPECT_EQ(r.add(u, HttpMethod::kGet), ApiAddResult::kBadUri) << u;
  }
  EXPECT_EQ(r.add("/ok", static_cast<HttpMethod>(0)), ApiAddResult::kBadUri);
  EXPECT_EQ(r.add("/ok", static_cast<HttpMethod>(9)), ApiAddResult::kBadUri);
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(r.digest(), ApiRegistry::kEmptyDigest);
}

TEST(ApiRegistryTest, BoundaryUrisAreAccepted) {
  ApiRegistry r;
  std::string longest = uri_n(SPORE_MAX_URI_LEN);
  EXPECT_EQ(r.add("/", HttpMethod::kGet), ApiAddResult::kAdded);
  EXPECT_EQ(r.add(longest, HttpMethod::kGet), ApiAddResult::kAdded);
  EXPECT_EQ(r.add("/!~?q=1&x=%20#frag", HttpMethod::kGet), ApiAddResult::kAdded);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r.at(1).uri_view(), longest);
  EXPECT_EQ(r.at(1).uri_view().size(), static_cast<size_t>(SPORE_MAX_URI_LEN));
}

TEST(ApiRegistryTest, EmptyDigestIsTheFnvOffsetBasis) {
  ApiRegistry r;
  EXPECT_EQ(r.digest(), 0x811C9DC5u);
  EXPECT_EQ(ApiRegistry::kEmptyDigest, 0x811C9DC5u);
}

// Pinned values: FNV-1a 32 over the sorted lines, computed independently (Python) when the
// algorithm was written. If these change, every deployed peer would see a different digest for
// the same endpoint set and refetch needlessly: change them only with a protocol version bump.
TEST(ApiRegistryTest, DigestIsPinned) {
  ApiRegistry one;
  one.add("/api/node/status", HttpMethod::kGet);
  EXPECT_EQ(one.digest(), 0x30C20718u);  // fnv1a("GET /api/node/status\n")

  ApiRegistry seed;
  seed.add("/api/node/status", HttpMethod::kGet);
  seed.add("/api/node/update", HttpMethod::kPost);
  seed.add("/api/node/restart", HttpMethod::kPost);
  seed.add("/api/cluster/members", HttpMethod::kGet);
  // fnv1a("GET /api/cluster/members\nGET /api/node/status\nPOST /api/node/restart\n"
  //       "POST /api/node/update\n")
  EXPECT_EQ(seed.digest(), 0x160AE8C6u);
}

TEST(ApiRegistryTest, DigestIgnoresRegistrationOrder) {
  struct E {
    const char* uri;
    HttpMethod m;
  };
  E entries[] = {{"/api/node/status", HttpMethod::kGet},
                 {"/api/node/update", HttpMethod::kPost},
                 {"/api/node/restart", HttpMethod::kPost},
                 {"/api/cluster/members", HttpMethod::kGet},
                 {"/a", HttpMethod::kDelete},
                 {"/a/b", HttpMethod::kDelete},
                 {"/a", HttpMethod::kPut},
                 {"/a", HttpMethod::kPatch}};
  std::sort(std::begin(entries), std::end(entries), [](const E& x, const E& y) {
    return std::string(x.uri) < y.uri || (std::string(x.uri) == y.uri && x.m < y.m);
  });
  uint32_t first = 0;
  int permutations = 0;
  do {
    ApiRegistry r;
    for (const E& e : entries) ASSERT_EQ(r.add(e.uri, e.m), ApiAddResult::kAdded);
    if (permutations == 0) first = r.digest();
    ASSERT_EQ(r.digest(), first);
    ++permutations;
  } while (std::next_permutation(std::begin(entries), std::end(entries),
                                 [](const E& x, const E& y) {
                                   return std::string(x.uri) < y.uri ||
                                          (std::string(x.uri) == y.uri && x.m < y.m);
                                 }) &&
           permutations < 5000);
  EXPECT_EQ(permutations, 5000);
  EXPECT_NE(first, ApiRegistry::kEmptyDigest);
}

TEST(ApiRegistryTest, DigestChangesWithMethodOrUri) {
  auto digest_of = [](std::initializer_list<std::pair<const char*, HttpMethod>> list) {
    ApiRegistry r;
    for (const auto& [uri, m] : list) r.add(uri, m);
    return r.digest();
  };
  uint32_t base = digest_of({{"/api/node/status", HttpMethod::kGet}, {"/x", HttpMethod::kPost}});
  EXPECT_NE(base, digest_of({{"/api/node/status", HttpMethod::kPost}, {"/x", HttpMethod::kPost}}));
  EXPECT_NE(base, digest_of({{"/api/node/statuS", HttpMethod::kGet}, {"/x", HttpMethod::kPost}}));
  EXPECT_NE(base, digest_of({{"/api/node/status", HttpMethod::kGet}, {"/x/", HttpMethod::kPost}}));
  EXPECT_NE(base, digest_of({{"/api/node/status", HttpMethod::kGet}}));
  EXPECT_NE(base, digest_of({{"/api/node/status", HttpMethod::kGet},
                             {"/x", HttpMethod::kPost},
                             {"/y", HttpMethod::kGet}}));
  // Line framing keeps concatenations apart: "/a" + "/b" is not "/a/b".
  EXPECT_NE(digest_of({{"/a", HttpMethod::kGet}, {"/b", HttpMethod::kGet}}),
            digest_of({{"/a/b", HttpMethod::kGet}}));
}

TEST(ApiRegistryTest, WriteJsonMatchesSeedShape) {
  ApiRegistry r;
  r.add("/api/node/status", HttpMethod::kGet);
  r.add("/api/node/update", HttpMethod::kPost);
  StringOutput out;
  JsonWriter w(out);
  w.begin_object().key("api");
  r.write_json(w);
  w.end_object();
  ASSERT_TRUE(w.complete());
  EXPECT_EQ(
      out.text,
      R"({"api":[{"uri":"/api/node/status","method":"GET"},{"uri":"/api/node/update","method":"POST"}]})");
  json expected = json::parse(R"({"api": [{"uri": "/api/node/status", "method": "GET"},
                                          {"uri": "/api/node/update", "method": "POST"}]})");
  EXPECT_EQ(json::parse(out.text), expected);
}

TEST(ApiRegistryTest, WriteJsonEmptyAndFull) {
  ApiRegistry r;
  {
    StringOutput out;
    JsonWriter w(out);
    r.write_json(w);
    ASSERT_TRUE(w.complete());
    EXPECT_EQ(out.text, "[]");
  }
  for (int i = 0; i < SPORE_MAX_APIS; ++i)
    r.add(uri_n(SPORE_MAX_URI_LEN - 2) + std::to_string(i % 10) + std::to_string(i / 10),
          HttpMethod::kDelete);
  ASSERT_EQ(r.size(), static_cast<size_t>(SPORE_MAX_APIS));
  StringOutput out;
  JsonWriter w(out);
  r.write_json(w);
  ASSERT_TRUE(w.complete());
  json j = json::parse(out.text);
  ASSERT_EQ(j.size(), static_cast<size_t>(SPORE_MAX_APIS));
  for (size_t i = 0; i < j.size(); ++i) {
    EXPECT_EQ(j[i]["uri"], std::string(r.at(i).uri_view()));
    EXPECT_EQ(j[i]["method"], "DELETE");
  }
}

}  // namespace
}  // namespace spore
