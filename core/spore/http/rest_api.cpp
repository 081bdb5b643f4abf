#include "spore/http/rest_api.h"

#include <cstring>

#include "spore/base/decimal.h"
#include "spore/base/flash_string.h"
#include "spore/auth/hmac_sha256.h"
#include "spore/base/hex.h"
#include "spore/auth/http_target.h"
#include "spore/http/http_text.h"
#include "spore/node/node_context.h"

namespace spore {

namespace {

constexpr std::string_view kStatusPath = "/api/node/status";
constexpr std::string_view kMembersPath = "/api/cluster/members";
constexpr std::string_view kRestartPath = "/api/node/restart";
constexpr std::string_view kChallengePath = "/api/node/challenge";
constexpr std::string_view kDashboardPath = "/";
/// DELETE: forget a DEAD member (its decimal nodeId as the last segment).
constexpr std::string_view kMemberPath = "/api/cluster/members/{nodeId}";

// WWW-Authenticate values (RFC 9110 §11.6.1): both schemes while bearer tokens are accepted.
constexpr const char* kChallengeBoth = "Spore realm=\"spore\", Bearer realm=\"spore\"";
constexpr const char* kChallengeProof = "Spore realm=\"spore\"";
constexpr const char* kChallengeScheme = "Spore realm=\"spore\", error=\"invalid_request\"";
constexpr const char* kChallengeProofInvalid = "Spore realm=\"spore\", error=\"invalid_token\"";
constexpr const char* kChallengeBearerInvalid = "Bearer realm=\"spore\", error=\"invalid_token\"";

/// The 401 of each refusal: code, WWW-Authenticate value, sentence (in flash), in AuthVerdict
/// order from kMissing; kDigestMismatch is a 400 and handled apart.
struct AuthRefusal {
  const char* code;
  const char* challenge;
};
constexpr AuthRefusal kAuthRefusals[] = {
    {"auth_required", kChallengeBoth},          {"auth_scheme", kChallengeScheme},
    {"auth_bearer_refused", kChallengeProof},   {"auth_invalid", kChallengeProofInvalid},
    {"auth_malformed", kChallengeProofInvalid}, {"auth_stale", kChallengeProofInvalid},
};
constexpr char kAuthMessages[] SPORE_FLASH =
    "This endpoint needs the node's API token\0"
    "Authorization must be 'Spore nonce=..., sha256=..., proof=...' or 'Bearer <token>'.\0"
    "This node takes request proofs only, no bearer token.\0"
    "The bearer token or request proof is not valid for this node.\0"
    "A request proof is 'Spore nonce=<40 hex>, sha256=<64 hex>, proof=<64 hex>'.\0"
    "The proof's nonce expired, was used, or predates the node's start: get a new one.\0";
static_assert(sizeof kAuthRefusals / sizeof kAuthRefusals[0] ==
                  static_cast<size_t>(AuthVerdict::kStale) - static_cast<size_t>(AuthVerdict::kMissing) + 1,
              "one refusal per AuthVerdict from kMissing to kStale");
static_assert(flash_list_count(kAuthMessages, sizeof kAuthMessages) == sizeof kAuthRefusals / sizeof kAuthRefusals[0],
              "one sentence per refusal");

/// `path` up to its query or fragment, if any (no substr(): see check_token()).
std::string_view without_query(std::string_view path) {
  size_t n = 0;
  while (n < path.size() && path[n] != '?' && path[n] != '#') ++n;
  return std::string_view(path.data(), n);
}

/// Whether `path` (no query) is served by a route registered as `route`: the same string, or for
/// a route ending in a "{name}" segment, the same prefix and one non-empty segment in its place.
bool route_matches(std::string_view route, std::string_view path) {
  size_t i = 0;
  while (i < route.size() && i < path.size() && route[i] == path[i]) ++i;
  if (i == route.size()) return i == path.size();
  if (route[i] != '{' || i == path.size()) return false;
  while (i < path.size() && path[i] != '/') ++i;
  return i == path.size();
}

/// Starts with '/', holds at most RestApi::kMaxPathBytes, all printable ASCII (no space).
bool path_well_formed(std::string_view path) {
  bool ok = !path.empty() && path.front() == '/' && path.size() <= RestApi::kMaxPathBytes;
  for (size_t i = 0; ok && i < path.size(); ++i) {
    const auto b = static_cast<uint8_t>(path[i]);
    ok = b > 0x20 && b < 0x7F;
  }
  return ok;
}

/// What a kToken route's request proof covers: the whole request, body included.
AuthRequest auth_request_of(const HttpRequest& req) {
  AuthRequest auth_req;
  auth_req.method = req.method;
  auth_req.target = req.path;
  auth_req.authorization = req.authorization;
  auth_req.body = &req.body;
  return auth_req;
}

/// Appends `name` to the method list in `list` (capacity `capacity_bytes`, NUL-terminated, `*len`
/// bytes so far), ", "-separated; a name that does not fit is left out.
void append_method(char* list, size_t capacity_bytes, size_t* len, const char* name) {
  const size_t name_len = std::strlen(name);
  if (*len + name_len + 3 >= capacity_bytes) return;
  if (*len > 0) {
    list[(*len)++] = ',';
    list[(*len)++] = ' ';
  }
  std::memcpy(list + *len, name, name_len);
  *len += name_len;
  list[*len] = '\0';
}

/// A 405's Allow header (into `allow`) and the values of its "allowed" list: every method `path`
/// supports, registration order. A template only because RestApi::Route is private (no flash
/// strings in here: a template's static would leave the flash section).
template <typename Route, size_t kAllowBytes>
void list_allowed(JsonWriter& w, const Route* routes, size_t route_count, std::string_view path,
                  char (&allow)[kAllowBytes]) {
  size_t len = 0;
  allow[0] = '\0';
  for (size_t i = 0; i < route_count; ++i) {
    if (!route_matches(routes[i].path, path)) continue;
    const char* name = http_method_name(routes[i].method);
    w.value(name);
    append_method(allow, kAllowBytes, &len, name);
  }
}

bool method_known(HttpMethod m) {
  const auto v = static_cast<uint8_t>(m);
  return v >= static_cast<uint8_t>(HttpMethod::kGet) && v <= static_cast<uint8_t>(HttpMethod::kPatch);
}

}  // namespace

// The statuses HttpStatusCounts counts one by one, in slot order; in flash (read as aligned words).
constexpr uint32_t kCountedStatuses[HttpStatusCounts::kSlots - 1] SPORE_FLASH = {
    200, 202, 204, 400, 401, 404, 405, 406, 408, 409, 413, 414, 415, 422, 500, 501, 503};

size_t HttpStatusCounts::slot_of(int status) {
  size_t i = 0;
  while (i < kSlots - 1 && static_cast<int>(kCountedStatuses[i]) != status) ++i;
  return i;
}

int HttpStatusCounts::status_at(size_t slot) {
  return slot < kSlots - 1 ? static_cast<int>(kCountedStatuses[slot]) : 0;
}

RestApi::RestApi(NodeContext& ctx) : ctx_(ctx) {}

bool RestApi::add(std::string_view path, HttpMethod method, RouteAuth auth, Kind kind, const char* content_type,
                  Target target) {
  if (route_count_ >= SPORE_MAX_ROUTES || !method_known(method)) return false;
  for (size_t i = 0; i < route_count_; ++i) {
    if (routes_[i].path == path && routes_[i].method == method) return false;
  }
  const ApiAddResult added = ctx_.api().add(path, method);
  if (added != ApiAddResult::kAdded && added != ApiAddResult::kDuplicate) return false;
  routes_[route_count_++] = Route{path, method, auth, kind, content_type, target};
  return true;
}

bool RestApi::add_route(std::string_view path, HttpMethod method, RouteAuth auth, Handler handler) {
  if (!handler) return false;
  Target target;
  target.json = handler;
  return add(path, method, auth, Kind::kJson, nullptr, target);
}

bool RestApi::add_text_route(std::string_view path, HttpMethod method, RouteAuth auth, const char* content_type,
                             TextHandler handler) {
  if (!handler || content_type == nullptr) return false;
  Target target;
  target.text = handler;
  return add(path, method, auth, Kind::kText, content_type, target);
}

bool RestApi::add_answer_route(std::string_view path, HttpMethod method, RouteAuth auth, const char* content_type,
                               AnswerSource source) {
  if (!source) return false;
  Target target;
  target.answer = source;
  return add(path, method, auth, Kind::kAnswer, content_type, target);
}

bool RestApi::begin() {
  bool ok = add_answer_route(kStatusPath, HttpMethod::kGet, RouteAuth::kPublic, nullptr,
                             AnswerSource::bind<RestApi, &RestApi::status_unit>(this));
  ok = add_answer_route(kMembersPath, HttpMethod::kGet, RouteAuth::kPublic, nullptr,
                        AnswerSource::bind<RestApi, &RestApi::members_unit>(this)) &&
       ok;
  ok = add_route(kRestartPath, HttpMethod::kPost, RouteAuth::kToken,
                 Handler::bind<RestApi, &RestApi::serve_restart>(this)) &&
       ok;
  ok = add_route(kChallengePath, HttpMethod::kGet, RouteAuth::kPublic,
                 Handler::bind<RestApi, &RestApi::serve_challenge>(this)) &&
       ok;
  ok = add_route(kMemberPath, HttpMethod::kDelete, RouteAuth::kToken,
                 Handler::bind<RestApi, &RestApi::serve_forget>(this)) &&
       ok;
  auth_.begin(ctx_.random(), ctx_.self().incarnation);
  if (!ok) SPORE_LOG(ctx_, LogLevel::kError, "rest: could not register every endpoint (registry full?)");
  return ok;
}

int RestApi::write_error(JsonWriter& w, int status, const char* code, FlashStr message) {
  w.begin_object().field(SPORE_FSTR("error"), message).field(SPORE_FSTR("code"), code);
  return status;
}

int RestApi::authorize(const AuthRequest& req, JsonWriter& w, HttpResponseHeaders* headers, AuthDecision* decision) {
  if (token_pending_) {
    // Before any check: no proof or token can be right yet (lock_until_token()).
    if (decision != nullptr) *decision = AuthDecision();
    write_error(w, 503, "token_pending",
                SPORE_FSTR("This node is still generating its API token (it does once its WiFi runs); ask again in a "
                           "few seconds."));
    w.end_object();
    return 503;
  }
  const AuthDecision d = auth_.check(req, ctx_.self().node_id, ctx_.clock().now_ms());
  if (decision != nullptr) *decision = d;
  if (d.verdict == AuthVerdict::kOk) return 0;
  if (d.verdict == AuthVerdict::kDigestMismatch) {
    write_error(w, 400, "digest_mismatch", SPORE_FSTR("The request body is not the one the request proof was made for."));
    w.end_object();
    return 400;
  }
  const size_t i = static_cast<size_t>(d.verdict) - static_cast<size_t>(AuthVerdict::kMissing);
  const AuthRefusal& r = kAuthRefusals[i];
  const char* challenge = r.challenge;
  if (d.verdict == AuthVerdict::kMissing && !auth_.bearer_allowed()) challenge = kChallengeProof;
  if (d.verdict == AuthVerdict::kInvalid && d.bearer) challenge = kChallengeBearerInvalid;
  const FlashStr message = flash_nth(kAuthMessages, sizeof kAuthRefusals / sizeof kAuthRefusals[0], i);
  w.begin_object().key(SPORE_FSTR("error"));
  if (d.verdict == AuthVerdict::kMissing) {
    // A seed user's curl without a header: the sentence alone says what to send and where the
    // token is (tokenLocation below says it again for programs).
    const bool located = token_location_ != nullptr;
    w.value_joined(located ? SPORE_FSTR("The API token is in ") : message, located ? token_location_ : "",
                   SPORE_FSTR(". Send 'Authorization: Bearer <token>' or a proof made with it (docs/security.md)."));
  } else {
    w.value(message);
  }
  w.field(SPORE_FSTR("code"), r.code).field(SPORE_FSTR("authenticate"), challenge);
  if (token_location_ != nullptr) w.field(SPORE_FSTR("tokenLocation"), token_location_);
  w.end_object();
  if (headers != nullptr) headers->www_authenticate = challenge;
  return 401;
}

int RestApi::handle(const HttpRequest& req, JsonOutput& out, HttpResponseHeaders* headers) {
  HttpResponseHeaders unused;
  HttpResponseHeaders& h = headers != nullptr ? *headers : unused;
  h = HttpResponseHeaders{};
  current_headers_ = &h;
  int status = dispatch(req, out, h);
  current_headers_ = nullptr;
  if (const ChunkedAnswer* answer = out.chunked_answer(); answer != nullptr && answer->failed()) {
    // An answer written in one piece that is longer than the carry (a sketch's large JSON route):
    // the adapter answers 500 instead; an answer route of its own would serve it.
    SPORE_LOG(ctx_, LogLevel::kError, "rest: answer to %.*s exceeds %u bytes", static_cast<int>(req.path.size()),
              req.path.data(), static_cast<unsigned>(SPORE_ANSWER_CARRY_BYTES));
    status = 500;
  }
  responses_.record(status);
  return status;
}

int RestApi::dispatch(const HttpRequest& req, JsonOutput& out, HttpResponseHeaders& h) {
  JsonWriter w(out);

  std::string_view path = req.path;
  // No fragment: a proof covers the target up to '#', so nothing behind one may be read (http_target.h).
  if (!path_well_formed(path) || http_target_has_fragment(path)) {
    write_error(w, 400, "bad_request",
                SPORE_FSTR("The request path must start with '/' and hold at most 512 printable ASCII characters, "
                           "without a fragment ('#')."));
    w.end_object();
    return 400;
  }
  path = without_query(path);

  const Route* match = nullptr;
  bool path_known = false;
  for (size_t i = 0; i < route_count_; ++i) {
    if (!route_matches(routes_[i].path, path)) continue;
    path_known = true;
    if (routes_[i].method == req.method) match = &routes_[i];
  }

  if (!path_known) {
    write_error(w, 404, "not_found",
                SPORE_FSTR("No endpoint has this path; GET /api/node/status lists the endpoints this node serves."));
    w.end_object();
    return 404;
  }

  if (req.method == kOptionsHttpMethod) return answer_preflight(path, h);

  if (match == nullptr) {
    write_error(w, 405, "method_not_allowed",
                SPORE_FSTR("This endpoint does not support this method; see \"allowed\"."));
    w.key(SPORE_FSTR("allowed")).begin_array();
    list_allowed(w, routes_, route_count_, path, allow_);
    w.end_array().end_object();
    h.allow = allow_;
    return 405;
  }

  // Readable across origins as answer_preflight() says (docs/security.md, "Cross-origin requests").
  h.allow_origin = allow_origin_for(match->auth);
  if (match->auth == RouteAuth::kToken) {
    const int denied = authorize(auth_request_of(req), w, &h);
    if (denied != 0) return denied;
  }

  if (match->kind == Kind::kAnswer) {
    h.content_type = match->content_type;
    const bool json = match->content_type == nullptr;
    if (ChunkedAnswer* answer = out.chunked_answer()) {
      answer->start(match->target.answer, json);
      return 200;
    }
    if (!write_whole_answer(match->target.answer, out, json)) {
      SPORE_LOG(ctx_, LogLevel::kError, "rest: answer to %.*s is an incomplete document",
                static_cast<int>(path.size()), path.data());
      return 500;
    }
    return 200;
  }
  if (match->kind == Kind::kText) {
    h.content_type = match->content_type;
    return match->target.text(req, out);
  }
  const int status = match->target.json(req, w);
  if (!w.complete()) {
    // The handler misused the writer; the body is truncated. Buffering adapters replace it.
    SPORE_LOG(ctx_, LogLevel::kError, "rest: handler for %.*s wrote an incomplete document",
              static_cast<int>(path.size()), path.data());
    return 500;
  }
  return status;
}

int RestApi::answer_preflight(std::string_view path, HttpResponseHeaders& h) {
  // A page of another origin may call a path whose every route is public or, on a node with a
  // token, protected: it must then send the token, which it has only if the user gave it. A node
  // without a token refuses the preflight of a path with an unprotected write (no Allow-Origin),
  // so no web page can send it a request beyond what a plain HTML form already can
  // (docs/security.md, "Cross-origin requests").
  size_t len = 0;
  bool granted = true;
  allow_[0] = '\0';
  for (size_t i = 0; i < route_count_; ++i) {
    if (!route_matches(routes_[i].path, path)) continue;
    append_method(allow_, sizeof allow_, &len, http_method_name(routes_[i].method));
    granted = granted && allow_origin_for(routes_[i].auth) != nullptr;
  }
  append_method(allow_, sizeof allow_, &len, "OPTIONS");
  h.allow = allow_;
  if (granted) {
    h.allow_methods = allow_;
    h.allow_origin = "*";
  }
  return 204;
}

bool RestApi::set_dashboard(const uint8_t* gzip_html, size_t size_bytes, const char* content_security_policy) {
  // A gzip member starts with 1f 8b 08 (deflate); anything else would reach browsers labelled
  // "Content-Encoding: gzip" and show as a broken page. Read via flash_read_byte: flash on target.
  if (gzip_html == nullptr || size_bytes < 18) return false;
  const char* bytes = reinterpret_cast<const char*>(gzip_html);
  const auto byte_at = [bytes](size_t i) { return static_cast<uint8_t>(flash_read_byte(bytes + i)); };
  if (byte_at(0) != 0x1F || byte_at(1) != 0x8B || byte_at(2) != 0x08) return false;
  // Registered as a route too, so "/" is in the api list and other methods on it get a JSON 405;
  // GET itself never reaches the handler (the adapter asks asset_for() first).
  if (dashboard_.data == nullptr &&
      !add_route(kDashboardPath, HttpMethod::kGet, RouteAuth::kPublic,
                 Handler::bind<RestApi, &RestApi::serve_dashboard_json>(this))) {
    return false;
  }
  dashboard_ = HttpAsset{gzip_html, size_bytes, "text/html; charset=utf-8", "gzip", content_security_policy};
  return true;
}

const HttpAsset* RestApi::asset_for(const HttpRequest& req) const {
  if (dashboard_.data == nullptr || req.method != HttpMethod::kGet) return nullptr;
  std::string_view path = req.path;
  path = without_query(path);
  return path == kDashboardPath ? &dashboard_ : nullptr;
}

int RestApi::serve_dashboard_json(const HttpRequest&, JsonWriter& w) {
  // Reached only by an adapter that skipped asset_for(): say where the page is rather than fail.
  write_error(w, 406, "not_acceptable",
              SPORE_FSTR("GET / is the web dashboard, an HTML page; this client asked for JSON."));
  w.end_object();
  return 406;
}

bool RestApi::status_unit(AnswerCursor& c, JsonWriter& w) { return ctx_.write_status_unit(c, w); }

bool RestApi::members_unit(AnswerCursor& c, JsonWriter& w) { return ctx_.write_members_unit(c, w); }

int RestApi::serve_challenge(const HttpRequest& req, JsonWriter& w) {
  char client_nonce[kAuthClientNonceMaxHexLen];
  const int len = http_query_param(req.path, "client_nonce", client_nonce, sizeof client_nonce);
  uint8_t decoded[kAuthClientNonceMaxHexLen / 2];
  if (len != -1 && (len < static_cast<int>(kAuthClientNonceMinHexLen) || len % 2 != 0 ||
                    !hex_decode(std::string_view(client_nonce, static_cast<size_t>(len)), decoded, len / 2))) {
    write_error(w, 400, "bad_request", SPORE_FSTR("client_nonce must be 16 to 64 hex digits (an even number)."));
    w.end_object();
    return 400;
  }
  const bool keyed = has_api_token();
  w.begin_object();
  w.field(SPORE_FSTR("nodeId"), ctx_.self().node_id);
  w.field(SPORE_FSTR("auth"), keyed ? "proof" : "none");
  w.field(SPORE_FSTR("bearer"), keyed && auth_.bearer_allowed());
  w.field(SPORE_FSTR("address"), req.local_address);
  if (keyed) {
    uint8_t nonce[kAuthNonceBytes];
    auth_.issue_nonce(ctx_.clock().now_ms(), nonce);
    char hex[2 * 32 + 1];
    hex_encode(nonce, sizeof nonce, hex);
    w.field(SPORE_FSTR("nonce"), static_cast<const char*>(hex));
    w.field(SPORE_FSTR("expiresInMs"), static_cast<uint32_t>(SPORE_AUTH_NONCE_LIFETIME_MS));
    if (len > 0) {
      uint8_t proof[32];
      auth_.node_proof(ctx_.self().node_id, nonce, std::string_view(client_nonce, static_cast<size_t>(len)),
                       req.local_address, proof);
      hex_encode(proof, sizeof proof, hex);
      w.field(SPORE_FSTR("proof"), static_cast<const char*>(hex));
    }
  }
  w.end_object();
  return 200;
}

int RestApi::serve_restart(const HttpRequest&, JsonWriter& w) {
  if (!restart_handler_) {
    write_error(w, 501, "not_supported", SPORE_FSTR("This node cannot restart itself on request."));
    w.end_object();
    return 501;
  }
  if (restart_blocked_) {
    write_error(w, 409, "restart_unavailable", SPORE_FSTR("Serial boot mode: power-cycle the board."));
    w.end_object();
    return 409;
  }
  restart_handler_();
  w.begin_object();
  w.field(SPORE_FSTR("status"), "restarting");
  w.field(SPORE_FSTR("hostname"), ctx_.hostname());
  w.field(SPORE_FSTR("nodeId"), ctx_.self().node_id);
  w.field(SPORE_FSTR("incarnation"), ctx_.self().incarnation);
  w.end_object();
  return 202;
}

int RestApi::serve_forget(const HttpRequest& req, JsonWriter& w) {
  // The route matched: the path is kMembersPath, '/', one non-empty segment (the node id).
  const std::string_view path = without_query(req.path);
  // Not a decimal uint32: id stays 0, which is nobody's (a view from pointers: substr()'s range
  // check would bring libstdc++'s exception text into the ESP8266's DRAM).
  const size_t at = kMembersPath.size() + 1;
  uint64_t id = 0;
  parse_decimal(std::string_view(path.data() + at, path.size() - at), UINT32_MAX, &id);
  int status = 200;
  Member* m = ctx_.members().find(static_cast<uint32_t>(id));
  if (m == nullptr) {
    status = write_error(w, 404, "not_found", SPORE_FSTR("No such member (decimal nodeId)."));
  } else if (!ctx_.members().forget_dead(*m)) {
    status = write_error(w, 409, "member_not_dead", SPORE_FSTR("The member is not DEAD."));
  } else {
    w.begin_object().field(SPORE_FSTR("status"), "forgotten");
  }
  w.end_object();
  return status;
}

}  // namespace spore
