// The emulated ESP-01's own interface between its parts (board_*.cpp). Not part of the firmware:
// the firmware sees only the Arduino core, the SDK's functions and lwIP, as on the chip.
#pragma once
#include <stdint.h>

struct BoardConfig {
  const char* name = "board";         // log prefix
  const char* tap = nullptr;          // station TAP device (in the board's network namespace)
  const char* ap_tap = nullptr;       // soft-AP TAP device (none: the soft AP has no netif)
  const char* flash_path = nullptr;   // 1 MB flash image file (created erased, image written)
  const char* image_path = nullptr;   // the firmware .bin for flash offset 0 (tools/firmware-link.sh)
  uint32_t ip = 0, netmask = 0, gateway = 0;  // network byte order, as lwIP's ip4_addr_t
  uint8_t mac[6] = {0x5c, 0xcf, 0x7f, 0, 0, 1};  // Espressif OUI
  uint32_t chip_id = 1;               // the low 24 bits of the MAC on a chip
  const char* wlan_ssid = "";         // the bed's WLAN; the firmware's SSID must match
  const char* wlan_password = "";
  uint32_t sdk_reserve_bytes = 0;     // heap the SDK's WiFi holds at run time (see docs)
  uint32_t wdt_soft_ms = 3200;        // the SDK's soft watchdog
  const char* control_path = nullptr; // a file the bed writes "wlan off"/"wlan on" into
  const char* settings_path = nullptr; // settings text stored before the first boot (no record yet)
};

const BoardConfig& board_config();
bool board_wlan_in_range();
void board_station_link(bool up);  // WiFi associated (netif up) or not
// The soft AP's netif (SOFTAP_IF, 192.168.4.1/24 unless wifi_set_ip_info changes it) up or down;
// nothing without --ap-tap.
void board_softap_link(bool up);
bool board_softap_has_netif();
// Stations that sent the soft AP a frame in the last kBoardApStationIdleMs (by source MAC).
constexpr uint32_t kBoardApStationIdleMs = 60000;
uint8_t board_softap_stations();

// board_sdk.cpp
void board_sdk_service(uint32_t now_ms);
void board_sdk_wlan_changed(uint32_t now_ms);

// board_esp.cpp: the SDK's system_restart() asked for a restart; os_timers that are due run.
bool board_restart_pending();
void board_timers_run(uint32_t now_ms);

// board_flash.cpp: the 1 MB flash file and the chip's RTC memory (persisted across restarts).
constexpr uint32_t kBoardFlashBytes = 1024 * 1024;
bool board_flash_open(const char* path, const char* image_path);
void board_rtc_load(bool warm);
void board_rtc_save();
void board_eboot();  // what eboot does at boot: apply a pending "copy the new image" command

// board_heap.cpp
bool board_heap_init(uint32_t sdk_reserve_bytes);
struct BoardHeapStats {
  uint32_t free_bytes, max_block_bytes, fragmentation_pct, min_free_bytes;
};
BoardHeapStats board_heap_stats();
void board_heap_reset_low_water();

// board_main.cpp
void board_wdt_feed();
[[noreturn]] void board_reset(uint32_t reason, const char* why);  // rst_info reason codes (REASON_*)
