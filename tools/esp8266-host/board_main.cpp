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
#include "lwip_glue.h"
#include "tap_netif.h"

void setup();
void loop();
bool board_restart_pending();
void board_timers_run(uint32_t now_ms);
extern "C" char _heap_start[];
extern "C" struct rst_info resetInfo;
// The chip's lwip2 glue keeps the station and soft-AP netifs here (LwipDhcpServer-NonOS.cpp uses it).
struct netif netif_git[2];

namespace {

BoardConfig config_;
struct netif& sta_netif_ = netif_git[STATION_IF];
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
               "  --ip A.B.C.D/LEN   the address the board gets when its WiFi connects\n"
               "  --gw A.B.C.D       gateway (default: none)\n"
               "  --flash FILE       the board's 1 MB flash (created erased when missing)\n"
               "  --image FILE.bin   firmware image written at offset 0 of a new flash (tools/firmware-link.sh)\n"
               "  --chip-id N        chip id, also the MAC's low 24 bits (default 1)\n"
               "  --wlan SSID:PASS   the bed's WLAN (default spore-bed:spore-bed-pass)\n"
               "  --sdk-reserve N    bytes of heap the SDK's WiFi holds at run time (default 0)\n"
               "  --control FILE     the bed writes 'wlan off' / 'wlan on' here to take the WLAN away\n"
               "  --name NAME        name in the board's own messages\n");
  std::exit(code);
}

bool parse_ip(const char* s, uint32_t* out) {
  in_addr a{};
  if (inet_pton(AF_INET, s, &a) != 1) return false;
  *out = a.s_addr;
  return true;
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
    else if (std::strcmp(a, "--flash") == 0) config_.flash_path = value();
    else if (std::strcmp(a, "--image") == 0) config_.image_path = value();
    else if (std::strcmp(a, "--name") == 0) config_.name = value();
    else if (std::strcmp(a, "--control") == 0) config_.control_path = value();
    else if (std::strcmp(a, "--sdk-reserve") == 0) config_.sdk_reserve_bytes = static_cast<uint32_t>(std::strtoul(value(), nullptr, 0));
    else if (std::strcmp(a, "--chip-id") == 0) config_.chip_id = static_cast<uint32_t>(std::strtoul(value(), nullptr, 0)) & 0xFFFFFFu;
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
  if (!up) tap_netif_set_up(&sta_netif_, false);
  netif_set_addr(&sta_netif_, &ip, &mask, &gw);
  if (up) tap_netif_set_up(&sta_netif_, true);
}
void board_softap_link(bool) {}  // the soft AP's netif is not modelled yet (docs/esp8266-runtime.md)
uint8_t board_softap_stations() { return 0; }
void board_wdt_feed() { last_feed_ms_.store(now_ms()); }

static void write_heap_file(uint32_t now, const char* suffix);

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
  std::fprintf(f, "uptime_ms=%u free=%u max_block=%u fragmentation=%u min_free=%u min_max_block=%u\n", now,
               h.free_bytes, h.max_block_bytes, h.fragmentation_pct, h.min_free_bytes, min_block);
  std::fclose(f);
  std::rename(tmp, path);
}

void board_service() {
  if (in_sys_) return;
  in_sys_ = true;
  const uint32_t now = now_ms();
  write_heap_file(now);
  board_wdt_feed();
  read_control();
  board_sdk_service(now);
  tap_netif_poll(&sta_netif_);
  board_timers_run(now);
  in_sys_ = false;
}

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
static uint32_t us_at_resume_ = 0;
static void resume_cont() {
  board_service();
  us_at_resume_ = static_cast<uint32_t>(micros());
  run_scheduled_recurrent_functions();
}
void esp_yield() {
  if (!in_sys_) resume_cont();
}
void yield() {
  if (in_sys_) board_reset(REASON_EXCEPTION_RST, "yield from SYS context");
  resume_cont();
}
void esp_suspend() {
  if (in_sys_) return;
  if (board_restart_pending()) board_reset(REASON_SOFT_RESTART, "ESP.restart()");
  resume_cont();
}
void esp_schedule() {}
void optimistic_yield(uint32_t interval_us) {
  if (!in_sys_ && static_cast<uint32_t>(micros()) - us_at_resume_ > interval_us) yield();
}
void esp_delay(unsigned long ms) {
  const uint32_t start = now_ms();
  if (in_sys_) {  // nothing else runs meanwhile, the watchdog included
    usleep(static_cast<useconds_t>(ms) * 1000u);
    return;
  }
  do {
    resume_cont();
    const uint32_t left = ms - (now_ms() - start);
    if (static_cast<int32_t>(left) <= 0) break;
    pollfd p{tap_netif_fd(), POLLIN, 0};
    poll(&p, 1, left < 2 ? static_cast<int>(left) : 2);
  } while (now_ms() - start < ms);
}
void delay(unsigned long ms) { esp_delay(ms); }
void delayMicroseconds(unsigned int us) { usleep(us); }
cont_t* g_pcont = nullptr;
void cont_suspend(cont_t*) {}
int cont_get_free_stack(cont_t*) { return 4096; }
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
  lwip_glue_init();
  ip4_addr_t ip, mask, gw;
  ip.addr = config_.ip;
  mask.addr = config_.netmask;
  gw.addr = config_.gateway;
  const int rc = tap_netif_open(&sta_netif_, config_.tap, config_.mac, &ip, &mask, &gw);
  if (rc != 0) {
    std::fprintf(stderr, "board %s: cannot open TAP %s: %s\n", config_.name, config_.tap, std::strerror(-rc));
    return 1;
  }
  board_wdt_feed();
  pthread_t wdt;
  pthread_create(&wdt, nullptr, watchdog_main, nullptr);
  std::fprintf(stderr, "board %s: boot (reset reason %u), heap region 0x%08lx..0x3fffc000 (%lu B)\n", config_.name,
               resetInfo.reason, static_cast<unsigned long>(reinterpret_cast<uintptr_t>(_heap_start)),
               static_cast<unsigned long>(0x3FFFC000u - reinterpret_cast<uintptr_t>(_heap_start)));
  setup();
  for (;;) {
    board_wdt_feed();
    loop();
    run_scheduled_functions();  // the core's loop_end()
    run_scheduled_recurrent_functions();
    if (board_restart_pending()) board_reset(REASON_SOFT_RESTART, "ESP.restart()");
    board_service();
    // Idle until a frame arrives or 1 ms passes: the chip's loop spins; the bed's boards share cores.
    pollfd p{tap_netif_fd(), POLLIN, 0};
    poll(&p, 1, 1);
  }
}
