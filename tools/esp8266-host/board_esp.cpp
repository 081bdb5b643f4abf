// The SDK's system calls, the ROM's helpers, the SDK's software timers (os_timer) and the core's
// second stack (StackThunk) for the emulated board. Each says what the chip does and what the bed
// does instead where they differ.
#include <Arduino.h>
#include <core_version.h>
#include <user_interface.h>

#include <sys/random.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "board.h"
#include "board_rom.h"

extern "C" {

// --- ROM ---------------------------------------------------------------------------------------
void ets_uart_putc1(char c) { std::fputc(c, stdout); }
int ets_vprintf(void (*putc)(char), const char* fmt, va_list ap) {
  char buf[256];
  const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  for (int i = 0; i < n && i < static_cast<int>(sizeof buf) - 1; ++i) putc(buf[i]);
  return n;
}
int ets_printf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vprintf(fmt, ap);
  va_end(ap);
  return n;
}
void ets_isr_mask(int) {}
void ets_isr_unmask(int) {}
int memcmp_P(const void* a, const void* b, size_t n) { return std::memcmp(a, b, n); }
#undef ets_memcpy
void* ets_memcpy(void* d, const void* s, size_t n) { return std::memcpy(d, s, n); }
char* ets_strcpy(char* d, const char* s) { return std::strcpy(d, s); }
char* ets_strncpy(char* d, const char* s, size_t n) { return std::strncpy(d, s, n); }
// LwipDhcpServer.cpp tells the SDK which address it leased to which station.
void wifi_softap_set_station_info(uint8_t*, struct ipv4_addr*) {}

// The image's CRC (set by the image tool on the chip); Esp.cpp's checkFlashCRC reads them.
uint32_t __crc_len = 0;
uint32_t __crc_val = 0;

// core_esp8266_main.cpp's version symbols (that file is the chip's entry point, not compiled here).
extern const uint32_t core_version = ARDUINO_ESP8266_GIT_VER;
const char* core_release =
#ifdef ARDUINO_ESP8266_RELEASE
    ARDUINO_ESP8266_RELEASE;
#else
    nullptr;
#endif

// --- SDK system calls --------------------------------------------------------------------------
struct rst_info resetInfo;
struct rst_info* system_get_rst_info(void) { return &resetInfo; }
uint32 system_get_chip_id(void) { return board_config().chip_id; }
const char* system_get_sdk_version(void) { return "2.2.2-dev(38a443e)"; }  // NONOSDK22x_190703's string
uint8 system_get_boot_version(void) { return 31; }
uint8 system_get_boot_mode(void) { return SYS_BOOT_NORMAL_MODE; }
uint16 system_get_vdd33(void) { return 3300; }
uint32 system_rtc_clock_cali_proc(void) { return 0x5000; }
unsigned long os_random(void) {
  uint32_t v = 0;
  if (getrandom(&v, sizeof v, 0) != sizeof v) v = static_cast<uint32_t>(micros());
  return v;
}
int os_get_random(unsigned char* buf, size_t len) { return getrandom(buf, len, 0) == static_cast<ssize_t>(len) ? 0 : -1; }
void system_soft_wdt_feed(void) { board_wdt_feed(); }
void system_soft_wdt_restart(void) { board_wdt_feed(); }
void system_soft_wdt_stop(void) {}  // the bed's watchdog is the hardware one too: it cannot be stopped
bool system_deep_sleep_set_option(uint8) { return false; }
bool system_deep_sleep(uint64) { return false; }
bool system_deep_sleep_instant(uint64) { return false; }

// system_restart(): the SDK restarts once the current task returns (Esp.cpp then calls
// esp_suspend()); the bed restarts at that point (board_main.cpp).
static bool restart_pending_ = false;
void system_restart(void) { restart_pending_ = true; }
void __real_system_restart_local(void) { board_reset(REASON_SOFT_RESTART, "system_restart_local"); }
void __attachInterruptFunctionalArg(uint8_t, void (*)(void*), void*, int, bool) {}

// --- Faults: the core's postmortem would print and reset --------------------------------------
void __panic_func(const char* file, int line, const char* func) {
  char why[256];
  std::snprintf(why, sizeof why, "Panic %s:%d %s", file, line, func != nullptr ? func : "");
  board_reset(REASON_EXCEPTION_RST, why);
}
void __unhandled_exception(const char* str) { board_reset(REASON_EXCEPTION_RST, str); }

int mockverbose(const char*, ...) { return 0; }

// --- os_timer (ets_timer_*): a list the board's service loop runs, as the SDK's timer task does --
static ETSTimer* timers_ = nullptr;
void ets_timer_setfn(ETSTimer* t, ETSTimerFunc* fn, void* arg) {
  ets_timer_disarm(t);
  t->timer_func = fn;
  t->timer_arg = arg;
}
void ets_timer_disarm(ETSTimer* t) {
  for (ETSTimer** p = &timers_; *p != nullptr; p = &(*p)->timer_next) {
    if (*p == t) {
      *p = t->timer_next;
      break;
    }
  }
  t->timer_next = nullptr;
}
void ets_timer_arm_new(ETSTimer* t, int time, int repeat, int is_ms) {
  ets_timer_disarm(t);
  const uint32_t ms = is_ms != 0 ? static_cast<uint32_t>(time) : static_cast<uint32_t>(time) / 1000u;
  t->timer_expire = millis() + ms;
  t->timer_period = repeat != 0 ? (ms == 0 ? 1 : ms) : 0;
  t->timer_next = timers_;
  timers_ = t;
}

}  // extern "C"

bool board_restart_pending() { return restart_pending_; }

void board_timers_run(uint32_t now_ms) {
  // One due timer per pass: a callback may arm or disarm any timer, the list is walked afresh.
  for (int guard = 0; guard < 16; ++guard) {
    ETSTimer* due = nullptr;
    for (ETSTimer* t = timers_; t != nullptr; t = t->timer_next) {
      if (static_cast<int32_t>(now_ms - t->timer_expire) >= 0) {
        due = t;
        break;
      }
    }
    if (due == nullptr) return;
    if (due->timer_period != 0) {
      due->timer_expire = now_ms + due->timer_period;
    } else {
      ets_timer_disarm(due);
    }
    if (due->timer_func != nullptr) due->timer_func(due->timer_arg);
  }
}

// --- StackThunk (see StackThunk.h here) ---------------------------------------------------------
namespace {
constexpr size_t kThunkStackBytes = 6200;  // StackThunk.cpp: _stackSize (6200/4 words)
void* thunk_block_ = nullptr;
uint32_t thunk_refcnt_ = 0;
}  // namespace

extern "C" {
void stack_thunk_add_ref() {
  if (thunk_refcnt_++ == 0) {
    thunk_block_ = malloc(kThunkStackBytes);  // routed to the board's heap
    if (thunk_block_ == nullptr) board_reset(REASON_EXCEPTION_RST, "stack_thunk_add_ref: malloc failed (abort)");
  }
}
void stack_thunk_del_ref() {
  if (thunk_refcnt_ == 0) return;
  if (--thunk_refcnt_ == 0) {
    free(thunk_block_);
    thunk_block_ = nullptr;
  }
}
uint32_t stack_thunk_get_refcnt() { return thunk_refcnt_; }
uint32_t stack_thunk_get_max_usage() { return 0; }
void stack_thunk_fatal_smashing() { board_reset(REASON_EXCEPTION_RST, "stack thunk smashed"); }
}
