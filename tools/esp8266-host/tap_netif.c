/*
 * SPORE's TAP network interface for lwIP 2.1.3 on the emulated ESP-01 (issue 17); see tap_netif.h.
 * Written for SPORE. The chip's glue (esp82xx-nonos-linklayer glue-lwip/lwip-git.c) was read for
 * what the chip does: it allocates each received frame as one PBUF_RAM pbuf of the frame's length
 * (esp2glue_alloc_for_recv) and passes it to ethernet_input; tap_netif does the same.
 */
#define _GNU_SOURCE
#include "tap_netif.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lwip/etharp.h"
#include "lwip/igmp.h"
#include "lwip/pbuf.h"
#include "lwip/timeouts.h"
#include "lwip_glue.h"
#include "netif/ethernet.h"

/* Ethernet header (14) + MTU (1500); a TAP without IFF_NO_PI adds nothing, one read() is one frame.
 * The buffer is larger so that an oversized frame (VLAN tag, a peer's bigger MTU) is seen as such
 * (read returns more than the largest frame the chip takes) and dropped, not truncated. */
enum { kTapMtu = 1500, kMaxFrameBytes = 14 + kTapMtu, kReadBufferBytes = 2048 };

/* One per open netif (nif->state): the station and the soft AP each have their own TAP device. */
typedef struct TapState {
  bool used;
  int fd;
  TapNetifStats stats;
  TapNetifRxHook rx_hook;
  char name[2];
} TapState;
static TapState slots[TAP_NETIF_MAX];

static TapState* state_of(const struct netif* nif) { return nif != NULL ? (TapState*)nif->state : NULL; }

/* netif->linkoutput: one write() per frame, the pbuf chain flattened first (TAP takes whole frames
 * only). A short write is a lost frame, as a frame the radio could not send. */
static err_t tap_linkoutput(struct netif* nif, struct pbuf* p) {
  TapState* st = state_of(nif);
  if (st == NULL || st->fd < 0 || !netif_is_link_up(nif) || p->tot_len > kMaxFrameBytes) {
    if (st != NULL) ++st->stats.tx_dropped;
    return ERR_IF;
  }
  /* Off the stack: the caller may be the firmware's CONT context (a UDP send from loop()), whose
   * stack the bed measures; on the chip the frame goes to the radio's queue without a copy. */
  static uint8_t chained[kMaxFrameBytes];
  const void* frame = p->payload;
  u16_t len = p->len;
  if (p->next != NULL) {
    ++st->stats.tx_chained;
    len = pbuf_copy_partial(p, chained, p->tot_len, 0);
    frame = chained;
  }
  ssize_t n = write(st->fd, frame, len);
  if (n != (ssize_t)len) {
    ++st->stats.tx_dropped;
    return ERR_IF;
  }
  ++st->stats.tx_frames;
  return ERR_OK;
}

/* The chip's glue installs a status callback that reports to the core (LwipIntfCB.cpp). */
static void tap_status_callback(struct netif* nif) { netif_status_changed(nif); }

static err_t tap_netif_init(struct netif* nif) {
  /* "st" / "ap", the chip's interface names (glue: netif_name) */
  nif->name[0] = state_of(nif)->name[0];
  nif->name[1] = state_of(nif)->name[1];
  nif->output = etharp_output;
  nif->linkoutput = tap_linkoutput;
  nif->mtu = kTapMtu;
  nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_IGMP;
  netif_set_status_callback(nif, tap_status_callback);
  return ERR_OK;
}

int tap_netif_open(struct netif* nif, const char* tap_name, const char name[2], const uint8_t mac[6],
                   const ip4_addr_t* addr, const ip4_addr_t* netmask, const ip4_addr_t* gw) {
  TapState* st = NULL;
  for (int i = 0; i < TAP_NETIF_MAX && st == NULL; ++i) {
    if (!slots[i].used) st = &slots[i];
  }
  if (st == NULL) return -EBUSY;
  if (tap_name == NULL || strlen(tap_name) >= IFNAMSIZ || name == NULL) return -EINVAL;
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  memcpy(ifr.ifr_name, tap_name, strlen(tap_name));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  memset(st, 0, sizeof *st);
  st->fd = fd;
  st->name[0] = name[0];
  st->name[1] = name[1];
  memset(nif, 0, sizeof *nif);
  nif->hwaddr_len = ETH_HWADDR_LEN;
  memcpy(nif->hwaddr, mac, ETH_HWADDR_LEN);
  if (netif_add(nif, addr, netmask, gw, st, tap_netif_init, ethernet_input) == NULL) {
    close(fd);
    return -ENOMEM;
  }
  st->used = true;
  return 0;
}

void tap_netif_set_up(struct netif* nif, bool up, bool default_route) {
  /* As the chip's glue (esp2glue_netif_set_up1down0 and its station status callback): the station
   * is the default route while up, none while down. */
  if (up) {
    netif_set_link_up(nif);
    netif_set_up(nif);  /* status callback: netif_status_changed(); gratuitous ARP, IGMP report */
    if (default_route) netif_set_default(nif);
  } else {
    netif_set_link_down(nif);
    netif_set_down(nif);  /* status callback; IGMP groups stay joined, as on the chip */
    if (netif_default == nif) netif_set_default(NULL);
  }
}

/* Our own source MAC: the chip's radio never hands the board a frame it transmitted. */
static bool from_self(const struct netif* nif, const uint8_t* frame) {
  return memcmp(frame + ETH_HWADDR_LEN, nif->hwaddr, ETH_HWADDR_LEN) == 0;
}

int tap_netif_poll(struct netif* nif) {
  int handled = 0;
  uint8_t buf[kReadBufferBytes];
  TapState* st = state_of(nif);
  lwip_glue_tw_limit();  /* an application tcp_close() since the last poll (lwip_glue.h) */
  while (st != NULL && st->fd >= 0) {
    ssize_t n = read(st->fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;  /* EAGAIN: nothing more pending (other errors: the device went away; try next poll) */
    }
    if (n < 14 || n > kMaxFrameBytes) continue;  /* runt or oversized: the chip would not take it */
    if (from_self(nif, buf)) {
      ++st->stats.rx_own_dropped;
      continue;
    }
    if (!netif_is_link_up(nif) || !netif_is_up(nif)) {
      ++st->stats.rx_link_down;
      continue;
    }
    struct pbuf* p = pbuf_alloc(PBUF_RAW, (u16_t)n, PBUF_RAM);
    if (p == NULL) {
      ++st->stats.rx_nomem;
      continue;
    }
    pbuf_take(p, buf, (u16_t)n);
    ++st->stats.rx_frames;
    if (st->rx_hook != NULL) st->rx_hook(nif, buf, (size_t)n);
    if (nif->input(p, nif) != ERR_OK) pbuf_free(p);
    lwip_glue_tw_limit();
    ++handled;
  }
  sys_check_timeouts();
  return handled;
}

int tap_netif_fd(const struct netif* nif) {
  const TapState* st = state_of(nif);
  return st != NULL ? st->fd : -1;
}

TapNetifStats tap_netif_stats(const struct netif* nif) {
  const TapState* st = state_of(nif);
  TapNetifStats none;
  memset(&none, 0, sizeof none);
  return st != NULL ? st->stats : none;
}

void tap_netif_set_rx_hook(struct netif* nif, TapNetifRxHook hook) {
  TapState* st = state_of(nif);
  if (st != NULL) st->rx_hook = hook;
}

void tap_netif_close(struct netif* nif) {
  TapState* st = state_of(nif);
  if (st == NULL || !st->used) return;
  netif_remove(nif);
  close(st->fd);
  memset(st, 0, sizeof *st);
  st->fd = -1;
  nif->state = NULL;
}
