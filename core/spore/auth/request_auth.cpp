#include "spore/auth/request_auth.h"

#include <bearssl/bearssl_hash.h>
#include <bearssl/bearssl_hmac.h>

#include <cstring>

#include "spore/base/bytes.h"
#include "spore/base/hex.h"
#include "spore/auth/hmac_sha256.h"
#include "spore/auth/http_target.h"
#include "spore/http/http_text.h"
#include "spore/base/ports.h"

namespace spore {

namespace {

constexpr std::string_view kProofDomain = "SPORE-HMAC-SHA256\n";
constexpr std::string_view kNodeProofDomain = "SPORE-NODE-PROOF\n";
constexpr std::string_view kNonceDomain = "SPORE-NONCE\n";

bool is_token68_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}

/// HMAC-SHA256 keyed with the token, fed in pieces. The key context lives on the stack only while
/// a proof is computed (no 132-byte keyed state kept per node).
class TokenMac final : public CanonicalSink {
 public:
  TokenMac(std::string_view token, std::string_view domain) {
    br_hmac_key_init(&key_, &br_sha256_vtable, token.data(), token.size());
    br_hmac_init(&ctx_, &key_, 0);
    text(domain);
  }
  void append(const char* data, size_t size_bytes) override { br_hmac_update(&ctx_, data, size_bytes); }
  void text(std::string_view s) { append(s.data(), s.size()); }
  /// `size_bytes` bytes as lower-case hex, then a newline when `newline`.
  void hex(const uint8_t* data, size_t size_bytes, bool newline) {
    char pair[3];
    for (size_t i = 0; i < size_bytes; ++i) {
      hex_encode(data + i, 1, pair);
      append(pair, 2);
    }
    if (newline) append("\n", 1);
  }
  void node_id(uint32_t id) {
    uint8_t be[4];
    store_be32(id, be);
    hex(be, sizeof be, true);
  }
  void finish(uint8_t (&out)[32]) { br_hmac_out(&ctx_, out); }

 private:
  br_hmac_key_context key_{};
  br_hmac_context ctx_{};
};

/// Whether `body` hashes to `sha256`. Its own frame, not inlined: the SHA-256 context (~110 B) is
/// then never on the stack together with the HMAC contexts of the proof check (the ESP8266 runs
/// it in the web server's callbacks, on the small system stack).
__attribute__((noinline)) bool body_matches(std::string_view body, const uint8_t (&sha256)[32]) {
  uint8_t actual[32];
  br_sha256_context sha;
  br_sha256_init(&sha);
  br_sha256_update(&sha, body.data(), body.size());
  br_sha256_out(&sha, actual);
  return std::memcmp(actual, sha256, sizeof actual) == 0;
}

}  // namespace

bool parse_request_proof(std::string_view params, RequestProof* out) {
  // One fixed form, the one every SPORE client writes: a general auth-param parser (any order,
  // quoted values) cost ~400 B more of the ESP8266's flash and bought nothing.
  static constexpr const char* kNames[] = {"nonce=", "sha256=", "proof="};
  RequestProof p;
  uint8_t* const dest[] = {p.nonce, p.sha256, p.proof};
  static constexpr uint8_t kSizes[] = {sizeof p.nonce, sizeof p.sha256, sizeof p.proof};
  const char* s = params.data();
  const char* const end = s + params.size();
  for (size_t i = 0; i < 3; ++i) {
    if (i > 0) {
      if (s == end || *s++ != ',') return false;
      while (s != end && is_ows(*s)) ++s;
    }
    const size_t name = std::strlen(kNames[i]);
    const size_t hex = 2u * kSizes[i];
    if (static_cast<size_t>(end - s) < name + hex || std::memcmp(s, kNames[i], name) != 0 ||
        !hex_decode(std::string_view(s + name, hex), dest[i], kSizes[i])) {
      return false;
    }
    s += name + hex;
  }
  if (s != end) return false;
  *out = p;
  return true;
}

void compute_request_proof(std::string_view token, HttpMethod method, std::string_view target, uint32_t node_id,
                           const uint8_t (&nonce)[kAuthNonceBytes], const uint8_t (&sha256)[32], uint8_t (&out)[32]) {
  TokenMac mac(token, kProofDomain);
  mac.text(http_method_name(method));
  mac.text("\n");
  canonical_target(target, mac);
  mac.text("\n");
  mac.node_id(node_id);
  mac.hex(nonce, sizeof nonce, true);
  mac.hex(sha256, sizeof sha256, false);
  mac.finish(out);
}

void compute_node_proof(std::string_view token, uint32_t node_id, const uint8_t (&nonce)[kAuthNonceBytes],
                        std::string_view client_nonce_hex, std::string_view address, uint8_t (&out)[32]) {
  TokenMac mac(token, kNodeProofDomain);
  mac.node_id(node_id);
  mac.hex(nonce, sizeof nonce, true);
  mac.text(client_nonce_hex);
  mac.text("\n");
  mac.text(address);
  mac.finish(out);
}

bool RequestAuth::valid_token(std::string_view token) {
  if (token.size() > SPORE_MAX_TOKEN_LEN) return false;
  for (char c : token) {
    if (!is_token68_char(c)) return false;
  }
  return true;
}

bool RequestAuth::set_token(std::string_view token) {
  if (!valid_token(token)) return false;
  secure_wipe(token_, sizeof token_);
  if (!token.empty()) std::memcpy(token_, token.data(), token.size());
  token_len_ = token.size();
  used_count_ = 0;
  floor_set_ = false;
  return true;
}

bool RequestAuth::token_matches(std::string_view presented) const {
  if (token_len_ == 0) return true;
  if (presented.size() > SPORE_MAX_TOKEN_LEN) return false;
  // Compare the whole fixed buffer whatever the lengths, so timing reveals neither the position
  // of the first wrong byte nor the length of the configured token.
  uint8_t padded[SPORE_MAX_TOKEN_LEN] = {};
  std::memcpy(padded, presented.data(), presented.size());
  const bool same_bytes = constant_time_equal(padded, reinterpret_cast<const uint8_t*>(token_), sizeof padded);
  const bool same_length = presented.size() == token_len_;
  return (static_cast<unsigned>(same_bytes) & static_cast<unsigned>(same_length)) != 0;
}

void RequestAuth::begin(Random& random, uint32_t incarnation) {
  random_ = &random;
  store_be32(random.next_u32(), salt_);
  store_be32(random.next_u32(), salt_ + 4);
  store_be32(incarnation, salt_ + 8);
}

void RequestAuth::nonce_mac(const uint8_t* head, uint8_t (&out)[8]) const {
  TokenMac mac(std::string_view(token_, token_len_), kNonceDomain);
  mac.append(reinterpret_cast<const char*>(salt_), sizeof salt_);
  mac.append(reinterpret_cast<const char*>(head), 12);
  uint8_t full[32];
  mac.finish(full);
  std::memcpy(out, full, sizeof out);
}

void RequestAuth::issue_nonce(uint32_t now_ms, uint8_t (&nonce)[kAuthNonceBytes]) {
  // The serial makes nonces unique within a boot, the salt (in the mac) across boots. The random
  // part is hygiene only: the mac already binds the rest, and only token holders can use a nonce.
  store_be32(now_ms, nonce);
  store_be32(++serial_, nonce + 4);
  store_be32(random_ != nullptr ? random_->next_u32() : 0, nonce + 8);
  uint8_t mac[8];
  nonce_mac(nonce, mac);
  std::memcpy(nonce + 12, mac, sizeof mac);
}

void RequestAuth::node_proof(uint32_t node_id, const uint8_t (&nonce)[kAuthNonceBytes],
                             std::string_view client_nonce_hex, std::string_view address, uint8_t (&out)[32]) const {
  if (token_len_ == 0) {
    std::memset(out, 0, sizeof out);
    return;
  }
  compute_node_proof(std::string_view(token_, token_len_), node_id, nonce, client_nonce_hex, address, out);
}

bool RequestAuth::nonce_fresh(const uint8_t (&nonce)[kAuthNonceBytes], uint32_t now_ms) const {
  const uint32_t issued = load_be32(nonce);
  uint8_t mac[8];
  nonce_mac(nonce, mac);
  if (!constant_time_equal(mac, nonce + 12, sizeof mac)) return false;  // not ours, or before a restart
  if (now_ms - issued > SPORE_AUTH_NONCE_LIFETIME_MS) return false;    // expired (or "from the future")
  if (floor_set_ && now_ms - floor_ms_ <= SPORE_AUTH_NONCE_LIFETIME_MS &&
      static_cast<int32_t>(issued - floor_ms_) <= 0) {
    return false;
  }
  for (size_t i = 0; i < used_count_; ++i) {
    if (used_[i].issued_ms == issued && used_[i].serial == load_be32(nonce + 4)) return false;
  }
  return true;
}

void RequestAuth::mark_used(const uint8_t (&nonce)[kAuthNonceBytes], uint32_t now_ms) {
  const Used entry{load_be32(nonce), load_be32(nonce + 4)};
  // Entries that expired are free; else the oldest is dropped and becomes the floor.
  size_t slot = used_count_;
  for (size_t i = 0; i < used_count_; ++i) {
    if (now_ms - used_[i].issued_ms > SPORE_AUTH_NONCE_LIFETIME_MS) {
      slot = i;
      break;
    }
  }
  if (slot == used_count_ && used_count_ == SPORE_MAX_AUTH_NONCES) {
    slot = 0;
    for (size_t i = 1; i < used_count_; ++i) {
      if (now_ms - used_[i].issued_ms > now_ms - used_[slot].issued_ms) slot = i;
    }
    const uint32_t dropped = used_[slot].issued_ms;
    if (!floor_set_ || now_ms - floor_ms_ > SPORE_AUTH_NONCE_LIFETIME_MS ||
        static_cast<int32_t>(dropped - floor_ms_) > 0) {
      floor_ms_ = dropped;
      floor_set_ = true;
    }
  }
  used_[slot] = entry;
  if (slot == used_count_) ++used_count_;
}

AuthDecision RequestAuth::check_proof(const AuthRequest& req, std::string_view params, uint32_t node_id,
                                      uint32_t now_ms) {
  AuthDecision d;
  RequestProof p;
  if (!parse_request_proof(params, &p)) {
    d.verdict = AuthVerdict::kMalformed;
    return d;
  }
  if (!nonce_fresh(p.nonce, now_ms)) {
    ++stale_;
    d.verdict = AuthVerdict::kStale;
    return d;
  }
  uint8_t expected[32];
  compute_request_proof(std::string_view(token_, token_len_), req.method, req.target, node_id, p.nonce, p.sha256,
                        expected);
  if (!constant_time_equal(expected, p.proof, sizeof expected)) {
    d.verdict = AuthVerdict::kInvalid;
    return d;
  }
  // Valid: the nonce is spent whatever follows, so a relay cannot retry it with another body.
  mark_used(p.nonce, now_ms);
  ++accepted_;
  if (req.body != nullptr) {
    d.verdict = body_matches(*req.body, p.sha256) ? AuthVerdict::kOk : AuthVerdict::kDigestMismatch;
    return d;
  }
  d.verdict = AuthVerdict::kOk;
  d.has_declared = true;
  std::memcpy(d.declared_sha256, p.sha256, sizeof p.sha256);
  return d;
}

AuthDecision RequestAuth::check(const AuthRequest& req, uint32_t node_id, uint32_t now_ms) {
  AuthDecision d;
  if (token_len_ == 0) {
    d.verdict = AuthVerdict::kOk;
    return d;
  }
  const std::string_view value = trim_ows(req.authorization);
  if (value.empty()) return d;  // kMissing
  size_t space = 0;
  while (space < value.size() && !is_ows(value[space])) ++space;
  // Views built by hand rather than with substr(): its range check drags libstdc++'s exception
  // message into the ESP8266's DRAM.
  const std::string_view scheme(value.data(), space);
  const std::string_view rest = trim_ows(std::string_view(value.data() + space, value.size() - space));
  if (ascii_iequals(scheme, "Spore")) return check_proof(req, rest, node_id, now_ms);
  d.bearer = ascii_iequals(scheme, "Bearer");
  if (!d.bearer || rest.empty()) {
    d.verdict = AuthVerdict::kScheme;
  } else if (!bearer_allowed_) {
    d.verdict = AuthVerdict::kBearerRefused;
  } else {
    d.verdict = token_matches(rest) ? AuthVerdict::kOk : AuthVerdict::kInvalid;
  }
  return d;
}

}  // namespace spore
