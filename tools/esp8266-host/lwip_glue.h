/*
 * SPORE's host glue for lwIP 2.1.3 on the emulated ESP-01 (issue 17): what the chip's lwIP glue
 * (d-a-v/esp82xx-nonos-linklayer, built into the core's liblwip2-536-feat.a) gives lwIP and the
 * Arduino side, and upstream lwIP does not. Built into liblwip-host.a by lwip-build.sh.
 *
 * Provided (strong): sys_now() (millis()), r_rand() (LWIP_RAND), tcp_kill_timewait(),
 * lwip_glue_tw_limit(), lwip_glue_init(). Provided weak, so that the Arduino side may replace them as on the chip:
 * netif_status_changed(), lwip_unhandled_packet(), lwip_hook_dhcp_parse_option(),
 * lwip_hook_dhcp_amend_options() (the chip's is not weak and its body was not read: see lwip_glue.c), sntp_update_delay_MS_rfc_not_less_than_15000(),
 * sntp_startup_delay_MS_rfc_not_less_than_60000(), settimeofday() (never sets the host clock),
 * ppp_init(). Not provided, the process must: millis() (Arduino side), pvPortMalloc(),
 * pvPortZalloc(), vPortFree() (the heap emulation; lwipopts.h mem_clib_*).
 */
#ifndef SPORE_ESP8266_HOST_LWIP_GLUE_H
#define SPORE_ESP8266_HOST_LWIP_GLUE_H

#include "lwip/opt.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Initialises lwIP as the chip's glue does at boot (esp2glue_lwip_init): lwip_init(), then the SNTP
 * client told to take servers from DHCP, in poll mode, not started. Call this, not lwip_init():
 * the SDK header ipv4_addr.h includes lwip/init.h before arch/cc.h renames lwip_init to
 * lwip_init_LWIP2, so lwip/init.h's declaration names a function that does not exist.
 */
void lwip_glue_init(void);

/**
 * Applies the chip's TIME-WAIT limit, lwipopts.h's TCP_TW_LIMIT(MEMP_NUM_TCP_PCB_TIME_WAIT): aborts
 * the oldest TIME-WAIT pcbs until at most MEMP_NUM_TCP_PCB_TIME_WAIT + 1 = 6 remain (the macro
 * counts the list and stops when count - 1 <= 5). The chip's lwIP is patched to run it right
 * after a pcb joins tcp_tw_pcbs (esp82xx-nonos-linklayer patches/time-wait.patch: three places in
 * tcp_in.c tcp_process(), one in tcp.c tcp_close_shutdown()); upstream 2.1.3 never does, so
 * tap_netif_poll() calls this after each received frame (tcp_process) and once at its start (a
 * tcp_close() by the application since the last poll). Without it, TIME-WAIT pcbs, heap-allocated
 * (MEMP_MEM_MALLOC=1), would pile up for 2 * TCP_MSL = 120 s where the chip frees them.
 */
void lwip_glue_tw_limit(void);

/** Number of pcbs in TIME-WAIT now (for tests). */
unsigned lwip_glue_tw_count(void);

#ifdef __cplusplus
}
#endif

#endif
