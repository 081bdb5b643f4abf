#pragma once
/// @file daemon.h
/// The running spored: the posix ports, core's spore::Node over them (core/spore/node/node_root.h),
/// the HTTP server (libmicrohttpd, posix/http_server.h), the MQTT client and OTA from a URL, the
/// loop, and the leave at the end.
///
/// Threads: the main thread runs the node (Node::loop(): UDP receive, membership, tasks);
/// libmicrohttpd serves the REST API from its own epoll threads. Core is single-threaded, so both
/// sides hold `core_mutex_` whenever they touch it.

#include <mutex>
#include <string>

#include "identity.h"
#include "options.h"
#include "secrets.h"
#include "updates.h"
#include "posix/clock.h"
#include "posix/http_server.h"
#include "posix/log_sink.h"
#include "posix/mqtt_client.h"
#include "posix/ota_url_fetch.h"
#include "posix/random.h"
#include "posix/state_store.h"
#include "posix/system_info.h"
#include "posix/udp_socket.h"
#include "spore/mqtt/mqtt_bridge.h"
#include "spore/node/node_root.h"

namespace spored {

class Daemon {
 public:
  Daemon(const Options& opt, spore::posix::StderrLogSink& log, Updates& updates, spore::posix::StateStore& state,
         const Identity& id);
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  /// Opens the UDP socket (not for --self-test) and brings the node up in spore::Node's order:
  /// REST and OTA, the cluster, the services, MQTT. -1 to go on, else the exit code (logged why).
  int begin(const Secrets& secrets);
  /// spored --self-test, once the node is assembled: the documents a client asks first, through
  /// the same RestApi the HTTP server uses, then the line the updating node checks.
  int self_test();
  /// Starts the HTTP server and OTA from a URL, then logs the start lines. -1 to go on, else the
  /// exit code.
  int start_servers();
  /// The loop, until a stop signal or a restart request.
  void run();
  /// Leaves the cluster and stops the servers; on a restart exec()s the next image (returns only
  /// when that fails). The exit code.
  int finish(char** argv);

 private:
  bool begin_mqtt();
  void log_start();
  /// One pass under the mutex: the node, the clients, the state; whether a trial probe is due.
  bool pass(uint32_t* wait_ms);
  void leave(bool restart);

  const Options& opt_;
  spore::posix::StderrLogSink& log_;
  Updates& updates_;
  spore::posix::StateStore& state_;
  const Identity& id_;
  spore::posix::MonotonicClock clock_;
  spore::posix::SystemRandom random_;
  spore::posix::LinuxSystemInfo system_;
  spore::posix::UdpSocket udp_;
  spore::Node node_;
  spore::posix::MqttClient mqtt_client_;
  spore::MqttBridge mqtt_;
  std::mutex core_mutex_;
  spore::posix::OtaUrlFetch url_fetch_;
  spore::posix::HttpServer http_;
  std::string mqtt_password_;
};

}  // namespace spored
