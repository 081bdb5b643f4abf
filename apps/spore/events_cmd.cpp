#include "events_cmd.h"

#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include "ota_cmd.h"
#include "bounded_http.h"
#include "request_signer.h"
#include "terminal_safe.h"
#include "transport_error.h"

namespace spore {
namespace cli {

namespace {

using Json = nlohmann::ordered_json;

bool has_prefix(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

std::string json_text(const Json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  if (it == obj.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  return "";
}

std::string pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

// ---- pure logic ------------------------------------------------------------------------------

std::optional<std::string> topic_error(std::string_view topic, bool for_filter) {
  if (topic.empty()) return std::string("the topic is empty (1 to 31 characters)");
  if (topic.size() > kMaxEventTopicBytes) {
    return "the topic '" + escape_payload(topic.substr(0, 40)) + (topic.size() > 40 ? "..." : "") + "' is " +
           std::to_string(topic.size()) + " bytes long, at most " + std::to_string(kMaxEventTopicBytes) + " are allowed";
  }
  for (char c : topic) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x21 || b > 0x7E) {
      return "the topic '" + escape_payload(topic) +
             "' has a character that is not allowed: topics are printable ASCII without spaces (0x21..0x7E)";
    }
  }
  if (topic == "*") return std::string("'*' is not a topic (it means every topic to subscribers)");
  if (!for_filter && (has_prefix(topic, "node_") || has_prefix(topic, "ota_"))) {
    return "the topic '" + std::string(topic) +
           "' is reserved: node_* and ota_* events are published by the nodes themselves";
  }
  return std::nullopt;
}

std::string percent_encode(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto b = static_cast<unsigned char>(c);
    const bool unreserved = (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' ||
                            b == '.' || b == '_' || b == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0x0F]);
    }
  }
  return out;
}

std::string publish_path(std::string_view topic) { return "/api/cluster/events?topic=" + percent_encode(topic); }

std::string stream_path(const std::optional<std::string>& topic) {
  std::string path = "/api/cluster/events/stream";
  if (topic) path += "?topic=" + percent_encode(*topic);
  return path;
}

std::string format_published(const nlohmann::ordered_json& answer, const std::string& node_name) {
  auto field = [&](const char* key) {
    std::string v = json_text(answer, key);
    return v.empty() ? std::string("?") : v;
  };
  std::string node = json_text(answer, "hostname");
  if (node.empty()) node = node_name;
  return terminal_safe("published " + field("topic") + " seq " + field("seq") + " on " + node + " (" +
                       field("node_id") + ", epoch " + field("epoch") + ")");
}

std::string describe_publish_error(int status, std::string_view body, bool token_given) {
  std::string out = describe_error_response(status, body);
  Json j = parse_node_json(body);
  const std::string code = !j.is_discarded() && j.is_object() ? json_text(j, "code") : "";
  if (status == 401) {
    out += "\n  " + auth_refusal_hint(body, token_given);
  } else if (code == "digest_mismatch") {
    out += "\n  the node received another payload than the one the request proof was made for";
  } else if (status == 413) {
    const std::string max = json_text(j, "max_bytes");
    if (!max.empty()) out += "\n  this node takes payloads of at most " + terminal_safe(max) + " bytes";
  } else if (status == 404 && code.empty()) {
    out += "\n  this node does not serve POST /api/cluster/events: it runs firmware older than the events API";
  } else if (status == 503 && code == "not_running") {
    out += "\n  the node's cluster engine is not running (starting up or shutting down): try again in a moment";
  }
  return out;
}

std::string describe_stream_error(int status, std::string_view content_type, std::string_view body) {
  if (status == 200) {
    return "the answer is not an event stream (Content-Type '" + terminal_safe(content_type) +
           "', expected text/event-stream)";
  }
  Json j = parse_node_json(body);
  const std::string code = !j.is_discarded() && j.is_object() ? json_text(j, "code") : "";
  std::string out = describe_error_response(status, body);
  if (status == 404) {
    out += "\n  this node does not serve the event stream: it runs firmware older than the events API";
  } else if (code == "too_many_streams") {
    out += "\n  every event-stream slot of this node is taken (other watchers or dashboards): close one, or "
           "watch another node (every node sees every cluster event)";
  }
  return out;
}

std::string escape_payload(std::string_view bytes) {
  if (bytes.empty()) return "\"\"";
  return terminal_safe(bytes);
}

std::string EventFormatter::text(const SseMessage& m, std::time_t when) {
  char clock[16] = "--:--:--";
  std::tm tm_local{};
  if (localtime_r(&when, &tm_local) != nullptr) std::strftime(clock, sizeof clock, "%H:%M:%S", &tm_local);
  Json d = parse_node_json(m.data);
  std::string sender, topic = m.event, payload;
  std::string color;
  if (!d.is_discarded() && d.is_object()) {
    sender = json_text(d, "hostname");
    if (sender.empty()) sender = json_text(d, "node_id");
    if (sender.empty()) sender = "?";
    std::string t = json_text(d, "topic");
    if (!t.empty()) topic = t;
    if (has_prefix(topic, "node_")) {
      // Membership events carry no payload: the member's address and its new status say it all.
      const std::string ip = terminal_safe(json_text(d, "ip"));
      const std::string status = terminal_safe(json_text(d, "status"));
      payload = ip.empty() ? status : (status.empty() ? ip : ip + " " + status);
      if (color_) color = status_color(status);
    } else if (d.contains("data") && d["data"].is_string()) {
      payload = escape_payload(d["data"].get<std::string>());
      if (color_ && topic == "ota_failed") color = "\033[31m";
    } else if (d.contains("data")) {
      payload = json_for_terminal(d["data"]);
    }
  } else {
    sender = "?";
    payload = escape_payload(m.data);
  }
  sender = escape_payload(sender);
  topic = escape_payload(topic);
  sender_width_ = std::max(sender_width_, sender.size());
  topic_width_ = std::max(topic_width_, topic.size());
  std::string line = std::string(clock) + "  " + pad(sender, sender_width_) + "  " + pad(topic, topic_width_) + "  ";
  line += color.empty() ? payload : color + payload + "\033[0m";
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line + "\n";
}

std::string EventFormatter::json(const SseMessage& m) const {
  Json out;
  out["event"] = m.event;
  out["id"] = m.id ? Json(*m.id) : Json(nullptr);
  Json d = parse_node_json(m.data);
  if (!d.is_discarded() && d.is_object()) {
    for (auto it = d.begin(); it != d.end(); ++it) {
      if (it.key() != "event" && it.key() != "id") out[it.key()] = it.value();
    }
  } else {
    out["data"] = m.data;
  }
  // Replace, not throw, on invalid UTF-8 (a foreign stream): one line per event whatever comes;
  // nothing but printable ASCII, so a terminal showing it obeys nothing in it.
  return json_for_terminal(out) + "\n";
}

uint64_t Backoff::next_ms() {
  uint64_t d = base_ms_;
  for (uint32_t i = 0; i < attempt_ && d < max_ms_; ++i) d *= 2;
  if (attempt_ < 32) ++attempt_;
  return std::min(d, max_ms_);
}

int watch_exit_code(bool timed_out, size_t count_wanted, size_t received) {
  if (timed_out && count_wanted > 0 && received < count_wanted) return kExitFailure;
  return kExitOk;
}

// ---- I/O ---------------------------------------------------------------------------------------

namespace {

/// Reads at most `limit` + 1 bytes, so a caller can tell "exactly limit" from "more".
bool read_limited(std::istream& in, size_t limit, std::string* out) {
  out->assign(limit + 1, '\0');
  in.read(&(*out)[0], static_cast<std::streamsize>(limit + 1));
  if (in.bad()) return false;
  out->resize(static_cast<size_t>(in.gcount()));
  return true;
}

std::string unreachable(const NodeAddress& addr, httplib::Error e) {
  return "cannot reach the node at " + addr.base_url() + ": " + describe_transport_error(e) +
         ". Is spored running there? (`spore discover` lists the nodes on the LAN)";
}

/// The message for a bounded request that got no usable answer: unreachable, or the answer broke
/// a bound (too slow, too large).
std::string unreachable(const NodeAddress& addr, const BoundedAnswer& a, double deadline_s) {
  if (a.failure == BoundedAnswer::Failure::kTransport) return unreachable(addr, a.error);
  return addr.to_string() + ": " + a.why(deadline_s);
}

/// The node's hostname from GET /api/node/status, for the publish line; "" when it does not say.
std::string node_hostname(const NodeAddress& addr, double timeout_s) {
  const BoundedAnswer a = bounded_request(addr, timeout_s, "GET", "/api/node/status");
  if (!a.ok() || a.status != 200) return "";
  return json_text(parse_node_json(a.body), "hostname");
}

std::string payload_for(const EventsPublishOptions& o) {
  if (o.data && o.file) throw CliError{kExitUsage, "events publish: give DATA or --file PATH, not both"};
  if (!o.data && !o.file) {
    throw CliError{kExitUsage, "events publish: no payload: give DATA, - to read stdin, or --file PATH "
                               "(an empty payload is \"\")"};
  }
  std::string payload;
  std::string from;
  if (o.file) {
    std::ifstream in(*o.file, std::ios::binary);
    if (!in || !read_limited(in, kMaxEventPayloadBytes, &payload)) {
      throw CliError{kExitUsage, "events publish: cannot read the file '" + *o.file + "'"};
    }
    from = "the file '" + *o.file + "'";
  } else if (*o.data == "-") {
    if (!read_limited(std::cin, kMaxEventPayloadBytes, &payload)) {
      throw CliError{kExitUsage, "events publish: cannot read the payload from stdin"};
    }
    from = "stdin";
  } else {
    payload = *o.data;
    from = "DATA";
  }
  if (payload.size() > kMaxEventPayloadBytes) {
    throw CliError{kExitUsage, "events publish: " + from + " holds more than " + std::to_string(kMaxEventPayloadBytes) +
                                   " bytes; an event carries at most " + std::to_string(kMaxEventPayloadBytes) +
                                   " (64 on ESP8266 nodes)"};
  }
  return payload;
}

}  // namespace

int cmd_events_publish(const EventsContext& context, const EventsPublishOptions& o) {
  if (std::optional<std::string> why = topic_error(o.topic)) throw CliError{kExitUsage, "events publish: " + *why};
  const std::string payload = payload_for(o);
  std::optional<std::string> file_text;
  if (o.token_file) {
    std::ifstream in(*o.token_file, std::ios::binary);
    std::string text;
    if (!in || !read_limited(in, 4096, &text)) {
      throw CliError{kExitUsage, "cannot read the token file '" + *o.token_file + "'"};
    }
    if (trim(text).empty()) throw CliError{kExitUsage, "the token file '" + *o.token_file + "' is empty"};
    file_text = text;
  }
  const std::optional<std::string> token = resolve_token(o.token, file_text, std::getenv("SPORE_TOKEN"));
  const NodeAddress addr = context.node();

  const std::string path = publish_path(o.topic);
  // A one-use request proof over the topic (in the path) and the payload, after the node proved it
  // holds the token.
  uint8_t payload_sha[32];
  sha256_of(payload, payload_sha);
  std::string why;
  const std::optional<Signed> sig = sign_request(addr, context.http_timeout_s, single_token_policy(token, o.bearer),
                                                 HttpMethod::kPost, path, payload_sha, &why);
  if (!sig) throw CliError{kExitFailure, addr.to_string() + " POST /api/cluster/events: not sent: " + why};
  httplib::Headers headers;
  if (!sig->authorization.empty()) headers.emplace("Authorization", sig->authorization);
  const BoundedAnswer res =
      bounded_request(addr, context.http_timeout_s, "POST", path, headers, payload, "application/octet-stream");
  if (!res.ok()) throw CliError{kExitFailure, unreachable(addr, res, context.http_timeout_s)};
  if (res.status < 200 || res.status > 299) {
    throw CliError{kExitFailure, addr.to_string() + " POST /api/cluster/events: " +
                                     describe_publish_error(res.status, res.body, token.has_value())};
  }
  Json answer = parse_node_json(res.body);
  if (answer.is_discarded() || !answer.is_object()) {
    throw CliError{kExitFailure, addr.to_string() + " POST /api/cluster/events: HTTP " + std::to_string(res.status) +
                                     " but the answer is not JSON: " + terminal_safe(res.body.substr(0, 200))};
  }
  if (o.json) {
    std::cout << json_for_terminal(answer) << '\n';
    return kExitOk;
  }
  std::string name;
  if (json_text(answer, "hostname").empty()) name = node_hostname(addr, context.http_timeout_s);
  if (name.empty()) name = addr.to_string();
  std::cout << format_published(answer, name) << "\n";
  return kExitOk;
}

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

}  // namespace

int cmd_events_watch(const EventsContext& context, const EventsWatchOptions& o) {
  if (o.topic) {
    if (std::optional<std::string> why = topic_error(*o.topic, true)) throw CliError{kExitUsage, "--topic: " + *why};
  }
  const NodeAddress addr = context.node();
  const std::string path = stream_path(o.topic);

  // SIGINT / SIGTERM are taken by the watchdog thread (sigtimedwait), not by a handler, so Ctrl-C
  // ends the watch like --count does: output flushed, exit 0.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigset_t old_mask;
  pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);

  WatchControl control;
  const bool has_deadline = o.timeout_s > 0;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(has_deadline ? o.timeout_s : 0));
  std::thread watchdog([&] {
    const timespec tick{0, 100 * 1000 * 1000};
    while (!control.closed()) {
      siginfo_t info;
      const int sig = sigtimedwait(&stop_signals, &info, &tick);
      if (sig == SIGINT || sig == SIGTERM) {
        control.finish(false);
      } else if (has_deadline && std::chrono::steady_clock::now() >= deadline) {
        control.finish(true);
      } else if (control.done()) {
        control.finish(false);  // re-stop a client attached after the first stop()
      }
    }
  });

  const bool interactive = isatty(STDERR_FILENO) == 1;
  EventFormatter formatter(context.color);
  SseParser parser;
  Backoff backoff;
  size_t received = 0;
  bool ever_streamed = false;
  bool count_reached = false;
  bool output_closed = false;
  std::optional<CliError> failure;

  while (!control.done()) {
    httplib::Client client(addr.host, addr.port);
    set_timeouts(client, context.http_timeout_s, kStreamIdleLimitS);
    // Until a stream's head arrived the request is bounded like any other (bounded_http.h); the
    // stream itself has no total: its bounds are the idle limit, the parser's per-event size and
    // the guard's allowance of bytes read without one reaching the parser.
    RequestGuard guard(client, context.http_timeout_s, max_answer_bytes());
    control.attach(&client);
    parser.reset();
    int status = 0;
    std::string content_type, error_body;
    bool streaming = false;
    size_t stream_bytes = 0;
    httplib::Headers headers = {{"Accept", "text/event-stream"}};
    httplib::Result res = client.Get(
        path.c_str(), headers,
        [&](const httplib::Response& r) {
          status = r.status;
          content_type = r.get_header_value("Content-Type");
          streaming = status == 200 && has_prefix(lower(content_type), "text/event-stream");
          if (streaming) {
            guard.relax();
          } else {
            guard.head_complete();
          }
          return true;
        },
        [&](const char* data, size_t size) {
          if (!streaming) {
            // An error answer: keep its start for the message.
            if (error_body.size() < 4096) error_body.append(data, std::min(size, 4096 - error_body.size()));
            return true;
          }
          guard.delivered();
          const bool first = stream_bytes == 0;
          stream_bytes += size;
          std::vector<SseMessage> messages;
          parser.feed(std::string_view(data, size), messages);
          if (first) {
            // On stderr even when piped: a script (or test) can wait for it before publishing,
            // as events published before the stream opened are not shown.
            if (ever_streamed) {
              std::cerr << "spore: reconnected to " << addr.to_string() << std::endl;
            } else {
              std::string node_id;
              if (has_prefix(parser.last_comment(), "spore events ")) node_id = parser.last_comment().substr(13);
              std::cerr << "watching cluster events at " << addr.to_string()
                        << (node_id.empty() ? std::string() : " (node " + escape_payload(node_id) + ")")
                        << (o.topic ? ", topic " + *o.topic : std::string())
                        << (interactive ? ", Ctrl-C to stop" : "") << std::endl;
            }
            ever_streamed = true;
            backoff.reset();
          }
          for (const SseMessage& m : messages) {
            std::cout << (o.json ? formatter.json(m) : formatter.text(m, std::time(nullptr)));
            std::cout.flush();
            if (!std::cout) {
              output_closed = true;  // e.g. `| head -3` went away: nothing left to do
              return false;
            }
            ++received;
            if (o.count > 0 && received >= o.count) {
              count_reached = true;
              return false;
            }
          }
          return !control.done();
        });
    control.detach();
    guard.end();
    if (count_reached || output_closed || control.done()) break;
    if (parser.retry_ms()) backoff.set_base(*parser.retry_ms());

    std::string why;
    if (status != 0 && !streaming) {
      const std::string message = addr.to_string() + " GET " + path + ": " +
                                  describe_stream_error(status, content_type, error_body);
      // A node that never streamed, or that now says it never will (4xx), ends the watch; a
      // temporary refusal (503: slots full, not running) after a stream is waited out.
      if (!ever_streamed || status < 500) {
        failure = CliError{kExitFailure, message};
        break;
      }
      why = describe_error_response(status, error_body);
    } else if (!res && status == 0) {
      BoundedAnswer bounded;
      bounded.failure = guard.expired()            ? BoundedAnswer::Failure::kDeadline
                        : guard.head_too_large() ? BoundedAnswer::Failure::kHeadTooLarge
                        : guard.too_large()      ? BoundedAnswer::Failure::kTooLarge
                                                 : BoundedAnswer::Failure::kTransport;
      bounded.error = res.error();
      if (!ever_streamed) {
        failure = CliError{kExitFailure, unreachable(addr, bounded, context.http_timeout_s)};
        break;
      }
      why = bounded.why(context.http_timeout_s);
    } else if (guard.too_large()) {
      why = "it sent more than " + std::to_string(kMaxStreamFramingBytes) + " bytes without an event byte in them";
    } else if (res) {
      why = "the node ended it";
    } else if (res.error() == httplib::Error::Read) {
      why = "the connection closed, or stayed silent for " + seconds_text(static_cast<uint64_t>(kStreamIdleLimitS * 1000));
    } else {
      why = describe_transport_error(res.error());
    }
    const uint64_t delay_ms = backoff.next_ms();
    std::cerr << "spore: event stream from " << addr.to_string() << " lost (" << why << "); reconnecting in "
              << seconds_text(delay_ms) << " (events published meanwhile are not shown)\n";
    if (control.sleep_ms(delay_ms)) break;
  }

  control.close();
  watchdog.join();
  // A signal that arrived after the watchdog's last look stays pending: drop it, not deliver it.
  for (;;) {
    sigset_t pending;
    sigpending(&pending);
    if (!sigismember(&pending, SIGINT) && !sigismember(&pending, SIGTERM)) break;
    const timespec zero{0, 0};
    siginfo_t info;
    sigtimedwait(&stop_signals, &info, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);

  if (failure) throw *failure;
  if (control.timed_out()) {
    const int rc = watch_exit_code(true, o.count, received);
    if (rc != kExitOk) {
      std::cerr << "spore: --timeout " << o.timeout_s << " s reached after " << received << " of the " << o.count
                << " events awaited\n";
    }
    return rc;
  }
  return kExitOk;
}

// ---- CLI11 registration --------------------------------------------------------------------

void EventsCli::add_to(CLI::App& app) {
  events_ = app.add_subcommand("events", "cluster-wide events: publish one, or watch them live");
  events_->require_subcommand(1);
  events_->footer(
      "Examples:\n"
      "  spore events publish light on --token-file build/demo/node-1/api_token\n"
      "  spore events watch                         # every event, one line each, until Ctrl-C\n"
      "  spore events watch --topic light --json    # one JSON object per line (for jq)\n"
      "  spore events watch --count 1 --timeout 30  # wait for the next event, exit 1 if none in 30 s");

  publish_ = events_->add_subcommand(
      "publish", "publish an event: every node's subscribers of TOPIC get DATA once, in order per sender");
  publish_->add_option("topic", publish_options_.topic,
                       "1..31 printable ASCII characters, no spaces, not '*', not node_* or ota_*")
      ->required()
      ->type_name("TOPIC");
  publish_->add_option("data", publish_options_.data,
                       "the payload, 0.." + std::to_string(kMaxEventPayloadBytes) +
                           " bytes (64 for ESP8266 nodes); - reads it from stdin")
      ->type_name("DATA");
  publish_->add_option("--file", publish_options_.file, "read the payload from FILE instead of DATA")
      ->type_name("PATH");
  auto* tok = publish_->add_option("--token", publish_options_.token, "API token (else --token-file, else $SPORE_TOKEN)")
                  ->type_name("TOKEN");
  publish_->add_option("--token-file", publish_options_.token_file, "file holding the API token")
      ->excludes(tok)
      ->type_name("FILE");
  publish_->add_flag("--bearer", publish_options_.bearer,
                     "send the token itself ('Authorization: Bearer') instead of a one-use request proof (nodes "
                     "older than request proofs)");
  publish_->add_flag("--json", publish_options_.json,
                     "print the node's JSON answer (same JSON, non-ASCII characters as \\uXXXX escapes)");
  publish_->footer(
      "Prints `published TOPIC seq N on NODE (NODE_ID, epoch E)`. The node answers 401 without its\n"
      "API token, 413 for a payload over its limit; exit 1 then, exit 2 for a bad topic or payload\n"
      "(refused before anything is sent).\n"
      "Examples:\n"
      "  spore events publish light on\n"
      "  echo -n '{\"lux\":310}' | spore events publish sensor/hall - --token-file node-1.token\n"
      "  spore events publish config/reload --file reload.bin --json");

  watch_ = events_->add_subcommand("watch", "print the cluster's events as the node sees them, live (Server-Sent Events)");
  watch_->add_option("--topic", watch_options_.topic, "only this topic (node_* membership events included)")
      ->type_name("TOPIC");
  watch_->add_flag("--json", watch_options_.json,
                   "one JSON object per line: the event's fields plus \"event\" and \"id\" (null for node_* events)");
  watch_->add_option("--count", watch_options_.count, "exit 0 after N events")
      ->check(CLI::PositiveNumber)
      ->type_name("N");
  watch_->add_option("--timeout", watch_options_.timeout_s,
                     "exit after SECONDS: 0, or 1 when --count N was given and fewer than N events came")
      ->check(CLI::PositiveNumber)
      ->type_name("SECONDS");
  watch_->footer(
      "Each line: HH:MM:SS  SENDER  TOPIC  PAYLOAD, SENDER the publisher's hostname (else its node id),\n"
      "PAYLOAD as text with bytes that are not printable ASCII as \\xNN. Membership events\n"
      "(node_discovered, node_inactive, node_dead, node_left, node_updated) name the member and show\n"
      "its IP and status. Keep-alives are not shown. If the stream drops, it reconnects with backoff\n"
      "and says so on stderr; events published meanwhile are not shown. Ctrl-C exits 0.\n"
      "Exit 1 when the node cannot be reached at first, does not serve the stream (404: older\n"
      "firmware) or has no free stream slot (503 too_many_streams).\n"
      "Examples:\n"
      "  spore events watch\n"
      "  spore events watch --topic node_inactive --count 1\n"
      "  spore events watch --json | jq -r 'select(.topic == \"light\") | .data'");
}

bool EventsCli::selected() const { return (publish_ != nullptr && *publish_) || (watch_ != nullptr && *watch_); }

int EventsCli::run(const EventsContext& context) {
  if (publish_ != nullptr && *publish_) return cmd_events_publish(context, publish_options_);
  if (watch_ != nullptr && *watch_) return cmd_events_watch(context, watch_options_);
  throw CliError{kExitUsage, "events: expected 'publish' or 'watch'"};
}

}  // namespace cli
}  // namespace spore
