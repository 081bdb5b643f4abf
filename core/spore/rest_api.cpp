#include "spore/rest_api.h"

#include <cstring>

#include "spore/flash_string.h"
#include "spore/hmac_sha256.h"
#include "spore/http_text.h"
#include "spore/node_context.h"

namespace spore {

namespace {

constexpr std::string_view kStatusPath = "/api/node/status";
constexpr std::string_view kMembersPath = "/api/cluster/members";
constexpr std::string_view kRestartPath = "/api/node/restart";
constexpr std::string_view kDashboardPath = "/";

constexpr const char* kChallengeMissing = "Bearer realm=\"spore\"";
constexpr const char* kChallengeScheme = "Bearer realm=\"spore\", error=\"invalid_request\"";
constexpr const char* kChallengeInvalid = "Bearer realm=\"spore\", error=\"invalid_token\"";

bool is_token68_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}

/// `path` up to its query or fragment, if any (no substr(): see check_token()).
std::string_view without_query(std::string_view path) {
  size_t n = 0;
  while (n < path.size() && path[n] != '?' && path[n] != '#') ++n;
  return std::string_view(path.data(), n);
}

bool method_known(HttpMethod m) {
  const auto v = static_cast<uint8_t>(m);
  return v >= static_cast<uint8_t>(HttpMethod::kGet) && v <= static_cast<uint8_t>(HttpMethod::kPatch);
}

}  // namespace

// The statuses HttpStatusCounts counts one by one, in slot order; in flash (read as aligned words).
constexpr uint32_t kCountedStatuses[HttpStatusCounts::kSlots - 1] SPORE_FLASH = {
    200, 202, 400, 401, 404, 405, 406, 408, 409, 413, 414, 415, 422, 500, 501, 503};

size_t HttpStatusCounts::slot_of(int status) {
  size_t i = 0;
  while (i < kSlots - 1 && static_cast<int>(kCountedStatuses[i]) != status) ++i;
  return i;
}

int HttpStatusCounts::status_at(size_t slot) {
  return slot < kSlots - 1 ? static_cast<int>(kCountedStatuses[slot]) : 0;
}

RestApi::RestApi(NodeContext& ctx) : ctx_(ctx) {}

bool RestApi::valid_api_token(std::string_view token) {
  if (token.size() > SPORE_MAX_TOKEN_LEN) return false;
  for (char c : token) {
    if (!is_token68_char(c)) return false;
  }
  return true;
}

bool RestApi::set_api_token(std::string_view token) {
  if (!valid_api_token(token)) return false;
  std::memset(token_, 0, sizeof token_);
  if (!token.empty()) std::memcpy(token_, token.data(), token.size());
  token_len_ = token.size();
  return true;
}

bool RestApi::add(std::string_view path, HttpMethod method, RouteAuth auth, const char* content_type,
                  Target target) {
  if (route_count_ >= SPORE_MAX_ROUTES || !method_known(method)) return false;
  for (size_t i = 0; i < route_count_; ++i) {
    if (routes_[i].path == path && routes_[i].method == method) return false;
  }
  const ApiAddResult added = ctx_.api().add(path, method);
  if (added != ApiAddResult::kAdded && added != ApiAddResult::kDuplicate) return false;
  routes_[route_count_++] = Route{path, method, auth, content_type, target};
  return true;
}

bool RestApi::add_route(std::string_view path, HttpMethod method, RouteAuth auth, Handler handler) {
  if (!handler) return false;
  Target target;
  target.json = handler;
  return add(path, method, auth, nullptr, target);
}

bool RestApi::add_text_route(std::string_view path, HttpMethod method, RouteAuth auth, const char* content_type,
                             TextHandler handler) {
  if (!handler || content_type == nullptr) return false;
  Target target;
  target.text = handler;
  return add(path, method, auth, content_type, target);
}

bool RestApi::begin() {
  bool ok = add_route(kStatusPath, HttpMethod::kGet, RouteAuth::kPublic,
                      Handler::bind<RestApi, &RestApi::serve_status>(this));
  ok = add_route(kMembersPath, HttpMethod::kGet, RouteAuth::kPublic,
                 Handler::bind<RestApi, &RestApi::serve_members>(this)) &&
       ok;
  ok = add_route(kRestartPath, HttpMethod::kPost, RouteAuth::kToken,
                 Handler::bind<RestApi, &RestApi::serve_restart>(this)) &&
       ok;
  if (!ok) SPORE_LOG(ctx_, LogLevel::kError, "rest: could not register every endpoint (registry full?)");
  return ok;
}

RestApi::AuthResult RestApi::check_token(std::string_view authorization) const {
  const std::string_view value = trim_ows(authorization);
  if (value.empty()) return AuthResult::kMissing;
  size_t space = 0;
  while (space < value.size() && !is_ows(value[space])) ++space;
  // Views built by hand rather than with substr(): its range check drags libstdc++'s exception
  // message into the ESP8266's DRAM.
  if (!ascii_iequals(std::string_view(value.data(), space), "Bearer")) return AuthResult::kScheme;
  const std::string_view presented = trim_ows(std::string_view(value.data() + space, value.size() - space));
  if (presented.empty()) return AuthResult::kScheme;
  return token_matches(presented) ? AuthResult::kOk : AuthResult::kInvalid;
}

bool RestApi::token_matches(std::string_view presented) const {
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

int RestApi::write_error(JsonWriter& w, int status, const char* code, FlashStr message) {
  w.begin_object().field(SPORE_FSTR("error"), message).field(SPORE_FSTR("code"), code);
  return status;
}

int RestApi::authorize(std::string_view authorization, JsonWriter& w, HttpResponseHeaders* headers) {
  if (token_len_ == 0) return 0;
  const AuthResult auth = check_token(authorization);
  if (auth == AuthResult::kOk) return 0;
  const char* challenge = kChallengeMissing;
  if (auth == AuthResult::kMissing) {
    write_error(w, 401, "auth_required",
                SPORE_FSTR("This endpoint needs the node's API token: send 'Authorization: Bearer <token>'."));
  } else if (auth == AuthResult::kScheme) {
    challenge = kChallengeScheme;
    write_error(w, 401, "auth_scheme",
                SPORE_FSTR("The Authorization header must be 'Bearer <token>'; no other scheme is accepted."));
  } else {
    challenge = kChallengeInvalid;
    write_error(w, 401, "auth_invalid", SPORE_FSTR("The Bearer token is not this node's API token."));
  }
  w.field(SPORE_FSTR("authenticate"), challenge).end_object();
  if (headers != nullptr) headers->www_authenticate = challenge;
  return 401;
}

int RestApi::handle(const HttpRequest& req, JsonOutput& out, HttpResponseHeaders* headers) {
  HttpResponseHeaders unused;
  HttpResponseHeaders& h = headers != nullptr ? *headers : unused;
  h = HttpResponseHeaders{};
  const int status = dispatch(req, out, h);
  responses_.record(status);
  return status;
}

int RestApi::dispatch(const HttpRequest& req, JsonOutput& out, HttpResponseHeaders& h) {
  JsonWriter w(out);

  std::string_view path = req.path;
  bool path_ok = !path.empty() && path.front() == '/' && path.size() <= kMaxPathBytes;
  for (size_t i = 0; path_ok && i < path.size(); ++i) {
    const auto b = static_cast<uint8_t>(path[i]);
    path_ok = b > 0x20 && b < 0x7F;
  }
  if (!path_ok) {
    write_error(w, 400, "bad_request",
                SPORE_FSTR("The request path must start with '/' and hold at most 512 printable ASCII characters."));
    w.end_object();
    return 400;
  }
  path = without_query(path);

  const Route* match = nullptr;
  bool path_known = false;
  for (size_t i = 0; i < route_count_; ++i) {
    if (routes_[i].path != path) continue;
    path_known = true;
    if (routes_[i].method == req.method) match = &routes_[i];
  }

  if (!path_known) {
    write_error(w, 404, "not_found",
                SPORE_FSTR("No endpoint has this path; GET /api/node/status lists the endpoints this node serves."));
    w.end_object();
    return 404;
  }

  if (match == nullptr) {
    // Allow header and "allowed" list: every method this path supports, registration order.
    size_t len = 0;
    allow_[0] = '\0';
    write_error(w, 405, "method_not_allowed",
                SPORE_FSTR("This endpoint does not support this method; see \"allowed\"."));
    w.key(SPORE_FSTR("allowed")).begin_array();
    for (size_t i = 0; i < route_count_; ++i) {
      if (routes_[i].path != path) continue;
      const char* name = http_method_name(routes_[i].method);
      w.value(name);
      const size_t name_len = std::strlen(name);
      if (len + name_len + 3 < sizeof allow_) {
        if (len > 0) {
          allow_[len++] = ',';
          allow_[len++] = ' ';
        }
        std::memcpy(allow_ + len, name, name_len);
        len += name_len;
        allow_[len] = '\0';
      }
    }
    w.end_array().end_object();
    h.allow = allow_;
    return 405;
  }

  if (match->auth == RouteAuth::kToken) {
    const int denied = authorize(req.authorization, w, &h);
    if (denied != 0) return denied;
  } else if (match->method == HttpMethod::kGet) {
    h.allow_origin = "*";
  }

  if (match->content_type != nullptr) {
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

bool RestApi::set_dashboard(const uint8_t* gzip_html, size_t size_bytes) {
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
  dashboard_ = HttpAsset{gzip_html, size_bytes, "text/html; charset=utf-8", "gzip"};
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

int RestApi::serve_status(const HttpRequest&, JsonWriter& w) {
  ctx_.write_status_json(w);
  return 200;
}

int RestApi::serve_members(const HttpRequest&, JsonWriter& w) {
  ctx_.write_members_json(w);
  return 200;
}

int RestApi::serve_restart(const HttpRequest&, JsonWriter& w) {
  if (!restart_handler_) {
    write_error(w, 501, "not_supported", SPORE_FSTR("This node cannot restart itself on request."));
    w.end_object();
    return 501;
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

}  // namespace spore
