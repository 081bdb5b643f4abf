#include "ota_node.h"

#include <fcntl.h>
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "bounded_http.h"
#include "cli_format.h"
#include "terminal_safe.h"
#include "transport_error.h"

namespace spore {
namespace cli {

using Json = nlohmann::ordered_json;

double seconds_since(OtaClock::time_point t0) {
  return std::chrono::duration<double>(OtaClock::now() - t0).count();
}

std::optional<Json> fetch_json(const NodeAddress& addr, const std::string& path, double timeout_s, std::string* why,
                               bool* named) {
  const BoundedAnswer res = bounded_request(addr, timeout_s, "GET", path);
  if (named != nullptr) *named = !res.unresolved.empty();
  if (!res.ok()) {
    if (why != nullptr) *why = res.why(timeout_s);
    return std::nullopt;
  }
  if (const std::optional<std::string> other = not_spore_answer(addr.base_url() + path, res.content_type, res.body)) {
    if (why != nullptr) *why = *other;
    if (named != nullptr) *named = true;
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

std::optional<int64_t> int_field(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

std::string short_hash(const std::string& hex) { return hex.empty() ? "?" : terminal_safe(hex.substr(0, 12)); }

namespace {

/// The upload's request target: the query asks a node to install a signed image older than its own
/// (docs/ota.md, "Downgrades"); a request proof signs the whole target, query included.
std::string update_target(const OtaCommonOptions& o) {
  return o.allow_downgrade ? "/api/node/update?allow_downgrade=1" : "/api/node/update";
}

/// The node's answer to an upload.
struct UploadAnswer {
  int status = 0;
  std::string body;
};

/// The Authorization header for one upload request (a fresh request proof each call), or nullopt
/// with `why` when the node cannot be authorized (then nothing is sent).
using Authorizer = std::function<std::optional<std::string>(std::string* why)>;

/// One upload of an image to POST /api/node/update, streamed from the file.
class Upload {
 public:
  Upload(const NodeAddress& addr, const ImageFile& image, const OtaCommonOptions& o, Reporter& reporter,
         const std::string& prefix)
      : addr_(addr),
        image_(image),
        o_(o),
        reporter_(reporter),
        prefix_(prefix),
        answer_deadline_s_(std::max(o.timeout_s, o.http_timeout_s)) {}

  /// The node's answer, or nullopt with `why`. `authorize` gives each request its own proof.
  std::optional<UploadAnswer> send(const Authorizer& authorize, std::string* why) {
    const std::optional<std::string> authorization = authorize(why);
    if (!authorization) return std::nullopt;
    fd_ = ::open(image_.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      *why = "cannot open " + image_.path;
      return std::nullopt;
    }
    std::random_device rd;
    const uint64_t rnd = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    const std::string base = image_.path.substr(image_.path.find_last_of('/') + 1);
    const MultipartFrame frame = multipart_frame(multipart_boundary(rnd), "firmware", base);
    head_ = o_.raw ? std::string() : frame.head;
    tail_ = o_.raw ? std::string() : frame.tail;
    total_ = head_.size() + image_.size_bytes + tail_.size();
    content_type_ = o_.raw ? "application/octet-stream" : frame.content_type;
    t0_ = OtaClock::now();
    reporter_.progress(prefix_, throttle_, 0, image_.size_bytes, 0);
    httplib::Client client(addr_.host, addr_.port);
    set_timeouts(client, o_.http_timeout_s, answer_deadline_s_);
    // The answer is bounded in size (bounded_http.h). The upload's time is bounded by the stall
    // limit (--timeout per read/write), as a slow link legitimately takes long for a big image; the
    // answer's, once the last byte is sent, by answer_deadline_s_ as a whole (a node trickling its
    // answer kept the CLI forever: issue 18 attack, finding A).
    RequestGuard guard(client, 1e9, static_cast<uint64_t>(max_answer_bytes()));
    // No head callback for an upload in cpp-httplib 0.11's Post: the body allowance from the start.
    guard.head_complete();
    httplib::ContentProvider provider = [&](size_t offset, size_t length, httplib::DataSink& sink) -> bool {
      return provide(offset, length, sink, guard);
    };
    httplib::Headers headers;
    if (!authorization->empty()) headers.emplace("Authorization", *authorization);
    httplib::Result res = client.Post(update_target(o_), headers, static_cast<size_t>(total_), provider, content_type_);
    guard.end();
    ::close(fd_);
    reporter_.end_bar();
    if (!res) return explain_failure(res.error(), guard, authorize, why);
    return UploadAnswer{res->status, res->body};
  }

 private:
  /// The body is head ‖ file ‖ tail; writes the segment `offset` falls in, at most one buffer.
  bool provide(size_t offset, size_t length, httplib::DataSink& sink, RequestGuard& guard) {
    if (offset < head_.size()) {
      const size_t n = std::min(length, head_.size() - offset);
      return sink.write(head_.data() + offset, n);
    }
    const uint64_t file_bytes = image_.size_bytes;
    const uint64_t in_file = offset - head_.size();
    if (in_file < file_bytes) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>({length, buf_.size(), file_bytes - in_file}));
      const ssize_t n = ::pread(fd_, buf_.data(), want, static_cast<off_t>(in_file));
      if (n <= 0) {
        read_failed_ = true;
        return false;
      }
      if (!sink.write(buf_.data(), static_cast<size_t>(n))) return false;
      file_sent_ = in_file + static_cast<uint64_t>(n);
      reporter_.progress(prefix_, throttle_, file_sent_, file_bytes, seconds_since(t0_));
      if (head_.size() + file_sent_ == total_) guard.restart_deadline(answer_deadline_s_);  // --raw: no tail
      return true;
    }
    const size_t tail_off = static_cast<size_t>(in_file - file_bytes);
    const size_t n = std::min(length, tail_.size() - tail_off);
    if (!sink.write(tail_.data() + tail_off, n)) return false;
    if (tail_off + n == tail_.size()) guard.restart_deadline(answer_deadline_s_);
    return true;
  }

  /// The request got no answer (`error`): why, or the node's refusal when a probe explains it.
  std::optional<UploadAnswer> explain_failure(httplib::Error error, const RequestGuard& guard,
                                              const Authorizer& authorize, std::string* why) {
    if (read_failed_) {
      *why = "cannot read " + image_.path + " while sending it";
      return std::nullopt;
    }
    const uint64_t sent = file_sent_;
    const uint64_t file_bytes = image_.size_bytes;
    if (guard.expired()) {
      char secs[32];
      std::snprintf(secs, sizeof secs, "%g", answer_deadline_s_);
      *why = std::string("no complete answer within ") + secs + " s after the upload's last byte (--timeout)";
      return std::nullopt;
    }
    if (guard.too_large()) {
      *why = "the answer is larger than " + std::to_string(max_answer_bytes()) + " bytes (--max-answer-bytes)";
      return std::nullopt;
    }
    if (error == httplib::Error::Connection || error == httplib::Error::ConnectionTimeout) {
      *why = "cannot reach the node: " + describe_transport_error(error);
      return std::nullopt;
    }
    // The node may have answered an error and closed before reading everything (401, 413, 415...):
    // the answer is lost to the client, so ask again with an empty body, which changes nothing.
    std::string what = sent < file_bytes ? "the connection broke after " + format_bytes(sent) + " of " +
                                               format_bytes(file_bytes) + " (" + describe_transport_error(error) + ")"
                                         : "no answer after the upload (" + describe_transport_error(error) + ")";
    // The first request's proof is spent (or was refused): the probe gets its own.
    std::string probe_why;
    const std::optional<std::string> probe_auth = authorize(&probe_why);
    if (probe_auth) {
      httplib::Headers probe_headers;
      if (!probe_auth->empty()) probe_headers.emplace("Authorization", *probe_auth);
      const BoundedAnswer again =
          bounded_request(addr_, o_.http_timeout_s, "POST", update_target(o_), probe_headers, "", content_type_);
      if (again.ok() && (again.status == 401 || again.status == 403 || again.status == 409)) {
        // Only a refusal that does not depend on the body (token, another upload running) explains
        // the first attempt; an empty body gets 400 from a node that would take the upload.
        return UploadAnswer{again.status, again.body};
      }
    }
    *why = what + "; see the node's log";
    return std::nullopt;
  }

  const NodeAddress& addr_;
  const ImageFile& image_;
  const OtaCommonOptions& o_;
  Reporter& reporter_;
  const std::string& prefix_;
  const double answer_deadline_s_;
  int fd_ = -1;
  std::string head_, tail_, content_type_;
  uint64_t total_ = 0;
  std::vector<char> buf_ = std::vector<char>(64 * 1024);
  ProgressThrottle throttle_;
  OtaClock::time_point t0_;
  std::atomic<uint64_t> file_sent_{0};
  bool read_failed_ = false;
};

/// Waits for `addr` to come back after an accepted update: a new incarnation (or an observed
/// outage) with the new image hash in its status, then ACTIVE in `observer`'s members list (or its
/// own, when observer is nullopt).
void wait_back(const NodeAddress& addr, const ImageFile& image, const OtaCommonOptions& o,
               const std::optional<NodeAddress>& observer, NodeRun& run, Reporter& reporter,
               const std::string& prefix) {
  const OtaClock::time_point t0 = OtaClock::now();
  const double poll_timeout = std::min(o.http_timeout_s, 2.0);
  bool seen_down = false, answered_new = false, announced_down = false;
  std::string last;
  while (seconds_since(t0) < o.timeout_s) {
    // 100 ms: a wave waits for its slowest node, so the poll period adds to every wave.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::string why;
    std::optional<Json> status = fetch_json(addr, "/api/node/status", poll_timeout, &why);
    if (!status) {
      seen_down = true;
      if (!announced_down) {
        reporter.line(prefix, "restarting (not answering)");
        announced_down = true;
      }
      last = "it did not answer since it accepted the image";
      continue;
    }
    const std::string hash = json_string(*status, "imageSha256");
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
      run.version = json_string(*status, "firmwareVersion");
    }
    // A Linux node runs a new image on trial until it proves healthy, and may still return to its
    // previous one (docs/ota.md §11): the next wave waits for the verdict.
    if (status->contains("otaTrial") && (*status)["otaTrial"].is_boolean() && (*status)["otaTrial"].get<bool>()) {
      last = "back with the new image, still on trial (proving healthy)";
      continue;
    }
    const NodeAddress& watcher = observer ? *observer : addr;
    std::optional<Json> members = fetch_json(watcher, "/api/cluster/members", poll_timeout, &why);
    if (!members) {
      last = "back with the new image, but " + watcher.to_string() + " does not answer: " + why;
      continue;
    }
    std::string detail;
    const std::string host = run.hostname.empty() ? json_string(*status, "hostname") : run.hostname;
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

/// The line for an accepted upload: "accepted (HTTP 200, signature verified, restart: ...)".
std::string accepted_line(int status, const Json& body) {
  std::string accepted = "accepted (HTTP " + std::to_string(status);
  if (body.is_object()) {
    if (body.contains("signed") && body["signed"].is_boolean()) {
      accepted += body["signed"].get<bool>() ? ", signature verified" : ", unsigned";
    }
    const std::string restart = body.contains("restart") && !body["restart"].is_string() ? body["restart"].dump()
                                                                                         : json_string(body, "restart");
    if (!restart.empty()) accepted += ", restart: " + terminal_safe(restart);
  }
  accepted += ")";
  return accepted;
}

/// Checks, uploads and reads the answer; false (with run.reason) when the node did not take the image.
bool send_image(const NodeAddress& addr, const ImageFile& image, const SignPolicy& policy, const OtaCommonOptions& o,
                NodeRun& run, Reporter& reporter, const std::string& prefix) {
  reporter.line(prefix, "uploading " + format_bytes(image.size_bytes) + (o.raw ? " (raw)" : "") + " to " +
                            addr.base_url() + update_target(o));
  uint8_t file_sha[32];
  sha256_from_hex(image.hashes.file_sha256, file_sha);
  bool token_used = false;
  const Authorizer authorize = [&](std::string* sign_why) -> std::optional<std::string> {
    std::optional<Signed> s =
        sign_request(addr, o.http_timeout_s, policy, HttpMethod::kPost, update_target(o), file_sha, sign_why);
    if (!s) {
      *sign_why = "not sent: the node at " + addr.to_string() + ": " + *sign_why;
      return std::nullopt;
    }
    token_used = s->token_used;
    return s->authorization;
  };
  std::string why;
  std::optional<UploadAnswer> answer = Upload(addr, image, o, reporter, prefix).send(authorize, &why);
  if (!answer) {
    run.reason = why;
    return false;
  }
  if (answer->status < 200 || answer->status > 299) {
    run.reason = describe_update_error(answer->status, answer->body, token_used);
    return false;
  }
  Json body = parse_node_json(answer->body);
  if (body.is_object()) {
    const std::string node_sha = json_string(body, "sha256");
    if (!node_sha.empty() && !image_hash_matches(node_sha, image.hashes)) {
      run.reason = "the node computed sha256 " + short_hash(node_sha) + " for the upload, the file has " +
                   short_hash(image.hashes.image_sha256) + " (damaged in transit?)";
      return false;
    }
  }
  reporter.line(prefix, accepted_line(answer->status, body));
  return true;
}

}  // namespace

NodeRun update_node(const NodeAddress& addr, const std::string& expected_hostname, const ImageFile& image,
                    const SignPolicy& policy, const OtaCommonOptions& o, bool no_wait,
                    const std::optional<NodeAddress>& observer, Reporter& reporter, const std::string& prefix) {
  NodeRun run;
  run.hostname = expected_hostname;
  const OtaClock::time_point t0 = OtaClock::now();
  try {
    std::string why;
    std::optional<Json> before = fetch_json(addr, "/api/node/status", o.http_timeout_s, &why);
    if (!before) {
      run.reason = "unreachable: " + why;
    } else {
      if (run.hostname.empty()) run.hostname = json_string(*before, "hostname");
      run.old_incarnation = int_field(*before, "incarnation").value_or(-1);
      run.old_hash = json_string(*before, "imageSha256");
      if (!o.force && image_hash_matches(run.old_hash, image.hashes)) {
        run.outcome = NodeOutcome::kUpToDate;
        run.new_hash = run.old_hash;
        reporter.line(prefix, "already runs this image (" + short_hash(run.old_hash) +
                                  "); not uploaded (--force sends it anyway)");
      } else if (send_image(addr, image, policy, o, run, reporter, prefix)) {
        if (no_wait) {
          run.outcome = NodeOutcome::kUpdated;
          run.upload_only = true;
        } else {
          reporter.line(prefix,
                        "waiting up to " + format_duration(o.timeout_s) + " for it to come back with the new image");
          wait_back(addr, image, o, observer, run, reporter, prefix);
        }
      }
    }
  } catch (const std::exception& e) {
    run.outcome = NodeOutcome::kFailed;
    run.reason = e.what();
  }
  run.seconds = seconds_since(t0);
  return run;
}

}  // namespace cli
}  // namespace spore
