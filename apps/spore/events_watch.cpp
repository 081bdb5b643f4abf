// spore events watch: the node's event stream (GET /api/cluster/events/stream, Server-Sent
// Events) printed live, reconnecting with backoff, until --count, --timeout or Ctrl-C.

#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include "bounded_http.h"
#include "node_rest.h"
#include "cli_format.h"
#include "events_cmd.h"
#include "terminal_safe.h"
#include "transport_error.h"

namespace spore {
namespace cli {

namespace {

/// Without bytes for this long the stream is taken as dead and reopened: the node sends a
/// keep-alive comment every 15 s, so three missed ones mean the connection is gone.
constexpr double kStreamIdleLimitS = 45;

/// What the watchdog thread and the reading thread share. The watchdog ends the watch (deadline,
/// SIGINT, SIGTERM) by stopping the current client: httplib's stop() shuts the socket down,
/// which makes the blocked read return.
class WatchControl {
 public:
  void attach(httplib::Client* client) {
    std::lock_guard<std::mutex> lock(mutex_);
    client_ = client;
  }
  void detach() { attach(nullptr); }
  /// Ends the watch; `timed_out` says why (else a signal), the first call decides.
  void finish(bool timed_out) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!done_) timed_out_ = timed_out;
    done_ = true;
    // Called again every poll while a client is attached: a stop() that came before the request
    // started its socket would otherwise be missed.
    if (client_ != nullptr) client_->stop();
    cv_.notify_all();
  }
  bool done() {
    std::lock_guard<std::mutex> lock(mutex_);
    return done_;
  }
  bool timed_out() {
    std::lock_guard<std::mutex> lock(mutex_);
    return timed_out_;
  }
  /// Sleeps up to `ms`; returns early (true) when the watch is over.
  bool sleep_ms(uint64_t ms) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return done_; });
  }
  /// The reading thread is leaving: the watchdog may return.
  void close() { closed_ = true; }
  bool closed() const { return closed_; }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  httplib::Client* client_ = nullptr;
  bool done_ = false;
  bool timed_out_ = false;
  std::atomic<bool> closed_{false};
};

std::string seconds_text(uint64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
  std::string s = buf;
  if (s.size() > 4 && s.compare(s.size() - 4, 4, ".0 s") == 0) s.erase(s.size() - 4, 2);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

/// SIGINT and SIGTERM blocked in this thread and the threads it starts, so that the watchdog takes
/// them (sigtimedwait) instead of a handler: Ctrl-C then ends the watch like --count does.
class StopSignals {
 public:
  StopSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_mask_);
  }
  const sigset_t& set() const { return set_; }
  /// The mask as it was; a signal that arrived after the watchdog's last look stays pending: it is
  /// dropped, not delivered.
  void restore() {
    for (;;) {
      sigset_t pending;
      sigpending(&pending);
      if (!sigismember(&pending, SIGINT) && !sigismember(&pending, SIGTERM)) break;
      const timespec zero{0, 0};
      siginfo_t info;
      sigtimedwait(&set_, &info, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }

 private:
  sigset_t set_;
  sigset_t old_mask_;
};

/// The thread that ends the watch: on SIGINT / SIGTERM, or at the --timeout deadline.
std::thread start_watchdog(WatchControl& control, const StopSignals& signals, double timeout_s) {
  const bool has_deadline = timeout_s > 0;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(has_deadline ? timeout_s : 0));
  return std::thread([&control, &signals, has_deadline, deadline] {
    const timespec tick{0, 100 * 1000 * 1000};
    while (!control.closed()) {
      siginfo_t info;
      const int sig = sigtimedwait(&signals.set(), &info, &tick);
      if (sig == SIGINT || sig == SIGTERM) {
        control.finish(false);
      } else if (has_deadline && std::chrono::steady_clock::now() >= deadline) {
        control.finish(true);
      } else if (control.done()) {
        control.finish(false);  // re-stop a client attached after the first stop()
      }
    }
  });
}

/// How one connection to the stream went.
struct Attempt {
  int status = 0;  ///< 0: no answer head
  std::string content_type;
  std::string error_body;  ///< the start of an answer that is not a stream
  bool streaming = false;
  bool answered = false;  ///< the request completed (the node ended the stream)
  httplib::Error error = httplib::Error::Success;
  bool expired = false, head_too_large = false, too_large = false;  ///< RequestGuard's verdicts
};

/// One watch: what lives across reconnects.
class Watch {
 public:
  Watch(const EventsContext& context, const EventsWatchOptions& o, const NodeAddress& addr, WatchControl& control)
      : context_(context),
        o_(o),
        addr_(addr),
        path_(stream_path(o.topic)),
        control_(control),
        interactive_(isatty(STDERR_FILENO) == 1),
        formatter_(context.color) {}

  /// Connects and reconnects until the watch is over; the failure that ended it, if one did.
  std::optional<CliError> run() {
    while (!control_.done()) {
      const Attempt a = connect();
      if (count_reached_ || output_closed_ || control_.done()) break;
      if (parser_.retry_ms()) backoff_.set_base(*parser_.retry_ms());
      std::optional<CliError> failure;
      const std::string why = lost_reason(a, &failure);
      if (failure) return failure;
      const uint64_t delay_ms = backoff_.next_ms();
      std::cerr << "spore: event stream from " << addr_.to_string() << " lost (" << why << "); reconnecting in "
                << seconds_text(delay_ms) << " (events published meanwhile are not shown)\n";
      if (control_.sleep_ms(delay_ms)) break;
    }
    return std::nullopt;
  }

  size_t received() const { return received_; }

 private:
  /// One GET of the stream, its events printed as they come.
  Attempt connect() {
    httplib::Client client(addr_.host, addr_.port);
    set_timeouts(client, context_.http_timeout_s, kStreamIdleLimitS);
    // Until a stream's head arrived the request is bounded like any other (bounded_http.h); the
    // stream itself has no total: its bounds are the idle limit, the parser's per-event size and
    // the guard's allowance of bytes read without one reaching the parser.
    RequestGuard guard(client, context_.http_timeout_s, max_answer_bytes());
    control_.attach(&client);
    parser_.reset();
    Attempt a;
    size_t stream_bytes = 0;
    httplib::Headers headers = {{"Accept", "text/event-stream"}};
    // A reconnect resumes after the last event shown: the node replays what it still holds.
    if (!last_id_.empty()) headers.emplace("Last-Event-ID", last_id_);
    httplib::Result res = client.Get(
        path_.c_str(), headers,
        [&](const httplib::Response& r) {
          a.status = r.status;
          a.content_type = r.get_header_value("Content-Type");
          a.streaming = a.status == 200 && starts_with(lower(a.content_type), "text/event-stream");
          if (a.streaming) {
            guard.relax();
          } else {
            guard.head_complete();
          }
          return true;
        },
        [&](const char* data, size_t size) {
          if (!a.streaming) {
            // An error answer: keep its start for the message.
            if (a.error_body.size() < 4096) a.error_body.append(data, std::min(size, 4096 - a.error_body.size()));
            return true;
          }
          guard.delivered();
          const bool first = stream_bytes == 0;
          stream_bytes += size;
          return on_stream_bytes(std::string_view(data, size), first);
        });
    control_.detach();
    guard.end();
    a.answered = static_cast<bool>(res);
    a.error = res.error();
    a.expired = guard.expired();
    a.head_too_large = guard.head_too_large();
    a.too_large = guard.too_large();
    return a;
  }

  /// Bytes of the stream: parsed, and each whole event printed. False ends the connection.
  bool on_stream_bytes(std::string_view bytes, bool first) {
    std::vector<SseMessage> messages;
    parser_.feed(bytes, messages);
    if (first) announce();
    for (const SseMessage& m : messages) {
      // Kept only when it can go back as a header as it came: printable ASCII, short.
      if (m.id && m.id->size() <= 64 &&
          std::all_of(m.id->begin(), m.id->end(), [](char c) { return c > 0x20 && c < 0x7F; })) {
        last_id_ = *m.id;
      }
      std::cout << (o_.json ? formatter_.json(m) : formatter_.text(m, std::time(nullptr)));
      std::cout.flush();
      if (!std::cout) {
        output_closed_ = true;  // e.g. `| head -3` went away: nothing left to do
        return false;
      }
      ++received_;
      if (o_.count > 0 && received_ >= o_.count) {
        count_reached_ = true;
        return false;
      }
    }
    return !control_.done();
  }

  /// The stream's first bytes came: said on stderr even when piped, so a script (or test) can
  /// wait for it before publishing, as events published before the stream opened are not shown.
  void announce() {
    if (ever_streamed_) {
      std::cerr << "spore: reconnected to " << addr_.to_string() << std::endl;
    } else {
      std::string node_id;
      if (starts_with(parser_.last_comment(), "spore events ")) node_id = parser_.last_comment().substr(13);
      std::cerr << "watching cluster events at " << addr_.to_string()
                << (node_id.empty() ? std::string() : " (node " + escape_payload(node_id) + ")")
                << (o_.topic ? ", topic " + *o_.topic : std::string()) << (interactive_ ? ", Ctrl-C to stop" : "")
                << std::endl;
    }
    ever_streamed_ = true;
    backoff_.reset();
  }

  /// Why the connection `a` ended, for the reconnect line; `*failure` set instead when it ends the
  /// watch: a node that never streamed, or that now says it never will (4xx). A temporary refusal
  /// (503: slots full, not running) after a stream is waited out.
  std::string lost_reason(const Attempt& a, std::optional<CliError>* failure) const {
    const double timeout_s = context_.http_timeout_s;
    if (a.status != 0 && !a.streaming) {
      if (!ever_streamed_ || a.status < 500) {
        const std::optional<std::string> other =
            not_spore_answer(addr_.base_url() + path_, a.content_type, a.error_body);
        *failure = CliError{kExitFailure, other ? *other
                                                : addr_.to_string() + " GET " + path_ + ": " +
                                                      describe_stream_error(a.status, a.content_type, a.error_body)};
        return "";
      }
      return describe_error_response(a.status, a.error_body);
    }
    if (!a.answered && a.status == 0) {
      BoundedAnswer bounded;
      bounded.failure = a.expired          ? BoundedAnswer::Failure::kDeadline
                        : a.head_too_large ? BoundedAnswer::Failure::kHeadTooLarge
                        : a.too_large      ? BoundedAnswer::Failure::kTooLarge
                                           : BoundedAnswer::Failure::kTransport;
      bounded.error = a.error;
      if (a.error == httplib::Error::Connection) bounded.unresolved = host_resolution_problem(addr_.host);
      if (!ever_streamed_) {
        *failure = CliError{kExitFailure, no_usable_answer(addr_, bounded, timeout_s)};
        return "";
      }
      return bounded.why(timeout_s);
    }
    if (a.too_large) {
      return "it sent more than " + std::to_string(kMaxStreamFramingBytes) + " bytes without an event byte in them";
    }
    if (a.answered) return "the node ended it";
    if (a.error == httplib::Error::Read) {
      return "the connection closed, or stayed silent for " +
             seconds_text(static_cast<uint64_t>(kStreamIdleLimitS * 1000));
    }
    return describe_transport_error(a.error);
  }

  const EventsContext& context_;
  const EventsWatchOptions& o_;
  const NodeAddress addr_;
  const std::string path_;
  WatchControl& control_;
  const bool interactive_;
  EventFormatter formatter_;
  SseParser parser_;
  std::string last_id_;  ///< the last event's id: Last-Event-ID of the next reconnect
  Backoff backoff_;
  size_t received_ = 0;
  bool ever_streamed_ = false;
  bool count_reached_ = false;
  bool output_closed_ = false;
};

}  // namespace

int cmd_events_watch(const EventsContext& context, const EventsWatchOptions& o) {
  if (o.topic) {
    if (std::optional<std::string> why = topic_error(*o.topic, true)) throw CliError{kExitUsage, "--topic: " + *why};
  }
  const NodeAddress addr = context.node();
  StopSignals signals;
  WatchControl control;
  std::thread watchdog = start_watchdog(control, signals, o.timeout_s);
  Watch watch(context, o, addr, control);
  const std::optional<CliError> failure = watch.run();
  control.close();
  watchdog.join();
  signals.restore();

  if (failure) throw *failure;
  if (control.timed_out()) {
    const size_t received = watch.received();
    const int rc = watch_exit_code(true, o.count, received);
    if (rc != kExitOk) {
      std::cerr << "spore: --timeout " << o.timeout_s << " s reached after " << received << " of the " << o.count
                << " events awaited\n";
    }
    return rc;
  }
  return kExitOk;
}

}  // namespace cli
}  // namespace spore
