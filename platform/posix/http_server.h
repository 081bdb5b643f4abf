#pragma once
/// @file http_server.h
/// The REST API on Linux: libmicrohttpd in front of core's RestApi.
///
/// libmicrohttpd (Debian's libmicrohttpd 0.9.75) reads and writes the sockets from a few
/// event-driven threads (epoll, set_threads()); no thread ever waits for one client, so slow or
/// stalled clients cost a connection slot and its memory, never a thread others need
/// (docs/hand-written.md, "The HTTP server", has the evaluation against cpp-httplib).
///
/// Every request, whatever its path or method, becomes an spore::HttpRequest handed to
/// RestApi::handle() under `core_mutex`, the mutex the node loop holds while it runs core (core
/// is single-threaded). The core mutex is held around each call into core, never while waiting
/// for the network. So unknown paths get RestApi's JSON 404 too, and the refusals this adapter
/// makes itself are JSON {"error", "code"} as well: 400 `bad_framing` / `bad_request`, 408
/// `head_timeout` / `body_timeout`, 413 `payload_too_large`, 431 `headers_too_large`, 503
/// `overloaded` / `stopping`.
///
/// Responses carry `Content-Type: application/json` (a text route such as GET /metrics: the type
/// RestApi names in HttpResponseHeaders::content_type), `Cache-Control: no-store`,
/// `X-Content-Type-Options: nosniff`, and the `Allow` / `WWW-Authenticate` /
/// `Access-Control-Allow-Origin` headers RestApi asks for (a 204 CORS preflight: no Content-Type,
/// plus `Access-Control-Allow-Methods/-Headers/-Max-Age`; an upload's answer: the Allow-Origin of
/// RestApi::allow_origin_for()). An HttpAsset (the dashboard) is sent
/// byte for byte as stored, with its Content-Encoding, `X-Frame-Options: DENY` and its
/// Content-Security-Policy. Every answer, RestApi's or not (the dashboard, uploads, refusals,
/// libmicrohttpd's own), is counted in RestApi::response_counts(). The 202 of POST
/// /api/node/restart (and the 200 of an installed image) also carries `Connection: close`, so no
/// keep-alive connection pins a process that is about to exec().
///
/// Limits (Limits below; docs/reliability.md has the table), decided by core's one HTTP admission
/// policy (core/spore/device/http_admission.h, shared with the ESP8266): a total deadline for a
/// request head, a running minimum pace for a body, an idle timeout, connections per client address,
/// connections in all (a full server displaces its slowest connection for a new one:
/// choose_eviction(); the node's own address has a small allowance outside both caps), event
/// streams per address, header fields and head bytes (431), unambiguous body framing (400), the
/// target's length and query parameters (414), a fixed memory pool per connection.
///
/// Answers libmicrohttpd gives by itself before the request reaches this adapter (a request or
/// header line it cannot parse, an unsupported HTTP version, a head or request line larger than
/// the connection's memory pool, a Content-Length that is not a number or does not fit 64 bits,
/// broken chunked framing or an overflowing chunk size) carry its own fixed HTML sentence, no
/// Content-Type and none of the headers above: 0.9.75 builds them internally
/// (transmit_error_response() in connection.c) with no hook to add a header or change the body
/// (docs/hand-written.md). They are counted all the same (docs/linux-node.md).
///
/// POST /api/node/update (when set_ota() was called) is streamed, never buffered: the raw body,
/// multipart or not, goes in blocks of up to kOtaBlockBytes to OtaUploadHandler::body(), which
/// parses multipart itself (the same code as on the ESP8266). With `Expect: 100-continue` (curl
/// sends it for bodies over 1 MiB) the upload is authorized and admitted before the client sends
/// the body, so a 401 / 409 / 413 / 415 costs no transfer (the connection is then closed).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "spore/base/ports.h"
#include "spore/device/http_admission.h"
#include "spore/http/rest_api.h"

struct MHD_Connection;

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
  /// write(2) calls than libmicrohttpd's reads)...
  static constexpr size_t kOtaBlockBytes = 64 * 1024;
  /// ...or whatever arrived after this long, so a slow upload still shows progress to core's
  /// stall timeout.
  static constexpr uint32_t kOtaFlushMs = 200;
  /// A refused request (an upload refused without `Expect: 100-continue`, a body over its route's
  /// limit) whose declared Content-Length is at most this large is read and discarded, so the
  /// answer arrives on a clean keep-alive connection; at the minimum body pace that costs at most
  /// Limits::body_grace_ms + 8 s. A larger one, a chunked one (its length is unknown) or one whose
  /// client waits for `100 Continue` is answered at once and the connection closed.
  static constexpr size_t kRefusedDrainBytes = 128 * 1024;
  /// Messages queued per event stream before a slow client is cut off: about 120 ms of events at
  /// the highest rate one node publishes on 2 busy cores (35 k/s, bench/rest_load.sh), so a reader
  /// that is merely scheduled late keeps its stream; at most ~800 KB per stream (the frames are
  /// shared between the streams).
  static constexpr size_t kStreamQueueMessages = 4096;
  /// How long stop() waits for requests in flight (their answers being sent) before it closes
  /// every connection.
  static constexpr uint32_t kStopGraceMs = 5000;

  /// What the server allows a client. Every refusal is a JSON answer (or, where the client is
  /// not listening for one, the connection is closed); docs/reliability.md lists them.
  struct Limits {
    /// From the accept (or the end of the previous answer on a keep-alive connection) to the end
    /// of the request head, however the bytes trickle in: 408 `head_timeout` and close. Bounds
    /// how long a slow client holds its connection slot; per read, it would be unbounded.
    uint32_t head_timeout_ms = 10000;
    /// A running minimum pace for a request body: from body_grace_ms after the head, the body
    /// bytes received must stay at or above (elapsed - body_grace_ms) x min_body_bytes_per_s,
    /// whatever the declared length: else 408 `body_timeout` (an upload: core's answer) and close.
    /// 16 KiB/s lets a 100 MB image take 1 h 45 min; a trickle is cut off just after the grace.
    uint32_t body_grace_ms = 10000;
    uint32_t min_body_bytes_per_s = 16 * 1024;
    /// A body that moves no byte for this long is late (408, or core's answer for an upload);
    /// any other connection silent for one second more is closed by libmicrohttpd (keep-alive
    /// idle, a head that stopped coming, a client that does not read its answer). Whole seconds.
    uint32_t idle_timeout_s = 5;
    /// Connections counted open at once. A new connection to a full server displaces one it holds
    /// (choose_eviction(), core/spore/device/http_admission.h: from the address holding the most
    /// connections, a slow first head before an idle keep-alive connection before a body still arriving), which
    /// is answered 503 `overloaded` (`Retry-After: 1`; an idle keep-alive connection: closed
    /// unanswered). When none can be displaced (every connection is being answered, streams
    /// events or uploads), a request on the new connection is answered 503 `overloaded` and the
    /// connection closed; kOverflowConnections more are accepted for that answer, beyond those new
    /// connections wait in the listen queue. start() lowers this to fit the open-file limit.
    size_t max_connections = 256;
    /// Connections from one IPv4 address; more are closed at accept, unanswered (the client
    /// already holds this many open).
    size_t max_connections_per_ip = 16;
    /// A connection is displaced before younger ones only once it has been this long in its
    /// state (a request head on a LAN arrives within milliseconds of the connection).
    uint32_t eviction_min_age_ms = 500;
    /// Event streams (GET /api/cluster/events/stream) from one address: beyond, 503
    /// `too_many_streams`, so one host cannot take every one of the SPORE_MAX_EVENT_STREAMS.
    size_t max_streams_per_ip = 2;
    /// Header fields in one request head, and bytes of the head (request line and fields):
    /// 431 `headers_too_large` and close beyond either.
    size_t max_header_count = 100;
    size_t max_head_bytes = 16 * 1024;
    /// The request target (path and query, as sent) must be shorter than this, with at most
    /// max_query_params query parameters: 414 `uri_too_long` and close beyond either, before any
    /// body byte (core's admission rule 4, as on the ESP8266). RestApi refuses a longer target
    /// anyway (400, RestApi::kMaxPathBytes), but only after the body; SPORE's routes read at most
    /// one parameter, 16 leave room for any client's additions.
    size_t max_target_bytes = RestApi::kMaxPathBytes + 1;
    size_t max_query_params = 16;
    /// libmicrohttpd's memory pool per connection (the head, parsed fields, read and write
    /// buffers). Fixed: a flood of header lines fills it and is refused with 431, so memory per
    /// connection is bounded, and pools over 32 KiB are mmap()ed: returned to the system when the
    /// connection closes.
    size_t connection_memory_bytes = 64 * 1024;
  };
  /// Connections accepted beyond Limits::max_connections only to be answered 503.
  static constexpr size_t kOverflowConnections = 64;
  /// Connections from the node's own address (the peer address is the address the connection
  /// was accepted on: the OTA trial's REST self-probe; on a LAN no other host can complete a TCP
  /// handshake from it) that count against neither cap, at most this many at once; more are
  /// counted like any other.
  static constexpr size_t kSelfConnections = 4;
  /// File descriptors start() leaves to the rest of the process (UDP and MQTT sockets, state and
  /// upload files, libmicrohttpd's epoll sets, pipes) when it fits the connection caps under
  /// RLIMIT_NOFILE.
  static constexpr size_t kReservedFds = 64;

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
  /// libmicrohttpd threads serving connections (default 2, each with its own epoll set). Call
  /// before start().
  void set_threads(size_t threads) { threads_ = threads; }
  /// Call before start().
  void set_limits(const Limits& limits) { limits_ = limits; }
  const Limits& limits() const { return limits_; }
  /// Shorthand for Limits::max_connections. Call before start().
  void set_max_connections(size_t n) { limits_.max_connections = n; }
  /// Serves GET /api/cluster/events/stream (docs/events.md) from `events` (must outlive the
  /// server). An open stream holds a connection, not a thread: it is suspended in
  /// libmicrohttpd while it has nothing to send. Call before start(), and pass send_event() as
  /// the EventApi's sink.
  void set_event_api(EventApi* events) { events_ = events; }
  /// The EventApi's sink: queues `msg` for every open stream whose filter matches. Called by core
  /// with the core mutex held; never blocks on a client (a client more than kStreamQueueMessages
  /// behind is disconnected: it reconnects and goes on from the present).
  void send_event(const SseMessage& msg);

  /// Binds `bind_ip`:`port` (port 0: the kernel picks, see port()) and starts serving on
  /// background threads. False with a sentence in `*error` if the address cannot be bound (port
  /// in use, address not local, privileged port) or the server cannot start.
  bool start(const std::string& bind_ip, uint16_t port, std::string* error);
  /// Stops: new requests are answered 503 `stopping`, uploads in progress are aborted, event
  /// streams end, requests in flight are answered (up to kStopGraceMs), then every connection and
  /// the listening socket are closed and the threads joined. Idempotent. Must not be called with
  /// `core_mutex` held.
  void stop();
  bool running() const;
  uint16_t port() const { return port_; }

 private:
  struct Impl;
  struct Conn;
  struct Streams;
  struct StreamClient;
  struct Answer;

  friend struct Impl;

  // libmicrohttpd callbacks (http_server.cpp); `Conn` is the connection's state.
  int on_request(MHD_Connection* c, const char* method, const char* upload_data, size_t* upload_size, Conn* conn);
  int begin_request(MHD_Connection* c, const char* method, Conn* conn);
  /// The answer to a head core's admission policy refused (a small body over its limit: read
  /// and dropped first when `drain_if_refused`).
  int refuse_head(MHD_Connection* c, Conn* conn, HttpRefusal refusal, const HttpHeadFields& fields,
                  bool drain_if_refused);
  bool consume_body(Conn* conn, const char* data, size_t size);
  int finish_request(MHD_Connection* c, Conn* conn);
  void on_completed(MHD_Connection* c, Conn* conn);
  /// A request without a body to stream, its body read (at most max_body_bytes_).
  int serve(MHD_Connection* c, Conn* conn);
  /// POST /api/node/update with a body: admitted (or refused) before the body is read; a refusal
  /// reads and drops the body first only if `drain_if_refused`.
  int begin_upload(MHD_Connection* c, Conn* conn, uint64_t content_length, bool drain_if_refused);
  void flush_upload(Conn* conn);
  int finish_upload(MHD_Connection* c, Conn* conn);
  /// GET of the event stream: admitted by EventApi::open_stream(), then kept open.
  int serve_stream(MHD_Connection* c, Conn* conn, const HttpRequest& r);
  /// Queues `a` on `c`; `conn` (may be nullptr) moves to the answering phase.
  int answer(MHD_Connection* c, Conn* conn, const Answer& a);
  /// A JSON {"error","code"} answer this adapter makes itself, counted in response_counts().
  int refuse(MHD_Connection* c, Conn* conn, int status, const char* code, const char* message, bool close);
  uint32_t now_ms() const;
  /// RestApi::record_response() under the core mutex, for answers that bypass RestApi::handle().
  void record_response(int status);
  /// The housekeeping thread: head and body deadlines, event-stream keep-alives, returning freed
  /// heap to the system after a flood.
  void housekeep();
  /// A body past its idle time or behind the running minimum pace (Limits::body_grace_ms).
  bool body_late(const Conn& conn, std::chrono::steady_clock::time_point now) const;
  /// With Impl::conns_mutex held: counts a new connection against the caps (refusing it beyond
  /// the per-address cap, displacing another one when the server is full).
  void admit_locked(Conn* conn, bool from_self);
  /// With Impl::conns_mutex held: the connection admit_locked() closes to make room, or nullptr.
  Conn* choose_victim_locked(const Conn* arriving);
  /// With Impl::conns_mutex held: `conn` no longer counts against the caps.
  void release_locked(Conn* conn);
  /// Lowers limits_.max_connections to fit RLIMIT_NOFILE; logs the caps.
  void fit_open_file_limit();
  /// limits_ and max_body_bytes_ as core's admission policy takes them (http_admission.h).
  HttpAdmissionLimits admission_limits() const;
  /// Ends an admitted upload in core (`complete` false: aborted) with `upload_mutex` held; its
  /// answer as raw HTTP, counted ("" when the upload already ended).
  std::string end_upload_locked(Conn* conn, bool complete);
  /// The same for an upload whose body is late or that stop() ends: core aborts it.
  std::string end_late_upload(Conn* conn);
  /// With Impl::conns_mutex held: ends a connection from outside its libmicrohttpd thread with
  /// `answer` (raw HTTP, counted as `status` unless 0; an upload in progress: core's answer
  /// instead; one that just finished is left to send its own).
  void cut_locked(Conn* conn, const std::string& answer, int status);

  RestApi& api_;
  std::mutex& core_mutex_;
  LogSink* log_;
  size_t max_body_bytes_ = kDefaultMaxBodyBytes;
  size_t threads_ = 2;
  Limits limits_;
  OtaUploadHandler* ota_ = nullptr;
  EventApi* events_ = nullptr;
  std::unique_ptr<Streams> streams_;
  const Clock* clock_ = nullptr;
  size_t ota_max_body_bytes_ = 0;
  /// Set by stop(): new requests are refused and an upload still streaming is aborted.
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
