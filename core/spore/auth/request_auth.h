#pragma once
/// @file request_auth.h
/// Who may call a protected REST route: the API token, presented as a request proof (or, unless
/// turned off, as a bearer token). docs/security.md ("Request proofs") has the design and the
/// threat model; this header the exact byte formats, which the CLI, the dashboard's JavaScript and
/// every node share.
///
/// A proof never reveals the token and is good for one request only:
///
///   1. the client asks the node for a nonce: GET /api/node/challenge[?client_nonce=<hex>]
///      (public). The nonce is 20 bytes, 40 lower-case hex digits:
///        issued_at_ms (uint32 BE, the node's clock) || serial (4) || random (4) || mac (8)
///      mac = HMAC-SHA256(token, "SPORE-NONCE\n" || boot_salt (8) || incarnation (4) || issued_at_ms || serial
///                              || random)[0..8):
///      only this node, since its last start, can have issued it; no state is kept per nonce issued.
///      With a client nonce (16..64 hex digits) the answer also proves the NODE holds the token:
///        node proof = HMAC-SHA256(token, "SPORE-NODE-PROOF\n" <node id> "\n" <nonce> "\n" <client nonce>
///                                 "\n" <address>)
///      (hex, lower case), <address> being the node's end of the connection ("a.b.c.d:port"), which
///      the CLI checks against where it connected before it sends anything of value: a fake member
///      that relays the challenge to the real node gets a proof for the real node's address.
///   2. the client sends
///        Authorization: Spore nonce=<40 hex>, sha256=<64 hex>, proof=<64 hex>
///      proof = HMAC-SHA256(token, "SPORE-HMAC-SHA256\n" <METHOD> "\n" <canonical target> "\n"
///                                 <node id> "\n" <nonce> "\n" <sha256>)
///      <node id> is the target node's id as 8 lower-case hex digits, <canonical target> the
///      request target in canonical form (http_target.h), <sha256> the SHA-256 of the request body
///      in hex — for POST /api/node/update, of the image FILE (the "firmware" part, or the raw body),
///      which the node checks when the upload ends, before anything is installed.
///   3. the node accepts it once: the nonce must verify, be at most SPORE_AUTH_NONCE_LIFETIME_MS
///      old, not used before (a table of SPORE_MAX_AUTH_NONCES with a floor, limits.h), and the
///      proof must match; the body must then hash to the declared sha256.
///
/// A captured proof cannot be replayed (nonce used, or expired), sent to another node (other node
/// id, other nonce key), used for another path, method, body or image, or turned into a token.
/// The domain prefixes keep a node proof, a nonce mac and a request proof from ever standing for
/// one another, although the node computes the first two for anyone who asks.
///
/// Not thread-safe: RestApi's caller serializes, as for every core call. No allocation; about 90 B plus 8 B per SPORE_MAX_AUTH_NONCES.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/cluster/api_registry.h"
#include "spore/base/limits.h"

namespace spore {

class Random;

/// Bytes of a nonce, and its hex length.
constexpr size_t kAuthNonceBytes = 20;
constexpr size_t kAuthNonceHexLen = 2 * kAuthNonceBytes;
/// Client nonces (node proofs): 8..32 bytes as hex.
constexpr size_t kAuthClientNonceMinHexLen = 16;
constexpr size_t kAuthClientNonceMaxHexLen = 64;

/// The parameters of an `Authorization: Spore ...` header, decoded.
struct RequestProof {
  uint8_t nonce[kAuthNonceBytes] = {};
  uint8_t sha256[32] = {};
  uint8_t proof[32] = {};
};

/// Parses the parameters after the scheme (whitespace around them already trimmed): exactly
/// `nonce=<40 hex>, sha256=<64 hex>, proof=<64 hex>` in this order, hex in either case, the commas
/// followed by optional whitespace. Anything else (another order, quotes, an unknown parameter) is
/// false: every SPORE client writes this one form.
bool parse_request_proof(std::string_view params, RequestProof* out);

/// The proof a client sends (what the CLI and tests compute; the node verifies with the same code).
/// `target` is the request target as the client sends it (canonicalized here).
void compute_request_proof(std::string_view token, HttpMethod method, std::string_view target, uint32_t node_id,
                           const uint8_t (&nonce)[kAuthNonceBytes], const uint8_t (&sha256)[32], uint8_t (&out)[32]);

/// The node's answer to a client nonce (`client_nonce_hex` as sent, 16..64 hex digits) on the
/// connection whose node end is `address` ("a.b.c.d:port", HttpRequest::local_address).
void compute_node_proof(std::string_view token, uint32_t node_id, const uint8_t (&nonce)[kAuthNonceBytes],
                        std::string_view client_nonce_hex, std::string_view address, uint8_t (&out)[32]);

/// What RequestAuth::check() decided.
enum class AuthVerdict : uint8_t {
  kOk,              ///< allowed: a valid proof or bearer token, or no token configured
  kMissing,         ///< no Authorization header
  kScheme,          ///< neither `Spore` nor `Bearer`
  kBearerRefused,   ///< a bearer token while bearer tokens are turned off
  kInvalid,         ///< a wrong bearer token, or a proof that does not verify
  kMalformed,       ///< a `Spore` header whose parameters do not parse
  kStale,           ///< the nonce expired, was used already, or predates the node's start
  kDigestMismatch,  ///< the proof is valid but the body is not the one it was made for
};

/// One request, as RequestAuth::check() needs it.
struct AuthRequest {
  HttpMethod method = HttpMethod::kGet;
  std::string_view target;         ///< as received, query included
  std::string_view authorization;  ///< raw header value, empty when absent
  /// The request body, whose SHA-256 a proof must declare; nullptr when the body streams in later
  /// (an upload): then the proof's sha256 is handed back in AuthDecision::declared_sha256.
  const std::string_view* body = nullptr;
};

struct AuthDecision {
  AuthVerdict verdict = AuthVerdict::kMissing;
  bool bearer = false;  ///< the request presented a bearer token (whatever the verdict)
  /// A proof was presented and accepted for a streamed body: declared_sha256 is what it must hash to.
  bool has_declared = false;
  uint8_t declared_sha256[32] = {};
};

class RequestAuth {
 public:
  /// Sets the token; empty = no authentication (every check() is kOk). A token must be
  /// 1..SPORE_MAX_TOKEN_LEN bytes of RFC 6750 token68 characters (A-Z a-z 0-9 - . _ ~ + / =);
  /// anything else returns false and leaves the previous token in place. Forgets used nonces.
  bool set_token(std::string_view token);
  static bool valid_token(std::string_view token);
  bool has_token() const { return token_len_ > 0; }
  /// The token itself, for the other proofs keyed with it (MQTT commands, mqtt_proof.h); empty
  /// when none. Never log, answer or publish it.
  std::string_view token() const { return {token_, token_len_}; }
  /// True when no token is set or `token` (bare) is the configured one; constant time.
  bool token_matches(std::string_view token) const;

  /// Whether `Authorization: Bearer <token>` is accepted (default true, the seed's curl flow).
  void set_bearer_allowed(bool allowed) { bearer_allowed_ = allowed; }
  bool bearer_allowed() const { return bearer_allowed_; }

  /// Binds nonces to this boot: a salt drawn from `random` and `incarnation`, the node's
  /// incarnation at start, which grows with every boot (persisted boot counter). The incarnation
  /// is what makes a previous boot's nonces fail even where the RNG is weak at start (an ESP8266
  /// before its radio is on); the salt covers a boot counter that was reset. Keeps `random` (must
  /// outlive this) for the nonces' random part. Call once at start (RestApi::begin()); until then
  /// both are zero and nonces still work (the serial keeps them unique).
  void begin(Random& random, uint32_t incarnation);

  /// A fresh nonce issued at `now_ms`. Meaningless (but harmless) without a token.
  void issue_nonce(uint32_t now_ms, uint8_t (&nonce)[kAuthNonceBytes]);

  /// compute_node_proof() with this node's token; all zero without a token.
  void node_proof(uint32_t node_id, const uint8_t (&nonce)[kAuthNonceBytes], std::string_view client_nonce_hex,
                  std::string_view address, uint8_t (&out)[32]) const;

  /// Decides `req`; marks an accepted proof's nonce used. `node_id`: this node's id.
  AuthDecision check(const AuthRequest& req, uint32_t node_id, uint32_t now_ms);

  /// Proofs refused because their nonce was stale or replayed, and accepted ones (metrics, tests).
  uint32_t stale_count() const { return stale_; }
  uint32_t accepted_count() const { return accepted_; }

 private:
  /// A used nonce: within one boot (issued_ms, serial) identifies it.
  struct Used {
    uint32_t issued_ms;
    uint32_t serial;
  };
  /// The nonce's mac over its first 12 bytes.
  void nonce_mac(const uint8_t* head, uint8_t (&out)[8]) const;
  /// Nonce valid (issued here, fresh, not used, above the floor)?
  bool nonce_fresh(const uint8_t (&nonce)[kAuthNonceBytes], uint32_t now_ms) const;
  void mark_used(const uint8_t (&nonce)[kAuthNonceBytes], uint32_t now_ms);
  AuthDecision check_proof(const AuthRequest& req, std::string_view params, uint32_t node_id, uint32_t now_ms);

  char token_[SPORE_MAX_TOKEN_LEN] = {};
  size_t token_len_ = 0;
  uint8_t salt_[12] = {};  ///< 8 random bytes, then the incarnation at begin()
  Random* random_ = nullptr;
  uint32_t serial_ = 0;
  Used used_[SPORE_MAX_AUTH_NONCES] = {};
  uint8_t used_count_ = 0;
  bool bearer_allowed_ = true;
  bool floor_set_ = false;
  uint32_t floor_ms_ = 0;  ///< nonces issued at or before this were dropped from used_: refused
  uint32_t stale_ = 0;
  uint32_t accepted_ = 0;
};

static_assert(SPORE_MAX_AUTH_NONCES >= 1 && SPORE_MAX_AUTH_NONCES <= 255, "SPORE_MAX_AUTH_NONCES: 1..255");

}  // namespace spore
