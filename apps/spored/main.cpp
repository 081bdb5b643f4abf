// spored: the SPORE node daemon for Linux (docs/linux-node.md).
//
// Threads: the main thread runs the node (ctx.loop(), UDP receive, membership); libmicrohttpd
// serves the REST API from its own epoll threads (platform/posix/http_server.h). Core is
// single-threaded, so both sides hold `core_mutex` whenever they touch it.

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "options.h"
#include "ota_guardian_main.h"
#include "posix/clock.h"
#include "posix/executable_flash_target.h"
#include "posix/http_server.h"
#include "posix/log_sink.h"
#include "posix/mqtt_client.h"
#include "posix/ota_guardian.h"
#include "posix/ota_trial.h"
#include "posix/ota_url_fetch.h"
#include "posix/private_file.h"
#include "posix/random.h"
#include "posix/state_store.h"
#include "posix/system_info.h"
#include "posix/udp_socket.h"
#include "posix/version.h"
#include "spore/integrations/event_api.h"
#include "spore/auth/hmac_sha256.h"
#include "spore/cluster/membership.h"
#include "spore/integrations/metrics.h"
#include "spore/mqtt/mqtt_bridge.h"
#include "spore/node/node_context.h"
#include "spore/ota/ota.h"
#include "spore/ota/ota_upload.h"
#include "spore/http/rest_api.h"
#include "spore/device/udp_intake.h"
#include "spore_dashboard_asset.h"  // generated in the build tree by tools/embed_asset.py

namespace {

using spore::LogLevel;
namespace px = spore::posix;

std::atomic<int> g_stop_signal{0};
std::atomic<bool> g_restart_requested{false};

void on_signal(int sig) { g_stop_signal.store(sig); }

void install_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll() returns EINTR and the loop looks at the flag at once
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // A restart blocks them across its exec() (see the end of main): delivered now, to the handler.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigprocmask(SIG_UNBLOCK, &stop, nullptr);
}

void request_restart() { g_restart_requested.store(true); }

/// The address peers will see for a node bound to 0.0.0.0: the first non-loopback IPv4
/// address of an interface that is up, else 127.0.0.1.
uint32_t primary_ipv4() {
  uint32_t result = 0x7F000001u;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return result;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    if ((i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & IFF_LOOPBACK) != 0) continue;
    result = ntohl(reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr);
    break;
  }
  freeifaddrs(list);
  return result;
}

std::string default_hostname(uint32_t bind_ip, uint32_t node_id) {
  char fallback[24];
  std::snprintf(fallback, sizeof fallback, "spored-%08x", static_cast<unsigned>(node_id));
  // Several nodes on one host (127.0.0.2, .3, ...) would all carry the system hostname.
  if ((bind_ip >> 24) == 127) return fallback;
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return fallback;
  std::string h(name);
  const size_t dot = h.find('.');
  if (dot != std::string::npos) h.resize(dot);
  return spored::valid_hostname(h) ? h : fallback;
}

/// Reads a secret from `path`: trimmed content; warns when group/others may read it. Refuses a
/// symbolic link, a file that is not regular, and one another user can write (private_file.h).
bool read_secret_file(const std::string& path, const char* what, std::string* out, px::StderrLogSink& log) {
  std::string why;
  const px::PrivateRead got = px::read_private_file(what, path, out, 4096, &why);
  if (got != px::PrivateRead::kOk) {
    if (got == px::PrivateRead::kMissing) why = std::string(what) + " " + path + ": cannot read: " + std::strerror(ENOENT);
    std::fprintf(stderr, "spored: %s\n", why.c_str());
    return false;
  }
  *out = std::string(px::trim_ascii(*out));
  if (out->empty()) {
    std::fprintf(stderr, "spored: %s %s is empty\n", what, path.c_str());
    return false;
  }
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    log.logf(LogLevel::kWarn, "%s %s is readable by group/others (mode %03o); chmod 600 it", what, path.c_str(),
             static_cast<unsigned>(st.st_mode & 0777));
  }
  return true;
}

/// Reads a cluster key file (hex) into `key`; an empty path leaves the key empty. False with the
/// reason on stderr.
bool read_cluster_key(const std::string& path, const char* what, spore::HmacKey* key, px::StderrLogSink& log) {
  if (path.empty()) return true;
  std::string hex;
  if (!read_secret_file(path, what, &hex, log)) return false;
  if (!key->set_hex(hex)) {
    std::fprintf(stderr, "spored: %s %s must hold %zu to %d bytes as hex digits (e.g. from 'openssl rand -hex 32')\n",
                 what, path.c_str(), spore::HmacKey::kMinKeyBytes, SPORE_MAX_KEY_BYTES);
    return false;
  }
  return true;
}

/// Reads the OTA public key file and installs it in `session`; false with the reason on stderr.
bool load_ota_public_key(const std::string& path, spore::OtaSession& session) {
  std::string pem;
  if (!px::read_small_file(path, &pem, 16 * 1024)) {
    std::fprintf(stderr, "spored: OTA public key file %s: cannot read: %s\n", path.c_str(), std::strerror(errno));
    return false;
  }
  if (pem.find("PRIVATE KEY") != std::string::npos) {
    std::fprintf(stderr,
                 "spored: OTA public key file %s holds a private key; give nodes only the public key "
                 "('openssl rsa -in private.key -pubout -out public.key') and keep the private one for signing\n",
                 path.c_str());
    return false;
  }
  if (!session.set_public_key_pem(pem) && session.refused_key_bits() > 0) {
    std::fprintf(stderr,
                 "spored: OTA public key file %s holds an RSA key of %zu bits; at least %zu are required (a key "
                 "this short can be factored and images forged): make a new pair with 'spore keygen' or "
                 "'openssl genrsa 2048' and sign with it\n",
                 path.c_str(), session.refused_key_bits(), spore::OtaSession::kMinKeyBits);
    return false;
  }
  if (!session.has_public_key()) {
    std::fprintf(stderr,
                 "spored: OTA public key file %s holds no usable RSA public key (expected PEM '-----BEGIN PUBLIC "
                 "KEY-----', 2048-4096 bits, as 'openssl rsa -in private.key -pubout' or 'spore keygen' write)\n",
                 path.c_str());
    return false;
  }
  return true;
}

/// Says why the flash target refused (core only knows the reason code), and what it accepted.
struct FlashTargetLog {
  px::ExecutableFlashTarget* target;
  px::StderrLogSink* log;
  // Only this node's own events carry an OtaEvent; the other nodes' arrive as cluster events.
  void on_ota_failed(const spore::Event& e) {
    if (e.get<spore::OtaEvent>() != nullptr && !target->last_error().empty()) {
      log->logf(LogLevel::kWarn, "ota: %s", target->last_error().c_str());
    }
  }
  void on_ota_finished(const spore::Event& e) {
    if (e.get<spore::OtaEvent>() == nullptr) return;
    log->logf(LogLevel::kInfo, "ota: the new image passed its checks and its trial run ('%s', %u ms)",
              px::self_test_line(target->new_version()).c_str(), static_cast<unsigned>(target->self_test_ms()));
  }
};

/// ACTIVE members other than this node.
size_t active_peers(const spore::NodeContext& ctx) {
  size_t n = 0;
  ctx.members().for_each([&](const spore::Member& m) {
    if (m.status == spore::MemberStatus::kActive && m.node_id != ctx.self().node_id) ++n;
  });
  return n;
}

/// spored --self-test, once the node is assembled: the documents a client asks first, through the
/// same RestApi the HTTP server uses, then the line the updating node checks.
int finish_self_test(spore::RestApi& api) {
  static char buffer[16 * 1024];
  for (const char* path : {"/api/node/status", "/api/cluster/members"}) {
    spore::BufferJsonOutput out(buffer, sizeof buffer);
    spore::HttpRequest req;
    req.method = spore::HttpMethod::kGet;
    req.path = path;
    const int status = api.handle(req, out);
    if (status != 200 || out.overflowed()) {
      std::fprintf(stderr, "spored: self-test: GET %s answered %d\n", path, status);
      return 1;
    }
  }
  std::printf("%s\n", px::self_test_line(px::firmware_version()).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], px::kGuardianFlag) == 0) return spored::guardian_main(argc, argv);
  spored::Options opt;
  const int parsed = spored::parse_options(argc, argv, &opt);
  if (parsed >= 0) return parsed;

  // The path to re-execute on a restart, resolved now: exec'ing "/proc/self/exe" itself would
  // rename the process "exe" in ps/top/pkill.
  std::string self_exe = "/proc/self/exe";
  {
    char path[4096];
    const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n > 0) self_exe.assign(path, static_cast<size_t>(n));
  }
  // An image on trial runs from its trial directory; the node's executable is still the proven
  // image, which updates replace and a restart after the trial starts (docs/ota.md).
  bool from_trial = false;
  const std::string running_exe = self_exe;
  self_exe = px::canonical_executable(self_exe, &from_trial);

  px::StderrLogSink log(opt.log_level);
  install_signals();

  // What this process runs: /proc/self/exe is the image exec()ed, even if the file was replaced
  // or removed since (nodes sharing one executable file, an update in progress).
  uint8_t image_sha256[32] = {};
  uint64_t image_bytes = 0;
  if (!opt.self_test) {
    std::string why;
    if (!px::sha256_file("/proc/self/exe", image_sha256, &image_bytes, &why)) {
      log.logf(LogLevel::kWarn, "cannot hash the running executable (%s); imageSha256 stays empty", why.c_str());
    }
  }
  px::ExecutableFlashTarget flash(self_exe);
  flash.set_max_image_bytes(opt.ota_max_image_bytes);
  // Every image runs `--self-test` with this node's arguments before it is accepted.
  const std::vector<std::string> node_argv(argv, argv + argc);
  flash.set_self_test(argv[0], std::vector<std::string>(argv + 1, argv + argc));
  // The trial runs under the core mutex (OtaSession::finish() -> commit()): a SIGTERM kills it.
  flash.set_cancel_flag(&g_stop_signal);
  spore::OtaSession ota_session(flash);
  if (!opt.ota_public_key_file.empty() && !load_ota_public_key(opt.ota_public_key_file, ota_session)) return 2;

  // ---- identity and secrets ------------------------------------------------------------------
  // Secrets named by flags first: a refused one stops the start before the state dir is touched
  // (no boot counted, no lock made) (issue 18, state-fix 6).
  spore::HmacKey cluster_key, accept_key;
  if (!read_cluster_key(opt.cluster_key_file, "cluster key file", &cluster_key, log) ||
      !read_cluster_key(opt.cluster_key_accept_file, "cluster key accept file", &accept_key, log)) {
    return 2;
  }
  std::string token;
  if (!opt.no_api_token && !opt.api_token_file.empty() &&
      !read_secret_file(opt.api_token_file, "API token file", &token, log)) {
    return 2;
  }
  std::string mqtt_password;
  if (!opt.mqtt_host.empty() && !opt.mqtt_password_file.empty() &&
      !read_secret_file(opt.mqtt_password_file, "MQTT password file", &mqtt_password, log)) {
    return 2;
  }

  px::StateStore state;
  std::string error;
  px::NodeState node;
  if (opt.self_test) {
    // Read only: the running node holds the lock and owns every file.
    if (!px::StateStore::peek(opt.state_dir, &node, &error)) {
      std::fprintf(stderr, "spored: %s\n", error.c_str());
      return 1;
    }
    if (node.node_id == 0) node.node_id = 1;  // a fresh state dir: the id is made at the real start
  } else if (!state.open(opt.state_dir, &error) || !state.start(&node, &error)) {
    std::fprintf(stderr, "spored: %s\n", error.c_str());
    return 1;
  }
  for (const std::string& name : state.removed_temp_files()) {
    log.logf(LogLevel::kInfo, "state: removed %s, the temporary file of an interrupted write", state.path(name).c_str());
  }

  std::string token_where = "none (--no-api-token: the REST API is unauthenticated)";
  std::string token_path;  // where a 401 says the token is (RestApi::set_token_location)
  if (!opt.no_api_token) {
    if (!opt.api_token_file.empty()) {
      token_path = opt.api_token_file;
      token_where = token_path;
    } else if (opt.self_test) {
      if (px::read_private_file("API token file", opt.state_dir + "/api_token", &token, 4096, &error) ==
          px::PrivateRead::kRefused) {
        std::fprintf(stderr, "spored: %s\n", error.c_str());
        return 2;
      }
      token = std::string(px::trim_ascii(token));
    } else {
      bool created = false;
      if (!state.load_or_create_token(&token, &created, &error)) {
        std::fprintf(stderr, "spored: %s\n", error.c_str());
        return 1;
      }
      token_path = state.path("api_token");
      token_where = token_path + (created ? " (created now)" : "");
    }
  }

  const std::string hostname = opt.hostname.empty() ? default_hostname(opt.bind_ip, node.node_id) : opt.hostname;
  log.set_tag(hostname);

  // ---- what an interrupted upload or update left (docs/ota.md) --------------------------------
  px::OtaTrial trial(px::TrialPaths::make(self_exe, node.node_id, opt.state_dir), &log);
  px::TrialRecord rolled_back;
  bool report_rollback = false;
  if (!opt.self_test) {
    for (const std::string& path : flash.remove_stale_temp_files()) {
      log.logf(LogLevel::kInfo, "ota: removed %s, the temporary file of an interrupted upload", path.c_str());
    }
    trial.start(from_trial, image_sha256, px::firmware_version());
    report_rollback = trial.take_rollback(&rolled_back);
  }
  flash.set_installer([&trial](const std::string& staged, std::string* why) { return trial.stage(staged, why); });

  // ---- the node ----------------------------------------------------------------------------
  px::MonotonicClock clock;
  px::SystemRandom random;
  px::LinuxSystemInfo system(node.node_id);
  spore::NodeContext ctx(opt.config, clock, random, system, &log);

  px::UdpSocket udp;
  if (!opt.self_test && !udp.open(opt.bind_ip, opt.udp_port, &error)) {
    std::fprintf(stderr, "spored: %s\n", error.c_str());
    return 1;
  }
  const uint32_t self_ip = opt.bind_ip != 0 ? opt.bind_ip : primary_ipv4();
  if (!ctx.begin({node.node_id, node.incarnation, self_ip, hostname})) return 1;  // logged why
  ctx.set_ota_trial(trial.on_trial());

  spore::RestApi api(ctx);
  if (!api.set_api_token(token)) {
    std::fprintf(stderr, "spored: the API token in %s must be 1-%d characters of A-Z a-z 0-9 - . _ ~ + / =\n",
                 token_where.c_str(), SPORE_MAX_TOKEN_LEN);
    return 2;
  }
  if (!token_path.empty()) api.set_token_location(token_path.c_str());
  api.set_bearer_allowed(!opt.no_bearer);
  api.set_restart_handler(spore::Delegate<void()>(&request_restart));
  if (!api.begin()) return 1;
  spore::OtaUploadHandler ota(ctx, api, ota_session);
  if (!ota.begin()) return 1;  // logged why
  // GET /: the web dashboard (docs/dashboard.md), last so the api list starts with the seed's.
  if (!api.set_dashboard(spore::generated::kDashboardGzip, spore::generated::kDashboardGzipBytes,
                         spore::generated::kDashboardCsp)) {
    log.logf(LogLevel::kWarn, "web dashboard not served: the api registry is full");
  }
  FlashTargetLog flash_log{&flash, &log};
  ctx.on(spore::topics::kOtaFailed, spore::EventHandler::bind<FlashTargetLog, &FlashTargetLog::on_ota_failed>(&flash_log));
  ctx.on(spore::topics::kOtaFinished,
         spore::EventHandler::bind<FlashTargetLog, &FlashTargetLog::on_ota_finished>(&flash_log));
  ctx.set_firmware(px::firmware_version(), image_sha256);
  // Signed images older than this one are refused (docs/ota.md, "Downgrades").
  ota_session.set_running_version(px::firmware_version());
  if (ota_session.has_public_key() && !ota_session.running_version().valid) {
    log.logf(LogLevel::kWarn, "ota: version '%s' has no MAJOR.MINOR.PATCH: signed images are not checked for downgrades",
             px::firmware_version());
  }

  spore::Membership membership(ctx, udp, random);
  membership.set_cluster_key(cluster_key);
  membership.set_accept_key(accept_key);
  for (const spored::JoinTarget& j : opt.join) {
    if (!membership.add_join_address(j.ip, j.port)) {
      log.logf(LogLevel::kWarn, "join list full: %s:%u ignored", px::ipv4_to_string(j.ip).c_str(), j.port);
    }
  }
  membership.set_image_digest(ctx.image_digest());
  membership.begin();
  if (report_rollback) {
    // After begin(): the cluster events bridge forwards ota_* events with an OtaEvent payload.
    log.logf(LogLevel::kWarn, "ota: rolled back: image %s%s%s did not prove healthy: %s; running %s (version %s) again",
             px::short_sha(rolled_back.image_sha256).c_str(), rolled_back.image_version.empty() ? "" : " version ",
             rolled_back.image_version.c_str(), rolled_back.reason.c_str(), px::short_sha(image_sha256).c_str(),
             px::firmware_version());
    spore::OtaEvent event;
    event.error = spore::OtaError::kSelfTestFailed;
    std::memcpy(event.sha256, rolled_back.image_sha256, sizeof event.sha256);
    ctx.fire(px::kOtaRolledBackTopic, event);
  }
  // GET /metrics (docs/metrics.md): public, like GET /api/node/status.
  spore::Metrics metrics(ctx, api);
  metrics.set_membership(&membership);
  // Datagrams over SPORE_MAX_DATAGRAM_BYTES never reach core (the socket drops them); their count
  // goes to /metrics as reason "oversize", as on the ESP8266. Refreshed every loop pass.
  spore::UdpStats udp_stats;
  metrics.set_udp_stats(&udp_stats);
  if (!metrics.begin()) log.logf(LogLevel::kWarn, "GET /metrics not served: the api registry is full");
  // The MQTT bridge (docs/mqtt.md), with --mqtt: polled from the node loop under core_mutex.
  px::MqttClient mqtt_client(&log);
  spore::MqttBridge mqtt(ctx, api, mqtt_client);
  if (!opt.mqtt_host.empty()) {
    error.clear();
    spore::MqttBridgeConfig mqtt_config;
    mqtt_config.cluster = opt.mqtt_cluster.c_str();
    mqtt_config.discovery_prefix = opt.mqtt_discovery_prefix.c_str();
    mqtt_config.state_interval_ms = opt.mqtt_state_interval_s * 1000;
    mqtt_config.model = "Linux";
    mqtt_config.allow_token_payload = opt.mqtt_allow_token_payload;
    metrics.set_mqtt_stats(&mqtt.stats());
    if (!mqtt.begin(mqtt_config) ||  // logged why
        (!opt.self_test &&  // the self-test connects to nothing
         !mqtt_client.start({opt.mqtt_host, opt.mqtt_port, opt.mqtt_username, mqtt_password, opt.mqtt_keepalive_s}, mqtt,
                            &error))) {
      if (!error.empty()) std::fprintf(stderr, "spored: %s\n", error.c_str());
      membership.leave();
      return 2;
    }
    mqtt.set_restart_handler(spore::Delegate<void()>(&request_restart));
  }

  if (opt.self_test) return finish_self_test(api);

  std::mutex core_mutex;
  // MQTT cmd/ota: the image is fetched over HTTP and streamed through the upload path.
  px::OtaUrlFetch url_fetch(ota, core_mutex, clock, &log);
  // From the node's own address, as everything else it sends; bounded (docs/mqtt.md, cmd/ota).
  if (opt.bind_ip != 0) url_fetch.set_source_address(opt.bind);
  url_fetch.set_deadline_ms(opt.ota_url_timeout_s * 1000);
  if (!opt.mqtt_host.empty()) {
    mqtt.set_ota_url_handler(
        spore::Delegate<bool(const char*, bool)>::bind<px::OtaUrlFetch, &px::OtaUrlFetch::start>(&url_fetch));
  }
  px::HttpServer http(api, core_mutex, &log);
  px::HttpServer::Limits limits;
  limits.max_connections = opt.http_max_connections;
  limits.max_connections_per_ip = opt.http_max_connections_per_address;
  http.set_limits(limits);
  // POST /api/cluster/events and the SSE stream (docs/events.md).
  spore::EventApi event_api(ctx, api);
  if (!event_api.begin(spore::EventApi::Sink::bind<px::HttpServer, &px::HttpServer::send_event>(&http))) {
    log.logf(LogLevel::kWarn, "cluster events over HTTP not served: a table is full");
  }
  http.set_event_api(&event_api);
  // The update route reads at most the largest image plus a signature trailer and multipart
  // framing; core checks each upload against the space free at that moment.
  http.set_ota(&ota, &clock,
               static_cast<size_t>(flash.max_image_bytes()) + spore::OtaSession::kTailBytes +
                   spore::OtaUploadHandler::kMultipartOverheadBytes);
  if (!http.start(opt.bind, opt.http_port, &error)) {
    std::fprintf(stderr, "spored: %s\n", error.c_str());
    membership.leave();
    return 1;
  }

  const std::string url_host = opt.bind_ip != 0 ? opt.bind : px::ipv4_to_string(self_ip);
  log.logf(LogLevel::kInfo, "spored %s: node %s id %08x incarnation %u (boot %u%s), state dir %s", px::firmware_version(),
           hostname.c_str(), static_cast<unsigned>(node.node_id), static_cast<unsigned>(node.incarnation),
           static_cast<unsigned>(node.boot_count), node.first_start ? ", first start" : "", state.dir().c_str());
  log.logf(LogLevel::kInfo, "bind %s, UDP %u (broadcast %s), HTTP %u, profile %s (inactive %u ms, dead %u ms)%s%s",
           opt.bind.c_str(), opt.udp_port, px::ipv4_to_string(udp.broadcast_ip()).c_str(), opt.http_port,
           opt.profile.c_str(), static_cast<unsigned>(opt.config.inactive_after_ms),
           static_cast<unsigned>(opt.config.dead_after_ms), cluster_key.empty() ? ", cluster key: none" : ", cluster key: set",
           accept_key.empty() ? "" : ", accept key: set (key rotation)");
  if (!opt.join.empty()) {
    std::string list;
    for (const spored::JoinTarget& j : opt.join) {
      list += (list.empty() ? "" : ", ") + px::ipv4_to_string(j.ip) + ":" + std::to_string(j.port);
    }
    log.logf(LogLevel::kInfo, "join list: %s", list.c_str());
  }
  log.logf(opt.no_api_token ? LogLevel::kWarn : LogLevel::kInfo, "API token: %s%s", token_where.c_str(),
           opt.no_bearer ? " (request proofs only: --no-bearer)" : "");
  {
    char sha_hex[65];
    spore::ota_sha256_hex(image_sha256, sha_hex);
    log.logf(LogLevel::kInfo, "image %s (%llu bytes, sha256 %s); updates: %s, up to %zu bytes now", running_exe.c_str(),
             static_cast<unsigned long long>(image_bytes), sha_hex,
             ota_session.has_public_key() ? ("signed only, key " + opt.ota_public_key_file).c_str()
                                          : "unsigned accepted (no --ota-public-key-file)",
             flash.capacity_bytes());
  }
  log.logf(LogLevel::kInfo, "REST: http://%s:%u/api/node/status  http://%s:%u/api/cluster/members", url_host.c_str(),
           opt.http_port, url_host.c_str(), opt.http_port);

  // ---- the loop ------------------------------------------------------------------------------
  uint8_t datagram[SPORE_MAX_DATAGRAM_BYTES];
  constexpr uint32_t kMaxWaitMs = 20;
  constexpr int kMaxDatagramsPerPass = 64;
  // An image on trial proves itself here (docs/ota.md): up for the stable period, a peer ACTIVE
  // when the node had peers at the update, then its own REST API answering.
  constexpr uint32_t kProbeTimeoutMs = 1000;
  px::TrialHealth health(opt.ota_trial_stable_ms, trial.on_trial() && trial.record().peers > 0);
  while (g_stop_signal.load() == 0 && !g_restart_requested.load()) {
    uint32_t wait_ms;
    bool probe = false;
    uint32_t uptime_ms = 0;
    {
      std::lock_guard<std::mutex> lock(core_mutex);
      wait_ms = ctx.loop();
      ota.poll(clock.now_ms());
      url_fetch.poll();
      mqtt_client.poll(clock.now_ms());
      udp_stats.dropped_oversize = udp.oversized_dropped();
      if (ota.restart_pending()) g_restart_requested.store(true);
      uptime_ms = ctx.uptime_ms();
      if (!opt.self_test && !state.record_incarnation(node, ctx.self().incarnation, &error)) {
        log.logf(LogLevel::kWarn, "state: %s", error.c_str());
      }
      probe = trial.on_trial() && health.probe_due(uptime_ms, active_peers(ctx));
    }
    if (probe) {
      // Outside the mutex: the HTTP worker that answers needs it.
      const bool answered = px::http_get_ok(opt.bind_ip, opt.http_port, "/api/node/status", kProbeTimeoutMs);
      std::lock_guard<std::mutex> lock(core_mutex);
      health.probe_done(uptime_ms, answered);
      std::string why;
      if (!answered || !trial.on_trial()) {
        log.logf(LogLevel::kDebug, "ota: trial: the REST self-probe got no 200 yet");
      } else if (trial.promote(&why)) {
        ctx.set_ota_trial(false);
        log.logf(LogLevel::kInfo, "ota: this image proved healthy after %u ms (REST answering, %zu peers ACTIVE): it is now %s",
                 static_cast<unsigned>(uptime_ms), active_peers(ctx), self_exe.c_str());
      } else {
        log.logf(LogLevel::kWarn, "ota: cannot promote this image: %s", why.c_str());
      }
    }
    wait_ms = std::min(wait_ms, kMaxWaitMs);
    uint32_t src_ip = 0;
    uint16_t src_port = 0;
    size_t n = udp.receive(datagram, sizeof datagram, &src_ip, &src_port, static_cast<int>(wait_ms));
    for (int k = 0; n > 0 && k < kMaxDatagramsPerPass; ++k) {
      {
        std::lock_guard<std::mutex> lock(core_mutex);
        membership.on_datagram(src_ip, src_port, datagram, n);
      }
      n = udp.receive(datagram, sizeof datagram, &src_ip, &src_port, 0);
    }
  }

  // ---- shutdown / restart --------------------------------------------------------------------
  const bool restart = g_stop_signal.load() == 0 && g_restart_requested.load();
  bool new_image = false;
  size_t peers_at_update = 0;
  // A restart keeps an image on trial on trial (same pid, same guardian); otherwise the node's
  // executable, the proven image.
  std::string exec_path = self_exe;
  {
    std::lock_guard<std::mutex> lock(core_mutex);
    new_image = restart && ota.restart_pending();
    peers_at_update = active_peers(ctx);
    if (trial.on_trial()) exec_path = trial.paths().trial_file;
  }
  if (restart) {
    log.logf(LogLevel::kInfo, "%s: leaving the cluster and executing %s",
             new_image ? "new firmware installed" : "restart requested (REST or MQTT)",
             (new_image ? trial.paths().trial_file : exec_path).c_str());
    // stop() waits for in-flight requests, so the 202 has been sent before we leave.
    http.stop();
    url_fetch.cancel();
    {
      std::lock_guard<std::mutex> lock(core_mutex);
      mqtt_client.leave();  // retained "offline", flushed, then DISCONNECT
      membership.leave();
    }
    url_fetch.stop();
  } else {
    log.logf(LogLevel::kInfo, "%s: leaving the cluster", strsignal(g_stop_signal.load()));
    if (trial.on_trial()) {
      trial.mark_stopped();
      log.logf(LogLevel::kWarn, "ota: stopped before this image proved healthy: its guardian sets it aside; the next "
                                "start runs %s (the previous image)", self_exe.c_str());
    }
    // A download in progress ends as aborted (the running image stays): cancelled first, so the
    // LEAVE goes out at once even while it waits on a stalled server; its thread is joined after.
    url_fetch.cancel();
    {
      std::lock_guard<std::mutex> lock(core_mutex);
      mqtt_client.leave();  // retained "offline", flushed, then DISCONNECT
      membership.leave();
    }
    url_fetch.stop();
    http.stop();
  }
  const spore::MembershipStats& s = membership.stats();
  log.logf(LogLevel::kInfo, "sent %u datagrams (%u B), received %u (%u B), rejected %u, send failures %u",
           s.datagrams_sent, s.bytes_sent, s.datagrams_received, s.bytes_received, s.rejected_total,
           s.send_failures);
  udp.close();
  state.close();
  // A SIGTERM from now until the new image's install_signals() would kill it before it could leave
  // gracefully (and an image on trial would be rolled back and restarted): it stays pending until
  // then. One that came before is seen here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  if (restart) sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  if (restart && g_stop_signal.load() != 0) {
    // Stopped while restarting: the stop wins. A staged image is removed at the next start; an
    // image on trial is set aside by its guardian.
    log.logf(LogLevel::kInfo, "%s during the restart: not restarting", strsignal(g_stop_signal.load()));
    trial.mark_stopped();
    return 0;
  }
  if (new_image) {
    px::TrialRecord record;
    std::memcpy(record.image_sha256, ota_session.result().sha256, sizeof record.image_sha256);
    record.image_version = flash.new_version();
    record.peers = static_cast<uint32_t>(peers_at_update);
    if (trial.launch(&record, node_argv, opt.ota_trial_timeout_s * 1000, &error)) {
      exec_path = trial.paths().trial_file;
    } else {
      log.logf(LogLevel::kError, "ota: not switching to the new image: %s; restarting %s", error.c_str(), self_exe.c_str());
      trial.record_rollback(record, "the guardian could not start: " + error, nullptr);
      exec_path = self_exe;
    }
  }
  if (restart) {
    execv(exec_path.c_str(), argv);
    log.logf(LogLevel::kError, "execv(%s) failed: %s; exiting", exec_path.c_str(), std::strerror(errno));
    return 1;
  }
  return 0;
}
