/*
 * SPORE's host glue for lwIP 2.1.3 on the emulated ESP-01 (issue 17); see lwip_glue.h for what it
 * provides and why. Written for SPORE; the chip's glue (esp82xx-nonos-linklayer glue-lwip/lwip-git.c)
 * was read for the behaviour of each symbol, not copied.
 */
#include "lwip_glue.h"

#include <stdint.h>
#include <sys/random.h>
#include <sys/time.h>

#include "lwip/err.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "lwip/apps/sntp.h"

struct dhcp;
struct dhcp_msg;

#define SPORE_WEAK __attribute__((weak))

/* Declared again here, after arch/cc.h's rename (see lwip_glue.h). */
void lwip_init(void);

void lwip_glue_init(void) {
  lwip_init();
  sntp_servermode_dhcp(1);
  sntp_setoperatingmode(SNTP_OPMODE_POLL);
}

/* lwip/sys.h: the core's cc.h made this a macro over millis(); arch/cc.h (ours) undid it. */
u32_t sys_now(void) { return (u32_t)millis(); }

/*
 * LWIP_RAND (arch/cc.h): on the chip r_rand is the ROM's hardware-noise generator. lwIP draws ports
 * (TCP_RANDOM_PORT), DHCP xids, IGMP report delays and IP ids from it. Here: the kernel's generator,
 * buffered, so that two emulated boards never draw the same sequence.
 */
uint32_t r_rand(void) {
  static uint32_t pool[64];
  static unsigned left = 0;
  if (left == 0) {
    ssize_t got = getrandom(pool, sizeof pool, 0);
    left = got > 0 ? (unsigned)got / sizeof pool[0] : 0;
    if (left == 0) {  /* getrandom cannot fail for 256 bytes once the pool is up; never stall lwIP */
      static uint32_t x = 0x9E3779B9u;
      x ^= x << 13; x ^= x >> 17; x ^= x << 5;
      return x;
    }
  }
  return pool[--left];
}

/* The oldest TIME-WAIT pcb goes: tcp_ticks - tmr is its age in slow-timer ticks (tcp_priv.h). */
void tcp_kill_timewait(void) {
  struct tcp_pcb* oldest = NULL;
  u32_t oldest_age = 0;
  for (struct tcp_pcb* pcb = tcp_tw_pcbs; pcb != NULL; pcb = pcb->next) {
    u32_t age = (u32_t)(tcp_ticks - pcb->tmr);
    if (oldest == NULL || age >= oldest_age) {
      oldest = pcb;
      oldest_age = age;
    }
  }
  if (oldest != NULL) tcp_abort(oldest);
}

unsigned lwip_glue_tw_count(void) {
  unsigned n = 0;
  for (struct tcp_pcb* pcb = tcp_tw_pcbs; pcb != NULL; pcb = pcb->next) ++n;
  return n;
}

/* TCP_TW_LIMIT is the core's lwipopts.h macro, used as the chip's tcp_in.c uses it. */
void lwip_glue_tw_limit(void) { TCP_TW_LIMIT(MEMP_NUM_TCP_PCB_TIME_WAIT); }

/* The chip's glue sets a status callback on its netifs that calls this; the core's
 * LwipIntfCB.cpp overrides it (LwipIntf::statusChangeCB). tap_netif installs the same callback. */
SPORE_WEAK void netif_status_changed(struct netif* nif) { (void)nif; }

/* LWIP_HOOK_UNKNOWN_ETH_PROTOCOL (lwipopts.h): anything but ERR_OK tells ethernet.c the frame was
 * not taken, and ethernet.c frees it. Nothing of SPORE takes such frames. */
SPORE_WEAK LWIP_ERR_T lwip_unhandled_packet(struct pbuf* p, struct netif* nif) {
  (void)p;
  (void)nif;
  return ERR_ARG;
}

/* LWIP_HOOK_DHCP_PARSE_OPTION / _APPEND_OPTIONS (lwipopts.h): user hooks; the chip's defaults add
 * nothing that SPORE relies on (the bed assigns addresses statically). */
SPORE_WEAK void lwip_hook_dhcp_parse_option(struct netif* netif, struct dhcp* dhcp, int state,
                                            struct dhcp_msg* msg, int msg_type, int option,
                                            int option_len, struct pbuf* pbuf,
                                            int option_value_offset) {
  (void)netif; (void)dhcp; (void)state; (void)msg; (void)msg_type; (void)option;
  (void)option_len; (void)pbuf; (void)option_value_offset;
}
SPORE_WEAK void lwip_hook_dhcp_amend_options(struct netif* netif, struct dhcp* dhcp, int state,
                                             struct dhcp_msg* msg, int msg_type, u16* option_len_ptr) {
  (void)netif; (void)dhcp; (void)state; (void)msg; (void)msg_type; (void)option_len_ptr;
}

/* SNTP_UPDATE_DELAY / SNTP_STARTUP_DELAY_FUNC (lwipopts.h), with the defaults lwipopts.h names:
 * SNTP_UPDATE_DELAY_DEFAULT (1 h) and SNTP_STARTUP_DELAY_FUNC_DEFAULT (0). */
SPORE_WEAK uint32_t sntp_update_delay_MS_rfc_not_less_than_15000(void) {
  return SNTP_UPDATE_DELAY_DEFAULT;
}
SPORE_WEAK uint32_t sntp_startup_delay_MS_rfc_not_less_than_60000(void) {
  return SNTP_STARTUP_DELAY_FUNC_DEFAULT;
}

/* SNTP_SET_SYSTEM_TIME_US calls settimeofday(tv, 0xFeedC0de). An emulated board running as root must
 * never set the host's clock: this weak one takes the place of libc's and does nothing; the core's
 * time.cpp, when the Arduino side links it, replaces this one as on the chip. */
SPORE_WEAK int settimeofday(const struct timeval* tv, const struct timezone* tz) {
  (void)tv;
  (void)tz;
  return 0;
}

/* lwipopts.h turns PPP_SUPPORT on (PPPOS_SUPPORT = IP_NAPT), so lwip_init() calls ppp_init()
 * (netif/ppp/ppp_impl.h: int ppp_init(void)). PPP is not built for the host (no PPP interface
 * exists on an ESP-01 running SPORE); 0 is upstream's "initialised". */
int ppp_init(void);
SPORE_WEAK int ppp_init(void) { return 0; }
