#include "request_signer.h"

#include <arpa/inet.h>
#include <bearssl/bearssl_hash.h>
#include <httplib.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "spore/base/bytes.h"
#include "spore/base/hex.h"
#include "spore/auth/hmac_sha256.h"
#include "spore/auth/request_auth.h"
#include "bounded_http.h"
#include "terminal_safe.h"
#include "transport_error.h"

namespace spore::cli {

namespace {

using Json = nlohmann::ordered_json;

std::string hex_of(const uint8_t* data, size_t n) {
  std::string s(2 * n, '\0');
  hex_encode(data, n, s.data());
  return s;
}

/// Largest challenge answer read (a real one is ~300 B).
constexpr size_t kMaxChallengeBytes = 4096;

std::string fresh_client_nonce() {
  std::random_device rd;  // getrandom(2) on Linux
  uint8_t bytes[16];
  for (size_t i = 0; i < sizeof bytes; i += 4) {
    const uint32_t r = rd();
    for (size_t j = 0; j < 4; ++j) bytes[i + j] = static_cast<uint8_t>(r >> (8 * j));
  }
  return hex_of(bytes, sizeof bytes);
}

}  // namespace

void sha256_of(std::string_view data, uint8_t (&out)[32]) {
  br_sha256_context c;
  br_sha256_init(&c);
  br_sha256_update(&c, data.data(), data.size());
  br_sha256_out(&c, out);
}

bool sha256_from_hex(std::string_view hex, uint8_t (&out)[32]) { return hex_decode(hex, out, sizeof out); }

std::string node_id_hex(uint32_t node_id) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(node_id));
  return buf;
}

std::optional<uint32_t> parse_node_id(std::string_view text) {
  uint8_t be[4];
  if (!hex_decode(text, be, sizeof be)) return std::nullopt;
  return load_be32(be);
}

std::vector<std::string> connected_addresses(const NodeAddress& addr) {
  const std::string port = ":" + std::to_string(addr.port);
  in_addr literal{};
  if (::inet_pton(AF_INET, addr.host.c_str(), &literal) == 1) return {addr.host + port};
  std::vector<std::string> out;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(addr.host.c_str(), nullptr, &hints, &found) != 0) return out;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char text[INET_ADDRSTRLEN] = {};
    const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
    if (::inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text) != nullptr) out.push_back(text + port);
  }
  ::freeaddrinfo(found);
  return out;
}

std::optional<Challenge> check_challenge(std::string_view body, std::string_view client_nonce_hex,
                                         const TokenLookup& token_for, std::optional<uint32_t> expected_node_id,
                                         const std::vector<std::string>& connected, std::string* error) {
  const auto fail = [error](const std::string& why) -> std::optional<Challenge> {
    *error = why;
    return std::nullopt;
  };
  const Json j = parse_node_json(body);
  if (j.is_discarded() || !j.is_object()) return fail("its challenge answer is not a JSON object");
  const auto id = j.find("nodeId");
  const auto auth = j.find("auth");
  if (id == j.end() || !id->is_number_unsigned() || id->get<uint64_t>() > UINT32_MAX) {
    return fail("its challenge answer has no valid nodeId");
  }
  if (auth == j.end() || !auth->is_string()) return fail("its challenge answer has no \"auth\"");
  Challenge c;
  c.node_id = id->get<uint32_t>();
  if (expected_node_id && c.node_id != *expected_node_id) {
    return fail("it says it is node " + std::to_string(c.node_id) + ", not " + std::to_string(*expected_node_id));
  }
  const auto bearer = j.find("bearer");
  c.bearer_allowed = bearer != j.end() && bearer->is_boolean() && bearer->get<bool>();
  if (*auth == "none") {
    c.open = true;
    return c;
  }
  if (*auth != "proof") return fail("its challenge answer has an unknown \"auth\" kind");
  const auto nonce = j.find("nonce");
  uint8_t nonce_bytes[kAuthNonceBytes];
  if (nonce == j.end() || !nonce->is_string() ||
      !hex_decode(nonce->get<std::string>(), nonce_bytes, sizeof nonce_bytes)) {
    return fail("its challenge answer has no valid nonce");
  }
  c.nonce_hex = hex_of(nonce_bytes, sizeof nonce_bytes);
  c.token = token_for(c.node_id);
  const std::optional<std::string>& token = c.token;
  if (!token) return c;
  // The node signs the address the connection reached it at: a fake member relaying our challenge
  // to the real node gets the real node's address signed, not its own.
  const auto address = j.find("address");
  const std::string answered = address != j.end() && address->is_string() ? address->get<std::string>() : "";
  if (std::find(connected.begin(), connected.end(), answered) == connected.end()) {
    std::string where;
    for (const std::string& a : connected) where += (where.empty() ? "" : " or ") + a;
    const std::string shown = answered.empty() ? std::string("no address") : "address " + terminal_safe(answered);
    return fail("it answered for " + shown +
                ", not " + (where.empty() ? std::string("the address this CLI reached") : where) +
                " (a relay, or NAT between this CLI and the node)");
  }
  const auto proof = j.find("proof");
  uint8_t got[32], want[32];
  if (proof == j.end() || !proof->is_string() || !hex_decode(proof->get<std::string>(), got, sizeof got)) {
    return fail("it did not prove it holds the API token (no proof in its challenge answer)");
  }
  compute_node_proof(*token, c.node_id, nonce_bytes, client_nonce_hex, answered, want);
  if (!constant_time_equal(got, want, sizeof got)) {
    return fail("it did not prove it holds the API token this CLI has for node " + std::to_string(c.node_id) +
                " (a wrong token, or not that node)");
  }
  c.node_proven = true;
  return c;
}

std::string proof_header(std::string_view token, const Challenge& c, HttpMethod method, std::string_view target,
                         const uint8_t (&body_sha256)[32]) {
  uint8_t nonce[kAuthNonceBytes], proof[32];
  hex_decode(c.nonce_hex, nonce, sizeof nonce);
  compute_request_proof(token, method, target, c.node_id, nonce, body_sha256, proof);
  return "Spore nonce=" + c.nonce_hex + ", sha256=" + hex_of(body_sha256, 32) + ", proof=" + hex_of(proof, 32);
}

SignPolicy single_token_policy(const std::optional<std::string>& token, bool bearer) {
  SignPolicy p;
  p.token_for = [token](uint32_t) { return token; };
  p.bearer = bearer;
  return p;
}

std::optional<Signed> sign_request(const NodeAddress& addr, double timeout_s, const SignPolicy& policy,
                                   HttpMethod method, std::string_view target, const uint8_t (&body_sha256)[32],
                                   std::string* why) {
  Signed out;
  if (policy.bearer) {
    const std::optional<std::string> token = policy.token_for(policy.expected_node_id.value_or(0));
    if (token) out.authorization = "Bearer " + *token;
    out.token_used = token.has_value();
    return out;
  }
  const std::string client_nonce = fresh_client_nonce();
  // Bounded in time and size (bounded_http.h): whoever answers, a fake member included, cannot
  // hold the CLI by trickling its answer or grow it without end.
  const BoundedAnswer res =
      bounded_request(addr, timeout_s, "GET", "/api/node/challenge?client_nonce=" + client_nonce, {}, "", "",
                      kMaxChallengeBytes);
  if (!res.ok()) {
    *why = res.failure == BoundedAnswer::Failure::kTransport ? "cannot reach it: " + res.why(timeout_s)
           : res.failure == BoundedAnswer::Failure::kTooLarge
               ? "its answer is larger than " + std::to_string(kMaxChallengeBytes) + " bytes"
               : res.why(timeout_s);
    return std::nullopt;
  }
  if (res.status == 404) {
    // Not "use --bearer": an impostor answers 404 precisely to be sent the token.
    *why = "it serves no /api/node/challenge: firmware older than request proofs, or not a SPORE node; "
           "--bearer sends the API token itself, so use it only for an address you know is that node";
    return std::nullopt;
  }
  if (res.status != 200) {
    *why = "its challenge answered HTTP " + std::to_string(res.status);
    return std::nullopt;
  }
  std::string error;
  const std::optional<Challenge> c = check_challenge(res.body, client_nonce, policy.token_for,
                                                     policy.expected_node_id, connected_addresses(addr), &error);
  if (!c) {
    *why = error;
    return std::nullopt;
  }
  out.node_id = c->node_id;
  const std::optional<std::string>& token = c->token;
  out.token_used = token.has_value();
  if (policy.require_identity && c->open) {
    *why = "it has no API token, so it cannot prove it is node " + std::to_string(c->node_id);
    return std::nullopt;
  }
  if (policy.require_identity && !token) {
    // The decimal nodeId (docs/api.md), and the map's key for it, which is the state-dir file's hex.
    *why = "no token for node " + std::to_string(c->node_id) + " (--token-map has no line " + node_id_hex(c->node_id) +
           " for it, and no --token)";
    return std::nullopt;
  }
  if (c->open || !token) return out;  // nothing to prove, or nothing to prove it with (the node will say 401)
  out.authorization = proof_header(*token, *c, method, target, body_sha256);
  return out;
}

std::string auth_refusal_hint(std::string_view body, bool had_token) {
  const Json j = parse_node_json(body);
  const auto field = [&j](const char* key) {
    return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
  };
  const std::string code = field("code");
  std::string where = field("tokenLocation");
  // The node's words go to a terminal: keep printable ASCII only.
  where.erase(std::remove_if(where.begin(), where.end(), [](char c) { return c < 0x20 || c > 0x7e; }), where.end());
  std::string hint;
  if (code == "auth_stale") {
    hint = "the node refused the request proof as stale (its nonce expired, was used, or the node restarted); retry";
  } else if (code == "auth_bearer_refused") {
    hint = "this node takes request proofs only: drop --bearer";
  } else if (had_token) {
    hint = "the token was refused: use that node's own token, or a --token-map line for its node id";
  } else {
    hint = "this node requires an API token: pass --token TOKEN, --token-file FILE, --token-map FILE (one "
           "'NODE_ID TOKEN' line per node) or set SPORE_TOKEN";
  }
  if (!where.empty() && code != "auth_stale") hint += "\n  the node says its token is in: " + where;
  return hint;
}

}  // namespace spore::cli
