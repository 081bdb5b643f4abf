// Core's one HTTP admission policy (core/spore/device/http_admission.h), used by spored and the
// ESP8266: header fields and body framing (RFC 9112 §6.1-6.3), the order of the refusals before
// the body, the per-address cap and which connection a full server closes for a new one.

#include "spore/device/http_admission.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace spore {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;
using State = EvictionCandidate::State;

HttpHeadFields fields_of(const Fields& fields) {
  HttpHeadFields f;
  for (const auto& field : fields) f.add(field.first, field.second);
  return f;
}

HttpAdmissionLimits limits_of(size_t max_header_count = 100, size_t max_head_bytes = 16384) {
  HttpAdmissionLimits l;
  l.max_header_count = max_header_count;
  l.max_head_bytes = max_head_bytes;
  l.max_target_bytes = 160;
  l.max_query_params = 4;
  l.max_body_bytes = 384;
  l.max_connections = 4;
  l.max_connections_per_address = 3;
  return l;
}

HttpRefusal verdict_of(const HttpHeadFields& fields, size_t head_bytes = 100,
                       const HttpAdmissionLimits& limits = limits_of()) {
  HttpHeadFacts facts;
  facts.fields = &fields;
  facts.head_bytes = head_bytes;
  facts.target_bytes = 10;
  facts.content_length = fields.has_content_length() ? fields.content_length() : 0;
  return admit_head(facts, limits);
}

HttpRefusal verdict_of(const Fields& fields, size_t head_bytes = 100) {
  return verdict_of(fields_of(fields), head_bytes);
}

TEST(HttpAdmissionTest, PlainHeadsAndSingleFramingAreAccepted) {
  EXPECT_EQ(verdict_of({{"Host", "x"}, {"Accept", "*/*"}}), HttpRefusal::kNone);
  HttpHeadFields c = fields_of({{"Host", "x"}, {"content-LENGTH", "123"}});
  EXPECT_EQ(verdict_of(c), HttpRefusal::kNone);
  EXPECT_TRUE(c.has_content_length());
  EXPECT_EQ(c.content_length(), 123u);
  EXPECT_FALSE(c.chunked());
  c = fields_of({{"Transfer-Encoding", " Chunked\t"}});
  EXPECT_EQ(verdict_of(c), HttpRefusal::kNone);
  EXPECT_TRUE(c.chunked());
  EXPECT_FALSE(c.has_content_length());
  c = fields_of({{"Content-Length", "18446744073709551615"}});  // UINT64_MAX fits (then 413)
  EXPECT_TRUE(c.framing_problem().is_null());
  EXPECT_EQ(c.content_length(), UINT64_MAX);
  EXPECT_EQ(verdict_of(c), HttpRefusal::kPayloadTooLarge);
}

TEST(HttpAdmissionTest, AmbiguousFramingIsRefused) {
  // The request-smuggling pairs and everything a second parser could read differently.
  for (const Fields& f : std::vector<Fields>{
           {{"Content-Length", "2"}, {"Content-Length", "3"}},
           {{"Content-Length", "2"}, {"Content-Length", "2"}},  // equal duplicates too: one is enough
           {{"Content-Length", "2"}, {"Transfer-Encoding", "chunked"}},
           {{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}},
           {{"Transfer-Encoding", "gzip, chunked"}},
           {{"Transfer-Encoding", "identity"}},
           {{"Transfer-Encoding", ""}},
           {{"Content-Length", "-1"}},  // ESPAsyncWebServer's atoi() made it SIZE_MAX
           {{"Content-Length", "+5"}},
           {{"Content-Length", "5, 5"}},
           {{"Content-Length", "0x10"}},
           {{"Content-Length", ""}},
           {{"Content-Length", "18446744073709551616"}},  // UINT64_MAX + 1
           // ESPAsyncWebServer takes X-Expected-Entity-Length as the length, libmicrohttpd not.
           {{"X-Expected-Entity-Length", "5"}},
           {{"Content-Length", "5"}, {"x-expected-entity-length", "5"}},
       }) {
    HttpHeadFields c = fields_of(f);
    EXPECT_EQ(verdict_of(c), HttpRefusal::kBadFraming) << f[0].second;
    EXPECT_FALSE(c.framing_problem().is_null());
  }
  EXPECT_EQ(http_refusal_status(HttpRefusal::kBadFraming), 400);
  EXPECT_TRUE(http_refusal_code(HttpRefusal::kBadFraming).equals("bad_framing"));
}

TEST(HttpAdmissionTest, HeaderNamesWithSpacesOrControlsAreRefused) {
  EXPECT_EQ(verdict_of({{"Content-Length ", "5"}}), HttpRefusal::kBadHeaderName);
  EXPECT_EQ(verdict_of({{"X\tY", "1"}}), HttpRefusal::kBadHeaderName);
  EXPECT_EQ(verdict_of({{std::string("X\x01", 2), "1"}}), HttpRefusal::kBadHeaderName);
  EXPECT_EQ(verdict_of({{"", "1"}}), HttpRefusal::kBadHeaderName);
  EXPECT_TRUE(http_refusal_code(HttpRefusal::kBadHeaderName).equals("bad_request"));
}

TEST(HttpAdmissionTest, CountAndSizeLimitsComeFirst) {
  Fields many;
  for (int i = 0; i < 101; ++i) many.push_back({"X-" + std::to_string(i), "v"});
  EXPECT_EQ(verdict_of(many), HttpRefusal::kHeadersTooLarge);
  many.pop_back();
  EXPECT_EQ(verdict_of(many), HttpRefusal::kNone);
  EXPECT_EQ(verdict_of(many, 16385), HttpRefusal::kHeadersTooLarge);
  EXPECT_EQ(verdict_of(many, 16384), HttpRefusal::kNone);
  // 0: the head's size is bounded elsewhere (the ESP8266's head screen).
  EXPECT_EQ(verdict_of(fields_of(many), 99999, limits_of(100, 0)), HttpRefusal::kNone);
  // A head that is both too large and badly framed is refused as too large (431 before 400).
  EXPECT_EQ(verdict_of({{"Content-Length", "1"}, {"Content-Length", "2"}}, 20000), HttpRefusal::kHeadersTooLarge);
  EXPECT_EQ(http_refusal_status(HttpRefusal::kHeadersTooLarge), 431);
}

TEST(HttpAdmissionTest, TargetMediaTypeAndDeclaredLengthInThatOrder) {
  const HttpAdmissionLimits limits = limits_of();
  HttpHeadFacts f;
  f.target_bytes = 159;
  f.query_params = 4;
  EXPECT_EQ(admit_head(f, limits), HttpRefusal::kNone);
  f.target_bytes = 160;
  EXPECT_EQ(admit_head(f, limits), HttpRefusal::kUriTooLong);
  f.target_bytes = 10;
  f.query_params = 5;
  EXPECT_EQ(admit_head(f, limits), HttpRefusal::kUriTooLong);
  f.query_params = 0;
  // Form bodies only where the server library consumes them (refuse_form_bodies).
  f.content_type = "application/x-www-form-urlencoded; charset=utf-8";
  f.has_body = true;
  f.content_length = 9999;
  EXPECT_EQ(admit_head(f, limits), HttpRefusal::kPayloadTooLarge);
  HttpAdmissionLimits esp = limits;
  esp.refuse_form_bodies = true;
  EXPECT_EQ(admit_head(f, esp), HttpRefusal::kUnsupportedMediaType);  // 415 before 413
  f.content_type = "Multipart/form-data; boundary=x";
  EXPECT_EQ(admit_head(f, esp), HttpRefusal::kUnsupportedMediaType);
  f.upload = true;  // the update upload's multipart body, streamed: neither 415 nor 413
  EXPECT_EQ(admit_head(f, esp), HttpRefusal::kNone);
  f.upload = false;
  f.content_type = "application/json";
  f.content_length = 384;
  EXPECT_EQ(admit_head(f, esp), HttpRefusal::kNone);
  f.content_length = 385;
  EXPECT_EQ(admit_head(f, esp), HttpRefusal::kPayloadTooLarge);
  EXPECT_EQ(http_refusal_status(HttpRefusal::kUriTooLong), 414);
  EXPECT_EQ(http_refusal_status(HttpRefusal::kUnsupportedMediaType), 415);
  EXPECT_EQ(http_refusal_status(HttpRefusal::kPayloadTooLarge), 413);
  EXPECT_TRUE(http_refusal_code(HttpRefusal::kNone).equals(""));
}

TEST(HttpAdmissionTest, MediaTypes) {
  EXPECT_EQ(http_media_type(" text/plain ; charset=utf-8"), "text/plain");
  EXPECT_EQ(http_media_type(""), "");
  EXPECT_TRUE(is_multipart("MULTIPART/form-data"));
  EXPECT_FALSE(is_multipart("multipart"));
}

TEST(HttpAdmissionTest, AnAddressAtItsShareIsRefusedAFullServerEvicts) {
  const HttpAdmissionLimits limits = limits_of();  // 4 in all, 3 per address
  EXPECT_EQ(admit_connection(0, 0, limits), ConnectionAdmission::kAccept);
  EXPECT_EQ(admit_connection(2, 3, limits), ConnectionAdmission::kAccept);
  EXPECT_EQ(admit_connection(3, 3, limits), ConnectionAdmission::kAddressFull);
  EXPECT_EQ(admit_connection(0, 4, limits), ConnectionAdmission::kEvict);
  EXPECT_EQ(admit_connection(3, 4, limits), ConnectionAdmission::kAddressFull);  // the cap first
}

EvictionCandidate make(State state, uint32_t age_ms, size_t address_connections) {
  EvictionCandidate c;
  c.state = state;
  c.age_ms = age_ms;
  c.address_connections = address_connections;
  return c;
}

size_t choose(const std::vector<EvictionCandidate>& c, uint32_t min_age_ms = 500) {
  return choose_eviction(c.data(), c.size(), min_age_ms);
}

TEST(HttpAdmissionTest, NoCandidateIsNoVictim) { EXPECT_EQ(choose({}), 0u); }

TEST(HttpAdmissionTest, TheAddressHoldingTheMostGoesFirstWhateverItsState) {
  // A client's old slow head on its own address outlives an attacker's young idle body.
  EXPECT_EQ(choose({make(State::kHead, 9000, 1), make(State::kBody, 600, 16)}), 1u);
}

TEST(HttpAdmissionTest, AgedBeforeYoungThenHeadIdleBodyThenOldest) {
  // Same address weight: a connection past min_age goes before a young one...
  EXPECT_EQ(choose({make(State::kHead, 100, 2), make(State::kBody, 600, 2)}), 1u);
  // ...then a slow first head before an idle keep-alive connection before a body...
  EXPECT_EQ(choose({make(State::kBody, 900, 2), make(State::kIdle, 800, 2), make(State::kHead, 700, 2)}), 2u);
  EXPECT_EQ(choose({make(State::kBody, 900, 2), make(State::kIdle, 800, 2)}), 1u);
  // ...then the longest in its state.
  EXPECT_EQ(choose({make(State::kHead, 700, 2), make(State::kHead, 9000, 2), make(State::kHead, 800, 2)}), 1u);
  // All young: still the oldest (the new connection itself is never a candidate).
  EXPECT_EQ(choose({make(State::kHead, 10, 1), make(State::kHead, 30, 1)}), 1u);
}

HeadScreenSlot slot(uint32_t address, uint32_t accepted_ms) { return HeadScreenSlot{true, address, accepted_ms}; }
constexpr HeadScreenSlot kFree{false, 0, 0};

// The ESP8266 listener's four head screens (HttpListener::accept()): the per-address share, then
// eviction among the heads when all are taken.
TEST(HttpAdmissionTest, AHeadTakesAFreeScreenOrEvictsByThePolicy) {
  const HttpAdmissionLimits limits = limits_of();  // 4 in all, 3 per address
  bool evict = true;
  const uint32_t a = 0x0A000001, b = 0x0A000002, c = 0x0A000003;
  const uint32_t now = 10000;
  std::vector<HeadScreenSlot> s = {slot(a, 100), kFree, slot(b, 200), kFree};
  EXPECT_EQ(place_head(s.data(), s.size(), c, now, 500, limits, &evict), 1u);
  EXPECT_FALSE(evict);
  // An address holding 3 screens gets no fourth, free or not.
  s = {slot(a, 100), slot(a, 200), kFree, slot(a, 300)};
  EXPECT_EQ(place_head(s.data(), s.size(), a, now, 500, limits, &evict), s.size());
  EXPECT_FALSE(evict);
  EXPECT_EQ(place_head(s.data(), s.size(), b, now, 500, limits, &evict), 2u);
  // All taken: a client from another address displaces the oldest head of the address holding
  // the most (before, the newcomer was reset: four slow heads kept every client out).
  s = {slot(b, 100), slot(a, 9000), slot(a, 8000), slot(a, 9500)};
  EXPECT_EQ(place_head(s.data(), s.size(), c, now, 500, limits, &evict), 2u);
  EXPECT_TRUE(evict);
  // An aged head before a young one, whatever their order.
  s = {slot(a, 9800), slot(b, 9900), slot(c, 5000), slot(0x0A000004, 9990)};
  EXPECT_EQ(place_head(s.data(), s.size(), 0x0A000005, now, 500, limits, &evict), 2u);
  EXPECT_TRUE(evict);
  // The address at its share is refused even when all screens are taken (nothing evicted).
  s = {slot(a, 100), slot(a, 200), slot(a, 300), slot(b, 400)};
  EXPECT_EQ(place_head(s.data(), s.size(), a, now, 500, limits, &evict), s.size());
  EXPECT_FALSE(evict);
  EXPECT_EQ(place_head(s.data(), 0, a, now, 500, limits, &evict), 0u);  // no screens at all
  EXPECT_FALSE(evict);
}

}  // namespace
}  // namespace spore
