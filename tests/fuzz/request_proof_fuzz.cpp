// libFuzzer target for request proofs (core/spore/auth/request_auth.h, http_target.h): the
// `Authorization: Spore ...` parser, the canonical target, and RestApi's decision on a protected
// route (POST /api/node/restart) and on GET /api/node/challenge.
//
// Input: byte 0 = mode, then the request target, a NUL, the Authorization value, a NUL, the body.
// Mode bit 0: the harness first makes a VALID proof for (target, body) with the node's token and a
// nonce the node issued, then applies the input's Authorization bytes as an XOR mask over that
// header (so the fuzzer explores one-byte-off proofs, not only garbage); bit 1: bearer tokens
// refused; bits 2-3: how far the clock moves (0, 1 ms, the nonce lifetime, past it).
//
// Properties checked on every input, abort() on violation:
// - nothing crashes or reads out of bounds (ASan/UBSan in the fuzz preset);
// - canonical_target() is idempotent and reports the length it wrote;
// - a header parse_request_proof() accepts re-serializes to one it parses to the same bytes;
// - a request is allowed only with the right bearer token (while allowed) or with the exact valid
//   proof unmodified and fresh, and the same proof is never allowed twice;
// - the restart handler runs exactly when the answer is 202; every answer is one JSON object;
// - GET /api/node/challenge answers 200 or 400, with one JSON object.
//
// Seed corpus: tests/fuzz/corpus/request_proof/.

#include <bearssl/bearssl_hash.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_ports.h"
#include "spore/base/hex.h"
#include "spore/auth/http_target.h"
#include "spore/http/http_text.h"
#include "spore/node/node_context.h"
#include "spore/auth/request_auth.h"
#include "spore/http/rest_api.h"

namespace {

using spore::fuzz::StringOutput;

constexpr std::string_view kToken = "fuzz-token-0123456789abcdef";

void check(bool ok) {
  if (!ok) std::abort();
}

struct Node {
  spore::fuzz::SettableClock clock;
  spore::fuzz::CountingRandom random;
  spore::fuzz::FixedSystem system;
  spore::NodeContext ctx{spore::Config::fast(), clock, random, system, nullptr};
  spore::RestApi api{ctx};
  int restarts = 0;
  Node() {
    check(ctx.begin({0x0A1B2C3D, 7, 0x7F000001, "fuzz"}) && api.begin() && api.set_api_token(kToken));
    api.set_restart_handler(spore::Delegate<void()>::bind<Node, &Node::on_restart>(this));
  }
  void on_restart() { ++restarts; }
};

class StringSink : public spore::CanonicalSink {
 public:
  void append(const char* data, size_t size_bytes) override { text.append(data, size_bytes); }
  std::string text;
};

std::string canon(std::string_view target) {
  StringSink s;
  const size_t n = spore::canonical_target(target, s);
  check(n == s.text.size());
  return s.text;
}

std::string hex(const uint8_t* data, size_t n) {
  std::string s(2 * n, '\0');
  spore::hex_encode(data, n, s.data());
  return s;
}

bool json_object(const std::string& text) { return text.size() >= 2 && text.front() == '{' && text.back() == '}'; }

/// The proof `authorization` carries when its scheme is Spore (any case), as the node parses it.
bool proof_of(std::string_view authorization, spore::RequestProof* out) {
  const std::string_view v = spore::trim_ows(authorization);
  size_t sp = 0;
  while (sp < v.size() && !spore::is_ows(v[sp])) ++sp;
  return spore::ascii_iequals(v.substr(0, sp), "Spore") && spore::parse_request_proof(spore::trim_ows(v.substr(sp)), out);
}

bool same(const spore::RequestProof& a, const spore::RequestProof& b) {
  return std::string_view(reinterpret_cast<const char*>(&a), sizeof a) ==
         std::string_view(reinterpret_cast<const char*>(&b), sizeof b);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Node node;  // one node for the whole run: used nonces and the floor persist, as in a process
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t nul1 = input.find('\0');
  const std::string target = input.substr(0, nul1);
  const size_t nul2 = nul1 == std::string::npos ? std::string::npos : input.find('\0', nul1 + 1);
  std::string authorization =
      nul1 == std::string::npos ? std::string() : input.substr(nul1 + 1, nul2 == std::string::npos ? nul2 : nul2 - nul1 - 1);
  const std::string body = nul2 == std::string::npos ? std::string() : input.substr(nul2 + 1);

  const std::string once = canon(target);
  check(canon(once) == once);

  spore::RequestProof parsed;
  if (spore::parse_request_proof(authorization, &parsed)) {
    spore::RequestProof again;
    const std::string text = "nonce=" + hex(parsed.nonce, sizeof parsed.nonce) + ", sha256=" +
                             hex(parsed.sha256, 32) + ", proof=" + hex(parsed.proof, 32);
    check(spore::parse_request_proof(text, &again));
    check(same(again, parsed));
  }

  node.api.set_bearer_allowed((mode & 2) == 0);
  std::string valid;
  if (mode & 1) {
    uint8_t nonce[spore::kAuthNonceBytes], sha[32], proof[32];
    node.api.auth().issue_nonce(node.clock.now_ms(), nonce);
    br_sha256_context c;
    br_sha256_init(&c);
    br_sha256_update(&c, body.data(), body.size());
    br_sha256_out(&c, sha);
    spore::compute_request_proof(kToken, spore::HttpMethod::kPost, "/api/node/restart", 0x0A1B2C3D, nonce, sha, proof);
    valid = "Spore nonce=" + hex(nonce, sizeof nonce) + ", sha256=" + hex(sha, 32) + ", proof=" + hex(proof, 32);
    std::string masked = valid;
    for (size_t i = 0; i < authorization.size(); ++i) masked[i % masked.size()] ^= authorization[i];
    authorization = masked;
  }
  static constexpr uint32_t kSteps[] = {0, 1, SPORE_AUTH_NONCE_LIFETIME_MS, SPORE_AUTH_NONCE_LIFETIME_MS + 1};
  node.clock.now += kSteps[(mode >> 2) & 3];

  // What the node may accept: the bearer token (any scheme case, surrounding whitespace), or the
  // valid proof in any spelling the parser takes (hex case, quotes, order), while fresh.
  const std::string_view bearer = spore::trim_ows(authorization);
  const bool bearer_ok = (mode & 2) == 0 && bearer.size() > 7 && spore::ascii_iequals(bearer.substr(0, 7), "Bearer ") &&
                         spore::trim_ows(bearer.substr(7)) == kToken;
  spore::RequestProof presented, wanted;
  const bool proof_ok = (mode & 1) && ((mode >> 2) & 3) < 3 && proof_of(authorization, &presented) &&
                        proof_of(valid, &wanted) && same(presented, wanted);
  for (int attempt = 0; attempt < 2; ++attempt) {
    StringOutput out;
    spore::HttpResponseHeaders h;
    const int before = node.restarts;
    const int status =
        node.api.handle(spore::HttpRequest{spore::HttpMethod::kPost, "/api/node/restart", authorization, body, {}, {}}, out, &h);
    check(status == 202 || status == 400 || status == 401);
    check(json_object(out.text));
    check((status == 202) == (node.restarts == before + 1));
    // Allowed only with the right bearer token, or the exact fresh proof, once.
    if (status == 202) check(bearer_ok || (proof_ok && attempt == 0));
    if (proof_ok && attempt == 0) check(status == 202);
    if (status == 401) check(h.www_authenticate != nullptr);
  }

  StringOutput out;
  const std::string challenge = "/api/node/challenge" + (target.empty() || target[0] != '?' ? std::string() : target);
  const int status = node.api.handle(spore::HttpRequest{spore::HttpMethod::kGet, challenge, {}, {}, {}, {}}, out, nullptr);
  check((status == 200 || status == 400) && json_object(out.text));
  return 0;
}
