#include "posix/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <malloc.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "posix/udp_socket.h"
#include "spore/device/http_admission.h"
#include "spore/device/http_request_table.h"
#include "spore/integrations/event_api.h"
#include "spore/base/json_writer.h"
#include "spore/http/http_text.h"
#include "spore/ota/ota_upload.h"

namespace spore::posix {

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr const char* kJson = "application/json";
constexpr const char* kTooLargeMessage = "The request body is larger than this node accepts.";
constexpr const char* kOverloadedMessage = "The node is serving as many connections as it can; retry in a moment.";
constexpr const char* kRetryAfter = "Retry-After: 1\r\n";
/// After this many connections were open at once, the heap is trimmed once they are down to an
/// eighth (housekeep()).
constexpr size_t kTrimAfterConnections = 64;
/// RestApi's restart route (core/spore/http/rest_api.h): its 202 is followed by an exec().
constexpr std::string_view kRestartPath = "/api/node/restart";

HttpMethod method_from(const char* name) {
  // libmicrohttpd sends no body for HEAD; RestApi answers it as GET (and OPTIONS as a preflight).
  return http_method_from_name(name);
}

std::string error_json(const char* message, const char* code) {
  std::string body;
  StringJsonOutput out(body);
  JsonWriter w(out);
  w.begin_object().field("error", message).field("code", code).end_object();
  return body;
}

/// The body of a 500 (RestApi's own may be truncated).
std::string internal_error_json() {
  return error_json("The node failed to produce a response.", "internal_error");
}

/// The path of a request target, without its query string or fragment (as RestApi routes):
/// "/api/node/update#..." is the upload route, whose start() refuses a fragment (http_target.h)
/// whatever the body's size.
std::string_view path_of(std::string_view target) { return target.substr(0, target.find_first_of("?#")); }

std::string_view header(MHD_Connection* c, const char* name) {
  const char* value = nullptr;
  size_t size = 0;
  if (MHD_lookup_connection_value_n(c, MHD_HEADER_KIND, name, std::strlen(name), &value, &size) != MHD_YES ||
      value == nullptr) {
    return {};
  }
  return {value, size};
}

/// `asset`'s bytes without their gzip coding, inflated once per asset and kept (the dashboard,
/// ~17 KB): what a client that does not accept gzip (curl without --compressed) gets. Null when
/// the bytes do not inflate (then the gzip bytes go out, as before).
const std::string* identity_of(const HttpAsset& asset) {
  static std::mutex mutex;
  static std::unordered_map<const uint8_t*, std::unique_ptr<std::string>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[asset.data];
  if (slot != nullptr) return slot->empty() ? nullptr : slot.get();
  slot = std::make_unique<std::string>();
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return nullptr;  // 16: the gzip wrapper
  z.next_in = const_cast<Bytef*>(asset.data);
  z.avail_in = static_cast<uInt>(asset.size_bytes);
  std::string out;
  int rc = Z_OK;
  while (rc == Z_OK) {
    char chunk[16384];
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof chunk;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(chunk, sizeof chunk - z.avail_out);
  }
  inflateEnd(&z);
  if (rc == Z_STREAM_END) *slot = std::move(out);
  return slot->empty() ? nullptr : slot.get();
}

/// One SSE message's frame (EventApi::format()); empty when it does not fit.
std::shared_ptr<const std::string> sse_frame(const SseMessage& msg) {
  std::string text(msg.id.size() + msg.data.size() + 16, '\0');
  text.resize(EventApi::format(msg, text.data(), text.size()));
  return text.empty() ? nullptr : std::make_shared<const std::string>(std::move(text));
}

using FrameQueue = std::deque<std::shared_ptr<const std::string>>;

/// EventApi::replay()'s sink: the frames a reconnecting client missed, into its queue.
void queue_replayed(FrameQueue* queue, const SseMessage& msg) {
  if (auto frame = sse_frame(msg)) queue->push_back(std::move(frame));
}

/// Creates the listening socket: SO_REUSEADDR (rebinding right after a restart by exec(), while
/// the old connections are in TIME_WAIT) but not SO_REUSEPORT (a second spored on the same
/// ip:port must fail, not share the port), close-on-exec, non-blocking (libmicrohttpd's threads
/// all accept from it). -1 with a sentence in `*error` when it cannot be bound.
int open_listener(const std::string& bind_ip, uint16_t port, std::string* error) {
  uint32_t addr = 0;
  if (!parse_ipv4(bind_ip, &addr)) {
    if (error) *error = "HTTP: bind address '" + bind_ip + "' is not an IPv4 address";
    return -1;
  }
  const std::string where = "HTTP: cannot listen on " + bind_ip + ":" + std::to_string(port) + ": ";
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    if (error) *error = where + std::strerror(errno);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 512) != 0) {
    const int e = errno;
    std::string why = std::strerror(e);
    if (e == EADDRINUSE) why += " (another process listens on this port)";
    if (e == EACCES) why += " (ports below 1024 need privileges)";
    if (e == EADDRNOTAVAIL) why += " (no local interface has this address)";
    if (error) *error = where + why;
    ::close(fd);
    return -1;
  }
  return fd;
}

/// Writes `raw` (a complete answer) if the socket takes it now, then ends the connection: the
/// sending side only when libmicrohttpd is about to close it anyway (`read_too` false), both sides
/// from another thread, so that libmicrohttpd's next read sees the end.
void send_and_close(int fd, const std::string& raw, bool read_too) {
  if (!raw.empty()) (void)::send(fd, raw.data(), raw.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(fd, read_too ? SHUT_RDWR : SHUT_WR);
}

uint16_t bound_port(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return 0;
  return ntohs(a.sin_port);
}

/// The IPv4 address of a connected socket's peer (`peer`) or of its own end (host byte order);
/// 0 when unknown.
uint32_t socket_address(int fd, bool peer) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  const int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len)
                      : ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  if (rc != 0 || a.sin_family != AF_INET) return 0;
  return ntohl(a.sin_addr.s_addr);
}

/// A complete HTTP/1.1 JSON answer the adapter writes itself: libmicrohttpd cannot be asked to
/// queue an answer before the body has arrived, and while it reads a request it writes nothing
/// but "100 Continue" (before the body) and its own error answers (docs/hand-written.md).
/// `extra_headers`: complete header lines ("Name: value\r\n...").
std::string raw_answer(int status, const std::string& body, const std::string& extra_headers = std::string()) {
  if (status == 0) return {};
  const char* reason = MHD_get_reason_phrase_for(static_cast<unsigned int>(status));
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
         "X-Content-Type-Options: nosniff\r\n" + extra_headers + "Connection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

/// "a.b.c.d:port" of this end of the accepted socket `fd` (the address the client reached, also on
/// a node bound to 0.0.0.0); empty when it is not IPv4 or cannot be read.
std::string local_address_of(int fd) {
  const uint32_t ip = socket_address(fd, false);
  if (ip == 0) return {};
  return ipv4_to_string(ip) + ":" + std::to_string(bound_port(fd));
}

}  // namespace

/// What one answer carries besides its status and body.
struct HttpServer::Answer {
  int status = 200;
  std::string body;
  const char* content_type = kJson;
  std::string allow;
  std::string challenge;
  const char* allow_origin = nullptr;
  std::string allow_methods;  ///< a preflight's (with the other CORS headers)
  bool close = false;
  bool retry_after = false;
  /// Sent instead of `body` with the asset's own headers (the dashboard).
  const HttpAsset* asset = nullptr;
  /// The asset without its Content-Encoding: the client's Accept-Encoding does not take it.
  const std::string* identity = nullptr;
};

/// One connection, from accept to close (libmicrohttpd's socket context). The request fields are
/// touched only by the libmicrohttpd thread serving the connection, except: the fields after
/// "Shared" are shared with the housekeeping thread and with admit_locked() (another connection
/// arriving) under Impl::conns_mutex, `body_activity` and `body_bytes` are atomic, and the
/// upload's state is guarded by `upload_mutex` (the housekeeping thread ends an upload whose body
/// stalls); the lock order is Impl::conns_mutex's.
struct HttpServer::Conn {
  enum class Phase : uint8_t { kHead, kBody, kAnswer };
  /// What the adapter does with the current request's body.
  enum class Kind : uint8_t {
    kNone,      ///< head not complete yet
    kPlain,     ///< body collected for RestApi (at most max_body_bytes_)
    kTooLarge,  ///< over the route's limit: discarded, then 413
    kRefused,   ///< refused before its body: discarded, then `refusal`
    kUpload,    ///< streamed into OtaUploadHandler
    kAnswered,  ///< an answer is queued
  };

  int fd = -1;
  /// This node's end of the connection, "a.b.c.d:port" (HttpRequest::local_address).
  std::string local_address;
  uint32_t address = 0;  ///< the client's IPv4 address (host byte order)
  // Shared (Impl::conns_mutex).
  bool overloaded = false;  ///< accepted when nothing could be displaced: answered 503
  bool exempt = false;      ///< from the node's own address, within kSelfConnections
  bool holds_slot = false;  ///< counted in Impl::counted and Impl::per_address
  Phase phase = Phase::kHead;
  /// When the current phase began: the accept or the previous answer (kHead), the end of the
  /// head (kBody).
  SteadyClock::time_point since;
  SteadyClock::time_point deadline;  ///< of the head
  uint32_t requests = 0;   ///< answered on this connection: in kHead after one, it is idle keep-alive
  bool uploading = false;  ///< the body streams into an admitted upload (stop() aborts it)
  bool cut = false;        ///< shut down from outside its libmicrohttpd thread
  /// When the last body bytes arrived (SteadyClock ticks): a body idle for the idle timeout is late.
  std::atomic<SteadyClock::rep> body_activity{0};
  /// Body bytes of the current request received so far, for the running minimum pace.
  std::atomic<uint64_t> body_bytes{0};

  // The current request (this connection's libmicrohttpd thread only).
  Kind kind = Kind::kNone;
  bool active = false;   ///< counted in Impl::active_requests
  bool counted = false;  ///< its answer is in RestApi::response_counts()
  HttpMethod method = kUnknownHttpMethod;
  std::string target;    ///< raw request target, query string included
  std::string body;
  size_t discarded_bytes = 0;
  Answer refusal;
  std::mutex upload_mutex;
  bool upload_active = false;    ///< started in core (upload_mutex)
  bool upload_finished = false;  ///< core's finish() was called (upload_mutex)
  uint32_t upload_id = 0;
  bool upload_accepting = false;
  uint32_t last_flush_ms = 0;
  std::vector<uint8_t> block;

  void reset_request() {
    kind = Kind::kNone;
    active = counted = false;
    method = kUnknownHttpMethod;
    std::string().swap(target);
    std::string().swap(body);
    discarded_bytes = 0;
    refusal = Answer{};
    std::lock_guard<std::mutex> lock(upload_mutex);
    upload_active = upload_finished = false;
    upload_id = 0;
    upload_accepting = false;
    std::vector<uint8_t>().swap(block);
  }
};

/// An open event stream. Its queue is filled by send_event() (node loop) and drained by the
/// libmicrohttpd content reader; while it is empty the connection is suspended in
/// libmicrohttpd, so an idle stream costs no thread and no polling.
struct HttpServer::StreamClient {
  HttpServer* server = nullptr;
  MHD_Connection* connection = nullptr;
  int fd = -1;
  uint32_t address = 0;  ///< the client's, for Limits::max_streams_per_ip
  SseFilter filter;
  /// Frames to send; one event's frame is shared by every stream it goes to.
  std::deque<std::shared_ptr<const std::string>> queue;
  size_t front_offset = 0;  ///< bytes of queue.front() already handed out
  bool suspended = false;
  bool overflowed = false;
  SteadyClock::time_point last_write;
};

struct HttpServer::Streams {
  std::mutex mutex;
  std::vector<StreamClient*> clients;
  /// Streams open or being opened, by client address.
  std::unordered_map<uint32_t, size_t> per_address;
  bool stopping = false;

  /// With `mutex` held: one stream fewer from `address`.
  void release_locked(uint32_t address) {
    auto it = per_address.find(address);
    if (it != per_address.end() && --it->second == 0) per_address.erase(it);
  }
};

struct HttpServer::Impl {
  MHD_Daemon* daemon = nullptr;
  std::thread housekeeper;
  std::mutex hk_mutex;
  std::condition_variable hk_cv;
  bool hk_stop = false;

  /// Every open connection, for the housekeeping thread. Lock order: conns_mutex, then a Conn's
  /// upload_mutex, then the core mutex, then Streams::mutex, then libmicrohttpd's own.
  std::mutex conns_mutex;
  std::unordered_set<Conn*> conns;
  /// Connections counted against Limits::max_connections, and by client address against
  /// Limits::max_connections_per_ip (the node's own within kSelfConnections are not).
  size_t counted = 0;
  std::unordered_map<uint32_t, size_t> per_address;
  size_t self_connections = 0;
  /// choose_victim_locked()'s scratch space (conns_mutex).
  std::vector<EvictionCandidate> candidates;
  std::vector<Conn*> candidate_conns;
  /// The most connections open since the heap was last trimmed (housekeeping thread).
  size_t peak_since_trim = 0;

  /// Requests whose head arrived and whose answer is not yet out; stop() waits for them.
  std::mutex active_mutex;
  std::condition_variable active_cv;
  size_t active_requests = 0;

  std::string head_timeout_answer;
  std::string body_timeout_answer;
  std::string overloaded_answer;

  // libmicrohttpd's callbacks, forwarding to the server.
  static MHD_Result on_access(void* cls, MHD_Connection* c, const char*, const char* method, const char*,
                              const char* upload_data, size_t* upload_size, void** req_cls);
  static void on_completed(void* cls, MHD_Connection* c, void** req_cls, MHD_RequestTerminationCode toe);
  static void on_connection(void* cls, MHD_Connection* c, void** socket_context, MHD_ConnectionNotificationCode toe);
  static void* on_uri(void* cls, const char* uri, MHD_Connection* c);
  static void on_log(void* cls, const char* fmt, va_list ap);
  static ssize_t stream_read(void* cls, uint64_t pos, char* buf, size_t max);
  static void stream_free(void* cls);
  /// The Conn libmicrohttpd keeps as the connection's socket context.
  static Conn* conn_of(MHD_Connection* c);
};

HttpServer::HttpServer(RestApi& api, std::mutex& core_mutex, LogSink* log)
    : api_(api), core_mutex_(core_mutex), log_(log), streams_(std::make_unique<Streams>()) {}

HttpServer::~HttpServer() { stop(); }

bool HttpServer::running() const { return impl_ != nullptr && impl_->daemon != nullptr; }

uint32_t HttpServer::now_ms() const { return clock_ != nullptr ? clock_->now_ms() : 0; }

void HttpServer::record_response(int status) {
  std::lock_guard<std::mutex> lock(core_mutex_);
  api_.record_response(status);
}

bool HttpServer::start(const std::string& bind_ip, uint16_t port, std::string* error) {
  stop();
  const int fd = open_listener(bind_ip, port, error);
  if (fd < 0) return false;
  port_ = bound_port(fd);
  stopping_.store(false);
  {
    std::lock_guard<std::mutex> lock(streams_->mutex);
    streams_->stopping = false;
  }
  impl_ = std::make_unique<Impl>();
  char message[96];
  std::snprintf(message, sizeof message, "The request head did not arrive within %u ms.",
                static_cast<unsigned>(limits_.head_timeout_ms));
  impl_->head_timeout_answer = raw_answer(408, error_json(message, "head_timeout"));
  impl_->body_timeout_answer = raw_answer(
      408, error_json("The request body stalled or arrived too slowly (docs/reliability.md).", "body_timeout"));
  impl_->overloaded_answer = raw_answer(
      503,
      error_json("The node is full and this connection was the slowest to send its request; retry in a moment.",
                 "overloaded"),
      kRetryAfter);
  fit_open_file_limit();

  const unsigned int threads = static_cast<unsigned int>(std::max<size_t>(threads_, 1));
  // The caps are the adapter's (admit_locked(): the node's own address is exempt, a full server
  // displaces a connection); libmicrohttpd's limit only bounds what is accepted beyond them.
  const unsigned int hard_limit =
      static_cast<unsigned int>(limits_.max_connections + kOverflowConnections + kSelfConnections);
  const size_t pool = limits_.connection_memory_bytes;
  // libmicrohttpd's own idle timeout, one second after the housekeeping thread's: a stalled body
  // gets its answer from the latter, and libmicrohttpd closes what is idle elsewhere (keep-alive,
  // a client that does not read its answer).
  const unsigned int idle = limits_.idle_timeout_s + 1;
  std::vector<MHD_OptionItem> options = {
      // First, or libmicrohttpd logs what it says about the other options to stderr itself.
      {MHD_OPTION_EXTERNAL_LOGGER, reinterpret_cast<intptr_t>(&Impl::on_log), this},
      {MHD_OPTION_LISTEN_SOCKET, fd, nullptr},
      {MHD_OPTION_CONNECTION_LIMIT, hard_limit, nullptr},
      {MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<intptr_t>(pool), nullptr},
      {MHD_OPTION_CONNECTION_TIMEOUT, idle, nullptr},
      {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&Impl::on_completed), this},
      {MHD_OPTION_NOTIFY_CONNECTION, reinterpret_cast<intptr_t>(&Impl::on_connection), this},
      {MHD_OPTION_URI_LOG_CALLBACK, reinterpret_cast<intptr_t>(&Impl::on_uri), this},
  };
  if (threads > 1) options.push_back({MHD_OPTION_THREAD_POOL_SIZE, threads, nullptr});
  options.push_back({MHD_OPTION_END, 0, nullptr});
  const unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                             MHD_USE_ERROR_LOG;
  impl_->daemon = MHD_start_daemon(flags, 0, nullptr, nullptr, &Impl::on_access, this, MHD_OPTION_ARRAY, options.data(),
                                   MHD_OPTION_END);
  if (impl_->daemon == nullptr) {
    // Not closed here: libmicrohttpd closes the listening socket on most of its failure paths,
    // and a second close() could hit a descriptor another thread just opened.
    impl_.reset();
    if (error) *error = "HTTP: libmicrohttpd did not start on " + bind_ip + ":" + std::to_string(port_);
    return false;
  }
  Impl* impl = impl_.get();
  impl->housekeeper = std::thread([this] { housekeep(); });
  return true;
}

void HttpServer::stop() {
  if (impl_ == nullptr) return;
  Impl& impl = *impl_;
  stopping_.store(true);
  {
    // Open event streams end now (their reader returns the end of the stream) rather than at
    // their next keep-alive; libmicrohttpd must not be stopped with a connection suspended.
    std::lock_guard<std::mutex> lock(streams_->mutex);
    streams_->stopping = true;
    for (StreamClient* s : streams_->clients) {
      if (s->suspended) {
        s->suspended = false;
        MHD_resume_connection(s->connection);
      }
    }
  }
  {
    // An upload in progress is aborted (with core's answer) rather than waited for; a client
    // still sending its head has nothing in flight.
    std::lock_guard<std::mutex> lock(impl.conns_mutex);
    for (Conn* c : impl.conns) {
      if (c->phase == Conn::Phase::kHead || c->uploading) cut_locked(c, std::string(), 0);
    }
  }
  {
    std::unique_lock<std::mutex> lock(impl.active_mutex);
    impl.active_cv.wait_for(lock, std::chrono::milliseconds(kStopGraceMs), [&] { return impl.active_requests == 0; });
  }
  MHD_stop_daemon(impl.daemon);  // closes every connection and the listening socket
  impl.daemon = nullptr;
  {
    std::lock_guard<std::mutex> lock(impl.hk_mutex);
    impl.hk_stop = true;
  }
  impl.hk_cv.notify_all();
  if (impl.housekeeper.joinable()) impl.housekeeper.join();
  impl_.reset();
}

// ---- libmicrohttpd callbacks ------------------------------------------------------------------

HttpServer::Conn* HttpServer::Impl::conn_of(MHD_Connection* c) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return info != nullptr ? static_cast<Conn*>(info->socket_context) : nullptr;
}

void HttpServer::Impl::on_connection(void* cls, MHD_Connection* c, void** socket_context,
                                     MHD_ConnectionNotificationCode toe) {
  auto* server = static_cast<HttpServer*>(cls);
  Impl& impl = *server->impl_;
  if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
    auto* conn = new Conn();
    const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    conn->fd = info != nullptr ? info->connect_fd : -1;
    conn->local_address = local_address_of(conn->fd);
    conn->address = socket_address(conn->fd, true);
    // The peer is the very address the connection arrived on: a process on this host, connecting
    // from the node's own address (no other host can complete a handshake from it).
    const bool from_self = conn->address != 0 && conn->address == socket_address(conn->fd, false);
    conn->since = SteadyClock::now();
    conn->deadline = conn->since + std::chrono::milliseconds(server->limits_.head_timeout_ms);
    {
      std::lock_guard<std::mutex> lock(impl.conns_mutex);
      impl.conns.insert(conn);
      server->admit_locked(conn, from_self);
    }
    *socket_context = conn;
    return;
  }
  auto* conn = static_cast<Conn*>(*socket_context);
  if (conn == nullptr) return;
  {
    // libmicrohttpd closes the socket after this returns: once the connection is out of the set,
    // nothing can shut down a descriptor number reused by another connection.
    std::lock_guard<std::mutex> lock(impl.conns_mutex);
    impl.conns.erase(conn);
    server->release_locked(conn);
    if (conn->exempt) --impl.self_connections;
  }
  delete conn;
  *socket_context = nullptr;
}

void HttpServer::admit_locked(Conn* conn, bool from_self) {
  Impl& impl = *impl_;
  if (from_self && impl.self_connections < kSelfConnections) {
    conn->exempt = true;
    ++impl.self_connections;
    return;
  }
  size_t& from_address = impl.per_address[conn->address];
  const ConnectionAdmission admission = admit_connection(from_address, impl.counted, admission_limits());
  if (admission == ConnectionAdmission::kAddressFull) {
    // The address holds its share already: closed unanswered (libmicrohttpd's next read sees
    // the end), as a full accept queue would.
    conn->cut = true;
    ::shutdown(conn->fd, SHUT_RDWR);
    return;
  }
  ++from_address;
  ++impl.counted;
  conn->holds_slot = true;
  if (admission == ConnectionAdmission::kAccept) return;
  Conn* victim = choose_victim_locked(conn);
  if (victim == nullptr) {
    conn->overloaded = true;  // answered 503 when its head is complete
    return;
  }
  // Displaced: a request under way is told to retry; an idle keep-alive connection is closed
  // unanswered, as any server may close one (clients retry on a new connection).
  const bool idle = victim->phase == Conn::Phase::kHead && victim->requests > 0;
  cut_locked(victim, idle ? std::string() : impl.overloaded_answer, idle ? 0 : 503);
}

HttpServer::Conn* HttpServer::choose_victim_locked(const Conn* arriving) {
  Impl& impl = *impl_;
  const SteadyClock::time_point now = SteadyClock::now();
  impl.candidates.clear();
  impl.candidate_conns.clear();
  for (Conn* c : impl.conns) {
    // Never an answer being sent (an event stream among them), an admitted upload, the node's
    // own connections or one already on its way out.
    if (c == arriving || !c->holds_slot || c->cut || c->uploading || c->phase == Conn::Phase::kAnswer) continue;
    EvictionCandidate e;
    e.state = c->phase == Conn::Phase::kBody ? EvictionCandidate::State::kBody
              : c->requests > 0              ? EvictionCandidate::State::kIdle
                                             : EvictionCandidate::State::kHead;
    e.age_ms = static_cast<uint32_t>(
        std::min<int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now - c->since).count(), UINT32_MAX));
    e.address_connections = impl.per_address[c->address];
    impl.candidates.push_back(e);
    impl.candidate_conns.push_back(c);
  }
  const size_t i = choose_eviction(impl.candidates.data(), impl.candidates.size(), limits_.eviction_min_age_ms);
  return i < impl.candidate_conns.size() ? impl.candidate_conns[i] : nullptr;
}

void HttpServer::release_locked(Conn* conn) {
  if (!conn->holds_slot) return;
  Impl& impl = *impl_;
  conn->holds_slot = false;
  --impl.counted;
  auto it = impl.per_address.find(conn->address);
  if (it != impl.per_address.end() && --it->second == 0) impl.per_address.erase(it);
}

HttpAdmissionLimits HttpServer::admission_limits() const {
  HttpAdmissionLimits a;
  a.max_header_count = limits_.max_header_count;
  a.max_head_bytes = limits_.max_head_bytes;
  a.max_target_bytes = limits_.max_target_bytes;
  a.max_query_params = limits_.max_query_params;
  a.max_body_bytes = max_body_bytes_;
  a.max_connections = limits_.max_connections;
  a.max_connections_per_address = limits_.max_connections_per_ip;
  return a;
}

void HttpServer::fit_open_file_limit() {
  // Every connection is a descriptor; past RLIMIT_NOFILE accept() fails and the node could not
  // open its own files. The soft limit is not raised: spored also links select()-based clients
  // (libmosquitto's loop, cpp-httplib's client) that cannot use descriptors from FD_SETSIZE
  // (1024) up, which the default soft limit of 1024 keeps them below.
  rlimit nofile{};
  const size_t extra = kOverflowConnections + kSelfConnections + kReservedFds;
  const bool known = ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY;
  char line[256];
  if (known && nofile.rlim_cur < limits_.max_connections + extra) {
    const size_t fit = nofile.rlim_cur > extra + 16 ? static_cast<size_t>(nofile.rlim_cur) - extra : 16;
    std::snprintf(line, sizeof line,
                  "HTTP: the open-file limit is %llu: at most %zu connections instead of %zu (raise it: ulimit -n, "
                  "systemd LimitNOFILE=)",
                  static_cast<unsigned long long>(nofile.rlim_cur), fit, limits_.max_connections);
    if (log_ != nullptr) log_->write(LogLevel::kWarn, line);
    limits_.max_connections = fit;
  }
  std::snprintf(line, sizeof line,
                "HTTP: at most %zu connections, %zu per address (%zu more from the node's own address); open-file "
                "limit %s",
                limits_.max_connections, limits_.max_connections_per_ip, kSelfConnections,
                known ? std::to_string(nofile.rlim_cur).c_str() : "unlimited");
  if (log_ != nullptr) log_->write(LogLevel::kInfo, line);
}

void* HttpServer::Impl::on_uri(void*, const char* uri, MHD_Connection* c) {
  // Called when a request line has been read, before libmicrohttpd decodes the target: the raw
  // target (query string included) is what RestApi routes on.
  Conn* conn = conn_of(c);
  if (conn == nullptr) return nullptr;
  conn->reset_request();
  conn->target = uri != nullptr ? uri : "";
  return conn;
}

void HttpServer::Impl::on_log(void* cls, const char* fmt, va_list ap) {
  auto* server = static_cast<HttpServer*>(cls);
  if (server->log_ == nullptr) return;
  char line[256];
  std::vsnprintf(line, sizeof line, fmt, ap);
  size_t n = std::strlen(line);
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
  std::string message = std::string("HTTP (libmicrohttpd): ") + line;
  server->log_->write(LogLevel::kDebug, message.c_str());
}

MHD_Result HttpServer::Impl::on_access(void* cls, MHD_Connection* c, const char*, const char* method, const char*,
                                       const char* upload_data, size_t* upload_size, void** req_cls) {
  auto* server = static_cast<HttpServer*>(cls);
  Conn* conn = static_cast<Conn*>(*req_cls);
  if (conn == nullptr) {
    conn = conn_of(c);
    if (conn == nullptr) return MHD_NO;
    *req_cls = conn;
  }
  return server->on_request(c, method, upload_data, upload_size, conn) != 0 ? MHD_YES : MHD_NO;
}

void HttpServer::Impl::on_completed(void* cls, MHD_Connection* c, void** req_cls, MHD_RequestTerminationCode toe) {
  auto* conn = static_cast<Conn*>(*req_cls);
  if (conn == nullptr) return;
  (void)toe;  // how it ended is in the connection's state
  static_cast<HttpServer*>(cls)->on_completed(c, conn);
  *req_cls = nullptr;
}

// ---- requests ---------------------------------------------------------------------------------

int HttpServer::on_request(MHD_Connection* c, const char* method, const char* upload_data, size_t* upload_size,
                           Conn* conn) {
  // libmicrohttpd calls once when the head is complete, once per piece of body, and once at the
  // end of the body. An answer queued at the first call makes it discard the body and close the
  // connection, so answers for a kept connection are queued at the last call.
  if (conn->kind == Conn::Kind::kNone) return begin_request(c, method, conn);
  if (*upload_size > 0) {
    const bool go_on = consume_body(conn, upload_data, *upload_size);
    *upload_size = 0;
    return go_on ? 1 : 0;  // 0: libmicrohttpd closes the connection without an answer
  }
  return finish_request(c, conn);
}

namespace {

MHD_Result add_field(void* cls, MHD_ValueKind, const char* key, size_t key_size, const char* value,
                     size_t value_size) {
  static_cast<HttpHeadFields*>(cls)->add({key, key_size},
                                         {value != nullptr ? value : "", value != nullptr ? value_size : 0});
  return MHD_YES;
}

/// One of core's flash strings (http_admission.h) as a std::string.
std::string text_of(FlashStr s) {
  std::string out(s.length(), '\0');
  s.copy_to(out.data(), out.size() + 1);  // and the terminator std::string keeps anyway
  return out;
}

}  // namespace

int HttpServer::begin_request(MHD_Connection* c, const char* method, Conn* conn) {
  Impl& impl = *impl_;
  {
    std::lock_guard<std::mutex> lock(impl.active_mutex);
    ++impl.active_requests;
  }
  conn->active = true;
  conn->kind = Conn::Kind::kPlain;
  conn->method = method_from(method);

  HttpHeadFields fields;
  MHD_get_connection_values_n(c, MHD_HEADER_KIND, &add_field, &fields);
  const MHD_ConnectionInfo* size_info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
  const bool chunked = fields.chunked();
  const uint64_t declared = fields.has_content_length() ? fields.content_length() : 0;
  const bool has_body = chunked || declared > 0;
  const bool expect_continue = header_name_is(header(c, "Expect"), "100-continue");
  const bool upload = ota_ != nullptr && std::strcmp(method, "POST") == 0 &&
                      path_of(conn->target) == OtaUploadHandler::kPath &&
                      (fields.has_content_length() || chunked);
  // A refused body is read and dropped only when that is cheap: a declared length the client
  // sends without waiting to be asked, small enough to read at the minimum pace in seconds.
  const bool drain_if_refused = !chunked && !expect_continue && declared <= kRefusedDrainBytes;
  bool overloaded = false;
  {
    // From here the request's body is on the clock (the running minimum pace, housekeep()); a
    // request without one is being answered.
    std::lock_guard<std::mutex> lock(impl.conns_mutex);
    conn->phase = has_body ? Conn::Phase::kBody : Conn::Phase::kAnswer;
    conn->since = SteadyClock::now();
    conn->body_activity.store(conn->since.time_since_epoch().count());
    conn->body_bytes.store(0);
    conn->uploading = upload;
    overloaded = conn->overloaded;
  }

  if (stopping_.load()) {
    return refuse(c, conn, 503, "stopping", "The node is stopping or restarting; retry in a moment.", true);
  }
  if (overloaded) return refuse(c, conn, 503, "overloaded", kOverloadedMessage, true);
  HttpHeadFacts facts;
  facts.fields = &fields;
  facts.head_bytes = size_info != nullptr ? size_info->header_size : 0;
  facts.target_bytes = conn->target.size();
  const int query_params = MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, nullptr, nullptr);
  facts.query_params = static_cast<size_t>(std::max(0, query_params));
  facts.content_type = header(c, "Content-Type");
  facts.content_length = declared;
  facts.has_body = has_body;
  facts.upload = upload;
  const HttpRefusal refusal = admit_head(facts, admission_limits());
  if (refusal != HttpRefusal::kNone) return refuse_head(c, conn, refusal, fields, drain_if_refused);
  if (upload) return begin_upload(c, conn, chunked ? 0 : declared, drain_if_refused);
  return 1;
}

int HttpServer::refuse_head(MHD_Connection* c, Conn* conn, HttpRefusal refusal, const HttpHeadFields& fields,
                            bool drain_if_refused) {
  const std::string code = text_of(http_refusal_code(refusal));
  switch (refusal) {
    case HttpRefusal::kHeadersTooLarge: {
      char message[128];
      std::snprintf(message, sizeof message, "The request head is over %zu header fields or %zu bytes.",
                    limits_.max_header_count, limits_.max_head_bytes);
      return refuse(c, conn, 431, code.c_str(), message, true);
    }
    case HttpRefusal::kBadFraming:
      return refuse(c, conn, 400, code.c_str(), text_of(fields.framing_problem()).c_str(), true);
    case HttpRefusal::kPayloadTooLarge:
      // Refused before the body: a small one is read and dropped so the answer arrives on a
      // connection still in sync; any other is answered now and the connection closed.
      if (!drain_if_refused) return refuse(c, conn, 413, code.c_str(), kTooLargeMessage, true);
      conn->kind = Conn::Kind::kTooLarge;
      return 1;
    case HttpRefusal::kUriTooLong: {
      char message[128];
      std::snprintf(message, sizeof message,
                    "The request target is %zu bytes or more, or has over %zu query parameters.",
                    limits_.max_target_bytes, limits_.max_query_params);
      return refuse(c, conn, 414, code.c_str(), message, true);
    }
    default:  // kBadHeaderName (spored takes any media type: libmicrohttpd hands the body over raw)
      return refuse(c, conn, http_refusal_status(refusal), code.c_str(),
                    "A header name holds a space or a control character.", true);
  }
}

bool HttpServer::consume_body(Conn* conn, const char* data, size_t size) {
  conn->body_activity.store(SteadyClock::now().time_since_epoch().count());
  conn->body_bytes.fetch_add(size);
  switch (conn->kind) {
    case Conn::Kind::kPlain:
      if (conn->body.size() + size <= max_body_bytes_) {
        conn->body.append(data, size);
        return true;
      }
      // A chunked body over the limit (its length was not declared): the answer now, the rest
      // is not read.
      std::string().swap(conn->body);
      record_response(413);
      conn->counted = true;
      send_and_close(conn->fd, raw_answer(413, error_json(kTooLargeMessage, "payload_too_large")), false);
      return false;
    case Conn::Kind::kTooLarge:
    case Conn::Kind::kRefused:
      // A declared length of at most kRefusedDrainBytes (begin_request()): read to its end.
      return true;
    case Conn::Kind::kUpload: {
      if (stopping_.load()) return false;  // shutting down: abort rather than wait for the client
      std::lock_guard<std::mutex> lock(conn->upload_mutex);
      if (conn->upload_finished) return false;  // ended by the housekeeping thread, answer sent
      if (conn->upload_accepting) {
        conn->block.insert(conn->block.end(), reinterpret_cast<const uint8_t*>(data),
                           reinterpret_cast<const uint8_t*>(data) + size);
        if (conn->block.size() >= kOtaBlockBytes || now_ms() - conn->last_flush_ms >= kOtaFlushMs) flush_upload(conn);
        return true;
      }
      // The upload failed mid-body (bad magic, too large, ...): the rest is read and dropped, so
      // the answer arrives on a connection in a defined state, up to the route's limit; beyond
      // it (a chunked body) the answer goes now and the connection closes.
      conn->discarded_bytes += size;
      if (conn->discarded_bytes <= ota_max_body_bytes_) return true;
      conn->counted = true;
      send_and_close(conn->fd, end_upload_locked(conn, true), false);
      return false;
    }
    case Conn::Kind::kNone:
    case Conn::Kind::kAnswered:
      break;
  }
  return true;
}

int HttpServer::finish_request(MHD_Connection* c, Conn* conn) {
  switch (conn->kind) {
    case Conn::Kind::kUpload:
      return finish_upload(c, conn);
    case Conn::Kind::kRefused:
      return answer(c, conn, conn->refusal);  // counted when it was decided
    case Conn::Kind::kTooLarge:
      return refuse(c, conn, 413, "payload_too_large", kTooLargeMessage, false);
    case Conn::Kind::kPlain:
      return serve(c, conn);
    case Conn::Kind::kNone:
    case Conn::Kind::kAnswered:
      break;
  }
  return 1;
}

void HttpServer::on_completed(MHD_Connection* c, Conn* conn) {
  bool aborted = false;
  {
    std::lock_guard<std::mutex> upload_lock(conn->upload_mutex);
    if (conn->upload_active && !conn->upload_finished) {
      // The connection ended before the body did (dropped, cut off, or stop()): core aborts the
      // upload and frees its slot for the next one.
      std::string ignored;
      StringJsonOutput out(ignored);
      std::lock_guard<std::mutex> lock(core_mutex_);
      ota_->finish(false, now_ms(), out, conn->upload_id);
      conn->upload_finished = aborted = true;
    }
  }
  if (aborted && log_ != nullptr) {
    log_->write(LogLevel::kWarn, "firmware upload: the connection ended before the body did; upload aborted");
  }
  if (!conn->counted) {
    // An answer libmicrohttpd produced by itself (malformed request, head over the memory pool).
    const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_HTTP_STATUS);
    if (info != nullptr && info->http_status != 0) record_response(static_cast<int>(info->http_status));
  }
  Impl& impl = *impl_;
  if (conn->active) {
    {
      std::lock_guard<std::mutex> lock(impl.active_mutex);
      --impl.active_requests;
    }
    impl.active_cv.notify_all();
  }
  conn->reset_request();
  {
    // The next request on a kept connection has head_timeout_ms from now; until its first byte
    // the connection is an idle keep-alive one.
    std::lock_guard<std::mutex> lock(impl.conns_mutex);
    conn->phase = Conn::Phase::kHead;
    conn->uploading = false;
    ++conn->requests;
    conn->since = SteadyClock::now();
    conn->deadline = conn->since + std::chrono::milliseconds(limits_.head_timeout_ms);
  }
}

int HttpServer::serve(MHD_Connection* c, Conn* conn) {
  HttpRequest r;
  r.method = conn->method;
  // The raw target, query string included: RestApi routes on the path before '?', and handlers
  // such as POST /api/cluster/events?topic= read their parameters from it.
  r.path = conn->target;
  r.authorization = header(c, "Authorization");
  r.body = conn->body;
  r.content_type = header(c, "Content-Type");
  r.local_address = conn->local_address;
  if (events_ != nullptr && EventApi::is_stream_request(r)) return serve_stream(c, conn, r);
  Answer a;
  {
    std::lock_guard<std::mutex> lock(core_mutex_);
    a.asset = api_.asset_for(r);
    if (a.asset != nullptr) api_.record_response(200);
  }
  conn->counted = true;
  if (a.asset != nullptr) {
    if (a.asset->content_encoding != nullptr && !http_accepts_gzip(header(c, "Accept-Encoding"))) {
      a.identity = identity_of(*a.asset);
    }
    return answer(c, conn, a);
  }
  a.body.reserve(1024);
  StringJsonOutput out(a.body);
  HttpResponseHeaders headers;
  bool restart_pending = false;
  {
    std::lock_guard<std::mutex> lock(core_mutex_);
    a.status = api_.handle(r, out, &headers);  // counts the status in api_.response_counts()
    if (headers.allow != nullptr) a.allow = headers.allow;
    if (headers.www_authenticate != nullptr) a.challenge = headers.www_authenticate;
    if (headers.allow_methods != nullptr) a.allow_methods = headers.allow_methods;
    restart_pending = ota_ != nullptr && ota_->restart_pending();
  }
  // headers.content_type and allow_origin are string literals: valid after the lock.
  if (headers.content_type != nullptr) a.content_type = headers.content_type;
  a.allow_origin = headers.allow_origin;
  if (a.status == 500) {
    a.body = internal_error_json();  // RestApi's body may be truncated
    a.content_type = kJson;
  }
  // The node exec()s itself after a 202 restart or a 200 that installed an image: no keep-alive
  // connection may pin it. Other 202s (an event published) keep theirs.
  a.close = (a.status == 202 && path_of(conn->target) == kRestartPath) || (a.status == 200 && restart_pending);
  return answer(c, conn, a);
}

int HttpServer::answer(MHD_Connection* c, Conn* conn, const Answer& a) {
  MHD_Response* resp = nullptr;
  if (a.identity != nullptr) {
    resp = MHD_create_response_from_buffer(a.identity->size(), const_cast<char*>(a.identity->data()),
                                           MHD_RESPMEM_PERSISTENT);  // kept for the process's life
  } else if (a.asset != nullptr) {
    // Sent as stored (gzip) to a client that accepts it: libmicrohttpd never compresses.
    resp = MHD_create_response_from_buffer(a.asset->size_bytes, const_cast<uint8_t*>(a.asset->data),
                                           MHD_RESPMEM_PERSISTENT);
  } else {
    resp = MHD_create_response_from_buffer(a.body.size(), const_cast<char*>(a.body.data()), MHD_RESPMEM_MUST_COPY);
  }
  if (resp == nullptr) return 0;
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  if (a.asset != nullptr) {
    MHD_add_response_header(resp, "Content-Type", a.asset->content_type);
    if (a.asset->content_encoding != nullptr && a.identity == nullptr) {
      MHD_add_response_header(resp, "Content-Encoding", a.asset->content_encoding);
    }
    // Which bytes depends on Accept-Encoding: a cache must not hand gzip to a client without it.
    if (a.asset->content_encoding != nullptr) MHD_add_response_header(resp, "Vary", "Accept-Encoding");
    // Revalidate every time: after an OTA update the node may serve a different page.
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    if (a.asset->content_security_policy != nullptr) {
      MHD_add_response_header(resp, "Content-Security-Policy", a.asset->content_security_policy);
    }
  } else {
    if (a.status != 204) MHD_add_response_header(resp, "Content-Type", a.content_type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
  }
  if (a.allow_origin != nullptr) MHD_add_response_header(resp, "Access-Control-Allow-Origin", a.allow_origin);
  if (!a.allow_methods.empty()) {
    MHD_add_response_header(resp, "Access-Control-Allow-Methods", a.allow_methods.c_str());
    MHD_add_response_header(resp, "Access-Control-Allow-Headers", kCorsAllowHeaders);
    MHD_add_response_header(resp, "Access-Control-Max-Age", kCorsMaxAgeS);
  }
  if (!a.allow.empty()) MHD_add_response_header(resp, "Allow", a.allow.c_str());
  if (!a.challenge.empty()) MHD_add_response_header(resp, "WWW-Authenticate", a.challenge.c_str());
  if (a.retry_after) MHD_add_response_header(resp, "Retry-After", "1");
  if (a.close) MHD_add_response_header(resp, "Connection", "close");
  if (conn != nullptr) {
    conn->kind = Conn::Kind::kAnswered;
    std::lock_guard<std::mutex> lock(impl_->conns_mutex);
    conn->phase = Conn::Phase::kAnswer;
    conn->uploading = false;
  }
  const MHD_Result queued = MHD_queue_response(c, static_cast<unsigned int>(a.status), resp);
  MHD_destroy_response(resp);
  return queued == MHD_YES ? 1 : 0;
}

int HttpServer::refuse(MHD_Connection* c, Conn* conn, int status, const char* code, const char* message,
                       bool close) {
  record_response(status);
  conn->counted = true;
  Answer a;
  a.status = status;
  a.body = error_json(message, code);
  a.close = close;
  a.retry_after = status == 503;
  return answer(c, conn, a);
}

// ---- POST /api/node/update ----------------------------------------------------------------------

int HttpServer::begin_upload(MHD_Connection* c, Conn* conn, uint64_t content_length, bool drain_if_refused) {
  Answer a;
  StringJsonOutput out(a.body);
  HttpResponseHeaders headers;
  const size_t declared = static_cast<size_t>(std::min<uint64_t>(content_length, SIZE_MAX));
  {
    std::lock_guard<std::mutex> upload_lock(conn->upload_mutex);
    {
      std::lock_guard<std::mutex> lock(core_mutex_);
      // The whole target: a proof signs its query (allow_downgrade=1) too.
      a.status = ota_->start(header(c, "Content-Type"), declared, header(c, "Authorization"), now_ms(), out, &headers,
                             conn->target);
      if (a.status == 0) conn->upload_id = ota_->upload_id();
      if (a.status != 0) api_.record_response(a.status);
      if (headers.www_authenticate != nullptr) a.challenge = headers.www_authenticate;
      a.allow_origin = api_.allow_origin_for(RouteAuth::kTokenInHandler);
    }
    if (a.status == 0) {
      // Admitted: with Expect: 100-continue, libmicrohttpd now sends "100 Continue".
      conn->kind = Conn::Kind::kUpload;
      conn->upload_active = true;
      conn->upload_accepting = true;
      conn->last_flush_ms = now_ms();
      conn->block.reserve(kOtaBlockBytes);
      return 1;
    }
  }
  conn->counted = true;
  {
    std::lock_guard<std::mutex> lock(impl_->conns_mutex);
    conn->uploading = false;  // nothing for stop() to abort
  }
  if (!drain_if_refused) {
    // Before the body: the client sends none (Expect), or one of unknown (chunked) or large
    // length is not read: the answer now, and the connection closes after it.
    a.close = true;
    return answer(c, conn, a);
  }
  // Refused before a small declared body: it is read and dropped, so the answer arrives on a
  // clean keep-alive connection.
  conn->refusal = std::move(a);
  conn->kind = Conn::Kind::kRefused;
  return 1;
}

void HttpServer::flush_upload(Conn* conn) {
  const uint32_t now = now_ms();
  {
    std::lock_guard<std::mutex> lock(core_mutex_);
    conn->upload_accepting = ota_->body(conn->block.data(), conn->block.size(), now, conn->upload_id);
  }
  conn->block.clear();
  conn->last_flush_ms = now;
}

int HttpServer::finish_upload(MHD_Connection* c, Conn* conn) {
  Answer a;
  StringJsonOutput out(a.body);
  bool restart_pending = false;
  {
    std::lock_guard<std::mutex> upload_lock(conn->upload_mutex);
    if (conn->upload_finished) return 0;  // ended by the housekeeping thread, answer sent
    if (conn->upload_accepting && !conn->block.empty()) flush_upload(conn);
    std::lock_guard<std::mutex> lock(core_mutex_);
    a.status = ota_->finish(true, now_ms(), out, conn->upload_id);
    api_.record_response(a.status);
    a.allow_origin = api_.allow_origin_for(RouteAuth::kTokenInHandler);
    restart_pending = ota_->restart_pending();
    conn->upload_finished = true;
  }
  conn->counted = true;
  // After a 200 the node restarts: no keep-alive connection may pin it.
  a.close = restart_pending;
  return answer(c, conn, a);
}

// ---- event streams ------------------------------------------------------------------------------

int HttpServer::serve_stream(MHD_Connection* c, Conn* conn, const HttpRequest& r) {
  bool address_full = false;
  {
    // One address may not take every stream slot: its share is reserved before core is asked.
    std::lock_guard<std::mutex> lock(streams_->mutex);
    size_t& from_address = streams_->per_address[conn->address];
    address_full = from_address >= limits_.max_streams_per_ip;
    if (!address_full) ++from_address;
    if (from_address == 0) streams_->per_address.erase(conn->address);
  }
  if (address_full) {
    char message[160];
    std::snprintf(message, sizeof message,
                  "This address already holds %zu event streams, the most one address may; close one first.",
                  limits_.max_streams_per_ip);
    return refuse(c, conn, 503, "too_many_streams", message, false);
  }
  SseFilter filter;
  Answer refusal;
  StringJsonOutput out(refusal.body);
  JsonWriter w(out);
  char preamble[96];
  size_t preamble_size = 0;
  {
    std::lock_guard<std::mutex> lock(core_mutex_);
    refusal.status = events_->open_stream(r, &filter, w);
    api_.record_response(refusal.status);
    if (refusal.status == 200) preamble_size = events_->write_preamble(preamble, sizeof preamble);
  }
  conn->counted = true;
  if (refusal.status != 200) {
    std::lock_guard<std::mutex> lock(streams_->mutex);
    streams_->release_locked(conn->address);
    refusal.retry_after = refusal.status == 503;  // every slot taken: a slot frees when a stream ends
    return answer(c, conn, refusal);
  }
  auto* client = new StreamClient();
  client->server = this;
  client->connection = c;
  client->fd = conn->fd;
  client->address = conn->address;
  client->filter = filter;
  client->queue.push_back(std::make_shared<const std::string>(preamble, preamble_size));
  client->last_write = SteadyClock::now();
  // From here stream_free() (called when libmicrohttpd drops the response) closes the slot.
  MHD_Response* resp =
      MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, &Impl::stream_read, client, &Impl::stream_free);
  if (resp == nullptr) {
    delete client;
    {
      std::lock_guard<std::mutex> lock(streams_->mutex);
      streams_->release_locked(conn->address);
    }
    std::lock_guard<std::mutex> lock(core_mutex_);
    events_->close_stream();
    return 0;
  }
  {
    // Missed messages (Last-Event-ID) first; the core lock up to the listing keeps out live ones.
    std::lock_guard<std::mutex> core_lock(core_mutex_);
    events_->replay(header(c, "Last-Event-ID"), filter,
                    EventApi::Sink::with_context<FrameQueue, &queue_replayed>(&client->queue), nullptr);
    std::lock_guard<std::mutex> lock(streams_->mutex);
    streams_->clients.push_back(client);
  }
  MHD_add_response_header(resp, "Content-Type", "text/event-stream");
  MHD_add_response_header(resp, "Cache-Control", "no-store");
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(resp, "X-Accel-Buffering", "no");  // a reverse proxy (nginx) must not buffer it
  MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");  // public, like every GET that is not a secret
  conn->kind = Conn::Kind::kAnswered;
  {
    std::lock_guard<std::mutex> lock(impl_->conns_mutex);
    conn->phase = Conn::Phase::kAnswer;
  }
  const MHD_Result queued = MHD_queue_response(c, 200, resp);
  MHD_destroy_response(resp);  // not queued: this frees the client through stream_free()
  return queued == MHD_YES ? 1 : 0;
}

ssize_t HttpServer::Impl::stream_read(void* cls, uint64_t, char* buf, size_t max) {
  auto* s = static_cast<StreamClient*>(cls);
  Streams& streams = *s->server->streams_;
  std::lock_guard<std::mutex> lock(streams.mutex);
  // The end of the stream: the client sees a clean end and reconnects (retry:).
  if (streams.stopping || s->overflowed) return MHD_CONTENT_READER_END_OF_STREAM;
  size_t n = 0;
  while (n < max && !s->queue.empty()) {
    const std::string& frame = *s->queue.front();
    const size_t k = std::min(max - n, frame.size() - s->front_offset);
    std::memcpy(buf + n, frame.data() + s->front_offset, k);
    n += k;
    s->front_offset += k;
    if (s->front_offset == frame.size()) {
      s->queue.pop_front();
      s->front_offset = 0;
    }
  }
  if (n > 0) {
    s->last_write = SteadyClock::now();
    return static_cast<ssize_t>(n);
  }
  // Nothing to send: out of libmicrohttpd's event loop until send_event() or a keep-alive.
  s->suspended = true;
  MHD_suspend_connection(s->connection);
  return 0;
}

void HttpServer::Impl::stream_free(void* cls) {
  auto* s = static_cast<StreamClient*>(cls);
  HttpServer* server = s->server;
  {
    std::lock_guard<std::mutex> lock(server->streams_->mutex);
    auto& list = server->streams_->clients;
    list.erase(std::remove(list.begin(), list.end(), s), list.end());
    server->streams_->release_locked(s->address);
  }
  delete s;
  std::lock_guard<std::mutex> lock(server->core_mutex_);
  server->events_->close_stream();
}

void HttpServer::send_event(const SseMessage& msg) {
  const auto frame = sse_frame(msg);
  if (frame == nullptr) return;
  std::lock_guard<std::mutex> lock(streams_->mutex);
  if (streams_->stopping) return;
  for (StreamClient* s : streams_->clients) {
    if (s->overflowed || !EventApi::filter_matches(s->filter, msg.topic)) continue;
    if (s->queue.size() >= kStreamQueueMessages) {
      // A client this far behind has stopped reading: its socket is full, so not even the end of
      // the stream would reach it. Cut it off; it reconnects and goes on from the present.
      s->overflowed = true;
      s->queue.clear();
      s->front_offset = 0;
      if (s->suspended) {
        s->suspended = false;
        MHD_resume_connection(s->connection);
      } else {
        ::shutdown(s->fd, SHUT_RDWR);  // the descriptor is open while the client is listed
      }
      continue;
    }
    s->queue.push_back(frame);
    if (s->suspended) {
      s->suspended = false;
      MHD_resume_connection(s->connection);
    }
  }
}

// ---- deadlines ----------------------------------------------------------------------------------

std::string HttpServer::end_upload_locked(Conn* conn, bool complete) {
  if (!conn->upload_active || conn->upload_finished) return {};
  std::string body;
  StringJsonOutput out(body);
  int status = 0;
  {
    std::lock_guard<std::mutex> lock(core_mutex_);
    status = ota_->finish(complete, now_ms(), out, conn->upload_id);
    api_.record_response(status);
  }
  conn->upload_finished = true;
  return raw_answer(status, body);
}

std::string HttpServer::end_late_upload(Conn* conn) {
  std::lock_guard<std::mutex> upload_lock(conn->upload_mutex);
  std::string answer = end_upload_locked(conn, false);  // 400 aborted: the old image stays
  if (!answer.empty() && log_ != nullptr) {
    log_->write(LogLevel::kWarn, "firmware upload: the body stalled or the server stops; upload aborted");
  }
  return answer;
}

void HttpServer::cut_locked(Conn* conn, const std::string& answer, int status) {
  if (conn->cut) return;
  if (conn->uploading) {
    const std::string upload_answer = end_late_upload(conn);  // counted there
    if (upload_answer.empty()) return;  // it finished meanwhile: its answer is on its way
    send_and_close(conn->fd, upload_answer, true);
  } else {
    if (status != 0) record_response(status);  // before the client can see it
    send_and_close(conn->fd, answer, true);
  }
  conn->cut = true;
  release_locked(conn);  // on its way out: its slot is free for the next connection now
}

bool HttpServer::body_late(const Conn& conn, SteadyClock::time_point now) const {
  const SteadyClock::time_point activity{SteadyClock::duration(conn.body_activity.load())};
  if (now - activity >= std::chrono::seconds(limits_.idle_timeout_s)) return true;
  // The running minimum pace: after the grace, never fewer bytes than the rate allows for.
  const int64_t elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - conn.since).count();
  if (elapsed_ms <= static_cast<int64_t>(limits_.body_grace_ms)) return false;
  const uint64_t required =
      static_cast<uint64_t>(elapsed_ms - limits_.body_grace_ms) * limits_.min_body_bytes_per_s / 1000;
  return conn.body_bytes.load() < required;
}

void HttpServer::housekeep() {
  Impl& impl = *impl_;
  constexpr auto kPeriod = std::chrono::milliseconds(100);
  std::unique_lock<std::mutex> hk_lock(impl.hk_mutex);
  while (!impl.hk_stop) {
    impl.hk_cv.wait_for(hk_lock, kPeriod);
    if (impl.hk_stop) break;
    hk_lock.unlock();
    const SteadyClock::time_point now = SteadyClock::now();
    size_t open_now = 0;
    {
      // A head past its deadline, or a body idle or behind its pace: answered (408, or core's
      // answer for an upload) when the socket takes it, then shut down, which makes
      // libmicrohttpd's next read see the end and close the connection. Only a listed connection
      // is touched: its descriptor stays open until it leaves the set (on_connection).
      std::lock_guard<std::mutex> lock(impl.conns_mutex);
      for (Conn* c : impl.conns) {
        if (c->cut || c->phase == Conn::Phase::kAnswer) continue;
        const bool body = c->phase == Conn::Phase::kBody;
        if (body ? !body_late(*c, now) : now < c->deadline) continue;
        cut_locked(c, body ? impl.body_timeout_answer : impl.head_timeout_answer, 408);
      }
      impl.peak_since_trim = std::max(impl.peak_since_trim, impl.conns.size());
      open_now = impl.conns.size();
    }
    if (impl.peak_since_trim >= kTrimAfterConnections && open_now <= impl.peak_since_trim / 8) {
      // A flood subsided: its request bodies and buffers went back to glibc's arenas, which keep
      // the pages (RSS stayed 10-20 MB above its baseline). Hand them back once.
      ::malloc_trim(0);
      impl.peak_since_trim = open_now;
    }
    {
      // Idle streams get a keep-alive comment every EventApi::kKeepAliveMs: the write is also how
      // a client that went away is noticed.
      std::lock_guard<std::mutex> lock(streams_->mutex);
      for (StreamClient* s : streams_->clients) {
        if (streams_->stopping || !s->suspended) continue;
        if (now - s->last_write < std::chrono::milliseconds(EventApi::kKeepAliveMs)) continue;
        s->queue.push_back(std::make_shared<const std::string>(EventApi::kKeepAliveFrame));
        s->suspended = false;
        MHD_resume_connection(s->connection);
      }
    }
    hk_lock.lock();
  }
}

}  // namespace spore::posix
