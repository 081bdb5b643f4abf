// The emulated ESP-01: what the chip's ROM, eboot, the SDK's main loop and the core's
// core_esp8266_main.cpp do around the firmware's setup() and loop(). One process is one board;
// a restart (ESP.restart(), an OOM, a panic, the watchdog) re-executes the process with the flash
// file and the RTC memory kept, as a chip keeps them over a reset; killing the process is a power
// loss. Usage: spore-board --help.
#include <Arduino.h>
#include <Schedule.h>
#include <user_interface.h>

#include <lwip/init.h>
#include <lwip/netif.h>

#include <arpa/inet.h>
#include <poll.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <signal.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "board.h"
#include "esp8266/config_store.h"
#include "lwip_glue.h"
#include "spore/base/limits.h"
#include "tap_netif.h"

// The board runs the chip's capacities, not the host's (core/spore/base/limits.h): its member
// table, rate limits and credit table are what an ESP-01 has.
static_assert(SPORE_MAX_MEMBERS == 32 && SPORE_MAX_UNVERIFIED_SOURCES == 8,
              "the ESP-01 bed must compile core with the ESP8266's limits (SPORE_ESP8266_HOST)");

void setup();
void loop();
extern "C" char _heap_start[];
extern "C" struct rst_info resetInfo;
// The chip's lwip2 glue keeps the station and soft-AP netifs here (LwipDhcpServer-NonOS.cpp uses it).
struct netif netif_git[2];

namespace {

BoardConfig config_;
struct netif& sta_netif_ = netif_git[STATION_IF];
struct netif& ap_netif_ = netif_git[SOFTAP_IF];
bool ap_open_ = false;  // --ap-tap given and its TAP opened
// Stations heard on the soft AP: the SDK counts associated stations; the bed has no association,
// so a station is a source MAC that sent a frame within kBoardApStationIdleMs.
struct ApStation {
  bool used;
  uint8_t mac[6];
  uint32_t last_ms;
};
ApStation ap_stations_[8];  // the SDK's softap_config.max_connection is at most 8
bool wlan_in_range_ = true;
bool in_sys_ = false;  // inside an SDK task (lwIP input, a timer): yield() and delay() are not allowed
timespec boot_{};
std::atomic<uint32_t> last_feed_ms_{0};
char** argv_ = nullptr;
pthread_t main_thread_;
// RTC system memory block 0..1 (the SDK's own area): the bed keeps the next boot's reset reason there.
constexpr uint32_t kResetMagic = 0x5350524Eu;

uint32_t now_ms() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<uint32_t>((t.tv_sec - boot_.tv_sec) * 1000 + (t.tv_nsec - boot_.tv_nsec) / 1000000);
}

[[noreturn]] void usage(int code) {
  std::fprintf(code == 0 ? stdout : stderr,
               "usage: spore-board --tap DEV --ip A.B.C.D/LEN [--gw A.B.C.D] --flash FILE [options]\n"
               "An emulated ESP-01 running the SPORE firmware on lwIP (docs/esp8266-runtime.md).\n"
               "  --tap DEV          the board's TAP device (create it first: ip tuntap add DEV mode tap)\n"
               "  --ap-tap DEV       the soft AP's TAP device (192.168.4.1/24, up while the firmware's\n"
               "                     WiFi mode includes the AP; default: the soft AP has no interface)\n"
               "  --ip A.B.C.D/LEN   the address the board gets when its WiFi connects\n"
               "  --gw A.B.C.D       gateway (default: none)\n"
               "  --flash FILE       the board's 1 MB flash (created erased when missing)\n"
               "  --image FILE.bin   firmware image written at offset 0 of a new flash (tools/firmware-link.sh)\n"
               "  --chip-id N        chip id, also the MAC's low 24 bits (default 1)\n"
               "  --wlan SSID:PASS   the bed's WLAN (default spore-bed:spore-bed-pass)\n"
               "  --sdk-reserve N    bytes of heap the SDK's WiFi holds at run time (default 0)\n"
               "  --control FILE     the bed writes 'wlan off' / 'wlan on' here to take the WLAN away\n"
               "  --settings FILE    settings text (key=value lines, DeviceConfig) stored as the user's\n"
               "                     first save would be, when the flash holds no settings record yet\n"
               "  --name NAME        name in the board's own messages\n");
  std::exit(code);
}

bool parse_ip(const char* s, uint32_t* out) {
  in_addr a{};
  if (inet_pton(AF_INET, s, &a) != 1) return false;
  *out = a.s_addr;
  return true;
}

// A whole number in decimal or 0x-hex, at most MAX; anything else is a usage error.
uint32_t parse_number(const char* option, const char* text, uint32_t max) {
  char* end = nullptr;
  errno = 0;
  const unsigned long v = std::strtoul(text, &end, 0);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v > max) {
    std::fprintf(stderr, "spore-board: %s wants a number from 0 to %u, not '%s'\n", option, max, text);
    usage(2);
  }
  return static_cast<uint32_t>(v);
}

void parse_args(int argc, char** argv) {
  static char wlan[128] = "spore-bed:spore-bed-pass";
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "spore-board: %s needs a value\n", a);
        usage(2);
      }
      return argv[++i];
    };
    if (std::strcmp(a, "--help") == 0 || std::strcmp(a, "-h") == 0) usage(0);
    else if (std::strcmp(a, "--tap") == 0) config_.tap = value();
    else if (std::strcmp(a, "--ap-tap") == 0) config_.ap_tap = value();
    else if (std::strcmp(a, "--flash") == 0) config_.flash_path = value();
    else if (std::strcmp(a, "--image") == 0) config_.image_path = value();
    else if (std::strcmp(a, "--name") == 0) config_.name = value();
    else if (std::strcmp(a, "--control") == 0) config_.control_path = value();
    else if (std::strcmp(a, "--settings") == 0) config_.settings_path = value();
    else if (std::strcmp(a, "--sdk-reserve") == 0) config_.sdk_reserve_bytes = parse_number(a, value(), 0x7000);
    else if (std::strcmp(a, "--chip-id") == 0) config_.chip_id = parse_number(a, value(), 0xFFFFFF);
    else if (std::strcmp(a, "--wlan") == 0) std::snprintf(wlan, sizeof wlan, "%s", value());
    else if (std::strcmp(a, "--gw") == 0) {
      if (!parse_ip(value(), &config_.gateway)) usage(2);
    } else if (std::strcmp(a, "--ip") == 0) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%s", value());
      char* slash = std::strchr(buf, '/');
      int len = 24;
      if (slash != nullptr) {
        *slash = '\0';
        len = std::atoi(slash + 1);
      }
      if (!parse_ip(buf, &config_.ip) || len < 1 || len > 30) {
        std::fprintf(stderr, "spore-board: bad --ip %s\n", argv[i]);
        usage(2);
      }
      config_.netmask = htonl(0xFFFFFFFFu << (32 - len));
    } else {
      std::fprintf(stderr, "spore-board: unknown argument %s\n", a);
      usage(2);
    }
  }
  if (config_.tap == nullptr || config_.flash_path == nullptr || config_.ip == 0) usage(2);
  char* colon = std::strchr(wlan, ':');
  if (colon != nullptr) *colon = '\0';
  config_.wlan_ssid = wlan;
  config_.wlan_password = colon != nullptr ? colon + 1 : "";
  config_.mac[3] = static_cast<uint8_t>(config_.chip_id >> 16);
  config_.mac[4] = static_cast<uint8_t>(config_.chip_id >> 8);
  config_.mac[5] = static_cast<uint8_t>(config_.chip_id);
}

// The control file: the bed takes the WLAN away from a board and gives it back.
void read_control() {
  if (config_.control_path == nullptr) return;
  static uint32_t next_ms = 0;
  const uint32_t now = now_ms();
  if (static_cast<int32_t>(now - next_ms) < 0) return;
  next_ms = now + 200;
  FILE* f = std::fopen(config_.control_path, "r");
  if (f == nullptr) return;
  char line[32] = {};
  if (std::fgets(line, sizeof line, f) != nullptr) {
    const bool in_range = std::strncmp(line, "wlan off", 8) != 0;
    if (in_range != wlan_in_range_) {
      wlan_in_range_ = in_range;
      std::fprintf(stderr, "board %s: WLAN %s\n", config_.name, in_range ? "back" : "gone");
      board_sdk_wlan_changed(now);
    }
  }
  std::fclose(f);
}

// The watchdog: the SDK's soft watchdog resets a chip whose loop (or an SDK task) has not yielded
// for about 3.2 s; the bed resets the board the same way, from a thread of its own.
void* watchdog_main(void*) {
  for (;;) {
    usleep(100 * 1000);
    const uint32_t since = now_ms() - last_feed_ms_.load();
    if (since > config_.wdt_soft_ms) {
      char why[96];
      std::snprintf(why, sizeof why, "Soft WDT reset (no yield for %u ms)", since);
      board_reset(REASON_SOFT_WDT_RST, why);
    }
  }
  return nullptr;
}

}  // namespace

const BoardConfig& board_config() { return config_; }
bool board_wlan_in_range() { return wlan_in_range_; }
// The chip's glue releases the DHCP lease and zeroes the station's address when the link goes
// down (esp82xx-nonos-linklayer lwip-git.c); the address comes back with the next GOT_IP.
void board_station_link(bool up) {
  ip4_addr_t ip, mask, gw;
  ip.addr = up ? config_.ip : 0;
  mask.addr = up ? config_.netmask : 0;
  gw.addr = up ? config_.gateway : 0;
  if (!up) tap_netif_set_up(&sta_netif_, false, true);
  netif_set_addr(&sta_netif_, &ip, &mask, &gw);
  if (up) tap_netif_set_up(&sta_netif_, true, true);
}
bool board_softap_has_netif() { return ap_open_; }
void board_softap_link(bool up) {
  if (!ap_open_) return;
  // The station keeps the default route (the chip's glue gives it to the station only).
  tap_netif_set_up(&ap_netif_, up, false);
  std::memset(ap_stations_, 0, sizeof ap_stations_);
  std::fprintf(stderr, "board %s: soft AP %s %s\n", config_.name, up ? "up" : "down",
               ip4addr_ntoa(netif_ip4_addr(&ap_netif_)));
}
uint8_t board_softap_stations() {
  if (!ap_open_ || !netif_is_up(&ap_netif_)) return 0;
  uint8_t n = 0;
  const uint32_t now = now_ms();
  for (const ApStation& s : ap_stations_) {
    if (s.used && now - s.last_ms < kBoardApStationIdleMs) ++n;
  }
  return n;
}
static void ap_heard(const struct netif*, const uint8_t* frame, size_t) {
  const uint8_t* src_mac = frame + 6;
  const uint32_t now = now_ms();
  ApStation* slot = nullptr;
  for (ApStation& s : ap_stations_) {
    if (s.used && std::memcmp(s.mac, src_mac, 6) == 0) {
      const bool was_idle = now - s.last_ms >= kBoardApStationIdleMs;
      s.last_ms = now;
      if (!was_idle) return;
      slot = &s;  // back after a silence: a new association
      break;
    }
    // A free entry, else the one heard from longest ago.
    if (slot == nullptr || !s.used || (slot->used && now - s.last_ms > now - slot->last_ms)) slot = &s;
  }
  slot->used = true;
  std::memcpy(slot->mac, src_mac, 6);
  slot->last_ms = now;
  // As the SDK's "station: <mac> join, AID = <n>" line on an association.
  std::fprintf(stderr,
               "board %s: soft AP: station %02x:%02x:%02x:%02x:%02x:%02x join (first frame: type 0x%02x%02x), "
               "%u heard in %u s\n",
               config_.name, src_mac[0], src_mac[1], src_mac[2], src_mac[3], src_mac[4], src_mac[5], frame[12],
               frame[13], board_softap_stations(), kBoardApStationIdleMs / 1000);
}
// The idle wait of the loop and delay(): until a frame arrives on either interface or TIMEOUT ms pass.
static void wait_frames(int timeout_ms) {
  pollfd p[2] = {{tap_netif_fd(&sta_netif_), POLLIN, 0}, {ap_open_ ? tap_netif_fd(&ap_netif_) : -1, POLLIN, 0}};
  poll(p, 2, timeout_ms);
}
void board_wdt_feed() { last_feed_ms_.store(now_ms()); }

static void write_heap_file(uint32_t now, const char* suffix);
namespace {
uint32_t cont_stack_used();
}

[[noreturn]] void board_reset(uint32_t reason, const char* why) {
  // From the watchdog's thread the main thread may be anywhere, inside umm_malloc or holding
  // stdout's lock: then only write(2), the RTC file and execv.
  const bool on_main = pthread_equal(pthread_self(), main_thread_) != 0;
  if (on_main) {
    std::fflush(stdout);
    // The heap sample of the life that ends here (e.g. the minimum during an OTA upload).
    write_heap_file(now_ms(), ".heap.before-reset");
  }
  char line[256];
  const int n = std::snprintf(line, sizeof line, "board %s: reset (reason %u): %s\n", config_.name, reason, why);
  if (n > 0) (void)!write(STDERR_FILENO, line, static_cast<size_t>(n) < sizeof line ? static_cast<size_t>(n) : sizeof line - 1);
  sigset_t usr1;  // no window signal between execv and the new image's handler
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, nullptr);
  uint32_t mark[2] = {kResetMagic, reason};
  std::memcpy(reinterpret_cast<void*>(0x60001100), mark, sizeof mark);
  board_rtc_save();
  setenv("SPORE_BOARD_WARM", "1", 1);
  execv("/proc/self/exe", argv_);
  (void)!write(STDERR_FILENO, "board: restart (execv) failed\n", 30);
  std::_Exit(70);
}

// What the SDK does between two passes of loop() and while the firmware yields: receive frames
// (lwIP input and the TCP/UDP callbacks run from here, as they run from the SDK's tasks), lwIP's
// timers, os_timers, WiFi events.
// The heap as the bed sees it, once a second, in <flash file>.heap: what ESP.getFreeHeap(),
// getMaxFreeBlockSize() and getHeapFragmentation() answer, the least free heap so far, and the
// least largest block seen by these samples.
// SIGUSR1 from the bed starts a new measurement window: the two minima start afresh.
static volatile sig_atomic_t heap_window_ = 0;
static void write_heap_file(uint32_t now, const char* suffix = ".heap") {
  static uint32_t next_ms = 0, min_block = UINT32_MAX;
  const bool last = std::strcmp(suffix, ".heap") != 0;  // the reset's own sample: always written
  if (heap_window_ != 0) {
    heap_window_ = 0;
    board_heap_reset_low_water();
    min_block = UINT32_MAX;
    next_ms = now;
  }
  const BoardHeapStats h = board_heap_stats();
  if (h.max_block_bytes < min_block) min_block = h.max_block_bytes;
  if (!last && static_cast<int32_t>(now - next_ms) < 0) return;
  next_ms = now + 1000;
  char path[600], tmp[610];
  std::snprintf(path, sizeof path, "%s%s", config_.flash_path, suffix);
  std::snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE* f = std::fopen(tmp, "w");
  if (f == nullptr) return;
  std::fprintf(f, "uptime_ms=%u free=%u max_block=%u fragmentation=%u min_free=%u min_max_block=%u cont_stack_max=%u\n",
               now, h.free_bytes, h.max_block_bytes, h.fragmentation_pct, h.min_free_bytes, min_block, cont_stack_used());
  std::fclose(f);
  std::rename(tmp, path);
}

// What the SDK does between two runs of the firmware's CONT context: receive frames (lwIP input
// and the TCP/UDP callbacks run from here, in SYS context, as from the SDK's tasks), lwIP's timers,
// os_timers, WiFi events.
static void board_service() {
  const uint32_t now = now_ms();
  write_heap_file(now);
  board_wdt_feed();
  read_control();
  board_sdk_service(now);
  tap_netif_poll(&sta_netif_);
  if (ap_open_) tap_netif_poll(&ap_netif_);
  board_timers_run(now);
}

// The firmware runs in its own context, CONT, on its own stack, as cont.S gives it on the chip;
// the SDK's loop (main() here) is SYS. yield(), delay() and the end of each loop() pass switch to
// SYS, which runs board_service() and switches back: so lwIP callbacks never run on CONT's stack,
// and CONT's stack use is measured (painted, kContStackBytes; the chip's is 4,096 B, but x86-32
// frames are not xtensa's, so the bed reports the high-water mark rather than enforcing 4 KB).
namespace {
constexpr size_t kContStackBytes = 16384;
constexpr uint8_t kStackPaint = 0xA5;
ucontext_t sys_ctx_, cont_ctx_;
uint8_t* cont_stack_ = nullptr;
// What SYS does before it resumes CONT: at once (a yield), after idling for frames up to 1 ms
// (the end of a loop() pass), or at a deadline (delay()).
enum class Resume : uint8_t { kNow, kIdle, kAt };
Resume resume_ = Resume::kNow;
uint32_t resume_at_ms_ = 0;
uint32_t us_at_resume_ = 0;

void suspend_cont(Resume how, uint32_t at_ms = 0) {
  resume_ = how;
  resume_at_ms_ = at_ms;
  in_sys_ = true;
  swapcontext(&cont_ctx_, &sys_ctx_);
  in_sys_ = false;
  // core_esp8266_main.cpp esp_suspend_within_cont(): after each resume.
  us_at_resume_ = static_cast<uint32_t>(micros());
  run_scheduled_recurrent_functions();
}

void cont_main() {
  setup();
  for (;;) {
    board_wdt_feed();
    loop();
    run_scheduled_functions();  // the core's loop_end()
    run_scheduled_recurrent_functions();
    if (board_restart_pending()) board_reset(REASON_SOFT_RESTART, "ESP.restart()");
    suspend_cont(Resume::kIdle);
  }
}

uint32_t cont_stack_used() {
  if (cont_stack_ == nullptr) return 0;
  size_t i = 0;
  while (i < kContStackBytes && cont_stack_[i] == kStackPaint) ++i;
  return static_cast<uint32_t>(kContStackBytes - i);
}
}  // namespace

extern "C" {
unsigned long millis() { return now_ms(); }
unsigned long micros() {
  // 32 bits of microseconds, wrapping after 71.6 min as the chip's micros() does.
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  const int64_t us = (static_cast<int64_t>(t.tv_sec) - boot_.tv_sec) * 1000000 + (t.tv_nsec - boot_.tv_nsec) / 1000;
  return static_cast<unsigned long>(static_cast<uint32_t>(us));
}
bool can_yield() { return !in_sys_; }
// core_esp8266_main.cpp: yield() from the SDK's context panics; esp_yield() and esp_suspend()
// there do nothing (only CONT can be suspended); delay() there busy-waits with the SDK blocked.
void esp_yield() {
  if (!in_sys_) suspend_cont(Resume::kNow);
}
void yield() {
  if (in_sys_) board_reset(REASON_EXCEPTION_RST, "yield from SYS context");
  suspend_cont(Resume::kNow);
}
void esp_suspend() {
  if (in_sys_) return;
  if (board_restart_pending()) board_reset(REASON_SOFT_RESTART, "ESP.restart()");
  suspend_cont(Resume::kNow);
}
void esp_schedule() {}
void optimistic_yield(uint32_t interval_us) {
  if (!in_sys_ && static_cast<uint32_t>(micros()) - us_at_resume_ > interval_us) yield();
}
void esp_delay(unsigned long ms) {
  if (in_sys_) {  // nothing else runs meanwhile, the watchdog included
    usleep(static_cast<useconds_t>(ms) * 1000u);
    return;
  }
  suspend_cont(Resume::kAt, now_ms() + static_cast<uint32_t>(ms));
}
void delay(unsigned long ms) { esp_delay(ms); }
void delayMicroseconds(unsigned int us) { usleep(us); }
cont_t* g_pcont = nullptr;
void cont_suspend(cont_t*) {}
// ESP.getFreeContStack(): against the chip's 4,096 B (the bed's own stack is larger, see above).
int cont_get_free_stack(cont_t*) { return cont_stack_used() >= 4096 ? 0 : static_cast<int>(4096 - cont_stack_used()); }
void cont_repaint_stack(cont_t*) {}
}
void esp8266RebootIntoUartDownloadMode() { board_reset(REASON_SOFT_RESTART, "reboot into UART download mode"); }
uint32_t esp_get_cycle_count() { return static_cast<uint32_t>(micros() * 80u); }  // 80 MHz
bool esp_try_delay(const uint32_t start_ms, const uint32_t timeout_ms, const uint32_t intvl_ms) {
  const uint32_t expired = millis() - start_ms;
  if (expired >= timeout_ms) return true;
  esp_delay(std::min(timeout_ms - expired, intvl_ms));
  return false;
}

// --settings: the text goes into the settings record through the firmware's own ConfigStore (the
// SDK's system_param_save_with_protect, as the setup portal's save), once: a flash that holds a
// record (a restart, or one the firmware saved) keeps it. The firmware parses it at boot.
bool store_settings(const char* path) {
  FILE* f = std::fopen(path, "rb");
  if (f == nullptr) {
    std::fprintf(stderr, "board %s: cannot open settings %s\n", config_.name, path);
    return false;
  }
  char text[SPORE_DEVICE_CONFIG_MAX_BYTES + 1];
  const size_t n = std::fread(text, 1, sizeof text, f);
  std::fclose(f);
  if (n >= sizeof text) {
    std::fprintf(stderr, "board %s: settings %s over %u B\n", config_.name, path, SPORE_DEVICE_CONFIG_MAX_BYTES);
    return false;
  }
  spore::esp8266::ConfigStore store;
  char stored[SPORE_DEVICE_CONFIG_MAX_BYTES + 1];
  size_t stored_n = 0;
  if (!store.begin()) return false;
  if (store.load(stored, sizeof stored, &stored_n) != spore::StoredSettings::kNone) return true;
  if (!store.save(text, n)) {
    std::fprintf(stderr, "board %s: storing settings %s failed\n", config_.name, path);
    return false;
  }
  std::fprintf(stderr, "board %s: settings %s (%zu B) stored\n", config_.name, path, n);
  return true;
}

int main(int argc, char** argv) {
  argv_ = argv;
  main_thread_ = pthread_self();
  // First, and unblocked (board_reset blocks it across execv): a window signal must never kill a board.
  signal(SIGUSR1, [](int) { heap_window_ = 1; });
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigprocmask(SIG_UNBLOCK, &usr1, nullptr);
  setvbuf(stdout, nullptr, _IOLBF, 0);
  clock_gettime(CLOCK_MONOTONIC, &boot_);
  parse_args(argc, argv);
  const bool warm = getenv("SPORE_BOARD_WARM") != nullptr;
  unsetenv("SPORE_BOARD_WARM");
  if (!board_flash_open(config_.flash_path, config_.image_path)) return 1;
  board_rtc_load(warm);
  uint32_t mark[2] = {};
  std::memcpy(mark, reinterpret_cast<const void*>(0x60001100), sizeof mark);
  resetInfo.reason = warm && mark[0] == kResetMagic ? mark[1] : REASON_DEFAULT_RST;
  std::memset(reinterpret_cast<void*>(0x60001100), 0, sizeof mark);
  board_eboot();
  if (!board_heap_init(config_.sdk_reserve_bytes)) return 1;
  if (config_.settings_path != nullptr && !store_settings(config_.settings_path)) return 1;
  lwip_glue_init();
  ip4_addr_t ip, mask, gw;
  ip.addr = config_.ip;
  mask.addr = config_.netmask;
  gw.addr = config_.gateway;
  // The station first: lwIP numbers netifs in order, and LwipDhcpServer tells the soft AP by
  // netif->num == SOFTAP_IF (1).
  const int rc = tap_netif_open(&sta_netif_, config_.tap, "st", config_.mac, &ip, &mask, &gw);
  if (rc != 0) {
    std::fprintf(stderr, "board %s: cannot open TAP %s: %s\n", config_.name, config_.tap, std::strerror(-rc));
    return 1;
  }
  if (config_.ap_tap != nullptr) {
    // The SDK's soft-AP MAC (wifi_get_macaddr(SOFTAP_IF)); its address is the SDK's to set when
    // the AP comes up (board_sdk.cpp: 192.168.4.1/24 until wifi_set_ip_info changes it).
    uint8_t ap_mac[6];
    wifi_get_macaddr(SOFTAP_IF, ap_mac);
    const ip4_addr_t none{};
    const int arc = tap_netif_open(&ap_netif_, config_.ap_tap, "ap", ap_mac, &none, &none, &none);
    if (arc != 0) {
      std::fprintf(stderr, "board %s: cannot open AP TAP %s: %s\n", config_.name, config_.ap_tap, std::strerror(-arc));
      return 1;
    }
    tap_netif_set_rx_hook(&ap_netif_, ap_heard);
    ap_open_ = true;
  }
  board_wdt_feed();
  pthread_t wdt;
  pthread_create(&wdt, nullptr, watchdog_main, nullptr);
  std::fprintf(stderr, "board %s: boot (reset reason %u), heap region 0x%08lx..0x3fffc000 (%lu B)\n", config_.name,
               resetInfo.reason, static_cast<unsigned long>(reinterpret_cast<uintptr_t>(_heap_start)),
               static_cast<unsigned long>(0x3FFFC000u - reinterpret_cast<uintptr_t>(_heap_start)));
  // CONT's stack, with an inaccessible page below it: an overflow is a crash, not silent damage.
  void* mem = mmap(nullptr, kContStackBytes + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED || mprotect(mem, 4096, PROT_NONE) != 0) return 1;
  cont_stack_ = static_cast<uint8_t*>(mem) + 4096;
  std::memset(cont_stack_, kStackPaint, kContStackBytes);
  getcontext(&cont_ctx_);
  cont_ctx_.uc_stack.ss_sp = cont_stack_;
  cont_ctx_.uc_stack.ss_size = kContStackBytes;
  cont_ctx_.uc_link = nullptr;
  makecontext(&cont_ctx_, cont_main, 0);
  // SYS: run CONT until it suspends, then the SDK's work; idle for frames only when CONT asked to
  // (the chip's loop spins; the bed's boards share the host's cores).
  for (;;) {
    in_sys_ = false;
    swapcontext(&sys_ctx_, &cont_ctx_);
    in_sys_ = true;
    for (;;) {
      board_service();
      if (resume_ == Resume::kNow) break;
      if (resume_ == Resume::kIdle) {
        wait_frames(1);
        break;
      }
      const int32_t left = static_cast<int32_t>(resume_at_ms_ - now_ms());  // delay(): CONT waits
      if (left <= 0) break;
      wait_frames(left < 2 ? static_cast<int>(left) : 2);
    }
  }
}
