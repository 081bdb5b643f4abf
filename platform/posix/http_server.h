#pragma once
/// @file http_server.h
/// The REST API on Linux: cpp-httplib's server in front of core's RestApi.
///
/// Every request, whatever its path or method, becomes an spore::HttpRequest handed to
/// RestApi::handle() under `core_mutex`, the mutex the node loop holds while it runs core (core
/// is single-threaded; httplib serves from a small pool of its own threads). So unknown paths get
/// RestApi's JSON 404 too, and errors httplib produces itself (malformed request line, body over
/// the limit: 413, URI too long: 414) are rewritten as JSON {"error", "code"} as well.
///
/// Responses carry `Content-Type: application/json` (a text route such as GET /metrics: the type
/// RestApi names in HttpResponseHeaders::content_type), `Cache-Control: no-store`, and the
/// `Allow` / `WWW-Authenticate` headers RestApi asks for. Every answer, RestApi's or not (the
/// dashboard, uploads, httplib's own errors), is counted in RestApi::response_counts(). A 202 (restart accepted) also carries
/// `Connection: close`, so no keep-alive connection pins a process that is about to exec().
///
/// POST /api/node/update (when set_ota() was called) is streamed, never buffered: the raw body,
/// multipart or not, goes in blocks of up to kOtaBlockBytes to OtaUploadHandler::body(), which
/// parses multipart itself (the same code as on the ESP8266). The core mutex is held around each
/// call into core (start, one block, finish), never while waiting for the network. Its body limit is
/// set_ota()'s `max_body_bytes` (the flash capacity plus signature and multipart allowances); every
/// other route keeps max_body_bytes() (64 KiB). With `Expect: 100-continue` (curl sends it for
/// bodies over 1 MiB) the upload is authorized and admitted before the client sends the body, so a
/// 401 / 409 / 413 / 415 costs no transfer. How the raw multipart bytes are obtained from
/// cpp-httplib 0.11, and the connection handling after a refused or failed upload, are explained
/// in http_server.cpp and docs/linux-node.md.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "spore/ports.h"
#include "spore/rest_api.h"

namespace httplib {
struct Request;
struct Response;
class ContentReader;
}  // namespace httplib

namespace spore {
class EventApi;
class OtaUploadHandler;
struct SseMessage;
}  // namespace spore

namespace spore::posix {

class HttpServer {
 public:
  /// Bodies larger than this get 413 without reaching RestApi.
  static constexpr size_t kDefaultMaxBodyBytes = 64 * 1024;
  /// Upload bytes are handed to core in blocks of up to this size (fewer mutex round trips and
  /// write(2) calls than httplib's 4 KiB reads)...
  static constexpr size_t kOtaBlockBytes = 64 * 1024;
  /// ...or whatever arrived after this long, so a slow upload still shows progress to core's
  /// stall timeout.
  static constexpr uint32_t kOtaFlushMs = 200;
  /// A refused upload (401, 409, 413, 415 without Expect: 100-continue) whose body is at most this
  /// large is read and discarded, so the answer arrives on a clean keep-alive connection; a larger
  /// one is answered at once with `Connection: close`.
  static constexpr size_t kRefusedDrainBytes = 1024 * 1024;

  /// `api`, `core_mutex` and `log` (may be nullptr) must outlive the server.
  HttpServer(RestApi& api, std::mutex& core_mutex, LogSink* log);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void set_max_body_bytes(size_t bytes) { max_body_bytes_ = bytes; }
  size_t max_body_bytes() const { return max_body_bytes_; }
  /// Streams POST /api/node/update into `ota` (must outlive the server; nullptr = the route is
  /// served by RestApi like the others, body buffered up to max_body_bytes()). `clock` gives the
  /// now_ms of core calls. `max_body_bytes`: largest body read for this route; after an upload
  /// failed mid-body the rest is read and discarded up to this bound, so the JSON answer arrives
  /// on a connection in a defined state. Call before start().
  void set_ota(OtaUploadHandler* ota, const Clock* clock, size_t max_body_bytes) {
    ota_ = ota;
    clock_ = clock;
    ota_max_body_bytes_ = max_body_bytes;
  }
  /// Worker threads serving requests (default 4); set_event_api() adds one per event stream.
  void set_threads(size_t threads) { threads_ = threads; }
  /// Connections waiting for a worker beyond which a new one is answered 503 `overloaded` (with
  /// `Retry-After: 1` and `Connection: close`) instead of waiting. Call before start().
  void set_max_queued_connections(size_t n) { max_queued_connections_ = n; }
  static constexpr size_t kDefaultMaxQueuedConnections = 64;
  /// Serves GET /api/cluster/events/stream (docs/events.md) from `events` (must outlive the
  /// server). Each open stream keeps one worker thread, so the pool grows by
  /// SPORE_MAX_EVENT_STREAMS and ordinary requests keep their threads. Call before start(), and
  /// pass send_event() as the EventApi's sink.
  void set_event_api(EventApi* events) { events_ = events; }
  /// The EventApi's sink: queues `msg` for every open stream whose filter matches. Called by core
  /// with the core mutex held; never blocks on a client (a client more than kStreamQueueMessages
  /// behind is disconnected: it reconnects and goes on from the present).
  void send_event(const SseMessage& msg);
  /// Messages queued per stream before a slow client is cut off.
  static constexpr size_t kStreamQueueMessages = 256;

  /// Binds `bind_ip`:`port` (port 0: the kernel picks, see port()) and starts serving on a
  /// background thread. False with a sentence in `*error` if the address cannot be bound (port in
  /// use, address not local, privileged port).
  bool start(const std::string& bind_ip, uint16_t port, std::string* error);
  /// Stops accepting, waits for in-flight requests to finish (their responses are sent), joins the
  /// threads. Idempotent. Must not be called with `core_mutex` held.
  void stop();
  bool running() const;
  uint16_t port() const { return port_; }

 private:
  struct Impl;
  /// Any request but a streamed update, its body already read (at most max_body_bytes_).
  void serve(const httplib::Request& req, std::string_view body, httplib::Response& res);
  /// Requests with a body (POST, PUT, PATCH, DELETE): read with the per-route limit.
  void serve_with_body(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader);
  void serve_update(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader);
  /// Expect: 100-continue on the update route: admits or refuses before the body is sent.
  int expect_update(const httplib::Request& req, httplib::Response& res);
  /// The 503 for a connection AdmissionQueue marked overloaded.
  void answer_overloaded(httplib::Response& res);
  uint32_t now_ms() const;
  /// RestApi::record_response() under the core mutex, for answers that bypass RestApi::handle().
  void record_response(int status);

  struct Streams;
  /// GET of the event stream: admitted by EventApi::open_stream(), then kept open.
  void serve_stream(const HttpRequest& r, httplib::Response& res);

  RestApi& api_;
  std::mutex& core_mutex_;
  LogSink* log_;
  size_t max_body_bytes_ = kDefaultMaxBodyBytes;
  size_t threads_ = 4;
  size_t max_queued_connections_ = kDefaultMaxQueuedConnections;
  OtaUploadHandler* ota_ = nullptr;
  EventApi* events_ = nullptr;
  std::shared_ptr<Streams> streams_;
  const Clock* clock_ = nullptr;
  size_t ota_max_body_bytes_ = 0;
  /// Set by stop(): an upload still streaming is aborted instead of delaying the shutdown.
  std::atomic<bool> stopping_{false};
  uint16_t port_ = 0;
  std::unique_ptr<Impl> impl_;
};

/// An spore::JsonOutput that appends to a std::string (host side only).
class StringJsonOutput : public spore::JsonOutput {
 public:
  explicit StringJsonOutput(std::string& out) : out_(out) {}
  void write(const char* data, size_t size_bytes) override { out_.append(data, size_bytes); }

 private:
  std::string& out_;
};

}  // namespace spore::posix
