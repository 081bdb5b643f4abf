#include "posix/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <httplib.h>
#include <thread>

#include "posix/udp_socket.h"
#include "spore/json_writer.h"

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

}  // namespace

struct HttpServer::Impl {
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> finished{false};  ///< listen_after_bind() returned
};

HttpServer::HttpServer(RestApi& api, std::mutex& core_mutex, LogSink* log)
    : api_(api), core_mutex_(core_mutex), log_(log) {}

HttpServer::~HttpServer() { stop(); }

bool HttpServer::running() const { return impl_ != nullptr && impl_->server.is_running(); }

bool HttpServer::start(const std::string& bind_ip, uint16_t port, std::string* error) {
  stop();
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
  const size_t threads = threads_ == 0 ? 1 : threads_;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
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
  svr.set_payload_max_length(max_body_bytes_);
  svr.set_keep_alive_timeout(2);  // bounds how long stop() waits for idle keep-alive connections
  svr.set_read_timeout(5, 0);
  svr.set_write_timeout(5, 0);

  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    HttpRequest r;
    r.method = method_from(req.method);
    r.path = req.path;
    const std::string authorization = req.get_header_value("Authorization");
    r.authorization = authorization;
    r.body = req.body;
    std::string body;
    body.reserve(1024);
    StringJsonOutput out(body);
    HttpResponseHeaders headers;
    int status = 0;
    std::string allow, challenge;
    {
      std::lock_guard<std::mutex> lock(core_mutex_);
      status = api_.handle(r, out, &headers);
      if (headers.allow != nullptr) allow = headers.allow;
      if (headers.www_authenticate != nullptr) challenge = headers.www_authenticate;
    }
    if (status == 500) body = generic_error_json(500);  // RestApi's body may be truncated
    res.status = status;
    if (!allow.empty()) res.set_header("Allow", allow);
    if (!challenge.empty()) res.set_header("WWW-Authenticate", challenge);
    if (status == 202) res.set_header("Connection", "close");
    res.set_header("Cache-Control", "no-store");
    res.set_content(body, kJson);
  };
  // RFC 7230 §3.3.3: a request with neither Content-Length nor Transfer-Encoding has an empty
  // body. httplib 0.11 instead reads such a POST until the connection closes and answers 400
  // after its read timeout, which would break the seed's plain `curl -X POST .../restart`. The
  // pre-routing handler runs before httplib reads a body, so such requests are served here.
  svr.set_pre_routing_handler([handler](const httplib::Request& req, httplib::Response& res) {
    const bool may_have_body = req.method == "POST" || req.method == "PUT" || req.method == "PATCH" ||
                               req.method == "DELETE";
    if (!may_have_body || req.has_header("Content-Length") || req.has_header("Transfer-Encoding")) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    handler(req, res);
    return httplib::Server::HandlerResponse::Handled;
  });
  svr.Get(".*", handler);
  svr.Post(".*", handler);
  svr.Put(".*", handler);
  svr.Delete(".*", handler);
  svr.Patch(".*", handler);
  svr.Options(".*", handler);
  // httplib's own errors (malformed request, 413, 414, methods it has no route table for):
  // JSON like every other answer. RestApi's answers already have a body and are left alone.
  svr.set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request&, httplib::Response& res) -> httplib::Server::HandlerResponse {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        res.set_header("Cache-Control", "no-store");
        res.set_content(generic_error_json(res.status), kJson);
        return httplib::Server::HandlerResponse::Handled;
      }));
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
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

void HttpServer::stop() {
  if (impl_ == nullptr) return;
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
