#include "posix/mqtt_client.h"

#include <errno.h>
#include <mosquitto.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "posix/log_sink.h"
#include "spore/base/ports.h"

namespace spore::posix {

namespace {

/// A CONNECT that gets no CONNACK within this long is abandoned and retried (a broker that
/// accepts TCP but never answers, a filtering middlebox).
constexpr uint32_t kConnectTimeoutMs = 10000;
/// A connection that stayed up this long was a real one: its loss starts the backoff over. A
/// shorter one (kicked by the broker right after connecting) keeps doubling it (issue 18).
constexpr uint32_t kStableConnectionMs = 60000;
/// Packets read per poll() at most: mosquitto_loop() handles about one per call, and the node
/// loop calls poll() ~100-200 times a second, so one packet per pass let 20,000 junk commands
/// queue in the socket ahead of a valid one for ~2 minutes (issue 18). The bridge drops what
/// exceeds its command budget cheaply; this bounds the time one pass spends here.
constexpr int kMaxPacketsPerPoll = 256;

void init_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    mosquitto_lib_init();
    std::atexit([] { mosquitto_lib_cleanup(); });
  });
}

uint32_t steady_ms() {
  return static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

}  // namespace

bool parse_mqtt_url(const std::string& url, std::string* host, uint16_t* port, std::string* error) {
  const std::string scheme = "mqtt://";
  if (url.compare(0, scheme.size(), scheme) != 0) {
    *error = "'" + url + "' is not mqtt://host[:port] (mqtts:// and other schemes are not supported)";
    return false;
  }
  std::string rest = url.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  uint16_t p = 1883;
  std::string h = rest;
  const size_t colon = rest.rfind(':');
  if (colon != std::string::npos) {
    h = rest.substr(0, colon);
    const std::string digits = rest.substr(colon + 1);
    if (digits.empty() || digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos ||
        std::strtoul(digits.c_str(), nullptr, 10) == 0 || std::strtoul(digits.c_str(), nullptr, 10) > 65535) {
      *error = "'" + url + "': the port must be 1-65535";
      return false;
    }
    p = static_cast<uint16_t>(std::strtoul(digits.c_str(), nullptr, 10));
  }
  const bool host_ok = !h.empty() && h.size() <= 253 &&
                       h.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_") ==
                           std::string::npos;
  if (!host_ok) {
    *error = "'" + url + "': expected mqtt://host[:port] with a hostname or IPv4 address (no user:password@, path "
             "or query; use --mqtt-username and --mqtt-password-file)";
    return false;
  }
  *host = h;
  *port = p;
  return true;
}

MqttClient::MqttClient(StderrLogSink* log) : log_(log) {}

MqttClient::~MqttClient() {
  if (mosq_ != nullptr) mosquitto_destroy(mosq_);
}

bool MqttClient::start(const MqttSettings& settings, spore::MqttBridge& bridge, std::string* error) {
  init_library();
  settings_ = settings;
  bridge_ = &bridge;
  mosq_ = mosquitto_new(bridge.client_id(), true, this);
  if (mosq_ == nullptr) {
    *error = std::string("mqtt: cannot create the client: ") + std::strerror(errno);
    return false;
  }
  mosquitto_connect_callback_set(mosq_, &MqttClient::on_connect_cb);
  mosquitto_disconnect_callback_set(mosq_, &MqttClient::on_disconnect_cb);
  mosquitto_message_callback_set(mosq_, &MqttClient::on_message_cb);
  mosquitto_publish_callback_set(mosq_, &MqttClient::on_publish_cb);
  const char* will = spore::MqttBridge::kWillPayload;
  int rc = mosquitto_will_set(mosq_, bridge.will_topic(), static_cast<int>(std::strlen(will)), will, 1, true);
  if (rc != MOSQ_ERR_SUCCESS) {
    *error = std::string("mqtt: cannot set the last will: ") + mosquitto_strerror(rc);
    return false;
  }
  if (!settings.username.empty()) {
    rc = mosquitto_username_pw_set(mosq_, settings.username.c_str(),
                                   settings.password.empty() ? nullptr : settings.password.c_str());
    if (rc != MOSQ_ERR_SUCCESS) {
      *error = std::string("mqtt: cannot set the credentials: ") + mosquitto_strerror(rc);
      return false;
    }
  }
  return true;
}

void MqttClient::lost(uint32_t now_ms, const char* why) {
  const bool was_connected = connected_;
  if (was_connected && spore::elapsed_ms(now_ms, connected_at_ms_) >= kStableConnectionMs) backoff_ms_ = kMinBackoffMs;
  connected_ = false;
  connecting_ = false;
  next_attempt_ms_ = now_ms + backoff_ms_;
  if (log_ != nullptr && (was_connected || last_error_ != why)) {
    log_->logf(LogLevel::kWarn, "mqtt: %s %s:%u: %s; retrying in %u s",
               was_connected ? "lost the connection to" : "cannot connect to", settings_.host.c_str(), settings_.port,
               why, static_cast<unsigned>(backoff_ms_ / 1000));
  }
  last_error_ = why;
  backoff_ms_ = std::min(backoff_ms_ * 2, kMaxBackoffMs);
}

void MqttClient::poll(uint32_t now_ms) {
  if (mosq_ == nullptr || left_) return;
  now_ms_ = now_ms;
  if (!connected_ && !connecting_ && (!ever_attempted_ || spore::elapsed_ms(now_ms, next_attempt_ms_) < 0x80000000u)) {
    ever_attempted_ = true;
    const int rc = mosquitto_connect_async(mosq_, settings_.host.c_str(), settings_.port, settings_.keepalive_s);
    if (rc == MOSQ_ERR_SUCCESS) {
      connecting_ = true;
      next_attempt_ms_ = now_ms;  // the connect's start, for the timeout below
    } else {
      lost(now_ms, rc == MOSQ_ERR_ERRNO ? std::strerror(errno) : mosquitto_strerror(rc));
      return;
    }
  }
  if (connecting_ && !connected_ && spore::elapsed_ms(now_ms, next_attempt_ms_) > kConnectTimeoutMs) {
    mosquitto_disconnect(mosq_);
    lost(now_ms, "no CONNACK within 10 s");
    return;
  }
  if (connected_ || connecting_) {
    // Timeout 0: never block the node loop; the loop's own wait (UDP receive) paces it. Again
    // while the last call delivered a message: what waits in the socket is read now.
    for (int i = 0; i < kMaxPacketsPerPoll; ++i) {
      const uint32_t before = messages_;
      const int rc = mosquitto_loop(mosq_, 0, 1);
      if (rc != MOSQ_ERR_SUCCESS && (connected_ || connecting_)) {
        lost(now_ms, rc == MOSQ_ERR_ERRNO ? std::strerror(errno) : mosquitto_strerror(rc));
      }
      if (rc != MOSQ_ERR_SUCCESS || messages_ == before || !connected_) break;
    }
  }
  bridge_->loop(now_ms);
}

void MqttClient::on_connect_cb(struct mosquitto*, void* self, int rc) {
  auto* c = static_cast<MqttClient*>(self);
  if (rc != 0) {
    // Refused (bad credentials, not authorized): the broker closes; retry with backoff.
    c->lost(c->now_ms_, mosquitto_connack_string(rc));
    return;
  }
  c->connected_ = true;
  c->connecting_ = false;
  // The backoff is not reset here but when a connection that lasted is lost (lost()): a broker
  // user who kicks the node right after each connect must not hold it at one attempt a second.
  c->connected_at_ms_ = c->now_ms_;
  c->last_error_.clear();
  ++c->connects_;
  if (c->log_ != nullptr) {
    c->log_->logf(LogLevel::kInfo, "mqtt: connected to %s:%u as %s, topics %s/#", c->settings_.host.c_str(),
                  c->settings_.port, c->bridge_->client_id(), c->bridge_->base_topic());
  }
  c->bridge_->on_connected(c->now_ms_);
}

void MqttClient::on_disconnect_cb(struct mosquitto*, void* self, int rc) {
  auto* c = static_cast<MqttClient*>(self);
  if (c->left_ || rc == 0) {
    c->connected_ = false;
    c->connecting_ = false;
    return;
  }
  if (c->connected_ || c->connecting_) c->lost(c->now_ms_, "disconnected");
}

void MqttClient::on_message_cb(struct mosquitto*, void* self, const struct mosquitto_message* msg) {
  auto* c = static_cast<MqttClient*>(self);
  if (msg == nullptr || msg->topic == nullptr) return;
  ++c->messages_;
  // msg->retain: the broker set RETAIN, i.e. it sends a retained message because of our
  // subscription (mosquitto.h, struct mosquitto_message); the bridge refuses such commands.
  c->bridge_->on_message(msg->topic, static_cast<const uint8_t*>(msg->payload),
                         msg->payloadlen > 0 ? static_cast<size_t>(msg->payloadlen) : 0, msg->retain);
}

bool MqttClient::publish(const char* topic, const uint8_t* payload, size_t size_bytes, bool retain) {
  if (mosq_ == nullptr || !connected_) return false;
  const int qos = retain ? 1 : 0;
  int mid = 0;
  if (mosquitto_publish(mosq_, &mid, topic, static_cast<int>(size_bytes), payload, qos, retain) != MOSQ_ERR_SUCCESS) {
    return false;
  }
  if (qos == 1) {
    last_qos1_mid_ = mid;
    last_qos1_acked_ = false;
  }
  return true;
}

void MqttClient::on_publish_cb(struct mosquitto*, void* self, int mid) {
  auto* c = static_cast<MqttClient*>(self);
  if (mid == c->last_qos1_mid_) c->last_qos1_acked_ = true;
}

bool MqttClient::subscribe(const char* topic) {
  if (mosq_ == nullptr || !connected_) return false;
  // QoS 0 (MqttPort::subscribe): the broker then queues nothing for us that a flood could crowd out.
  return mosquitto_subscribe(mosq_, nullptr, topic, 0) == MOSQ_ERR_SUCCESS;
}

void MqttClient::leave(uint32_t timeout_ms) {
  if (mosq_ == nullptr || left_) return;
  bridge_->leave();
  left_ = true;
  if (!connected_) return;
  const uint32_t start = steady_ms();
  // Write what is queued (a command's answer, the "offline" status) and wait for the broker's
  // PUBACK of the last retained message: closing with the PUBACK unread in the socket makes the
  // kernel send RST, and the broker may then drop the DISCONNECT and fire the will.
  while ((mosquitto_want_write(mosq_) || !last_qos1_acked_) && steady_ms() - start < timeout_ms) {
    if (mosquitto_loop(mosq_, 20, 1) != MOSQ_ERR_SUCCESS) break;
  }
  mosquitto_disconnect(mosq_);
  // Until the connection is closed, reading what the broker still sends.
  while (steady_ms() - start < timeout_ms) {
    if (mosquitto_loop(mosq_, 20, 1) != MOSQ_ERR_SUCCESS) break;
  }
  connected_ = false;
}

}  // namespace spore::posix
