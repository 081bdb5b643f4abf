#pragma once
/// @file bounded_http.h
/// Every HTTP request of the `spore` CLI is bounded (issue 18, finding 6: a 3 GB answer took
/// `spore cluster members` to 529 MB and bad_alloc; a server sending one byte every 2 s kept
/// `spore node status --http-timeout 3` running for more than 25 s):
/// - in time: one overall deadline for the whole request (connect, send, status line, headers,
///   body), not cpp-httplib's per-read timeouts, which a trickle resets forever;
/// - in size: the answer's body is kept up to max_answer_bytes(); one byte more ends the request
///   with an error, without reading the rest. The status line and headers, which cpp-httplib 0.11
///   reads line by line without a limit, are bounded too: the connection is cut once it has
///   received more than the body cap plus kMaxHeadBytes (Linux TCP_INFO tcpi_bytes_received).
/// A stream (`events watch`) has these bounds until its head arrived (RequestGuard::relax), then
/// only its own: an idle limit and the SSE parser's per-event size (events_cmd.cpp).
/// README.md "Limits" documents them; tests/posix/bounded_http_test.cpp and
/// tests/integration/cli_hostile_node_test.sh check them.

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "cli_logic.h"

namespace spore {
namespace cli {

/// Default cap on an answer's body: a members list of a full cluster is a few hundred KB.
constexpr size_t kDefaultMaxAnswerBytes = 4u * 1024u * 1024u;
/// Bytes a connection may receive beyond the body cap (status line, headers, chunk framing)
/// before it is cut.
constexpr size_t kMaxHeadBytes = 64u * 1024u;

/// The body cap every request uses (`--max-answer-bytes`, default kDefaultMaxAnswerBytes).
/// Set once by main() before any request.
void set_max_answer_bytes(size_t bytes);
size_t max_answer_bytes();

/// Watches one request of `client` from a thread of its own, from construction until end():
/// at `deadline_s` after construction, or once the connection received more than
/// `max_received_bytes` (0: no byte limit), it stops the client (cpp-httplib's stop() shuts the
/// socket down, which ends a blocked read), then repeats the stop every tick until end(), since a
/// stop() that comes before the socket exists is lost. Construct it before the request starts
/// (it installs the client's socket-options hook to learn the socket).
class RequestGuard {
 public:
  RequestGuard(httplib::Client& client, double deadline_s, uint64_t max_received_bytes);
  ~RequestGuard();
  RequestGuard(const RequestGuard&) = delete;
  RequestGuard& operator=(const RequestGuard&) = delete;

  /// From now on neither the deadline nor the byte limit applies (a stream whose head arrived).
  void relax();
  /// The request returned: stops watching (idempotent; the destructor calls it).
  void end();
  /// The deadline passed before end() (the request was stopped for it).
  bool expired() const { return expired_.load(); }
  /// The connection received more than the byte limit before end().
  bool too_large() const { return too_large_.load(); }

 private:
  void watch();

  httplib::Client& client_;
  std::chrono::steady_clock::time_point deadline_;
  uint64_t max_received_bytes_;
  std::atomic<int> socket_{-1};
  std::atomic<bool> expired_{false};
  std::atomic<bool> too_large_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  bool relaxed_ = false;
  std::thread thread_;
};

/// Bytes the kernel received on TCP socket `fd` so far (TCP_INFO tcpi_bytes_received, Linux 4.1+);
/// nullopt when it cannot tell.
std::optional<uint64_t> tcp_bytes_received(int fd);

/// The outcome of one bounded request.
struct BoundedAnswer {
  enum class Failure { kNone, kTransport, kDeadline, kTooLarge };
  Failure failure = Failure::kNone;
  httplib::Error error = httplib::Error::Success;  ///< for kTransport
  int status = 0;                                  ///< HTTP status when failure is kNone
  std::string body;                                ///< at most the body cap
  std::string content_type;
  bool ok() const { return failure == Failure::kNone; }
  /// Why it failed, for a message: "no complete answer within 3 s (--http-timeout)", "the answer
  /// is larger than 4194304 bytes (--max-answer-bytes)", or the transport error in words.
  std::string why(double deadline_s) const;
};

/// One request to `addr` bounded as the file comment says: `method` "GET" or "POST" (with `body`
/// of `content_type`), deadline `deadline_s` seconds (also the connect timeout), body cap
/// `max_body_bytes` (default: max_answer_bytes()). Never throws for network trouble.
BoundedAnswer bounded_request(const NodeAddress& addr, double deadline_s, const std::string& method,
                              const std::string& path, const httplib::Headers& headers = {},
                              const std::string& body = "", const std::string& content_type = "",
                              size_t max_body_bytes = 0);

}  // namespace cli
}  // namespace spore
