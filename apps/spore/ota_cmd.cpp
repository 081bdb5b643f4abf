#include "ota_cmd.h"

#include <fcntl.h>
#include <httplib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "bounded_http.h"
#include "ota_crypto.h"
#include "ota_logic.h"
#include "request_signer.h"
#include "terminal_safe.h"
#include "transport_error.h"

namespace spore {
namespace cli {

namespace {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::optional<std::string> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// GET a JSON document, bounded in time and size (bounded_http.h); nullopt with `why` on any failure.
std::optional<Json> get_json(const NodeAddress& addr, const std::string& path, double timeout_s, std::string* why) {
  const BoundedAnswer res = bounded_request(addr, timeout_s, "GET", path);
  if (!res.ok()) {
    if (why != nullptr) *why = res.why(timeout_s);
    return std::nullopt;
  }
  if (res.status < 200 || res.status > 299) {
    if (why != nullptr) *why = "GET " + path + ": " + describe_error_response(res.status, res.body);
    return std::nullopt;
  }
  Json j = parse_node_json(res.body);
  if (j.is_discarded() || !j.is_object()) {
    if (why != nullptr) *why = "GET " + path + ": the answer is not a JSON object";
    return std::nullopt;
  }
  return j;
}

std::string str_field(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<int64_t> int_field(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

/// Identity checks of `ota all` run at once (each one bounded by --http-timeout).
constexpr size_t kIdentityCheckWorkers = 16;

/// The first 12 characters of a hash a node reported, escaped (it is the node's text).
std::string short_hash(const std::string& hex) { return hex.empty() ? "?" : terminal_safe(hex.substr(0, 12)); }

int terminal_width() {
  winsize ws{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

/// Where progress and events go: stderr, one line at a time (several nodes upload at once in a
/// wave), or one bar redrawn in place for a single upload on a terminal.
class Reporter {
 public:
  /// kBar: one upload on a terminal; kLines: one upload, plain lines; kFinalOnly: several uploads
  /// at once (ota all), only the 100 % line of each, so a wave of 20 does not print 240 lines.
  enum class Mode { kBar, kLines, kFinalOnly };
  explicit Reporter(Mode mode) : bar_(mode == Mode::kBar), final_only_(mode == Mode::kFinalOnly) {}

  /// `prefix` (a node's hostname) is shown on one line, never broken: a '\n' in a hostname would
  /// forge progress lines (issue 18 attack, finding G). `text` is the CLI's own sentence; the
  /// node words it quotes were escaped where they entered it (short_hash, the restart field,
  /// check_member), so only the CLI's own hint lines keep their line breaks here.
  void line(const std::string& prefix, const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex_);
    clear_bar_locked();
    std::cerr << terminal_safe(prefix) << terminal_safe(text, Newlines::kKeep) << "\n" << std::flush;
  }

  /// A progress sample of one upload. `throttle` belongs to that upload.
  void progress(const std::string& prefix, ProgressThrottle& throttle, uint64_t sent, uint64_t total,
                double elapsed_s) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (bar_) {
      const bool done = sent >= total;
      if (!done && elapsed_s - last_draw_s_ < 0.1 && bar_shown_) return;
      last_draw_s_ = elapsed_s;
      std::cerr << "\r" << format_progress_bar(sent, total, elapsed_s, static_cast<size_t>(terminal_width() - 1))
                << "\033[K";
      bar_shown_ = true;
      if (done) {
        std::cerr << "\n";
        bar_shown_ = false;
      }
      std::cerr << std::flush;
      return;
    }
    if (final_only_ && sent < total) return;
    if (throttle.due(sent, total, elapsed_s)) {
      std::cerr << terminal_safe(prefix) << format_progress_line(sent, total, elapsed_s) << "\n" << std::flush;
    }
  }

  void end_bar() {
    std::lock_guard<std::mutex> lock(mutex_);
    clear_bar_locked();
  }

 private:
  void clear_bar_locked() {
    if (bar_shown_) {
      std::cerr << "\n";
      bar_shown_ = false;
    }
  }
  std::mutex mutex_;
  bool bar_;
  bool final_only_;
  bool bar_shown_ = false;
  double last_draw_s_ = -1;
};

/// What happened to one node.
struct NodeRun {
  NodeOutcome outcome = NodeOutcome::kFailed;
  std::string reason;
  std::string hostname;
  double seconds = 0;
  int64_t old_incarnation = -1, new_incarnation = -1;
  std::string old_hash, new_hash, version;
  bool upload_only = false;  ///< no_wait: accepted, return not checked
};

/// The upload's request target: the query asks a node to install a signed image older than its own
/// (docs/ota.md, "Downgrades"); a request proof signs the whole target, query included.
std::string update_target(const OtaCommonOptions& o) {
  return o.allow_downgrade ? "/api/node/update?allow_downgrade=1" : "/api/node/update";
}

/// Streams `image` to POST /api/node/update. Returns the HTTP answer, or nullopt with `why`.
struct UploadAnswer {
  int status = 0;
  std::string body;
};

/// The Authorization header for one upload request (a fresh request proof each call), or nullopt
/// with `why` when the node cannot be authorized (then nothing is sent).
using Authorizer = std::function<std::optional<std::string>(std::string* why)>;

std::optional<UploadAnswer> upload(const NodeAddress& addr, const ImageFile& image, const Authorizer& authorize,
                                   const OtaCommonOptions& o, Reporter& reporter, const std::string& prefix,
                                   std::string* why) {
  const std::optional<std::string> authorization = authorize(why);
  if (!authorization) return std::nullopt;
  const int fd = ::open(image.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *why = "cannot open " + image.path;
    return std::nullopt;
  }
  std::random_device rd;
  const uint64_t rnd = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  const std::string base = image.path.substr(image.path.find_last_of('/') + 1);
  const MultipartFrame frame = multipart_frame(multipart_boundary(rnd), "firmware", base);
  const std::string head = o.raw ? std::string() : frame.head;
  const std::string tail = o.raw ? std::string() : frame.tail;
  const uint64_t file_bytes = image.size_bytes;
  const uint64_t total = head.size() + file_bytes + tail.size();
  const std::string content_type = o.raw ? "application/octet-stream" : frame.content_type;

  std::vector<char> buf(64 * 1024);
  ProgressThrottle throttle;
  const Clock::time_point t0 = Clock::now();
  std::atomic<uint64_t> file_sent{0};
  bool read_failed = false;
  reporter.progress(prefix, throttle, 0, file_bytes, 0);
  httplib::Client client(addr.host, addr.port);
  set_timeouts(client, o.http_timeout_s, std::max(o.timeout_s, o.http_timeout_s));
  // The answer is bounded in size (bounded_http.h). The upload's time is bounded by the stall
  // limit (--timeout per read/write), as a slow link legitimately takes long for a big image; the
  // answer's, once the last byte is sent, by answer_deadline_s as a whole (a node trickling its
  // answer kept the CLI forever: issue 18 attack, finding A).
  RequestGuard guard(client, 1e9, static_cast<uint64_t>(max_answer_bytes()));
  // No head callback for an upload in cpp-httplib 0.11's Post: the body allowance from the start.
  guard.head_complete();
  const double answer_deadline_s = std::max(o.timeout_s, o.http_timeout_s);
  httplib::ContentProvider provider = [&](size_t offset, size_t length, httplib::DataSink& sink) -> bool {
    // The body is head ‖ file ‖ tail; write the segment `offset` falls in, at most one buffer.
    if (offset < head.size()) {
      const size_t n = std::min(length, head.size() - offset);
      return sink.write(head.data() + offset, n);
    }
    const uint64_t in_file = offset - head.size();
    if (in_file < file_bytes) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>({length, buf.size(), file_bytes - in_file}));
      const ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(in_file));
      if (n <= 0) {
        read_failed = true;
        return false;
      }
      if (!sink.write(buf.data(), static_cast<size_t>(n))) return false;
      file_sent = in_file + static_cast<uint64_t>(n);
      reporter.progress(prefix, throttle, file_sent, file_bytes, seconds_since(t0));
      if (head.size() + file_sent == total) guard.restart_deadline(answer_deadline_s);  // --raw: no tail
      return true;
    }
    const size_t tail_off = static_cast<size_t>(in_file - file_bytes);
    const size_t n = std::min(length, tail.size() - tail_off);
    if (!sink.write(tail.data() + tail_off, n)) return false;
    if (tail_off + n == tail.size()) guard.restart_deadline(answer_deadline_s);
    return true;
  };
  httplib::Headers headers;
  if (!authorization->empty()) headers.emplace("Authorization", *authorization);
  httplib::Result res = client.Post(update_target(o), headers, static_cast<size_t>(total), provider, content_type);
  guard.end();
  ::close(fd);
  reporter.end_bar();
  if (!res) {
    if (read_failed) {
      *why = "cannot read " + image.path + " while sending it";
      return std::nullopt;
    }
    const uint64_t sent = file_sent;
    if (guard.expired()) {
      char secs[32];
      std::snprintf(secs, sizeof secs, "%g", answer_deadline_s);
      *why = std::string("no complete answer within ") + secs + " s after the upload's last byte (--timeout)";
      return std::nullopt;
    }
    if (guard.too_large()) {
      *why = "the answer is larger than " + std::to_string(max_answer_bytes()) + " bytes (--max-answer-bytes)";
      return std::nullopt;
    }
    if (res.error() == httplib::Error::Connection || res.error() == httplib::Error::ConnectionTimeout) {
      *why = "cannot reach the node: " + describe_transport_error(res.error());
      return std::nullopt;
    }
    // The node may have answered an error and closed before reading everything (401, 413, 415...):
    // the answer is lost to the client, so ask again with an empty body, which changes nothing.
    std::string what = sent < file_bytes ? "the connection broke after " + format_bytes(sent) + " of " +
                                               format_bytes(file_bytes) + " (" + describe_transport_error(res.error()) + ")"
                                         : "no answer after the upload (" + describe_transport_error(res.error()) + ")";
    // The first request's proof is spent (or was refused): the probe gets its own.
    std::string probe_why;
    const std::optional<std::string> probe_auth = authorize(&probe_why);
    if (probe_auth) {
      httplib::Headers probe_headers;
      if (!probe_auth->empty()) probe_headers.emplace("Authorization", *probe_auth);
      const BoundedAnswer again =
          bounded_request(addr, o.http_timeout_s, "POST", update_target(o), probe_headers, "", content_type);
      if (again.ok() && (again.status == 401 || again.status == 403 || again.status == 409)) {
        // Only a refusal that does not depend on the body (token, another upload running) explains
        // the first attempt; an empty body gets 400 from a node that would take the upload.
        return UploadAnswer{again.status, again.body};
      }
    }
    *why = what + "; see the node's log";
    return std::nullopt;
  }
  return UploadAnswer{res->status, res->body};
}

/// Waits for `addr` to come back after an accepted update: a new incarnation (or an observed
/// outage) with the new image hash in its status, then ACTIVE in `observer`'s members list (or its
/// own, when observer is nullopt).
void wait_back(const NodeAddress& addr, const ImageFile& image, const OtaCommonOptions& o,
               const std::optional<NodeAddress>& observer, NodeRun& run, Reporter& reporter,
               const std::string& prefix) {
  const Clock::time_point t0 = Clock::now();
  const double poll_timeout = std::min(o.http_timeout_s, 2.0);
  bool seen_down = false, answered_new = false, announced_down = false;
  std::string last;
  while (seconds_since(t0) < o.timeout_s) {
    // 100 ms: a wave waits for its slowest node, so the poll period adds to every wave.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::string why;
    std::optional<Json> status = get_json(addr, "/api/node/status", poll_timeout, &why);
    if (!status) {
      seen_down = true;
      if (!announced_down) {
        reporter.line(prefix, "restarting (not answering)");
        announced_down = true;
      }
      last = "it did not answer since it accepted the image";
      continue;
    }
    const std::string hash = str_field(*status, "imageSha256");
    const std::optional<int64_t> inc = int_field(*status, "incarnation");
    const bool restarted = seen_down || (inc && run.old_incarnation >= 0 && *inc != run.old_incarnation);
    if (!restarted) {
      last = "it still runs its previous incarnation";
      continue;
    }
    if (!image_hash_matches(hash, image.hashes)) {
      if (!hash.empty()) {
        run.outcome = NodeOutcome::kFailed;
        run.reason = hash == run.old_hash || answered_new
                         ? "rolled back: it came back on its previous image " + short_hash(hash) +
                               " (the new one did not prove healthy on it; see its log, event ota_rolled_back)"
                         : "came back with image " + short_hash(hash) + ", not the new " +
                               short_hash(image.hashes.image_sha256);
        return;
      }
      last = "it answers without imageSha256";
      continue;
    }
    if (!answered_new) {
      answered_new = true;
      run.new_hash = hash;
      run.new_incarnation = inc.value_or(-1);
      run.version = str_field(*status, "firmwareVersion");
    }
    // A Linux node runs a new image on trial until it proves healthy, and may still return to its
    // previous one (docs/ota.md §11): the next wave waits for the verdict.
    if (status->contains("otaTrial") && (*status)["otaTrial"].is_boolean() && (*status)["otaTrial"].get<bool>()) {
      last = "back with the new image, still on trial (proving healthy)";
      continue;
    }
    const NodeAddress& watcher = observer ? *observer : addr;
    std::optional<Json> members = get_json(watcher, "/api/cluster/members", poll_timeout, &why);
    if (!members) {
      last = "back with the new image, but " + watcher.to_string() + " does not answer: " + why;
      continue;
    }
    std::string detail;
    const std::string host = run.hostname.empty() ? str_field(*status, "hostname") : run.hostname;
    // By the id the node itself reports when it has one: a fake member may reuse its hostname.
    const std::optional<int64_t> id = int_field(*status, "nodeId");
    const std::optional<uint32_t> node_id =
        id && *id >= 0 && *id <= UINT32_MAX ? std::optional<uint32_t>(static_cast<uint32_t>(*id)) : std::nullopt;
    if (check_member(*members, host, image.hashes, &detail, node_id) == MemberCheck::kConfirmed) {
      run.outcome = NodeOutcome::kUpdated;
      run.reason.clear();
      return;
    }
    last = "back with the new image, but " + watcher.to_string() + " has it " + detail;
  }
  run.outcome = NodeOutcome::kFailed;
  char secs[32];
  std::snprintf(secs, sizeof(secs), "%g", o.timeout_s);
  run.reason = std::string("not back within ") + secs + " s: " + last;
}

/// One node, start to end: check, upload, wait. Never throws. `policy` says which token to prove
/// (request_signer.h); the image goes only to a node that passed its challenge.
NodeRun update_node(const NodeAddress& addr, const std::string& expected_hostname, const ImageFile& image,
                    const SignPolicy& policy, const OtaCommonOptions& o, bool no_wait,
                    const std::optional<NodeAddress>& observer, Reporter& reporter, const std::string& prefix) {
  NodeRun run;
  run.hostname = expected_hostname;
  const Clock::time_point t0 = Clock::now();
  auto finish = [&]() -> NodeRun {
    run.seconds = seconds_since(t0);
    return run;
  };
  try {
    std::string why;
    std::optional<Json> before = get_json(addr, "/api/node/status", o.http_timeout_s, &why);
    if (!before) {
      run.reason = "unreachable: " + why;
      return finish();
    }
    if (run.hostname.empty()) run.hostname = str_field(*before, "hostname");
    run.old_incarnation = int_field(*before, "incarnation").value_or(-1);
    run.old_hash = str_field(*before, "imageSha256");
    if (!o.force && image_hash_matches(run.old_hash, image.hashes)) {
      run.outcome = NodeOutcome::kUpToDate;
      run.new_hash = run.old_hash;
      reporter.line(prefix, "already runs this image (" + short_hash(run.old_hash) + "); not uploaded (--force sends it anyway)");
      return finish();
    }
    reporter.line(prefix, "uploading " + format_bytes(image.size_bytes) + (o.raw ? " (raw)" : "") + " to " +
                              addr.base_url() + update_target(o));
    uint8_t file_sha[32];
    sha256_from_hex(image.hashes.file_sha256, file_sha);
    bool token_used = false;
    const Authorizer authorize = [&](std::string* sign_why) -> std::optional<std::string> {
      std::optional<Signed> s = sign_request(addr, o.http_timeout_s, policy, HttpMethod::kPost, update_target(o),
                                             file_sha, sign_why);
      if (!s) {
        *sign_why = "not sent: the node at " + addr.to_string() + ": " + *sign_why;
        return std::nullopt;
      }
      token_used = s->token_used;
      return s->authorization;
    };
    std::optional<UploadAnswer> answer = upload(addr, image, authorize, o, reporter, prefix, &why);
    if (!answer) {
      run.reason = why;
      return finish();
    }
    if (answer->status < 200 || answer->status > 299) {
      run.reason = describe_update_error(answer->status, answer->body, token_used);
      return finish();
    }
    Json body = parse_node_json(answer->body);
    if (body.is_object()) {
      const std::string node_sha = str_field(body, "sha256");
      if (!node_sha.empty() && !image_hash_matches(node_sha, image.hashes)) {
        run.reason = "the node computed sha256 " + short_hash(node_sha) + " for the upload, the file has " +
                     short_hash(image.hashes.image_sha256) + " (damaged in transit?)";
        return finish();
      }
    }
    std::string accepted = "accepted (HTTP " + std::to_string(answer->status);
    if (body.is_object()) {
      if (body.contains("signed") && body["signed"].is_boolean()) {
        accepted += body["signed"].get<bool>() ? ", signature verified" : ", unsigned";
      }
      const std::string restart = body.contains("restart") && !body["restart"].is_string() ? body["restart"].dump()
                                                                                           : str_field(body, "restart");
      if (!restart.empty()) accepted += ", restart: " + terminal_safe(restart);
    }
    accepted += ")";
    reporter.line(prefix, accepted);
    if (no_wait) {
      run.outcome = NodeOutcome::kUpdated;
      run.upload_only = true;
      return finish();
    }
    reporter.line(prefix, "waiting up to " + format_duration(o.timeout_s) + " for it to come back with the new image");
    wait_back(addr, image, o, observer, run, reporter, prefix);
  } catch (const std::exception& e) {
    run.outcome = NodeOutcome::kFailed;
    run.reason = e.what();
  }
  return finish();
}

std::optional<std::string> fallback_token(const OtaCommonOptions& o) {
  std::optional<std::string> file_text;
  if (o.token_file) {
    file_text = slurp(*o.token_file);
    if (!file_text) throw CliError{kExitUsage, "cannot read the token file '" + *o.token_file + "'"};
    if (trim(*file_text).empty()) throw CliError{kExitUsage, "the token file '" + *o.token_file + "' is empty"};
  }
  return resolve_token(o.token, file_text, std::getenv("SPORE_TOKEN"));
}

/// Tokens by node id: the map's line for the node, else the shared token.
SignPolicy sign_policy(const OtaCommonOptions& o, const TokenMap& map, const std::optional<std::string>& fallback) {
  SignPolicy p;
  p.token_for = [&map, fallback](uint32_t node_id) { return token_for_node(map, node_id, fallback); };
  p.bearer = o.bearer;
  return p;
}

TokenMap load_token_map(const OtaCommonOptions& o) {
  if (!o.token_map) return {};
  std::optional<std::string> text = slurp(*o.token_map);
  if (!text) throw CliError{kExitUsage, "cannot read the token map '" + *o.token_map + "'"};
  std::string error;
  std::optional<TokenMap> map = parse_token_map(*text, &error);
  if (!map) throw CliError{kExitUsage, "token map '" + *o.token_map + "': " + error};
  return *map;
}

ImageFile load_image(const std::string& path) {
  ImageFile image;
  std::string error;
  if (!inspect_image(path, &image, &error)) throw CliError{kExitUsage, error};
  return image;
}

std::string describe_image(const ImageFile& image) {
  std::string out = image.path + ": " + format_bytes(image.size_bytes);
  if (image.layout.is_signed) {
    out += ", signed (" + std::to_string(image.layout.signature_bytes) + "-byte signature), image sha256 " +
           image.hashes.image_sha256;
  } else {
    out += ", unsigned, sha256 " + image.hashes.image_sha256;
  }
  return out;
}

std::string endpoint_text(const std::string& ip, uint16_t port) {
  return port == kDefaultHttpPort ? ip : NodeAddress{ip, port}.to_string();
}

}  // namespace

int cmd_ota_update(const NodeAddress& node, const OtaUpdateOptions& o) {
  const ImageFile image = load_image(o.file);
  const TokenMap map = load_token_map(o);
  const std::optional<std::string> fallback = fallback_token(o);
  std::string why;
  std::optional<Json> status = get_json(node, "/api/node/status", o.http_timeout_s, &why);
  if (!status) {
    throw CliError{kExitFailure, "cannot reach the node at " + node.base_url() + ": " + why +
                                     ". Is it running? (`spore discover` lists the nodes on the LAN)"};
  }
  const std::string hostname = str_field(*status, "hostname");
  SignPolicy policy = sign_policy(o, map, fallback);
  if (o.bearer) {
    // A bearer token is chosen by the id the node claims: nothing checks the claim (--bearer's risk).
    const std::optional<int64_t> id = int_field(*status, "nodeId");
    if (id && *id >= 0 && *id <= UINT32_MAX) policy.expected_node_id = static_cast<uint32_t>(*id);
  }
  Reporter reporter(!o.json && isatty(STDERR_FILENO) == 1 ? Reporter::Mode::kBar : Reporter::Mode::kLines);
  if (!o.json) std::cerr << describe_image(image) << "\n";
  NodeRun run = update_node(node, hostname, image, policy, o, o.no_wait, std::nullopt, reporter, "");
  if (o.json) {
    Json j;
    j["ok"] = run.outcome != NodeOutcome::kFailed;
    j["node"] = node.to_string();
    j["hostname"] = run.hostname;
    j["result"] = outcome_code(run.outcome);
    j["reason"] = run.reason;
    j["seconds"] = std::round(run.seconds * 1000) / 1000;
    j["sha256"] = image.hashes.image_sha256;
    j["fileSha256"] = image.hashes.file_sha256;
    j["signed"] = image.layout.is_signed;
    j["waited"] = !run.upload_only;
    j["incarnationBefore"] = run.old_incarnation;
    j["incarnationAfter"] = run.new_incarnation;
    if (!run.version.empty()) j["firmwareVersion"] = run.version;
    std::cout << json_for_terminal(j, 2) << "\n";
    return run.outcome == NodeOutcome::kFailed ? kExitFailure : kExitOk;
  }
  char secs[32];
  std::snprintf(secs, sizeof(secs), "%.1f s", run.seconds);
  // The node's hostname, version and reasons go to a terminal: terminal_safe (issue 18, finding 5).
  const std::string who =
      (run.hostname.empty() ? node.to_string() : terminal_safe(run.hostname) + " (" + node.to_string() + ")");
  switch (run.outcome) {
    case NodeOutcome::kUpdated:
      if (run.upload_only) {
        std::cout << who << ": image accepted, the node restarts (not waiting: --no-wait) after " << secs << "\n";
      } else {
        std::cout << who << ": updated in " << secs << ": back ACTIVE with image " << short_hash(run.new_hash);
        if (!run.version.empty()) std::cout << ", version " << terminal_safe(run.version);
        if (run.old_incarnation >= 0 && run.new_incarnation >= 0) {
          std::cout << ", incarnation " << run.old_incarnation << " -> " << run.new_incarnation;
        }
        std::cout << "\n";
      }
      return kExitOk;
    case NodeOutcome::kUpToDate:
      std::cout << who << ": already runs image " << short_hash(run.new_hash) << ", nothing sent\n";
      return kExitOk;
    default:
      // The reason may quote a node (a status, a digest): shown, not obeyed; its own hint lines kept.
      throw CliError{kExitFailure,
                     who + ": update failed after " + secs + ": " + terminal_safe(run.reason, Newlines::kKeep)};
  }
}

int cmd_ota_all(const NodeAddress& observer, const OtaAllOptions& o) {
  const ImageFile image = load_image(o.file);
  const TokenMap map = load_token_map(o);
  const std::optional<std::string> fallback = fallback_token(o);
  std::string why;
  std::optional<Json> members = get_json(observer, "/api/cluster/members", o.http_timeout_s, &why);
  if (!members) {
    throw CliError{kExitFailure, "cannot read the members from " + observer.base_url() + ": " + why +
                                     ". Is it running? (`spore discover` lists the nodes on the LAN)"};
  }
  if (!looks_like_members(*members)) throw CliError{kExitFailure, observer.to_string() + ": no \"members\" list"};
  std::vector<RolloutTarget> skipped;
  const std::vector<RolloutTarget> listed = rollout_targets(*members, observer.host, observer.port, &skipped);
  if (listed.empty()) throw CliError{kExitFailure, observer.to_string() + " lists no node that is not DEAD"};
  const SignPolicy policy = sign_policy(o, map, fallback);
  // Every listed node must prove, before anything is sent, that it holds the token this CLI has
  // for the id it is listed with: a member any LAN peer announced cannot, and is left out of the
  // waves (canary included) and reported.
  std::vector<std::string> unverified(listed.size());
  if (!o.bearer) {
    uint8_t file_sha[32];
    sha256_from_hex(image.hashes.file_sha256, file_sha);
    const auto check = [&](size_t i) {
      const RolloutTarget& t = listed[i];
      if (!t.node_id) {
        unverified[i] = "no nodeId in the members list";
        return;
      }
      SignPolicy p = policy;
      p.require_identity = true;
      p.expected_node_id = t.node_id;
      std::string refusal;
      if (!sign_request(NodeAddress{t.ip, t.http_port}, o.http_timeout_s, p, HttpMethod::kGet, "/", file_sha,
                        &refusal)) {
        unverified[i] = refusal.empty() ? "no proof of identity" : refusal;
      }
    };
    // A fixed number of workers, not one thread per listed member: a members list of 30,000
    // started 30,000 threads at once (issue 18 attack, note to finding C).
    std::atomic<size_t> next{0};
    std::vector<std::thread> workers;
    for (size_t w = 0; w < std::min(listed.size(), kIdentityCheckWorkers); ++w) {
      workers.emplace_back([&]() {
        for (size_t i = next++; i < listed.size(); i = next++) check(i);
      });
    }
    for (std::thread& th : workers) th.join();
  } else {
    std::cerr << "--bearer: the nodes' identities are not checked, and each is sent its token itself\n";
  }
  std::vector<RolloutTarget> targets;
  std::vector<RolloutTarget> impostors;
  for (size_t i = 0; i < listed.size(); ++i) {
    if (unverified[i].empty()) {
      targets.push_back(listed[i]);
    } else {
      RolloutTarget t = listed[i];
      t.status = "unverified: " + unverified[i];
      impostors.push_back(t);
      std::cerr << "skipping " << terminal_safe(t.hostname) << " (" << terminal_safe(endpoint_text(t.ip, t.http_port))
                << "): it cannot prove it is the node listed: " << terminal_safe(unverified[i])
                << "; nothing is sent to it\n";
    }
  }
  if (targets.empty()) {
    throw CliError{kExitFailure, "no listed node proved its identity with the token(s) given; nothing was sent"};
  }
  const std::vector<std::vector<size_t>> waves = plan_waves(targets.size(), o.canary, o.parallel);

  std::vector<NodeResult> results(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) {
    results[i].hostname = targets[i].hostname;
    results[i].ip = endpoint_text(targets[i].ip, targets[i].http_port);
  }
  for (size_t w = 0; w < waves.size(); ++w) {
    for (size_t i : waves[w]) results[i].wave = o.canary > 0 ? static_cast<int>(w) : static_cast<int>(w) + 1;
  }
  Reporter reporter(Reporter::Mode::kFinalOnly);
  {
    std::cerr << describe_image(image) << "\n";
    std::string plan = "rollout to " + std::to_string(targets.size()) + " node(s) listed by " + observer.to_string() +
                       ": " + std::to_string(waves.size()) + " wave(s)";
    if (o.canary > 0) plan += ", canary first (" + std::to_string(std::min(o.canary, targets.size())) + ")";
    plan += ", then at most " + std::to_string(o.parallel) + " at a time";
    if (!skipped.empty()) {
      plan += "; skipping DEAD:";
      for (const RolloutTarget& s : skipped) plan += " " + terminal_safe(s.hostname);
    }
    std::cerr << plan << "\n";
  }
  bool failed = false;
  for (size_t w = 0; w < waves.size() && !failed; ++w) {
    const std::vector<size_t>& wave = waves[w];
    std::string names;
    for (size_t i : wave) names += (names.empty() ? "" : " ") + targets[i].hostname;
    // The hostnames are the nodes' words: in the prefix, which is shown on one line.
    const int wave_no = results[wave.front()].wave;
    reporter.line((wave_no == 0 ? std::string("canary") : "wave " + std::to_string(wave_no)) + ": " + names, "");
    std::vector<NodeRun> runs(wave.size());
    std::vector<std::thread> threads;
    // While the observer restarts in this wave it cannot vouch for its wave-mates: each is then
    // confirmed by its own members list.
    const bool observer_in_wave =
        std::any_of(wave.begin(), wave.end(), [&](size_t i) { return targets[i].self; });
    for (size_t n = 0; n < wave.size(); ++n) {
      const RolloutTarget& t = targets[wave[n]];
      threads.emplace_back([&, n, t]() {
        const NodeAddress addr{t.ip, t.http_port};
        SignPolicy p = policy;
        p.require_identity = !o.bearer;
        p.expected_node_id = t.node_id;
        const std::optional<NodeAddress> watcher =
            observer_in_wave ? std::nullopt : std::optional<NodeAddress>(observer);
        runs[n] = update_node(addr, t.hostname, image, p, o, false, watcher, reporter, "  " + t.hostname + ": ");
      });
    }
    for (std::thread& th : threads) th.join();
    for (size_t n = 0; n < wave.size(); ++n) {
      NodeResult& r = results[wave[n]];
      const NodeRun& run = runs[n];
      r.outcome = run.outcome;
      r.reason = run.reason;
      r.seconds = run.seconds;
      char secs[32];
      std::snprintf(secs, sizeof(secs), "%.1f s", run.seconds);
      if (run.outcome == NodeOutcome::kFailed) {
        failed = true;
        // Only the first line of a multi-line reason goes into the table; the log has it all.
        reporter.line("  " + r.hostname + ": ", "FAILED after " + std::string(secs) + ": " + run.reason);
        const size_t eol = r.reason.find('\n');
        if (eol != std::string::npos) r.reason = r.reason.substr(0, eol);
      } else if (run.outcome == NodeOutcome::kUpdated) {
        reporter.line("  " + r.hostname + ": ", "updated, back ACTIVE with the new image after " + std::string(secs));
      }
    }
    if (failed) reporter.line("", "stopping the rollout: a node of this wave failed; the nodes not reached keep their image");
  }
  for (const std::vector<RolloutTarget>* list : {&impostors, &skipped}) {
    for (const RolloutTarget& s : *list) {
      NodeResult r;
      r.hostname = s.hostname;
      r.ip = endpoint_text(s.ip, s.http_port);
      r.outcome = list == &impostors ? NodeOutcome::kUnverified : NodeOutcome::kSkipped;
      r.reason = s.status.empty() ? "no address" : s.status;
      results.push_back(r);
    }
  }
  if (o.json) {
    std::cout << json_for_terminal(rollout_to_json(results, image.hashes.image_sha256), 2) << "\n";
  } else {
    std::cout << format_rollout_table(results);
  }
  return rollout_failed(results) ? kExitFailure : kExitOk;
}

int cmd_keygen(const std::string& dir, int bits, bool force) {
  std::string error;
  if (!generate_key_pair(dir, bits, force, &error)) throw CliError{kExitFailure, error};
  std::cout << "wrote " << dir << "/private.key (RSA-" << bits << ", PEM, mode 0600: keep it secret, it signs updates)\n"
            << "wrote " << dir << "/public.key  (PEM: give it to the nodes, e.g. spored --ota-public-key-file "
            << dir << "/public.key)\n";
  return kExitOk;
}

int cmd_sign(const std::string& file, const std::string& key, const std::optional<std::string>& out, bool force,
             bool allow_downgrade) {
  const std::string target = out ? *out : file + ".signed";
  std::string error, marked;
  size_t sig_bytes = 0;
  if (!sign_image(file, key, target, force, &sig_bytes, &error, allow_downgrade, &marked)) {
    throw CliError{kExitFailure, error};
  }
  if (allow_downgrade) {
    std::cout << "version slot marked for downgrades: '" << terminal_safe(marked)
              << "' (a node installs it over a newer version only when the request also allows a downgrade)\n";
  }
  ImageFile image;
  if (!inspect_image(target, &image, &error)) throw CliError{kExitFailure, error};
  std::cout << "wrote " << target << ": " << format_bytes(image.layout.image_bytes) << " image + " << sig_bytes
            << "-byte signature + 4-byte length (ESP8266 signed-update format); image sha256 "
            << image.hashes.image_sha256 << "\n";
  return kExitOk;
}

int cmd_verify(const std::string& file, const std::string& key) {
  std::string error;
  if (!verify_image(file, key, &error)) throw CliError{kExitFailure, file + ": " + error};
  std::cout << file << ": signature OK (" << key << ")\n";
  return kExitOk;
}

}  // namespace cli
}  // namespace spore
