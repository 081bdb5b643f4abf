#include "posix/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <cstring>
#include <httplib.h>
#include <thread>
#include <vector>

#include "posix/udp_socket.h"
#include "spore/event_api.h"
#include "spore/json_writer.h"
#include "spore/ota_upload.h"

namespace spore::posix {

namespace {

constexpr const char* kJson = "application/json";

HttpMethod method_from(const std::string& name) {
  // httplib routes HEAD to the GET handlers and sends only the headers; RestApi answers it as GET.
  if (name == "HEAD") return HttpMethod::kGet;
  HttpMethod m = kUnknownHttpMethod;
  if (!parse_http_method(name, &m)) return kUnknownHttpMethod;
  return m;
}

/// Body for a status httplib produced by itself (no RestApi involved).
std::string generic_error_json(int status) {
  const char* code = "http_error";
  const char* message = "The request could not be served.";
  switch (status) {
    case 400: code = "bad_request"; message = "The HTTP request is malformed."; break;
    case 404: code = "not_found"; message = "No endpoint has this path."; break;
    case 405: code = "method_not_allowed"; message = "This method is not supported."; break;
    case 413: code = "payload_too_large"; message = "The request body is larger than this node accepts."; break;
    case 414: code = "uri_too_long"; message = "The request URI is too long."; break;
    case 500: code = "internal_error"; message = "The node failed to produce a response."; break;
    default: break;
  }
  std::string body;
  StringJsonOutput out(body);
  JsonWriter w(out);
  w.begin_object().field("error", message).field("code", code).end_object();
  return body;
}

/// Binds a throwaway TCP socket the way httplib will, to turn a failure into an errno sentence
/// (httplib only says "false").
std::string probe_bind_error(const std::string& ip, uint16_t port) {
  uint32_t addr = 0;
  if (!parse_ipv4(ip, &addr)) return "not an IPv4 address";
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::strerror(errno);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(addr);
  std::string result;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    result = std::strerror(errno);
    if (errno == EADDRINUSE) result += " (another process listens on this port)";
    if (errno == EACCES) result += " (ports below 1024 need privileges)";
    if (errno == EADDRNOTAVAIL) result += " (no local interface has this address)";
  }
  ::close(fd);
  return result;
}


bool may_have_body(const httplib::Request& req) {
  return req.method == "POST" || req.method == "PUT" || req.method == "PATCH" || req.method == "DELETE";
}

bool has_body_framing(const httplib::Request& req) {
  return req.has_header("Content-Length") || req.has_header("Transfer-Encoding");
}

/// Content-Length as a number; 0 when absent or unparsable (httplib already refused the latter).
size_t content_length_of(const httplib::Request& req) {
  const std::string text = req.get_header_value("Content-Length");
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return 0;
  const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
  return v > SIZE_MAX ? SIZE_MAX : static_cast<size_t>(v);
}

/// cpp-httplib 0.11 decides how ContentReader delivers a body when the reader is *called*, from
/// the request's Content-Type at that moment: for "multipart/form-data..." it runs its own
/// multipart parser and hands out part headers and part bytes through two callbacks, never the
/// raw bytes (Server::read_content_core). Core parses multipart itself (OtaUploadHandler, the same
/// streaming parser the ESP8266 firmware uses, with its own limits and error codes), so it needs
/// the raw body. The Request object httplib passes as const is a non-const local of its
/// process_request(), so rewriting the header here is well defined; the original value is read
/// before and passed to core. Checked by tests/posix/http_server_ota_test.cpp (MultipartBodyArrivesRawAndIsParsedByCore)
/// so an httplib upgrade that changes this is noticed.
void hide_multipart_from_httplib(const httplib::Request& req) {
  auto& headers = const_cast<httplib::Request&>(req).headers;
  auto range = headers.equal_range("Content-Type");
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second.rfind("multipart/form-data", 0) == 0) it->second = "application/octet-stream";
  }
}

void send_json(httplib::Response& res, int status, const std::string& body, const std::string& allow,
               const std::string& challenge, bool close, const char* allow_origin = nullptr,
               const char* content_type = kJson) {
  res.status = status;
  if (allow_origin != nullptr) res.set_header("Access-Control-Allow-Origin", allow_origin);
  if (!allow.empty()) res.set_header("Allow", allow);
  if (!challenge.empty()) res.set_header("WWW-Authenticate", challenge);
  // The client closes; httplib then ends the connection at its next read (EOF).
  if (close) res.set_header("Connection", "close");
  res.set_header("Cache-Control", "no-store");
  res.set_content(body, content_type);
}

/// Set on a worker thread while it serves a connection that was accepted when kMaxQueuedConnections
/// connections were already waiting for a worker: every request on it is answered 503 overloaded
/// at once (and the connection closed), so a burst beyond the server's capacity gets a clear
/// answer in little time instead of a long wait and a client-side timeout.
thread_local bool t_overloaded = false;

/// httplib's ThreadPool with admission control: the same fixed workers and FIFO queue, but a
/// connection accepted while the queue is full is marked overloaded (t_overloaded) instead of
/// waiting like the others. httplib 0.11's TaskQueue::enqueue() cannot refuse a connection (it
/// returns void and owns the socket), so marking it is the one way to answer it.
class AdmissionQueue : public httplib::TaskQueue {
 public:
  AdmissionQueue(size_t threads, size_t max_queued) : max_queued_(max_queued) {
    for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  ~AdmissionQueue() override { shutdown(); }
  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const bool overloaded = jobs_.size() >= max_queued_;
      jobs_.push_back({std::move(fn), overloaded});
    }
    cond_.notify_one();
  }
  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (shutdown_) return;
      shutdown_ = true;
    }
    cond_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

 private:
  struct Job {
    std::function<void()> fn;
    bool overloaded;
  };
  void work() {
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cond_.wait(lock, [this] { return shutdown_ || !jobs_.empty(); });
        if (shutdown_ && jobs_.empty()) return;  // as httplib's pool: queued connections are served first
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      t_overloaded = job.overloaded;
      job.fn();
      t_overloaded = false;
    }
  }
  const size_t max_queued_;
  std::vector<std::thread> workers_;
  std::deque<Job> jobs_;
  std::mutex mutex_;
  std::condition_variable cond_;
  bool shutdown_ = false;
};

/// Which request the Expect: 100-continue handler admitted on this worker thread (httplib runs
/// that handler and then the route handler for the same Request, on the same thread).
struct PreStarted {
  const httplib::Request* request = nullptr;
  uint32_t upload_id = 0;
};
thread_local PreStarted t_pre_started;

}  // namespace

struct HttpServer::Impl {
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> finished{false};  ///< listen_after_bind() returned
};

/// The open event streams. Shared with each stream's content provider (a worker thread), which
/// waits on `cv` for messages; send_event() (the node loop, under the core mutex) only appends
/// to queues, so a slow client never holds up core.
struct HttpServer::Streams {
  struct Client {
    SseFilter filter;
    std::deque<std::string> queue;
    bool overflowed = false;
  };
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::shared_ptr<Client>> clients;
  bool stopping = false;
};

HttpServer::HttpServer(RestApi& api, std::mutex& core_mutex, LogSink* log)
    : api_(api), core_mutex_(core_mutex), log_(log), streams_(std::make_shared<Streams>()) {}

HttpServer::~HttpServer() { stop(); }

bool HttpServer::running() const { return impl_ != nullptr && impl_->server.is_running(); }

bool HttpServer::start(const std::string& bind_ip, uint16_t port, std::string* error) {
  stop();
  stopping_.store(false);
  uint32_t parsed = 0;
  if (!parse_ipv4(bind_ip, &parsed)) {
    if (error) *error = "HTTP: bind address '" + bind_ip + "' is not an IPv4 address";
    return false;
  }
  if (port != 0) {
    const std::string why = probe_bind_error(bind_ip, port);
    if (!why.empty()) {
      if (error) *error = "HTTP: cannot listen on " + bind_ip + ":" + std::to_string(port) + ": " + why;
      return false;
    }
  }
  impl_ = std::make_unique<Impl>();
  httplib::Server& svr = impl_->server;
  {
    std::lock_guard<std::mutex> lock(streams_->mutex);
    streams_->stopping = false;
  }
  const size_t threads = (threads_ == 0 ? 1 : threads_) + (events_ != nullptr ? SPORE_MAX_EVENT_STREAMS : 0);
  const size_t max_queued = max_queued_connections_;
  svr.new_task_queue = [threads, max_queued] { return new AdmissionQueue(threads, max_queued); };
  // httplib's default sets SO_REUSEPORT only, which lets a second spored bind the same ip:port
  // (the kernel would then split connections between them) and, lacking SO_REUSEADDR, refuses
  // to rebind while connections the old process closed are in FIN_WAIT/TIME_WAIT: exactly the
  // state right after a restart by exec(). SO_REUSEADDR alone is the classic server setting;
  // FD_CLOEXEC keeps the listener out of the exec()ed image.
  svr.set_socket_options([](socket_t sock) {
    int one = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::fcntl(sock, F_SETFD, FD_CLOEXEC);
  });
  // httplib writes the headers and the body with separate send()s; with Nagle's algorithm the
  // body then waits for the client's delayed ACK (40 ms on Linux): 283 requests/s and a 43 ms
  // median for GET /api/node/status on loopback before this line (bench/rest_load.sh).
  svr.set_tcp_nodelay(true);
  svr.set_keep_alive_timeout(2);  // bounds how long stop() waits for idle keep-alive connections
  svr.set_read_timeout(5, 0);
  svr.set_write_timeout(5, 0);

  auto handler = [this](const httplib::Request& req, httplib::Response& res) { serve(req, req.body, res); };
  // RFC 7230 §3.3.3: a request with neither Content-Length nor Transfer-Encoding has an empty
  // body. httplib 0.11 instead reads such a POST until the connection closes and answers 400
  // after its read timeout, which would break the seed's plain `curl -X POST .../restart`. The
  // pre-routing handler runs before httplib reads a body, so such requests are served here.
  svr.set_pre_routing_handler([this, handler](const httplib::Request& req, httplib::Response& res) {
    if (t_overloaded) {
      answer_overloaded(res);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!may_have_body(req) || has_body_framing(req)) return httplib::Server::HandlerResponse::Unhandled;
    handler(req, res);
    return httplib::Server::HandlerResponse::Handled;
  });
  svr.set_expect_100_continue_handler(
      [this](const httplib::Request& req, httplib::Response& res) { return expect_update(req, res); });
  // Requests with a body go through httplib's ContentReader, so that the update route can stream
  // and every other route keeps its own limit (httplib's payload limit is one per server, and must
  // be the update route's).
  auto with_body = [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    serve_with_body(req, res, reader);
  };
  svr.set_payload_max_length(std::max(max_body_bytes_, ota_ != nullptr ? ota_max_body_bytes_ : size_t{0}));
  svr.Get(".*", handler);
  svr.Post(".*", with_body);
  svr.Put(".*", with_body);
  svr.Delete(".*", with_body);
  svr.Patch(".*", with_body);
  svr.Options(".*", handler);
  // httplib's own errors (malformed request, 413, 414, methods it has no route table for):
  // JSON like every other answer. RestApi's answers already have a body and are left alone.
  svr.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request&, httplib::Response& res) -> httplib::Server::HandlerResponse {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        record_response(res.status);  // httplib's own answer; RestApi's are counted already
        res.set_header("Cache-Control", "no-store");
        res.set_content(generic_error_json(res.status), kJson);
        return httplib::Server::HandlerResponse::Handled;
      }));
  svr.set_exception_handler([this](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    record_response(500);
    res.status = 500;
    res.set_content(generic_error_json(500), kJson);
  });

  int bound = 0;
  if (port == 0) {
    bound = svr.bind_to_any_port(bind_ip);
  } else {
    bound = svr.bind_to_port(bind_ip, port) ? port : -1;
  }
  if (bound <= 0) {
    if (error) *error = "HTTP: cannot listen on " + bind_ip + ":" + std::to_string(port);
    impl_.reset();
    return false;
  }
  port_ = static_cast<uint16_t>(bound);
  Impl* impl = impl_.get();
  impl->thread = std::thread([impl] {
    impl->server.listen_after_bind();
    impl->finished.store(true);
  });
  // httplib's stop() does nothing until listen_after_bind() has marked the server running, so a
  // stop() right after start() would leave the accept loop running forever: wait for it here.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!impl->server.is_running() && !impl->finished.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!impl->server.is_running()) {
    if (error) *error = "HTTP: the server on " + bind_ip + ":" + std::to_string(port_) + " did not start";
    stop();
    return false;
  }
  return true;
}

uint32_t HttpServer::now_ms() const { return clock_ != nullptr ? clock_->now_ms() : 0; }

void HttpServer::record_response(int status) {
  std::lock_guard<std::mutex> lock(core_mutex_);
  api_.record_response(status);
}

void HttpServer::serve(const httplib::Request& req, std::string_view body, httplib::Response& res) {
  const std::string content_type = req.get_header_value("Content-Type");
  HttpRequest r;
  r.method = method_from(req.method);
  // The raw target, query string included: RestApi routes on the path before '?', and handlers
  // such as POST /api/cluster/events?topic= read their parameters from it.
  r.path = req.target.empty() ? req.path : req.target;
  const std::string authorization = req.get_header_value("Authorization");
  r.authorization = authorization;
  r.body = body;
  r.content_type = content_type;
  const HttpAsset* asset = nullptr;
  {
    std::lock_guard<std::mutex> lock(core_mutex_);
    asset = api_.asset_for(r);
    if (asset != nullptr) api_.record_response(200);
  }
  if (events_ != nullptr && EventApi::is_stream_request(r)) {
    serve_stream(r, res);
    return;
  }
  if (asset != nullptr) {
    // Sent as stored (gzip), through a fixed-length content provider: Debian's httplib is built
    // with zlib and brotli and compresses a set_content() text/html body again for clients that
    // accept it, ignoring the Content-Encoding already set (two encodings, a broken page); it
    // never compresses a fixed-length provider.
    res.status = 200;
    if (asset->content_encoding != nullptr) res.set_header("Content-Encoding", asset->content_encoding);
    // Revalidate every time: after an OTA update the node may serve a different page.
    res.set_header("Cache-Control", "no-cache");
    const char* data = reinterpret_cast<const char*>(asset->data);
    const size_t size = asset->size_bytes;
    res.set_content_provider(size, asset->content_type,
                             [data, size](size_t offset, size_t length, httplib::DataSink& sink) {
                               if (offset > size) return false;
                               return sink.write(data + offset, std::min(length, size - offset));
                             });
    return;
  }
  std::string out_body;
  out_body.reserve(1024);
  StringJsonOutput out(out_body);
  HttpResponseHeaders headers;
  int status = 0;
  std::string allow, challenge;
  bool restart_pending = false;
  {
    std::lock_guard<std::mutex> lock(core_mutex_);
    status = api_.handle(r, out, &headers);  // counts the status in api_.response_counts()
    if (headers.allow != nullptr) allow = headers.allow;
    if (headers.www_authenticate != nullptr) challenge = headers.www_authenticate;
    restart_pending = ota_ != nullptr && ota_->restart_pending();
  }
  // headers.content_type (a text route's) is a string literal: valid after the lock.
  const char* out_type = headers.content_type != nullptr ? headers.content_type : kJson;
  if (status == 500) {
    out_body = generic_error_json(500);  // RestApi's body may be truncated
    out_type = kJson;
  }
  send_json(res, status, out_body, allow, challenge, status == 202 || (status == 200 && restart_pending),
            headers.allow_origin, out_type);
}

void HttpServer::serve_stream(const HttpRequest& r, httplib::Response& res) {
  SseFilter filter;
  std::string error_body;
  StringJsonOutput out(error_body);
  JsonWriter w(out);
  char preamble[96];
  size_t preamble_size = 0;
  int status = 0;
  {
    std::lock_guard<std::mutex> lock(core_mutex_);
    status = events_->open_stream(r, &filter, w);
    api_.record_response(status);
    if (status == 200) preamble_size = events_->write_preamble(preamble, sizeof preamble);
  }
  if (status != 200) {
    send_json(res, status, error_body, "", "", false);
    return;
  }
  auto client = std::make_shared<Streams::Client>();
  client->filter = filter;
  {
    std::lock_guard<std::mutex> lock(streams_->mutex);
    streams_->clients.push_back(client);
  }
  res.status = 200;
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Accel-Buffering", "no");  // a reverse proxy (nginx) must not buffer the stream
  res.set_header("Access-Control-Allow-Origin", "*");  // public, like every GET that is not a secret
  std::shared_ptr<Streams> streams = streams_;
  std::string first(preamble, preamble_size);
  res.set_chunked_content_provider(
      "text/event-stream",
      [streams, client, first](size_t offset, httplib::DataSink& sink) {
        if (offset == 0) return sink.write(first.data(), first.size());
        std::string batch;
        bool end = false;
        {
          std::unique_lock<std::mutex> lock(streams->mutex);
          streams->cv.wait_for(lock, std::chrono::milliseconds(EventApi::kKeepAliveMs),
                               [&] { return streams->stopping || client->overflowed || !client->queue.empty(); });
          end = streams->stopping || client->overflowed;
          while (!end && !client->queue.empty()) {
            batch += client->queue.front();
            client->queue.pop_front();
          }
        }
        if (end) {
          sink.done();  // the last chunk: the client sees a clean end and reconnects (retry:)
          return true;
        }
        if (batch.empty()) batch = EventApi::kKeepAliveFrame;
        return sink.write(batch.data(), batch.size());  // false: the client is gone
      },
      [this, streams, client](bool) {
        {
          std::lock_guard<std::mutex> lock(streams->mutex);
          auto& list = streams->clients;
          list.erase(std::remove(list.begin(), list.end(), client), list.end());
        }
        std::lock_guard<std::mutex> lock(core_mutex_);
        events_->close_stream();
      });
}

void HttpServer::send_event(const SseMessage& msg) {
  std::string frame(msg.id.size() + msg.event.size() + msg.data.size() + 32, '\0');
  frame.resize(EventApi::format(msg, frame.data(), frame.size()));
  if (frame.empty()) return;
  {
    std::lock_guard<std::mutex> lock(streams_->mutex);
    for (const std::shared_ptr<Streams::Client>& c : streams_->clients) {
      if (c->overflowed || !EventApi::filter_matches(c->filter, msg.event)) continue;
      if (c->queue.size() >= kStreamQueueMessages) {
        c->overflowed = true;
        c->queue.clear();
        continue;
      }
      c->queue.push_back(frame);
    }
  }
  streams_->cv.notify_all();
}

void HttpServer::serve_with_body(const httplib::Request& req, httplib::Response& res,
                                 const httplib::ContentReader& reader) {
  if (ota_ != nullptr && req.method == "POST" && req.path == OtaUploadHandler::kPath) {
    serve_update(req, res, reader);
    return;
  }
  // The Content-Type as sent, before hide_multipart_from_httplib() changes it.
  const std::string content_type = req.get_header_value("Content-Type");
  hide_multipart_from_httplib(req);
  const size_t drain_limit = std::max(max_body_bytes_, ota_ != nullptr ? ota_max_body_bytes_ : size_t{0});
  std::string body;
  size_t seen = 0;
  bool too_large = false;
  const bool ok = reader([&](const char* data, size_t size) {
    seen += size;
    if (too_large || body.size() + size > max_body_bytes_) {
      // Over this route's limit: keep reading (and dropping) up to the server's limit, as httplib
      // does for bodies over its own, so the 413 arrives on a connection still in sync.
      too_large = true;
      body.clear();
      return seen <= drain_limit;
    }
    body.append(data, size);
    return true;
  });
  if (too_large || (!ok && res.status == 413)) {
    record_response(413);
    send_json(res, 413, generic_error_json(413), "", "", !ok);
    return;
  }
  if (!ok) {
    record_response(400);
    send_json(res, 400, generic_error_json(400), "", "", true);
    return;
  }
  // serve() reads the headers again; give it the original Content-Type.
  auto& headers = const_cast<httplib::Request&>(req).headers;
  auto it = headers.find("Content-Type");
  if (it != headers.end()) it->second = content_type;
  serve(req, body, res);
}

void HttpServer::answer_overloaded(httplib::Response& res) {
  record_response(503);
  std::string body;
  StringJsonOutput out(body);
  JsonWriter w(out);
  w.begin_object()
      .field("error", "The node is serving as many connections as it can queue; retry in a moment.")
      .field("code", "overloaded")
      .end_object();
  send_json(res, 503, body, "", "", true);
  res.set_header("Retry-After", "1");
}

int HttpServer::expect_update(const httplib::Request& req, httplib::Response& res) {
  t_pre_started = {};
  if (t_overloaded) {  // answered before the client sends the body
    answer_overloaded(res);
    res.set_header("Content-Length", std::to_string(res.body.size()));
    return 503;
  }
  if (ota_ == nullptr || req.method != "POST" || req.path != OtaUploadHandler::kPath || !has_body_framing(req)) {
    return 100;
  }
  const std::string content_type = req.get_header_value("Content-Type");
  const std::string authorization = req.get_header_value("Authorization");
  std::string body;
  StringJsonOutput out(body);
  HttpResponseHeaders headers;
  int status = 0;
  std::string challenge;
  {
    std::lock_guard<std::mutex> lock(core_mutex_);
    status = ota_->start(content_type, content_length_of(req), authorization, now_ms(), out, &headers);
    if (status == 0) t_pre_started = {&req, ota_->upload_id()};
    if (status != 0) api_.record_response(status);
    if (headers.www_authenticate != nullptr) challenge = headers.www_authenticate;
  }
  if (status == 0) return 100;
  // httplib writes this answer instead of "100 Continue"; the client then never sends the body.
  // That path of httplib (write_response) adds no Content-Length, and without one curl takes the
  // answer as ending at connection close and sends the body after all: set it here.
  send_json(res, status, body, "", challenge, false);
  res.set_header("Content-Length", std::to_string(body.size()));
  return status;
}

void HttpServer::serve_update(const httplib::Request& req, httplib::Response& res,
                              const httplib::ContentReader& reader) {
  const std::string content_type = req.get_header_value("Content-Type");
  const std::string authorization = req.get_header_value("Authorization");
  const size_t content_length = content_length_of(req);
  std::string body;
  StringJsonOutput out(body);
  HttpResponseHeaders headers;
  int status = 0;
  std::string challenge;
  uint32_t id = 0;
  if (t_pre_started.request == &req) id = t_pre_started.upload_id;  // admitted by expect_update()
  t_pre_started = {};
  if (id == 0) {
    std::lock_guard<std::mutex> lock(core_mutex_);
    status = ota_->start(content_type, content_length, authorization, now_ms(), out, &headers);
    if (status == 0) id = ota_->upload_id();
    if (status != 0) api_.record_response(status);
    if (headers.www_authenticate != nullptr) challenge = headers.www_authenticate;
  }
  hide_multipart_from_httplib(req);
  if (status != 0) {
    // Refused before the body: read a small body to keep the connection in sync, else close it.
    bool drained = false;
    if (content_length <= kRefusedDrainBytes) {
      size_t seen = 0;
      drained = reader([&](const char*, size_t size) {
        seen += size;
        return seen <= kRefusedDrainBytes;
      });
    }
    send_json(res, status, body, "", challenge, !drained);
    return;
  }

  std::vector<uint8_t> block;
  block.reserve(kOtaBlockBytes);
  bool accepting = true;  // core still takes bytes; false = its result is decided
  bool stopped = false;   // we stopped httplib reading (the rest of a failed upload was too long)
  size_t discarded = 0;
  uint32_t last_flush_ms = now_ms();
  auto flush = [&] {
    const uint32_t now = now_ms();
    {
      std::lock_guard<std::mutex> lock(core_mutex_);
      accepting = ota_->body(block.data(), block.size(), now, id);
    }
    block.clear();
    last_flush_ms = now;
  };
  const bool read_ok = reader([&](const char* data, size_t size) {
    if (stopping_.load()) return false;  // shutting down: abort rather than wait for the client
    if (accepting) {
      block.insert(block.end(), reinterpret_cast<const uint8_t*>(data), reinterpret_cast<const uint8_t*>(data) + size);
      if (block.size() >= kOtaBlockBytes || now_ms() - last_flush_ms >= kOtaFlushMs) flush();
      return true;
    }
    // The upload failed mid-body (bad magic, too large, ...): read the rest and drop it, so the
    // answer reaches a client that is still sending, up to the route's limit.
    discarded += size;
    if (discarded > ota_max_body_bytes_) {
      stopped = true;
      return false;
    }
    return true;
  });
  if (accepting && !block.empty()) flush();  // also before an abort: "received" counts what arrived
  // read_ok false without `stopped`: the connection dropped or timed out before the end of the
  // body (httplib's read timeout, 5 s): core aborts the upload.
  const bool complete = read_ok || stopped;
  bool restart_pending = false;
  {
    std::lock_guard<std::mutex> lock(core_mutex_);
    status = ota_->finish(complete, now_ms(), out, id);
    api_.record_response(status);
    restart_pending = ota_->restart_pending();
  }
  if (!complete && log_ != nullptr) {
    log_->write(LogLevel::kWarn, "firmware upload: the connection ended before the body did; upload aborted");
  }
  // After a 200 the node restarts: no keep-alive connection may pin it. After an incomplete read
  // the connection is out of sync.
  send_json(res, status, body, "", challenge, restart_pending || !read_ok);
}

void HttpServer::stop() {
  if (impl_ == nullptr) return;
  stopping_.store(true);
  {
    // Open event streams end now rather than at their next keep-alive.
    std::lock_guard<std::mutex> lock(streams_->mutex);
    streams_->stopping = true;
  }
  streams_->cv.notify_all();
  impl_->server.stop();
  if (impl_->thread.joinable()) {
    if (impl_->server.is_running() || impl_->finished.load()) {
      impl_->thread.join();
    } else {
      // Never got running (see start()): the thread cannot be stopped, do not hang on it.
      impl_->thread.detach();
      impl_.release();  // the detached thread still uses it
    }
  }
  impl_.reset();
}

}  // namespace spore::posix
