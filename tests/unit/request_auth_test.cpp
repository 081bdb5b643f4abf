#include "spore/auth/request_auth.h"

#include <bearssl/bearssl_hash.h>
#include <gtest/gtest.h>

#include <string>

#include "fakes.h"
#include "spore/base/hex.h"

namespace spore {
namespace {

constexpr std::string_view kToken = "3f9c2b7e0d4a41c6a5e8b1f2c3d4e5f6";
constexpr uint32_t kNode = 0x0a1b2c3d;
constexpr uint32_t kIncarnation = 7 << 16;

std::string hex(const uint8_t* data, size_t n) {
  std::string s(2 * n, '\0');
  hex_encode(data, n, s.data());
  return s;
}

void sha256(std::string_view data, uint8_t (&out)[32]) {
  br_sha256_context c;
  br_sha256_init(&c);
  br_sha256_update(&c, data.data(), data.size());
  br_sha256_out(&c, out);
}

// Known answers computed independently (Python's hmac module, docs/security.md shows the script),
// so a change of the byte format breaks here, not only between the CLI and the node.
TEST(RequestProofFormatTest, KnownAnswers) {
  uint8_t nonce[kAuthNonceBytes];
  for (size_t i = 0; i < sizeof nonce; ++i) nonce[i] = static_cast<uint8_t>(i);
  uint8_t body[32], out[32];
  sha256("", body);
  compute_request_proof(kToken, HttpMethod::kPost, "/api/node/restart", kNode, nonce, body, out);
  EXPECT_EQ(hex(out, 32), "399fad79552249ce4645fc732da4a6b830b7c76f64a624dae59d80b3e63a354b");
  sha256("ring", body);
  // The target is signed in canonical form: both spellings give the one answer.
  compute_request_proof(kToken, HttpMethod::kPost, "/api/cluster/events?topic=door/bell", kNode, nonce, body, out);
  EXPECT_EQ(hex(out, 32), "b5d4dbda39f8d8ffab9680f415234bffc0112cf3bc2a9e7747c3d97a82a4e560");
  compute_request_proof(kToken, HttpMethod::kPost, "/api/cluster/events?topic=door%2fbell", kNode, nonce, body, out);
  EXPECT_EQ(hex(out, 32), "b5d4dbda39f8d8ffab9680f415234bffc0112cf3bc2a9e7747c3d97a82a4e560");
  compute_node_proof(kToken, kNode, nonce, "00112233445566778899aabbccddeeff", "192.168.1.20:80", out);
  EXPECT_EQ(hex(out, 32), "ba8908c7438ea567024f847a36f8ac52d9499adbad7c4b344b3899b2fdd35db6");
}

TEST(RequestProofFormatTest, ParsesTheHeaderStrictly) {
  const std::string n(40, 'a'), s(64, 'b'), p(64, 'C');
  RequestProof out;
  EXPECT_TRUE(parse_request_proof("nonce=" + n + ", sha256=" + s + ", proof=" + p, &out));
  EXPECT_EQ(out.nonce[0], 0xaa);
  EXPECT_EQ(out.sha256[31], 0xbb);
  EXPECT_EQ(out.proof[5], 0xcc);
  EXPECT_TRUE(parse_request_proof("nonce=" + n + ",sha256=" + s + ", \tproof=" + p, &out));
  for (const std::string& bad : {
           std::string(),
           "nonce=" + n + ", sha256=" + s,                                       // proof missing
           "nonce=" + n + ", sha256=" + s + ", proof=" + p + ", x=1",            // unknown parameter
           "proof=" + p + ", nonce=" + n + ", sha256=" + s,                      // another order
           "nonce=\"" + n + "\", sha256=" + s + ", proof=" + p,                  // quoted
           "nonce=" + n.substr(2) + ", sha256=" + s + ", proof=" + p,            // short
           "nonce=" + n + "0, sha256=" + s + ", proof=" + p,                     // long
           "nonce=" + n + ", sha256=" + s + ", proof=" + p + ",",                // trailing comma
           "nonce=" + n + " , sha256=" + s + ", proof=" + p,                     // space before comma
           "NONCE=" + n + ", sha256=" + s + ", proof=" + p,                      // names are lower case
           "nonce=" + n + ", sha256=" + s + ", proof=" + p.substr(0, 63) + "g",  // not hex
       }) {
    EXPECT_FALSE(parse_request_proof(bad, &out)) << bad;
  }
}

class RequestAuthTest : public ::testing::Test {
 protected:
  RequestAuthTest() {
    EXPECT_TRUE(auth.set_token(kToken));
    auth.begin(rnd, kIncarnation);
  }

  /// A client's request: nonce from the node, proof over `signed_body`, `sent_body` on the wire.
  std::string header(const uint8_t (&nonce)[kAuthNonceBytes], std::string_view target, std::string_view signed_body,
                     uint32_t node = kNode, HttpMethod method = HttpMethod::kPost, std::string_view token = kToken) {
    uint8_t body_sha[32], proof[32];
    sha256(signed_body, body_sha);
    compute_request_proof(token, method, target, node, nonce, body_sha, proof);
    return "Spore nonce=" + hex(nonce, sizeof nonce) + ", sha256=" + hex(body_sha, 32) + ", proof=" + hex(proof, 32);
  }
  AuthVerdict check(const std::string& authorization, std::string_view target, std::string_view body,
                    HttpMethod method = HttpMethod::kPost) {
    AuthRequest r;
    r.method = method;
    r.target = target;
    r.authorization = authorization;
    r.body = &body;
    return auth.check(r, kNode, clock.now_ms()).verdict;
  }
  AuthVerdict restart(const std::string& authorization) { return check(authorization, "/api/node/restart", ""); }

  testing::FakeClock clock{5000};
  testing::FakeRandom rnd;
  RequestAuth auth;
};

TEST_F(RequestAuthTest, AProofIsAcceptedOnceAndOnlyForWhatItSigned) {
  uint8_t nonce[kAuthNonceBytes];
  auth.issue_nonce(clock.now_ms(), nonce);
  const std::string good = header(nonce, "/api/node/restart", "");
  // Anything it was not made for fails, and does not spend the nonce.
  EXPECT_EQ(check(good, "/api/node/update", ""), AuthVerdict::kInvalid);
  EXPECT_EQ(check(good, "/api/node/restart?x=1", ""), AuthVerdict::kInvalid);
  EXPECT_EQ(check(good, "/api/node/restart", "", HttpMethod::kPut), AuthVerdict::kInvalid);
  EXPECT_EQ(restart(header(nonce, "/api/node/restart", "", kNode + 1)), AuthVerdict::kInvalid);
  EXPECT_EQ(restart(header(nonce, "/api/node/restart", "", kNode, HttpMethod::kPost, "other-token")),
            AuthVerdict::kInvalid);
  EXPECT_EQ(restart(good), AuthVerdict::kOk);
  // Replayed: refused, at any later time.
  EXPECT_EQ(restart(good), AuthVerdict::kStale);
  clock.advance(1000);
  EXPECT_EQ(restart(good), AuthVerdict::kStale);
  EXPECT_EQ(auth.accepted_count(), 1u);
}

TEST_F(RequestAuthTest, TheBodyMustBeTheSignedOne) {
  uint8_t nonce[kAuthNonceBytes];
  auth.issue_nonce(clock.now_ms(), nonce);
  const std::string h = header(nonce, "/api/cluster/events?topic=light", "on");
  EXPECT_EQ(check(h, "/api/cluster/events?topic=light", "off"), AuthVerdict::kDigestMismatch);
  // The nonce is spent: a relay cannot try again with another body.
  EXPECT_EQ(check(h, "/api/cluster/events?topic=light", "on"), AuthVerdict::kStale);
}

TEST_F(RequestAuthTest, AStreamedBodyHandsBackTheDeclaredDigest) {
  uint8_t nonce[kAuthNonceBytes];
  auth.issue_nonce(clock.now_ms(), nonce);
  const std::string h = header(nonce, "/api/node/update", "IMAGE");
  AuthRequest r;
  r.method = HttpMethod::kPost;
  r.target = "/api/node/update";
  r.authorization = h;
  const AuthDecision d = auth.check(r, kNode, clock.now_ms());
  EXPECT_EQ(d.verdict, AuthVerdict::kOk);
  ASSERT_TRUE(d.has_declared);
  uint8_t want[32];
  sha256("IMAGE", want);
  EXPECT_EQ(hex(d.declared_sha256, 32), hex(want, 32));
}

TEST_F(RequestAuthTest, NoncesExpireAndDieWithTheBoot) {
  uint8_t nonce[kAuthNonceBytes];
  auth.issue_nonce(clock.now_ms(), nonce);
  const std::string h = header(nonce, "/api/node/restart", "");
  clock.advance(SPORE_AUTH_NONCE_LIFETIME_MS + 1);
  EXPECT_EQ(restart(h), AuthVerdict::kStale);

  // A node that restarted (new salt) refuses nonces of its previous life, even at the same uptime.
  RequestAuth before;
  ASSERT_TRUE(before.set_token(kToken));
  testing::FakeRandom other_rnd(99);
  before.begin(other_rnd, kIncarnation - 1);
  uint8_t old_nonce[kAuthNonceBytes];
  before.issue_nonce(clock.now_ms(), old_nonce);
  EXPECT_EQ(restart(header(old_nonce, "/api/node/restart", "")), AuthVerdict::kStale);
  // ...also where the random source gave the same salt at start (an ESP8266 before its radio is
  // on): the incarnation, which grows with every boot, still tells the boots apart.
  RequestAuth same_rng;
  ASSERT_TRUE(same_rng.set_token(kToken));
  testing::FakeRandom same_seed;  // the seed this fixture's node drew its salt from
  same_rng.begin(same_seed, kIncarnation - 1);
  same_rng.issue_nonce(clock.now_ms(), old_nonce);
  EXPECT_EQ(restart(header(old_nonce, "/api/node/restart", "")), AuthVerdict::kStale);

  // A nonce from the future (a forged issue time) never verifies either: its mac does not match.
  auth.issue_nonce(clock.now_ms(), nonce);
  nonce[3] ^= 1;
  EXPECT_EQ(restart(header(nonce, "/api/node/restart", "")), AuthVerdict::kStale);
  EXPECT_GE(auth.stale_count(), 3u);
}

TEST_F(RequestAuthTest, AFullUsedTableRaisesAFloorInsteadOfForgetting) {
  // Nonces fetched first, used later and in another order: the oldest ones fall below the floor
  // once the table overflows, and are refused rather than forgotten (which would allow a replay).
  constexpr size_t kN = SPORE_MAX_AUTH_NONCES + 3;
  uint8_t nonces[kN][kAuthNonceBytes];
  for (size_t i = 0; i < kN; ++i) {
    auth.issue_nonce(clock.now_ms(), nonces[i]);
    clock.advance(10);
  }
  std::string headers[kN];
  for (size_t i = 0; i < kN; ++i) headers[i] = header(nonces[i], "/api/node/restart", "");
  for (size_t i = 0; i < kN; ++i) EXPECT_EQ(restart(headers[i]), AuthVerdict::kOk) << i;
  for (size_t i = 0; i < kN; ++i) EXPECT_EQ(restart(headers[i]), AuthVerdict::kStale) << i;
  // Fresh nonces keep working however many were used.
  for (int round = 0; round < 3 * SPORE_MAX_AUTH_NONCES; ++round) {
    uint8_t n[kAuthNonceBytes];
    auth.issue_nonce(clock.now_ms(), n);
    EXPECT_EQ(restart(header(n, "/api/node/restart", "")), AuthVerdict::kOk) << round;
    clock.advance(1);
  }
}

TEST_F(RequestAuthTest, BearerTokensWhileAllowed) {
  EXPECT_EQ(restart("Bearer " + std::string(kToken)), AuthVerdict::kOk);
  EXPECT_EQ(restart("bearer   " + std::string(kToken) + "  "), AuthVerdict::kOk);
  EXPECT_EQ(restart("Bearer nope"), AuthVerdict::kInvalid);
  EXPECT_EQ(restart("Bearer"), AuthVerdict::kScheme);
  EXPECT_EQ(restart("Basic dXNlcjpwYXNz"), AuthVerdict::kScheme);
  EXPECT_EQ(restart(""), AuthVerdict::kMissing);
  EXPECT_EQ(restart("Spore nonce=1"), AuthVerdict::kMalformed);
  auth.set_bearer_allowed(false);
  EXPECT_EQ(restart("Bearer " + std::string(kToken)), AuthVerdict::kBearerRefused);
  uint8_t nonce[kAuthNonceBytes];
  auth.issue_nonce(clock.now_ms(), nonce);
  EXPECT_EQ(restart(header(nonce, "/api/node/restart", "")), AuthVerdict::kOk);
}

TEST_F(RequestAuthTest, WithoutATokenEverythingIsAllowed) {
  ASSERT_TRUE(auth.set_token(""));
  EXPECT_EQ(restart(""), AuthVerdict::kOk);
  EXPECT_EQ(restart("Bearer whatever"), AuthVerdict::kOk);
}

TEST_F(RequestAuthTest, ANewTokenInvalidatesOutstandingNonces) {
  uint8_t nonce[kAuthNonceBytes];
  auth.issue_nonce(clock.now_ms(), nonce);
  ASSERT_TRUE(auth.set_token("another-token-0123456789"));
  EXPECT_EQ(restart(header(nonce, "/api/node/restart", "", kNode, HttpMethod::kPost, "another-token-0123456789")),
            AuthVerdict::kStale);
  EXPECT_FALSE(auth.set_token("bad token"));
  EXPECT_FALSE(auth.set_token(std::string(SPORE_MAX_TOKEN_LEN + 1, 'a')));
}

TEST_F(RequestAuthTest, NodeProofBindsEverything) {
  uint8_t nonce[kAuthNonceBytes], a[32], b[32];
  auth.issue_nonce(clock.now_ms(), nonce);
  const char* here = "10.0.0.5:80";
  auth.node_proof(kNode, nonce, "00112233445566778899aabbccddeeff", here, a);
  compute_node_proof(kToken, kNode, nonce, "00112233445566778899aabbccddeeff", here, b);
  EXPECT_EQ(hex(a, 32), hex(b, 32));
  compute_node_proof(kToken, kNode + 1, nonce, "00112233445566778899aabbccddeeff", here, b);
  EXPECT_NE(hex(a, 32), hex(b, 32));
  compute_node_proof(kToken, kNode, nonce, "00112233445566778899aabbccddeefe", here, b);
  EXPECT_NE(hex(a, 32), hex(b, 32));
  // The address binds the answer to the connection: a relay's challenge, answered by the real
  // node on its own address, does not pass for the relay's.
  compute_node_proof(kToken, kNode, nonce, "00112233445566778899aabbccddeeff", "10.0.0.9:80", b);
  EXPECT_NE(hex(a, 32), hex(b, 32));
  // A node proof is never a request proof for anything: the domain prefixes differ.
  EXPECT_EQ(restart("Spore nonce=" + hex(nonce, sizeof nonce) + ", sha256=" + std::string(64, '0') +
                    ", proof=" + hex(a, 32)),
            AuthVerdict::kInvalid);
}

}  // namespace
}  // namespace spore
