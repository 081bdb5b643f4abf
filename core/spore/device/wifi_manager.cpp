#include "spore/device/wifi_manager.h"

#include <cstdio>

namespace spore {

WifiManager::WifiManager(WifiPort& port, Random& random, LogSink* log, const WifiManagerConfig& config)
    : port_(port), random_(random), log_(log), config_(config) {}

void WifiManager::log(LogLevel level, const char* message) {
  if (log_ != nullptr) log_->write(level, message);
}

void WifiManager::begin(uint32_t now_ms, const char* hostname, const char* ap_name, const char* ssid,
                        const char* password) {
  hostname_ = hostname != nullptr ? hostname : "";
  ap_name_ = ap_name != nullptr ? ap_name : "";
  set_credentials(now_ms, ssid, password);
}

void WifiManager::set_credentials(uint32_t now_ms, const char* ssid, const char* password) {
  ssid_ = ssid;
  password_ = password != nullptr ? password : "";
  failures_ = 0;
  wait_ms_ = 0;
  if (state_ == WifiState::kConnecting || state_ == WifiState::kConnected) port_.stop_station();
  if (has_credentials()) {
    start_attempt(now_ms);
  } else {
    state_ = WifiState::kUnconfigured;
    since_ms_ = now_ms;
    log(LogLevel::kWarn, "wifi: no credentials stored, setup portal open");
    open_portal();
  }
}

void WifiManager::start_attempt(uint32_t now_ms) {
  state_ = WifiState::kConnecting;
  since_ms_ = now_ms;
  port_.begin_station(ssid_, password_, hostname_);
}

void WifiManager::on_failure(uint32_t now_ms) {
  port_.stop_station();
  ++failures_;
  // Exponential backoff with "equal jitter": a uniform wait in [base/2, base], so devices that
  // lost the same access point do not all come back in the same second.
  uint32_t base = config_.initial_backoff_ms;
  for (uint32_t i = 1; i < failures_ && base < config_.max_backoff_ms; ++i) base *= 2;
  if (base > config_.max_backoff_ms) base = config_.max_backoff_ms;
  const uint32_t half = base / 2;
  wait_ms_ = half + random_.next_u32() % (base - half + 1);
  if (config_.portal_after_failures != 0 && failures_ >= config_.portal_after_failures) open_portal();
  if (portal_ && wait_ms_ < config_.portal_retry_interval_ms) wait_ms_ = config_.portal_retry_interval_ms;
  state_ = WifiState::kWaiting;
  since_ms_ = now_ms;
  if (log_ != nullptr) {
    char line[64];
    std::snprintf(line, sizeof line, "wifi: attempt %lu failed, next in %lu ms", static_cast<unsigned long>(failures_),
                  static_cast<unsigned long>(wait_ms_));
    log_->write(LogLevel::kWarn, line);
  }
}

void WifiManager::on_connected(uint32_t now_ms) {
  state_ = WifiState::kConnected;
  failures_ = 0;
  wait_ms_ = 0;
  last_arp_ms_ = now_ms;
  log(LogLevel::kInfo, "wifi: connected");
  close_portal();
  check_ip();
}

void WifiManager::open_portal() {
  if (portal_) return;
  portal_ = port_.start_access_point(ap_name_);
  if (!portal_) log(LogLevel::kError, "wifi: the setup access point did not start");
}

void WifiManager::close_portal() {
  if (!portal_) return;
  port_.stop_access_point();
  portal_ = false;
}

void WifiManager::check_ip() {
  const uint32_t ip = port_.station_ip();
  if (ip == 0 || ip == ip_) return;
  ip_ = ip;
  if (on_ip_change_) on_ip_change_(ip);
}

void WifiManager::loop(uint32_t now_ms) {
  switch (state_) {
    case WifiState::kStopped:
      return;
    case WifiState::kUnconfigured:
      // Without credentials the portal is the only way in: retry an access point that did not start.
      if (!portal_ && elapsed_ms(now_ms, since_ms_) >= config_.max_backoff_ms) {
        since_ms_ = now_ms;
        open_portal();
      }
      return;
    case WifiState::kConnecting: {
      const StationStatus s = port_.station_status();
      if (s == StationStatus::kConnected && port_.station_ip() != 0) {
        on_connected(now_ms);
      } else if (s == StationStatus::kFailed || elapsed_ms(now_ms, since_ms_) >= config_.connect_timeout_ms) {
        on_failure(now_ms);
      }
      return;
    }
    case WifiState::kConnected:
      if (port_.station_status() != StationStatus::kConnected || port_.station_ip() == 0) {
        log(LogLevel::kWarn, "wifi: link lost, reconnecting");
        port_.stop_station();
        start_attempt(now_ms);
        return;
      }
      check_ip();  // a DHCP renewal may hand out another address
      if (config_.arp_interval_ms != 0 && elapsed_ms(now_ms, last_arp_ms_) >= config_.arp_interval_ms) {
        last_arp_ms_ = now_ms;
        port_.send_gratuitous_arp();
      }
      return;
    case WifiState::kWaiting:
      if (elapsed_ms(now_ms, since_ms_) < wait_ms_) return;
      // Someone is on the portal: a station attempt would take the access point off its channel.
      // Deferred by one more portal interval at most, so a phone that stays associated to the
      // open access point cannot keep the device off its network for good.
      if (portal_ && port_.access_point_clients() != 0 &&
          elapsed_ms(now_ms, since_ms_) - wait_ms_ < config_.portal_retry_interval_ms) {
        return;
      }
      start_attempt(now_ms);
      return;
  }
}

}  // namespace spore
