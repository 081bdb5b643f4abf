// libFuzzer target for HTTP request handling and routing in core: RestApi::handle() on a full
// node (NodeContext + RestApi with an API token + Membership on a null UDP port + OtaSession and
// OtaUploadHandler on an in-memory flash target + Metrics + EventApi), and the streamed
// OtaUploadHandler::start() / body() / finish() path the platform adapters use.
//
// Input layout: byte 0 = method (low 3 bits: 0 = unknown, 1..5 = HttpMethod, 6 = OPTIONS, 7 = unknown) and
// route (high 5 bits: 0..kRouteCount-1 = that known route, the target field appended to it;
// else the target field alone); byte 1 = flags (bits 0-1: Authorization 0 = the field as is,
// 1 = "Bearer <the token>", 2 = the field as is on a node without a token, 3 = the field as
// is; bit 2: upload declared with Content-Length 0 (unknown); bit 3: upload connection drops
// before finish()); byte 2 = chunking seed for the upload; then the fields target NUL
// authorization NUL content-type NUL body (the body may hold NULs; missing fields are empty).
// A fresh node serves every input, so a crash replays exactly.
//
// Properties checked on every input, abort() on violation:
// - nothing crashes or reads out of bounds (ASan/UBSan in the fuzz preset);
// - handle() answers one of the statuses RestApi / OtaUploadHandler / EventApi document
//   (200 202 204 400 401 404 405 406 409 413 415 422 501 503), never 500 (a handler bug) nor
//   another; response_counts() counts it once;
// - OPTIONS answers only 204 (an empty body, Allow ending in OPTIONS, Allow-Methods only with
//   Allow-Origin, and then equal to Allow), 400 or 404, and changes nothing whatever its
//   Authorization;
// - a JSON answer (HttpResponseHeaders::content_type unset) is exactly one complete, valid JSON
//   value (RFC 8259, UTF-8; checked with nlohmann::json::accept) and an error answer is an object
//   with "error" and "code" strings; a 401 comes with WWW-Authenticate, a 405 with Allow;
// - GET /metrics answers Prometheus text 0.0.4: every line ends with '\n' and is "# HELP name
//   text", "# TYPE name type" or "name{label="value",...} number" with valid names;
// - a request whose Authorization does not contain the node's token never changes state: no
//   restart handler call, no published cluster event, no OTA started, no flash begun or written;
//   and it never gets a 2xx from a protected route;
// - the streamed upload: start() returns 0 or a documented error with a complete JSON body and
//   writes nothing to flash; after 0, exactly one ota_started, then exactly one of ota_finished
//   (200, flash committed once, restart_pending) or ota_failed (error status, flash not
//   committed, aborted if begun); finish() leaves busy() false; a second finish() answers 400;
//   the outcome (status, committed bytes) is the same whole and in pseudo-random chunks;
// - the same request answered through a ChunkedAnswer (the ESP8266 adapter) drained in
//   pseudo-random pieces gives the same status, media type and bytes, and never fails (every
//   answer written in one piece fits SPORE_ANSWER_CARRY_BYTES).
//
// Seed corpus: tests/fuzz/corpus/rest_request/.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_chunker.h"
#include "fuzz_ports.h"
#include "spore/http/chunked_answer.h"
#include "spore/events/cluster_events.h"
#include "spore/integrations/event_api.h"
#include "spore/cluster/membership.h"
#include "spore/integrations/metrics.h"
#include "spore/node/node_context.h"
#include "spore/ota/ota.h"
#include "spore/ota/ota_upload.h"
#include "spore/http/rest_api.h"

namespace {

using spore::fuzz::CountingRandom;
using spore::fuzz::NullUdp;
using spore::fuzz::StringOutput;

constexpr std::string_view kToken = "fuzz-token-7Qx9";

void check(bool ok) {
  if (!ok) std::abort();
}

struct Node {
  spore::fuzz::SettableClock clock;
  CountingRandom random;
  spore::fuzz::FixedSystem system;
  NullUdp udp;
  spore::fuzz::MemoryFlash flash{4096};
  spore::NodeContext ctx{spore::Config::fast(), clock, random, system, nullptr};
  spore::RestApi api{ctx};
  spore::Membership membership{ctx, udp, random};
  spore::OtaSession session{flash};
  spore::OtaUploadHandler ota{ctx, api, session};
  spore::Metrics metrics{ctx, api};
  spore::EventApi events{ctx, api};
  int restarts = 0;
  int ota_started = 0, ota_finished = 0, ota_failed = 0;

  explicit Node(bool with_token) {
    check(ctx.begin({0x0A1B2C3D, 7, 0x7F000001, "fuzz"}) && api.begin());
    membership.begin();
    check(ota.begin() && metrics.begin() && events.begin(spore::EventApi::Sink()));
    metrics.set_membership(&membership);
    if (with_token) check(api.set_api_token(kToken));
    api.set_restart_handler(spore::Delegate<void()>::bind<Node, &Node::on_restart>(this));
    check(ctx.on(spore::EventBus::kAnyTopic, spore::EventHandler::bind<Node, &Node::on_event>(this)) >= 0);
  }
  void on_restart() { ++restarts; }
  void on_event(const spore::Event& e) {
    if (e.topic() == spore::topics::kOtaStarted) ++ota_started;
    if (e.topic() == spore::topics::kOtaFinished) ++ota_finished;
    if (e.topic() == spore::topics::kOtaFailed) ++ota_failed;
  }
  uint32_t published() { return ctx.cluster_events()->stats().published; }
};

bool documented_status(int s) {
  switch (s) {
    case 200: case 202: case 204: case 400: case 401: case 404: case 405: case 406: case 409: case 413: case 415:
    case 422: case 501: case 503:
      return true;
    default:
      return false;
  }
}

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

/// A metric or label name at `*pos`; advances past it.
bool take_name(std::string_view line, size_t* pos, bool label) {
  const size_t start = *pos;
  if (start >= line.size() || !is_name_start(line[start]) || (label && line[start] == ':')) return false;
  size_t i = start + 1;
  while (i < line.size() && is_name_char(line[i]) && !(label && line[i] == ':')) ++i;
  *pos = i;
  return true;
}

bool is_number(std::string_view s) {
  if (s == "+Inf" || s == "-Inf" || s == "NaN") return true;
  if (s.empty() || s.size() > 40) return false;
  const std::string copy(s);
  char* end = nullptr;
  std::strtod(copy.c_str(), &end);
  return end == copy.c_str() + copy.size() && copy.find_first_of(" \t") == std::string::npos;
}

/// Prometheus text exposition format 0.0.4, strictly as SPORE writes it.
bool valid_prometheus(std::string_view text) {
  if (text.empty() || text.back() != '\n') return false;
  size_t start = 0;
  while (start < text.size()) {
    const size_t nl = text.find('\n', start);
    const std::string_view line = text.substr(start, nl - start);
    start = nl + 1;
    size_t pos = 0;
    if (line.substr(0, 7) == "# HELP ") {
      pos = 7;
      if (!take_name(line, &pos, false) || (pos < line.size() && line[pos] != ' ')) return false;
      continue;
    }
    if (line.substr(0, 7) == "# TYPE ") {
      pos = 7;
      if (!take_name(line, &pos, false) || pos >= line.size() || line[pos] != ' ') return false;
      const std::string_view type = line.substr(pos + 1);
      if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" && type != "untyped")
        return false;
      continue;
    }
    if (!take_name(line, &pos, false)) return false;
    if (pos < line.size() && line[pos] == '{') {
      ++pos;
      while (pos < line.size() && line[pos] != '}') {
        if (!take_name(line, &pos, true) || line.substr(pos, 2) != "=\"") return false;
        pos += 2;
        while (pos < line.size() && line[pos] != '"') {
          const auto c = static_cast<uint8_t>(line[pos]);
          if (c < 0x20 || c == 0x7F) return false;
          if (line[pos] == '\\') {
            if (pos + 1 >= line.size() || (line[pos + 1] != '\\' && line[pos + 1] != '"' && line[pos + 1] != 'n'))
              return false;
            ++pos;
          }
          ++pos;
        }
        if (pos >= line.size()) return false;
        ++pos;  // closing quote
        if (pos < line.size() && line[pos] == ',') ++pos;
      }
      if (pos >= line.size()) return false;
      ++pos;  // '}'
    }
    if (pos >= line.size() || line[pos] != ' ') return false;
    if (!is_number(line.substr(pos + 1))) return false;
  }
  return true;
}

/// One complete JSON value; an error status carries {"error": string, "code": string}.
void check_json_body(const std::string& body, int status) {
  check(!body.empty() && nlohmann::json::accept(body));
  if (status >= 400) {
    const nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
    check(doc.is_object() && doc.contains("error") && doc["error"].is_string() && doc.contains("code") &&
          doc["code"].is_string());
  }
}

void check_preflight(spore::HttpMethod method, const std::string& body, const spore::HttpResponseHeaders& h) {
  check(method == spore::kOptionsHttpMethod && body.empty() && h.content_type == nullptr && h.allow != nullptr);
  const std::string_view allow(h.allow);
  check(allow.size() >= 7 && allow.substr(allow.size() - 7) == "OPTIONS");
  check((h.allow_methods != nullptr) == (h.allow_origin != nullptr));
  if (h.allow_methods != nullptr) check(allow == h.allow_methods);
}

struct Fields {
  std::string_view target, authorization, content_type, body;
};

Fields split(std::string_view in) {
  Fields f;
  std::string_view* order[] = {&f.target, &f.authorization, &f.content_type};
  for (std::string_view* field : order) {
    const size_t nul = in.find('\0');
    *field = in.substr(0, nul);
    if (nul == std::string_view::npos) return f;
    in = in.substr(nul + 1);
  }
  f.body = in;
  return f;
}

constexpr std::string_view kRoutes[] = {
    "/api/node/status",  "/api/cluster/members",      "/api/node/restart", "/api/node/update",
    "/metrics",          "/api/cluster/events",       "/api/cluster/events/stream", "/",
    "/api/node/status/", "/API/NODE/STATUS",
};
constexpr size_t kRouteCount = sizeof kRoutes / sizeof kRoutes[0];

/// The same request on a fresh node, answered through a ChunkedAnswer (the ESP8266 adapter's
/// way) drained in pseudo-random pieces of 1..600 bytes: same status and media type, and the same
/// bytes as the whole answer (for /metrics: as a whole rendering right after handle(), since the
/// chunked answer is rendered after its own request was counted).
void check_chunked(bool with_token, uint32_t seed, const spore::HttpRequest& req, int status,
                   const spore::HttpResponseHeaders& headers, const std::string& whole) {
  Node node(with_token);
  spore::ChunkedAnswer answer;
  spore::HttpResponseHeaders h;
  const int chunked_status = node.api.handle(req, answer, &h);
  // Every answer core writes in one piece fits the carry: no 500 from the chunked path either.
  check(chunked_status == status && !answer.failed());
  check((h.content_type == nullptr) == (headers.content_type == nullptr));
  std::string expected = whole;
  if (h.content_type != nullptr) {
    StringOutput now;
    node.metrics.write(now);
    expected = now.text;
  }
  spore::fuzz::Chunker chunks(seed | 0x100u, 600);
  std::string text;
  char buf[600];
  for (size_t n; (n = answer.fill(buf, chunks.next(sizeof buf))) != 0;) text.append(buf, n);
  check(answer.finished() && text == expected);
}

void fuzz_handle(uint8_t method_route, uint8_t flags, uint32_t seed, const Fields& f, const std::string& auth_value) {
  const bool with_token = (flags & 3u) != 2;
  Node node(with_token);
  const auto method = (method_route & 7u) == 6 ? spore::kOptionsHttpMethod
                                               : static_cast<spore::HttpMethod>(method_route & 7u);
  const size_t route = method_route >> 3;
  std::string target;
  if (route < kRouteCount) target = kRoutes[route];
  target.append(f.target);

  const bool authorized =
      (!with_token || auth_value.find(kToken) != std::string::npos) && method != spore::kOptionsHttpMethod;
  const uint32_t published_before = node.published();
  StringOutput out;
  spore::HttpResponseHeaders headers;
  headers.allow = "garbage";  // handle() must reset the headers
  const spore::HttpRequest req{method, target, auth_value, f.body, f.content_type, {}};
  const int status = node.api.handle(req, out, &headers);

  check(documented_status(status));
  check(node.api.response_counts().count(status) == 1);
  if (status == 204) {
    check_preflight(method, out.text, headers);
  } else if (headers.content_type == nullptr) {
    check_json_body(out.text, status);
  } else {
    check(std::strcmp(headers.content_type, spore::kPrometheusContentType) == 0 && status == 200);
    check(valid_prometheus(out.text));
  }
  if (status == 401) check(headers.www_authenticate != nullptr && with_token);
  if (status == 405) check(headers.allow != nullptr && headers.allow[0] != '\0');
  if (status != 405 && status != 204) check(headers.allow == nullptr);
  if (method == spore::kOptionsHttpMethod) check(status == 204 || status == 400 || status == 404);

  if (!authorized) {
    check(node.restarts == 0);
    check(node.published() == published_before);
    check(node.ota_started == 0 && node.metrics.ota_started() == 0);
    check(node.flash.begins == 0 && node.flash.writes == 0 && node.flash.commits == 0);
    check(!node.ota.restart_pending());
  }
  if (status == 202 && node.restarts > 0) check(node.restarts == 1);
  check_chunked(with_token, seed, req, status, headers, out.text);
  // An upload through handle() runs start + body + finish at once: it ended, one way or the other
  // (ota_failed also fires for an upload refused at start, without ota_started).
  check(node.ota_started <= 1 && node.ota_finished <= node.ota_started);
  if (node.ota_started == 1) check(node.ota_finished + node.ota_failed == 1);
  check((node.ota_finished == 1) == (status == 200 && node.flash.commits == 1));
  check(!node.ota.busy());
  check(node.flash.commits <= 1 && !node.flash.active);
}

struct UploadOutcome {
  int status = 0;
  std::vector<uint8_t> committed;
};

UploadOutcome fuzz_upload(uint8_t flags, uint32_t seed, const Fields& f, const std::string& auth_value) {
  const bool with_token = (flags & 3u) != 2;
  Node node(with_token);
  const bool authorized = !with_token || auth_value.find(kToken) != std::string::npos;
  const bool unknown_length = (flags & 4u) != 0;
  const bool drop = (flags & 8u) != 0;
  const auto* body = reinterpret_cast<const uint8_t*>(f.body.data());
  UploadOutcome o;

  StringOutput out;
  spore::HttpResponseHeaders headers;
  const int started =
      node.ota.start(f.content_type, unknown_length ? 0 : f.body.size(), auth_value, node.clock.now, out, &headers);
  check(node.flash.writes == 0 && node.flash.commits == 0);
  if (started != 0) {
    check(documented_status(started) && started >= 400);
    check_json_body(out.text, started);
    check(node.ota_started == 0 && !node.ota.busy() && node.ota.upload_id() == 0);
    check(node.flash.begins == 0 || (node.flash.aborts > 0 && !node.flash.active));
    if (started == 401) check(headers.www_authenticate != nullptr);
    if (!authorized) check(started == 401 && node.ota_failed == 0);
    // finish() without an upload: 400, nothing else.
    StringOutput late;
    check(node.ota.finish(true, node.clock.now, late) == 400);
    check_json_body(late.text, 400);
    o.status = started;
    return o;
  }
  check(authorized);
  check(out.text.empty() && node.ota_started == 1 && node.ota.busy());
  const uint32_t id = node.ota.upload_id();
  check(id != 0);

  spore::fuzz::Chunker chunks(seed, 64);
  size_t off = 0;
  bool going = true;
  while (off < f.body.size() && going) {
    const size_t n = chunks.next(f.body.size() - off);
    ++node.clock.now;
    going = node.ota.body(body + off, n, node.clock.now, id);
    off += n;
  }
  StringOutput result;
  const int status = node.ota.finish(!drop, node.clock.now, result, id);
  check(!node.ota.busy() && !node.flash.active);
  check_json_body(result.text, status);
  check(node.ota_started == 1 && node.ota_finished + node.ota_failed == 1);
  if (status == 200) {
    check(!drop && node.ota_finished == 1 && node.flash.commits == 1 && node.ota.restart_pending());
    const nlohmann::json doc = nlohmann::json::parse(result.text, nullptr, false);
    check(doc.is_object() && doc.value("status", "") == "updated" &&
          doc.value("size", size_t{0}) == node.flash.committed.size());
    o.committed = node.flash.committed;
  } else {
    check(documented_status(status) || status == 408);
    check(status >= 400 && node.ota_failed == 1 && node.flash.commits == 0 && !node.ota.restart_pending());
    check(node.flash.begins == 0 || node.flash.aborts > 0);
    if (drop) check(node.ota.last_error() == spore::OtaError::kAborted || status != 200);
  }
  StringOutput again;
  check(node.ota.finish(true, node.clock.now, again, id) == 400);
  check_json_body(again.text, 400);
  o.status = status;
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3 || size > 8192) return 0;
  const uint8_t method_route = data[0];
  const uint8_t flags = data[1];
  const uint32_t seed = data[2];
  const Fields f = split(std::string_view(reinterpret_cast<const char*>(data) + 3, size - 3));
  std::string auth_value((flags & 3u) == 1 ? "Bearer " + std::string(kToken) : std::string(f.authorization));

  fuzz_handle(method_route, flags, seed, f, auth_value);

  const UploadOutcome whole = fuzz_upload(flags, 0, f, auth_value);
  const UploadOutcome chunked = fuzz_upload(flags, seed + 1, f, auth_value);
  check(whole.status == chunked.status && whole.committed == chunked.committed);
  return 0;
}
