#pragma once
/// @file rest_api.h
/// The node's REST API, platform-independent: routing, authentication and the seed's handlers.
/// A platform adapter (cpp-httplib on Linux, ESPAsyncWebServer on the ESP8266) turns each request
/// into an HttpRequest, calls RestApi::handle() and sends back the status, the headers in
/// HttpResponseHeaders and the JSON body written to the JsonOutput.
///
/// Seed endpoints served (field names exactly as the seed's README):
///   GET  /api/node/status      NodeContext::write_status_unit (an answer route)
///   GET  /api/cluster/members  NodeContext::write_members_unit (an answer route)
///   POST /api/node/restart     202 {"status":"restarting",...}; needs the API token when one is set
///   GET  /api/node/challenge   a nonce for a request proof (request_auth.h), and with
///                              ?client_nonce=<16..64 hex> the node's own proof that it holds the token
///   DELETE /api/cluster/members/{nodeId}  forgets a DEAD member (or one that left) now rather than
///                              after the DEAD retention; needs the token. 200 {"status":"forgotten"};
///                              404 not_found (no member has this decimal id; this node itself is
///                              none), 409 member_not_dead. Only this node forgets it; a peer that
///                              still lists it may tell this node of it again.
/// and, once set_dashboard() was called, GET / : the web dashboard, a gzipped HTML page the
/// adapter sends byte for byte (asset_for(); it is not JSON, so it bypasses handle()).
/// Text routes (add_text_route(), e.g. GET /metrics) go through handle() like JSON ones, but
/// their handler writes raw bytes and HttpResponseHeaders::content_type names their media type;
/// errors before the handler runs (404, 405, 401) are JSON as everywhere else.
///
/// Errors are always JSON `{"error": "<sentence>", "code": "<snake_case>"}`:
///   400 bad_request        the request line is unusable (empty path, not starting with '/',
///                          control characters, longer than kMaxPathBytes)
///   400 digest_mismatch    a valid request proof, but the body is not the one it was made for
///   401 auth_required      no Authorization header on a protected route
///       auth_scheme        an Authorization header that is neither `Spore ...` nor `Bearer <token>`
///       auth_invalid       a Bearer token that is not the configured one, or a proof that does not verify
///       auth_malformed     a `Spore` header whose parameters do not parse
///       auth_stale         a proof whose nonce expired, was used, or predates the node's start
///       auth_bearer_refused  a Bearer token on a node told not to accept them (set_bearer_allowed)
///                          (plus "authenticate": the WWW-Authenticate value the adapter must send,
///                          and "tokenLocation": where this node's token is, when the platform said)
///   404 not_found          no route has this path
///   503 token_pending      a protected route while the node has no token yet (lock_until_token())
///   405 method_not_allowed a route has this path but not this method
///                          (plus "allowed": ["GET", ...], and HttpResponseHeaders::allow)
///   409 member_not_dead    DELETE /api/cluster/members/{nodeId} of a member that is not DEAD
///   406 not_acceptable     GET / reached handle(): an adapter that does not serve asset_for()
///   501 not_supported      restart requested but this platform installed no restart handler
///   500 internal_error     a handler produced an incomplete document (a bug)
/// OPTIONS (kOptionsHttpMethod) on a path a route has is a CORS preflight: 204, no body, Allow (the
/// path's methods and OPTIONS) and, where granted, HttpResponseHeaders::allow_methods/allow_origin.
///
/// GET endpoints are public (the seed's dashboard and CLI read them without credentials); routes
/// that change the node (restart, OTA, publishing events) require the token when one is
/// configured, as a request proof (`Authorization: Spore ...`, request_auth.h) or, unless turned
/// off, as `Authorization: Bearer <token>`.
///
/// Not thread-safe and not reentrant: the adapter serializes calls with the node loop (core is
/// single-threaded). No allocation; the route table is a fixed array of SPORE_MAX_ROUTES.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/cluster/api_registry.h"
#include "spore/http/chunked_answer.h"
#include "spore/base/delegate.h"
#include "spore/base/flash_string.h"
#include "spore/base/json_writer.h"
#include "spore/base/limits.h"
#include "spore/auth/request_auth.h"

namespace spore {

class NodeContext;

/// A method outside HttpMethod (CONNECT, TRACE, ...): the adapter passes this and gets a 405 or 404.
constexpr HttpMethod kUnknownHttpMethod = static_cast<HttpMethod>(0);
/// OPTIONS, which no route registers (it is outside HttpMethod, so not in the api list): handle()
/// answers it on every path a route has, as a CORS preflight (RestApi::handle(), docs/security.md).
constexpr HttpMethod kOptionsHttpMethod = static_cast<HttpMethod>(0x80);

/// "Access-Control-Allow-Headers" of a preflight answer: the request headers a page of another
/// origin may send (the token travels in Authorization, set by the page's own script).
/// In flash on the ESP8266 (SPORE_FLASH: read with FPSTR / memcpy_P), like the next one.
constexpr char kCorsAllowHeaders[] SPORE_FLASH = "Authorization, Content-Type, Last-Event-ID";
/// "Access-Control-Max-Age" of a preflight answer, seconds: browsers cache the answer this long.
constexpr char kCorsMaxAgeS[] SPORE_FLASH = "600";

/// One HTTP request as the adapter saw it. Views are valid only during handle().
struct HttpRequest {
  HttpMethod method = kUnknownHttpMethod;
  /// Request target; a query string ("?a=b") is ignored for routing.
  std::string_view path;
  /// Raw value of the Authorization header, empty when absent.
  std::string_view authorization;
  std::string_view body;
  /// Raw value of the Content-Type header, empty when absent (used by POST /api/node/update).
  std::string_view content_type;
  /// This node's end of the connection as "a.b.c.d:port" (the address the client reached it at),
  /// empty when the adapter cannot tell. GET /api/node/challenge signs it, so a client can tell a
  /// relay (a fake member forwarding its challenge to the real node) from the node itself.
  std::string_view local_address;
};

/// Response headers the adapter must add. Pointers are NUL-terminated and valid until the next
/// handle() call; nullptr = do not send the header.
struct HttpResponseHeaders {
  /// "Content-Type" of a text route's body; nullptr = `application/json` (every other answer).
  const char* content_type = nullptr;
  const char* allow = nullptr;             ///< "Allow" on a 405 ("GET, POST") or a 204 preflight (+ OPTIONS)
  const char* www_authenticate = nullptr;  ///< "WWW-Authenticate" on a 401
  /// "Access-Control-Allow-Origin" ("*"): on public routes (the dashboard served by one node reads
  /// its peers' GET /api/node/status across origins; data anyone on the LAN may read anyway) and,
  /// on a node with a token, on protected routes, whose answers a page can only obtain with
  /// the token it was given (docs/security.md, "Cross-origin requests"). Never
  /// Access-Control-Allow-Credentials: no cookie or browser-held credential ever authorizes.
  const char* allow_origin = nullptr;
  /// "Access-Control-Allow-Methods" of a 204 preflight answer (OPTIONS) a page of another origin
  /// is granted: the path's methods and OPTIONS, as in Allow. When set, the adapter also sends
  /// "Access-Control-Allow-Headers:" kCorsAllowHeaders and "Access-Control-Max-Age:" kCorsMaxAgeS.
  const char* allow_methods = nullptr;
};

/// A complete response body stored pre-encoded in flash (the web dashboard), sent byte for byte.
/// On the ESP8266 `data` is in flash (SPORE_FLASH / PROGMEM): read it only with word-aligned
/// loads or memcpy_P, which the adapter's response class does.
struct HttpAsset {
  const uint8_t* data = nullptr;
  size_t size_bytes = 0;
  const char* content_type = nullptr;      ///< "Content-Type"
  const char* content_encoding = nullptr;  ///< "Content-Encoding" ("gzip"), nullptr = none
  /// "Content-Security-Policy" of the page (the dashboard's: its inline script and style by hash,
  /// frame-ancestors 'none'), nullptr = none; NUL-terminated, in flash on the ESP8266 like `data`
  /// (read it with FlashStr). Adapters send every asset with `X-Frame-Options: DENY` and, like
  /// every other answer, `X-Content-Type-Options: nosniff`.
  const char* content_security_policy = nullptr;
};

/// Responses by HTTP status, for GET /metrics: one counter for each status SPORE itself sends
/// (200 202 204 400 401 404 405 406 408 409 413 414 415 422 500 501 503), one for all others, so the
/// table is fixed (72 B) whatever a client provokes.
class HttpStatusCounts {
 public:
  /// Counter slots: one per known status, then "other".
  static constexpr size_t kSlots = 18;
  /// The slot counting `status`; kSlots - 1 ("other") for a status outside the table.
  static size_t slot_of(int status);
  /// The status a slot counts; 0 for the "other" slot (and beyond).
  static int status_at(size_t slot);

  void record(int status) { ++counts_[slot_of(status)]; }
  /// Responses counted in `slot` (0 beyond the table).
  uint32_t at(size_t slot) const { return slot < kSlots ? counts_[slot] : 0; }
  /// Responses counted with `status`; for a status outside the table, all such responses.
  uint32_t count(int status) const { return counts_[slot_of(status)]; }

 private:
  uint32_t counts_[kSlots] = {};
};

/// Who may call a route.
enum class RouteAuth : uint8_t {
  kPublic,  ///< anyone
  kToken,   ///< the API token (a request proof, or Bearer) when one is configured; anyone otherwise
  /// The same, but checked by the handler itself rather than before it: a streamed upload, whose
  /// proof covers the image file (checked when it ends) instead of the request body.
  kTokenInHandler,
};

class RestApi {
 public:
  /// Writes the response body (one complete JSON value) and returns the HTTP status.
  using Handler = Delegate<int(const HttpRequest&, JsonWriter&)>;
  /// A text route's handler: writes the raw body bytes (any media type, no JSON framing) and
  /// returns the HTTP status.
  using TextHandler = Delegate<int(const HttpRequest&, JsonOutput&)>;

  /// Longest request path accepted (query string included), bytes; longer gets 400.
  static constexpr size_t kMaxPathBytes = 512;

  explicit RestApi(NodeContext& ctx);
  RestApi(const RestApi&) = delete;
  RestApi& operator=(const RestApi&) = delete;

  /// Sets the token protected routes require; empty = no authentication. A token must be
  /// 1..SPORE_MAX_TOKEN_LEN bytes of RFC 6750 token68 characters (A-Z a-z 0-9 - . _ ~ + / =);
  /// anything else returns false and leaves the previous token in place.
  /// An accepted token also ends lock_until_token().
  bool set_api_token(std::string_view token) {
    const bool ok = auth_.set_token(token);
    if (ok) token_pending_ = false;
    return ok;
  }
  /// The node will have a token but has not drawn it yet (an ESP8266 before its radio runs:
  /// spore/device/device_settings.h). Until set_api_token() every protected route answers 503
  /// token_pending, whatever credentials it carries; has_api_token() is true and token_matches()
  /// false. Nothing is compared with a token meanwhile: a throwaway token drawn while the RNG is
  /// weak could be guessed (review finding 8).
  void lock_until_token() { token_pending_ = true; }
  bool token_pending() const { return token_pending_; }
  /// True for every token set_api_token() accepts, the empty one included (DeviceConfig checks
  /// a stored token with it before the node starts).
  static bool valid_api_token(std::string_view token) { return RequestAuth::valid_token(token); }
  bool has_api_token() const { return token_pending_ || auth_.has_token(); }
  /// True when no token is set or `token` (the bare token, no "Bearer ") is the configured one;
  /// in time independent of where they differ. For credentials that arrive outside an
  /// Authorization header, such as the captive portal's form.
  bool token_matches(std::string_view token) const { return !token_pending_ && auth_.token_matches(token); }
  /// Whether `Authorization: Bearer <token>` is accepted besides request proofs (default true: the
  /// seed's `curl` flow). spored --no-bearer and the ESP8266 setting `no_bearer=1` turn it off.
  void set_bearer_allowed(bool allowed) { auth_.set_bearer_allowed(allowed); }
  /// Where this node's token can be found, for 401 answers ("tokenLocation"): a Linux node's
  /// token file, an ESP8266's "serial log of its first boot". NUL-terminated, must outlive the
  /// RestApi; nullptr (default) = not said.
  void set_token_location(const char* where) { token_location_ = where; }
  RequestAuth& auth() { return auth_; }
  const RequestAuth& auth() const { return auth_; }

  /// Called once per successful POST /api/node/restart, during handle(), before the 202 is
  /// written. It must not restart at once: the platform restarts after the response is sent.
  void set_restart_handler(Delegate<void()> handler) { restart_handler_ = handler; }
  /// While set, an authorized POST /api/node/restart answers 409 restart_unavailable and the
  /// handler is not called (an ESP8266 in its serial download boot mode would hang).
  void set_restart_blocked(bool blocked) { restart_blocked_ = blocked; }

  /// Adds a route and registers it in ctx.api() so it appears in the node's "api" list. `path`
  /// must stay valid for the RestApi's lifetime (a string literal); a last segment "{name}"
  /// matches any one non-empty segment (the handler reads it from HttpRequest::path). Returns
  /// false when the table or the registry is full, the path is not a valid registry URI, or the
  /// path + method exists.
  bool add_route(std::string_view path, HttpMethod method, RouteAuth auth, Handler handler);
  /// add_route() for a route whose body is not JSON (GET /metrics: Prometheus text): handle()
  /// passes its output to `handler` unwrapped and sets HttpResponseHeaders::content_type to
  /// `content_type` (NUL-terminated, must outlive the RestApi: a string literal). Same rules and
  /// results as add_route(); also false for a null content type.
  bool add_text_route(std::string_view path, HttpMethod method, RouteAuth auth, const char* content_type,
                      TextHandler handler);
  /// add_route() for a 200 answer that may be large (members, status, /metrics): `source` writes
  /// it unit by unit (chunked_answer.h). handle() attaches it to an output that is a ChunkedAnswer
  /// (the ESP8266 adapter), which renders it as the HTTP library asks for bytes, and writes it
  /// whole to any other output. `content_type` nullptr = JSON (checked complete; an incomplete
  /// whole rendering is a 500), else a text answer of that media type (a string literal).
  bool add_answer_route(std::string_view path, HttpMethod method, RouteAuth auth, const char* content_type,
                        AnswerSource source);

  /// Registers the seed's endpoints (status, members, restart) and GET /api/node/challenge, and
  /// seeds the request-proof nonces from ctx's Random. Call once, after ctx.begin().
  /// Returns false if any could not be registered (registry full).
  bool begin();

  /// Authorizes `req` exactly as handle() does for RouteAuth::kToken routes (request_auth.h).
  /// Returns 0 when allowed (always, when no token is set), with `*decision` (may be nullptr)
  /// holding the proof's declared SHA-256 when req.body was nullptr (a streamed upload: the caller
  /// checks it at the end). Otherwise writes the complete JSON error to `w` (401 with
  /// "authenticate" and "tokenLocation", or 400 digest_mismatch), sets headers->www_authenticate
  /// on a 401 (when `headers` is not nullptr) and returns the status. For endpoints a platform
  /// streams outside handle(), such as POST /api/node/update.
  int authorize(const AuthRequest& req, JsonWriter& w, HttpResponseHeaders* headers, AuthDecision* decision = nullptr);

  /// Serves `gzip_html` (a gzip stream of one HTML page, `size_bytes` long, which must outlive the
  /// RestApi; in flash on the ESP8266) as GET / and lists "/" in the node's api list, with
  /// `content_security_policy` (may be nullptr; must outlive the RestApi; tools/embed_asset.py
  /// generates the dashboard's) as HttpAsset::content_security_policy. Returns false (and serves
  /// nothing) when the data is empty or not gzip, or the registry is full.
  bool set_dashboard(const uint8_t* gzip_html, size_t size_bytes, const char* content_security_policy = nullptr);
  /// The asset `req` asks for, or nullptr when it is a request for handle(): GET (or HEAD, which
  /// adapters map to GET) of "/" (a query string is ignored) once set_dashboard() succeeded. Every
  /// other method on "/" goes to handle(), which answers 405 with "Allow: GET".
  const HttpAsset* asset_for(const HttpRequest& req) const;

  /// Routes `req`, writes a JSON body (a text route's: its own) to `out`, returns the HTTP
  /// status and counts it in response_counts(). `headers` may be nullptr when the caller does not
  /// send extra headers. When `out` is a ChunkedAnswer, an answer route's source is attached to it
  /// (the body follows as the caller calls fill()); an answer written in one piece that does not
  /// fit its carry buffer fails it and makes the status 500 (the caller then sends an error of
  /// its own instead of the failed answer).
  int handle(const HttpRequest& req, JsonOutput& out, HttpResponseHeaders* headers = nullptr);

  /// The Access-Control-Allow-Origin value ("*", or nullptr: none) of an answer on a route with
  /// `auth`: public routes always, protected ones on a node with a token (docs/security.md,
  /// "Cross-origin requests"). handle() applies it; adapters too, to answers they send outside
  /// handle() (a streamed upload's).
  const char* allow_origin_for(RouteAuth auth) const {
    return auth == RouteAuth::kPublic || has_api_token() ? "*" : nullptr;
  }

  /// The headers of the response handle() is building, for a kTokenInHandler handler that
  /// authorizes itself; nullptr outside handle().
  HttpResponseHeaders* current_headers() const { return current_headers_; }

  /// Counts a response an adapter sent without handle() (the dashboard asset, a streamed upload's
  /// answer, a 503 overload refusal, its HTTP library's own errors), so that response_counts()
  /// covers every answer the node gives.
  void record_response(int status) { responses_.record(status); }
  /// Responses by status since construction (handle()'s and record_response()'s).
  const HttpStatusCounts& response_counts() const { return responses_; }

  size_t route_count() const { return route_count_; }

 private:
  /// One of the three handler kinds, told apart by Route::kind (one delegate per route).
  union Target {
    Handler json;
    TextHandler text;
    AnswerSource answer;
    constexpr Target() : json() {}
  };
  enum class Kind : uint8_t { kJson, kText, kAnswer };
  struct Route {
    std::string_view path;
    HttpMethod method;
    RouteAuth auth;
    Kind kind;
    const char* content_type;  ///< a text or answer route's media type; nullptr = JSON
    Target target;
  };
  bool add(std::string_view path, HttpMethod method, RouteAuth auth, Kind kind, const char* content_type,
           Target target);
  bool members_unit(AnswerCursor& c, JsonWriter& w);
  bool status_unit(AnswerCursor& c, JsonWriter& w);
  int dispatch(const HttpRequest& req, JsonOutput& out, HttpResponseHeaders& h);
  int write_error(JsonWriter& w, int status, const char* code, FlashStr message);
  /// The 204 answer to OPTIONS on `path` (a known one): Allow and the CORS preflight headers.
  int answer_preflight(std::string_view path, HttpResponseHeaders& h);
  int serve_restart(const HttpRequest& req, JsonWriter& w);
  int serve_challenge(const HttpRequest& req, JsonWriter& w);
  int serve_forget(const HttpRequest& req, JsonWriter& w);
  int serve_dashboard_json(const HttpRequest& req, JsonWriter& w);

  NodeContext& ctx_;
  Route routes_[SPORE_MAX_ROUTES] = {};
  size_t route_count_ = 0;
  RequestAuth auth_;
  const char* token_location_ = nullptr;
  HttpResponseHeaders* current_headers_ = nullptr;
  Delegate<void()> restart_handler_;
  bool restart_blocked_ = false;
  bool token_pending_ = false;
  char allow_[48] = {};  ///< a 405's or preflight's Allow: "GET, POST, PUT, DELETE, PATCH, OPTIONS" fits
  HttpAsset dashboard_;
  HttpStatusCounts responses_;
};

}  // namespace spore
