// The ESP8266 NONOS SDK's WiFi and system calls for the emulated board (user_interface.h): what
// the core's ESP8266WiFi library and Esp.cpp ask of the SDK blob, answered from the bed's model of
// the radio (board.h). The model: the bed's WLAN is one SSID and password given on the command
// line; the station interface is an lwIP netif on the board's TAP device; "associating" takes
// kAssociateMs and then the netif comes up with the board's configured address (the bed has no
// DHCP server on the WLAN, so the address a DHCP lease would give is passed in); a wrong password
// or an unknown SSID gives the events the SDK gives. The soft AP is an lwIP netif on a second TAP
// device (optional), served by the core's own DHCP server (LwipDhcpServer).
#include <Arduino.h>
#include <smartconfig.h>
#include <user_interface.h>

#include <lwip/netif.h>
#include <lwip/ip4_addr.h>

#include <cstdio>
#include <cstring>

#include "board.h"

namespace {

constexpr uint32_t kAssociateMs = 300;  // scan + auth + association; a real AP takes 1-3 s
constexpr uint32_t kDhcpMs = 200;       // DISCOVER..ACK between EVENT_STAMODE_CONNECTED and GOT_IP

// The SDK's soft-AP address until wifi_set_ip_info(SOFTAP_IF) changes it: 192.168.4.1/24, itself
// as gateway.
ip_info sdk_default_ap_ip() {
  ip_info info{};
  IP4_ADDR(&info.ip, 192, 168, 4, 1);
  IP4_ADDR(&info.netmask, 255, 255, 255, 0);
  info.gw = info.ip;
  return info;
}

struct Radio {
  uint8_t opmode = NULL_MODE;
  uint8_t opmode_default = STATION_MODE;
  station_config sta_config{};  // current (RAM) configuration
  station_config sta_config_flash{};
  softap_config ap_config{};
  bool auto_connect = true;
  bool reconnect = true;
  station_status_t status = STATION_IDLE;
  uint32_t connect_due_ms = 0;  // 0 = no association in progress
  uint32_t got_ip_due_ms = 0;   // associated, DHCP in progress (0 = none)
  wifi_event_handler_cb_t event_cb = nullptr;
  char hostname[33] = "ESP-board";
  uint8_t sleep_type = NONE_SLEEP_T;
  uint8_t phy_mode = PHY_MODE_11N;
  uint8_t channel = 1;
  bool dhcps_enabled = true;  // the SDK's soft-AP DHCP server flag (on by default)
  ip_info ap_ip = sdk_default_ap_ip();  // the soft AP's address (wifi_get_ip_info/set_ip_info)
} radio;

// The lwip2 glue's DHCP server entry points (LwipDhcpServer-NonOS.cpp): the SDK calls them when
// the soft AP comes up or goes down and from wifi_softap_dhcps_start()/stop().
extern "C" void dhcps_start(struct ip_info* info, struct netif* apnetif);
extern "C" void dhcps_stop();
extern "C" struct netif netif_git[2];

// The soft AP's netif takes the SDK's address for it (before it comes up, and on a change).
void softap_apply_addr() {
  if (!board_softap_has_netif()) return;
  ip4_addr_t ip, mask, gw;
  ip.addr = radio.ap_ip.ip.addr;
  mask.addr = radio.ap_ip.netmask.addr;
  gw.addr = radio.ap_ip.gw.addr;
  netif_set_addr(&netif_git[SOFTAP_IF], &ip, &mask, &gw);
}

void softap_dhcps(bool run) {
  if (!board_softap_has_netif()) return;
  if (run) {
    dhcps_start(&radio.ap_ip, &netif_git[SOFTAP_IF]);
  } else {
    dhcps_stop();
  }
}

void send_event(System_Event_t* e) {
  if (radio.event_cb != nullptr) radio.event_cb(e);
}

// Events the firmware's own calls cause (a disconnect, a mode change) reach its handler later,
// from the SDK's task, as on the chip: queued here, sent by board_sdk_service().
uint8_t pending_disconnect_reason_ = 0;

void send_disconnected(uint8_t reason) {
  System_Event_t e{};
  e.event = EVENT_STAMODE_DISCONNECTED;
  std::memcpy(e.event_info.disconnected.ssid, radio.sta_config.ssid, 32);
  e.event_info.disconnected.ssid_len = static_cast<uint8>(strnlen(reinterpret_cast<const char*>(radio.sta_config.ssid), 32));
  e.event_info.disconnected.reason = reason;
  send_event(&e);
}

void event_disconnected(uint8_t reason) { pending_disconnect_reason_ = reason; }

void station_down(uint8_t reason) {
  const bool was_up = radio.status == STATION_GOT_IP || radio.got_ip_due_ms != 0;
  board_station_link(false);
  radio.connect_due_ms = 0;
  radio.got_ip_due_ms = 0;
  if (was_up || reason != 0) event_disconnected(reason == 0 ? REASON_ASSOC_LEAVE : reason);
}

}  // namespace

// Called from the board's service loop: completes an association that is due.
void board_sdk_service(uint32_t now_ms) {
  if (pending_disconnect_reason_ != 0) {
    const uint8_t reason = pending_disconnect_reason_;
    pending_disconnect_reason_ = 0;
    send_disconnected(reason);
  }
  if (radio.got_ip_due_ms != 0 && static_cast<int32_t>(now_ms - radio.got_ip_due_ms) >= 0) {
    radio.got_ip_due_ms = 0;
    const BoardConfig& b = board_config();
    board_station_link(true);
    radio.status = STATION_GOT_IP;
    System_Event_t g{};
    g.event = EVENT_STAMODE_GOT_IP;
    g.event_info.got_ip.ip.addr = b.ip;
    g.event_info.got_ip.mask.addr = b.netmask;
    g.event_info.got_ip.gw.addr = b.gateway;
    send_event(&g);
  }
  if (radio.connect_due_ms == 0 || static_cast<int32_t>(now_ms - radio.connect_due_ms) < 0) return;
  radio.connect_due_ms = 0;
  const BoardConfig& b = board_config();
  const char* ssid = reinterpret_cast<const char*>(radio.sta_config.ssid);
  const char* pass = reinterpret_cast<const char*>(radio.sta_config.password);
  if (b.wlan_ssid[0] == '\0' || std::strncmp(ssid, b.wlan_ssid, 32) != 0 || !board_wlan_in_range()) {
    radio.status = STATION_NO_AP_FOUND;
    event_disconnected(REASON_NO_AP_FOUND);
    if (radio.reconnect) radio.connect_due_ms = now_ms + 3000;  // the SDK keeps scanning
    return;
  }
  if (std::strncmp(pass, b.wlan_password, 64) != 0) {
    radio.status = STATION_WRONG_PASSWORD;
    event_disconnected(REASON_AUTH_FAIL);
    return;
  }
  System_Event_t e{};
  e.event = EVENT_STAMODE_CONNECTED;
  std::memcpy(e.event_info.connected.ssid, radio.sta_config.ssid, 32);
  e.event_info.connected.ssid_len = static_cast<uint8>(strnlen(ssid, 32));
  e.event_info.connected.channel = radio.channel;
  send_event(&e);
  radio.got_ip_due_ms = now_ms + kDhcpMs;
  if (radio.got_ip_due_ms == 0) radio.got_ip_due_ms = 1;
}

// The bed takes the WLAN away (a board "walks out of range") or gives it back.
void board_sdk_wlan_changed(uint32_t now_ms) {
  if (!board_wlan_in_range() && radio.status == STATION_GOT_IP) {
    radio.status = STATION_CONNECTING;
    station_down(REASON_BEACON_TIMEOUT);
    if (radio.reconnect) radio.connect_due_ms = now_ms + kAssociateMs;
  }
}

extern "C" {

void wifi_set_event_handler_cb(wifi_event_handler_cb_t cb) { radio.event_cb = cb; }

uint8 wifi_get_opmode(void) { return radio.opmode; }
uint8 wifi_get_opmode_default(void) { return radio.opmode_default; }

static bool set_opmode(uint8 mode) {
  if (mode > STATIONAP_MODE) return false;
  const uint8_t old = radio.opmode;
  radio.opmode = mode;
  if ((old & STATION_MODE) != 0 && (mode & STATION_MODE) == 0) {
    radio.status = STATION_IDLE;
    station_down(0);
  }
  if ((mode & SOFTAP_MODE) != (old & SOFTAP_MODE)) {
    const bool ap = (mode & SOFTAP_MODE) != 0;
    if (!ap) softap_dhcps(false);
    if (ap) softap_apply_addr();
    board_softap_link(ap);
    if (ap && radio.dhcps_enabled) softap_dhcps(true);
  }
  if ((mode & STATION_MODE) != 0 && (old & STATION_MODE) == 0 && radio.auto_connect &&
      radio.sta_config.ssid[0] != 0) {
    radio.status = STATION_CONNECTING;
    radio.connect_due_ms = millis() + kAssociateMs;
  }
  System_Event_t e{};
  e.event = EVENT_OPMODE_CHANGED;
  e.event_info.opmode_changed.old_opmode = old;
  e.event_info.opmode_changed.new_opmode = mode;
  send_event(&e);
  return true;
}

bool wifi_set_opmode(uint8 mode) {
  radio.opmode_default = mode;
  return set_opmode(mode);
}
bool wifi_set_opmode_current(uint8 mode) { return set_opmode(mode); }

bool wifi_station_get_config(struct station_config* config) {
  *config = radio.sta_config;
  return true;
}
bool wifi_station_get_config_default(struct station_config* config) {
  *config = radio.sta_config_flash;
  return true;
}
bool wifi_station_set_config(struct station_config* config) {
  radio.sta_config = *config;
  radio.sta_config_flash = *config;
  return true;
}
bool wifi_station_set_config_current(struct station_config* config) {
  radio.sta_config = *config;
  return true;
}

bool wifi_station_connect(void) {
  if ((radio.opmode & STATION_MODE) == 0) return false;
  if (radio.status == STATION_GOT_IP) station_down(REASON_ASSOC_LEAVE);
  radio.status = STATION_CONNECTING;
  radio.connect_due_ms = millis() + kAssociateMs;
  if (radio.connect_due_ms == 0) radio.connect_due_ms = 1;
  return true;
}

bool wifi_station_disconnect(void) {
  if ((radio.opmode & STATION_MODE) == 0) return false;
  radio.status = STATION_IDLE;
  station_down(REASON_ASSOC_LEAVE);
  return true;
}

station_status_t wifi_station_get_connect_status(void) { return radio.status; }
uint8 wifi_station_get_current_ap_id(void) { return 0; }
uint8 wifi_station_get_auto_connect(void) { return radio.auto_connect ? 1 : 0; }
bool wifi_station_set_auto_connect(uint8 set) {
  radio.auto_connect = set != 0;
  return true;
}
bool wifi_station_get_reconnect_policy(void) { return radio.reconnect; }
bool wifi_station_set_reconnect_policy(bool set) {
  radio.reconnect = set;
  return true;
}
sint8 wifi_station_get_rssi(void) { return radio.status == STATION_GOT_IP ? -55 : 31; }
bool wifi_station_dhcpc_start(void) { return true; }
bool wifi_station_dhcpc_stop(void) { return true; }
bool wifi_station_scan(struct scan_config*, scan_done_cb_t) { return false; }  // no scan results in the bed
char* wifi_station_hostname = radio.hostname;

bool wifi_get_ip_info(uint8 if_index, struct ip_info* info) {
  std::memset(info, 0, sizeof *info);
  const BoardConfig& b = board_config();
  if (if_index == STATION_IF) {
    if (radio.status != STATION_GOT_IP) return true;
    info->ip.addr = b.ip;
    info->netmask.addr = b.netmask;
    info->gw.addr = b.gateway;
    return true;
  }
  if (if_index == SOFTAP_IF) {
    if ((radio.opmode & SOFTAP_MODE) == 0) return true;
    *info = radio.ap_ip;
    return true;
  }
  return false;
}
bool wifi_set_ip_info(uint8 if_index, struct ip_info* info) {
  // The station's address is the bed's (--ip); the soft AP's may be changed (softAPConfig()), as
  // on the chip while its DHCP server is stopped.
  if (if_index != SOFTAP_IF || info == nullptr) return false;
  radio.ap_ip = *info;
  softap_apply_addr();
  return true;
}
bool wifi_get_macaddr(uint8 if_index, uint8* macaddr) {
  std::memcpy(macaddr, board_config().mac, 6);
  if (if_index == SOFTAP_IF) macaddr[0] |= 0x02;  // the SDK's AP MAC differs from the station's
  return true;
}

uint8 wifi_get_channel(void) { return radio.channel; }
bool wifi_set_channel(uint8 channel) {
  radio.channel = channel;
  return true;
}
bool wifi_set_sleep_type(sleep_type_t type) {
  radio.sleep_type = type;
  return true;
}
sleep_type_t wifi_get_sleep_type(void) { return static_cast<sleep_type_t>(radio.sleep_type); }
bool wifi_set_phy_mode(phy_mode_t mode) {
  radio.phy_mode = mode;
  return true;
}
phy_mode_t wifi_get_phy_mode(void) { return static_cast<phy_mode_t>(radio.phy_mode); }
void system_phy_set_max_tpw(uint8) {}
void wifi_fpm_open(void) {}
void wifi_fpm_close(void) {}
void wifi_fpm_do_wakeup(void) {}
sint8 wifi_fpm_do_sleep(uint32) { return -1; }
void wifi_fpm_set_sleep_type(sleep_type_t) {}
sleep_type_t wifi_fpm_get_sleep_type(void) { return NONE_SLEEP_T; }

bool wifi_softap_get_config(struct softap_config* config) {
  *config = radio.ap_config;
  return true;
}
bool wifi_softap_set_config(struct softap_config* config) {
  radio.ap_config = *config;
  return true;
}
// The bed keeps no flash copy of the soft AP's configuration (unlike the station's): the
// default and the current one are the same.
bool wifi_softap_get_config_default(struct softap_config* config) { return wifi_softap_get_config(config); }
bool wifi_softap_set_config_current(struct softap_config* config) { return wifi_softap_set_config(config); }
uint8 wifi_softap_get_station_num(void) { return board_softap_stations(); }
bool wifi_softap_dhcps_start(void) {
  radio.dhcps_enabled = true;
  if ((radio.opmode & SOFTAP_MODE) != 0) softap_dhcps(true);
  return true;
}
bool wifi_softap_dhcps_stop(void) {
  radio.dhcps_enabled = false;
  softap_dhcps(false);
  return true;
}
enum dhcp_status wifi_softap_dhcps_status(void) { return radio.dhcps_enabled ? DHCP_STARTED : DHCP_STOPPED; }

bool smartconfig_start(sc_callback_t, ...) { return false; }
bool smartconfig_stop(void) { return true; }

}  // extern "C"
