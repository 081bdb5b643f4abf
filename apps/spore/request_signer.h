#pragma once
/// @file request_signer.h
/// The CLI side of request proofs (core/spore/auth/request_auth.h, docs/security.md "Request proofs"):
/// every command that needs a node's API token (node restart, ota update / all, events publish)
/// asks the node for a challenge first, checks that the node proves it holds the token the CLI has
/// for it, and sends a one-use proof instead of the token. Nothing is sent to a node that cannot
/// prove itself, so a fake member on the LAN learns nothing it can reuse.
///
/// `--bearer` sends the token itself instead (nodes older than request proofs, or a user who wants
/// curl's behaviour); it is never a silent fallback: a node that does not answer its challenge is
/// an error, because an impostor could answer 404 just to be sent the token.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli_logic.h"
#include "spore/cluster/api_registry.h"

namespace spore::cli {

/// The token to use for node `node_id`, if any (a --token-map entry, else the shared token).
using TokenLookup = std::function<std::optional<std::string>(uint32_t node_id)>;

struct SignPolicy {
  TokenLookup token_for;
  /// Send `Authorization: Bearer <token>` without a challenge (--bearer). Needs expected_node_id
  /// for a token map lookup, else uses token_for(0)'s answer (the shared token).
  bool bearer = false;
  /// Refuse a node that cannot prove it holds our token: one without a token for it, an open
  /// node (no API token configured), a failed node proof. `spore ota all` sets it.
  bool require_identity = false;
  /// The node id the caller expects there (from a members list); nullopt = whatever answers.
  std::optional<uint32_t> expected_node_id;
};

/// One token for whatever node answers (node restart, events publish): `token` (may be nullopt:
/// then no Authorization is sent and the node's 401 says what it needs).
SignPolicy single_token_policy(const std::optional<std::string>& token, bool bearer);

/// The node's answer to GET /api/node/challenge, checked.
struct Challenge {
  uint32_t node_id = 0;
  bool open = false;           ///< "auth":"none": the node has no API token
  bool bearer_allowed = false;
  std::string nonce_hex;       ///< 40 hex digits (empty when open)
  bool node_proven = false;    ///< its "proof" matched the token we hold for it
  std::optional<std::string> token;  ///< the token held for node_id (what proved it), if any
};

/// Parses and checks `body` (the challenge JSON). `client_nonce_hex`: what we sent;
/// `token_for`: the token we hold for the node id it names (nullopt: none, proof not checked; an
/// impostor can name any id, but cannot prove it holds that id's token);
/// `connected`: the "a.b.c.d:port" addresses the CLI's connection may have reached (the node's
/// signed "address" must be one of them, else the answer came through a relay). nullopt with
/// `*error` set when the answer is malformed, names a node other than `expected_node_id`, was
/// made for another address, or its proof does not match `token`.
std::optional<Challenge> check_challenge(std::string_view body, std::string_view client_nonce_hex,
                                         const TokenLookup& token_for, std::optional<uint32_t> expected_node_id,
                                         const std::vector<std::string>& connected, std::string* error);

/// The "a.b.c.d:port" forms of `addr`: itself for an IPv4 literal, else each IPv4 address its host
/// name resolves to. Empty when nothing resolves.
std::vector<std::string> connected_addresses(const NodeAddress& addr);

/// `Authorization: Spore ...` for one request, from a checked challenge.
std::string proof_header(std::string_view token, const Challenge& c, HttpMethod method, std::string_view target,
                         const uint8_t (&body_sha256)[32]);

/// SHA-256 of `data` (request bodies) and of a hex digest string back to bytes.
void sha256_of(std::string_view data, uint8_t (&out)[32]);
bool sha256_from_hex(std::string_view hex, uint8_t (&out)[32]);

/// What sign_request() decided.
struct Signed {
  /// The Authorization header value to send; empty = send none (open node, or no token held).
  std::string authorization;
  uint32_t node_id = 0;        ///< as the node answered (0 with --bearer)
  bool token_used = false;     ///< a token was held for the node
};

/// Asks `addr` for a challenge (GET /api/node/challenge with a fresh client nonce, `timeout_s`)
/// and returns how to authorize `method target` whose body hashes to `body_sha256` (an upload:
/// the image file's). nullopt with a sentence in `*why` when the node cannot be reached, does not
/// serve challenges, names another node, or fails to prove it holds our token (nothing of value
/// has been sent to it then).
std::optional<Signed> sign_request(const NodeAddress& addr, double timeout_s, const SignPolicy& policy,
                                   HttpMethod method, std::string_view target, const uint8_t (&body_sha256)[32],
                                   std::string* why);

/// The hint under a 401 answer (`body`, the node's JSON) for a user who did (`had_token`) or did not
/// give a token: which option to use, and where the node says its token is ("tokenLocation").
std::string auth_refusal_hint(std::string_view body, bool had_token);

/// Node ids as token maps write them: exactly 8 hex digits, as in spored's state-dir `node_id`
/// file and the nodes' logs (the REST API's decimal `nodeId`, printed with `%08x`). Messages for
/// people name a node by its decimal nodeId (docs/api.md), this form only where a map is meant.
std::string node_id_hex(uint32_t node_id);
std::optional<uint32_t> parse_node_id(std::string_view text);

}  // namespace spore::cli
