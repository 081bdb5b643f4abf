#pragma once
/// @file bounded_http.h
/// Every HTTP request of the `spore` CLI is bounded (issue 18, finding 6: a 3 GB answer took
/// `spore cluster members` to 529 MB and bad_alloc; a server sending one byte every 2 s kept
/// `spore node status --http-timeout 3` running for more than 25 s):
/// - in time: one overall deadline for the whole request (connect, send, status line, headers,
///   body), not cpp-httplib's per-read timeouts, which a trickle resets forever;
/// - in size: the answer's body is kept up to max_answer_bytes(); one byte more ends the request
///   with an error, without reading the rest. The status line and headers, which cpp-httplib 0.11
///   reads line by line without a limit, are bounded too: the connection is cut once the client
///   has read more than kMaxHeadBytes before the head is complete, or more than the body cap plus
///   kMaxHeadBytes (chunk framing) in all (Linux TCP_INFO tcpi_bytes_received minus SIOCINQ).
/// A stream (`events watch`) has these bounds until its head arrived (RequestGuard::relax), then
/// its own: an idle limit, the SSE parser's per-event size (events_watch.cpp) and at most
/// kMaxStreamFramingBytes read without a byte reaching the parser.
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

/// Bytes a stream may read from its socket without a byte reaching its consumer (an SSE chunk's
/// size line and extensions, headers of nothing): a chunk-size line that never ends grew one
/// string in cpp-httplib to 1.97 GB (issue 18 attack, finding B).
constexpr uint64_t kMaxStreamFramingBytes = 1024u * 1024u;
/// How much longer than a request's deadline cpp-httplib's per-read timeout is, so the guard's
/// deadline always ends the request first and is reported as such (issue 18 attack, finding I).
constexpr double kReadTimeoutMarginS = 1.0;

/// Watches one request of `client` from a thread of its own, from construction until end(),
/// and stops the client (cpp-httplib's stop() shuts the socket down, which ends a blocked read;
/// repeated every tick until end(), since a stop() that comes before the socket exists is lost):
/// - at `deadline_s` after construction (or after restart_deadline());
/// - when the client has read more from the socket (bytes received minus bytes still queued in
///   the kernel) than kMaxHeadBytes before head_complete(), or than `max_body_bytes` +
///   kMaxHeadBytes after it (`max_body_bytes` 0: no byte limit). A head of many tiny headers is
///   cut at 64 KiB (issue 18 attack, finding E).
/// After relax() (a stream whose head arrived) there is no deadline and no total; the stream is
/// cut when the client read more than kMaxStreamFramingBytes since the last delivered() call.
/// Construct it before the request starts (it installs the client's socket-options hook to
/// learn the socket).
class RequestGuard {
 public:
  RequestGuard(httplib::Client& client, double deadline_s, uint64_t max_body_bytes);
  ~RequestGuard();
  RequestGuard(const RequestGuard&) = delete;
  RequestGuard& operator=(const RequestGuard&) = delete;

  /// The status line and headers were read: from now on the body allowance applies.
  void head_complete();
  /// The deadline is now `deadline_s` from this call (the answer to an upload, once its last
  /// byte is sent).
  void restart_deadline(double deadline_s);
  /// From now on no deadline applies and the byte limit is kMaxStreamFramingBytes between two
  /// delivered() calls (a stream whose head arrived).
  void relax();
  /// The stream handed bytes to its consumer (called from the request's thread).
  void delivered();
  /// The request returned: stops watching (idempotent; the destructor calls it).
  void end();
  /// The deadline passed before end() (the request was stopped for it).
  bool expired() const { return expired_.load(); }
  /// The connection read more than its byte limit before end().
  bool too_large() const { return too_large_.load(); }
  /// ... and that was before head_complete(): the status line and headers were too long.
  bool head_too_large() const { return head_too_large_.load(); }

 private:
  enum class Phase { kHead, kBody, kStream };
  void watch();
  /// Bytes the client has taken from the socket so far, nullopt when it cannot tell.
  std::optional<uint64_t> bytes_read() const;

  httplib::Client& client_;
  std::chrono::steady_clock::time_point deadline_;
  uint64_t max_body_bytes_;
  std::atomic<int> socket_{-1};
  std::atomic<bool> expired_{false};
  std::atomic<bool> too_large_{false};
  std::atomic<bool> head_too_large_{false};
  /// bytes_read() at the last delivered() (or relax()).
  std::atomic<uint64_t> read_at_delivery_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  Phase phase_ = Phase::kHead;
  std::thread thread_;
};

/// Bytes the kernel received on TCP socket `fd` so far (TCP_INFO tcpi_bytes_received, Linux 4.1+);
/// nullopt when it cannot tell.
std::optional<uint64_t> tcp_bytes_received(int fd);
/// Bytes the reader of TCP socket `fd` has taken from it: tcp_bytes_received() minus what the
/// kernel still queues (SIOCINQ). Read in that order, so a byte arriving in between makes the
/// result smaller, never larger. nullopt when it cannot tell.
std::optional<uint64_t> tcp_bytes_read(int fd);

/// The outcome of one bounded request.
struct BoundedAnswer {
  enum class Failure { kNone, kTransport, kDeadline, kTooLarge, kHeadTooLarge };
  Failure failure = Failure::kNone;
  httplib::Error error = httplib::Error::Success;  ///< for kTransport
  /// For kTransport: "cannot resolve host 'x' (...)" when the connection failed because the host
  /// name does not resolve (host_resolution_problem()), else "".
  std::string unresolved;
  int status = 0;                                  ///< HTTP status when failure is kNone
  std::string body;                                ///< at most the body cap
  std::string content_type;
  bool ok() const { return failure == Failure::kNone; }
  /// Why it failed, for a message: "no complete answer within 3 s (--http-timeout)", "the answer
  /// is larger than 4194304 bytes (--max-answer-bytes)", "the answer's status line and headers
  /// are longer than 65536 bytes", or the transport error in words.
  std::string why(double deadline_s) const;
};

/// "cannot resolve host 'HOST' (<resolver's reason>)" when `host` (a name or an address) does not
/// resolve, else "". cpp-httplib reports a name that does not resolve as a connection failure, which
/// read as "nothing listening there" (issue 21, item 7); asked after such a failure only.
std::string host_resolution_problem(const std::string& host);

/// One request to `addr` bounded as the file comment says: `method` "GET" or "POST" (with `body`
/// of `content_type`), deadline `deadline_s` seconds (also the connect timeout), body cap
/// `max_body_bytes` (default: max_answer_bytes()). Never throws for network trouble.
BoundedAnswer bounded_request(const NodeAddress& addr, double deadline_s, const std::string& method,
                              const std::string& path, const httplib::Headers& headers = {},
                              const std::string& body = "", const std::string& content_type = "",
                              size_t max_body_bytes = 0);

}  // namespace cli
}  // namespace spore
