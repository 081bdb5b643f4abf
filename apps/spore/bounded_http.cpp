#include "bounded_http.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <netdb.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "terminal_safe.h"
#include "transport_error.h"

namespace spore {
namespace cli {

namespace {

std::atomic<size_t> g_max_answer_bytes{kDefaultMaxAnswerBytes};

/// glibc's struct tcp_info ends at tcpi_total_retrans; the kernel's (linux/tcp.h, which cannot be
/// included beside netinet/tcp.h) goes on with these fields, at these offsets since Linux 4.1.
struct TcpInfoWithBytes {
  struct tcp_info base;
  uint64_t pacing_rate;
  uint64_t max_pacing_rate;
  uint64_t bytes_acked;
  uint64_t bytes_received;
};
static_assert(offsetof(TcpInfoWithBytes, bytes_received) == 128, "linux/tcp.h: tcpi_bytes_received at 128");

/// How often the guard looks at the clock and the socket. Short enough that a fast sender gets
/// little past the byte limit (the kernel's receive buffer bounds the rest), long enough to cost
/// nothing.
constexpr auto kGuardTick = std::chrono::milliseconds(5);

}  // namespace

void set_max_answer_bytes(size_t bytes) { g_max_answer_bytes.store(bytes); }
size_t max_answer_bytes() { return g_max_answer_bytes.load(); }

std::optional<uint64_t> tcp_bytes_received(int fd) {
  TcpInfoWithBytes info{};
  socklen_t size = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) != 0) return std::nullopt;
  if (size < offsetof(TcpInfoWithBytes, bytes_received) + sizeof info.bytes_received) return std::nullopt;
  return info.bytes_received;
}

std::optional<uint64_t> tcp_bytes_read(int fd) {
  const std::optional<uint64_t> received = tcp_bytes_received(fd);
  int queued = 0;
  if (!received || ::ioctl(fd, SIOCINQ, &queued) != 0 || queued < 0) return std::nullopt;
  const uint64_t q = static_cast<uint64_t>(queued);
  return *received > q ? *received - q : 0;
}

RequestGuard::RequestGuard(httplib::Client& client, double deadline_s, uint64_t max_body_bytes)
    : client_(client), max_body_bytes_(max_body_bytes) {
  restart_deadline(deadline_s);
  client_.set_socket_options([this](socket_t fd) { socket_.store(static_cast<int>(fd)); });
  thread_ = std::thread([this] { watch(); });
}

RequestGuard::~RequestGuard() { end(); }

std::optional<uint64_t> RequestGuard::bytes_read() const {
  const int fd = socket_.load();
  return fd >= 0 ? tcp_bytes_read(fd) : std::nullopt;
}

void RequestGuard::head_complete() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (phase_ == Phase::kHead) phase_ = Phase::kBody;
}

void RequestGuard::restart_deadline(double deadline_s) {
  std::lock_guard<std::mutex> lock(mutex_);
  using Clock = std::chrono::steady_clock;
  deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(deadline_s));
}

void RequestGuard::relax() {
  delivered();
  std::lock_guard<std::mutex> lock(mutex_);
  phase_ = Phase::kStream;
}

void RequestGuard::delivered() { read_at_delivery_.store(bytes_read().value_or(0)); }

void RequestGuard::end() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (done_ && !thread_.joinable()) return;
    done_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RequestGuard::watch() {
  std::unique_lock<std::mutex> lock(mutex_);
  bool stopping = false;
  while (!cv_.wait_for(lock, kGuardTick, [this] { return done_; })) {
    if (!stopping && phase_ != Phase::kStream && std::chrono::steady_clock::now() >= deadline_) {
      expired_.store(true);
      stopping = true;
    } else if (!stopping) {
      const std::optional<uint64_t> read = bytes_read();
      uint64_t limit = 0;  // 0: none
      uint64_t base = 0;
      switch (phase_) {
        case Phase::kHead:
          limit = kMaxHeadBytes;
          break;
        case Phase::kBody:
          limit = max_body_bytes_ > 0 ? max_body_bytes_ + kMaxHeadBytes : 0;
          break;
        case Phase::kStream:
          limit = kMaxStreamFramingBytes;
          base = read_at_delivery_.load();
          break;
      }
      if (read && limit > 0 && *read > base && *read - base > limit) {
        too_large_.store(true);
        head_too_large_.store(phase_ == Phase::kHead);
        stopping = true;
      }
    }
    if (stopping) {
      // Not under our lock: the request's thread may be waiting for it in relax().
      lock.unlock();
      client_.stop();
      lock.lock();
    }
  }
}

std::string BoundedAnswer::why(double deadline_s) const {
  char secs[32];
  std::snprintf(secs, sizeof secs, "%g", deadline_s);
  switch (failure) {
    case Failure::kNone:
      return "";
    case Failure::kDeadline:
      return std::string("no complete answer within ") + secs + " s (--http-timeout)";
    case Failure::kTooLarge:
      return "the answer is larger than " + std::to_string(max_answer_bytes()) +
             " bytes (--max-answer-bytes); nothing more was read";
    case Failure::kHeadTooLarge:
      return "the answer's status line and headers are longer than " + std::to_string(kMaxHeadBytes) +
             " bytes; nothing more was read";
    case Failure::kTransport:
      break;
  }
  return unresolved.empty() ? describe_transport_error(error) : unresolved;
}

std::string host_resolution_problem(const std::string& host) {
  struct addrinfo hints {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc == 0) {
    ::freeaddrinfo(found);
    return "";
  }
  // EAI_SYSTEM's text is errno's; the others name the resolver's answer ("Name or service not known").
  const char* reason = rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc);
  return "cannot resolve host '" + terminal_safe(host) + "' (" + reason + ")";
}

BoundedAnswer bounded_request(const NodeAddress& addr, double deadline_s, const std::string& method,
                              const std::string& path, const httplib::Headers& headers, const std::string& body,
                              const std::string& content_type, size_t max_body_bytes) {
  const size_t cap = max_body_bytes > 0 ? max_body_bytes : max_answer_bytes();
  httplib::Client client(addr.host, addr.port);
  set_timeouts(client, deadline_s, deadline_s + kReadTimeoutMarginS);
  BoundedAnswer answer;
  bool body_too_large = false;
  httplib::Request req;
  req.method = method;
  req.path = path;
  req.headers = headers;
  if (method != "GET") {
    req.body = body;
    if (!content_type.empty()) req.headers.emplace("Content-Type", content_type);
  }
  RequestGuard guard(client, deadline_s, cap);
  req.response_handler = [&](const httplib::Response& r) {
    guard.head_complete();
    answer.content_type = r.get_header_value("Content-Type");
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    body_too_large = answer.body.size() + n > cap;
    if (!body_too_large) answer.body.append(data, n);
    return !body_too_large;
  };
  httplib::Result res = client.send(req);
  guard.end();
  if (!res && guard.head_too_large()) {
    answer.failure = BoundedAnswer::Failure::kHeadTooLarge;
  } else if (body_too_large || (!res && guard.too_large())) {
    answer.failure = BoundedAnswer::Failure::kTooLarge;
  } else if (!res && guard.expired()) {
    answer.failure = BoundedAnswer::Failure::kDeadline;
  } else if (!res) {
    answer.failure = BoundedAnswer::Failure::kTransport;
    answer.error = res.error();
    if (answer.error == httplib::Error::Connection) answer.unresolved = host_resolution_problem(addr.host);
  } else {
    answer.status = res->status;
  }
  if (!answer.ok()) answer.body.clear();
  return answer;
}

}  // namespace cli
}  // namespace spore
