// spored's servers and clients around the node: the MQTT bridge's client (posix/mqtt_client.h),
// OTA from a URL (posix/ota_url_fetch.h) and the HTTP server (posix/http_server.h): how they are
// started against spore::Node and stopped at the end, in the order a graceful leave needs.

#include <cstdio>

#include "daemon.h"
#include "signals.h"

namespace spored {

namespace px = spore::posix;

bool Daemon::begin_mqtt() {
  // The MQTT bridge (docs/mqtt.md), with --mqtt: polled from the node loop under core_mutex.
  if (opt_.mqtt_host.empty()) return true;
  spore::MqttBridgeConfig config;
  config.cluster = opt_.mqtt_cluster.c_str();
  config.discovery_prefix = opt_.mqtt_discovery_prefix.c_str();
  config.state_interval_ms = opt_.mqtt_state_interval_s * 1000;
  config.model = "Linux";
  config.allow_token_payload = opt_.mqtt_allow_token_payload;
  if (!node_.begin_mqtt(mqtt_, config, spore::Delegate<void()>(&request_restart))) return false;  // logged why
  if (opt_.self_test) return true;  // the self-test connects to nothing
  std::string error;
  if (!mqtt_client_.start({opt_.mqtt_host, opt_.mqtt_port, opt_.mqtt_username, mqtt_password_, opt_.mqtt_keepalive_s},
                          mqtt_, &error)) {
    if (!error.empty()) std::fprintf(stderr, "spored: %s\n", error.c_str());
    return false;
  }
  // MQTT cmd/ota: the image is fetched over HTTP and streamed through the upload path.
  mqtt_.set_ota_url_handler(
      spore::Delegate<bool(const char*, bool)>::bind<px::OtaUrlFetch, &px::OtaUrlFetch::start>(&url_fetch_));
  return true;
}

int Daemon::start_servers() {
  // From the node's own address, as everything else it sends; bounded (docs/mqtt.md, cmd/ota).
  if (opt_.bind_ip != 0) url_fetch_.set_source_address(opt_.bind);
  url_fetch_.set_deadline_ms(opt_.ota_url_timeout_s * 1000);
  px::HttpServer::Limits limits;
  limits.max_connections = opt_.http_max_connections;
  limits.max_connections_per_ip = opt_.http_max_connections_per_address;
  http_.set_limits(limits);
  http_.set_event_api(&node_.event_api());
  // The update route reads at most the largest image plus a signature trailer and multipart
  // framing; core checks each upload against the space free at that moment.
  http_.set_ota(&node_.ota(), &clock_,
                static_cast<size_t>(updates_.flash().max_image_bytes()) + spore::OtaSession::kTailBytes +
                    spore::OtaUploadHandler::kMultipartOverheadBytes);
  std::string error;
  if (!http_.start(opt_.bind, opt_.http_port, &error)) {
    std::fprintf(stderr, "spored: %s\n", error.c_str());
    node_.membership().leave();
    return 1;
  }
  log_start();
  return -1;
}

void Daemon::leave(bool restart) {
  // A download in progress ends as aborted (the running image stays): cancelled first, so the
  // LEAVE goes out at once even while it waits on a stalled server; its thread is joined after.
  // On a restart the HTTP server stops first: stop() waits for in-flight requests, so the 202 has
  // been sent before we leave.
  if (restart) http_.stop();
  url_fetch_.cancel();
  {
    std::lock_guard<std::mutex> lock(core_mutex_);
    mqtt_client_.leave();  // retained "offline", flushed, then DISCONNECT
    node_.membership().leave();
  }
  url_fetch_.stop();
  if (!restart) http_.stop();
}

}  // namespace spored
