/*
 * SPORE's TAP network interface for lwIP 2.1.3 on the emulated ESP-01 (issue 17): one emulated board,
 * one Linux TAP device per interface (created beforehand with `ip tuntap add mode tap` in the board's
 * network namespace): the station, and the soft AP while the firmware has one. Ethernet frames in
 * and out, lwIP as the board's only network stack.
 *
 * The chip's netif (esp82xx-nonos-linklayer glue) is an Ethernet-like interface over the WiFi MAC:
 * ETHARP, broadcast, IGMP, MTU 1500; the radio does not hand the board its own transmitted
 * broadcasts back, so frames carrying our own source MAC are dropped here (a bridge floods a
 * broadcast to every port but the sender, but a TAP would see a copy looped by another path).
 *
 * Single-threaded: every function here and every lwIP call must come from the same thread.
 */
#ifndef SPORE_ESP8266_HOST_TAP_NETIF_H
#define SPORE_ESP8266_HOST_TAP_NETIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwip/opt.h" /* first: the core's lwipopts.h/cc.h must be read before any other lwIP header */
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Frame counters of one TAP netif (since tap_netif_open). */
typedef struct TapNetifStats {
  uint32_t rx_frames;       /**< frames handed to lwIP */
  uint32_t rx_own_dropped;  /**< frames dropped because their source MAC is ours */
  uint32_t rx_nomem;        /**< frames dropped because no pbuf could be allocated */
  uint32_t rx_link_down;    /**< frames dropped while the link is down */
  uint32_t tx_frames;       /**< frames written whole */
  uint32_t tx_dropped;      /**< frames not written whole (short write, error, link down) */
  uint32_t tx_chained;      /**< frames lwIP handed over as a pbuf chain: written flattened here,
                                 refused with ERR_BUF by the chip's glue (LWIP_NETIF_TX_SINGLE_PBUF
                                 should prevent them; the glue notes it "does sometimes" happen) */
} TapNetifStats;

/**
 * Opens TAP device @p tap_name (IFF_TAP|IFF_NO_PI, non-blocking) and adds @p nif to lwIP with
 * @p mac, @p addr, @p netmask, @p gw (ethernet_input / etharp_output, flags BROADCAST, ETHARP,
 * IGMP, MTU 1500, named @p name: "st" for the station, "ap" for the soft AP, as the chip's glue
 * names them). The netif is left administratively down with its link down and is not the default
 * route: call tap_netif_set_up(nif, true, ...) to connect. lwip_init() must have run.
 * At most TAP_NETIF_MAX per process (the chip has two interfaces: station and soft AP); each
 * netif's own state (device, counters) is in nif->state.
 * @return 0, or -errno (the device could not be opened, -EBUSY: no free slot; lwIP is unchanged).
 */
int tap_netif_open(struct netif* nif, const char* tap_name, const char name[2], const uint8_t mac[6],
                   const ip4_addr_t* addr, const ip4_addr_t* netmask, const ip4_addr_t* gw);

/** TAP netifs one process may open (station and soft AP). */
#define TAP_NETIF_MAX 2

/**
 * Link and administrative state together, as WiFi connect (true) and disconnect (false) change
 * them on the chip. While down, received frames are read and dropped and nothing is sent.
 * Calls netif_status_changed() through the netif's status callback, as the chip's glue does.
 * With @p default_route (the station), the netif is the default route while up and no netif is
 * while it is down, as the chip's glue does for the station; the soft AP never takes the default
 * route (lwIP reaches its /24 by the netif's own subnet).
 * Unlike the chip's glue, SNTP is not started when the station comes up with an address.
 */
void tap_netif_set_up(struct netif* nif, bool up, bool default_route);

/**
 * Reads every frame pending on the TAP device without blocking, hands each to nif->input (the
 * TIME-WAIT limit, lwip_glue_tw_limit(), applied before the first and after each), then runs lwIP's
 * due timers
 * (sys_check_timeouts()). @return the number of frames handed to lwIP.
 */
int tap_netif_poll(struct netif* nif);

/** @p nif's TAP file descriptor (readable when a frame waits), -1 when not open; for poll(). */
int tap_netif_fd(const struct netif* nif);

/** @p nif's counters since its tap_netif_open() (all zero when not open). */
TapNetifStats tap_netif_stats(const struct netif* nif);

/**
 * Called with every frame (Ethernet header first, @p len >= 14 bytes) that @p nif hands to lwIP,
 * before lwIP sees it, e.g. to count the stations that talk to the soft AP; NULL (the default)
 * for none.
 */
typedef void (*TapNetifRxHook)(const struct netif* nif, const uint8_t* frame, size_t len);
void tap_netif_set_rx_hook(struct netif* nif, TapNetifRxHook hook);

/** Removes the netif from lwIP and closes the TAP device. */
void tap_netif_close(struct netif* nif);

#ifdef __cplusplus
}
#endif

#endif
