#include "daemon.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "posix/openapi_route.h"
#include "posix/ota_trial.h"
#include "posix/version.h"
#include "signals.h"
#include "spore_dashboard_asset.h"  // generated in the build tree by tools/embed_asset.py

namespace spored {

namespace {

using spore::LogLevel;
namespace px = spore::posix;

/// spored takes this many datagrams per pass: its kernel queue is deep and its loop wakes on the
/// socket (limits.h, SPORE_UDP_DATAGRAMS_PER_PASS, is the ESP8266's 8).
constexpr uint16_t kDatagramsPerPass = 64;
/// The loop waits for a datagram at most this long between passes.
constexpr uint32_t kMaxWaitMs = 20;
/// A trial's REST self-probe gives up after this long.
constexpr uint32_t kProbeTimeoutMs = 1000;

}  // namespace

Daemon::Daemon(const Options& opt, px::StderrLogSink& log, Updates& updates, px::StateStore& state, const Identity& id)
    : opt_(opt),
      log_(log),
      updates_(updates),
      state_(state),
      id_(id),
      system_(id.node.node_id),
      node_(opt.config, spore::NodePorts{clock_, random_, system_, udp_, updates.flash(), &log, nullptr, kDatagramsPerPass}),
      mqtt_client_(&log),
      mqtt_(node_.context(), node_.api(), mqtt_client_),
      url_fetch_(node_.ota(), core_mutex_, clock_, &log),
      http_(node_.api(), core_mutex_, &log) {}

int Daemon::begin(const Secrets& secrets) {
  std::string error;
  if (!opt_.self_test && !udp_.open(opt_.bind_ip, opt_.udp_port, &error)) {
    std::fprintf(stderr, "spored: %s\n", error.c_str());
    return 1;
  }
  spore::RestApi& api = node_.api();
  if (!api.set_api_token(id_.token)) {
    std::fprintf(stderr, "spored: the API token in %s must be 1-%d characters of A-Z a-z 0-9 - . _ ~ + / =\n",
                 id_.token_where.c_str(), SPORE_MAX_TOKEN_LEN);
    return 2;
  }
  if (!id_.token_path.empty()) api.set_token_location(id_.token_path.c_str());
  api.set_bearer_allowed(!opt_.no_bearer);
  api.set_restart_handler(spore::Delegate<void()>(&request_restart));
  if (!secrets.ota_public_key_pem.empty()) node_.ota_session().set_public_key_pem(secrets.ota_public_key_pem);
  if (!node_.begin({id_.node.node_id, id_.node.incarnation, id_.self_ip, id_.hostname}, updates_.firmware())) {
    return 1;  // logged why
  }
  updates_.attach(node_);
  spore::Membership& membership = node_.membership();
  node_.set_cluster_key(secrets.cluster_key);
  membership.set_accept_key(secrets.accept_key);
  for (const JoinTarget& j : opt_.join) {
    if (!membership.add_join_address(j.ip, j.port)) {
      log_.logf(LogLevel::kWarn, "join list full: %s:%u ignored", px::ipv4_to_string(j.ip).c_str(), j.port);
    }
  }
  node_.start_membership();
  updates_.report_rollback(node_.context());
  spore::NodeServices services;
  services.dashboard_gzip = spore::generated::kDashboardGzip;
  services.dashboard_bytes = spore::generated::kDashboardGzipBytes;
  services.dashboard_csp = spore::generated::kDashboardCsp;
  services.event_sink = spore::EventApi::Sink::bind<px::HttpServer, &px::HttpServer::send_event>(&http_);
  node_.begin_services(services);
  // GET /openapi.json: the API description (docs/openapi.json); Linux nodes only.
  if (!px::serve_openapi(node_.api())) log_.logf(LogLevel::kWarn, "GET /openapi.json not served: the api registry is full");
  mqtt_password_ = secrets.mqtt_password;
  if (!begin_mqtt()) {
    membership.leave();
    return 2;
  }
  return -1;
}

int Daemon::self_test() {
  static char buffer[16 * 1024];
  for (const char* path : {"/api/node/status", "/api/cluster/members"}) {
    spore::BufferJsonOutput out(buffer, sizeof buffer);
    spore::HttpRequest req;
    req.method = spore::HttpMethod::kGet;
    req.path = path;
    const int status = node_.api().handle(req, out);
    if (status != 200 || out.overflowed()) {
      std::fprintf(stderr, "spored: self-test: GET %s answered %d\n", path, status);
      return 1;
    }
  }
  std::printf("%s\n", px::self_test_line(px::firmware_version()).c_str());
  return 0;
}

void Daemon::log_start() {
  const px::NodeState& n = id_.node;
  // Only once every socket is bound (start_servers()): a spored that fails to bind never says it started.
  log_.logf(LogLevel::kInfo, "spored %s started: node %s id %08x incarnation %u (boot %u%s), state dir %s", px::firmware_version(),
            id_.hostname.c_str(), static_cast<unsigned>(n.node_id), static_cast<unsigned>(n.incarnation),
            static_cast<unsigned>(n.boot_count), n.first_start ? ", first start" : "", state_.dir().c_str());
  const spore::Config& c = opt_.config;
  log_.logf(LogLevel::kInfo,
            "bind %s, UDP %u (broadcast %s), HTTP %u, profile %s (inactive %u ms, dead %u ms), liveness %s%s%s",
            opt_.bind.c_str(), opt_.udp_port, px::ipv4_to_string(udp_.broadcast_ip()).c_str(), opt_.http_port,
            opt_.profile.c_str(), static_cast<unsigned>(c.inactive_after_ms), static_cast<unsigned>(c.dead_after_ms),
            c.liveness == spore::Liveness::kDigest ? "digest" : "broadcast",
            opt_.cluster_key_file.empty() ? ", cluster key: none" : ", cluster key: set",
            opt_.cluster_key_accept_file.empty() ? "" : ", accept key: set (key rotation)");
  // Open mode where other hosts can reach the node: anyone on that network can forge members.
  if (opt_.cluster_key_file.empty() && (opt_.bind_ip >> 24) != 127) {
    log_.logf(LogLevel::kWarn,
              "cluster: OPEN mode (no --cluster-key-file) on %s: any host on this network can forge members, "
              "suspicions and events; give every node the same key (docs/security.md \"Keys\")",
              opt_.bind.c_str());
  }
  if (!opt_.join.empty()) {
    std::string list;
    for (const JoinTarget& j : opt_.join) {
      list += (list.empty() ? "" : ", ") + px::ipv4_to_string(j.ip) + ":" + std::to_string(j.port);
    }
    log_.logf(LogLevel::kInfo, "join list: %s", list.c_str());
  }
  log_.logf(opt_.no_api_token ? LogLevel::kWarn : LogLevel::kInfo, "API token: %s%s", id_.token_where.c_str(),
            opt_.no_bearer ? " (request proofs only: --no-bearer)" : "");
  updates_.log_image(opt_, node_.ota_session());
  const std::string url_host = opt_.bind_ip != 0 ? opt_.bind : px::ipv4_to_string(id_.self_ip);
  log_.logf(LogLevel::kInfo, "REST: http://%s:%u/api/node/status  http://%s:%u/api/cluster/members", url_host.c_str(),
            opt_.http_port, url_host.c_str(), opt_.http_port);
}

bool Daemon::pass(uint32_t* wait_ms) {
  std::lock_guard<std::mutex> lock(core_mutex_);
  const uint32_t now_ms = clock_.now_ms();
  *wait_ms = node_.loop();  // the watchdog (none), pass timing, datagrams, due tasks, upload stalls
  url_fetch_.poll();
  mqtt_client_.poll(now_ms);
  if (node_.ota().restart_pending()) request_restart();
  std::string error;
  if (!state_.record_incarnation(id_.node, node_.context().self().incarnation, &error)) {
    log_.logf(LogLevel::kWarn, "state: %s", error.c_str());
  }
  return updates_.probe_due(node_.context());
}

void Daemon::run() {
  while (stop_signal().load() == 0 && !restart_requested()) {
    uint32_t wait_ms = 0;
    if (pass(&wait_ms)) {
      // Outside the mutex: the HTTP worker that answers needs it.
      const bool answered = px::http_get_ok(opt_.bind_ip, opt_.http_port, "/api/node/status", kProbeTimeoutMs);
      std::lock_guard<std::mutex> lock(core_mutex_);
      updates_.probe_done(node_.context(), answered);
    }
    udp_.wait_readable(static_cast<int>(std::min(wait_ms, kMaxWaitMs)));
  }
}

int Daemon::finish(char** argv) {
  const bool restart = stop_signal().load() == 0 && restart_requested();
  bool new_image = false;
  size_t peers_at_update = 0;
  // A restart keeps an image on trial on trial (same pid, same guardian); otherwise the node's
  // executable, the proven image.
  std::string exec_path;
  {
    std::lock_guard<std::mutex> lock(core_mutex_);
    new_image = restart && node_.ota().restart_pending();
    peers_at_update = active_peers(node_.context());
    exec_path = updates_.restart_path();
  }
  if (restart) {
    log_.logf(LogLevel::kInfo, "%s: leaving the cluster and executing %s",
              new_image ? "new firmware installed" : "restart requested (REST or MQTT)",
              (new_image ? updates_.trial_file() : exec_path).c_str());
  } else {
    log_.logf(LogLevel::kInfo, "%s: leaving the cluster", strsignal(stop_signal().load()));
    updates_.stopped();
  }
  leave(restart);
  const spore::MembershipStats& s = node_.membership().stats();
  log_.logf(LogLevel::kInfo, "sent %u datagrams (%u B), received %u (%u B), rejected %u, send failures %u",
            s.datagrams_sent, s.bytes_sent, s.datagrams_received, s.bytes_received, s.rejected_total, s.send_failures);
  udp_.close();
  state_.close();
  if (!restart) return 0;
  // A SIGTERM from now until the new image's install_signals() would kill it before it could leave
  // gracefully (and an image on trial would be rolled back and restarted): it stays pending until
  // then. One that came before is seen here.
  block_stop_signals();
  if (stop_signal().load() != 0) {
    // Stopped while restarting: the stop wins. A staged image is removed at the next start; an
    // image on trial is set aside by its guardian.
    log_.logf(LogLevel::kInfo, "%s during the restart: not restarting", strsignal(stop_signal().load()));
    updates_.restart_cancelled();
    return 0;
  }
  if (new_image) exec_path = updates_.launch_new_image(node_.ota_session(), peers_at_update, opt_);
  execv(exec_path.c_str(), argv);
  log_.logf(LogLevel::kError, "execv(%s) failed: %s; exiting", exec_path.c_str(), std::strerror(errno));
  return 1;
}

}  // namespace spored
